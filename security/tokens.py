"""Bearer tokens for the HTTP API: one holder (a feed source or a user) per name.

    token = issue_token(store, "sensor-gateway", "source")   # the clear token, shown once
    info = verify_token(store, token)                          # TokenInfo or None
    revoke_token(store, "sensor-gateway")                      # every live token of the holder
    revoke(store, "zhang" or token)                            # a holder's tokens (+ a user's sessions), or one token

Only the SHA-256 of a token is stored (table api_tokens, migration 003); a token is
`secrets.token_urlsafe(32)` (256 random bits), so a plain hash is enough (no salt or KDF needed).
Writes go through the store's writer lock (`Store.execute_write`), reads through the gateway.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from datasources import gateway
from datasources.remote import in_writer
from datasources.store import Store, utcnow
from security.scope import Scope
from security.users import ROLES as USER_ROLES
from security.users import append_audit, get_user

ROLES = (*USER_ROLES, "source")  # the console roles plus feed producers
PUSH_ROLES = frozenset({"source", "admin", "commander"})  # may push feed records over the API
# LEVEL:ID or department:ID; ids are data ("cd:83 Queens", "grid:a/b"): any characters but line breaks,
# not starting with ":" nor with or ending in white space
_SCOPE = re.compile(r"[A-Za-z0-9_\-]+:[^\s:](?:[^\r\n]*\S)?")


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    name: str
    role: str
    scopes: tuple[str, ...]

    @property
    def may_push(self) -> bool:
        return self.role in PUSH_ROLES


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(store: Store, name: str, role: str, scopes=()) -> str:
    """A new token for holder `name`; returns the clear token (only its hash is kept)."""
    name = (name or "").strip()
    if not name:
        raise ValueError("a token holder needs a name")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    scopes = [str(s).strip() for s in scopes]
    bad = [s for s in scopes if not _SCOPE.fullmatch(s)]
    if bad:
        raise ValueError(f"bad scope(s) {bad}: use LEVEL:ID or department:ID")
    token = secrets.token_urlsafe(32)
    store.execute_write(
        "insert into api_tokens values ($id, $name, $role, $scopes, $hash, $now, null)",
        {"id": uuid.uuid4().hex, "name": name, "role": role, "scopes": scopes, "hash": hash_token(token),
         "now": utcnow()},
    )
    return token


def verify_token(store: Store, token: str | None) -> TokenInfo | None:
    """The holder of a live token, or None for a missing, unknown or revoked one."""
    if not token or len(token) > 512:
        return None
    return verify_token_hash(store, hash_token(token))


def verify_token_hash(store: Store, token_hash: str) -> TokenInfo | None:
    """verify_token by the token's hash (what a kiosk session keeps instead of the token itself)."""
    rows = gateway.query_rows(store, "api_token_by_hash", Scope.city(), token_hash=token_hash)
    if not rows:
        return None
    row = rows[0]
    user = get_user(store, row["name"])
    if user is not None:  # a user's token follows the user at once: disabled, or a new role and scopes
        if user["disabled"]:
            return None
        return TokenInfo(row["token_id"], row["name"], user["role"], tuple(user["scopes"] or ()))
    return TokenInfo(row["token_id"], row["name"], row["role"], tuple(row["scopes"] or ()))


def revoke_token(store: Store, name: str) -> int:
    """Revoke every live token of holder `name`; returns how many were revoked."""
    return revoke(store, name)["tokens"]


@in_writer
def revoke(store: Store, name_or_token: str) -> dict:
    """Revoke one live token (given in clear) or every live token of a holder (given by name); for a
    user named so, end its console sessions too. One transaction in the writer, so every web worker
    refuses them from its next request. Returns {"holders": [...], "tokens": n, "sessions_ended": bool}."""
    now = utcnow()
    with store.write_transaction() as cur:
        rows = gateway.execute(cur, "token_revoke", token_hash=hash_token(name_or_token), holder=name_or_token, now=now)
        ended = bool(gateway.execute(cur, "user_end_sessions", user_name=name_or_token))
        holders = sorted({holder_name for _, holder_name in rows} | ({name_or_token} if ended else set()))
        for holder_name in holders:
            append_audit(cur, now, "cli", "admin", "revoke", target=holder_name,
                         detail=f"tokens: {sum(1 for _, n in rows if n == holder_name)}; sessions ended: "
                                f"{ended and holder_name == name_or_token}")
    return {"holders": holders, "tokens": len(rows), "sessions_ended": ended}


def holder(store: Store, name: str) -> dict | None:
    """The holder's newest token row (role, scopes, created_at, revoked_at), or None if unknown."""
    rows = gateway.query_rows(store, "api_token_holder", Scope.city(), holder=name)
    return rows[0] if rows else None
