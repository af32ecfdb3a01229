"""Login, sessions, CSRF and the access gate in front of every console path.

- Console pages and Dash endpoints need a logged-in user (Flask session, signed, HttpOnly,
  SameSite=Lax, expiring, carrying the user's session epoch: logout, a password change and
  `users revoke NAME` move the epoch in the writer and every older session is refused in every
  process at its next request); a wall screen can log in with a kiosk token (`/wall?kiosk=TOKEN`, an
  API token of role `wall`). In demo mode a visitor who has not logged in reads as the `wall`
  role: city-wide, read-only, no personal data.
- State-changing requests carry a CSRF token: the login and password forms a hidden field, Dash's
  callback POSTs the `X-CSRFToken` header the renderer copies from the `_csrf_token` cookie.
- Logins are limited per address, per account name and per process (security/ratelimit.py); one
  message answers a wrong name, a wrong password and a locked account; every attempt is audited.
- `/api/*` authenticates by bearer token, `/open311/*` is public, `/healthz` is public.
Scope is not decided here: `principal()` gives the role and scopes, and `security.users.scope_for`
turns them into the Scope the gateway applies on every read.
"""
from __future__ import annotations

import datetime as dt
import hmac
import html
import logging
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlparse

from flask import Flask, g, jsonify, redirect, request, session

import i18n
from security import users
from security.principals import cache_for
from security.ratelimit import LoginLimits
from security.tokens import hash_token

PUBLIC_PREFIXES = ("/login", "/logout", "/healthz", "/api/", "/open311/", "/_dash-component-suites/", "/assets/",
                   "/vendor/", "/_favicon.ico", "/favicon.ico")
CSRF_COOKIE = "_csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_KIOSK_IN_URL = re.compile(r"(kiosk=)[^&\s\"]+")


def _redact_kiosk(record: logging.LogRecord) -> bool:
    """Request logs (the development server's) never carry a wall's kiosk token."""
    message = record.getMessage()
    if "kiosk=" in message:
        record.msg, record.args = _KIOSK_IN_URL.sub(r"\1***", message), ()
    return True


logging.getLogger("werkzeug").addFilter(_redact_kiosk)

@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    scopes: tuple[str, ...]
    guest: bool = False


def _secret_key(data_dir: Path) -> bytes:
    """A random key kept in the data folder (0600), so sessions survive a restart."""
    path = Path(data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def _raw_path() -> str:
    """The request's path as the client sent it, percent-encoding intact: the WSGI server decodes
    %2F and %23 in request.path, and a redirect back to it would cut an id there (ids are data)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    return (urlparse(raw).path if raw.startswith("/") else "") or quote(request.path)


def principal() -> Principal | None:
    """Who is asking (set by the gate for this request)."""
    return g.get("citybrain_principal")


def install(server: Flask, runtime) -> None:
    settings = runtime.settings
    server.secret_key = _secret_key(settings.data_dir)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_NAME="citybrain_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
    )
    limits = LoginLimits(settings.login_attempts_per_min, settings.login_attempts_per_account_per_min,
                         settings.login_attempts_overall_per_min)
    known = cache_for(runtime)  # users and tokens without a query per request (security/principals.py)

    def load_principal() -> Principal | None:
        if settings.trusted_user_header:
            # SSO: the authenticating proxy in front of us names the user; roles still come from our table
            forwarded = request.headers.get(settings.trusted_user_header, "").strip()
            if forwarded:
                row = known.user(forwarded)
                if row is None or row["disabled"]:
                    session.clear()  # the proxy names someone we do not know: nobody's old session applies
                    return None
                if session.get("user") != row["name"]:
                    _start_session(row["name"], epoch=row["session_epoch"])
                return Principal(row["name"], row["role"], tuple(row["scopes"] or ()))
        name = session.get("user")
        if name:
            started = session.get("login_at", 0)
            row = known.user(name) if name != "kiosk" else None
            if time.time() - started <= settings.session_hours * 3600:
                if row is not None and not row["disabled"] and session.get("epoch") == row["session_epoch"]:
                    return Principal(row["name"], row["role"], tuple(row["scopes"] or ()))
                if name == "kiosk" and session.get("kiosk"):  # the token's hash: a cookie is readable
                    info = known.token_hash(session["kiosk"])
                    if info is not None and info.role == "wall":
                        return Principal(info.name, "wall", info.scopes)
            session.clear()
        kiosk = request.args.get("kiosk")
        if kiosk:
            info = known.token(kiosk)
            if info is not None and info.role == "wall":
                _start_session("kiosk", kiosk=hash_token(kiosk))
                return Principal(info.name, "wall", info.scopes)
        if settings.demo:
            return Principal("guest", "wall", (), guest=True)
        return None

    @server.before_request
    def gate():
        path = request.path
        if path.startswith(PUBLIC_PREFIXES):
            return None
        who = load_principal()
        if who is None:
            if path.startswith("/_dash-") or path.startswith("/geo/"):
                return jsonify({"error": "login required"}), 401
            query = request.query_string.decode("latin-1")
            return redirect(f"/login?next={quote(_raw_path() + ('?' + query if query else ''))}")
        g.citybrain_principal = who
        if request.method == "GET" and "kiosk" in request.args and not path.startswith(("/_dash-", "/geo/")):
            # signed in: the token leaves the address bar (and the screen's history) at once
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "kiosk"]
            return redirect(_raw_path() + ("?" + urlencode(rest) if rest else ""))
        if request.method == "POST" and not who.guest:
            sent = request.headers.get("X-CSRFToken", "")
            if not sent and request.mimetype in FORM_TYPES:  # a plain HTML form (the password page)
                sent = request.form.get("csrf", "")
            if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                return jsonify({"error": "missing or wrong CSRF token"}), 403
        return None

    @server.after_request
    def csrf_cookie(response):
        token = session.get("csrf")
        if token and request.cookies.get(CSRF_COOKIE) != token:
            # readable by the page's script (Dash copies it into X-CSRFToken); useless to another site
            response.set_cookie(CSRF_COOKIE, token, samesite="Lax", secure=settings.cookie_secure, httponly=False)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    def _start_session(name: str, **extra) -> None:
        session.clear()
        session.permanent = True
        session.update(user=name, login_at=time.time(), csrf=secrets.token_urlsafe(24), **extra)

    @server.route("/login", methods=["GET", "POST"])
    def login():
        lang = request.values.get("lang") or runtime.pack.default_lang
        next_url = request.values.get("next") or "/"
        if urlparse(next_url).netloc or not next_url.startswith("/"):
            next_url = "/"  # never redirect off-site
        if request.method == "GET":
            session.setdefault("login_csrf", secrets.token_urlsafe(24))
            return _login_page(runtime, lang, next_url, session["login_csrf"], error=None, demo=settings.demo)
        if not hmac.compare_digest(request.form.get("csrf", ""), session.get("login_csrf", "-")):
            return _login_page(runtime, lang, next_url, session.setdefault("login_csrf", secrets.token_urlsafe(24)),
                               error="login.expired", demo=settings.demo), 403
        remote = request.remote_addr or "?"
        name = request.form.get("name", "")
        if not limits.allow(remote, name):
            return _login_page(runtime, lang, next_url, session["login_csrf"], error="login.too_many",
                               demo=settings.demo), 429
        try:
            login = users.authenticate(runtime.store, name, request.form.get("password", ""), origin=remote)
        except users.LoginError as exc:
            return _login_page(runtime, lang, next_url, session["login_csrf"], error=exc.message_key,
                               demo=settings.demo), 401
        _start_session(login.user.name, epoch=login.epoch)
        return redirect(next_url)

    @server.route("/logout", methods=["GET", "POST"])
    def logout():
        name, epoch = session.get("user"), session.get("epoch")
        row = known.user(name) if name and name != "kiosk" and not settings.trusted_user_header else None
        # A live session ends everywhere (the epoch moves); a forged cross-site logout only clears
        # this browser's cookie (the browser says so in Sec-Fetch-Site).
        if row is not None and epoch == row["session_epoch"] and request.headers.get("Sec-Fetch-Site") != "cross-site":
            users.end_sessions(runtime.store, name)
        session.clear()
        response = redirect("/login")
        response.delete_cookie(CSRF_COOKIE)
        return response

    @server.get("/account/session")
    def account_session():
        """Who this session is (for the page and for checks): name, role, scopes, guest."""
        who = principal()
        return jsonify({"name": who.name, "role": who.role, "scopes": list(who.scopes), "guest": who.guest})

    @server.route("/account/password", methods=["GET", "POST"])
    def account_password():
        """Change one's own password: the current one is checked like a login (counted, audited); the
        new one ends every other session of the user, this one continues with the new epoch."""
        who = principal()
        lang = i18n.request_lang(request.values.get("lang"), runtime.pack.default_lang)
        if who.guest or session.get("user") != who.name or settings.trusted_user_header:
            return jsonify({"error": "sign in with a password to change it"}), 403
        if request.method == "GET":
            return _password_page(runtime, lang, session["csrf"], message=None)
        remote = request.remote_addr or "?"
        new_password = request.form.get("new_password", "")
        if len(new_password) < 8:
            return _password_page(runtime, lang, session["csrf"], message="account.password_too_short"), 400
        if not limits.allow(remote, who.name):
            return _password_page(runtime, lang, session["csrf"], message="login.too_many"), 429
        try:
            users.authenticate(runtime.store, who.name, request.form.get("current_password", ""), origin=remote)
        except users.LoginError as exc:
            return _password_page(runtime, lang, session["csrf"], message=exc.message_key), 401
        epoch = users.set_password(runtime.store, who.name, new_password)
        users.audit(runtime.store, who.name, who.role, "password_changed", origin=remote)
        _start_session(who.name, epoch=epoch)
        return _password_page(runtime, lang, session["csrf"], message="account.password_changed")


def _card_page(runtime, lang: str, title: str, body: str, error_key: str | None) -> str:
    """A small standalone page (login, password) in the console's style; `body` is trusted HTML."""
    zh = lang == "zh"
    title = f"{runtime.pack.name(lang)} · {title}"
    error_html = f'<p class="login-error" role="alert">{html.escape(i18n.t(error_key, lang))}</p>' if error_key else ""
    return f"""<!doctype html><html lang="{'zh-CN' if zh else 'en'}"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><link rel="stylesheet" href="/assets/app.css"></head>
<body class="login-body"><form class="login-card" method="post">
<h1>{html.escape(title)}</h1>{error_html}
{body}
</form></body></html>"""


def _password_page(runtime, lang: str, csrf: str, message: str | None) -> str:
    body = f"""<input type="hidden" name="csrf" value="{html.escape(csrf)}"><input type="hidden" name="lang" value="{html.escape(lang)}">
<label>{i18n.t('account.current_password', lang)}<input name="current_password" type="password" autocomplete="current-password" required></label>
<label>{i18n.t('account.new_password', lang)}<input name="new_password" type="password" autocomplete="new-password" minlength="8" required></label>
<button type="submit">{i18n.t('account.password_title', lang)}</button>
<p><a href="/?lang={html.escape(lang)}">{'返回' if lang == 'zh' else 'Back'}</a></p>"""
    return _card_page(runtime, lang, i18n.t("account.password_title", lang), body, message)


def _login_page(runtime, lang: str, next_url: str, csrf: str, error: str | None, demo: bool) -> str:
    """The sign-in page; `error` is a message key (login.failed, login.too_many, login.expired)."""
    zh = lang == "zh"
    hint = ("演示模式：未登录的访问者以只读大屏角色查看；启动时终端打印了各角色的演示账号。"
            if zh else "Demo mode: visitors who do not sign in see the read-only wall view; the demo accounts "
            "for every role were printed in the terminal at start.") if demo else ""
    body = f"""<input type="hidden" name="csrf" value="{html.escape(csrf)}"><input type="hidden" name="next" value="{html.escape(next_url)}">
<input type="hidden" name="lang" value="{html.escape(lang)}">
<label>{'用户名' if zh else 'User name'}<input name="name" autocomplete="username" required autofocus></label>
<label>{'密码' if zh else 'Password'}<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">{'登录' if zh else 'Sign in'}</button>
<p class="login-hint">{html.escape(hint)}</p>
<p><a href="/login?lang={'en' if zh else 'zh'}&amp;next={quote(next_url)}">{'English' if zh else '中文'}</a></p>"""
    return _card_page(runtime, lang, "城市大脑 登录" if zh else "CityBrain sign in", body, error)
