"""Who is asking, without a database query per request.

Every console request and API call needs the caller's user row (role, scopes, disabled) or token
(holder, role, scopes). They are cached per process and keyed on the store's admin version, which
moves with every write outside the feeds (a user added, disabled or changed, a token issued or
revoked, ...; in web processes it arrives over the writer's link within milliseconds). So a change
of a user, role, scope or token applies to the next request, and polls cost a dictionary lookup.
"""
from __future__ import annotations

import threading

from security import tokens, users

MAX_ENTRIES = 10_000


class PrincipalCache:
    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._version = None
        self._entries: dict[tuple[str, str], object] = {}

    def _get(self, kind: str, key: str, load):
        version = self.store.admin_version
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            if (kind, key) in self._entries:
                return self._entries[(kind, key)]
        value = load()
        with self._lock:
            if self._version == version:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[(kind, key)] = value
        return value

    def user(self, name: str) -> dict | None:
        """The user's row (users.get_user) or None."""
        return self._get("user", name, lambda: users.get_user(self.store, name))

    def token(self, token: str | None) -> tokens.TokenInfo | None:
        """The live token's holder (tokens.verify_token) or None; keyed by the token's hash."""
        if not token or len(token) > 512:
            return None
        return self.token_hash(tokens.hash_token(token))

    def token_hash(self, token_hash: str | None) -> tokens.TokenInfo | None:
        """The live token's holder by the token's hash, or None."""
        if not token_hash:
            return None
        return self._get("token", token_hash, lambda: tokens.verify_token_hash(self.store, token_hash))


def cache_for(runtime) -> PrincipalCache:
    """The runtime's one PrincipalCache (made on first use)."""
    cache = getattr(runtime, "principals", None)
    if cache is None:
        cache = runtime.principals = PrincipalCache(runtime.store)
    return cache
