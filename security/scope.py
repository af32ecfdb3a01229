"""What a caller may read: a place scope, an optional department and whether personal data shows.

Every read through the query gateway takes a Scope; SQL files read feed tables only through the
scoped table macros (datasources/migrations/002_scoped_macros.sql), which apply it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    level_index: int = 0  # 0 = the whole city; k = the pack's k-th level (1 = coarsest)
    unit_ids: tuple[str, ...] = ()
    department: str = ""  # "" = every department
    may_see_pii: bool = False

    def __post_init__(self):
        if self.level_index < 0:
            raise ValueError("level_index must be >= 0")
        if self.level_index > 0 and not self.unit_ids:
            raise ValueError("a unit scope needs at least one unit id")

    @classmethod
    def city(cls, *, may_see_pii: bool = False) -> "Scope":
        return cls(may_see_pii=may_see_pii)

    @property
    def is_city(self) -> bool:
        return self.level_index == 0 and not self.department

    def params(self) -> dict:
        """Bound parameters every scoped macro call uses."""
        return {
            "scope_level": self.level_index,
            "scope_units": list(self.unit_ids),
            "scope_dept": self.department,
            "scope_pii": self.may_see_pii,
        }
