"""Console users, roles and what each may read (its Scope); the audit trail of PII reads and commands.

    add_user(store, pack, "zhang", "district_leader", ["district:110105"], password)
    user = authenticate(store, "zhang", password)          # User, or raises LoginError
    scope = scope_for(pack, user.role, user.scopes)         # applied by the gateway on every read

Passwords are hashed with argon2; five failed logins lock an account for 15 minutes.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from datasources import gateway
from datasources.citypack import CityPack
from datasources.remote import in_writer
from datasources.store import Store, utcnow
from security.scope import Scope

ROLES = ("commander", "district_leader", "department", "briefing", "wall", "admin")
CITY_ROLES = frozenset({"commander", "briefing", "wall", "admin"})
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
_hasher = PasswordHasher()


class LoginError(Exception):
    """A failed login; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    scopes: tuple[str, ...]


def scope_for(pack: CityPack, role: str, scopes) -> Scope:
    """The Scope a role with these scope entries reads with. Raises ValueError when inconsistent.

    commander, briefing, wall, admin: the whole city. district_leader: one or more units of one
    level ('district:110105'). department: one department ('department:chengguan'). Personal data
    stays masked for every role (revealing is an audited action of its own).
    """
    scopes = tuple(scopes or ())
    if role in CITY_ROLES:
        return Scope.city()
    if role == "department":
        departments = [s.split(":", 1)[1] for s in scopes if s.startswith("department:")]
        if len(departments) != 1:
            raise ValueError("a department user needs exactly one scope department:ID")
        if departments[0] not in set(pack.departments.department_id):
            raise ValueError(f"unknown department {departments[0]!r}")
        return Scope(department=departments[0])
    if role == "district_leader":
        entries = [s.split(":", 1) for s in scopes if not s.startswith("department:")]
        levels = {level for level, _ in entries}
        if not entries or len(levels) != 1:
            raise ValueError("a district leader needs one or more scopes LEVEL:ID of one level")
        level = pack.level(levels.pop())  # KeyError for an unknown level
        known = set(level.units.unit_id)
        unknown = [unit for _, unit in entries if unit not in known]
        if unknown:
            raise ValueError(f"unknown {level.id} id(s) {unknown}")
        return Scope(level_index=level.index, unit_ids=tuple(unit for _, unit in entries))
    raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")


def add_user(store: Store, pack: CityPack, name: str, role: str, scopes, password: str) -> User:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValueError("a user name has 1 to 64 characters")
    if len(password or "") < 8:
        raise ValueError("a password has at least 8 characters")
    scope_for(pack, role, scopes)  # validates role and scopes against the pack
    store.execute_write(
        "insert or replace into users values ($name, $hash, $role, $scopes, $now, false, 0, null)",
        {"name": name, "hash": _hasher.hash(password), "role": role, "scopes": list(scopes), "now": utcnow()},
    )
    return User(name, role, tuple(scopes))


def disable_user(store: Store, name: str) -> bool:
    """Disable a user: its sessions and tokens stop working at the next request (security/principals.py)."""
    return bool(store.execute_write("update users set disabled = true where name = $name returning name", {"name": name}))


def get_user(store: Store, name: str) -> dict | None:
    rows = gateway.query_rows(store, "user_by_name", Scope.city(), user_name=name)
    return rows[0] if rows else None


def list_users(store: Store) -> list[dict]:
    return gateway.query_rows(store, "users_list", Scope.city())


def authenticate(store: Store, name: str, password: str, now: dt.datetime | None = None) -> User:
    """The user, if the password matches and the account is neither disabled nor locked."""
    now = now or utcnow()
    row = get_user(store, name or "")
    if row is None or row["disabled"] or not row["password_hash"]:
        _hasher.hash("timing equaliser")  # same work whether or not the user exists
        raise LoginError("wrong name or password")
    if row["locked_until"] is not None and row["locked_until"] > now:
        raise LoginError("account locked after repeated failures; try again later")
    try:
        _hasher.verify(row["password_hash"], password or "")
    except (VerificationError, InvalidHashError):
        failed = row["failed_logins"] + 1
        locked = now + LOCKOUT if failed >= MAX_FAILED_LOGINS else None
        store.execute_write(
            "update users set failed_logins = $failed, locked_until = $locked where name = $name",
            {"failed": 0 if locked else failed, "locked": locked, "name": row["name"]},
        )
        raise LoginError("wrong name or password") from None
    if row["failed_logins"] or row["locked_until"]:
        store.execute_write("update users set failed_logins = 0, locked_until = null where name = $name", {"name": row["name"]})
    return User(row["name"], row["role"], tuple(row["scopes"] or ()))


@in_writer
def audit(store: Store, actor: str, role: str, action: str, target: str = "", detail: str = "", origin: str = "") -> None:
    """Append one audit row (never updated or deleted through the application)."""
    with store.write_transaction() as cur:
        append_audit(cur, utcnow(), actor, role, action, target, detail, origin)


def append_audit(cur, at: dt.datetime, actor: str, role: str, action: str, target: str = "", detail: str = "",
                 origin: str = "") -> None:
    """audit() inside the caller's write transaction (a command and its audit row commit together)."""
    cur.execute(
        "insert into audit (at_utc, actor, role, action, target, detail, origin) values ($at, $actor, $role, $action, $target, $detail, $origin)",
        {"at": at, "actor": actor, "role": role, "action": action, "target": target, "detail": detail, "origin": origin},
    )


def demo_users(store: Store, pack: CityPack) -> list[tuple[str, str, str]]:
    """One user per role, and one per department, with a fresh random password (demo mode only);
    returns (name, role, password)."""
    first_unit = pack.levels[0].units.unit_id.iloc[0]
    first_department = pack.departments.department_id.iloc[0]
    plan = [
        ("commander", "commander", []),
        ("leader", "district_leader", [f"{pack.levels[0].id}:{first_unit}"]),
        ("dept", "department", [f"department:{first_department}"]),
        # and one per department (dept-<id>), so every department's queue can be opened
        *((f"dept-{d}", "department", [f"department:{d}"]) for d in pack.departments.department_id),
        ("briefing", "briefing", []),
        ("wall", "wall", []),
        ("admin", "admin", []),
    ]
    created = []
    for name, role, scopes in plan:
        password = secrets.token_urlsafe(9)
        add_user(store, pack, name, role, scopes, password)
        created.append((name, role, password))
    return created
