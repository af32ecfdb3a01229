"""Ids are data: every link the console builds encodes ids, and the pages decode them exactly once."""
from urllib.parse import parse_qs, urlsplit

import pytest
from dash._pages import _parse_path_variables  # the matcher of Dash's page router, as the pages see it

from views.links import (case_href, cases_href, page_href, parse_case_path, parse_unit_path, route_unit,
                         unit_href, unit_param)

HOSTILE = ["83 Queens", "a/b", "/lead", "trail/", "x/cases", "cases", "#1", "50%", "%2F", "%252F", "a%20b", "what?",
           "a&b=c", "c+d", "朝阳区/东 城", "...", "a//b", "'quote' (paren) *star* !bang ~tilde", "tab\there", "é:ü;@,$"]


@pytest.mark.parametrize("unit_id", HOSTILE)
def test_unit_links_round_trip_through_the_path(unit_id):
    href = unit_href("cd", unit_id, "zh", indicator="open_backlog")
    path, query = urlsplit(href).path, parse_qs(urlsplit(href).query)
    assert path.count("/") == 3 and path.isascii() and not set(path) & set(" #?&+\t")  # one segment, nothing raw
    assert parse_unit_path(path) == ("cd", unit_id, False)
    assert query == {"indicator": ["open_backlog"], "lang": ["zh"]}
    cases = urlsplit(cases_href("cd", unit_id, "en", start="2026-01-01T00:00:00Z")).path
    assert cases.count("/") == 4 and parse_unit_path(cases) == ("cd", unit_id, True)
    assert parse_case_path(urlsplit(case_href(unit_id, "en")).path) == unit_id


@pytest.mark.parametrize("unit_id", HOSTILE)
def test_pages_get_the_id_whatever_dash_router_matched(unit_id):
    """Dash's greedy match of /unit/<level>/<unit_id> splits a raw "/" into the level; the page still
    gets (level, id): from the encoded link, and from a path whose "/" a proxy already decoded."""
    paths = [urlsplit(unit_href("cd", unit_id)).path]
    if not unit_id.endswith("/") and unit_id != "x/cases":  # a raw trailing "/" or "/cases" cannot survive unencoded
        paths.append(f"/unit/cd/{unit_id.replace('%', '%25')}")
    for path in paths:
        found = _parse_path_variables(path.strip("/"), "unit/<level>/<unit_id>")
        assert route_unit(found["level"], found["unit_id"]) == ("cd", unit_id), path
    found = _parse_path_variables(urlsplit(cases_href("cd", unit_id)).path.strip("/"), "unit/<level>/<unit_id>/cases")
    assert route_unit(found["level"], found["unit_id"], cases=True) == ("cd", unit_id)


def test_query_values_are_encoded_and_paths_decoded_exactly_once():
    scope = unit_param("cd", "a&b=c#d+e f:g")
    href = page_href("/briefings", "en", scope=scope)
    assert "#" not in href and "+" not in href and " " not in href
    assert parse_qs(urlsplit(href).query) == {"scope": [scope], "lang": ["en"]}
    assert page_href("/", None) == "/" and page_href("/", "zh") == "/?lang=zh"
    assert page_href("/geo/cd.geojson", parent=None) == "/geo/cd.geojson"  # None values are left out
    # decoded once: a literal "%2F" in an id stays "%2F", it does not become "/"
    assert parse_unit_path("/unit/cd/%252F") == ("cd", "%2F", False)
    assert parse_case_path("/case/%2541") == "%41"
    # not a unit or case path
    for path in ("/", "/unit", "/unit/cd", "/unit/cd/", "/units/cd/x", None, "/feeds"):
        assert parse_unit_path(path) is None, path
    assert parse_case_path("/case/") is None and parse_case_path("/cases/x") is None
    assert route_unit(None, None) == (None, None)  # Dash's validation layout calls each page bare


def test_token_scopes_take_ids_with_spaces_but_not_line_breaks():
    from security.tokens import _SCOPE

    for good in ("cd:83 Queens", "grid:a/b #1", "district:朝阳区 东", "department:works / roads", "cd:a:b"):
        assert _SCOPE.fullmatch(good), good
    for bad in ("cd:", "cd: x", "cd:x ", "cd:a\nb", "cd::x", "c d:x", ":x"):
        assert not _SCOPE.fullmatch(bad), bad
