"""Every figure a person reads is written the way their language writes it: a decimal comma in
Swedish and Norwegian ("76,5", "p < 0,001") with counts of five digits and more grouped by
thousands ("12 345"), a point in English (and no grouping: English reads as before); in the HTML
report, its SVG charts' labels and tooltips, and the alert texts. What code reads keeps Python's
point: the JSON and CSV report, and every attribute of the HTML (SVG coordinates and sizes)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from server_sync.commands.report import render
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report import figures, html
from server_sync.report.alert_text import alert_text
from server_sync.report.figures import figure, p_statement, percent
from server_sync.report.i18n import t

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
NNBSP, NBSP = "\u202f", "\u00a0"

# A dip alert's and a trend alert's facts as the rules store them (analysis.alerts).
DIP = {"message": "'visit' Happy Index 25.0 …", "detail": {
    "v": 1, "rule": "dip", "question": "visit", "metric": "happy_index", "days": 3, "questions": 1, "value": 25.0,
    "baseline": 77.3, "drop": 52.3, "n": 12345, "p_value": 2.4e-3,
    "complaint": {"reason": "queue", "count": 12, "mentions": 15, "usual_share": 0.3}}}
TREND = {"message": "…", "detail": {"v": 1, "rule": "trend", "question": "visit", "metric": "happy_index",
                                    "drop": 6.25, "baseline_days": 28, "n": 410, "p_value": 0.00123}}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('figures') / 'central.db'}")
    try:
        generate(db, HistorySpec(sites=3, days=42, answers_per_day=20, seed=3))
        # Every site chosen by name: the report has its per-kiosk section too.
        sites = tuple(r[0] for r in db.execute_sql("SELECT id FROM site ORDER BY id").fetchall())
        return chain_report.build(db, ReportFilter(sites, date_from="2026-10-26", date_to="2026-11-22"), now=NOW)
    finally:
        db.close()


def test_a_half_is_rounded_away_from_zero_as_written():
    """A figure exactly between two is rounded as a person and a spreadsheet round it, not to
    the even neighbour of its binary value: a site's Happy Index of 56.25 (9 of 16) was "56,2"
    on its page while Excel shows the download's 56.25 as 56.3 (an independent check)."""
    assert [figure(v, "sv") for v in (56.25, 43.75, 31.25, -43.75, 0.05, -0.05)] == \
        ["56,3", "43,8", "31,3", "\u221243,8", "0,1", "\u22120,1"]
    assert figure(2.675, "en", 2) == "2.68" and percent(56.25, "en") == "56.3%"     # 2.675 as written
    assert figure(-0.04, "sv") == "0,0" and figure(12344.95, "en") == "12345.0"


def test_each_language_has_its_marks_and_a_figure_is_written_with_them():
    assert set(figures.DECIMAL_MARK) == set(figures.THOUSANDS_MARK) == set(figures.MINUS) == set(LANGUAGES)
    assert [figure(v, "sv") for v in (76.5, -14.25, 3.0, 12345, 1234, None, "s001", -3)] == \
        ["76,5", "\u221214,3", "3,0", f"12{NNBSP}345", "1234", "–", "s001", "\u22123"]
    assert figure(-14.25, "nb", signed=True) == "\u221214,3" and figure(2.5, "nb", signed=True) == "+2,5"
    assert figure(-14.25, "en") == "-14.3"                  # English: the hyphen-minus, as before
    assert figure(12345.67, "nb", 2) == f"12{NNBSP}345,67" and figure(0.0024, "sv", 1, significant=True) == "0,002"
    assert [figure(v, "en") for v in (76.5, 3.0, 12345, 1234)] == ["76.5", "3.0", "12345", "1234"]


def test_the_templates_filters_take_the_language_of_the_page():
    page = html.ENV.from_string("{{ x|num }} {{ d|num(signed=True) }} {{ r|num(2) }} {{ n|num }} p {{ p|pval }}")
    values = dict(x=76.5, d=-3.25, r=0.456, n=12345, p=0.0004)
    assert page.render(values, lang="sv") == f"76,5 \u22123,3 0,46 12{NNBSP}345 p &lt;\u00a00,001"
    assert page.render(values, lang="nb") == f"76,5 \u22123,3 0,46 12{NNBSP}345 p &lt;\u00a00,001"
    assert page.render(values, lang="en") == "76.5 -3.3 0.46 12345 p &lt;\u00a00.001"


def test_an_alert_reads_with_the_readers_decimal_mark():
    nb, en = alert_text(DIP, "nb"), alert_text(DIP, "en")
    assert "25,0 i løpet av de 3 dagene fram til varselet, 52,3 poeng under butikkens vanlige 77,3" in nb
    assert f"(n=12{NNBSP}345, p = 0,0024)" in nb and f"(vanligvis 30{NBSP}%)" in nb
    assert "(usually 30%)" in en
    assert "25.0 over the 3 days up to the alert, 52.3 points below the site's usual 77.3 (n=12345, p = 0.0024)" in en
    assert "6,3 poäng" in alert_text(TREND, "sv") and "p = 0,00123)" in alert_text(TREND, "sv")
    assert "6.3 points" in alert_text(TREND, "en") and "p = 0.00123)" in alert_text(TREND, "en")


@pytest.mark.parametrize("p, en, sv", [(0.0, "p <\u00a00.001", "p <\u00a00,001"), (2e-06, "p <\u00a00.001", "p <\u00a00,001"),
                                       (0.001, "p = 0.001", "p = 0,001"), (0.0449, "p = 0.0449", "p = 0,0449"),
                                       (0.04996, "p = 0.0499", "p = 0,0499")])
def test_an_alerts_p_value_is_never_zero_or_in_e_notation(p, en, sv):
    """A p-value is said as the report says it: below 0.001 as "< 0.001" (an alert read "p=0" or
    "p=2e-06"), in the alert's text for every language and in its English message alike."""
    for detail in (DIP, TREND):
        alert = {**detail, "detail": {**detail["detail"], "p_value": p}}
        assert alert_text(alert, "en").endswith(f"{en})") or f"{en});" in alert_text(alert, "en")
        assert f"{sv})" in alert_text(alert, "sv")
    assert p_statement(p, "en") == en and p_statement(p, "nb") == sv


def test_a_percentage_is_written_one_way_per_language():
    """Swedish and Norwegian put a no-break space before "%", English none; the templates' filter
    and every chart use the one helper (the report wrote "95 % KI" but "CSAT 75,0%")."""
    assert [percent(v, "sv") for v in (31.6, 75.0, None)] == [f"31,6{NBSP}%", f"75,0{NBSP}%", "–"]
    assert percent(25, "nb", 0) == f"25{NBSP}%" and percent(31.6, "en") == "31.6%"
    page = html.ENV.from_string("CSAT {{ x|percent }} {{ y|percent(0) }}")
    assert page.render(x=75.0, y=25, lang="sv") == f"CSAT 75,0{NBSP}% 25{NBSP}%"
    assert page.render(x=75.0, y=25, lang="en") == "CSAT 75.0% 25%"
    from server_sync.report import svg
    rows = [{"reason": "price", "n": 6, "share": 31.6, "cumulative": 31.6},
            {"reason": "queue", "n": 13, "share": 68.4, "cumulative": 100.0}]
    sv_chart = str(svg.pareto_chart("p", "Pareto", rows, {"price": "Pris"}, "–", lang="sv"))
    assert f"Pris: 6 (31,6{NBSP}%)" in sv_chart and f">25{NBSP}%</text>" in sv_chart
    assert "%)" not in sv_chart.replace(f"{NBSP}%)", "") and not re.search(r"\d%", sv_chart)
    en_chart = str(svg.pareto_chart("p", "Pareto", rows, {"price": "Price"}, "–", lang="en"))
    assert "Price: 6 (31.6%)" in en_chart and ">25%</text>" in en_chart


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_catalogues_write_a_percentage_by_the_same_rule(lang):
    """"95 % KI" in the Swedish and Norwegian texts too, with the no-break space of `percent`."""
    from server_sync.report.i18n import REPORT_TEXTS
    texts = [REPORT_TEXTS.text(key, lang) for key in ("ci", "band", "footer", "ranking_note")]
    signs = [m for text in texts for m in re.findall(r"\d\D?%", text)]
    assert signs and set(signs) == {f"5{figures.PERCENT_SPACE[lang]}%"}, signs


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_catalogue_text_writes_a_percentage_by_the_same_rule(lang):
    """Every text of the report's and the web app's catalogues (footer, ranking caption, "95 %
    interval", …): a number and its "%" as `percent` writes them."""
    import tomllib
    root = Path(html.__file__).resolve().parent.parent
    signs = []
    for catalogue in (root / "report" / "locale" / f"{lang}.toml", root / "web" / "locale" / f"{lang}.toml"):
        texts = tomllib.loads(catalogue.read_text(encoding="utf-8"))
        signs += [(key, m) for key, text in texts.items() if isinstance(text, str)
                  for m in re.findall(r"\d\D?%", text)]
    assert signs and {m[1:-1] for _key, m in signs} == {figures.PERCENT_SPACE[lang]}, signs


def test_the_summary_card_writes_csat_as_a_percentage(report):
    for lang in LANGUAGES:
        page = html.render(report, lang)
        for s in report["summary"]:
            assert f"{t('csat', lang)} {percent(s['csat']['value'], lang)}</div>" in page


def _texts(page: str) -> list[str]:
    """What a reader of the page sees: the text between its tags (the SVG charts' labels and
    tooltips included), without the stylesheet."""
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return [t for t in re.findall(r">([^<]+)<", body) if t.strip()]


def _attributes_read_as_numbers(page: str) -> int:
    """Every numeric attribute of the SVG charts parses as Python's floats; returns how many."""
    count = 0
    for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.S):
        for name, value in re.findall(r'\s(x|y|x1|x2|y1|y2|cx|cy|r|rx|width|height|offset|opacity|viewBox|points|'
                                      r'transform)="([^"]*)"', svg):
            numbers = re.sub(r"rotate\(|\)", " ", value).replace(",", " ").split()
            assert numbers and all(float(n) is not None for n in numbers), (name, value)
            count += 1
    return count


def test_the_html_report_writes_figures_as_the_readers_language_does(report):
    pages = {lang: html.render(report, lang) for lang in LANGUAGES}
    assert 'id="kiosks"' in pages["sv"]
    values = [s[q]["value"] for s in report["summary"] for q in ("happy_index", "nps")
              if (s.get(q) or {}).get("value") is not None]
    assert values
    for v in values:
        assert f'<div class="value">{figure(v, "sv")}</div>' in pages["sv"]
        assert f'<div class="value">{figure(v, "en")}</div>' in pages["en"]
    assert re.search(r'<div class="value">-?\d+,\d</div>', pages["nb"])
    assert re.search(r'<div class="value">-?\d+\.\d</div>', pages["en"])
    version = report["generator"]
    for lang in ("sv", "nb"):
        # No figure with a decimal point anywhere a person reads (the generator's version aside).
        pointed = [t for t in _texts(pages[lang]) if re.search(r"\d\.\d", t.replace(version, ""))]
        assert pointed == [], (lang, pointed[:5])
        # Nor a figure with a hyphen for its minus (the NPS trend's axis note said "av -100–100").
        hyphened = [t for t in _texts(pages[lang]) if re.search(r"(?<![\w-])-\d", t)]
        assert hyphened == [], (lang, hyphened[:5])
        assert re.search(r"<text [^>]*>-?\d+,\d</text>", pages[lang])              # a chart's label
        # The charts still draw: their coordinates and sizes are Python's numbers in every language.
        assert _attributes_read_as_numbers(pages[lang]) > 100


def test_the_json_and_csv_report_keep_points_in_every_language(report):
    out = {lang: (render(report, "json", lang), render(report, "csv", lang)) for lang in LANGUAGES}
    assert out["sv"] == out["nb"] == out["en"]
    data, table = out["sv"]
    assert isinstance(json.loads(data)["summary"][0]["n"], int)
    rows = list(csv.reader(io.StringIO(table)))
    cells = [c for row in rows[1:] for c in row]
    assert any(re.fullmatch(r"-?\d+\.\d+", c) for c in cells)
    assert not any(re.fullmatch(r"-?\d+,\d+", c) for c in cells)


def test_an_alerts_figures_are_rounded_once_for_the_reader():
    """The detail kept two decimals and the page rounded them again: a value of 51.9499 was
    51.95 in the detail, "52.0" on the web and "51.9" in the message `alerts show` prints."""
    from server_sync.analysis.alert_rules import Dip
    from server_sync.analysis.alerts import _dip_detail
    dip = Dip(1, 40, 12, 51.9499, 78.0, 900, 20, -4.2, 1e-5)
    detail = _dip_detail("visit", "smiley4", dip)
    text = alert_text({"message": "…", "detail": detail}, "en")
    assert "51.9 over the day up to the alert" in text and "26.1 points below" in text and "78.0" in text, text
    assert "51,9" in alert_text({"message": "…", "detail": detail}, "sv")


def test_a_figure_that_rounds_to_zero_has_no_sign():
    """"−0,0 poäng" on a site's page (a change of -0.04 points): a zero carries no sign."""
    from server_sync.report.figures import figure
    for lang in ("sv", "nb", "en"):
        assert {figure(v, lang, signed=s) for v in (-0.04, -0.0, 0.04) for s in (False, True)} == \
            {"0,0" if lang != "en" else "0.0"}
    assert figure(-0.06, "sv") == "\u22120,1" and figure(0.06, "sv", signed=True) == "+0,1"


def test_a_figure_is_shown_as_its_exact_value_rounds_not_rounded_twice():
    """Kept to two decimals, 1400/17 = 82.3529 was kept as 82.35 and shown as 82.3 (the float of
    82.35 is 82.3499…); 3 % of a report's figures were 0.1 off (an independent recomputation).
    Every Happy Index a smiley4 day of up to 300 answers can have is shown as its exact value is."""
    from server_sync.analysis.stats import KEPT_DIGITS
    off = [(n, s) for n in range(1, 301) for s in range(3 * n + 1)
           if figure(round(100 * s / (3 * n), KEPT_DIGITS), "en") != figure(100 * s / (3 * n), "en")]
    assert off == [], off[:5]
    assert figure(round(1400 / 17, KEPT_DIGITS), "sv") == "82,4"
