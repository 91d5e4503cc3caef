"""The chain's period change sums whichever sites answered: a store that opened in the period
moved a chain whose every store held still (an analyst's review: NPS 69.4 to 59.8, "worse",
p = 0.004, all of it the new store's; the four others −1.0, p = 0.61). Where some sites answered
in one period only, the report gives the change over the sites that answered in both, names the
others with their answers, in the JSON, the CSV and the summary card. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import random
from datetime import datetime, timedelta, timezone

from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.report import html as report_html
from server_sync.report import tabular
from tests.analysis.seeding import add_question, add_site, answer, commit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PERIOD = ReportFilter(date_from="2026-11-09", date_to="2026-11-22")          # previous: 10-26 … 11-08
FACES = [1, 2, 3, 4]
WEIGHTS = [1, 2, 5, 7]                                                        # Happy Index about 74


def test_a_store_new_in_the_period_is_named_and_the_others_change_is_given(central_db):
    db = central_db
    add_question(db)
    rng = random.Random(11)
    rows = []
    for site in ("s1", "s2", "s3", "s4"):
        add_site(db, site)
    for day in range(28):                                       # 26 October to 22 November
        at = datetime(2026, 10, 26, 9, 0) + timedelta(days=day)
        for site in ("s1", "s2", "s3"):                         # the same mood in both periods
            rows += [answer(site, at + timedelta(minutes=i), rng.choices(FACES, WEIGHTS)[0]) for i in range(20)]
        if day >= 14:                                           # s4 opened on 9 November, unhappily
            rows += [answer("s4", at + timedelta(minutes=i), rng.choice([1, 1, 2, 3])) for i in range(30)]
    commit(db, rows)
    report = chain_report.build(db, PERIOD, now=NOW)
    (trend,) = report["trends"]
    assert trend["change"]["verdict"] == "worse"                 # the chain: all of it s4's
    same = trend["change_same_sites"]
    assert same["sites"] == 3 and same["only_before"] == []
    assert same["only_now"] == [{"site_id": "s4", "name": "S4", "n": 14 * 30}]
    assert same["change"]["verdict"] == "no_significant_change"
    assert same["change"]["previous"]["n"] == same["change"]["current"]["n"] == 3 * 14 * 20
    rows_csv = [r for r in tabular.csv_rows(report) if r["section"].startswith("change_same_sites")]
    said = {(r["section"], r["metric"]): r for r in rows_csv}
    assert said[("change_same_sites", "only_now")]["site_id"] == "s4" and said[("change_same_sites", "only_now")]["n"] == 420
    assert said[("change_same_sites", "happy_index_diff")]["p_value"] == same["change"]["test"]["p_value"]
    assert said[("change_same_sites_current", "happy_index")]["n"] == 840
    page = html.unescape(report_html.render(report, "en"))
    assert "Sites that answered in both periods (3): " in page
    assert "Answered in one period only: S4 (n=420 this period)" in page
    # Every site in both periods: nothing more to say.
    again = chain_report.build(db, ReportFilter(sites=("s1", "s2", "s3"), date_from="2026-11-09",
                                                date_to="2026-11-22"), now=NOW)
    assert again["trends"][0]["change_same_sites"] is None
