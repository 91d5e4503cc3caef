"""The admins' failed deliveries (/admin/deliveries) in the reader's language: the channel, the
state and a webhook's event said in words, not as the codes the queue stores."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

from server_sync.notify import queue
from server_sync.notify.bodies import Notice
from server_sync.web.pages.workflow import deliveries
from tests.web import in_process

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def _failures(db) -> None:
    """A webhook given up after its tries, and a mail still waiting for its next one."""
    queue.add_endpoint(db, "office", "http://127.0.0.1:9/hook", "slack", NOW)
    queue.enqueue_webhooks(db, Notice("alert.raised", "Kundpuls: alert 1", "A dip"), NOW)
    queue.enqueue_mail(db, "sara@example.se", "Kundpuls: larm 1 i Butik", "text", "<p>html</p>", NOW)
    p = db.param
    db.execute_sql(f"UPDATE webhook_delivery SET attempts = 8, last_error = 'connection refused', gave_up_at = {p}",
                   (NOW.replace(tzinfo=None),))
    db.execute_sql(f"UPDATE mail_outbox SET attempts = 1, last_error = 'server busy', next_attempt_at = {p}",
                   ((NOW + timedelta(minutes=5)).replace(tzinfo=None),))


def _cells(page: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]


def test_failed_deliveries_are_said_in_the_readers_words(central_db):
    """The page said `webhook`, `mail`, `failed`, `waiting` and `alert.raised` on a Swedish page
    (a review). The download keeps the codes: it is data."""
    _failures(central_db)
    page, rows, _result = in_process.shown(deliveries.page, central_db, NOW, "/admin/deliveries", lang="sv")
    cells = _cells(page)
    for word in ("Webhook", "E-post", "nytt larm", "gav upp", "väntar på nytt försök"):
        assert word in cells, (word, cells)
    for code in ("webhook", "mail", "failed", "waiting", "alert.raised"):
        assert code not in cells, (code, cells)
    assert "Kundpuls: larm 1 i Butik" in cells                  # a mail's subject is said as it was sent
    assert {(r["channel"], r["state"], r["what"]) for r in rows} == {
        ("webhook", "failed", "alert.raised"), ("mail", "waiting", "Kundpuls: larm 1 i Butik")}
    for lang, word in (("nb", "nytt varsel"), ("en", "new alert")):
        page, _rows, _result = in_process.shown(deliveries.page, central_db, NOW, "/admin/deliveries", lang=lang)
        assert word in _cells(page), (lang, _cells(page))


def test_every_documented_notice_event_has_its_words():
    """docs/notifications.md lists the events a webhook delivery carries; each is said on the page."""
    from pathlib import Path

    from server_sync.web.render import WEB_TEXTS
    docs = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text(encoding="utf-8")
    table = docs[docs.index("| event | when |"):]
    events = re.findall(r"^\| `([a-z_.]+)` \|", table[:table.index("\n\n")], re.M)
    assert "alert.raised" in events and "test" in events, events
    for lang in WEB_TEXTS.languages:
        missing = [e for e in events if "notice_" + e.replace(".", "_") not in WEB_TEXTS.strings(lang)]
        assert not missing, (lang, missing)
