"""The report's words: one TOML catalogue per language through the shared loader
(server_sync.program.i18n), complete and alike in every language, every key the templates ask for
present, none left unused; the loader itself names what is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server_sync.program.i18n import ONE, Catalogues, placeholders
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report.i18n import REPORT_TEXTS, t, weekdays

REPORT = Path(__file__).resolve().parents[2] / "server_sync" / "report"
# Keys chosen by data rather than written out: a question's main metric and a change's verdict.
BY_DATA = {"happy_index", "nps", "better", "worse", "no_significant_change", "too_little_data",
           "no_detectable_effect", "pending"}


def keys_asked_for() -> set[str]:
    sources = [*REPORT.glob("*.py"), *(REPORT / "templates").rglob("*.html")]
    return {key for path in sources for key in re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", path.read_text())}


def test_every_language_has_every_key_with_the_same_placeholders():
    assert sorted(p.stem for p in (REPORT / "locale").glob("*.toml")) == sorted(LANGUAGES)
    assert REPORT_TEXTS.problems() == []


def test_every_key_asked_for_exists_and_every_key_is_asked_for():
    asked = keys_asked_for()
    assert len(asked) > 30
    for lang in LANGUAGES:
        assert sorted(asked - set(REPORT_TEXTS.strings(lang))) == [], lang
    # A key's wording for one thing (`_one`) is asked for with the key.
    assert sorted(set(REPORT_TEXTS.strings("en")) - asked - {key + ONE for key in asked} - BY_DATA) == []


def test_texts_with_values():
    assert t("ranking_cut", "sv", sites=40) == "Bäst 10 / Sämst 10 · 40"
    corr = t("correlation", "sv", r="0,46", interval="0,10–0,70", n="12", p="< 0,001")
    # No-break spaces and hyphen: no figure on another line than its name.
    assert corr == "Korrelation mellan butiker: r\u00a0=\u00a00,46 (0,10–0,70), n\u00a0=\u00a012, p\u2011värde\u00a0< 0,001"


def test_no_text_writes_a_figure_itself():
    """A figure comes into a text written already, in the reader's way (server_sync.report.figures):
    a "{r:.2f}" in a catalogue would write it with a point in every language."""
    for lang in LANGUAGES:
        specs = {key: text for key, text in REPORT_TEXTS.strings(lang).items()
                 if re.search(r"\{\w*[:!][^}]*\}", text)}
        assert specs == {}, lang
    assert [len(weekdays(lang)) for lang in LANGUAGES] == [7, 7, 7]


def test_a_missing_key_or_language_is_a_key_error_naming_both():
    with pytest.raises(KeyError, match="report string 'no_such_key' has no 'nb' translation"):
        t("no_such_key", "nb")
    with pytest.raises(KeyError, match="no report strings for language 'de'"):
        t("title", "de")


def test_problems_names_what_differs(tmp_path):
    (tmp_path / "sv.toml").write_text('a = "Hej {name}"\nb = "B"\nc = "C"\n', encoding="utf-8")
    (tmp_path / "en.toml").write_text('a = "Hello {who}"\nb = ""\nd = "D"\n', encoding="utf-8")
    found = Catalogues(tmp_path, ("sv", "en"), what="test").problems()
    assert found == ["en lacks 'c'", "en has 'd', sv has not",
                     "en.a has placeholders ['who'], sv ['name']", "en.b is not a non-empty text: ''"]
    (tmp_path / "en.toml").write_text('a = "Hello {name}"\nb = "B"\nc = "C"\nc_one = "C1"\nd_one = "D1"\n',
                                      encoding="utf-8")
    (tmp_path / "sv.toml").write_text('a = "Hej {name}"\nb = "B"\nc = "C"\nc_one = "C1"\nd_one = "D1"\n',
                                      encoding="utf-8")
    assert Catalogues(tmp_path, ("sv", "en"), what="test").problems() == ["sv has 'd_one' but not 'd'",
                                                                          "en has 'd_one' but not 'd'"]


def test_a_text_about_one_thing_has_its_own_wording():
    """"1 sites with fewer than 30 answers … are not ranked" (an independent check): a text with
    a `_one` sibling takes it when the number it is about is one."""
    assert t("ranking_unranked", "en", sites=1, n=30, counted=1) == \
        "1 site with fewer than 30 answers in the period is not ranked."
    assert t("ranking_unranked", "sv", sites=2, n=30, counted=2).startswith("2 butiker med färre än 30 svar")
    assert t("ranking_unranked", "nb", sites=1, n=30, counted=1).startswith("1 butikk med færre enn 30 svar")
    assert t("title", "en", counted=1) == t("title", "en")            # no `_one`: the text as it is
    assert placeholders("{n} of {total:,} ({share:.1f} %)") == {"n", "total", "share"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_summary_card_names_its_share_of_satisfied_answers_as_the_kiosk_does(lang):
    """"CSAT" stood in English on the Swedish and Norwegian cards, where the kiosk's staff view
    says "Nöjda" / "Fornøyde" of the same share: one name per language, the kiosk's."""
    import tomllib
    from server_sync.report import html
    kiosk = tomllib.loads((REPORT.parents[1] / "kiosk" / "locale" / f"{lang}.toml").read_text(encoding="utf-8"))
    report = {"questions": [{"id": "visit", "audience": "customer", "scale": "smiley4", "metric": "happy_index",
                             "text": {}}],
              "summary": [{"question_id": "visit", "n": 120, "happy_index": {"value": 71.0, "low": 68.0, "high": 74.0},
                           "csat": {"value": 64.2}}],
              "trends": [], "generated_at": "2026-11-23T12:00:00+00:00", "pulse": {"sites": []}}
    card = html.ENV.get_template("report/sections/summary.html").render(html.context(report, lang))
    assert f'<div class="ci">{kiosk["staff_csat"]} 64' in card and "CSAT" not in card
