"""What a callback needs from the request: the runtime, the caller's scope, the language."""
from __future__ import annotations

from urllib.parse import parse_qs

from flask import current_app

from i18n import LANG_COOKIE, LANGS, request_lang
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


def signed_in_as(roles) -> bool:
    """Whether the caller is signed in (not a guest) with one of `roles`: what a page may offer to do
    (the domain checks the role and scope again when the action arrives)."""
    from api.auth import principal

    who = principal()
    return who is not None and not who.guest and who.role in roles


def lang_from(search: str | None, fallback: str | None = None) -> str:
    """?lang= of the page, else the page's own, else the remembered choice, the browser's, the city's."""
    requested = parse_qs((search or "").lstrip("?")).get("lang", [fallback])[0]
    return request_lang(requested, runtime().pack.default_lang)


def remember_lang(server) -> None:
    """A page opened with ?lang=zh|en remembers the choice in a cookie (a year) for later visits without one."""
    from flask import request

    @server.after_request
    def _remember_lang(response):
        chosen = request.args.get("lang")
        if chosen in LANGS and request.cookies.get(LANG_COOKIE) != chosen and request.method == "GET":
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=False)
        return response
