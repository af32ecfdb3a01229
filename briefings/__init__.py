"""Briefing packs frozen to their moment: build a snapshot, render it to HTML and PDF, store it.

    from briefings import build_brief, render_pdf, freeze, regenerate
    brief = build_brief(store, pack, "district:110105", "daily", start, end, "zh")
    briefing_id, pdf = freeze(store, brief)          # snapshot + HTML + PDF in table briefings
    assert regenerate(store, briefing_id) == pdf     # the same bytes from the stored snapshot

No Dash imports here: the CLI (`python app.py brief`), the console and schedules share this.
"""
from briefings.build import TEMPLATES, Brief, BriefError, build_brief, parse_scope
from briefings.render import render_html, render_pdf
from briefings.store import freeze, list_briefings, load_briefing, regenerate

__all__ = ["TEMPLATES", "Brief", "BriefError", "build_brief", "parse_scope", "render_html", "render_pdf",
           "freeze", "list_briefings", "load_briefing", "regenerate"]
