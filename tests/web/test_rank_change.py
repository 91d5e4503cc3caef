"""The sites page's change in rank is shown only where the intervals back it. A statistician
found +9, +8, −8 printed for sites of a 14-site chain that the page itself called "no detectable
difference" from the leader, whose true quality had not changed: places swapped by chance. Such
a move now reads "≈" (its words in the caption's legend, so a phone needs no hover), kept places
"=" and a site not ranked before "new", where both were "–". The JSON and CSV keep
`rank_change` and add `rank_change_verdict`. In process, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.web import render
from server_sync.web.pages import sites
from tests.analysis.seeding import add_question, add_site, answer, commit
from tests.web import in_process

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
PERIOD = "from=2026-11-01&to=2026-11-28"                  # the previous period: 2026-10-04 … 10-31
SITES = [f"s{i:02d}" for i in range(15)]


def _answers(site: str, first: datetime, faces: dict[int, int]) -> list[dict]:
    """`faces` (face -> answers) spread over the 28 days from `first`."""
    values = [face for face, n in faces.items() for _ in range(n)]
    return [answer(site, first + timedelta(days=i % 28, hours=9, minutes=i % 50), v) for i, v in enumerate(values)]


@pytest.fixture
def chain(central_db):
    """15 sites, each within the leader's interval in both periods, in the opposite order in the
    previous one (the middle one keeps its place); one ranked now but with too few answers before,
    one with too few now."""
    for s in SITES + ["new", "tiny"]:
        add_site(central_db, s, "UTC")
    add_question(central_db)
    rows = []
    for k, s in enumerate(SITES):
        rows += _answers(s, datetime(2026, 11, 1), {4: 100 + 6 * k, 3: 60, 2: 25, 1: 15})
        rows += _answers(s, datetime(2026, 10, 4), {4: 100 + 6 * (14 - k), 3: 60, 2: 25, 1: 15})
    rows += _answers("new", datetime(2026, 11, 1), {4: 95, 3: 60, 2: 25, 1: 15})      # ranked last
    rows += _answers("new", datetime(2026, 10, 4), {4: 5})
    rows += _answers("tiny", datetime(2026, 11, 1), {4: 5})
    commit(central_db, rows)
    return central_db


def _cells(page: str, lang: str) -> dict[str, str]:
    """The list's change-in-rank cell of each site (by its link, which carries the page's period),
    its markup kept."""
    label = re.escape(render.text("rank_change", lang))
    rows = re.findall(rf'<a href="/sites/([^"?]+)(?:\?[^"]*)?">[^<]*</a>.*?data-label="{label}">(.*?)</td></tr>', page)
    return {site: html.unescape(cell) for site, cell in rows}


@pytest.mark.parametrize("lang, new, legend", [
    ("en", "new", "≈: moved within noise; =: kept its place; new: not ranked in the previous period."),
    ("sv", "ny", "≈: flyttade inom bruset; =: behöll sin plats; ny: utan placering förra perioden."),
    ("nb", "ny", "≈: flyttet innenfor støyen; =: beholdt plassen; ny: uten plassering forrige periode.")])
def test_places_swapped_within_noise_read_as_such_and_kept_and_new_differ(chain, lang, new, legend):
    page, rows, result = in_process.shown(sites.build, chain, NOW, "/sites", PERIOD, lang)
    ranking = {r["site_id"]: r for r in result.data["ranking"]}
    assert {r["vs_leader"] for s, r in ranking.items() if s in SITES} == {"leader", "no_detectable_difference"}
    assert ranking["s14"]["rank_change"] == 14 and ranking["s00"]["rank_change"] == -14   # kept in the figures
    cells = _cells(page, lang)
    within = render.text("rank_within_noise", lang)
    assert {cells[s] for s in SITES if s != "s07"} == {f'<abbr title="{within}">≈</abbr>'}
    assert cells["s07"] == f'<abbr title="{render.text("rank_kept", lang)}">=</abbr>'
    assert (cells["new"], cells["tiny"]) == (new, "–")
    assert not [c for c in cells.values() if re.search(r"[+−-]\d", c)]       # no move printed as real
    assert html.unescape(page).count(legend) == 1                            # the list's caption says it
    # The downloads keep the count of places and add the verdict the page shows it by.
    said = {(r["site_id"], r["metric"]): r["value"] for r in rows if r["section"] == "ranking"}
    assert (said[("s14", "rank_change")], said[("s14", "rank_change_verdict")]) == ("14", "within_noise")
    assert said[("s07", "rank_change_verdict")] == "kept_place"
    assert said[("new", "rank_change_verdict")] == "not_ranked_before"
    assert said[("s14", "previous_vs_leader")] == "no_detectable_difference"


@pytest.mark.parametrize("lang", ["en", "sv", "nb"])
def test_a_day_with_answers_but_no_site_ranked_says_so_not_no_answers(chain, lang):
    """One day: every site has answers, none the 30 to be ranked. The ranking chart read "No
    answers in the period", its name a dashed mean line that was not drawn, above a list of the
    same sites with their answers."""
    from server_sync.report.i18n import t
    page, _, result = in_process.shown(sites.build, chain, NOW, "/sites", "from=2026-11-28&to=2026-11-28", lang)
    assert result.data["ranking"] and all(r["rank"] is None for r in result.data["ranking"])
    page = html.unescape(page)
    assert t("no_data", lang) not in page
    assert t("ranking_none_ranked", lang, n=30) in page
    assert t("ranking_mean", lang, value="") not in page and t("ranking_note", lang) not in page
