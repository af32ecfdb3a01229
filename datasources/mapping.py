"""Mapping files (TOML) turn a foreign schema into canonical records (CONTRACT §4).

    [source]
    name = "nyc311"                 # the records' `source` unless a column says otherwise
    timezone = "America/New_York"   # for times without a zone (default: the city's)
    encoding = "gbk"                # text files' encoding (default: detected, see filereader.py)

    [fields]                        # canonical = foreign column ("?column" = optional column)
    case_id = "Unique Key"
    reported_at = "Created Date"
    due_at = "?Due Date"

    [formats]                       # strptime formats, or "epoch_s" / "epoch_ms"
    reported_at = "%m/%d/%Y %I:%M:%S %p"

    [values.status]                 # value maps, applied after renaming
    "Closed" = "closed"

    [units]                         # take unit ids from a column instead of coordinates
    cd = "Community Board"

    [constants]                     # canonical = fixed value for every record
    metric = "pm25"

    [melt]                          # wide tables: one record per listed column and row
    "PM2.5" = "pm25"                # foreign column = the `metric` it becomes (cell -> `value`)
"""
from __future__ import annotations

import codecs
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


class MappingError(ValueError):
    pass


@dataclass(frozen=True)
class Mapping:
    name: str = ""
    timezone: str | None = None
    encoding: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    melt: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str | None) -> "Mapping":
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise MappingError(f"mapping file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"mapping file {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict) -> "Mapping":
        known = {"source", "fields", "formats", "values", "units", "constants", "melt"}
        unknown = set(data) - known
        if unknown:
            raise MappingError(f"unknown mapping section(s) {sorted(unknown)}; known: {sorted(known)}")
        source = data.get("source", {})
        encoding = source.get("encoding")
        if encoding is not None:
            if not isinstance(encoding, str):
                raise MappingError("[source] encoding must be a string, e.g. \"gb18030\"")
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise MappingError(f"[source] encoding {encoding!r} is not a known text encoding") from None
        for section in ("fields", "formats", "units", "melt"):
            for key, value in data.get(section, {}).items():
                if not isinstance(value, str):
                    raise MappingError(f"[{section}] {key} must be a string")
        return cls(
            name=source.get("name", ""),
            timezone=source.get("timezone"),
            encoding=encoding or None,
            fields=dict(data.get("fields", {})),
            formats=dict(data.get("formats", {})),
            values={k: {str(a): b for a, b in v.items()} for k, v in data.get("values", {}).items()},
            units=dict(data.get("units", {})),
            constants=dict(data.get("constants", {})),
            melt=dict(data.get("melt", {})),
        )

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Reshape before mapping: `[melt]` turns listed wide columns into (metric, value) rows."""
        if not self.melt:
            return frame
        missing = [c for c in self.melt if c not in frame.columns]
        if missing:
            raise MappingError(f"column(s) named in [melt] are not in the file: {missing}")
        keep = [c for c in frame.columns if c not in self.melt and c not in ("metric", "value")]
        long = frame.melt(id_vars=keep, value_vars=list(self.melt), var_name="metric", value_name="value")
        long["metric"] = long["metric"].map(self.melt)
        return long

    def apply(self, frame: pd.DataFrame, canonical: list[str]) -> pd.DataFrame:
        """Canonical columns from `frame`: mapped, kept by name, or constant; value maps applied."""
        # A column written "?name" is optional: absent from a file, the field is simply empty.
        missing = [f for f in self.fields.values() if not f.startswith("?") and f not in frame.columns]
        if missing:
            raise MappingError(f"column(s) named in [fields] are not in the file: {missing}")
        missing_units = [c for c in self.units.values() if c not in frame.columns]
        if missing_units:
            raise MappingError(f"column(s) named in [units] are not in the file: {missing_units}")
        out = pd.DataFrame(index=frame.index)
        for name in canonical:
            if name in self.fields:
                foreign = self.fields[name].removeprefix("?")
                if foreign in frame.columns:
                    out[name] = frame[foreign]
            elif name in self.constants:
                out[name] = self.constants[name]
            elif name in frame.columns:
                out[name] = frame[name]
        for name, table in self.values.items():
            if name in out.columns:
                as_text = out[name].astype("string")
                mapped = as_text.map(table)
                out[name] = mapped.where(mapped.notna(), out[name])
        for level, column in self.units.items():
            out[f"unit.{level}"] = frame[column]
        for column in frame.columns:
            if column.startswith("unit.") and column not in out.columns:
                out[column] = frame[column]
        return out
