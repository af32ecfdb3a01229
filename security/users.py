"""Console users, roles and what each may read (its Scope); the audit trail of PII reads and commands.

    add_user(store, pack, "zhang", "district_leader", ["district:110105"], password)
    user = authenticate(store, "zhang", password)          # User, or raises LoginError
    scope = scope_for(pack, user.role, user.scopes)         # applied by the gateway on every read

Passwords are hashed with argon2; five failed logins lock an account for 15 minutes. The failure
count moves in the writer in one statement (parallel guesses from many web workers and addresses
all count), and a right password is accepted only by the statement that finds the account unlocked.
Every login, failed or not, is audited. A user's session epoch (carried in the signed session
cookie, api/auth.py) moves on logout, password change and revocation: older sessions are refused.
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
    """A failed login. Its one message (key LOGIN_FAILED in i18n) is the same for an unknown name, a
    wrong password, a locked or a disabled account: it never tells a real account from an unknown one."""

    message_key = "login.failed"


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
    gateway.write(store, "user_upsert", user_name=name, password_hash=_hasher.hash(password), role=role,
                  scopes=list(scopes), now=utcnow())
    return User(name, role, tuple(scopes))


def set_role(store: Store, pack: CityPack, name: str, role: str, scopes) -> bool:
    """A user's new role and scopes (validated against the pack); its sessions and tokens read with
    them from the next request on, in every process. False if there is no such user."""
    scopes = list(scopes or ())
    scope_for(pack, role, scopes)
    return bool(gateway.write(store, "user_set_role", user_name=name, role=role, scopes=scopes))


def set_password(store: Store, name: str, password: str) -> int | None:
    """A new password; every session of the user ends. Returns the new session epoch (None: no such user)."""
    if len(password or "") < 8:
        raise ValueError("a password has at least 8 characters")
    rows = gateway.write(store, "user_set_password", user_name=name, password_hash=_hasher.hash(password))
    return rows[0][0] if rows else None


def end_sessions(store: Store, name: str) -> int | None:
    """End every console session of the user (a new session epoch); None if there is no such user."""
    rows = gateway.write(store, "user_end_sessions", user_name=name)
    return rows[0][0] if rows else None


def disable_user(store: Store, name: str) -> bool:
    """Disable a user: its sessions and tokens stop working at the next request (security/principals.py)."""
    return bool(gateway.write(store, "user_disable", user_name=name))


def get_user(store: Store, name: str) -> dict | None:
    rows = gateway.query_rows(store, "user_by_name", Scope.city(), user_name=name)
    return rows[0] if rows else None


def list_users(store: Store) -> list[dict]:
    return gateway.query_rows(store, "users_list", Scope.city())


def authenticate(store: Store, name: str, password: str, origin: str = "", now: dt.datetime | None = None) -> Session:
    """The user and its session epoch, if the password matches and the account is neither disabled
    nor locked; else LoginError (one message for every reason). Audited either way; `origin` is the
    caller's address."""
    now = now or utcnow()
    name = (name or "")[:64]
    row = get_user(store, name)
    known = row is not None and not row["disabled"] and row["password_hash"]
    try:
        if not known:
            _hasher.hash("timing equaliser")  # the same work whether or not the user exists
            matches = False
        else:
            matches = _hasher.verify(row["password_hash"], password or "")
    except (VerificationError, InvalidHashError):
        matches = False
    session = record_login(store, name, matches, origin, now)
    if session is None:
        raise LoginError(LoginError.message_key)
    return session


@dataclass(frozen=True)
class Session:
    """A successful login: the user and the session epoch its console session carries."""

    user: User
    epoch: int


@in_writer
def record_login(store: Store, name: str, matches: bool, origin: str, now: dt.datetime) -> Session | None:
    """The outcome of a login, in one writer transaction with its audit row: a right password
    (`matches`) opens a session unless the account is locked or disabled at this moment; a wrong one
    counts towards the lockout. None when refused."""
    with store.write_transaction() as cur:
        if matches:
            rows = gateway.execute(cur, "user_login_succeeded", user_name=name, now=now)
            if rows:
                append_audit(cur, now, name, rows[0][0], "login", origin=origin)
                role, scopes, epoch = rows[0]
                return Session(User(name, role, tuple(scopes or ())), epoch)
            append_audit(cur, now, name, "", "login_failed", detail="locked or disabled", origin=origin)
            return None
        rows = gateway.execute(cur, "user_login_failed", user_name=name, now=now, max_failed=MAX_FAILED_LOGINS,
                               locked_until=now + LOCKOUT)
        if not rows:
            detail = "unknown or disabled user"
        else:
            detail = f"wrong password ({rows[0][1]} in a row)" + (", locked" if rows[0][2] is not None else "")
        append_audit(cur, now, name, rows[0][0] if rows else "", "login_failed", detail=detail, origin=origin)
        return None


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
