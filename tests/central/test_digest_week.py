"""The weekly digest's week is the store's days (notify.digest.week_of), as its answers are counted
and its alerts and actions dated: sent at Monday 00:30 in Stockholm (Sunday 23:30 UTC) it covers
Monday to the Sunday just ended, not UTC's Sunday to Saturday, which left the week's Sunday out
and took the Sunday before; made up later in the week, the same ISO week. On SQLite and
PostgreSQL, with the clock pinned."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from server_sync.cli import main
from server_sync.commands import digest as digest_command
from server_sync.notify import digest
from server_sync.web.people import add_user, user_by_name
from server_sync.workflow import actions
from server_sync.workflow.people import set_email
from tests.analysis.seeding import add_question, add_site, answer, commit

NOW = datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc)          # Monday 30 Nov, 00:30 in Stockholm
SUNDAY_EVENING = datetime(2026, 11, 29, 20, 0)                       # 21:00 in Stockholm: this week
SUNDAY_BEFORE = datetime(2026, 11, 22, 20, 0)                        # the Sunday before: last week


def _closed(db, note: str, at: datetime) -> None:
    """An action at s1 closed at `at` (UTC, as stored)."""
    a = actions.create(db, "s1", "visit", "2026-10-01", note, NOW)
    p = db.param
    db.execute_sql(f"UPDATE action SET closed_at = {p}, verdict = 'effect_shown' WHERE id = {p}", (at, a["id"]))


def test_the_digest_week_is_the_stores_days(central_db, central_url, quick_password_hashes, monkeypatch, capsys):
    db = central_db
    add_site(db, "s1")
    add_site(db, "ny", tz="America/New_York")
    add_question(db)
    add_user(db, "sara", "store-manager", sites=["s1"], language="en", password="correct horse battery")
    set_email(db, "sara", "sara@example.se")
    commit(db, [answer("s1", SUNDAY_EVENING, 4) for _ in range(5)] + [answer("s1", SUNDAY_BEFORE, 1) for _ in range(3)])
    _closed(db, "closed Sunday 23:30 in Stockholm", datetime(2026, 11, 22, 22, 30))       # last week
    _closed(db, "closed Monday 00:30 in Stockholm", datetime(2026, 11, 22, 23, 30))       # this week

    data = digest.figures(db, user_by_name(db, "sara"), NOW)
    assert (data["period"], data["from"], data["to"]) == ("2026-W48", "2026-11-23", "2026-11-29")
    assert [(q["question_id"], q["n"]) for q in data["questions"]] == [("visit", 5)]      # Sunday's, not last week's
    assert [a["note"] for a in data["completed_actions"]] == ["closed Monday 00:30 in Stockholm"]
    # A week still running at a site west of UTC is not complete: sites whose dates differ take
    # the earliest (New York is at Sunday 18:30), and its last complete week is the one before.
    assert digest.week_of(db, ["s1", "ny"], NOW) == ("2026-W47", "2026-11-16", "2026-11-22")

    monkeypatch.setattr(digest_command, "_now", lambda: NOW)
    capsys.readouterr()
    assert main(["--db", central_url, "digest", "send", "--dry-run", "--json"]) == 0
    [dry] = json.loads(capsys.readouterr().out)
    assert dry["period"] == "2026-W48" and "2026-11-23 – 2026-11-29" in dry["text"]
    # Not "Hello sara": a login name (sara-store, ada-admin) is no way to greet a person.
    assert "Here is the week 2026-11-23 – 2026-11-29 for" in dry["text"]
    assert "sara" not in dry["text"].replace(dry["to"], ""), dry["text"]
    assert main(["--db", central_url, "digest", "send"]) == 0
    assert main(["--db", central_url, "digest", "send"]) == 0
    assert "the digest for 2026-W48 went already to sara" in capsys.readouterr().out


def test_a_run_made_up_later_in_the_week_sends_the_week_just_ended_once(central_db, quick_password_hashes):
    """The timer catches up a missed Monday on Tuesday: the digest is of the ISO week just ended,
    under its name, and next Monday's is of the next week. (A run on Tuesday took the 7 days up to
    Monday under the new week's name, and that week's own digest was then never sent: a review.)
    Two runs at once, both past the check that it went already, queue it once."""
    db = central_db
    add_site(db, "s1")
    add_question(db)
    add_user(db, "sara", "store-manager", sites=["s1"], language="en", password="correct horse battery")
    set_email(db, "sara", "sara@example.se")
    commit(db, [answer("s1", SUNDAY_EVENING, 4) for _ in range(5)])
    tuesday, sunday = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc), datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc)
    monday = datetime(2026, 12, 7, 5, 0, tzinfo=timezone.utc)
    assert digest.week_of(db, ["s1"], tuesday) == digest.week_of(db, ["s1"], sunday) == \
        ("2026-W48", "2026-11-23", "2026-11-29")
    assert digest.week_of(db, ["s1"], monday) == ("2026-W49", "2026-11-30", "2026-12-06")
    assert [d.period for d in digest.send(db, tuesday)] == ["2026-W48"]
    assert digest.send(db, sunday) == []
    # A run that read "not sent yet" before this one recorded it claims a week already taken.
    sara = user_by_name(db, "sara")
    with db.atomic():
        assert not digest.claim_week(db, sara, "2026-W48", sunday)
        assert digest.claim_week(db, sara, "2026-W48", sunday, force=True)       # --force sends it again
    assert [d.period for d in digest.send(db, monday)] == ["2026-W49"]
    subjects = [r[0] for r in db.execute_sql("SELECT subject FROM mail_outbox ORDER BY id")]
    assert [s.split(": ")[-1] for s in subjects if "W4" in s] == ["2026-W48", "2026-W49"], subjects


def test_an_action_is_in_one_digest_only(central_db, quick_password_hashes):
    """Closed on the Monday before the run (`digest send` closes completed actions first), it was
    in that week's digest and the next one's too (a review): the next lists what closed since."""
    db = central_db
    add_site(db, "s1")
    add_question(db)
    add_user(db, "sara", "store-manager", sites=["s1"], language="en", password="correct horse battery")
    sara = user_by_name(db, "sara")
    _closed(db, "closed Sunday", datetime(2026, 11, 29, 20, 0))
    _closed(db, "closed Monday before the run", datetime(2026, 11, 29, 23, 10))
    first = digest.figures(db, sara, NOW)
    assert sorted(a["note"] for a in first["completed_actions"]) == ["closed Monday before the run", "closed Sunday"]
    assert digest.claim_week(db, sara, first["period"], NOW)
    _closed(db, "closed Wednesday", datetime(2026, 12, 2, 10, 0))
    second = digest.figures(db, sara, datetime(2026, 12, 6, 23, 30, tzinfo=timezone.utc))   # a week on
    assert second["period"] == "2026-W49"
    assert [a["note"] for a in second["completed_actions"]] == ["closed Wednesday"]
