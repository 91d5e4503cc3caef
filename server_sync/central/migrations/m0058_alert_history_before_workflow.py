"""The alerts raised before the alert workflow (m0041) get the history they had.

m0041 made an alert acknowledged before it `acknowledged` but wrote no `alert_event` row, and an
alert's history is read from those rows alone: its web page said "No history yet", `alerts show`
listed nothing, and the acknowledgement's comment was kept only in `alert.ack_comment` (a review
of an upgrade). Now every alert without a `raised` row gets one at `raised_at`, by nobody, its
message as the detail, as the workflow writes it on raising; and one acknowledged without a row
saying so gets its `acknowledged` row at `acked_at` with `ack_comment`, by "cli": `kiosk-central
alerts ack` was the only way to acknowledge before m0041, and it kept no name. Since m0041 an
acknowledgement writes its row, and a close that finds no acknowledgement sets `acked_at` and
`ack_comment` to its own time and words: such an alert, its `closed` row saying just that, gets
no `acknowledged` row. An alert acted on since m0041 keeps those rows after the ones written
here, as the history reads in the order of its rows. Frozen: the rows are spelt here, as they
were when written.
"""

from typing import Any

from peewee import Database

from server_sync.central.dialect import Dialect

MAX_TEXT = 2000                 # the longest detail a history row keeps (workflow.alerts.MAX_TEXT)
ACKED_BY = "cli"                # who acknowledged before m0041: the command line, no name kept


def _second(at: Any) -> str:
    """A stored time to the second, comparable as text (SQLite gives text, PostgreSQL datetimes)."""
    return str(at)[:19]


def _acknowledged_before(acked_at: Any, ack_comment: str | None, later: list[tuple]) -> bool:
    """Whether `acked_at` is an acknowledgement the history lacks: none of its rows says it, and it
    is not what a close wrote (a `closed` row at that time with that detail)."""
    if acked_at is None or any(event == "acknowledged" for _, _, event, _ in later):
        return False
    said = (ack_comment or "")[:MAX_TEXT]
    return not any(event == "closed" and _second(at) == _second(acked_at) and detail == said
                   for at, _, event, detail in later)


def up(db: Database, dialect: Dialect) -> None:
    p = db.param
    rows = db.execute_sql("SELECT a.id, a.raised_at, a.message, a.acked_at, a.ack_comment FROM alert a"
                          " WHERE NOT EXISTS (SELECT 1 FROM alert_event e WHERE e.alert_id = a.id"
                          " AND e.event = 'raised') ORDER BY a.id").fetchall()
    for alert_id, raised_at, message, acked_at, ack_comment in rows:
        later = [tuple(r) for r in db.execute_sql(f"SELECT at, user_name, event, detail FROM alert_event"
                                                  f" WHERE alert_id = {p} ORDER BY id", (alert_id,)).fetchall()]
        history = [(raised_at, None, "raised", (message or "")[:MAX_TEXT])]
        if _acknowledged_before(acked_at, ack_comment, later):
            history.append((acked_at, ACKED_BY, "acknowledged", (ack_comment or "")[:MAX_TEXT]))
        if later:                 # written again after these, so the history reads in its order
            db.execute_sql(f"DELETE FROM alert_event WHERE alert_id = {p}", (alert_id,))
        for at, user, event, detail in history + later:
            db.execute_sql(f"INSERT INTO alert_event (alert_id, at, user_name, event, detail)"
                           f" VALUES ({p}, {p}, {p}, {p}, {p})", (alert_id, at, user, event, detail))
