"""Reading import files in chunks of bounded size: size limit, text encoding, malformed lines.

- Size: a file above the limit is refused before anything is read (nothing half-imported).
- Encoding of text files (CSV, JSON, JSON Lines): the mapping's `[source] encoding` when given;
  otherwise a byte-order mark (UTF-8, UTF-16, UTF-32), else UTF-16 without one when the text is
  full of NUL bytes, else the first of UTF-8 and GB18030 (a superset of GBK and GB2312) that
  decodes the *whole* file strictly. The chosen encoding is checked over the whole file before
  the first chunk is handed out, so an undecodable byte refuses the file with its line number
  instead of leaving half of it imported.
- CSV and JSON Lines are parsed line by line (Python's csv module, strict quoting) into frames of
  `chunk_rows` rows; a line that cannot be a record (wrong number of fields, broken quoting, bad
  JSON) comes back as a quarantine entry with its line number and text, and the rest is read on.
  Parquet is read by row batches; a plain JSON document is parsed whole (hence its own limit).
"""
from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_CHUNK_ROWS = 100_000
_BLOCK = 1 << 20  # bytes per read when checking an encoding
_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
CASCADE = ("utf-8", "gb18030")
MALFORMED = "malformed line"


class FileReadError(ValueError):
    """The file as a whole cannot be imported (too large, unreadable, undecodable)."""


class Chunk(NamedTuple):
    frame: pd.DataFrame
    rejected: list[tuple[str, str]]  # (raw payload as JSON: {"line", "text"}, reason) per malformed line


def check_size(path: Path, max_bytes: int | None, what: str = "import") -> int:
    """The file's size; FileReadError when it is larger than `max_bytes` (None or 0 = no limit)."""
    if not path.exists():
        raise FileReadError(f"file not found: {path}")
    size = path.stat().st_size
    if max_bytes and size > max_bytes:
        raise FileReadError(
            f"{path.name} is {size / 2**20:.1f} MB, above the {what} limit of {max_bytes / 2**20:.0f} MB; "
            "nothing was imported (split the file, or raise the limit setting)"
        )
    return size


def _valid_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise FileReadError(f"unknown text encoding {name!r}") from None


def first_bad_byte(path: Path, encoding: str) -> tuple[int, int, str] | None:
    """None when the whole file decodes strictly; else (line, byte offset, reason) of the first error."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = line = 0
    with path.open("rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                # exc.object: what the decoder still held from the last block, then this block
                good = codecs.getincrementaldecoder(encoding)(errors="ignore").decode(exc.object[: exc.start])
                held = len(exc.object) - len(block)
                return line + good.count("\n") + 1, offset - held + exc.start, exc.reason
            line += text.count("\n")
            offset += len(block)
            if final:
                return None


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 without a byte-order mark: mostly-ASCII text has a NUL in every other byte."""
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def detect_encoding(path: Path, declared: str | None = None) -> str:
    """The text encoding to read `path` with (see the module doc); FileReadError if none fits."""
    if declared:
        encoding = _valid_encoding(declared)
        bad = first_bad_byte(path, encoding)
        if bad:
            line, offset, reason = bad
            raise FileReadError(f"{path.name} is not valid {declared} at line {line} (byte {offset}: {reason}); "
                                "nothing was imported (fix [source] encoding in the mapping)")
        return encoding
    with path.open("rb") as handle:
        sample = handle.read(4096)
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            candidates = (encoding,)
            break
    else:
        utf16 = _utf16_without_bom(sample)
        candidates = (utf16,) if utf16 else CASCADE
    problems = []
    for encoding in candidates:
        bad = first_bad_byte(path, encoding)
        if bad is None:
            return encoding
        problems.append(f"not {encoding} (line {bad[0]}, byte {bad[1]})")
    raise FileReadError(f"cannot tell the text encoding of {path.name}: {'; '.join(problems)}; "
                        'nothing was imported (name it in the mapping: [source] encoding = "...")')


# ---------------------------------------------------------------------------- line readers


class _Tap:
    """Iterates a text file's lines and keeps those of the record being parsed (for quarantine)."""

    __slots__ = ("_lines", "held")

    def __init__(self, handle):
        self._lines = iter(handle)
        self.held: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.held.append(line)
        return line


def _rejected(line: int, text: str, reason: str) -> tuple[str, str]:
    raw = json.dumps({"line": line, "text": text.rstrip("\r\n")}, ensure_ascii=False)
    return raw, f"{MALFORMED}: {reason}"


def _unique_header(names: list[str]) -> list[str]:
    """Duplicate column names get .1, .2, ... as pandas does."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}.{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}.{seen[name]}"
            seen[candidate] = 0
            out.append(candidate)
        else:
            seen[name] = 0
            out.append(name)
    return out


def _csv_frame(header: list[str], rows: list[list[str]]) -> pd.DataFrame:
    """Text columns as pandas' read_csv(dtype=str) gives them (empty fields are missing), built in
    Arrow: the rows flattened once, each column taken by stride (3-5x faster than via Python)."""
    width, count = len(header), len(rows)
    flat = pa.array(rows, pa.list_(pa.string())).flatten()
    flat = pc.if_else(pc.equal(flat, ""), pa.scalar(None, pa.string()), flat)
    columns = [flat.take(pa.array(np.arange(j, count * width, width))) for j in range(width)]
    return pa.table(columns, names=header).to_pandas()


def iter_csv(path: Path, encoding: str, chunk_rows: int) -> Iterator[Chunk]:
    with path.open("r", encoding=encoding, newline="") as handle:
        tap = _Tap(handle)
        reader = csv.reader(tap, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise FileReadError(f"{path.name} is empty: no header line") from None
        except csv.Error as exc:
            raise FileReadError(f"{path.name}: the header line cannot be read: {exc}") from None
        header = _unique_header(header)
        width = len(header)
        rows: list[list[str]] = []
        rejected: list[tuple[str, str]] = []
        while True:
            start = reader.line_num + 1
            tap.held.clear()
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                rejected.append(_rejected(start, "".join(tap.held), f"broken quoting ({exc})"))
                continue
            if len(row) == width:
                rows.append(row)
            elif row and row != [""] * len(row):  # blank lines are skipped, as pandas does
                rejected.append(_rejected(start, "".join(tap.held), f"expected {width} fields, saw {len(row)}"))
            if len(rows) >= chunk_rows:
                yield Chunk(_csv_frame(header, rows), rejected)
                rows, rejected = [], []
        if rows or rejected:
            yield Chunk(_csv_frame(header, rows), rejected)


def iter_json_lines(path: Path, encoding: str, chunk_rows: int) -> Iterator[Chunk]:
    with path.open("r", encoding=encoding) as handle:
        records: list[dict] = []
        rejected: list[tuple[str, str]] = []
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                rejected.append(_rejected(number, line, f"not JSON ({exc.msg} at column {exc.colno})"))
                continue
            if not isinstance(record, dict):
                rejected.append(_rejected(number, line, "not a JSON object"))
                continue
            records.append(record)
            if len(records) >= chunk_rows:
                yield Chunk(pd.DataFrame.from_records(records), rejected)
                records, rejected = [], []
        if records or rejected:
            yield Chunk(pd.DataFrame.from_records(records), rejected)


def _json_document(path: Path, encoding: str) -> pd.DataFrame:
    data = json.loads(path.read_text(encoding=encoding))
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if lists else [data]
    return pd.DataFrame.from_records(data)


def iter_parquet(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
        yield Chunk(pa.Table.from_batches([batch]).to_pandas(), [])


def iter_file(path: Path | str, *, encoding: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
              max_bytes: int | None = None, max_json_bytes: int | None = None) -> Iterator[Chunk]:
    """Chunks of `path` (CSV, Parquet, JSON or JSON Lines, by suffix); FileReadError, raised before
    the first chunk, when the file as a whole cannot be imported."""
    path = Path(path)
    check_size(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return iter_parquet(path, chunk_rows)
    if suffix == ".json":
        check_size(path, max_json_bytes, "JSON document (use JSON Lines for more)")
    text_encoding = detect_encoding(path, encoding)
    if suffix in (".jsonl", ".ndjson"):
        return iter_json_lines(path, text_encoding, chunk_rows)
    if suffix == ".json":
        try:
            return iter([Chunk(_json_document(path, text_encoding), [])])
        except ValueError as exc:
            raise FileReadError(f"cannot read {path.name}: {exc}") from None
    return iter_csv(path, text_encoding, chunk_rows)
