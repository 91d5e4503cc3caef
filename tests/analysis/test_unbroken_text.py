"""Units a line break must not split on a page (a review of the screenshots): "p" at a line's end
and "< 0,001" on the next in an alert's text, "p-" over "värde" at the hyphen, a site's time with
its zone "CET" alone on a line, a date broken at its hyphens. The pages keep them whole with
no-break characters in the catalogues and `nowrap` spans (report.nowrap.unbroken) where a text
is written; the browser walk (tests/web/test_browser.py) measures them as drawn."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from markupsafe import Markup

from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report import html
from server_sync.report.i18n import t
from server_sync.report.nowrap import unbroken
from server_sync.web import render

KEPT = '<span class="nowrap">{}</span>'
DIP = {"v": 1, "rule": "dip", "question": "visit", "metric": "happy_index", "days": 3, "questions": 1,
       "value": 41.3, "baseline": 71.6, "drop": 30.3, "n": 41, "p_value": 4e-4}


def test_dates_times_and_p_statements_are_kept_whole_and_the_rest_escaped():
    text = "<b>2026-10-23</b> & 18:21 CET, p < 0,001; p = 0.04 (Före, 2026-11-27 – 2026-12-24)"
    assert str(unbroken(text)) == (
        f"&lt;b&gt;{KEPT.format('2026-10-23')}&lt;/b&gt; &amp; {KEPT.format('18:21 CET')}, "
        f"{KEPT.format('p &lt; 0,001')}; {KEPT.format('p = 0.04')} "
        f"(Före, {KEPT.format('2026-11-27')} – {KEPT.format('2026-12-24')})")
    # Markup is taken as it is: only its text is looked at, never an attribute.
    assert str(unbroken(html.marked("x", "sv") + Markup('<time datetime="2026-12-03T17:21:00+00:00">'))) \
        == 'x<time datetime="2026-12-03T17:21:00+00:00">'
    assert str(unbroken(None)) == ""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_alerts_p_statement_and_a_stored_messages_dates_stay_on_one_line(lang):
    said = str(html.alert_html({"detail": DIP, "message": "x"}, lang))
    assert re.search(r'<span class="nowrap">p &lt;\xa00[.,]001</span>', said), said
    stored = str(html.alert_html({"detail": None, "message": "<i>dip</i> 2026-11-20 … 2026-11-22"}, lang))
    assert f"&lt;i&gt;dip&lt;/i&gt; {KEPT.format('2026-11-20')} … {KEPT.format('2026-11-22')}" in stored, stored


def test_a_sites_time_keeps_its_date_and_its_time_with_the_zone_each_whole():
    shown = str(render.site_time(datetime(2026, 12, 6, 19, 59, tzinfo=timezone.utc), "Europe/Stockholm"))
    assert shown == (f'<time datetime="2026-12-06T19:59:00+00:00">{KEPT.format("2026-12-06")} '
                     f'{KEPT.format("20:59 CET")}</time>')


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_correlation_note_never_breaks_a_figure_from_its_name(lang):
    """"r = 0,42", "n = 12" and "p-värde 0,003" with no-break spaces, the hyphen a no-break one."""
    note = t("correlation", lang, r="0,42", interval="0,1–0,7", n="12", p="0,003")
    assert "r\u00a0=\u00a00,42" in note and "n\u00a0=\u00a012" in note and "\u2011" in note
    assert not re.search(r"\bp-", note) and re.search(r"\u2011\w+\u00a00,003", note), note
    assert not re.search(r"\bp-", t("best_vs_rest_p_note", lang, reasons=7))
