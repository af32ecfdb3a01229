"""File imports as Chinese government exports come: GBK / UTF-16 text, malformed lines, large files.

Real files written here, imported with `ingest_file` (and the CLI) into a real DuckDB store.
"""
import json
import subprocess
import sys

import pytest

from datasources import filereader
from datasources.ingest import IngestError, ingest_file, read_file, reprocess_quarantine
from datasources.mapping import Mapping, MappingError
from tests.conftest import BEIJING, ROOT

HEADER = "case_id,category,description,reported_at,lat,lon,address"
ROWS = [
    "GB-1,路灯故障,景山前街路灯不亮,2026-03-02 08:00,39.9163,116.3972,东城区景山前街4号",
    "GB-2,井盖破损缺失,\"井盖缺失, 有危险\",2026-03-02 09:00,39.9289,116.3883,西城区某胡同7号",
    "GB-3,暴露垃圾,垃圾堆放（小区门口）,2026-03-02 10:00,39.9042,116.4074,东城区王府井大街1号",
]


def write(path, lines, encoding="utf-8"):
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def stored(store):
    return store.cursor().execute(
        "select case_id, category, description, address from cases order by case_id").fetchall()


def nothing_stored(store):
    cur = store.cursor()
    return (cur.execute("select count(*) from cases").fetchall()[0][0],
            cur.execute("select count(*) from quarantine").fetchall()[0][0]) == (0, 0)


EXPECTED = [
    ("GB-1", "street_light", "景山前街路灯不亮", "东城区景山前街4号"),
    ("GB-2", "manhole_cover", "井盖缺失, 有危险", "西城区某胡同7号"),
    ("GB-3", "garbage_exposed", "垃圾堆放（小区门口）", "东城区王府井大街1号"),
]


@pytest.mark.parametrize("encoding, detected", [
    ("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"),
    ("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8"),
])
def test_chinese_exports_import_with_their_text_intact(store, beijing, tmp_path, encoding, detected):
    path = write(tmp_path / "cases.csv", [HEADER, *ROWS], encoding)
    assert filereader.detect_encoding(path) == detected  # utf-16-le: no byte-order mark, told by its NULs
    summary = ingest_file(store, beijing, "cases", path)
    assert (summary["accepted"], summary["quarantined"]) == (3, 0), summary
    assert stored(store) == EXPECTED


def test_the_mapping_names_the_encoding(store, beijing, tmp_path):
    path = write(tmp_path / "cases.csv", [HEADER, *ROWS], "gbk")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[source]\nname = "12345"\nencoding = "GBK"\n')
    assert Mapping.load(mapping).encoding == "GBK"
    assert ingest_file(store, beijing, "cases", path, mapping)["accepted"] == 3
    assert stored(store) == EXPECTED
    mapping.write_text('[source]\nencoding = "klingon"\n')
    with pytest.raises(MappingError, match="klingon"):
        Mapping.load(mapping)


def test_a_wrongly_declared_encoding_refuses_the_file_and_names_the_line(store, beijing, tmp_path):
    # ASCII for two data lines, then GBK bytes on line 4: not UTF-8 there
    lines = [HEADER, "A-1,street_light,x,2026-03-02 08:00,39.9163,116.3972,y",
             "A-2,street_light,x,2026-03-02 08:00,39.9163,116.3972,y", ROWS[0]]
    path = write(tmp_path / "cases.csv", lines, "gbk")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[source]\nencoding = "utf-8"\n')
    with pytest.raises(IngestError, match=r"not valid utf-8 at line 4 .*nothing was imported"):
        ingest_file(store, beijing, "cases", path, mapping, chunk_rows=1)
    assert nothing_stored(store)
    # undeclared, the cascade finds GB18030 for the whole file (not UTF-8 for the first lines)
    assert ingest_file(store, beijing, "cases", path, chunk_rows=1)["accepted"] == 3


def test_bytes_no_encoding_explains_are_refused_whole(store, beijing, tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes((HEADER + "\r\nX-1,street_light,").encode() + b"\x80\xff\x80" + b",2026-03-02,,,\r\n")
    with pytest.raises(IngestError, match=r"cannot tell the text encoding.*\[source\] encoding"):
        ingest_file(store, beijing, "cases", path)
    assert nothing_stored(store)


def test_malformed_lines_are_quarantined_with_their_number_and_the_rest_imported(store, beijing, tmp_path):
    lines = [
        HEADER,                                                                  # line 1
        ROWS[0],                                                                 # 2
        "GB-X,路灯故障,多了一列,2026-03-02 08:00,39.9163,116.3972,地址,EXTRA",      # 3: 8 fields
        '"GB-4",路灯故障,"跨行的\n描述",2026-03-02 08:00,39.9163,116.3972,地址',   # 4-5: one record
        '"GB-Y"oops,路灯故障,x,2026-03-02 08:00,39.9163,116.3972,地址',           # 6: broken quoting
        "",                                                                      # 7: blank, skipped
        "GB-Z,路灯故障,短",                                                       # 8: 3 fields
        ROWS[1],                                                                 # 9
        ROWS[2],                                                                 # 10
    ]
    path = write(tmp_path / "cases.csv", lines)
    summary = ingest_file(store, beijing, "cases", path, chunk_rows=2)  # line numbers run on across chunks
    assert (summary["accepted"], summary["quarantined"]) == (4, 3), summary
    assert summary["malformed_lines"] == [3, 6, 8]
    assert [r[0] for r in stored(store)] == ["GB-1", "GB-2", "GB-3", "GB-4"]
    assert store.cursor().execute("select description from cases where case_id = 'GB-4'").fetchall() == [("跨行的\n描述",)]
    rows = store.cursor().execute(
        "select raw, reason, origin from quarantine order by quarantine_id").fetchall()
    quarantined = {json.loads(raw)["line"]: (json.loads(raw)["text"], reason, origin) for raw, reason, origin in rows}
    assert quarantined[3] == (lines[2], "malformed line: expected 7 fields, saw 8", "file:cases.csv")
    assert quarantined[6][0] == lines[4] and quarantined[6][1].startswith("malformed line: broken quoting")
    assert quarantined[8][1] == "malformed line: expected 7 fields, saw 3"
    # a mapping fix cannot mend them: re-processing leaves them waiting for a corrected file
    assert reprocess_quarantine(store, beijing, "cases")["reprocessed"] == 0
    assert store.cursor().execute("select count(*) from quarantine").fetchall() == [(3,)]
    # a whole-file reader (replays) has no quarantine: it refuses, naming the first line
    with pytest.raises(IngestError, match="3 malformed line.*line 3"):
        read_file(path)


def test_a_bad_json_line_is_quarantined_and_the_rest_imported(store, beijing, tmp_path):
    good = {"case_id": "J-1", "category": "street_light", "reported_at": "2026-03-02T08:00:00+08:00",
            "lat": 39.9163, "lon": 116.3972, "description": "路灯"}
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join([json.dumps(good, ensure_ascii=False), '{"case_id": "J-2", oops', "[1, 2]",
                               json.dumps({**good, "case_id": "J-3"})]) + "\n", encoding="gb18030")
    summary = ingest_file(store, beijing, "cases", path)
    assert (summary["accepted"], summary["quarantined"], summary["malformed_lines"]) == (2, 2, [2, 3])
    assert store.cursor().execute("select description from cases where case_id = 'J-1'").fetchall() == [("路灯",)]


def test_a_file_above_the_size_limit_is_refused_before_anything_is_stored(store, beijing, tmp_path):
    path = write(tmp_path / "big.csv", [HEADER, *ROWS * 4000])  # ~1 MB
    size = path.stat().st_size
    version = store.data_version
    with pytest.raises(IngestError, match=r"big.csv is 1\.\d MB, above the import limit of 1 MB; nothing was imported"):
        ingest_file(store, beijing, "cases", path, max_bytes=2**20)
    assert size > 2**20 and nothing_stored(store) and store.data_version == version
    doc = tmp_path / "cases.json"
    doc.write_text(json.dumps([{"case_id": "x" * 100}] * 200))
    with pytest.raises(IngestError, match="JSON document .*JSON Lines"):
        ingest_file(store, beijing, "cases", doc, max_json_bytes=10_000)


def test_the_cli_applies_the_size_limit_setting(tmp_path):
    path = write(tmp_path / "big.csv", [HEADER, *ROWS * 4000])
    data_dir = tmp_path / "data"
    run = subprocess.run([sys.executable, "app.py", "ingest", "cases", str(path), "--city", str(BEIJING),
                          "--data-dir", str(data_dir)], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "CITYBRAIN_IMPORT_MAX_MB": "1"})
    assert run.returncode != 0 and "above the import limit of 1 MB" in run.stderr, run.stderr
    assert "accepted" not in run.stdout
