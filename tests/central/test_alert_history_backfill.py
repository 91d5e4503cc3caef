"""An alert from before the alert workflow (m0041) has its history: m0041 made an alert
acknowledged before it `acknowledged` but wrote no `alert_event`, so its page said "No history
yet" and `alerts show` listed nothing, its acknowledgement's comment kept only in
`alert.ack_comment` (a review of an upgrade). m0058 writes what such an alert's history held: its
`raised` row at `raised_at` and, acknowledged before m0041, its `acknowledged` row at `acked_at`
with the comment, by the command line (the only way to acknowledge then; no name was kept), before
what was done to it since. A second start changes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

from server_sync.central.db import connect
from server_sync.central.dialect import dialect_of
from server_sync.central.migrations import SchemaMigration, migrations
from server_sync.program.migrations import migrate
from server_sync.web.pages import workflow as workflow_pages
from server_sync.workflow import alerts
from tests.analysis.seeding import add_site
from tests.fixtures.cli import central
from tests.web import in_process

RAISED = datetime(2026, 3, 2, 7, 15)            # naive UTC, as the store keeps times
ACKED = datetime(2026, 3, 2, 9, 30)
MESSAGE = "'visit' Happy Index 30.0 over the day up to the alert, 40.0 points below the site's usual 70.0"
COMMENT = "Extra staff on Saturdays from now on"


def _old_alert(db, acked: bool, comment: str = COMMENT) -> int:
    """An alert as the rules stored it before m0041 (m0003's columns), acknowledged as
    `kiosk-central alerts ack --comment` did then: acked_at and ack_comment, nothing else."""
    p = db.param
    db.execute_sql(f"INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from, window_to,"
                   f" n, negative, value, baseline, p_value, message) VALUES ({', '.join([p] * 13)})",
                   ("s1", "visit", "realtime", RAISED, RAISED, RAISED, RAISED, 24, 18, 30.0, 70.0, 1e-6, MESSAGE))
    alert_id = db.execute_sql("SELECT MAX(id) FROM alert").fetchone()[0]
    if acked:
        db.execute_sql(f"UPDATE alert SET acked_at = {p}, ack_comment = {p} WHERE id = {p}", (ACKED, comment, alert_id))
    return int(alert_id)


def _story(history: list[dict]) -> list[tuple]:
    return [(e["at"], e["user"], e["event"], e["detail"]) for e in history]


def test_an_alert_acknowledged_before_the_workflow_keeps_its_history(central_url, capsys):
    db = connect(central_url, migrate_schema=False)
    try:
        migrate(SchemaMigration(db), [m for m in migrations(db) if m.number < 41])
        add_site(db, "s1")
        acked = _old_alert(db, acked=True)
        acked_then_closed = _old_alert(db, acked=True, comment="Rota changed")
        never_acked = _old_alert(db, acked=False)
        # Upgraded to before m0058: the alert acknowledged before was closed since.
        migrate(SchemaMigration(db), [m for m in migrations(db) if m.number < 58])
        closed_at = datetime.now(timezone.utc).replace(microsecond=0)
        alerts.close(db, acked_then_closed, "none", "sara", closed_at, reason="one-off")
        # Raised since m0041, its raising's history rolled back (a failing notice queue), then
        # closed: closing sets acked_at too, but it was never acknowledged.
        p = db.param
        db.execute_sql(f"INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                       f" window_to, n, negative, message, state) VALUES ({', '.join([p] * 11)})",
                       ("s1", "visit", "realtime", closed_at, closed_at, closed_at, closed_at, 24, 18, MESSAGE, "open"))
        later = int(db.execute_sql("SELECT MAX(id) FROM alert").fetchone()[0])
        alerts.close(db, later, "none", "sara", closed_at, reason="a test")
        migrate(SchemaMigration(db), migrations(db))

        raised = (str(RAISED), None, "raised", MESSAGE)
        ack = (str(ACKED), "cli", "acknowledged", COMMENT)
        at = str(closed_at.replace(tzinfo=None))
        assert _story(alerts.require(db, acked)["history"]) == [raised, ack]
        assert _story(alerts.require(db, acked_then_closed)["history"]) == [
            raised, (str(ACKED), "cli", "acknowledged", "Rota changed"), (at, "sara", "closed", "none: one-off")]
        assert _story(alerts.require(db, never_acked)["history"]) == [raised]
        assert _story(alerts.require(db, later)["history"]) == [
            (at, None, "raised", MESSAGE), (at, "sara", "closed", "none: a test")]
        assert alerts.require(db, acked)["state"] == "acknowledged"

        # The alert's page and `alerts show` tell it.
        page, rows, _ = in_process.shown(workflow_pages.alert_page.page, db, closed_at, f"/alerts/{acked}",
                                         alert_id=str(acked))
        words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
        assert "No history yet" not in words
        assert (f"2026-03-02 08:15 CET · Kundpuls · raised: {MESSAGE}"
                f" 2026-03-02 10:30 CET · cli · acknowledged: {COMMENT}") in words, words
        assert [(r["event"], r["user"], r["detail"]) for r in rows] == [
            ("raised", "", MESSAGE), ("acknowledged", "cli", COMMENT)]
        capsys.readouterr()
        assert central("--db", central_url, "alerts", "show", str(acked)) == 0
        said = capsys.readouterr().out
        assert re.search(r"2026-03-02 08:15 CET\s+kundpuls\s+raised ", said), said
        assert re.search(rf"2026-03-02 10:30 CET\s+cli\s+acknowledged\s+{COMMENT}", said), said

        # A second start, or the migration again, writes nothing more.
        before = db.execute_sql("SELECT id, alert_id, event FROM alert_event ORDER BY id").fetchall()
        migrate(SchemaMigration(db), migrations(db))
        from server_sync.central.migrations import m0058_alert_history_before_workflow as m0058
        m0058.up(db, dialect_of(db))
        assert db.execute_sql("SELECT id, alert_id, event FROM alert_event ORDER BY id").fetchall() == before
    finally:
        db.close()
