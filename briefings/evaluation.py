"""Composite evaluation of units and departments for briefs, in the manner of GB/T 30428
(digital city management: assessment of areas and departments by handling indicators).

Method (fixed, so two briefs on the same data rank the same way):

1. Indicators and weights (sum 1.0), all about how cases are handled, none about how many arrive
   (a busy district is not a worse district):
       on_time_closure_rate  0.35   按期结案率
       closure_rate          0.25   结案率
       overdue_share         0.25   超期率 = overdue_open / open_backlog (empty when no backlog)
       median_close_hours    0.15   结案时长中位数
2. Normalisation: threshold-based scoring 0–100 along the indicator's `better` direction, with
   the catalog's green / red thresholds (overdue_share: green 5 %, red 20 %, better down):
       at or beyond green           -> 100
       between green and red        -> 100 .. 60, linear
       beyond red                   -> 60 .. 0, linear, 0 at red + 1.5 × (red − green) past red
   (closure_rate: 95 % -> 100, 85 % -> 60, 70 % -> 0). Absolute thresholds, not min-max, so a
   score means the same whatever the other units did, and a single unit can be scored.
3. Composite = Σ wᵢ·sᵢ / Σ wᵢ over the indicators that have a value (a unit without due cases has
   no closure rate); no composite when the indicators present weigh less than MIN_WEIGHT.
4. Grade: A 优秀 >= 90, B 良好 >= 75, C 合格 >= 60, D 不合格 < 60.
5. Rank by composite, highest first; equal composites share a rank; no composite, no rank.
"""
from __future__ import annotations

from indicators.catalog import get
from indicators.compare import rank_values

WEIGHTS = {"on_time_closure_rate": 0.35, "closure_rate": 0.25, "overdue_share": 0.25, "median_close_hours": 0.15}
DERIVED = {"overdue_share": {"better": "down", "green": 0.05, "red": 0.20}}
SOURCE_INDICATORS = ("on_time_closure_rate", "closure_rate", "overdue_open", "open_backlog", "median_close_hours")
MIN_WEIGHT = 0.5
GRADES = (("A", 90.0), ("B", 75.0), ("C", 60.0), ("D", float("-inf")))
ZERO_SPAN = 1.5


def rule(indicator: str) -> tuple[str, float, float]:
    """(better, green, red) used to score `indicator`."""
    if indicator in DERIVED:
        d = DERIVED[indicator]
        return d["better"], d["green"], d["red"]
    ind = get(indicator)
    return ind.better, ind.thresholds["green"], ind.thresholds["red"]


def score(value, better: str, green: float, red: float) -> float | None:
    """0–100 by the thresholds (module doc, step 2); None for an empty value."""
    if value is None:
        return None
    # distance past green in the bad direction, in units of the green-to-red span
    sign = 1 if better == "down" else -1
    span = (red - green) * sign
    if span <= 0:  # degenerate thresholds: all or nothing
        return 100.0 if (value - green) * sign <= 0 else 0.0
    past = (value - green) * sign / span
    if past <= 0:
        return 100.0
    if past <= 1:
        return 100.0 - 40.0 * past
    return max(0.0, 60.0 - 60.0 * (past - 1) / ZERO_SPAN)


def grade(composite: float | None) -> str | None:
    if composite is None:
        return None
    return next(letter for letter, floor in GRADES if composite >= floor)


def evaluate(values_by_unit: dict[str, dict]) -> list[dict]:
    """Scores, composite, grade and rank per unit from its SOURCE_INDICATORS values.

    Returns rows {unit_id, values, scores, composite, grade, rank} ordered by rank (unranked last),
    then unit id.
    """
    rows = []
    for unit_id, given in values_by_unit.items():
        # plain floats whatever numeric type the indicator layer returns (e.g. DECIMAL medians)
        raw = {k: (None if v is None else float(v)) for k, v in given.items() if k in SOURCE_INDICATORS}
        backlog = raw.get("open_backlog")
        values = {
            "on_time_closure_rate": raw.get("on_time_closure_rate"),
            "closure_rate": raw.get("closure_rate"),
            "overdue_share": (raw.get("overdue_open") or 0) / backlog if backlog else None,
            "median_close_hours": raw.get("median_close_hours"),
        }
        scores = {k: score(values[k], *rule(k)) for k in WEIGHTS}
        present = {k: w for k, w in WEIGHTS.items() if scores[k] is not None}
        weight = sum(present.values())
        composite = (round(sum(w * scores[k] for k, w in present.items()) / weight, 6)
                     if weight >= MIN_WEIGHT - 1e-12 else None)
        rows.append({"unit_id": unit_id, "values": values, "scores": scores, "composite": composite,
                     "grade": grade(composite)})
    ranks = rank_values({r["unit_id"]: r["composite"] for r in rows}, "up")
    for r in rows:
        r["rank"] = ranks[r["unit_id"]]
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["unit_id"]))
    return rows
