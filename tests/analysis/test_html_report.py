"""The HTML report opened in headless Chromium: no console errors, every chart present, nothing
fetched from the network; screenshots (phone and desktop width) kept in tests/artifacts/report/.
Text from the store cannot break out of the page; every language renders."""

from __future__ import annotations

import base64
import copy
from html import unescape as html_unescape
import re
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from seeds.history import HistorySpec, generate
from server_sync.analysis import actions, alerts, chain_report
from server_sync.analysis.drivers import ReasonCount, best_vs_rest
from server_sync.analysis.queries import ReportFilter
from server_sync.central.db import connect
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.report import html
from tests.analysis.seeding import answer, commit

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "report"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    db = connect(f"sqlite:///{tmp_path_factory.mktemp('html') / 'central.db'}")
    try:
        result = generate(db, HistorySpec(sites=12, days=120, answers_per_day=35, dips_per_year=4, seed=11))
        actions.add(db, "s003", "visit", "2026-10-01", "Självscanning i kassan", now=NOW)
        # A week of asking why after every answer (`followup.mode = "every"`): praise, charted apart.
        happy = [answer(f"s{1 + i % 12:03d}", datetime(2026, 11, 10 + i % 7, 9 + i % 8, i % 60), 3 + i % 2)
                 for i in range(90)]
        commit(db, happy, reasons={r["id"]: [("staff", "cleanliness", "staff", "availability", "queue")[i % 5]]
                                   for i, r in enumerate(happy)})
        alerts.check_trend(db, datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc))
        for dip in result.dips:                         # alerts on the seeded dips, for the alerts table
            if dip["to"] >= "2026-08-25":
                alerts.check_trend(db, datetime.fromisoformat(dip["to"] + "T16:00:00+00:00"))
        yield chain_report.build(db, ReportFilter(date_from="2026-08-25", date_to="2026-11-22"), now=NOW)
    finally:
        db.close()


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/system-deps.sh)")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=90)


def expected_charts(report: dict) -> list[str]:
    """The data-chart names an HTML rendering of `report` must contain."""
    questions = {q["id"]: q for q in report["questions"]}
    names = [f"trend-{tr['question_id']}" for tr in report["trends"]]
    names += [f"heatmap-{h['question_id']}" for h in report["heatmap"]
              if questions[h["question_id"]]["audience"] == "customer"]
    names += [f"ranking-{q}" for q, v in questions.items() if v["audience"] == "customer"]
    names += [f"pareto-{d['question_id']}" for d in report["drivers"] if d["pareto"]]
    names += [f"praise-{d['question_id']}" for d in report["drivers"] if d["praise"]]
    names += [f"action-{a['id']}" for a in report["actions"][-12:]]
    names.append("pulse-scatter")
    return names


def test_html_report_in_headless_chromium(report, tmp_path):
    page = tmp_path / "report.html"
    text = html.render(report, "sv")
    page.write_text(text, encoding="utf-8")
    # Self-contained: no script, no stylesheet or image fetched from anywhere.
    assert "<script" not in text and not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert len(re.findall(r"https?://", text)) == text.count('xmlns="http://www.w3.org/2000/svg"')

    dom = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The page has no script, so any console line at all (Chromium logs them as INFO:CONSOLE,
    # whatever their level) is an error; "Uncaught" catches script errors were one ever added.
    errors = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert errors == []
    charts = set(re.findall(r'<svg class="chart" data-chart="([^"]+)"', dom.stdout))
    expected = set(expected_charts(report))
    assert expected <= charts
    assert {"trend-visit", "heatmap-visit", "ranking-visit", "pareto-visit", "praise-visit", "pulse-scatter"} <= charts
    assert any(c.startswith("action-") for c in charts)
    assert "Självscanning i kassan" in dom.stdout and "Nöjdindex" in dom.stdout

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(page, ARTIFACTS / "report-sv.html")
    (ARTIFACTS / "report-en.html").write_text(html.render(report, "en"), encoding="utf-8")
    # The whole page, top to bottom: a fixed 1100x3200 window stopped partway down the report.
    from tests.web.test_browser import LEGIBLE_PX, SMALL_CHART_TEXT_JS, browser
    driver = browser()
    small = []
    try:
        for name, width in (("phone", 412), ("desktop", 1100)):
            shot = ARTIFACTS / f"report-{name}.png"
            shot.unlink(missing_ok=True)
            height = full_page_screenshot(driver, page.as_uri(), shot, width, lambda: small.extend(
                f"{name}: {c}" for c in driver.execute_script(SMALL_CHART_TEXT_JS, LEGIBLE_PX)))
            assert shot.stat().st_size > 20_000 and png_size(shot) == (width, height), (name, png_size(shot), height)
    finally:
        driver.quit()
    assert small == []          # every chart's text legible on a phone, not only on a desktop


def full_page_screenshot(driver, uri: str, path: Path, width: int, inspect=lambda: None) -> int:
    """`uri` at `width` CSS px (a phone's viewport under 600) saved whole as a PNG, however long,
    through the DevTools' capture beyond the viewport; returns the page's height. `inspect` is
    called with the page open at that width."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.get(uri)
    inspect()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return height


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height, from its IHDR chunk."""
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_other_languages_render(report):
    en, nb = html.render(report, "en"), html.render(report, "nb")
    assert 'lang="en"' in en and "Happy Index" in en and "Drivers" in en
    assert 'lang="nb"' in nb and "Fornøydindeks" in nb


def test_text_from_the_store_is_escaped_in_the_page_and_in_the_charts(report):
    evil = "<script>alert(1)</script>&"
    r = copy.deepcopy(report)
    r["questions"][0]["text"] = {lang: evil for lang in LANGUAGES}
    r["ranking"][0]["name"] = evil                        # an SVG label and tooltip
    r["actions"][-1]["note"] = evil                       # page text and an SVG title
    r["filters"]["sites"] = [evil]
    r["alerts"] = [{"raised_at": "2026-11-20 16:00:00", "site_id": evil, "kind": "trend", "message": evil,
                    "ack_comment": None, "acked_at": None}]
    r["kiosks"] = [{"site_id": "s001", "name": evil, "kiosk_id": evil, "question_id": "visit", "n": 3,
                    "happy_index": {"value": 50.0, "low": 10.0, "high": 90.0, "small": True}}]
    page = html.render(r, "en")
    assert "<script" not in page and "alert(1)</" not in page
    escaped = page.count("&lt;script&gt;alert(1)&lt;/script&gt;&amp;")
    assert escaped >= 10, escaped
    assert 'id="kiosks"' in page and '<span class="small">small sample</span>' in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_section_renders_in_every_language_also_without_data(report, lang):
    empty = dict(copy.deepcopy(report), period=None, summary=[], sites=[], ranking=[], kiosks=[], trends=[],
                 heatmap=[], drivers=[], actions=[], alerts=[], pulse={"sites": [], "correlation": None, "min_n": 0})
    for r in (report, empty):
        page = html.render(r, lang)
        assert f'<html lang="{lang}">' in page
        assert re.findall(r'<section id="([a-z]+)"', page) == ["summary", "trends", "heatmap", "ranking", "drivers",
                                                                "actions", "pulse", "alerts"]


def test_the_page_names_sites_shows_local_times_and_says_when_a_list_is_cut(report):
    assert report["alerts"], "the fixture seeds alerts on its dips"
    page = html.render(report, "en")
    a = report["alerts"][-1]
    assert a["site_name"] in page and a["raised_local"] in page and a["timezone"] in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)", page)
    assert "Gain (points)" in page and "Without these complaints" in page and ">→<" not in page
    assert not re.search(r"(p-value|p-värde|>) ?0\.000\b", page)          # "< 0.001", never 0.000
    many = copy.deepcopy(report)
    many["actions"] = [dict(report["actions"][-1], id=i) for i in range(26)]
    assert "Showing 12 of 26." in html.render(many, "en")


# Every text of the Pareto charts whose drawn box (getBoundingClientRect, rotation and the font's
# real widths included) reaches outside its chart's; and whether the charts have both axis titles.
PARETO_TEXT_JS = r"""
var bad=[];
document.querySelectorAll('svg[data-chart^=pareto]').forEach(function(svg){
  var c=svg.getBoundingClientRect(), titles=0;
  svg.querySelectorAll('text').forEach(function(el){var r=el.getBoundingClientRect();
    if(/rotate\((-)?90 /.test(el.getAttribute('transform')||'')) titles++;
    if(r.left<c.left-0.5||r.right>c.right+0.5||r.top<c.top-0.5||r.bottom>c.bottom+0.5)
      bad.push([svg.dataset.chart, el.textContent, Math.round(r.right-c.right)]);});
  if(titles!==2) bad.push([svg.dataset.chart, 'axis titles', titles]);});
return bad;
"""


def test_the_pareto_chart_has_room_for_its_share_labels_and_names_both_axes(report):
    """The right axis's labels were drawn from 6 px inside a fixed 40 px margin: "100 %" ran off
    the chart. By the same width estimate that sizes the margins, each label ends inside it."""
    from server_sync.report import svg
    from server_sync.report.i18n import reason_labels, t
    rows = next(d["pareto"] for d in report["drivers"] if d["pareto"])
    for lang in LANGUAGES:
        chart = str(svg.pareto_chart("p", "P", rows, reason_labels(lang), "-", lang=lang,
                                     axis_titles=(t("praise_axis", lang), t("cumulative_share", lang))))
        width = float(re.search(r'viewBox="0 0 ([\d.]+) ', chart).group(1))
        upright = re.findall(r'<text x="([\d.]+)" [^>]*text-anchor="(start|end)"[^>]*weight="\w+">([^<]*)<', chart)
        assert len(upright) > 8, upright                # the counts' and the shares' labels
        for x, anchor, text in upright:
            extent = svg._text_width(html_unescape(text), 12)
            assert (float(x) + extent <= width) if anchor == "start" else (float(x) - extent >= 0), (lang, text, x)
        assert "100\u00a0%" in chart or "100%" in chart
        assert f">{t('cumulative_share', lang)}<" in chart and f">{t('praise_axis', lang)}<" in chart


def test_the_key_columns_of_the_tables_are_on_a_phone_screen(report, tmp_path):
    """"On a phone the Δ and p columns are visible": the weekly change with its p-value, the
    alerts' message, the uplift and best-against-rest figures sat beyond a 390 px screen's edge in
    boxes with no hint that they scroll. Each row is a card there now, every cell named by its
    column; at desktop width the tables are as they were (their headers in view)."""
    from server_sync.report.i18n import t
    from tests.web.test_browser import browser, key_columns_on_a_phone
    keys = ("week_change", "message", "p_value", "difference", "uplift_gain", "uplift_without", "complaints")
    driver = browser()
    try:
        for lang in LANGUAGES:
            page = tmp_path / f"report-{lang}.html"
            page.write_text(html.render(report, lang), encoding="utf-8")
            for width in (390, 1280):
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                       {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": width < 600})
                driver.get(page.as_uri())
                driver.execute_script("document.querySelectorAll('details').forEach(function(d){d.open=true;})")
                seen, bad = key_columns_on_a_phone(driver, [t(k, lang) for k in keys])
                # The Pareto charts' texts (the right axis's "100 %" was cut off) inside their chart.
                cut = driver.execute_script(PARETO_TEXT_JS)
                assert cut == [], (lang, width, cut)
                assert seen > 50 and bad == [], (lang, width, seen, bad)
                assert driver.execute_script("return document.documentElement.scrollWidth") <= width
                if lang == "sv":
                    height = driver.execute_script("return document.documentElement.scrollHeight")
                    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                           {"width": width, "height": min(height, 16000), "deviceScaleFactor": 1,
                                            "mobile": width < 600})
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    driver.save_screenshot(str(ARTIFACTS / f"report-tables-{width}.png"))
    finally:
        driver.quit()


def test_a_change_and_an_effect_say_they_are_points(report):
    """The summary's change ("+2,7") and an action's effect ("-0,7") were bare numbers, where the
    rest of the report says points."""
    words = {"sv": ("Förändring mot föregående period", "Effekt", "poäng"), "nb": (None, "Effekt", "poeng"),
             "en": ("Change vs previous period", "Effect", "points")}
    for lang, (change, effect, points) in words.items():
        page = html.render(report, lang)
        number = r"[+-]\d+[.,]\d"
        if change:
            assert re.search(f"{change}: {number}\u00a0{points} ·", page), lang
        assert re.search(f"{effect} {number}\u00a0{points} \\(", page), lang
        assert not re.search(f"{effect} {number} \\(", page), lang
        # The weekly table's change against the week before, too.
        trends = page.split('<section id="trends">')[1]
        cells = re.findall(r'<td class=num data-label="[^"]+">([^<]*\(\[?[^<]*)</td>', trends)
        changes = [c for c in cells if re.match(number, c)]
        assert changes and all(re.match(f"{number}\u00a0{points} \\(", c) for c in changes), (lang, changes[:3])


def test_the_header_says_when_the_report_was_made_on_a_wall_clock(report):
    """It read "Skapad 2026-12-05T04:49:40+00:00", the stored UTC stamp; now a local time with its
    zone, as the alerts' times are shown."""
    r = dict(report, generated_at="2026-12-05T04:49:40+00:00")
    header = html.render(r, "sv").split("</header>", 1)[0]
    assert "Skapad 2026-12-05 05:49 CET" in header and "T04:49" not in header
    assert r["timezone"] == "Europe/Stockholm"                                  # its sites' zone
    summer = dict(r, generated_at="2026-07-01T10:00:00+00:00", alerts=[])
    assert "Generated 2026-07-01 12:00 CEST" in html.render(summer, "en").split("</header>", 1)[0]
    # A chain in India without an alert: its own clock, not the site table's default.
    kolkata = dict(r, generated_at="2026-07-01T10:00:00+00:00", alerts=[], timezone="Asia/Kolkata")
    assert "Generated 2026-07-01 15:30 IST" in html.render(kolkata, "en").split("</header>", 1)[0]


def test_the_report_names_the_zone_most_of_its_sites_keep(tmp_path):
    from tests.analysis.seeding import add_site
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        assert chain_report.report_zone(db, ()) == "Europe/Stockholm"               # no sites yet
        for sid, zone in (("s1", "Asia/Kolkata"), ("s2", "Asia/Kolkata"), ("s3", "Europe/Oslo")):
            add_site(db, sid, zone)
        assert chain_report.report_zone(db, ()) == "Asia/Kolkata"
        assert chain_report.report_zone(db, ("s3",)) == "Europe/Oslo"
        assert chain_report.report_zone(db, ("s1", "s3")) == "Asia/Kolkata"        # a tie: the first by name
        assert chain_report.build(db, ReportFilter(sites=("s3",)), now=NOW)["timezone"] == "Europe/Oslo"
    finally:
        db.close()


def test_an_actions_effect_names_its_99_percent_interval_and_the_footer_says_95_unless_marked(report):
    """The footer said every interval was a 95 % one; an action's effect is judged at 99 %
    (effects.ALPHA) and its interval stood beside it unlabelled."""
    from server_sync.analysis.effects import ALPHA
    from server_sync.report.figures import percent
    from server_sync.report.i18n import REPORT_TEXTS
    assert any(a.get("test") for a in report["actions"])
    for lang in LANGUAGES:
        page = html_unescape(html.render(report, lang))
        section = page.split('<section id="actions"', 1)[1].split("</section>", 1)[0]
        label = REPORT_TEXTS.text("ci_at", lang, level=percent((1 - ALPHA) * 100, lang, 0))
        assert label.startswith("99") and f"({label} " in section, lang
        assert REPORT_TEXTS.text("footer", lang) in page
        assert ("anges" if lang == "sv" else "oppgitt" if lang == "nb" else "unless marked") in page, lang


# The heatmap cells' n (the 11 px text under each cell's bold value): its rendered heights, the
# scroll hint's display, and whether the page itself stays within the screen.
HEATMAP_N_JS = """
const heights = [];
document.querySelectorAll('svg[data-chart^="heatmap-"] text[font-size="11"]').forEach(function(t) {
  const before = t.previousElementSibling;
  if (before && before.tagName === 'text' && before.getAttribute('font-weight') === 'bold')
    heights.push(t.getBoundingClientRect().height);
});
const hint = document.querySelector('#heatmap .scroll-hint');
return [heights, hint ? getComputedStyle(hint).display : null, document.documentElement.scrollWidth];
"""


def test_the_heatmaps_n_stays_legible_on_a_phone(report, tmp_path):
    """At 390 px `svg.chart{width:100%}` scaled the 566 px heatmap to 358 px and each cell's n to
    about 7 px. It keeps its width now in a box that scrolls sideways, with a hint shown only
    on a narrow screen."""
    from tests.web.test_browser import browser
    page = tmp_path / "report-sv.html"
    page.write_text(html.render(report, "sv"), encoding="utf-8")
    driver = browser()
    try:
        for width in (390, 1280):
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": width < 600})
            driver.get(page.as_uri())
            heights, hint, page_width = driver.execute_script(HEATMAP_N_JS)
            assert len(heights) > 50 and min(heights) >= 10, (width, min(heights))
            assert hint == ("block" if width < 600 else "none") and page_width <= width, (width, hint, page_width)
    finally:
        driver.quit()


def test_every_action_chart_states_its_range(report):
    """An action's before/after mini-chart had no axis; it states its range ("Skala 60–90 av 0–100")."""
    from server_sync.report.i18n import t
    for lang in LANGUAGES:
        page = html_unescape(html.render(report, lang))
        charts = re.findall(r'<svg class="chart" data-chart="action-.*?</svg>', page, flags=re.S)
        prefix = t("scale_range", lang, lo="{lo}", hi="{hi}", min=0, max=100).split("{lo}")[0]
        assert charts and all(f">{prefix}" in c for c in charts), lang


def test_best_vs_rest_says_when_its_sites_are_too_few_to_single_out_an_area(report):
    """Eight sites give 28 ways to choose the best two: with six areas an adjusted p under 0.05
    needs the best sites to be the most extreme on nearly every area at once (an independent
    review: one chain in 1,000), so the table says so rather than show a column of p >= 0.07."""
    few = copy.deepcopy(report)
    sites = [f"s{i}" for i in range(8)]
    reasons = {s: {r: ReasonCount(*[5 + (i * 7 + j * 3) % 11] * 3) for j, r in enumerate("abcdef")}
               for i, s in enumerate(sites)}
    drivers = next(d for d in few["drivers"] if d.get("best_vs_rest"))
    drivers["best_vs_rest"] = best_vs_rest(sites, {s: 300 for s in sites}, reasons)
    assert drivers["best_vs_rest"]["share_few_splits"] and drivers["best_vs_rest"]["share_splits"] == 28
    text = html_unescape(html.render(few, "en"))
    assert text.count("Only 28 ways to choose the best group among these 8 sites: too few to single out one "
                      "of 6 areas.") == 1                                  # the mix (per 100 answers: no test)
    assert "ways to choose the best group" not in html_unescape(html.render(report, "en"))
    # And the CSV, whose per-reason p-values a reader would otherwise take at face value.
    from server_sync.report import tabular
    flags = {r["metric"]: r["value"] for r in tabular.csv_rows(few) if r["section"] == "best_vs_rest"
             and r["question_id"] == drivers["question_id"] and r["metric"] in ("share_few_splits", "tied")}
    assert flags == {"share_few_splits": "true", "tied": "false"}


def test_best_vs_rest_says_when_there_is_no_best_group_or_no_mix(report):
    """A ranking that ties the best quarter with the rest has no comparison, and the page says so
    in each language; where the best sites mention no reason there is no mix, and the per-100
    note no longer points to one (it said "the mix below" over nothing)."""
    from server_sync.report.i18n import t
    tied, no_mix = copy.deepcopy(report), copy.deepcopy(report)
    sites = [f"s{i}" for i in range(8)]
    drivers = next(d for d in tied["drivers"] if d.get("best_vs_rest"))
    drivers["best_vs_rest"] = best_vs_rest(sites, {s: 300 for s in sites}, {s: {"queue": ReasonCount(4, 4, 4)} for s in sites},
                                           ranks={s: 1 for s in sites})
    reasons = {s: ({} if i < 2 else {"queue": ReasonCount(4 + i, 4 + i, 4 + i), "price": ReasonCount(3, 3, 3)}) for i, s in enumerate(sites)}
    drivers = next(d for d in no_mix["drivers"] if d.get("best_vs_rest"))
    drivers["best_vs_rest"] = best_vs_rest(sites, {s: 300 for s in sites}, reasons)
    assert all(r["share_difference"] is None for r in drivers["best_vs_rest"]["reasons"])
    for lang in LANGUAGES:
        text = html_unescape(html.render(tied, lang))
        assert text.count(t("best_vs_rest_tied", lang)) == 1, lang
        text = html_unescape(html.render(no_mix, lang))
        assert t("best_vs_rest_note", lang) in text and t("best_vs_rest_see_mix", lang) not in text.split(
            t("best_vs_rest_note", lang))[1][:400], lang
        assert t("best_vs_rest_mix", lang) not in text.split(t("best_vs_rest_note", lang))[1][:3000], lang


def test_best_vs_rest_says_what_each_table_can_tell(report):
    """Per 100 answers the best get fewer complaints about nearly every area for having fewer
    unhappy customers (and by chance, being chosen by the same answers): the table said "What the
    best do differently", which only the mix can tell. Each table says what it shows."""
    for lang, per_100, mix in (("en", "Complaints per 100 answers", "Mix of complaints"),
                               ("sv", "Klagomål per 100 svar", "Klagomålens fördelning"),
                               ("nb", "Klager per 100 svar", "Klagenes fordeling")):
        text = html_unescape(html.render(report, lang))
        notes = re.findall(r"<h3>([^<]*)</h3><p class=note>([^<]*)</p>", text)
        per_100_notes = [note for title, note in notes if title.startswith(per_100)]
        mix_notes = [note for title, note in notes if title.startswith(mix)]
        assert per_100_notes and len(per_100_notes) == len(mix_notes), lang
        assert all(("chance" in n if lang == "en" else "slump" in n if lang == "sv" else "tilfeldighet" in n)
                   for n in per_100_notes), lang
        assert "What the best do differently" not in text and "gör annorlunda" not in text
        # Per 100 answers no p-value (no null it could hold); the mix's p adjusted across its reasons.
        from server_sync.report.i18n import t
        p_head = t("p_adjusted", lang)
        assert all(p_head not in body for title, body in re.findall(r"<h3>([^<]*)</h3>(.*?)</table>", text, flags=re.S)
                   if title.startswith(per_100)), lang
        assert all(p_head in body for title, body in re.findall(r"<h3>([^<]*)</h3>(.*?)</table>", text, flags=re.S)
                   if title.startswith(mix)), lang
        # The mix's test is like for like (each face apart): its difference has a column, and
        # the note names the levels held apart, the faces on a smiley question.
        like = t("difference_like_for_like", lang)
        assert all(like in body and like not in t("difference", lang)
                   for title, body in re.findall(r"<h3>([^<]*)</h3>(.*?)</table>", text, flags=re.S)
                   if title.startswith(mix)), lang
        faces = t("best_vs_rest_like_for_like_note", lang, levels=t("best_vs_rest_levels_faces", lang))
        assert faces + " " + t("best_vs_rest_like_for_like_faces", lang) in text, lang
        # On nps11 (the fixture's recommend question) the detractors are one level, and it says so.
        negative = t("best_vs_rest_like_for_like_note", lang, levels=t("best_vs_rest_levels_negative", lang))
        assert negative + "</p>" in text, lang
    assert not any(d["best_vs_rest"]["share_few_splits"] for d in report["drivers"] if d.get("best_vs_rest"))


def test_a_drivers_section_with_nothing_to_show_says_none(report):
    """Without a question's complaints or praise the Drivers section was an empty card, where
    Actions and Alerts say "None"."""
    from server_sync.report.i18n import t
    question = report["drivers"][0]["question_id"]
    for drivers in ([], [{"question_id": question, "pareto": [], "praise": []}]):
        r = dict(copy.deepcopy(report), drivers=drivers)
        for lang in LANGUAGES:
            page = html.render(r, lang)
            section = page[page.index('<section id="drivers"'):]
            section = section[:section.index("</section>")]
            assert f'<p class="note">{t("none", lang)}</p>' in section, (lang, drivers)
    page = html.render(report, "en")
    section = page[page.index('<section id="drivers"'):]
    assert '<p class="note">None</p>' not in section[:section.index("</section>")]



def test_a_ranking_with_answers_but_no_site_ranked_says_so_not_no_answers(report):
    """A period whose sites all had fewer answers than --min-ranked-n read "No answers in the
    period" under the summary's n=25 for the same answers, and named a dashed mean line (and the
    dots and rings of a legend) for a chart that drew none. It says no site has the answers needed
    to be ranked, counts the sites not ranked, and names no line or dot."""
    from server_sync.report.i18n import t
    r = copy.deepcopy(report)
    r["filters"]["min_ranked_n"] = 5000
    for row in r["ranking"]:
        row.update(rank=None, vs_leader="not_ranked")
    sites = len({row["site_id"] for row in r["ranking"] if row["question_id"] == "visit"})
    for lang in LANGUAGES:
        page = html_unescape(html.render(r, lang))
        section = page[page.index('<section id="ranking"'):]
        section = section[:section.index("</section>")]
        assert t("no_data", lang) not in section, lang
        assert t("ranking_none_ranked", lang, n=5000) in section, lang
        assert t("ranking_unranked", lang, sites=sites, n=5000, counted=sites) in section, lang
        assert t("ranking_mean", lang, value="") not in section, lang           # no dashed line named
        assert t("ranking_note", lang) not in section, lang                     # nor the chart's legend
    # With ranked sites the chart, its legend and its mean line are as before; without answers,
    # "no answers".
    page = html_unescape(html.render(report, "en"))
    assert "dashed line: mean" in page and "Filled dot:" in page and "No site has" not in page
    page = html_unescape(html.render(dict(copy.deepcopy(report), ranking=[]), "en"))
    assert "No answers in the period</text>" in page[page.index('<section id="ranking"'):]


def test_the_best_vs_rest_differences_carry_their_sign_as_every_change_does(report):
    """"Skillnad" read −0,41 beside 0,27: a change column's positive values are "+" as the weekly
    change's and an action's effect's are."""
    from server_sync.report.i18n import t
    for lang in LANGUAGES:
        text = html_unescape(html.render(report, lang))
        cells = [value for head in (t("difference", lang), t("difference_like_for_like", lang))
                 for value in re.findall(rf'<td class=num data-label="{re.escape(head)}">([^<]*)</td>', text)]
        positive = [c for c in cells if c not in ("–",) and not c.startswith(("−", "-")) and c.strip("0,.+") != ""]
        assert cells and positive and all(c.startswith("+") for c in positive), (lang, positive[:5])
