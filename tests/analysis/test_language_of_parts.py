"""WCAG 3.1.2, Language of Parts: a question worded only in another language stands in on a page
(a Norwegian reader reads the Swedish wording: vocabulary.in_nearest), and the page marks it with
that language, so a screen reader reads it with that language's sounds, not the page's. The
report's headings, cards and captions, the alert text quoting it, and the digest mail; an
`<option>` (which holds no markup) carries the attribute itself."""

from __future__ import annotations

import copy
import json
import pickle
import re
from datetime import datetime, timezone

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from server_sync.protocol.vocabulary import Worded, in_nearest
from server_sync.report import html

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
SWEDISH_ONLY = {"sv": "Hur var <besöket> & kön?"}          # hostile characters, escaped all the same
FACTS = {"v": 1, "rule": "dip", "question": "visit", "metric": "happy_index", "days": 3, "questions": 1,
         "value": 25.0, "baseline": 77.3, "drop": 52.3, "n": 41, "p_value": 2e-06, "question_text": SWEDISH_ONLY}


def test_a_wording_knows_its_language_and_reads_as_its_text():
    worded = in_nearest({"sv": "Hur var besöket?", "en": "How was your visit?"}, "nb")
    assert worded == "Hur var besöket?" and worded.lang == "sv"
    assert in_nearest({"nb": "Hvordan var besøket?"}, "nb").lang == "nb"
    for kept in (copy.copy(worded), copy.deepcopy(worded), pickle.loads(pickle.dumps(worded))):
        assert kept == worded and kept.lang == "sv"
    assert json.dumps({"q": worded}) == json.dumps({"q": "Hur var besöket?"})


def test_a_stand_in_wording_is_marked_and_escaped_a_pages_own_is_not():
    q = {"id": "visit", "text": SWEDISH_ONLY, "scale": "smiley4"}
    assert str(html.question_html(q, "nb")) == '<span lang="sv">Hur var &lt;besöket&gt; &amp; kön?</span>'
    assert str(html.question_html(q, "sv")) == "Hur var &lt;besöket&gt; &amp; kön?"
    # an <option> holds no markup: it carries the attribute
    assert str(html.lang_attr(html.question_text(q, "en"), "en")) == ' lang="sv"'
    assert str(html.lang_attr(html.question_text(q, "sv"), "sv")) == "" == str(html.lang_attr("visit", "en"))
    # the scale's note after it is in the page's language: outside the span
    earlier = dict(q, earlier_scale=True)
    assert re.fullmatch(r'<span lang="sv">[^<]*</span> \([^<]*smiley4[^<]*\)', str(html.question_html(earlier, "en")))
    # an id (a question never worded) is no language's: unmarked
    assert str(html.question_html({"id": "visit", "text": None, "scale": "smiley4"}, "en")) == "visit"
    assert str(html.marked(Worded("x", "en"), "en")) == "x" and str(html.marked("<b>", "nb")) == "&lt;b&gt;"


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_an_alert_quoting_a_stand_in_wording_marks_only_the_wording(lang):
    page = str(html.alert_html({"detail": FACTS, "message": "English message"}, lang))
    marked = re.findall(r'<span lang="(\w+)">(.*?)</span>', page)
    assert marked == [("sv", "Hur var &lt;besöket&gt; &amp; kön?")], page
    assert "English message" not in page and "52" in page.split("<span", 1)[0] + page.split("</span>", 1)[1]
    # worded in the page's own language: nothing marked
    assert "<span lang" not in str(html.alert_html({"detail": FACTS, "message": "x"}, "sv"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A chain whose visit question is worded only in Swedish."""
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('parts') / 'central.db'}")
    try:
        generate(db, HistorySpec(sites=2, days=21, answers_per_day=20, seed=5))
        db.execute_sql(f"UPDATE question SET text = {db.param} WHERE id = 'visit'", [json.dumps(SWEDISH_ONLY)])
        return chain_report.build(db, ReportFilter(date_from="2026-11-01", date_to="2026-11-22"), now=NOW)
    finally:
        db.close()


def test_the_reports_headings_and_cards_mark_the_stand_in_wording(report):
    wording = "Hur var &lt;besöket&gt; &amp; kön?"
    for lang in ("nb", "en"):
        page = html.render(report, lang)
        shown = page.count(wording)
        marked = page.count(f'<span lang="sv">{wording}</span>')
        in_attributes = len(re.findall(rf'(?:aria-label|title)="[^"]*{re.escape(wording)}', page)) + \
            len(re.findall(rf"<title>[^<]*{re.escape(wording)}", page))
        assert marked >= 4 and shown == marked + in_attributes, (lang, shown, marked, in_attributes)
    sv = html.render(report, "sv")
    assert wording in sv and '<span lang="sv">' not in sv


def test_a_notice_mail_marks_the_stand_in_wording_in_its_html_and_not_in_its_text():
    from server_sync.workflow.notices import mail_bodies
    worded = in_nearest(SWEDISH_ONLY, "nb")
    text, page = mail_bodies("nb", "Varsel", "Et varsel", [("Spørsmål", worded), ("Butikk", "Stockholm <1>")], None)
    assert "Spørsmål: Hur var <besöket> & kön?" in text and "<span" not in text
    assert '<td><span lang="sv">Hur var &lt;besöket&gt; &amp; kön?</span></td>' in page
    assert "<td>Stockholm &lt;1&gt;</td>" in page
