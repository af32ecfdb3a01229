"""What a callback needs from the request: the runtime, the caller's scope, the language."""
from __future__ import annotations

from urllib.parse import parse_qs

from flask import current_app

from i18n import pick_lang
from security.scope import Scope


def runtime():
    return current_app.extensions["citybrain"]


def current_scope() -> Scope:
    """The caller's scope, from the signed-in user's role and scopes (the gate set the principal)."""
    from api.auth import principal
    from security.users import scope_for

    who = principal()
    if who is None:  # the gate lets nobody through without one; never default to the city
        raise PermissionError("no principal for this request")
    return scope_for(runtime().pack, who.role, who.scopes)


def lang_from(search: str | None, fallback: str | None = None) -> str:
    requested = parse_qs((search or "").lstrip("?")).get("lang", [fallback])[0]
    return pick_lang(requested, runtime().pack.default_lang)
