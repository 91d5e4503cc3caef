"""A large Excel download is built by a child process (web.sheet_build), not in the web worker:
openpyxl held the worker's GIL for the whole build (95 000 comments: 13-15 s) and every other
page on that worker waited (a review). The child here is held at its start by a control file
(`held_child`), so that a test decides when it builds; the threshold of a large workbook is set
low (a few rows), so every test stays fast."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from server_sync.central import db as central_db
from server_sync.web import audit, guard, people, sheet_build, sheet_gate
from server_sync.web.app import WebSettings
from server_sync.web.pages import comments
from tests.web import in_process
from tests.web.test_comment_score import chain
from tests.web.test_sheet_gate import body
from tests.web.world import PASSWORD, served_in_process

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
HELD = """import os, runpy, sys, time
control = sys.argv.pop(1)
open(os.path.join(control, "pid"), "w").write(str(os.getpid()))
os.rename(os.path.join(control, "pid"), os.path.join(control, "started"))     # whole, once there
while not os.path.exists(os.path.join(control, "go")):
    time.sleep(0.02)
runpy.run_module("server_sync.report.sheet_child", run_name="__main__")
"""


class HeldChild:
    """sheet_build's child, waiting for `release()` before it builds; temporary files in `temp`."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.control, self.temp = root / "control", root / "temp"
        self.control.mkdir()
        self.temp.mkdir()
        script = root / "held_child.py"
        script.write_text(HELD)
        monkeypatch.setattr(sheet_build, "CHILD", (sys.executable, str(script), str(self.control)))
        monkeypatch.setattr(sheet_build, "TEMP_DIR", str(self.temp))
        monkeypatch.setattr(sheet_build, "POLL_S", 0.02)

    def started(self, timeout: float = 10) -> int:
        """The child's pid, once it runs."""
        deadline = time.monotonic() + timeout
        while not (self.control / "started").exists():
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.01)
        return int((self.control / "started").read_text())

    def release(self) -> None:
        (self.control / "go").touch()


@pytest.fixture
def held(tmp_path, monkeypatch) -> HeldChild:
    return HeldChild(tmp_path, monkeypatch)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie would still answer: the build waits for its child, so none is left.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


ROWS = [{"n": i, "text": f"=row {i}"} for i in range(30)]


def test_a_built_workbook_is_an_open_file_and_nothing_stays_on_disk(held):
    held.release()
    with sheet_build.build(["n", "text"], ROWS, "Kommentarer") as book:
        assert list(held.temp.iterdir()) == []               # already unlinked: streamed from the open file
        sheet = load_workbook(io.BytesIO(book.read())).active
    assert (sheet.title, sheet.max_row, sheet["B2"].value, sheet["B2"].data_type) == ("Kommentarer", 31, "=row 0", "s")


@pytest.mark.parametrize("how", ["cancelled", "timeout", "failed"])
def test_a_stopped_or_failed_build_kills_its_child_and_leaves_no_temporary_file(held, monkeypatch, how):
    # Stopped once the child runs (its start takes a moment), so that it is known to be killed.
    kwargs = {"cancelled": {"cancelled": lambda: (held.control / "started").exists()},
              "timeout": {"time_limit_s": 1.0}, "failed": {}}[how]
    expected = {"cancelled": sheet_build.SheetCancelled, "timeout": sheet_build.SheetTimeout,
                "failed": sheet_build.SheetFailed}[how]
    rows = ROWS
    if how == "failed":
        held.release()
        rows = ROWS + [[lambda: None, "not picklable"]]      # the feeding fails mid-way: the child ends on EOF
    with pytest.raises(expected):
        sheet_build.build(["n", "text"], rows, "x", **kwargs)
    assert _gone(held.started())
    assert list(held.temp.iterdir()) == []


def test_a_client_gone_before_its_workbook_is_built_stops_the_child_and_is_not_audited(central_db, held, monkeypatch):
    chain(central_db)
    monkeypatch.setattr(sheet_gate, "GATE", sheet_gate.SheetGate(large_rows=2, wait_s=0.05))
    monkeypatch.setattr(guard, "client_gone", lambda request: (held.control / "started").exists())
    v = in_process.visit(central_db, NOW, "/comments", "format=xlsx")
    assert guard._respond(v, guard._call(comments.build, v)).status_code == guard.CLIENT_GONE
    assert _gone(held.started()) and list(held.temp.iterdir()) == []
    assert audit.entries(central_db, limit=None) == []         # neither exported nor viewed


def test_a_workbook_over_its_time_limit_is_a_503_saying_so_and_not_audited(central_db, held, monkeypatch):
    chain(central_db)
    monkeypatch.setattr(sheet_gate, "GATE", sheet_gate.SheetGate(large_rows=2, wait_s=0.05))
    monkeypatch.setattr(sheet_build, "TIME_LIMIT_S", 0.5)
    v = in_process.visit(central_db, NOW, "/comments", "format=xlsx", lang="sv")
    stopped = guard._respond(v, guard._call(comments.build, v))
    assert stopped.status_code == 503 and "tog för lång tid att bygga" in stopped.body.decode()
    assert list(held.temp.iterdir()) == [] and audit.entries(central_db, limit=None) == []


def test_pages_are_served_while_a_large_workbook_is_built(tmp_path, held, monkeypatch):
    """The worker's threads and event loop stay free: the child is held mid-build while another
    request is answered; then the download is the person's comments as a workbook, audited once."""
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = central_db.connect(url)
    try:
        chain(db)
        people.add_user(db, "ada", "admin", language="en", password=PASSWORD)
        token = people.add_token(db, "ada", "sheet")
    finally:
        db.close()
    monkeypatch.setattr(sheet_gate, "GATE", sheet_gate.SheetGate(large_rows=2, wait_s=0.05))
    with served_in_process(WebSettings(url, cache_seconds=0, threads=4)) as base:
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        download: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: download.append(api.get("/api/v1/comments?format=xlsx")))
        thread.start()
        try:
            held.started()
            started = time.monotonic()
            page = api.get("/api/v1/comments")
            assert page.status_code == 200 and len(page.json()["comments"]) == 4
            assert time.monotonic() - started < 1 and not download     # served while the build waits
        finally:
            held.release()
            thread.join(30)
        (made,) = download
        assert made.status_code == 200 and made.headers["content-type"] == guard.XLSX_TYPE
        sheet = load_workbook(io.BytesIO(made.content)).active
        assert sorted(sheet.cell(row, comments.COLUMNS.index("comment") + 1).value for row in range(2, 6)) == \
            sorted(c["comment"] for c in page.json()["comments"])
    assert list(held.temp.iterdir()) == []
    db = central_db.connect(url)
    try:
        exported = [e for e in audit.entries(db, limit=None) if e["event"] == "api_export"]
        assert [e["detail"]["format"] for e in exported] == ["xlsx"]
    finally:
        db.close()
