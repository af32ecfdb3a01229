"""The brief's composite evaluation (briefings/evaluation.py): threshold scoring, weights, grades, ranks."""
import pytest

from briefings.evaluation import WEIGHTS, evaluate, grade, score


def test_threshold_scoring_both_directions():
    # closure_rate-like: better up, green 0.95, red 0.85 -> zero at 0.70
    assert [score(v, "up", 0.95, 0.85) for v in (1.0, 0.95, 0.90, 0.85, 0.775, 0.70, 0.1, None)] == \
        [100, 100, pytest.approx(80), pytest.approx(60), pytest.approx(30), pytest.approx(0), 0, None]
    # median hours: better down, green 24, red 72 -> zero at 144
    assert [score(v, "down", 24, 72) for v in (0, 24, 48, 72, 108, 144, 500)] == \
        [100, 100, pytest.approx(80), pytest.approx(60), pytest.approx(30), pytest.approx(0), 0]
    assert score(0, "down", 0, 0) == 100 and score(1, "down", 0, 0) == 0


def test_grades_and_weights():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert [grade(v) for v in (100, 90, 89.99, 75, 60, 59.9, None)] == ["A", "A", "B", "B", "C", "D", None]


def test_evaluate_composite_ranks_ties_and_missing_values():
    perfect = {"on_time_closure_rate": 0.95, "closure_rate": 0.99, "overdue_open": 0, "open_backlog": 10,
               "median_close_hours": 10}
    rows = evaluate({
        "b": perfect, "a": dict(perfect),
        # on-time 0.75 -> 60, closure 0.85 -> 60, overdue 2/10 = 0.2 -> 60, hours 72 -> 60
        "c": {"on_time_closure_rate": 0.75, "closure_rate": 0.85, "overdue_open": 2, "open_backlog": 10,
              "median_close_hours": 72},
        # only the overdue share (weight 0.25 < 0.5): no composite
        "d": {"on_time_closure_rate": None, "closure_rate": None, "overdue_open": 0, "open_backlog": 3,
              "median_close_hours": None},
        # no backlog: overdue share empty, the other three reweighted: (0.35*100 + 0.25*60 + 0.15*100) / 0.75
        "e": {"on_time_closure_rate": 0.9, "closure_rate": 0.85, "overdue_open": 0, "open_backlog": 0,
              "median_close_hours": 24},
    })
    by = {r["unit_id"]: r for r in rows}
    assert [r["unit_id"] for r in rows] == ["a", "b", "e", "c", "d"]
    assert by["a"]["composite"] == by["b"]["composite"] == 100 and by["a"]["rank"] == by["b"]["rank"] == 1
    assert by["c"]["composite"] == pytest.approx(60) and by["c"]["grade"] == "C" and by["c"]["rank"] == 4
    assert by["e"]["composite"] == pytest.approx((35 + 15 + 15) / 0.75) and by["e"]["rank"] == 3
    assert by["d"]["composite"] is None and by["d"]["rank"] is None and by["d"]["grade"] is None
