"""The frame around every page: header (city, feed freshness, language), live-version plumbing."""
from __future__ import annotations

from enum import StrEnum

from dash import dcc, html


class ShellIds(StrEnum):
    URL = "url"
    NAV = "nav"
    TICK = "tick"  # the header's clock: feed ages grow with time
    VERSION_POLL = "version-poll"  # polling for the data version; off while server push is live (assets/push.js)
    VERSION = "data-version"
    TITLE = "header-title"
    FEEDS = "feed-badges"
    LANG_LINK = "lang-link"
    AS_OF = "as-of"
    USER_LINK = "user-link"
    QUEUE_LINK = "queue-link"  # to the dispatch queue (shown to roles that work on orders)


def layout(poll_ms: int, page_container) -> html.Div:
    return html.Div(
        className="shell",
        children=[
            dcc.Location(id=ShellIds.URL),
            dcc.Location(id=ShellIds.NAV, refresh="callback-nav"),
            dcc.Interval(id=ShellIds.TICK, interval=poll_ms),
            dcc.Interval(id=ShellIds.VERSION_POLL, interval=poll_ms),
            dcc.Store(id=ShellIds.VERSION, data=0),
            html.Header(
                className="header",
                children=[
                    html.A(id=ShellIds.TITLE, className="brand", href="/"),
                    html.A(id=ShellIds.FEEDS, className="feeds", href="/feeds"),
                    html.Span(id=ShellIds.AS_OF, className="as-of"),
                    html.A(id=ShellIds.QUEUE_LINK, className="queue-link", href="/queue", hidden=True),
                    html.A(id=ShellIds.USER_LINK, className="user-link", href="/login"),
                    html.A(id=ShellIds.LANG_LINK, className="lang-link", href="?lang=en"),
                ],
            ),
            html.Main(page_container, className="main"),
        ],
    )
