"""A change on the web app's pages says it is points, as the report's cards do ("+2,7 poäng"):
the actions list's Δ column and an action's difference were bare numbers."""

from __future__ import annotations

import html
import re

import pytest

from server_sync.web import render

ACTION = {"id": 7, "date": "2026-10-01", "site_id": "s1", "site_name": "Butik 1", "question_id": "visit",
          "note": "Ny kassa", "action_type": None, "owner": None, "overdue": False, "verdict": "better",
          "diff": 4.26, "low": 1.5, "high": 7.0, "n_before": 200, "n_after": 210, "closing_verdict": None}
WORDS = {"sv": "+4,3\u00a0poäng", "nb": "+4,3\u00a0poeng", "en": "+4.3\u00a0points"}


@pytest.mark.parametrize("lang", WORDS)
def test_the_actions_list_says_its_difference_is_points(lang):
    page = html.unescape(render.page("web/actions.html", lang, site_choices=[], downloads={},
                                     data={"actions": [ACTION, dict(ACTION, id=8, diff=None, verdict="pending")],
                                           "site": None, "state": None, "confidence": 0.99}))
    cells = re.findall(r'<td class="num" data-label="Δ [^"]*">([^<]*)</td>', page)
    assert cells == [WORDS[lang], "–"]


@pytest.mark.parametrize("lang", WORDS)
def test_an_actions_page_says_its_difference_is_points(lang):
    side = {"n": 200, "happy_index": {"value": 70.0, "low": 66.0, "high": 74.0}}
    evaluation = {"window_days": 28, "verdict": "better", "metric": "happy_index", "confidence": 0.99,
                  "previous": side, "current": side, "scale_ended": None,
                  "test": {"diff": 4.26, "low": 1.5, "high": 7.0, "p_value": 0.004}}
    page = html.unescape(render.page("web/action.html", lang, data={
        "suggestions": {"main_complaint": None, "suggestions": []},
        "action": dict(ACTION, due_date=None, alert_id=None, verdict=None, complete=True, evaluation=evaluation)}))
    assert re.search('<td class="num"[^>]*>' + re.escape(WORDS[lang]) + '</td>', page)


@pytest.mark.parametrize("lang", WORDS)
def test_a_kiosk_holding_one_refused_answer_says_it_in_the_singular(lang):
    """"holds 1 answers the centre refused", "1 events refused for good": a text about one thing
    takes its wording for one (program.i18n's `_one`)."""
    one, two = (render.flag_words({"flag_kind": "held", "rejected": n}, lang) for n in (1, 2))
    said = {"en": ("holds 1 answer the centre", "holds 2 answers the centre"), "sv": ("har 1 svar", "har 2 svar"),
            "nb": ("har 1 svar", "har 2 svar")}[lang]
    assert one.startswith(said[0]) and two.startswith(said[1])
    assert render.text("fleet_rejected", lang, n="1", counted=1) != render.text("fleet_rejected", lang, n="1", counted=2)


@pytest.mark.parametrize("lang", WORDS)
def test_what_worked_elsewhere_reads_in_the_singular_and_the_plural(lang):
    """The suggestions list: its text has a {count} placeholder, which the singular rule's own
    argument once took (every page with a suggestion failed); "1 site(s)" is said as one."""
    evaluation = {"window_days": 28, "verdict": "pending", "metric": "happy_index", "previous": {}, "current": {},
                  "scale_ended": None, "test": None}
    suggestions = {"main_complaint": "queue", "complaint_days": 28, "suggestions": [
        {"type": "queue", "sites": ["s2"], "other_sites": 0, "mean_effect": 2.25, "effects": [2.25]},
        {"type": "staffing", "sites": ["s2"], "other_sites": 1, "mean_effect": 4.0, "effects": [3.0, 5.0]}]}
    page = html.unescape(render.page("web/action.html", lang, data={"suggestions": suggestions, "action": dict(
        ACTION, due_date=None, alert_id=None, verdict=None, complete=False, evaluation=evaluation)}))
    items = re.findall(r"<li><strong>[^<]*</strong>: ([^<]*)</li>", page)
    one, two = {"en": ("at 1 site with", "at 2 sites with"), "sv": ("i 1 butik med", "i 2 butiker med"),
                "nb": ("i 1 butikk med", "i 2 butikker med")}[lang]
    assert len(items) == 2 and one in items[0] and two in items[1], items
    assert "+2" + {"en": ".3", "sv": ",3", "nb": ",3"}[lang] in items[0]        # a half away from zero


def test_a_pending_actions_page_explains_only_what_it_shows():
    """A review of the screenshots: a pending action's page explained an effect row it did not
    show, named its after-window's 28 days as if over (its figures are so far), and said "Closed
    as: pending". Its notes are now of what is shown; the after row says "so far"."""
    side = {"n": 24, "happy_index": {"value": 16.7, "low": 7.7, "high": 34.8}}
    evaluation = {"window_days": 28, "verdict": "pending", "metric": "happy_index", "previous": side, "current": side,
                  "scale_ended": None, "test": None, "method": "difference-in-differences",
                  "control": {"previous": side, "current": side},
                  "baseline": {"from": "2026-10-23", "to": "2026-11-19"}, "after": {"from": "2026-12-07", "to": "2027-01-03"}}
    page = html.unescape(render.page("web/action.html", "en", data={
        "suggestions": {"main_complaint": None, "suggestions": []},
        "action": dict(ACTION, due_date=None, alert_id=None, verdict=None, complete=False, evaluation=evaluation)}))
    assert "<dt>Status</dt>" in page and "Closed as" not in page
    rows = [re.sub(r"<[^>]+>", "", row) for row in re.findall(r'<th scope="row">(.*?)</th>', page)]
    assert "After, 2026-12-07 – so far (the window ends 2027-01-03)" in rows and "Before, 2026-10-23 – 2026-11-19" in rows
    assert 'id="effect-note"' not in page and "The change:" not in page and 'id="baseline-gap"' in page
