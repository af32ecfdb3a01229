"""Briefing packs (briefings/): every template for the city and a district of the Beijing demo
store, rendered to PDF and checked as a reader would: pages not blank (pdftoppm + Pillow),
Chinese headings real text in the Noto CJK font (pdftotext, pdffonts), a district brief about its
district only, no reporter personal data, and a stored briefing re-rendered to the same bytes.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from briefings import build_brief, freeze, load_briefing, regenerate, render_html, render_pdf
from datasources.store import utcnow
from tests.conftest import run_cli

SPANS = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7), "incident": dt.timedelta(hours=6)}
TITLES = {"daily": "日报", "weekly": "周报", "incident": "专报"}
FAKE_PHONE = "13912345678"
FAKE_NAME = "欧阳测试"

pytestmark = pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
                                reason="poppler-utils is installed by `make test`")


def window(template: str):
    end = utcnow().replace(microsecond=0)
    return end - SPANS[template], end


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def page_ink(path: Path, tmp_path: Path) -> list[float]:
    """Share of non-white pixels per page at 50 dpi."""
    from PIL import Image

    prefix = tmp_path / path.stem
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(prefix)], check=True)
    shares = []
    for png in sorted(tmp_path.glob(f"{path.stem}-*.png")):
        image = Image.open(png).convert("L")
        histogram = image.histogram()
        shares.append(sum(histogram[:240]) / sum(histogram))
    return shares


RUNNING = re.compile(r"内部资料|注意保存|城市运行管理指挥中心|Command Center|Internal|第\s*\d+\s*页|Page\s*\d+\s*of\s*\d+")


def blank_pages(path: Path) -> list[int]:
    """Pages with no text besides the running header and footer (a page drawn but empty)."""
    pages = pdf_text(path).split("\f")
    blank = []
    for number, page in enumerate(pages[: len(pages) - 1 if pages and not pages[-1].strip() else len(pages)], start=1):
        body = [line for line in page.splitlines() if line.strip() and not RUNNING.search(line)]
        if not body:
            blank.append(number)
    return blank


@pytest.fixture(scope="module")
def rendered(console_runtime, tmp_path_factory):
    """PDFs of each template for the city and for Chaoyang in zh, plus a city daily in en."""
    out = tmp_path_factory.mktemp("briefs")
    runtime = console_runtime
    cases = [(tpl, scope, "zh") for tpl in SPANS for scope in ("city", "district:110105")]
    cases.append(("daily", "city", "en"))
    files = {}
    for template, scope, lang in cases:
        start, end = window(template)
        brief = build_brief(runtime.store, runtime.pack, scope, template, start, end, lang)
        path = out / f"{template}-{scope.replace(':', '_')}-{lang}.pdf"
        path.write_bytes(render_pdf(brief.snapshot))
        files[(template, scope, lang)] = (path, brief)
    return files


@pytest.mark.parametrize("template", list(SPANS))
@pytest.mark.parametrize("scope", ["city", "district:110105"])
def test_each_template_renders_real_pages_with_chinese_text(rendered, template, scope, tmp_path):
    path, brief = rendered[(template, scope, "zh")]
    # not blank: ink on every page (a short last page, e.g. a table's tail, has little), body text on each
    shares = page_ink(path, tmp_path)
    assert shares and shares[0] > 0.01 and all(share > 0.001 for share in shares), shares
    assert blank_pages(path) == []
    text = pdf_text(path)
    assert TITLES[template] in text and "结案率" in text and "主要指标" in text
    assert re.search(r"第\s*1\s*页\s*/\s*共\s*\d+\s*页", text)
    assert "\ufffd" not in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert "Noto-Sans-CJK-SC" in fonts, fonts  # embedded, not a fallback font without CJK glyphs


def test_a_district_brief_names_only_its_district(rendered, beijing):
    path, brief = rendered[("daily", "district:110105", "zh")]
    text = pdf_text(path) + render_html(brief.snapshot)
    districts = beijing.level("district").units
    assert "朝阳区" in text
    others = [name for uid, name in zip(districts.unit_id, districts.name_zh) if uid != "110105"]
    assert [name for name in others if name in text] == []
    assert brief.snapshot["ranking"]["level"] == "网格"


def test_english_brief(rendered, tmp_path):
    path, brief = rendered[("daily", "city", "en")]
    text = pdf_text(path)
    assert "Daily Operations Brief" in text and "Closure rate" in text and re.search(r"Page\s*1\s*of\s*\d", text)
    shares = page_ink(path, tmp_path)
    assert shares[0] > 0.01 and all(share > 0.001 for share in shares) and blank_pages(path) == []


def test_narrative_quotes_the_numbers(rendered):
    _, brief = rendered[("daily", "city", "zh")]
    s = brief.snapshot
    kpis = {k["id"]: k for k in s["kpis"]}
    assert kpis["cases_reported"]["value_text"] in s["narrative"][0]
    assert kpis["overdue_open"]["value_text"] in s["narrative"][1]
    assert len(s["overdue"]) <= 20 and all(set(row) == {"case_id", "category", "unit", "reported", "due", "hours_overdue"}
                                            for row in s["overdue"])


def test_a_stored_briefing_regenerates_byte_identical(console_runtime):
    start, end = window("daily")
    brief = build_brief(console_runtime.store, console_runtime.pack, "district:110105", "daily", start, end, "zh")
    briefing_id, pdf = freeze(console_runtime.store, brief)
    stored = load_briefing(console_runtime.store, briefing_id)
    assert stored["pdf"] == pdf and stored["snapshot"] == json.loads(json.dumps(brief.snapshot))
    assert regenerate(console_runtime.store, briefing_id) == pdf


@pytest.fixture(scope="module")
def store_with_reporter(tmp_path_factory):
    """A small demo store (own data dir) with an overdue open case in Chaoyang carrying a reporter."""
    from datasources.runtime import open_runtime
    from settings import Settings

    data_dir = tmp_path_factory.mktemp("brief-pii")
    runtime = open_runtime(Settings.load(env={}, data_dir=data_dir, history_days=1), simulate=True, start_threads=False)
    now = utcnow()
    ts = pa.timestamp("us")
    runtime.store.apply("cases", "cases", pa.table({
        "case_id": ["PII-TEST-1"], "source": ["hotline"], "category": ["street_light"],
        "description": [f"call {FAKE_PHONE}"], "reported_at": pa.array([now - dt.timedelta(days=5)], ts),
        "lat": [39.92], "lon": [116.48], "address": ["x"], "priority": pa.array([1], pa.int8()),
        "department": ["chengguan"], "due_at": pa.array([now - dt.timedelta(days=4)], ts), "status": ["dispatched"],
        "reporter_name": [FAKE_NAME], "reporter_phone": [FAKE_PHONE],
        "unit_ids": pa.array([["110105", "110105-x"]], pa.list_(pa.string())), "outside_city": [False],
    }))
    runtime.close()
    return data_dir


def test_cli_brief_has_no_reporter_data(store_with_reporter, tmp_path):
    out = tmp_path / "chaoyang.pdf"
    end = utcnow().replace(microsecond=0)
    start = end - dt.timedelta(days=1)
    iso = lambda t: t.replace(tzinfo=dt.UTC).isoformat()  # noqa: E731
    proc = run_cli("brief", "--data-dir", store_with_reporter, "--template", "daily", "--scope", "district:110105",
                   "--start", iso(start), "--end", iso(end), "--out", out, "--lang", "zh")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    html = out.with_suffix(".html").read_text(encoding="utf-8")
    text = pdf_text(out)
    assert "PII-TEST-1" in html and "PII-TEST-1" in text  # the case is listed as overdue ...
    for leaked in (FAKE_PHONE, FAKE_PHONE[:3] + "****" + FAKE_PHONE[-4:], FAKE_NAME, FAKE_NAME[0] + "**"):
        assert leaked not in text and leaked not in html  # ... without its reporter
    from datasources.store import Store

    store = Store(store_with_reporter / "citybrain.duckdb")
    try:
        snapshot = json.dumps(load_briefing(store, result["briefing_id"])["snapshot"], ensure_ascii=False)
    finally:
        store.close()
    assert "PII-TEST-1" in snapshot and FAKE_PHONE not in snapshot and FAKE_NAME not in snapshot


@pytest.mark.parametrize("scope", ["city", "district:110105"])
def test_comparison_spot_evaluation_and_dispatch_sections(rendered, beijing, scope):
    path, brief = rendered[("daily", scope, "zh")]
    text = pdf_text(path)
    for heading in ("同比", "去年同期", "热点", "盲点", "综合评价", "部门综合评价排名", "联合调度情况"):
        assert heading in text, heading
    s = brief.snapshot
    assert all({"last_year_text", "yoy_change"} <= k.keys() for k in s["kpis"])
    evaluation = s["evaluation"]
    assert "GB/T 30428" in evaluation["method"] and evaluation["departments"]["rows"]
    scores = [r["composite"] for r in evaluation["units"]["rows"] if r["composite"] is not None]
    assert scores == sorted(scores, reverse=True)
    assert s["dispatch"] is not None and {"launched", "closed", "late", "by_department"} <= s["dispatch"].keys()
    if scope != "city":  # the district's own grid cells only
        cells = beijing.level("grid").units
        own = set(cells[cells.parent_id == "110105"].unit_id)
        listed = ([r["unit_id"] for r in evaluation["units"]["rows"]]
                  + [x["unit_id"] for x in s["spots"]["hot"] + s["spots"]["blind"]])
        assert listed and set(listed) <= own


def test_english_brief_has_the_new_sections(rendered):
    text = pdf_text(rendered[("daily", "city", "en")][0])
    for heading in ("Hot spots", "Blind spots", "Composite evaluation", "Department composite ranking", "Joint dispatch"):
        assert heading in text, heading
