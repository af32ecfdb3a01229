"""Ids shared by the overview and unit pages (one map, one ranking per page)."""
from __future__ import annotations

from enum import StrEnum


class PageIds(StrEnum):
    CONTEXT = "page-context"
    RANKING = "ranking"
    RANKING_TITLE = "ranking-title"
    BREADCRUMBS = "breadcrumbs"
    UNIT_TITLE = "unit-title"
    SCORECARD = "scorecard"
    DRILL_CONTEXT = "drill-context"
    DRILL_CRUMBS = "drill-crumbs"
    DRILL_TITLE = "drill-title"
    DRILL_SUBTITLE = "drill-subtitle"
    DRILL_EXPORT = "drill-export"
    DRILL_GRID = "drill-grid"
    CASE_CONTEXT = "case-context"
    CASE_BODY = "case-body"
    BRIEF_CONTEXT = "brief-context"
    BRIEF_TITLE = "brief-title"
    BRIEF_TEMPLATE = "brief-template"
    BRIEF_SCOPE = "brief-scope"
    BRIEF_PERIOD = "brief-period"
    BRIEF_GENERATE = "brief-generate"
    BRIEF_RESULT = "brief-result"
    BRIEF_ARCHIVE_TITLE = "brief-archive-title"
    BRIEF_ARCHIVE = "brief-archive"
    FEEDS_TITLE = "feeds-title"
    FEEDS_TABLE = "feeds-table"
    FEEDS_UNPLACED = "feeds-unplaced"
    QUARANTINE_TITLE = "quarantine-title"
    QUARANTINE_TABLE = "quarantine-table"


def page_context(level_index: int, parent: str | None, unit: list | None, lang: str | None) -> dict:
    """What the page shows; callbacks read it (never trusted for access: scope is applied server-side)."""
    return {"level_index": level_index, "parent": parent, "unit": unit, "lang": lang}
