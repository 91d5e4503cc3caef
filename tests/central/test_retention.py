"""Keep only what is needed: retention removes raw comments after their period (reasons, scores
and rollups stay, so the analysis adds up the same), dead letters and audit entries after
theirs; erasure removes the comments a search finds. Each run leaves a log entry with counts,
never content. On SQLite and PostgreSQL, through the real ingest path and the real commands."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from server_sync.analysis import chain_report
from server_sync.analysis.queries import ReportFilter
from server_sync.central.office_text import PLACES
from server_sync.central.retention import apply_retention, erase_comments, months_before, privacy_log
from server_sync.central.setting import set_setting
from server_sync.cli import main
from server_sync.exc import StoredSettingError
from server_sync.ingest import Ingest
from server_sync.protocol.codec import short
from tests.central.wire import batch, count, followup, register_fleet, response
from tests.fixtures.cli import central, said_error

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=430)           # 14 months ago: past the default 13
RECENT = NOW - timedelta(days=300)        # 10 months ago: kept
SECRET = "ring Kalle på 0701234567"        # what must never end up in a log
NO_OFFICE_TEXT = dict.fromkeys(PLACES, 0)  # what office users wrote held none of the words


@pytest.fixture
def store(central_db):
    return fill(central_db)


def fill(db):
    """Two old and two recent answers with comments, and two dead letters."""
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    events, seq = [], 0
    for when, comment in ((OLD, "Kön var lång"), (OLD, SECRET), (RECENT, "Bra bemötande"), (RECENT, "Kalle Anka var här")):
        seq += 1
        r = response(seq, value=1, at=when)
        seq += 1
        events += [r, followup(seq, r["id"], reasons=("queue", "staff"), comment=comment, at=when + timedelta(seconds=5))]
    ingest.handle(*batch(events))
    p = db.param
    for days in (100, 10):
        db.execute_sql(f"INSERT INTO dead_letter (received_at, topic, kiosk_id, reason, payload) VALUES ({p}, {p}, {p}, {p}, {p})",
                       ((NOW - timedelta(days=days)).replace(tzinfo=None), "t", "k1", "bad", b"x"))
    return db


def report(db) -> dict:
    r = chain_report.build(db, ReportFilter(date_from="2025-01-01", date_to="2026-11-22"), now=NOW)
    r.pop("generated_at")
    return r


def test_retention_removes_old_comments_and_dead_letters_and_the_analysis_adds_up(store):
    before = report(store)
    removed = apply_retention(store, NOW)
    assert removed.counts == {"comments": 2, "dead_letters": 1, "conflicts": 0, "audit_entries": 0, "mails": 0,
                              "webhook_deliveries": 0}
    comments = sorted(c or "" for (c,) in store.execute_sql("SELECT comment FROM followup").fetchall())
    assert comments == ["", "", "Bra bemötande", "Kalle Anka var här"]
    assert count(store, "SELECT COUNT(*) FROM followup WHERE comment_removed_at IS NOT NULL") == 2
    assert count(store, "SELECT COUNT(*) FROM followup") == 4 and count(store, "SELECT COUNT(*) FROM response") == 4
    assert count(store, "SELECT COUNT(*) FROM followup_reason") == 8                 # every reason stays
    assert count(store, "SELECT COUNT(*) FROM dead_letter") == 1
    assert report(store) == before                                                   # every figure the same
    log = privacy_log(store)
    assert log[0]["action"] == "retention" and log[0]["counts"] == removed.counts
    assert not any(apply_retention(store, NOW).counts.values())


def test_a_dry_run_counts_and_removes_nothing(store):
    assert apply_retention(store, NOW, dry_run=True).counts["comments"] == 2
    assert count(store, "SELECT COUNT(*) FROM followup WHERE comment IS NULL") == 0
    assert privacy_log(store) == []


def test_erasure_removes_what_the_search_finds_and_logs_that_it_happened_not_what(store):
    removed = erase_comments(store, "kalle", NOW)
    assert removed.counts == {"comments": 2, "conflicts": 0, "dead_letters": 0, "audit_searches": 0, **NO_OFFICE_TEXT}
    left = sorted(c for (c,) in store.execute_sql("SELECT comment FROM followup WHERE comment IS NOT NULL").fetchall())
    assert left == ["Bra bemötande", "Kön var lång"]
    log = json.dumps(privacy_log(store))
    assert "erasure" in log and "alle" not in log.lower() and "0701" not in log


def test_erasure_takes_the_words_out_of_the_audit_logs_searches_for_them(store):
    """Finding the comment asked about with the web's search put its words (a name, a number) in
    the audit log for 24 months, which the erasure did not touch (a privacy review). The entry
    stays, who looked and when; the words go."""
    from server_sync.web import audit
    audit.record(store, "comments_viewed", user_name="ada", address="10.0.0.1", page="/comments",
                 filters={"q": "kalle 0701234567", "site": "s1"}, shown=1)
    audit.record(store, "comments_viewed", user_name="ada", address="10.0.0.1", page="/comments",
                 filters={"q": "kön"}, shown=3)
    # What was looked at stays, whatever words it holds (a store named after the customer, say):
    # only a search's text is taken out (a review: a site id and a page became "[erased]").
    audit.record(store, "comments_viewed", user_name="bo", address=None, page="/sites/kalles", site="kalles", shown=2)
    audit.record(store, "export", user_name="bo", address=None, page="/comments", format="csv",
                 filters={"site": "kalles"})
    assert erase_comments(store, "KALLE", NOW, dry_run=True).counts["audit_searches"] == 1
    assert erase_comments(store, "KALLE", NOW).counts["audit_searches"] == 1
    entries = audit.entries(store)
    assert [e["detail"] for e in entries] == [
        {"filters": {"site": "kalles"}, "format": "csv", "page": "/comments"},
        {"page": "/sites/kalles", "shown": 2, "site": "kalles"},
        {"filters": {"q": "kön"}, "page": "/comments", "shown": 3},
        {"filters": {"q": "[erased]", "site": "s1"}, "page": "/comments", "shown": 1}]


def test_erasure_takes_out_the_searches_that_were_a_part_of_an_erased_comment(store):
    """Erasing "Lisa Lundqvist" left the search "lundqvist" that had found her comment, which
    holds only a part of the words asked for (a privacy review): a search whose text the erased
    comment holds (as the web's search found it: folded, anywhere in it) loses its words too."""
    from server_sync.web import audit
    ingest = Ingest(store, clock=lambda: NOW)
    r = response(30, value=1, at=RECENT)
    ingest.handle(*batch([r, followup(31, r["id"], comment="Lisa Lundqvist fick vänta 20 min", at=RECENT)]))
    for q in ("lundqvist", "LISA", "vänta 20", "kön", "lundqvist 0701", ""):
        audit.record(store, "comments_viewed", user_name="ada", address="10.0.0.1", page="/comments",
                     filters={"q": q}, shown=1)
    assert erase_comments(store, "Lisa Lundqvist", NOW, dry_run=True).counts["audit_searches"] == 3
    assert erase_comments(store, "Lisa Lundqvist", NOW).counts == {
        "comments": 1, "conflicts": 0, "dead_letters": 0, "audit_searches": 3, **NO_OFFICE_TEXT}
    searched = [e["detail"]["filters"]["q"] for e in reversed(audit.entries(store))]
    assert searched == ["[erased]", "[erased]", "[erased]", "kön", "lundqvist 0701", ""]
    assert count(store, f"SELECT COUNT(*) FROM audit_log WHERE LOWER(detail) LIKE {store.param}", ("%lisa%",)) == 0


def test_erasure_at_a_site_finds_a_comment_whose_answer_has_not_arrived(central_db):
    """A follow-up is stored before its answer when the answer's batch is refused or comes later;
    `erase --site` found a comment's site only through its answer and missed it (a privacy
    review). Its site is then its kiosk's: the one it stands at, or one it stood at when the
    follow-up was recorded (site_history), as ingest decides where its answer may be counted."""
    from server_sync.central import registry
    db = central_db
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    moved_at = (NOW - timedelta(days=10)).replace(tzinfo=None)
    with db.atomic():
        registry.move_kiosk(db, "k2", "s2", moved_at)             # k2 stood at s1 until 10 days ago
    before = followup(1, response(2)["id"], kiosk="k2", comment="Lisa Lundqvist skrek", at=RECENT)
    after = followup(3, response(4)["id"], kiosk="k2", comment="Lisa Lundqvist igen", at=NOW - timedelta(hours=1))
    here = followup(5, response(6)["id"], comment="Lisa Lundqvist i kassan", at=NOW - timedelta(hours=1))
    ingest.handle(*batch([here]))
    ingest.handle(*batch([before, after], kiosk="k2"))
    assert count(db, "SELECT COUNT(*) FROM followup WHERE comment IS NOT NULL") == 3
    assert count(db, "SELECT COUNT(*) FROM response") == 0
    assert erase_comments(db, "lundqvist", NOW, site="s1", dry_run=True).counts["comments"] == 2
    assert erase_comments(db, "lundqvist", NOW, site="s1").counts["comments"] == 2
    left = [c for (c,) in db.execute_sql("SELECT comment FROM followup WHERE comment IS NOT NULL").fetchall()]
    assert left == ["Lisa Lundqvist igen"]                            # recorded at s2, after the move
    assert erase_comments(db, "lundqvist", NOW, site="s2").counts["comments"] == 1


def test_erasure_can_be_narrowed_and_refuses_a_search_that_matches_everything(store):
    from server_sync.exc import CentralConfigError
    assert erase_comments(store, "kalle", NOW, date_from="2026-01-01").counts["comments"] == 1
    assert erase_comments(store, "kalle", NOW, site="s2").counts["comments"] == 0
    with pytest.raises(CentralConfigError, match="at least 3"):
        erase_comments(store, "a", NOW)
    assert erase_comments(store, "100%_", NOW).counts["comments"] == 0             # LIKE characters are text


def test_erasure_finds_the_words_in_any_case_of_every_alphabet(store):
    """"Kön" asked in lower case must not miss "KÖN": SQLite's LOWER and a C-locale PostgreSQL's
    fold only A-Z, and a comment left behind is a request not met."""
    ingest = Ingest(store, clock=lambda: NOW)
    r = response(20, value=1, at=RECENT)
    ingest.handle(*batch([r, followup(21, r["id"], comment="ÖBERG OCH ÆRLIG ØSTEN", at=RECENT)]))
    assert erase_comments(store, "öberg", NOW).counts["comments"] == 1
    assert erase_comments(store, "kön var", NOW).counts["comments"] == 1           # "Kön var lång"
    r = response(22, value=1, at=RECENT)            # "Märta" with its ä written decomposed
    ingest.handle(*batch([r, followup(23, r["id"], comment="ring MA\u0308RTA", at=RECENT)]))
    assert erase_comments(store, "märta", NOW).counts["comments"] == 1
    p = store.param
    assert count(store, f"SELECT COUNT(*) FROM followup WHERE comment LIKE {p} OR comment LIKE {p}",
                 ("%BERG%", "K%n var%")) == 0


def test_a_comment_removed_at_the_centre_sent_again_stays_removed_and_is_kept_nowhere(central_db):
    """A kiosk re-sending a follow-up (a lost ack) or an operator importing a kiosk's export
    (docs/deployment.md A10) carries the comment the centre erased, or removed when its time was
    up: the same event, a duplicate, not a conflict that keeps the text again for 90 days."""
    db = central_db
    register_fleet(db)
    ingest = Ingest(db, clock=lambda: NOW)
    r1, r2, r3 = (response(i, value=1, at=RECENT) for i in (1, 2, 3))
    f1 = followup(4, r1["id"], comment=SECRET, at=RECENT)
    f2 = followup(5, r2["id"], comment="Kalle Anka var här", at=RECENT)
    f3 = followup(6, r3["id"], comment="Bra bemötande", at=OLD)
    ingest.handle(*batch([r1, r2, r3, f1, f2, f3]))
    # Copies kept before the erasure, for the operator: a conflict (the comment sent again,
    # changed) and a refused message that writes the name with JSON escapes.
    assert ingest.handle(*batch([{**f2, "comment": "Kalle Anka var här igen"}])).accepted.conflicts == 1
    p = db.param
    db.execute_sql(f"INSERT INTO dead_letter (received_at, topic, kiosk_id, reason, payload) VALUES ({p}, {p}, {p}, {p}, {p})",
                   (NOW.replace(tzinfo=None), "t", "k1", "bad", b'{"comment": "\\u004b\\u0041LLE ringde"}'))
    counts = {"comments": 2, "conflicts": 1, "dead_letters": 1, "audit_searches": 0, **NO_OFFICE_TEXT}
    assert erase_comments(db, "kalle", NOW, dry_run=True).counts == counts
    assert erase_comments(db, "kalle", NOW).counts == counts
    assert count(db, "SELECT COUNT(*) FROM conflict") == 0 and count(db, "SELECT COUNT(*) FROM dead_letter") == 0
    assert apply_retention(db, NOW).counts["comments"] == 1                    # f3 was recorded 14 months ago
    again = ingest.handle(*batch([r1, r2, r3, f1, f2, f3])).accepted
    assert (again.new, again.duplicates, again.conflicts) == (0, 6, 0)
    # The same follow-up with another reason is a conflict: kept, but never with the removed text.
    other = ingest.handle(*batch([{**f1, "reasons": ["staff"]}])).accepted
    assert other.conflicts == 1
    kept = " ".join(e + i for e, i in db.execute_sql("SELECT existing, incoming FROM conflict").fetchall())
    assert "staff" in kept and "Kalle" not in kept and "0701" not in kept
    assert count(db, "SELECT COUNT(*) FROM followup WHERE comment IS NULL AND comment_removed_at IS NOT NULL") == 3
    # A second follow-up to the answer whose first one's comment was erased: a conflict that keeps
    # its own comment (never removed), beside the first one as stored.
    second = followup(9, r2["id"], comment="Andra gången", at=RECENT)
    assert ingest.handle(*batch([second])).accepted.conflicts == 1
    incoming, = db.execute_sql(f"SELECT incoming FROM conflict WHERE event_id = {p}", (second["id"],)).fetchone()
    assert json.loads(incoming)["comment"] == "Andra gången"
    # A comment not removed still conflicts when it comes back changed.
    r4 = response(7, value=2, at=RECENT)
    f4 = followup(8, r4["id"], comment="Kön var lång", at=RECENT)
    ingest.handle(*batch([r4, f4]))
    assert ingest.handle(*batch([{**f4, "comment": "Kön var kort"}])).accepted.conflicts == 1


def test_the_commands(central_url, store, capsys):
    assert main(["--db", central_url, "privacy", "set", "--comments-months", "6"]) == 0
    capsys.readouterr()
    assert main(["--db", central_url, "retention", "run", "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] and out["counts"]["comments"] == 4          # now every comment is older than 6 months
    assert main(["--db", central_url, "erase", "--contains", "Kalle", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"comments": 2, "conflicts": 0, "dead_letters": 0,
                                                            "audit_searches": 0, **NO_OFFICE_TEXT}
    assert main(["--db", central_url, "retention", "log", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["action"] == "erasure"
    assert central("--db", central_url, "privacy", "set", "--comments-months", "0") == 2
    assert "argument --comments-months: 0 is not between 1 and 1200" in capsys.readouterr().err
    assert central("--db", central_url, "erase", "--contains", "Kalle", "--from", "23/11") == 2


@pytest.mark.parametrize("name, value, option, expected", [
    ("comments_keep_months", "abc", "--comments-months", "a whole number 1-1200"),
    ("comments_keep_months", "100000", "--comments-months", "a whole number 1-1200"),     # before year 1
    ("dead_letters_keep_days", "0", "--dead-letters-days", "a whole number 1-36500"),
    ("dead_letters_keep_days", " 90", "--dead-letters-days", "a whole number 1-36500"),
    ("audit_keep_months", "9" * 5000, "--audit-months", "a whole number 1-1200"),
    ("audit_keep_months", "", "--audit-months", "a whole number 1-1200")])
def test_a_period_edited_by_hand_is_a_clear_error_naming_it(central_url, store, capsys, name, value, option, expected):
    """period() read the stored text with int(): 'abc' (or 5000 digits: int()'s own ValueError)
    was a traceback in `retention run` and `privacy show`, and 100000 months a year before 1."""
    with store.atomic():
        set_setting(store, name, value)
    message = (f"the stored privacy setting {name} is {short(value)}, not {expected} "
               "(set it again: kiosk-central privacy set …)")
    for argv in (("retention", "run"), ("retention", "run", "--dry-run"), ("privacy", "show")):
        assert central("--db", central_url, *argv) == 2, argv
        err = capsys.readouterr().err
        assert said_error(err, message) and len(err) < 300, err
    with pytest.raises(StoredSettingError, match="set it again"):
        apply_retention(store, NOW)
    assert count(store, "SELECT COUNT(*) FROM followup WHERE comment_removed_at IS NOT NULL") == 0
    assert central("--db", central_url, "privacy", "set", option, "13") == 0           # what the error says
    assert central("--db", central_url, "retention", "run") == 0


@pytest.mark.parametrize("day, months, expected", [("2026-11-23", 13, "2025-10-23"), ("2026-03-31", 1, "2026-02-28"),
                                                    ("2024-03-31", 1, "2024-02-29"), ("2026-01-15", 12, "2025-01-15")])
def test_months_before(day, months, expected):
    from datetime import date
    assert months_before(date.fromisoformat(day), months) == date.fromisoformat(expected)


@pytest.mark.postgres
def test_erase_and_serve_on_a_postgresql_without_icu_are_a_clear_error(pg_url, capsys):
    """A PostgreSQL built without ICU has no `und-x-icu`: `erase` says so and what to do, as
    `serve` does, and removes nothing. Here a real database whose ICU root collation was dropped
    (a server built without ICU has none), so the check meets the error such a server gives."""
    from server_sync.central.db import connect
    from tests.fixtures.postgres import admin_execute, free_port
    db = connect(pg_url)
    try:
        fill(db)
    finally:
        db.close()
    admin_execute(pg_url, 'DROP COLLATION pg_catalog."und-x-icu"')
    assert central("--db", pg_url, "erase", "--contains", "Kalle") == 2
    assert said_error(capsys.readouterr().err, "the database does not put ÅÄÖÆØ in lower case")
    assert central("--db", pg_url, "serve", "--port", str(free_port())) == 2
    assert said_error(capsys.readouterr().err, "PostgreSQL must be built with ICU")
    db = connect(pg_url)
    try:
        assert count(db, "SELECT COUNT(*) FROM followup WHERE comment IS NULL") == 0
    finally:
        db.close()


def _holding(path, text: str) -> dict[str, int]:
    """The store's files (database, -wal, -shm) that hold `text`, byte-wise, and how often."""
    from pathlib import Path
    found = {}
    for f in sorted(Path(path).parent.glob(Path(path).name + "*")):
        n = f.read_bytes().count(text.encode())
        if n:
            found[f.name] = n
    return found


def test_erased_and_expired_text_leaves_the_sqlite_files_while_the_services_hold_them(central_url, capsys, monkeypatch):
    """The services (ingest, the web app) always hold the store open, so SQLite never cut its WAL:
    an erased comment was gone from central.db but still read in central.db-wal after 3,000 more
    answers (a privacy review). An erasure and a retention run now empty the WAL; one that cannot
    (a read held open throughout) says so, and the next retention run empties it."""
    if not central_url.startswith("sqlite"):
        pytest.skip("SQLite's files")
    from server_sync.central import retention
    from server_sync.central.db import connect
    path = central_url.removeprefix("sqlite:///")
    service = connect(central_url)                    # as ingest holds it, for good
    reader = connect(central_url)                     # as the web app holds it, idle between pages
    try:
        register_fleet(service)
        ingest = Ingest(service, clock=lambda: NOW)
        r1, r2, r3 = (response(i, value=1, at=RECENT) for i in (1, 2, 3))
        ingest.handle(*batch([r1, followup(4, r1["id"], comment="Lisa Lundqvist fick vänta länge", at=RECENT)]))
        ingest.handle(*batch([r2, followup(5, r2["id"], comment="Märta Öberg i kassan var snäll", at=OLD)]))
        ingest.handle(*batch([r3, followup(6, r3["id"], comment="Per Persson ringde aldrig", at=RECENT)]))
        assert reader.execute_sql("SELECT COUNT(*) FROM followup").fetchone()[0] == 3
        assert "central.db-wal" in _holding(path, "Lisa Lundqvist")
        assert main(["--db", central_url, "erase", "--contains", "Lisa Lundqvist"]) == 0
        assert _holding(path, "Lisa Lundqvist") == {}
        assert main(["--db", central_url, "retention", "run"]) == 0                # Märta's is 14 months old
        assert _holding(path, "Märta Öberg") == {}
        # A read held open the whole time: the WAL cannot be emptied, and the erasure says so.
        monkeypatch.setattr(retention, "WAL_WAIT_S", 0.3)
        reader.execute_sql("BEGIN")
        reader.execute_sql("SELECT COUNT(*) FROM followup").fetchone()
        capsys.readouterr()
        assert main(["--db", central_url, "erase", "--contains", "Per Persson", "--json"]) == 0
        out = capsys.readouterr()
        assert json.loads(out.out)["wal_emptied"] is False
        assert "central.db-wal may still hold" in out.err and "retention run" in out.err
        reader.execute_sql("COMMIT")
        assert main(["--db", central_url, "retention", "run"]) == 0               # nothing to remove: still empties it
        assert _holding(path, "Per Persson") == {}
        assert ingest.handle(*batch([response(7, value=2, at=RECENT)])).accepted.new == 1   # the services go on
        assert reader.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] == 4
    finally:
        service.close()
        reader.close()


def test_mail_and_webhook_deliveries_go_after_their_period(central_db, central_url, capsys):
    """mail_outbox and webhook_delivery were kept for good (no DELETE anywhere), each with a
    person's address or the text of an action's note (a privacy review). What was delivered or
    given up goes after `notices_keep_days` (90 by default); what still waits, or is being sent
    (claimed), stays whatever its age."""
    from server_sync.notify import queue
    db = central_db
    p = db.param
    queue.add_endpoint(db, "office", "http://127.0.0.1:9/hook", "json", NOW)
    old, recent = (NOW - timedelta(days=100)).replace(tzinfo=None), (NOW - timedelta(days=10)).replace(tzinfo=None)
    for i, (done, gave_up) in enumerate(((old, None), (None, old), (recent, None), (None, None), (None, None))):
        queue.enqueue_mail(db, f"p{i}@example.se", "Kundpuls", "text", "<p>html</p>", NOW - timedelta(days=120))
        db.execute_sql(f"UPDATE mail_outbox SET sent_at = {p}, gave_up_at = {p} WHERE to_addr = {p}",
                       (done, gave_up, f"p{i}@example.se"))
        queue.enqueue_webhooks(db, queue.Notice("test", f"t{i}", "x"), NOW - timedelta(days=120))
        db.execute_sql(f"UPDATE webhook_delivery SET delivered_at = {p}, gave_up_at = {p} WHERE body LIKE {p}",
                       (done, gave_up, f'%"title":"t{i}"%'))
    [claimed] = [m for m in queue.due_mail(db, NOW) if m.to_addr == "p4@example.se"]
    assert queue.claim(db, "mail_outbox", claimed.id, NOW)                       # a worker is sending it
    removed = apply_retention(db, NOW)
    assert (removed.counts["mails"], removed.counts["webhook_deliveries"]) == (2, 2)
    assert removed.cutoffs["notices_before"] == (NOW - timedelta(days=90)).replace(tzinfo=None).isoformat(" ", "seconds")
    left = sorted(r[0] for r in db.execute_sql("SELECT to_addr FROM mail_outbox").fetchall())
    assert left == ["p2@example.se", "p3@example.se", "p4@example.se"]
    assert db.execute_sql("SELECT COUNT(*) FROM webhook_delivery").fetchone()[0] == 3
    queue.record_mail(db, claimed, NOW, True, None)                              # the worker's record lands
    assert main(["--db", central_url, "privacy", "set", "--notices-days", "5"]) == 0
    assert main(["--db", central_url, "retention", "run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "notices_keep_days = 5" in out and "mails and webhook deliveries before" in out
    removed = apply_retention(db, NOW + timedelta(days=6))
    assert (removed.counts["mails"], removed.counts["webhook_deliveries"]) == (2, 1)
    assert sorted(r[0] for r in db.execute_sql("SELECT to_addr FROM mail_outbox").fetchall()) == ["p3@example.se"]
