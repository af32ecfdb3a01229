"""A briefing snapshot to HTML (Jinja2, briefings/templates/) and to PDF (weasyprint).

Rendering is a pure function of the snapshot: the PDF's creation and modification dates are the
snapshot's `created_at` and nothing else varies, so a stored snapshot re-renders to the same bytes.
Fonts are the system's Noto CJK (Debian fonts-noto-cjk); without them Chinese would print as boxes.
"""
from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import jinja2

from i18n import t

TEMPLATES_DIR = Path(__file__).with_name("templates")
ZH_NUMERALS = "一二三四五六七八九十"


def zh_numeral(n: int) -> str:
    """1..99 as Chinese numerals: 一 … 十, 十一 … 十九, 二十 … 九十九."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return ZH_NUMERALS[ones - 1]
    return ("" if tens == 1 else ZH_NUMERALS[tens - 1]) + "十" + (ZH_NUMERALS[ones - 1] if ones else "")


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    return env


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_html(snapshot: dict) -> str:
    lang = snapshot["lang"]

    def heading(n: int, text: str) -> str:
        return f"{zh_numeral(n)}、{text}" if lang == "zh" else f"{n}. {text}"

    created = dt.datetime.fromisoformat(snapshot["created_at"]).replace(tzinfo=dt.UTC)
    page = {k: _css_string(t(f"brief.page.{k}", lang)) for k in ("before", "middle", "after")}
    page.update(issuer=_css_string(snapshot["issuer"]), internal=_css_string(t("brief.internal", lang)))
    return _env().get_template("brief.html").render(
        s=snapshot, lang=lang, tr=lambda key, **kw: t(key, lang, **kw), heading=heading, page=page,
        created_w3c=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def render_pdf(snapshot: dict, html: str | None = None) -> bytes:
    """The PDF of a snapshot (A4); identical bytes for an identical snapshot."""
    import weasyprint

    html = html if html is not None else render_html(snapshot)
    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR))
    # pdf_identifier fixed from the snapshot: no random or time-based file id
    ident = f"citybrain-{snapshot['template']}-{snapshot['scope']}-{snapshot['created_at']}".encode()
    return document.write_pdf(pdf_identifier=ident)
