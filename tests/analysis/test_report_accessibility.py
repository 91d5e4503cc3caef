"""What a screen reader, a keyboard and a narrow screen get of the HTML report (and so of the web
pages that include its sections): every chart's figures as text (the heatmap and the trend as a
table in <details>, which needs no script; an action's before and after written in its card; a
sparkline's name giving its first and last value and its range), heatmap cell text at WCAG AA on
its cell, and grids that never force a phone to scroll sideways."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import actions, chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report import html, svg
from server_sync.report.figures import figure, interval, percent
from server_sync.report.i18n import t, weekdays

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
REPORT_CSS = Path(html.__file__).parent / "templates" / "report" / "report.css"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('a11y') / 'central.db'}")
    try:
        generate(db, HistorySpec(sites=3, days=70, answers_per_day=20, seed=5))
        actions.add(db, "s002", "visit", "2026-10-12", "Fler kassor öppna", now=NOW)
        return chain_report.build(db, ReportFilter(date_from="2026-10-26", date_to="2026-11-22"), now=NOW)
    finally:
        db.close()


def _details(page: str, prefix: str) -> dict[str, str]:
    """The <details> tables of the page whose id starts with `prefix`, by id."""
    return dict(re.findall(rf'<details id="({prefix}[^"]+)">(.*?)</details>', page, flags=re.S))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_heatmap_and_the_trend_are_also_tables_and_the_report_has_no_script(report, lang):
    page = html.render(report, lang)
    assert "<script" not in page.lower()                   # <details> opens without one
    heatmaps = _details(page, "heatmap-table-")
    trends = _details(page, "trend-table-")
    assert heatmaps and trends
    assert all(f"<summary>{t('show_table', lang)}</summary>" in d for d in (*heatmaps.values(), *trends.values()))
    for hm in report["heatmap"]:
        table = heatmaps.get(f"heatmap-table-{hm['question_id']}")
        if table is None:
            continue                                       # an employee question has no heatmap
        assert '<th scope="col">' in table and table.count('<th scope="row">') == 7
        for c in hm["cells"]:
            if c["value"] is not None:
                row = re.search(rf'<th scope="row">{weekdays(lang)[c["weekday"]]}</th>(.*?)</tr>', table).group(1)
                # n under the value: on one line the 15 columns were wider than a desktop page.
                assert f'{figure(c["value"], lang)}<br>(n={figure(c["n"], lang)})' in row
    for tr in report["trends"]:
        table = trends[f"trend-table-{tr['question_id']}"]
        for d in tr["daily"]:
            cells = re.search(rf'<th scope="row"><span class="nowrap">{d["date"]}</span></th>(.*?)</tr>', table).group(1)
            assert f'<td class=num>{figure(d["n"], lang)}</td>' in cells
            if d["value"] is not None:
                assert f'{figure(d["value"], lang)} ({interval(d["low"], d["high"], lang)})' in cells


def test_an_actions_before_and_after_are_written_in_its_card(report):
    a = report["actions"][-1]
    before, after = a["previous"][a["metric"]], a["current"][a["metric"]]
    for lang in LANGUAGES:
        page = html.render(report, lang)
        card = page[page.index(f'data-chart="action-{a["id"]}"'):]
        text = re.sub(r"<[^>]+>", "", card[card.index("</svg>"):card.index("</div>", card.index("</svg>") + 7)])
        assert f'{t("before", lang)}: {figure(before["value"], lang)}' in text, text
        assert f'→ {t("after", lang)}: {figure(after["value"], lang)}' in text, text


def test_a_sparklines_name_gives_its_first_and_last_values_and_its_range():
    daily = [{"date": "2026-11-01", "value": 70.14}, {"date": "2026-11-02", "value": None},
             {"date": "2026-11-03", "value": 61.0}, {"date": "2026-11-04", "value": 67.4}]
    chart = str(svg.sparkline("s", "Trend: Besök", daily, (0, 100), "–", lang="sv"))
    name = re.search(r"<title>(.*?)</title>", chart).group(1)
    # The 2nd has no value: a gap in the line, and said (tests/web/test_sparkline.py).
    assert name == ("Trend: Besök: 70,1 den 2026-11-01, 67,4 den 2026-11-04; lägst 61,0, högst 70,1;"
                    " dagar utan värde: 1")
    en = re.search(r"<title>(.*?)</title>", str(svg.sparkline("s", "Trend", daily, (0, 100), "–", lang="en"))).group(1)
    assert en == "Trend: 70.1 on 2026-11-01, 67.4 on 2026-11-04; lowest 61.0, highest 70.1; days without a value: 1"


def test_every_heatmap_cells_text_reads_at_aa_on_its_cell():
    """Ink on the scale's top green was 4.48:1: the text is white where the ink falls short, and a
    cell on which neither would do is shaded just enough."""
    cells = [{"weekday": d, "hour": h, "value": float(v), "n": 12 if d % 2 else 3}      # n 3: a pale cell
             for d in range(7) for h, v in enumerate(range(d, 101, 7))]
    inks = set()
    for bounds in ((0.0, 100.0), (-100.0, 100.0)):
        chart = str(svg.heatmap_chart("h", "Heatmap", cells, weekdays("sv"), bounds, "–", few_label="few",
                                      lang="sv"))
        pairs = re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"[^>]*><title>.*?</title></rect>'
                           r'<text [^>]*fill="(#[0-9a-f]{6})"[^>]*>[^<]+</text>'
                           r'<text [^>]*font-size="(\d+)"[^>]*fill="(#[0-9a-f]{6})"', chart)
        assert len(pairs) == len(cells) and chart.count("stroke-dasharray") == 1 + sum(c["n"] == 3 for c in cells)
        assert min(min(svg.contrast(fill, value), svg.contrast(fill, n)) for fill, value, _size, n in pairs) >= 4.5
        assert {int(size) for *_, size, _n in pairs} == {11}       # the counts were 10 px
        inks |= {value for _f, value, *_ in pairs}
    assert inks == {svg.INK, svg.WHITE}


def test_a_tooltip_writes_every_value_with_one_decimal():
    """A trend's NPS day read "75" beside a Happy Index day "79,0"."""
    daily = [{"date": "2026-11-01", "value": 75, "low": 60, "high": 85, "n": 12},
             {"date": "2026-11-02", "value": 79.04, "low": 70, "high": 88, "n": 9}]
    chart = str(svg.trend_chart("tr", "Trend", daily, [], (-100, 100), "–", ("a", "b", "c"), lang="sv"))
    assert "<title>2026-11-01: 75,0 (n=12)</title>" in chart and "<title>2026-11-02: 79,0 (n=9)</title>" in chart


def test_no_grid_forces_a_column_wider_than_a_phone():
    """A grid's `minmax(300px, 1fr)` made /sites/{id} scroll sideways at 320 px: every minimum is
    capped at the container's width."""
    css = REPORT_CSS.read_text()
    minima = re.findall(r"minmax\(([^;}]*?),1fr\)", css)
    assert minima and all(re.fullmatch(r"min\(\d+px,100%\)", m) for m in minima), minima


def test_an_interval_is_written_one_way_everywhere(report):
    """The effect read "(+1,2…+3,4)", the estimates "(69,4–73,8)": one en dash, spaced where a
    bound carries a sign."""
    assert interval(69.12, 71.9, "sv") == "69,1–71,9" and interval(69.12, 71.9, "en") == "69.1–71.9"
    assert interval(-3.14, -1.2, "nb") == "\u22123,1 – \u22121,2" and interval(0.4, 2, "sv", signed=True) == "+0,4 – +2"
    assert interval(-3.14, -1.2, "en") == "-3.1 – -1.2"
    assert interval(None, 3.0, "en") == "–"
    for lang in LANGUAGES:
        page = html.render(report, lang)
        assert "…" not in re.sub(r"<style>.*?</style>", "", page, flags=re.S)


def test_the_report_sections_tables_have_header_rows_and_scopes(report):
    """Every table of the report's own sections (drivers, alerts, and the chart tables) names its
    headers' scope, so a screen reader says which column and row a figure is in."""
    page = html.render(report, "en")
    for section in ("drivers", "alerts", "trends", "heatmap"):
        body = re.search(rf'<section id="{section}">(.*?)</section>', page, flags=re.S).group(1)
        for table in re.findall(r"<table[ >].*?</table>", body, flags=re.S):
            assert "<thead>" in table and "<th>" not in table, (section, table[:200])


def test_the_reports_text_colours_read_at_aa_on_the_page_and_the_cards():
    """report.css's greys and green were #7b8794 (3.66:1 on white) and #16a34a (3.3:1): every text
    colour of a rule without its own background now reads at 4.5:1 on the white cards and on the
    page's grey; the charts' muted text is drawn in such a grey too."""
    css = re.sub(r"/\*.*?\*/", "", (Path(html.__file__).parent / "templates" / "report" / "report.css").read_text(),
                 flags=re.S)
    page = re.search(r"(?m)^body\{[^}]*background:(#[0-9a-f]{6})", css).group(1)
    checked = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        colour = re.search(r"(?:^|;)(?:color|fill):(#[0-9a-fA-F]{6})", body)
        if not colour or "background" in body or selector.strip().startswith("header"):
            continue
        for ground in ("#ffffff", page):
            assert svg.contrast(colour.group(1), ground) >= 4.5, (selector.strip(), colour.group(1), ground)
        checked.append(selector.strip())
    assert {".note", ".flat", ".good", "footer", 'svg.chart text[fill="#7b8794"]'} <= set(checked), checked


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_pareto_is_also_a_table(report, lang):
    """WCAG 1.1.1: the Pareto charts' figures were in the SVG only (its bars' tooltips; the
    complaints' uplift table has other figures); each is also a table in <details>, as the
    heatmap's and the trend's: reason, n, share, cumulative share."""
    import copy
    praised = copy.deepcopy(report)
    d = next(d for d in praised["drivers"] if d["pareto"])
    d["praise"] = d["pareto"]                 # as a kiosk asking why after every answer has it
    page = html.render(praised, lang)
    for prefix, rows in (("pareto-table-", d["pareto"]), ("praise-table-", d["praise"])):
        table = _details(page, prefix).get(f"{prefix}{d['question_id']}")
        assert table is not None, f"no table {prefix}"
        assert f"<summary>{t('show_table', lang)}</summary>" in table
        assert table.count('<th scope="col"') == 4
        labels = html.reason_labels(lang)
        for r in rows:
            row = re.search(rf'<th scope="row"[^>]*>{re.escape(labels.get(r["reason"], r["reason"]))}</th>(.*?)</tr>',
                            table).group(1)
            assert [c for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] == [
                figure(r["n"], lang), percent(r["share"], lang), percent(r["cumulative"], lang)]
    assert all(f'id="pareto-table-{x["question_id"]}"' in page for x in praised["drivers"] if x["pareto"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_rankings_mean_line_is_written_and_reads_at_3_to_1(report, lang):
    """WCAG 1.1.1 and 1.4.11: the ranking's dashed line, the mean of the sites' answers, was
    #f97316 (2.8:1 on white) and its value was nowhere as text."""
    page = html.render(report, lang)
    charts = re.findall(r'<svg class="chart" data-chart="ranking-([^"]+)".*?</svg>', page, flags=re.S)
    assert charts
    for qid in charts:
        svg_text = re.search(rf'<svg class="chart" data-chart="ranking-{qid}".*?</svg>', page, flags=re.S).group(0)
        q = next(q for q in report["questions"] if q["id"] == qid)
        mean = next(s for s in report["summary"] if s["question_id"] == qid)[q["metric"]]["value"]
        if mean is None:
            continue
        name = re.search(r"<title>(.*?)</title>", svg_text, flags=re.S).group(1)
        assert t("ranking_mean", lang, value=figure(mean, lang)) in name, name
        [stroke] = re.findall(r'<line [^>]*stroke="(#[0-9a-f]{6})" stroke-dasharray', svg_text)
        assert svg.contrast(stroke, "#ffffff") >= 3, stroke
