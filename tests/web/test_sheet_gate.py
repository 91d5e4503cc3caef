"""One large Excel download built at a time per web worker (web.sheet_gate): openpyxl holds the
GIL for the whole build (95 000 comments: 13-15 s), and a few built together stalled everyone
else's pages on that worker for seconds (a review). A second one waits briefly, then is a 503
that says why and when to try again; a small one and a CSV never wait."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from datetime import datetime, timezone

import pytest
from starlette.responses import StreamingResponse

from server_sync.web import audit, guard, sheet_gate
from server_sync.web.pages import admin
from tests.web import in_process

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def _held(gate: sheet_gate.SheetGate):
    """A thread building a large sheet until the returned event is set."""
    inside, leave = threading.Event(), threading.Event()

    def build() -> None:
        with gate.building(gate.large_rows + 1):
            inside.set()
            leave.wait(10)
    thread = threading.Thread(target=build)
    thread.start()
    assert inside.wait(10)
    return leave, thread


def test_a_second_large_sheet_waits_briefly_then_is_refused_and_a_small_one_never_waits():
    gate = sheet_gate.SheetGate(large_rows=10, wait_s=0.05)
    leave, thread = _held(gate)
    try:
        with pytest.raises(sheet_gate.SheetBusy):
            with gate.building(11):
                pass
        with gate.building(10):             # not large: built beside it
            pass
    finally:
        leave.set()
        thread.join(10)
    with gate.building(11):                 # the first done: the next one goes
        pass


def test_an_excel_download_while_another_large_one_is_built_is_a_503_saying_so(central_db, monkeypatch):
    for n in range(3):
        audit.record(central_db, "login", user_name="ada-admin", address="127.0.0.1", n=n)
    gate = sheet_gate.SheetGate(large_rows=2, wait_s=0.05)
    monkeypatch.setattr(sheet_gate, "GATE", gate)
    leave, thread = _held(gate)
    try:
        v = in_process.visit(central_db, NOW, "/admin/audit", "format=xlsx", lang="sv")
        busy = guard.export(v, admin.audit_log.page(v), "xlsx")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == str(sheet_gate.RETRY_AFTER_S)
        assert "En annan stor Excel-nedladdning byggs på servern just nu" in busy.body.decode()
        # Not recorded as exported (it was, once per retry the message invites).
        assert [e for e in audit.entries(central_db, limit=None) if e["event"] == "export"] == []
        # The API's refusal is in English whoever's token it is, as its other refusals (docs/web.md).
        v = in_process.visit(central_db, NOW, "/api/v1/audit", "format=xlsx", lang="sv")
        busy = guard.export(v, admin.audit_log.page(v), "xlsx")
        assert busy.status_code == 503 and json.loads(busy.body)["error"].startswith("Another large Excel download")
        v = in_process.visit(central_db, NOW, "/admin/audit", "format=csv")
        assert guard.export(v, admin.audit_log.page(v), "csv").status_code == 200     # a CSV never waits
    finally:
        leave.set()
        thread.join(10)
    v = in_process.visit(central_db, NOW, "/admin/audit", "format=xlsx")
    from openpyxl import load_workbook
    assert load_workbook(io.BytesIO(body(guard.export(v, admin.audit_log.page(v), "xlsx")))).active.max_row > 3


def body(response) -> bytes:
    """A response's bytes, streamed (a large workbook: sheet_build) or not."""
    if not isinstance(response, StreamingResponse):
        return response.body

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.body_iterator])
    return asyncio.run(read())


def test_a_comments_download_refused_as_busy_is_not_audited_as_viewed(central_db, monkeypatch):
    """The comments page audited `comments_viewed` before its download was made: a workbook
    refused with 503 (another large one being built) was recorded as comments viewed, once per
    retry (a review). Audited once the download is made, as the export is."""
    from server_sync.web.pages import comments
    from tests.web.test_comment_score import chain
    chain(central_db)
    gate = sheet_gate.SheetGate(large_rows=2, wait_s=0.05)
    monkeypatch.setattr(sheet_gate, "GATE", gate)

    def events() -> list[str]:
        return sorted(e["event"] for e in audit.entries(central_db, limit=None))
    leave, thread = _held(gate)
    try:
        v = in_process.visit(central_db, NOW, "/comments", "format=xlsx")
        assert guard._respond(v, guard._call(comments.build, v)).status_code == 503
        assert events() == []
    finally:
        leave.set()
        thread.join(10)
    v = in_process.visit(central_db, NOW, "/comments", "format=csv")
    assert guard._respond(v, guard._call(comments.build, v)).status_code == 200
    assert events() == ["comments_viewed", "export"]
    v = in_process.visit(central_db, NOW, "/comments")            # the page itself: audited as before
    assert guard._respond(v, guard._call(comments.build, v)).status_code == 200
    assert events() == ["comments_viewed", "comments_viewed", "export"]
