"""The console's URLs: ids are data, so every id is percent-encoded on the way out and decoded once
on the way in. Unit, case, department and category ids may hold spaces, "/", "#", "%", "?", "&",
"+" or Chinese ("83 Queens", "a/b"): a link built with an f-string breaks on them, so every link
the console builds goes through here (assets/deckmap.js navigateToUnit does the same in the browser
with encodeURIComponent). Dash-free.

A path segment is encoded with nothing left safe, "/" included (%2F): browsers keep %2F in
location.pathname, which is what Dash's page router matches, so `parse_unit_path` splits the path
on its raw slashes and decodes each part exactly once. Should a proxy or a redirect have decoded
%2F on the way, the level is still the first segment and the rest is the unit's id."""
from __future__ import annotations

from urllib.parse import quote, unquote, urlencode

CASES_SUFFIX = "cases"  # /unit/<level>/<id>/cases: the records behind a unit's number


def segment(value) -> str:
    """One path segment: every reserved character encoded, "/" too."""
    return quote(str(value), safe="")


def query_string(lang: str | None = None, **query) -> str:
    """"?a=1&lang=zh" (values encoded, None left out, lang last), or "" when there is nothing."""
    params = {k: v for k, v in {**query, "lang": lang}.items() if v is not None}
    return "?" + urlencode(params, quote_via=quote) if params else ""


def page_href(path: str, lang: str | None = None, **query) -> str:
    """A fixed page (path written by the console, e.g. "/briefings") with encoded query values."""
    return path + query_string(lang, **query)


def unit_param(level_id: str, unit_id: str) -> str:
    """The `LEVEL:ID` form of a unit in query parameters (`unit=`, `scope=`); the level has no ":",
    the id may. Encode it as a query value (page_href, query_string) like any other."""
    return f"{level_id}:{unit_id}"


def unit_href(level_id: str, unit_id: str, lang: str | None = None, **query) -> str:
    """/unit/<level>/<id>: a unit's page."""
    return f"/unit/{segment(level_id)}/{segment(unit_id)}" + query_string(lang, **query)


def cases_href(level_id: str, unit_id: str, lang: str | None = None, **query) -> str:
    """/unit/<level>/<id>/cases: the cases behind one of a unit's numbers."""
    return f"/unit/{segment(level_id)}/{segment(unit_id)}/{CASES_SUFFIX}" + query_string(lang, **query)


def case_href(case_id: str, lang: str | None = None, **query) -> str:
    """/case/<id>: one case."""
    return f"/case/{segment(case_id)}" + query_string(lang, **query)


def parse_unit_path(pathname: str | None) -> tuple[str, str, bool] | None:
    """(level, unit id, is the cases page) of /unit/<level>/<id>[/cases], decoded once; None for
    another path. The id is everything between the level and an optional trailing /cases, so an id
    whose "/" arrived unencoded still comes back whole."""
    parts = (pathname or "").strip("/").split("/")
    if len(parts) < 3 or parts[0] != "unit":
        return None
    rest = parts[2:]
    cases = len(rest) > 1 and rest[-1] == CASES_SUFFIX
    if cases:
        rest = rest[:-1]
    level_id, unit_id = unquote(parts[1]), unquote("/".join(rest))
    return (level_id, unit_id, cases) if level_id and unit_id else None


def parse_case_path(pathname: str | None) -> str | None:
    """The case id of /case/<id>, decoded once; None for another path."""
    head, _, rest = (pathname or "").strip("/").partition("/")
    return unquote(rest) if head == "case" and rest else None


def route_unit(level_var: str | None, unit_var: str | None, cases: bool = False) -> tuple[str | None, str | None]:
    """(level, unit id) from the variables Dash's page router matched for /unit/<level>/<unit_id>
    [/cases]. Its greedy match splits an id's unencoded "/" into the level; the path is rebuilt and
    parsed again, which also decodes it once. (None, None) when there is no unit in it."""
    if not level_var or not unit_var:
        return None, None
    parsed = parse_unit_path(f"/unit/{level_var}/{unit_var}" + (f"/{CASES_SUFFIX}" if cases else ""))
    return parsed[:2] if parsed else (None, None)
