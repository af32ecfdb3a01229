"""The indicator catalog: what each indicator means, declared in indicators/catalog.toml.

    for ind in catalog():            # in catalog order
        ind.id, ind.name_zh, ind.name_en, ind.definition, ind.unit, ind.sql
    get("closure_rate").status(0.9)  # "green" | "amber" | "red" | None

Every indicator has a bilingual name and a definition; `validate` lists what is missing.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CATALOG_PATH = Path(__file__).with_name("catalog.toml")
SQL_DIR = Path(__file__).resolve().parent.parent / "datasources" / "sql"
LEVEL_KINDS = ("city", "pack", "department")


@dataclass(frozen=True)
class Indicator:
    id: str
    name_zh: str
    name_en: str
    definition: str
    unit: str
    numerator: str
    denominator: str
    better: str  # "up" | "down"
    thresholds: dict
    levels: tuple[str, ...]
    default_window: str
    sql: str
    column: str
    numerator_column: str | None = None
    denominator_column: str | None = None
    lineage: dict = field(default_factory=dict)

    @property
    def is_ratio(self) -> bool:
        return self.denominator_column is not None

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    def status(self, value) -> str | None:
        """green / amber / red for a value by the thresholds; None for an empty value."""
        if value is None:
            return None
        green, red = self.thresholds["green"], self.thresholds["red"]
        if self.better == "up":
            return "green" if value >= green else "red" if value < red else "amber"
        return "green" if value <= green else "red" if value > red else "amber"

    def applies_to(self, level_kind: str) -> bool:
        return level_kind in self.levels


def validate(entries: list[dict]) -> list[str]:
    """Problems of raw catalog entries (missing names, definitions, bad fields); [] when fine."""
    problems = []
    seen = set()
    for n, entry in enumerate(entries):
        ident = entry.get("id") or f"#{n}"
        if ident in seen:
            problems.append(f"{ident}: duplicate id")
        seen.add(ident)
        for key in ("id", "name_zh", "name_en", "definition", "unit", "sql", "column", "default_window"):
            if not str(entry.get(key) or "").strip():
                problems.append(f"{ident}: missing {key}")
        if entry.get("better") not in ("up", "down"):
            problems.append(f"{ident}: better must be 'up' or 'down'")
        thresholds = entry.get("thresholds") or {}
        if not all(isinstance(thresholds.get(k), (int, float)) for k in ("green", "red")):
            problems.append(f"{ident}: thresholds need numeric green and red")
        levels = entry.get("levels") or []
        if not levels or any(lv not in LEVEL_KINDS for lv in levels):
            problems.append(f"{ident}: levels must be some of {LEVEL_KINDS}")
        if entry.get("sql") and not (SQL_DIR / f"{entry['sql']}.sql").exists():
            problems.append(f"{ident}: no SQL file datasources/sql/{entry['sql']}.sql")
        if bool(entry.get("numerator_column")) != bool(entry.get("denominator_column")):
            problems.append(f"{ident}: a ratio needs both numerator_column and denominator_column")
    return problems


def load(path: Path = CATALOG_PATH) -> list[Indicator]:
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("indicator", [])
    problems = validate(entries)
    if problems:
        raise ValueError("indicator catalog problems:\n" + "\n".join(problems))
    return [
        Indicator(**{**entry, "levels": tuple(entry["levels"]), "lineage": dict(entry.get("lineage", {}))})
        for entry in entries
    ]


@functools.cache
def _catalog() -> tuple[Indicator, ...]:
    return tuple(load())


def catalog() -> list[Indicator]:
    """Every indicator, in catalog order."""
    return list(_catalog())


def get(indicator_id: str) -> Indicator:
    for ind in _catalog():
        if ind.id == indicator_id:
            return ind
    raise KeyError(f"unknown indicator {indicator_id!r}")


def ids() -> list[str]:
    return [ind.id for ind in _catalog()]
