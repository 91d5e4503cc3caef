"""The weekly digest's week is the store's days (notify.digest.week_of), as its answers are counted
and its alerts and actions dated: sent at Monday 00:30 in Stockholm (Sunday 23:30 UTC) it covers
Monday to the Sunday just ended, not UTC's Sunday to Saturday, which left the week's Sunday out
and took the Sunday before. On SQLite and PostgreSQL, with the clock pinned."""

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
    # the earliest (New York is at Sunday 18:30).
    assert digest.week_of(db, ["s1", "ny"], NOW) == ("2026-W48", "2026-11-22", "2026-11-28")

    monkeypatch.setattr(digest_command, "_now", lambda: NOW)
    capsys.readouterr()
    assert main(["--db", central_url, "digest", "send", "--dry-run", "--json"]) == 0
    [dry] = json.loads(capsys.readouterr().out)
    assert dry["period"] == "2026-W48" and "2026-11-23 – 2026-11-29" in dry["text"]
    assert main(["--db", central_url, "digest", "send"]) == 0
    assert main(["--db", central_url, "digest", "send"]) == 0
    assert "the digest for 2026-W48 went already to sara" in capsys.readouterr().out
