"""Header: title, feed freshness badges, language link; the data-version poll."""
from __future__ import annotations

from dash import Input, Output, State, callback, html, no_update

import i18n
from api.auth import principal
from callbacks.context import lang_from, runtime
from views.feeds import feed_health
from views.links import page_href
from layouts.shell import ShellIds


@callback(Output(ShellIds.VERSION, "data"), Input(ShellIds.VERSION_POLL, "n_intervals"), State(ShellIds.VERSION, "data"))
def poll_version(_tick, known):
    """The fallback when server push (/events, assets/push.js) is not live: one light request per
    tick; everything else follows the version only when it moves."""
    version = runtime().store.data_version
    return version if version != known else no_update


@callback(
    Output(ShellIds.TITLE, "children"),
    Output(ShellIds.LANG_LINK, "children"),
    Output(ShellIds.LANG_LINK, "href"),
    Output(ShellIds.FEEDS, "href"),
    Output(ShellIds.USER_LINK, "children"),
    Output(ShellIds.USER_LINK, "href"),
    Input(ShellIds.URL, "pathname"),
    Input(ShellIds.URL, "search"),
)
def render_header(pathname, search):
    lang = lang_from(search)
    pack = runtime().pack
    other = "en" if lang == "zh" else "zh"
    who = principal()
    if who is None or who.guest:
        user_text, user_href = i18n.t("user.sign_in", lang), page_href("/login", lang, next=pathname or "/")
    else:
        user_text, user_href = f"{who.name} · {i18n.t('role.' + who.role, lang)} · {i18n.t('user.sign_out', lang)}", "/logout"
    return (f"{pack.name(lang)} · {i18n.t('app.title', lang)}", i18n.t("nav.switch_lang", lang),
            page_href(pathname or "/", other), page_href("/feeds", lang), user_text, user_href)


@callback(
    Output(ShellIds.FEEDS, "children"),
    Output(ShellIds.AS_OF, "children"),
    Input(ShellIds.TICK, "n_intervals"),
    Input(ShellIds.URL, "search"),
)
def render_feed_badges(_tick, search):
    """Every feed's newest record time, turning amber/red when it stalls (runs every tick: age grows)."""
    lang = lang_from(search)
    rt = runtime()
    health = feed_health(rt.store, rt.settings)
    return build_badges(health, lang, rt.pack.timezone), i18n.t("data.version", lang, version=rt.store.data_version)


def build_badges(health: dict, lang: str, timezone: str) -> list:
    badges = []
    for feed, info in health.items():
        age = i18n.t("feed.never", lang) if info["age_s"] is None else i18n.t("feed.age", lang, age=i18n.duration(info["age_s"], lang))
        badges.append(
            html.Span(
                className=f"feed-badge state-{info['state']}",
                **{"data-feed": feed, "data-state": info["state"]},
                title=info["last_record_at"] or "",
                children=[
                    html.Span(className="dot"),
                    html.Span(i18n.t(f"feed.{feed}", lang), className="feed-name"),
                    html.Span(f"{i18n.t('feed.state.' + info['state'], lang)} · {age}", className="feed-age"),
                ],
            )
        )
    return badges
