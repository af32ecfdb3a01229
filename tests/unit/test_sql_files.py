"""Every SQL file reads feed tables only through the scoped macros, and runs on a small fixture."""
import re

import pytest

from datasources import gateway
from datasources.gateway import SQL_DIR, load_sql
from security.scope import Scope

FEED_TABLES = ("cases", "case_keys", "case_facts_open", "case_facts_closed", "case_events", "readings", "devices", "halls", "service_transactions", "hall_snapshots", "quarantine")
SQL_FILES = sorted(p.stem for p in SQL_DIR.glob("*.sql"))
PARAMS = {"level_index": 1, "parent": "", "as_of": __import__("datetime").datetime(2030, 1, 1), "ids": ["x"],
          "token_hash": "x", "holder": "x", "codes": [], "start": None, "end": None, "closed": None, "limit": 10,
          "feed": "cases", "reason_like": "",
          "city_id": "beijing", "by_department": False, "unit_id": "x", "user_name": "x",
          "bucket_s": 3600, "briefing_id": 1,  # briefings
          "unit_level": 0, "status": "", "after_reported": None, "after_id": "",
          "silent_minutes": 15, "case_id": "x",
          "order_id": "x", "command_id": "x", "since": __import__("datetime").datetime(2020, 1, 1),
          "after_audit_id": 0,  # dispatch
          "departments": ["chengguan"], "state": "", "department": "", "after_delivery_id": 0, "delivery_ids": [1],
          "after_created": None, "after_order_id": "", "until": __import__("datetime").datetime(2030, 1, 1),  # dispatch events
          "alert_id": 1, "overdue_only": True, "boxed": True, "only_ids": False, "min_lon": 116.0, "max_lon": 117.0,
          "min_lat": 39.5, "max_lat": 40.5,  # dispatch origins (alert, map area)
          "horizon": __import__("datetime").datetime(2020, 1, 1), "after": -1,  # case index
          "sources": ["open311"], "hidden_sources": [], "categories": None, "hidden_categories": ["noise"],
          "public_text": False, "decimals": 3}  # Open311 publication


@pytest.mark.parametrize("name", SQL_FILES)
def test_sql_reads_feed_tables_only_through_scoped_macros(name):
    sql, _ = load_sql(name)
    code = re.sub(r"--[^\n]*", "", sql).lower()
    for table in FEED_TABLES:
        direct = re.search(rf"\b(from|join)\s+{table}\b(?!\s*\()", code)
        assert direct is None, f"{name}.sql reads {table} directly; use the scoped_* macros"


@pytest.mark.parametrize("name", SQL_FILES)
def test_sql_runs_on_the_demo_city(name, console_runtime):
    sql, wanted = load_sql(name)
    missing = wanted - set(PARAMS) - set(Scope.city().params())
    assert not missing, f"add example values for {sorted(missing)} to PARAMS in this test"
    params = {k: v for k, v in PARAMS.items() if k in wanted}
    table = gateway.query(console_runtime.store, name, Scope.city(), **params)
    assert table.num_columns > 0


def test_scope_filters_units_and_masks_personal_data(console_runtime):
    store = console_runtime.store
    city = gateway.query_rows(store, "open_cases_by_unit", Scope.city(), level_index=1, parent="", as_of=PARAMS["as_of"])
    chaoyang = Scope(level_index=1, unit_ids=("110105",))
    scoped = gateway.query_rows(store, "open_cases_by_unit", chaoyang, level_index=1, parent="", as_of=PARAMS["as_of"])
    assert [r["unit_id"] for r in scoped] == ["110105"]
    assert scoped[0]["open_cases"] == next(r for r in city if r["unit_id"] == "110105")["open_cases"]
    # grid cells visible to a district scope are its own
    cells = gateway.query_rows(store, "open_cases_by_unit", chaoyang, level_index=2, parent="", as_of=PARAMS["as_of"])
    assert cells and all(r["parent_id"] == "110105" for r in cells)
    masked = store.cursor().execute(
        "select reporter_name, reporter_phone from scoped_cases(0, []::varchar[], '', false) where reporter_phone is not null limit 5").fetchall()
    clear = store.cursor().execute(
        "select reporter_name, reporter_phone from scoped_cases(0, []::varchar[], '', true) where reporter_phone is not null limit 5").fetchall()
    assert all(n.endswith("**") and re.fullmatch(r"\d{3}\*{4}\d{4}", p) for n, p in masked)
    assert all(re.fullmatch(r"1\d{10}", p) for _, p in clear)


def test_gateway_refuses_reads_without_a_scope(console_runtime):
    with pytest.raises(TypeError):
        gateway.query(console_runtime.store, "feed_health", None)
    with pytest.raises(ValueError):
        gateway.query(console_runtime.store, "../etc/passwd", Scope.city())
