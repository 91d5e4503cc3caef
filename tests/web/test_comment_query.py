"""The comments query with many sites (a region, the chain) and the brief report, on both engines
over a small generated chain, in process (no server): what the web_pages benchmark found slow or
wrong under 50 users (benchmarks/README.md, web_pages)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from seeds.comments import add_comments
from seeds.history import HistorySpec, generate
from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.dialect import SQLITE, dialect_of
from server_sync.web.queries import PER_SITE_UP_TO, CommentFilter, comments

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _seeded(db):
    generate(db, HistorySpec(sites=PER_SITE_UP_TO + 5, days=3, answers_per_day=12, seed=5),
             progress=lambda *a: None)
    add_comments(db, share=0.6)
    return db


@pytest.fixture
def chain(central_db):
    return _seeded(central_db)


@pytest.fixture
def sqlite_chain(tmp_path):
    from server_sync.central.db import connect
    db = connect(f"sqlite:///{tmp_path / 'central.db'}")
    try:
        yield _seeded(db)
    finally:
        db.close()


def every_comment(db) -> list[dict]:
    out, page = [], 1
    while True:
        rows, more = comments(db, CommentFilter(page=page))
        out += rows
        if not more:
            return out
        page += 1


def test_many_sites_with_filters_find_what_the_filters_say(chain):
    """More sites than are read one by one, with a question, a score and dates: the parameters
    once reached the wrong placeholders (question bound to a site id) and no comment was shown."""
    everything = every_comment(chain)
    sites = tuple(r[0] for r in chain.execute_sql("SELECT id FROM site ORDER BY id"))[:PER_SITE_UP_TO + 2]
    assert len(sites) > PER_SITE_UP_TO and {c["site_id"] for c in everything} - set(sites)
    question = everything[0]["question_id"]
    score = everything[0]["value"]
    day = everything[0]["local_time"][:10]
    cases = [(CommentFilter(sites=sites, question=question), lambda c: c["question_id"] == question),
             (CommentFilter(sites=sites, score=score), lambda c: c["value"] == score),
             (CommentFilter(question=question, date_from=day, date_to=day),
              lambda c: c["question_id"] == question and c["local_time"][:10] == day),
             (CommentFilter(sites=sites, question=question, score=score, date_from=day),
              lambda c: c["question_id"] == question and c["value"] == score and c["local_time"][:10] >= day)]
    for f, wanted in cases:
        expected = [c["id"] for c in everything if (f.sites is None or c["site_id"] in f.sites) and wanted(c)]
        rows, more = comments(chain, f)
        assert expected, f
        assert [c["id"] for c in rows] == expected[:len(rows)] and len(rows) == min(50, len(expected)), f
        assert more == (len(expected) > 50)


def test_sqlite_walks_the_comments_newest_first_for_many_sites(sqlite_chain):
    """Without ANALYZE statistics SQLite read a region's comments through the answers' site index
    and sorted all of them (8.4 s for 65 of 200 sites over 10 M answers); the query keeps the
    comments' own index as the outer loop."""
    chain = sqlite_chain
    assert dialect_of(chain) is SQLITE
    sites = tuple(r[0] for r in chain.execute_sql("SELECT id FROM site ORDER BY id"))[:PER_SITE_UP_TO + 1]
    seen = []
    execute = chain.execute_sql

    def spy(sql, params=None, *a, **k):
        seen.append((sql, params))
        return execute(sql, params, *a, **k)
    chain.execute_sql = spy
    try:
        comments(chain, CommentFilter(sites=sites))
    finally:
        chain.execute_sql = execute
    sql, params = seen[-1]
    plan = [row[3] for row in chain.execute_sql("EXPLAIN QUERY PLAN " + sql, params)]
    assert plan[0].startswith("SCAN f USING INDEX followup_comment_time"), plan


def test_the_brief_report_reads_no_kiosks(chain):
    """The overview and the ranking show no kiosks; reading them from the hourly rollup was most
    of a region's brief report."""
    sites = tuple(r[0] for r in chain.execute_sql("SELECT id FROM site ORDER BY id"))[:3]
    f = ReportFilter(sites)
    full = chain_report.build(chain, f, now=NOW)
    brief = chain_report.build(chain, f, now=NOW, brief=True)
    assert full["kiosks"] and brief["kiosks"] == []
    assert brief["summary"] == full["summary"] and brief["ranking"] == full["ranking"]


def test_the_question_filter_says_which_questions_the_centre_never_defined():
    """A question only seen in answers (a kiosk may have made it up) was listed by its id alone,
    as if it were one of the chain's; it is named as the report names it, in each language."""
    from server_sync.web.pages.comments import question_choices
    catalogue = {"visit": {"id": "visit", "scale": "smiley4", "defined": True,
                           "text": {"sv": "Hur var ditt besök?", "en": "How was your visit?"}},
                 "zz": {"id": "zz", "scale": "nps11", "defined": False, "text": {}}}
    assert question_choices(catalogue, "en") == [
        ("visit", "How was your visit?"), ("zz", "zz (not defined by the centre: nps11, a separate series)")]
    assert question_choices(catalogue, "sv")[1] == ("zz", "zz (inte definierad av centralen: nps11, en egen serie)")
    assert question_choices(catalogue, "nb")[0] == ("visit", "visit")      # no Norwegian wording: its id
