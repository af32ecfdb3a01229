"""Who may brief what: a briefing's scope must lie inside the caller's scope."""
from __future__ import annotations

from security.scope import Scope

BRIEFING_ROLES = frozenset({"commander", "briefing", "admin", "district_leader"})


def may_brief(pack, role: str, caller: Scope, scope_text: str) -> bool:
    """True if a caller with `role` and Scope `caller` may generate or read a briefing of `scope_text`."""
    if role not in BRIEFING_ROLES or caller.department:
        return False
    if caller.level_index == 0:
        return True
    if scope_text == "city":
        return False
    level_id, _, unit_id = scope_text.partition(":")
    try:
        level = pack.level(level_id)
    except KeyError:
        return False
    path = dict(zip(level.units.unit_id, level.units.path)).get(unit_id)
    return bool(path) and len(path) >= caller.level_index and path[caller.level_index - 1] in caller.unit_ids
