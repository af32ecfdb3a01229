"""briefings.daily_pack_s: wall time of a city-wide daily briefing pack (snapshot + HTML + PDF) on the
demo city (Beijing, 7 simulated days): the first PDF of the process (weasyprint and the CJK fonts
load cold; the baseline ran the same reads just before).

Baseline in the same run: `daily_pack_html_only_s`, the same pack built and rendered to HTML only
(no PDF), run first. Goal: <= 10 s.
"""
from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path


def run():
    from bench.run import Result
    from datasources.runtime import open_runtime
    from datasources.store import utcnow
    from settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        runtime = open_runtime(Settings.load(env={}, data_dir=Path(tmp), history_days=7), simulate=True,
                               start_threads=False)
        try:
            from briefings import build_brief, render_html, render_pdf

            end = utcnow().replace(microsecond=0)
            start = end - dt.timedelta(days=1)
            started = time.perf_counter()
            brief = build_brief(runtime.store, runtime.pack, "city", "daily", start, end, "zh")
            render_html(brief.snapshot)
            html_s = time.perf_counter() - started

            started = time.perf_counter()
            brief = build_brief(runtime.store, runtime.pack, "city", "daily", start, end, "zh")
            pdf = render_pdf(brief.snapshot)
            pack_s = time.perf_counter() - started
            started = time.perf_counter()
            render_pdf(brief.snapshot)
            warm_pdf_s = time.perf_counter() - started
        finally:
            runtime.close()
    print(f"daily pack: {pack_s:.2f} s ({len(pdf)} bytes); HTML only {html_s:.2f} s; "
          f"PDF re-render, warm: {warm_pdf_s:.2f} s")
    return [Result("briefings.daily_pack_s", round(pack_s, 3), "s",
                   {"name": "daily_pack_html_only_s", "value": round(html_s, 3)})]


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for result in run():
        print(result.as_dict())
