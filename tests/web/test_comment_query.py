"""The comments query with many sites (a region, the chain) and the brief report, on both engines
over a small generated chain, in process (no server): what the web_pages benchmark found slow or
wrong under 50 users (benchmarks/README.md, web_pages)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

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
    day = every_comment(chain)[0]["local_time"][:10]
    chain.execute_sql = spy
    try:
        comments(chain, CommentFilter(sites=sites))
        undated = seen[-1]
        comments(chain, CommentFilter(sites=sites, date_from=day, date_to=day))
        dated = seen[-1]
    finally:
        chain.execute_sql = execute
    plan = [row[3] for row in chain.execute_sql("EXPLAIN QUERY PLAN " + undated[0], undated[1])]
    assert plan[0].startswith("SCAN f USING INDEX followup_comment_answered"), plan
    # With days, only the index's range of them is read (the zones' days together).
    plan = [row[3] for row in chain.execute_sql("EXPLAIN QUERY PLAN " + dated[0], dated[1])]
    assert plan[0].startswith("SEARCH f USING INDEX followup_comment_answered (answered_at>? AND answered_at<?)"), plan


# Two stores in zones six hours apart, each with an answer at 23:59:50 on 30 November whose comment
# was sent at 00:00:10 on 1 December, its own time; beside them more stores than are read one by one.
EDGE = {"edge-sthlm": "Europe/Stockholm", "edge-ny": "America/New_York"}
LOCAL_TIMES = [(datetime(2026, 11, 30, 12, 0), 20), (datetime(2026, 11, 30, 23, 59, 50), 20),
               (datetime(2026, 12, 1, 10, 0), 20)]       # (the answer's local time, seconds to its comment)


STORED_AT = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def store_comments(db, site: str, zone: str, comments_at: list[tuple[datetime, int, str]],
                   reasons: tuple[str, ...] = ("queue",)) -> None:
    """A site with a kiosk, and through ingest an answer (1, the lowest face) at each local time
    with a follow-up citing `reasons` and saying its text so many seconds later."""
    from server_sync.central import registry
    from server_sync.ingest import Ingest
    from tests.central.wire import batch, followup, response
    registry.add_site(db, site, site.title(), zone, STORED_AT.replace(tzinfo=None))
    with db.atomic():
        registry.add_kiosk(db, f"k-{site}", site, STORED_AT.replace(tzinfo=None))
    events = []
    for i, (local, delay, text) in enumerate(comments_at):
        at = local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
        answer = response(2 * i + 1, kiosk=f"k-{site}", site=site, value=1, at=at)
        events += [answer, followup(2 * i + 2, answer["id"], kiosk=f"k-{site}", comment=text, reasons=reasons,
                                    at=at + timedelta(seconds=delay))]
    Ingest(db, clock=lambda: STORED_AT).handle(*batch(events, kiosk=f"k-{site}"))


@pytest.fixture
def midnight(central_db):
    from server_sync.central import registry
    db = central_db
    for i in range(PER_SITE_UP_TO):
        registry.add_site(db, f"quiet-{i:02d}", f"Quiet {i}", "Europe/Stockholm", STORED_AT.replace(tzinfo=None))
    for site, zone in EDGE.items():
        store_comments(db, site, zone, [(local, delay, f"{site} {i}") for i, (local, delay) in enumerate(LOCAL_TIMES)])
    return db


def test_a_comment_is_on_its_answers_day_whoever_looks(midnight):
    """The review's case: the chain's comments (an admin, no site filter) were filtered by the
    comment's own time, a store's or a region's by the answer's, so 1 December listed the comment
    of 23:59:50 for the admin and not for its store, and its store's 30 November showed it at
    "2026-12-01 00:00". One rule now, the answer's site-local day and time, on every path."""
    db = midnight
    every_site = tuple(r[0] for r in db.execute_sql("SELECT id FROM site ORDER BY id"))
    assert len(every_site) > PER_SITE_UP_TO
    for day, expected in (("2026-11-30", {"0", "1"}), ("2026-12-01", {"2"})):
        lists = {}
        for who, sites in (("admin", None), ("many sites", every_site), ("region", tuple(EDGE)),
                           ("store edge-sthlm", ("edge-sthlm",)), ("store edge-ny", ("edge-ny",))):
            rows, more = comments(db, CommentFilter(sites=sites, date_from=day, date_to=day))
            assert not more
            for c in rows:
                assert c["local_time"][:10] == day, (who, c)
                assert c["local_time"][11:] in {t.strftime("%H:%M") for t, _ in LOCAL_TIMES}, (who, c)
            lists[who] = [(c["site_id"], c["comment"]) for c in rows]
        for site in EDGE:
            assert [c for s, c in lists[f"store {site}"]] == [f"{site} {i}" for i in sorted(expected, reverse=True)]
        assert lists["admin"] == lists["many sites"] == lists["region"], (day, lists)
        assert sorted(lists["admin"]) == sorted(lists["store edge-sthlm"] + lists["store edge-ny"]), (day, lists)
    rows, _ = comments(db, CommentFilter(sites=("edge-sthlm",), date_from="2026-11-30", date_to="2026-11-30"))
    edge = next(c for c in rows if c["comment"] == "edge-sthlm 1")
    assert (edge["recorded_at"], edge["local_time"], edge["zone"]) == \
        ("2026-11-30T22:59:50+00:00", "2026-11-30 23:59", "CET")
    # Without dates, newest first by the answer's time, the same for everyone.
    assert [c["id"] for c in comments(db, CommentFilter())[0]] == \
        [c["id"] for c in comments(db, CommentFilter(sites=tuple(EDGE)))[0]] == \
        [c["id"] for c in comments(db, CommentFilter(sites=every_site))[0]]


WORDS = ["Öppna fler kassor", "kön var lång", "KÖN VAR LÅNG IGEN", "Ærlig talt for dyrt", "Øl var utsolgt",
         "ÅTTA minuter i kön", "Äpplen ruttna", "ost, å ja", "50% rabatt lovad", "500 kr för mycket", "kod a_b fel",
         "kod axb fel", "Ma\u0308rta var sna\u0308ll", "Mårten hjälpte"]      # Märta's ä written decomposed


@pytest.mark.parametrize("query, found", [
    ("öppna", ["Öppna fler kassor"]), ("KÖN", ["kön var lång", "KÖN VAR LÅNG IGEN", "ÅTTA minuter i kön"]),
    ("æRLIG", ["Ærlig talt for dyrt"]), ("ØL", ["Øl var utsolgt"]), ("åtta", ["ÅTTA minuter i kön"]),
    ("ÄPPLEN", ["Äpplen ruttna"]), ("Å", ["kön var lång", "KÖN VAR LÅNG IGEN", "ÅTTA minuter i kön", "ost, å ja", "Mårten hjälpte"]),
    ("50%", ["50% rabatt lovad"]), ("a_b", ["kod a_b fel"]), ("%", ["50% rabatt lovad"]), ("_", ["kod a_b fel"]),
    # An "a" and a combining diaeresis is "ä", whichever side wrote it so (the comment is stored
    # composed); "Mår" is not "Mär".
    ("MÄRTA", ["Märta var snäll"]), ("sna\u0308ll", ["Märta var snäll"]),
    ("ja\u0308lpte", ["Mårten hjälpte"]), ("Ma\u030arten", ["Mårten hjälpte"])])
def test_the_search_finds_every_letter_in_either_case(central_db, query, found):
    """SQLite's LOWER folds only A-Z, PostgreSQL's only what the database's locale knows (A-Z under
    the C locale of the tests' cluster): "öppna" missed "Öppna fler kassor", "KÖN" every "kön".
    A store's comments (read through its answers) and the chain's (through the comments' index)
    alike; % and _ are only themselves."""
    store_comments(central_db, "s1", "Europe/Stockholm",
                   [(datetime(2026, 11, 30, 9, i), 20, text) for i, text in enumerate(WORDS)])
    for sites in (("s1",), None):
        rows, _more = comments(central_db, CommentFilter(sites=sites, search=query))
        assert sorted(c["comment"] for c in rows) == sorted(found), (sites, query)


def test_the_database_puts_every_letter_in_lower_case(central_db):
    """What `kiosk-central serve` checks before it starts (PostgreSQL: ICU's collation)."""
    from server_sync.central.dialect import check_lower, dialect_of
    check_lower(central_db)
    lower = dialect_of(central_db).lower.format(text="'ÅÄÖÆØ ÉÜ ABC'")
    assert central_db.execute_sql(f"SELECT {lower}").fetchone()[0] == "åäöæø éü abc"


def test_a_database_that_does_not_lower_every_letter_is_refused():
    """As `serve` refuses a PostgreSQL server without ICU: here an SQLite connection without the
    centre's function."""
    from peewee import SqliteDatabase
    from server_sync.central.dialect import check_lower
    from server_sync.exc import CentralConfigError
    with pytest.raises(CentralConfigError, match="does not put ÅÄÖÆØ in lower case"):
        check_lower(SqliteDatabase(":memory:"))


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
    assert question_choices(catalogue, "nb")[0] == ("visit", "Hur var ditt besök?")    # no Norwegian wording: the Swedish


def test_the_csv_download_holds_every_comment_found_not_one_page(central_db):
    """A spreadsheet has no next page: the download held the page's 50 of 60 comments and nothing
    said so. It holds all 60 now; over its most (100 000) it is refused, saying so, not cut."""
    import csv
    import io
    from dataclasses import replace
    from server_sync.web import guard
    from server_sync.web.filters import BadFilter
    from server_sync.web.pages import comments as page
    from tests.web import in_process
    store_comments(central_db, "s1", "Europe/Stockholm",
                   [(datetime(2026, 11, 30, 9, 0) + timedelta(minutes=i), 20, f"kommentar {i}") for i in range(60)])

    def download(query: str) -> list[dict]:
        v = in_process.visit(central_db, STORED_AT, "/comments", query)
        return list(csv.DictReader(io.StringIO(guard.export(v, page.build(v), "csv").body.decode())))

    assert len(download("format=csv")) == 60 and len(download("page=2&format=csv")) == 60
    # The Excel download too (it held the page's 50).
    from openpyxl import load_workbook
    v = in_process.visit(central_db, STORED_AT, "/comments", "format=xlsx")
    book = load_workbook(io.BytesIO(guard.export(v, page.build(v), "xlsx").body))
    assert book.active.max_row == 60 + 1
    assert len(page.build(in_process.visit(central_db, STORED_AT, "/comments", "format=json")).data["comments"]) == 50
    every = CommentFilter(sites=("s1",))
    with pytest.raises(BadFilter) as refused:
        page.download_rows(central_db, every, most=55)
    assert refused.value.said_in("sv").startswith("Fler än 55 kommentarer matchar")
    assert len(page.download_rows(central_db, replace(every, search="kommentar 5"), most=55)[0]) == 11   # 5, 50-59


def test_the_csv_download_joins_an_answers_reasons_as_the_kiosks_export_does(central_db):
    """The web's CSV joined the reason codes with a space and `kiosk export --format csv` with
    ';': one spreadsheet recipe for both files. A code list that would start a formula is text."""
    import csv
    import io
    from kiosk.export import csv_cell
    from server_sync.protocol import FollowUpEvent, fields_of
    from server_sync.web import guard
    from server_sync.web.pages import comments as page
    from tests.web import in_process
    store_comments(central_db, "s1", "Europe/Stockholm", [(datetime(2026, 11, 30, 9, 0), 20, "kön")],
                   reasons=("queue", "staff"))
    v = in_process.visit(central_db, STORED_AT, "/comments", "format=csv")
    row, = csv.DictReader(io.StringIO(guard.export(v, page.build(v), "csv").body.decode()))
    reasons, = (spec for spec in fields_of(FollowUpEvent) if spec.name == "reasons")
    assert row["reasons"] == "queue;staff" == csv_cell(reasons, ["queue", "staff"])
    from server_sync.web.render import _cell
    # Every item: a reader who splits the cell at ';' gets text, not a formula.
    assert _cell(["-x", "y", "-A1"]) == "'-x;y;'-A1" == csv_cell(reasons, ["-x", "y", "-A1"])


def test_a_search_for_the_words_of_a_removed_datas_badge_finds_its_mark(central_db):
    """A removed phone number is stored as `[phone]` and shown as "telefonnummer borttaget": a
    search for "telefonnummer" found nothing, one for "[phone]" everything (a visual review)."""
    from server_sync.web.pages import comments as page
    from tests.web import in_process
    store_comments(central_db, "s1", "Europe/Stockholm",
                   [(datetime(2026, 11, 30, 9, 0), 20, "ring mig på [phone] tack"),
                    (datetime(2026, 11, 30, 9, 5), 20, "telefonen i kassan var trasig"),
                    (datetime(2026, 11, 30, 9, 10), 20, "bra service")])

    def found(q: str, lang: str) -> list[str]:
        v = in_process.visit(central_db, STORED_AT, "/comments", f"q={q}&format=json", lang)
        return sorted(c["comment"] for c in page.build(v).data["comments"])
    assert found("telefon", "sv") == ["ring mig på [phone] tack", "telefonen i kassan var trasig"]
    assert found("phone number", "en") == ["ring mig på [phone] tack"]
    assert found("service", "sv") == ["bra service"]


def test_a_download_refused_for_too_many_comments_reads_none_of_them(central_db, monkeypatch):
    """A download matching more than its most read them all first (100 001 rows as dicts) and
    only then refused them (a review: a chain-wide CSV refused after 3 s, the worker grown by
    175 MB). Whether there is one beyond the most is asked first, by id alone; the refusal says
    the same. Exactly the most is let through, read once."""
    from server_sync.web.filters import BadFilter
    from server_sync.web.pages import comments as page
    store_comments(central_db, "s1", "Europe/Stockholm",
                   [(datetime(2026, 11, 30, 9, 0) + timedelta(minutes=i), 20, f"kommentar {i}") for i in range(60)])
    read = page.comments

    def unread(*_args, **_kwargs):
        raise AssertionError("the comments were read")
    for every in (CommentFilter(sites=("s1",)), CommentFilter(sites=None)):     # per site, and the chain's path
        monkeypatch.setattr(page, "comments", unread)
        for most in (55, 59):
            with pytest.raises(BadFilter) as refused:
                page.download_rows(central_db, every, most=most)
            assert refused.value.said_in("sv").startswith(f"Fler än {most} kommentarer matchar")
            assert str(refused.value).startswith(f"More than {most} comments match: a download holds at most {most}.")
        monkeypatch.setattr(page, "comments", read)
        assert len(page.download_rows(central_db, every, most=60)[0]) == 60
