"""brief_dispatch_summary.sql: joint dispatch orders launched in a window, closed and late as of its
end, in all and by department, within the brief's scope."""
import datetime as dt

from datasources import gateway
from security.scope import Scope

T0 = dt.datetime(2024, 3, 1)
END = T0 + dt.timedelta(days=1)


def order(store, oid, created_h, due_h, *, closed_h=None, cancelled_h=None, unit="110105", tasks=()):
    at = lambda h: None if h is None else T0 + dt.timedelta(hours=h)  # noqa: E731
    cur = store.cursor()
    cur.execute("insert into dispatch_orders (order_id, version, state, title, priority, lead_department, created_by, "
                "created_role, created_at, updated_at, due_at, closed_at, cancelled_at) "
                "values (?, 1, 'issued', 't', 2, 'a', 'u', 'commander', ?, ?, ?, ?, ?)",
                [oid, at(created_h), at(created_h), at(due_h), at(closed_h), at(cancelled_h)])
    cur.execute("insert into dispatch_order_cases values (?, ?, ?)", [oid, f"c-{oid}", [unit, f"{unit}-g"]])
    for n, (dept, state, due_h_task, resolved_h) in enumerate(tasks, start=1):
        cur.execute("insert into dispatch_tasks (order_id, task_no, department, task_role, state, due_at, ack_due_at, "
                    "resolved_at) values (?, ?, ?, 'lead', ?, ?, ?, ?)",
                    [oid, n, dept, state, at(due_h_task), at(due_h_task), at(resolved_h)])


def test_launched_closed_late_by_department_and_scope(store):
    # closed on time; closed late; open and past due at END; open not yet due; launched before W; cancelled
    order(store, "o1", 1, 10, closed_h=5, tasks=[("a", "resolved", 10, 4)])
    order(store, "o2", 2, 6, closed_h=8, tasks=[("a", "resolved", 6, 7), ("b", "resolved", 6, 5)])
    order(store, "o3", 3, 12, tasks=[("b", "in_progress", 12, None), ("c", "reassigned", 12, None)])
    order(store, "o4", 4, 40, unit="110108", tasks=[("c", "issued", 40, None)])
    order(store, "o5", -5, 2, tasks=[("a", "issued", 2, None)])
    order(store, "o6", 5, 6, cancelled_h=5.5, tasks=[("b", "cancelled", 6, None)])
    rows = {r["department"]: r for r in gateway.query_rows(store, "brief_dispatch_summary", Scope.city(),
                                                            start=T0, end=END)}
    assert {k: (v["launched"], v["closed"], v["late"]) for k, v in rows.items()} == {
        "": (5, 2, 2),          # o1..o4, o6; closed o1, o2; late o2 (after due), o3 (open past due)
        "a": (2, 2, 1),         # o1 on time, o2 resolved after due
        "b": (3, 1, 1),         # o2 resolved, o3 open past due, o6 cancelled (not late)
        "c": (1, 0, 0),         # o4 open not due (o3's reassigned-away task left out)
    }
    chaoyang = gateway.query_rows(store, "brief_dispatch_summary", Scope(level_index=1, unit_ids=("110105",)),
                                  start=T0, end=END)
    total = next(r for r in chaoyang if r["department"] == "")
    assert total["launched"] == 4 and "c" not in {r["department"] for r in chaoyang}
