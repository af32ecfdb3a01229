"""The brief's comparison-based sections: hot and blind spots, the composite evaluation of units
and departments, the joint dispatch summary, and their narrative sentences.

Each `*_section` reads through the SQL gateway / indicator layer with the brief's Scope and returns
plain JSON-serialisable dicts for the snapshot (texts already formatted in the brief's language),
so a frozen brief renders the same forever. Sentences come from fixed templates (the i18n catalog, brief.*)
filled with numbers taken from these dicts.
"""
from __future__ import annotations

import datetime as dt

from briefings.evaluation import WEIGHTS, evaluate
from datasources import gateway
from i18n import number, t
from indicators.catalog import get
from indicators.spots import per_department, spots

HOT_ROWS = 10
PER_DEPARTMENT = 3
EVAL_ROWS = 15


def department_name(pack, department_id: str, lang: str) -> str:
    if not department_id:
        return "–"
    table = pack.departments
    match = table[table.department_id == department_id]
    if match.empty:
        return department_id
    name = match.iloc[0]["name_zh" if lang == "zh" else "name_en"]
    return name if isinstance(name, str) and name else department_id


def _pct(value, lang: str) -> str:
    return "–" if value is None else number(value * 100, lang, 1) + "%"


def _capped(spots_list: list[dict], limit: int) -> list[dict]:
    """At most PER_DEPARTMENT spots per department, at most `limit` in all, global order kept."""
    kept = {id(s) for group in per_department(spots_list, PER_DEPARTMENT).values() for s in group}
    return [s for s in spots_list if id(s) in kept][:limit]


# ---------------------------------------------------------------------------- spots


def spots_section(store, pack, scope, level, start: dt.datetime, end: dt.datetime, lang: str, unit_name) -> dict:
    """Hot and blind spots at `level` (a pack Level) with their evidence, formatted."""
    found = spots(store, pack, scope, start, end, level=level.id)
    opts = found["options"]
    level_name = level.name_zh if lang == "zh" else level.name_en

    def where(s):
        return {"department": department_name(pack, s["department"], lang), "department_id": s["department"],
                "unit": unit_name(level, s["unit_id"]), "unit_id": s["unit_id"]}

    hot = [{**where(s), "now": s["reported_now"], "base": number(s["baseline_mean"], lang, 1),
            "rise": number(s["rise"], lang, 1), "ratio": "–" if s["ratio"] is None else number(s["ratio"], lang, 1) + "×"}
           for s in _capped(found["hot"], HOT_ROWS)]
    blind = [{**where(s), "reasons": [t(f"brief.reason.{r}", lang) for r in s["reasons"]], "now": s["reported_now"],
              "open": s["open_now"], "overdue": s["overdue_now"], "closures": s["closures_in_window"],
              "share": _pct(s["closure_share"], lang)}
             for s in _capped(found["blind"], HOT_ROWS)]
    return {
        "level": level_name, "periods": found["periods"], "hot": hot, "blind": blind,
        "hot_total": len(found["hot"]), "blind_total": len(found["blind"]),
        "rule_hot": t("brief.spots.rule_hot", lang, min_count=opts["min_count"], periods=found["periods"],
                      min_rise=opts["min_rise"], min_ratio=opts["min_ratio"], per=PER_DEPARTMENT),
        "rule_blind": t("brief.spots.rule_blind", lang, min_overdue=opts["min_overdue"], min_count=opts["min_count"],
                        low=_pct(opts["low_closure"], lang), share=_pct(opts["min_overdue_share"], lang)),
    }


# ---------------------------------------------------------------------------- evaluation


def _evaluation_table(values_by_unit: dict[str, dict], name_of, lang: str) -> dict:
    rows = evaluate(values_by_unit)
    shown = rows[:EVAL_ROWS]
    ranked = [r for r in rows if r["rank"] is not None]

    def summary(r):
        return {"name": name_of(r["unit_id"]), "score": number(r["composite"], lang, 1), "grade": r["grade"]}

    return {
        "rows": [{"rank": r["rank"], "unit_id": r["unit_id"], "name": name_of(r["unit_id"]),
                  "score": "–" if r["composite"] is None else number(r["composite"], lang, 1),
                  "composite": r["composite"],
                  "grade": t(f"brief.grade.{r['grade']}", lang) if r["grade"] else "–", "grade_letter": r["grade"],
                  "cells": [_pct(r["values"]["on_time_closure_rate"], lang), _pct(r["values"]["closure_rate"], lang),
                            _pct(r["values"]["overdue_share"], lang),
                            "–" if r["values"]["median_close_hours"] is None
                            else number(r["values"]["median_close_hours"], lang, 1)]}
                 for r in shown],
        "more": max(0, len(rows) - len(shown)),
        "ranked": len(ranked),
        "best": summary(ranked[0]) if ranked else None,
        "worst": summary(ranked[-1]) if ranked else None,
    }


def evaluation_section(pack, level, unit_values: dict[str, dict], department_values: dict[str, dict], lang: str,
                       unit_name) -> dict:
    """Composite evaluation (briefings.evaluation) of the scope's child units and of departments."""
    columns = [get("on_time_closure_rate").name(lang), get("closure_rate").name(lang),
               t("brief.col.overdue_share", lang), get("median_close_hours").name(lang) + (
                   "（小时）" if lang == "zh" else " (h)")]
    units = _evaluation_table(unit_values, lambda uid: unit_name(level, uid), lang) if level is not None else None
    departments = _evaluation_table(department_values, lambda d: department_name(pack, d, lang), lang)
    level_name = (level.name_zh if lang == "zh" else level.name_en) if level is not None else ""
    tables = ([{"title": t("brief.sec.eval_units", lang, level=level_name), "label": level_name, **units}]
              if units else [])
    tables.append({"title": t("brief.sec.eval_departments", lang), "label": t("brief.col.department", lang),
                   **departments})
    return {"method": t("brief.eval.method", lang), "weights": WEIGHTS, "columns": columns, "level": level_name,
            "units": units, "departments": departments, "tables": tables}


# ---------------------------------------------------------------------------- joint dispatch


def dispatch_section(store, pack, scope, start: dt.datetime, end: dt.datetime, lang: str) -> dict:
    rows = gateway.query_rows(store, "brief_dispatch_summary", scope, start=start, end=end)
    total = next((r for r in rows if r["department"] == ""), {"launched": 0, "closed": 0, "late": 0})
    by_department = [{"department": department_name(pack, r["department"], lang), "department_id": r["department"],
                      "launched": r["launched"], "closed": r["closed"], "late": r["late"]}
                     for r in rows if r["department"] != ""]
    by_department.sort(key=lambda r: (-r["launched"], r["department_id"]))
    return {"launched": total["launched"], "closed": total["closed"], "late": total["late"],
            "by_department": by_department}


# ---------------------------------------------------------------------------- narrative


def narrative(spot: dict | None, evaluation: dict | None, dispatch: dict | None, lang: str) -> list[str]:
    """Sentences for the spots, the evaluation and the dispatch summary, from their numbers only."""
    out = []
    if spot is not None:
        if spot["hot"]:
            h = spot["hot"][0]
            out.append(t("brief.n.hot", lang, unit=h["unit"], dept=h["department"], now=number(h["now"], lang),
                         periods=spot["periods"], base=h["base"]))
        else:
            out.append(t("brief.n.no_hot", lang))
        if spot["blind"]:
            b = spot["blind"][0]
            out.append(t("brief.n.blind", lang, unit=b["unit"], dept=b["department"], open=number(b["open"], lang),
                         overdue=number(b["overdue"], lang), closures=number(b["closures"], lang)))
        else:
            out.append(t("brief.n.no_blind", lang))
    if evaluation is not None:
        level = evaluation["level"] if lang == "zh" else evaluation["level"].lower()
        tables = ((evaluation["units"], t("brief.eval.what.units", lang, level=level)),
                  (evaluation["departments"], t("brief.eval.what.departments", lang)))
        for table, what in tables:
            if table and table["ranked"] >= 2:
                best, worst = table["best"], table["worst"]
                out.append(t("brief.n.eval", lang, what=what, best=best["name"], best_score=best["score"],
                             best_grade=best["grade"], worst=worst["name"], worst_score=worst["score"],
                             worst_grade=worst["grade"]))
    if dispatch is not None:
        if dispatch["launched"]:
            out.append(t("brief.n.dispatch", lang, launched=number(dispatch["launched"], lang),
                         closed=number(dispatch["closed"], lang), late=number(dispatch["late"], lang)))
        else:
            out.append(t("brief.n.no_dispatch", lang))
    return out
