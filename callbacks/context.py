"""What a callback needs from the request: the runtime, the caller's scope, the language."""
from __future__ import annotations

from urllib.parse import parse_qs

from flask import current_app

from i18n import pick_lang
from security.scope import Scope


def runtime():
    return current_app.extensions["citybrain"]


def current_scope() -> Scope:
    """The caller's scope. Until login lands (issue 7) every console user reads the whole city."""
    return Scope.city()


def lang_from(search: str | None, fallback: str | None = None) -> str:
    requested = parse_qs((search or "").lstrip("?")).get("lang", [fallback])[0]
    return pick_lang(requested, runtime().pack.default_lang)
