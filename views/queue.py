"""A department's (or the command's) dispatch work list (/queue): refreshed on change."""
from __future__ import annotations

from dispatch import queue
from views.cache import view


@view("queue.work_list")
def work_list(store, actor, view: str, priority: int | None) -> list[dict]:
    return queue.work_list(store, actor, view=view, priority=priority)
