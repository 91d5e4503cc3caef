"""An SD card that fails must not lie (issue 11): a damaged or empty database, a full disk, a
config that is empty, missing or names another kiosk, a PIN lock and a power cycle. Each gives a
clear error (`kiosk: error: …`, never a traceback) and a non-zero exit; `kiosk doctor` says what
to do; `kiosk repair` salvages every readable row and never reuses a seq; an answer that could
not be stored is never thanked for. The databases are real SQLite files, damaged for real (an
index's pages overwritten, a table page overwritten, `max_page_count` for a real SQLITE_FULL)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk import doctor, repair
from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.cli import main
from kiosk.exc import DamagedDatabase, DiskFull, IdentityError
from kiosk.store import LocalStore

ID = "kiosk-0042"


@pytest.fixture
def kiosk_toml(tmp_path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "{ID}"\nsite = "sthlm-sodermalm"\ndata_dir = "{tmp_path / "data"}"\n'
                    '\n[broker]\nhost = "127.0.0.1"\nport = 1\ntls = false\n', encoding="utf-8")
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def filled(cfg, clock, answers: int = 300, followups_every: int = 10) -> tuple[set[str], int]:
    """A kiosk database with answers and follow-ups, some acknowledged; (ids, highest seq)."""
    with LocalStore(cfg.db_path, kiosk_id=cfg.kiosk_id) as store:
        recorder = Recorder(cfg, store, clock)
        for i in range(answers):
            r = recorder.record("visit", 1 + i % 4)
            clock.advance(7)
            if i % followups_every == 0:
                recorder.record_followup(r.id, reasons=["queue"], comment="slow")
        store.db.execute_sql("UPDATE response SET sent_at = 'x', send_count = 1, acked_at = 'y' WHERE seq <= 100")
        ids = {r[0] for r in store.db.execute_sql("SELECT id FROM response UNION ALL SELECT id FROM followup")}
        top = store.db.execute_sql("SELECT value FROM sequence").fetchone()[0]
    return ids, top


def page_size(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA page_size").fetchone()[0]
    finally:
        con.close()


def damage_indexes(path: Path, table: str) -> None:
    """Overwrite the first page of every index of `table`, as a power cut in the middle of a
    write can: every query through an index fails, every row is still readable by a scan."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    roots = [r[0] for r in con.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                       (table,))]
    con.close()
    size = page_size(path)
    with open(path, "r+b") as f:
        for root in roots:
            f.seek((root - 1) * size)
            f.write(b"\xff" * 32)


def damage_a_table_page(path: Path, table: str, child: int = 0) -> None:
    """Overwrite a leaf page of `table` (the `child`th child of its root): those rows are lost."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    con.close()
    size = page_size(path)
    with open(path, "r+b") as f:
        f.seek((root - 1) * size)
        page = f.read(size)
        assert page[0] == 0x05, "the table fits one page: nothing to step over"
        cell = int.from_bytes(page[12 + 2 * child:14 + 2 * child], "big")
        leaf = int.from_bytes(page[cell:cell + 4], "big")
        f.seek((leaf - 1) * size)
        f.write(b"\xff" * size)


# -- 10: a damaged database ------------------------------------------------------------------

def test_a_damaged_database_is_a_clear_error_everywhere_and_repair_salvages_every_row(
        tmp_path, kiosk_toml, clock, capsys):
    from kiosk.loading import load
    from kiosk.sync_agent import SyncAgent
    cfg = load(str(kiosk_toml), env={})
    ids, top = filled(cfg, clock)
    damage_indexes(cfg.db_path, "response")
    args = ("--config", str(kiosk_toml))
    for command in (["stats"], ["simulate", "--taps", "2"], ["sync", "--once", "--timeout", "5"], ["export"]):
        rc, _, err = run(capsys, *args, *command)
        assert rc == 1 and "is damaged" in err and "kiosk repair" in err, (command, err)
    # The sync agent itself (the daemon `kiosk sync`): its start (the requeue) says the same.
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        with pytest.raises(DamagedDatabase, match="kiosk repair"):
            SyncAgent(cfg, store, password="").run(once=True, timeout=1)
    rc, out, _ = run(capsys, *args, "doctor", "--json")
    database = {c["name"]: c for c in json.loads(out)["checks"]}["database"]
    assert rc == 1 and database["status"] == "fail" and "kiosk repair" in database["detail"]

    rc, out, _ = run(capsys, *args, "repair", "--json")
    assert rc == 0
    result = json.loads(out)
    assert result["salvaged"]["response"] == 300 and result["salvaged"]["followup"] == 30
    assert result["sequence"] == top and result["sequence_from"] == "damaged file"
    assert Path(result["damaged_kept_as"][0]).exists()
    assert doctor.check_database(cfg, clock.now())[0].status == doctor.OK
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        assert {r[0] for r in store.db.execute_sql("SELECT id FROM response UNION ALL SELECT id FROM followup")} == ids
        assert store.db.execute_sql("SELECT COUNT(*) FROM response WHERE acked_at IS NOT NULL").fetchone()[0] == \
            store.db.execute_sql("SELECT COUNT(*) FROM response WHERE seq <= 100").fetchone()[0] > 80
        assert Recorder(cfg, store, clock).record("visit", 2).seq == top + 1          # never a seq twice
    rc, _, err = run(capsys, *args, "repair")
    assert rc == 1 and "is not damaged" in err


def test_repair_steps_over_a_damaged_stretch_of_a_table(tmp_path, kiosk_toml, clock, capsys):
    from kiosk.loading import load
    cfg = load(str(kiosk_toml), env={})
    ids, top = filled(cfg, clock, answers=600)
    damage_a_table_page(cfg.db_path, "response")
    rc, out, _ = run(capsys, "--config", str(kiosk_toml), "repair", "--json")
    result = json.loads(out)
    assert rc == 0 and result["unreadable"]["response"] >= 1
    assert 0 < result["salvaged"]["response"] < 600 and result["salvaged"]["followup"] == 60
    assert result["sequence"] == top                              # the sequence page was readable
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        assert store.integrity_ok()
        assert store.db.execute_sql("SELECT MAX(seq) FROM response").fetchone()[0] <= top


def test_repair_salvages_every_readable_row_around_a_damaged_page_in_the_middle(tmp_path, kiosk_toml, clock):
    """A damaged leaf page after readable ones: the repair ends (it went round forever: a failed
    read of 1,000 rows at once never moved on) and keeps every row that can be read alone,
    those just before and just after the damaged page included."""
    import signal
    from kiosk.loading import load
    cfg = load(str(kiosk_toml), env={})
    filled(cfg, clock, answers=600)
    damage_a_table_page(cfg.db_path, "response", child=2)
    con = sqlite3.connect(f"file:{cfg.db_path}?mode=ro", uri=True)
    readable = set()
    for rowid in range(1, 601):
        with contextlib.suppress(sqlite3.DatabaseError):
            if con.execute("SELECT rowid FROM response NOT INDEXED WHERE rowid = ?", (rowid,)).fetchone():
                readable.add(rowid)
    con.close()
    assert 500 < len(readable) < 600 and min(set(range(1, 601)) - readable) > 1
    signal.signal(signal.SIGALRM, lambda *_a: pytest.fail("kiosk repair did not end"))
    signal.alarm(60)
    try:
        result = repair.repair(cfg.db_path, now=clock.now())
    finally:
        signal.alarm(0)
    assert result.unreadable["response"] == 1
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        kept = {r[0] for r in store.db.execute_sql("SELECT seq FROM response")}
    assert len(kept) == len(readable), (len(kept), len(readable))


def test_a_damaged_byte_in_a_text_cell_is_a_clear_error_and_repair_force_keeps_the_row(
        tmp_path, kiosk_toml, clock, capsys):
    """A byte of a comment or a question id damaged on the card (no longer UTF-8): SQLite finds
    nothing wrong (integrity_check ok), Python's sqlite3 cannot decode the cell, and every command
    that read it ended in a traceback. Now each says so and how to mend it; `kiosk export` still
    writes every record (tests/test_export.py) and the sync agent sends it (tests/sync); `kiosk
    repair --force` keeps every row, the damaged characters as U+FFFD (it read the row as a
    damaged stretch, and lost it)."""
    from kiosk.loading import load
    from kiosk.outbox import Outbox
    from kiosk.store import card_failure
    cfg = load(str(kiosk_toml), env={})
    ids, _ = filled(cfg, FakeClock(datetime.now(timezone.utc) - timedelta(hours=1)), answers=20)
    con = sqlite3.connect(cfg.db_path)
    with con:
        con.execute("UPDATE followup SET comment = CAST(X'4BC3' AS TEXT) WHERE seq = (SELECT MIN(seq) FROM followup)")
        con.execute("UPDATE response SET question_id = CAST(X'76C3' AS TEXT) WHERE seq = 5")
    con.close()
    args = ("--config", str(kiosk_toml))
    rc, _, err = run(capsys, *args, "stats")
    assert rc == 1 and "holds text that is not UTF-8 (column question_id: a byte damaged" in err
    assert "kiosk repair --force" in err
    # The sync agent sends every event, the damaged characters as U+FFFD, naming where.
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        batch = Outbox(store, ID).next_batch(50, 200_000, now=datetime.now(timezone.utc), sent_at="x")
        assert batch.count == 2 and b'"comment":"K\xef\xbf\xbd"' in batch.payload       # the unacked follow-ups
        assert batch.damaged == ((batch.seqs[0], "followup.comment"),)
        store.db.execute_sql("UPDATE followup SET sent_at = NULL, send_count = 0")
        # A select of an expression over such a cell: the same error, no column.
        with pytest.raises(sqlite3.OperationalError) as raised:
            store.db.execute_sql("SELECT upper(comment) FROM followup").fetchall()
    said = str(card_failure(raised.value, cfg.db_path))
    assert "holds text that is not UTF-8 (a byte damaged" in said and "kiosk repair --force" in said
    assert "K\ufffd" not in said and "'K" not in said                    # a comment is not repeated
    rc, _, err = run(capsys, *args, "repair")
    assert rc == 1 and "is not damaged" in err and "--force" in err
    rc, out, _ = run(capsys, *args, "repair", "--force", "--json")
    result = json.loads(out)
    assert rc == 0 and (result["salvaged"]["response"], result["salvaged"]["followup"]) == (20, 2)
    assert result["unreadable"]["response"] == result["unreadable"]["followup"] == 0
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        assert {r[0] for r in store.db.execute_sql("SELECT id FROM response UNION ALL SELECT id FROM followup")} == ids
        assert "K\ufffd" in [r[0] for r in store.db.execute_sql("SELECT comment FROM followup")]
    assert run(capsys, *args, "stats")[0] == 0


# -- 12: an empty database ---------------------------------------------------------------------

def test_an_empty_database_is_refused_like_a_damaged_one(tmp_path, kiosk_toml, clock, capsys):
    from kiosk.loading import load
    cfg = load(str(kiosk_toml), env={})
    cfg.data_dir.mkdir(parents=True)
    cfg.db_path.write_bytes(b"")
    args = ("--config", str(kiosk_toml))
    for command in (["stats"], ["simulate", "--taps", "1"]):
        rc, _, err = run(capsys, *args, *command)
        assert rc == 1 and "is empty (0 bytes)" in err and "kiosk repair" in err
    assert cfg.db_path.stat().st_size == 0                    # refused, not taken for a new database
    checks = {c.name: c for c in doctor.check_database(cfg, clock.now())}
    assert checks["database"].status == doctor.FAIL and "kiosk repair" in checks["database"].detail
    rc, out, _ = run(capsys, *args, "repair", "--json")
    assert rc == 0 and json.loads(out)["sequence_from"] == "time"
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        seq = Recorder(cfg, store, clock).record("visit", 3).seq
    # Above any seq a kiosk counting one event at a time since 2020 can have given out.
    assert seq > (clock.now().year - 2020) * 365 * 24 * 3600 * 1000


def test_a_new_database_is_never_seen_half_made(tmp_path):
    """The app and the sync agent start together on a fresh card: the database is made aside
    and moved in whole, so neither ever opens an empty file (which is refused)."""
    path = tmp_path / "data" / "kiosk.db"
    first = LocalStore(path, kiosk_id=ID)
    second = LocalStore(path, kiosk_id=ID)
    assert first.integrity_ok() and second.integrity_ok()
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    first.close()
    second.close()


# -- 11: a full disk -------------------------------------------------------------------------

@pytest.fixture
def full_disk(monkeypatch):
    """Every connection to a kiosk database may grow it to `pages` pages: SQLite's own
    SQLITE_FULL, as on a full card."""
    from kiosk import store as kiosk_store

    def limit(pages: int) -> None:
        monkeypatch.setitem(kiosk_store.PRAGMAS, "max_page_count", pages)
    return limit


def fill_up(store: LocalStore, recorder: Recorder) -> int:
    pages = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    store.db.execute_sql(f"PRAGMA max_page_count = {pages}")
    n = 0
    with pytest.raises(DiskFull, match="is full"):
        while True:
            recorder.record("visit", 1 + n % 4)
            recorder.clock.advance(7)
            n += 1
    return n


def test_an_answer_the_full_disk_could_not_store_is_not_thanked_for(cfg, store, recorder):
    from kiosk.ui.flow import QUESTION, THANKS, KioskFlow
    flashed = []
    flow = KioskFlow(cfg, recorder, recorder.clock, flash=flashed.append)
    flow.answer(4, "touch")
    assert flow.screen == THANKS and flashed == [3]
    recorder.clock.advance(10)
    flow.tick()
    fill_up(store, recorder)
    stored = store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0]
    assert flow.answer(4, "touch") is None
    assert flow.screen == QUESTION and flashed == [3] and isinstance(flow.store_problem, DiskFull)
    assert flow.not_stored                     # the question screen says so, calmly
    assert flow.answer(1, "button") is None and flashed == [3]
    assert store.db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] == stored
    store.db.execute_sql("PRAGMA max_page_count = 1000000")         # space freed
    recorder.clock.advance(10)
    assert flow.answer(4, "touch") is not None
    assert flow.screen == THANKS and not flow.not_stored and flashed == [3, 3]


def test_a_follow_up_the_full_disk_could_not_store_is_not_thanked_for(cfg, store, recorder):
    """The thank-you says the customer's why is kept: a reason (one tap) or a comment (Send) the
    card refused gets the question screen's "not saved" notice instead, as an answer does."""
    from kiosk.ui.flow import FOLLOWUP, QUESTION, THANKS, KioskFlow
    flow = KioskFlow(cfg, recorder, recorder.clock)
    others = [recorder.record("visit", 1).id for _ in range(400) if not recorder.clock.advance(7)]
    for how in ("reason", "comment"):
        recorder.clock.advance(10)
        flow.tick()
        flow.answer(1, "touch")
        assert flow.screen == FOLLOWUP
        # The card fills up with the follow-up pending: no page left, the follow-up table's full.
        pages = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
        store.db.execute_sql(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(DiskFull):
            while others:
                recorder.record_followup(others.pop(), ["queue"])
        kept = store.db.execute_sql("SELECT COUNT(*) FROM followup").fetchone()[0]
        if how == "reason":
            flow.choose_reason("queue")
        else:
            flow.open_comment()
            flow.type_text("lång kö")
            flow.send_followup()
        assert flow.screen == QUESTION and flow.not_stored and isinstance(flow.store_problem, DiskFull)
        assert store.db.execute_sql("SELECT COUNT(*) FROM followup").fetchone()[0] == kept
        store.db.execute_sql("PRAGMA max_page_count = 1000000")         # space freed
    recorder.clock.advance(10)
    flow.tick()
    flow.answer(1, "touch")
    flow.choose_reason("queue")
    assert flow.screen == THANKS and not flow.not_stored


def test_a_store_read_as_it_stands_opens_itself_for_writing_once_there_is_room(tmp_path, monkeypatch):
    """The one rule (kiosk.store.KioskDatabase._current): a database read as it stands on a full
    card refuses a write as DiskFull; once the disk has room the next write goes through, in the
    same store, and another thread's connection (the app's PIN check, the agent) sees it."""
    import threading

    from kiosk import store as kiosk_store
    from kiosk.store import unshared_uri
    path = tmp_path / "kiosk.db"
    with LocalStore(path, kiosk_id=ID) as store:
        store.set_meta("before", "1")
    full = [True]
    monkeypatch.setattr(kiosk_store, "disk_is_full", lambda _path: full[0])
    store = LocalStore(path, kiosk_id=ID, unshared=unshared_uri(path))
    try:
        with pytest.raises(DiskFull, match="is full"):
            store.set_meta("during", "1")

        def other_thread_reads(key: str) -> str | None:
            seen = []
            t = threading.Thread(target=lambda: seen.append(store.get_meta(key)))
            t.start()
            t.join()
            return seen[0]
        assert store.read_only and other_thread_reads("before") == "1"
        store.db.thread_pragma("synchronous", "NORMAL")              # as the sync agent sets it
        full[0] = False                                              # a file was deleted
        store.set_meta("after", "1")
        assert not store.read_only and store.get_meta("after") == "1"
        assert store.db.execute_sql("PRAGMA synchronous").fetchone()[0] == 1     # kept on reopening
        assert other_thread_reads("after") == "1" and store.integrity_ok()
    finally:
        store.close()


def test_an_updated_kiosk_reads_its_older_database_on_a_full_card_and_migrates_it_once_there_is_room(
        tmp_path, cfg, clock, monkeypatch):
    """After an update (docs/deployment.md B8) the first start migrates the database, and a full
    card has no room for that. A migration the read path does without (kiosk.migrations.MAY_WAIT:
    7, an index) waits: the schema-6 database is read as it stands (its answers, its outbox) and
    a write is refused as DiskFull; once there is room the next statement migrates it, before the
    write it was for, which is stored. Nothing is lost or doubled. A pending migration the read
    path needs (6: columns the models read) keeps the refusal: the disk is full. A schema newer
    than this software is refused as such."""
    from kiosk import store as kiosk_store
    from kiosk.exc import StoreError
    from kiosk.migrations import LATEST
    from kiosk.store import unshared_uri
    from tests.old_kiosk_schema import at_schema, schema_of
    current = tmp_path / "current.db"
    with LocalStore(current, kiosk_id=cfg.kiosk_id) as made:
        recorder = Recorder(cfg, made, clock)
        for i in range(6):
            answer = recorder.record("visit", 1 + i % 4)
            clock.advance(7)
        recorder.record_followup(answer.id, reasons=["queue"])
    path = tmp_path / "kiosk.db"
    at_schema(path, 6, rows_from=current)
    assert schema_of(path) == [6, False]
    full = [True]
    monkeypatch.setattr(kiosk_store, "disk_is_full", lambda _path: full[0])
    store = LocalStore(path, kiosk_id=cfg.kiosk_id, unshared=unshared_uri(path))
    try:
        assert store.read_only and store.outbox_depth() == 7
        recorder = Recorder(cfg, store, clock)
        with pytest.raises(DiskFull, match="is full"):
            recorder.record("visit", 4)
        assert schema_of(path) == [6, False]
        full[0] = False                                              # a file was deleted
        recorder.record("visit", 4)
        assert not store.read_only and store.outbox_depth() == 8 and store.integrity_ok()
        seqs = [row[0] for row in store.db.execute_sql("SELECT seq FROM response UNION ALL SELECT seq FROM followup")]
        assert sorted(seqs) == list(range(1, 9))
    finally:
        store.close()
    assert schema_of(path) == [LATEST, True]

    full[0] = True
    older = tmp_path / "older.db"
    at_schema(older, 5, rows_from=current)
    with pytest.raises(DiskFull, match="is full"):
        LocalStore(older, kiosk_id=cfg.kiosk_id, unshared=unshared_uri(older))
    assert schema_of(older) == [5, False]
    assert doctor._pending_schema(5, full=True).endswith("the kiosk services cannot start until then")
    assert doctor._pending_schema(6, full=True).endswith("(the kiosk reads it as it stands until then)")
    newer = tmp_path / "newer.db"
    at_schema(newer, LATEST)
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {LATEST + 1}")
    con.close()
    with pytest.raises(StoreError, match=f"schema {LATEST + 1} is newer than this software"):
        LocalStore(newer, unshared=unshared_uri(newer))


def test_a_database_not_yet_made_reads_empty_and_is_made_by_the_first_write_once_there_is_room(
        tmp_path, monkeypatch):
    """A card too full to make the database at all (a first start, or after `kiosk repair` moved
    a damaged one aside): the store reads as an empty kiosk database and refuses a write as
    DiskFull, making nothing; once the disk has room the next write makes it through the same
    rule (`KioskDatabase._current`): migrated, the kiosk's identity in it, the write stored. A
    second store started on it meanwhile (the sync agent beside the app) reads that file then."""
    from kiosk import store as kiosk_store
    from kiosk.migrations import LATEST
    from kiosk.store import unshared_uri
    path = tmp_path / "data" / "kiosk.db"
    full = [True]
    monkeypatch.setattr(kiosk_store, "disk_is_full", lambda _path: full[0])
    store = LocalStore(path, kiosk_id=ID, unshared=unshared_uri(path))
    agent = LocalStore(path, kiosk_id=ID, unshared=unshared_uri(path))
    try:
        assert store.read_only and store.outbox_depth() == 0 and store.get_meta("kiosk.id") is None
        with pytest.raises(DiskFull, match="is full"):
            store.set_meta("during", "1")
        assert not path.parent.exists()
        full[0] = False                                              # a file was deleted
        store.set_meta("after", "1")
        assert not store.read_only and store.get_meta("after") == "1" and store.get_meta("kiosk.id") == ID
        assert store.db.execute_sql("PRAGMA user_version").fetchone()[0] == LATEST and store.integrity_ok()
        assert agent.get_meta("after") == "1" and not agent.read_only
    finally:
        store.close()
        agent.close()


def test_a_data_directory_the_full_card_has_no_room_for_is_a_full_disk(tmp_path, monkeypatch):
    """On a card with no room for a directory (ext4 fails `mkdir` with ENOSPC) the kiosk's
    services start all the same, as on a card with the directory: the disk is full, nothing
    damaged, and the store reads as an empty database."""
    import errno
    data = tmp_path / "data"
    make_directory = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == data:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return make_directory(self, *args, **kwargs)
    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(DiskFull, match="is full"):
        LocalStore(data / "kiosk.db", kiosk_id=ID)
    with LocalStore.even_full(data / "kiosk.db", kiosk_id=ID) as store:
        assert store.read_only and store.outbox_depth() == 0 and not data.exists()


def test_a_database_another_kiosk_made_meanwhile_is_not_written_to(tmp_path, monkeypatch):
    """Two kiosks' configs on one data directory, the card full at start: once there is room the
    other kiosk made the database first. A write is refused as at a normal start (IdentityError),
    and the store goes on reading as before: nothing is recorded under another identity."""
    from kiosk import store as kiosk_store
    from kiosk.store import unshared_uri
    path = tmp_path / "kiosk.db"
    full = [True]
    monkeypatch.setattr(kiosk_store, "disk_is_full", lambda _path: full[0])
    store = LocalStore(path, kiosk_id=ID, unshared=unshared_uri(path))
    try:
        full[0] = False
        LocalStore(path, kiosk_id="kiosk-0043").close()
        with pytest.raises(IdentityError, match="belongs to kiosk 'kiosk-0043'"):
            store.set_meta("after", "1")
        assert store.read_only
        with LocalStore(path) as other:
            assert other.get_meta("after") is None
    finally:
        store.close()


def test_the_buttons_only_kiosk_blinks_a_fault_for_a_press_it_could_not_store(cfg, store, recorder):
    from kiosk.headless import HeadlessKiosk

    class Panel:
        size = 4
        shown: list = []

        def flash(self, i):
            self.shown.append(("flash", i))

        def show_fault(self):
            self.shown.append(("fault",))

    panel = Panel()
    kiosk = HeadlessKiosk(cfg, store, recorder, panel, recorder.clock)
    kiosk.on_rated(3)
    assert panel.shown == [("flash", 3)]
    recorder.clock.advance(10)
    fill_up(store, recorder)
    kiosk.on_rated(2)
    assert panel.shown == [("flash", 3), ("fault",)]


def test_a_full_disk_is_a_clear_error_and_doctor_fails_under_the_threshold(kiosk_toml, full_disk, clock, capsys):
    from kiosk.loading import load
    cfg = load(str(kiosk_toml), env={})
    with LocalStore(cfg.db_path, kiosk_id=ID) as store:
        pages = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    full_disk(pages + 2)
    rc, _, err = run(capsys, "--config", str(kiosk_toml), "simulate", "--taps", "500")
    assert rc == 1 and "is full" in err and "nothing more can be recorded" in err
    assert run(capsys, "--config", str(kiosk_toml), "stats")[0] == 0            # reading still works
    Usage = namedtuple("Usage", "total used free")
    nothing = doctor.check_disk(cfg.data_dir, disk_usage=lambda p: Usage(1, 1, 0))
    assert [c.status for c in nothing] == [doctor.FAIL] and "0 MB free" in nothing[0].detail
    few = doctor.check_disk(cfg.data_dir, disk_usage=lambda p: Usage(1, 1, 40 * 1024 * 1024))
    assert [c.status for c in few] == [doctor.FAIL]


# -- 9: identity ---------------------------------------------------------------------------------

def test_an_empty_config_file_is_an_error_everywhere(tmp_path, capsys):
    empty = tmp_path / "kiosk.toml"
    empty.write_text("", encoding="utf-8")
    args = ("--config", str(empty), "--data-dir", str(tmp_path / "data"))
    rc, _, err = run(capsys, "config", "check", str(empty))
    assert rc == 2 and "key 'kiosk.id'" in err and "empty" in err
    rc, out, _ = run(capsys, *args, "doctor")
    assert rc == 1 and "[FAIL] config" in out and "kiosk.id" in out
    cut = tmp_path / "cut.toml"
    cut.write_text('[ui]\nthank_you_s = 3.0\n', encoding="utf-8")
    rc, _, err = run(capsys, "--config", str(cut), "--data-dir", str(tmp_path / "data"), "simulate", "--taps", "1")
    assert rc == 2 and "key 'kiosk.id': is not set" in err
    assert not (tmp_path / "data" / "kiosk.db").exists()          # nothing recorded as demo-kiosk-1


def test_a_kiosk_in_production_without_a_config_file_is_an_error(tmp_path, monkeypatch, capsys):
    import kiosk.loading
    monkeypatch.setattr(kiosk.loading, "running_on_pi", lambda: True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("KUNDPULS_CONFIG", raising=False)
    rc, _, err = run(capsys, "--data-dir", str(tmp_path / "data"), "stats")
    assert rc == 2 and "no config file at" in err
    rc, out, _ = run(capsys, "--data-dir", str(tmp_path / "data"), "doctor")
    assert rc == 1 and "no config file at" in out
    rc, _, err = run(capsys, "--data-dir", str(tmp_path / "demo"), "sync", "--demo", "--once", "--timeout", "0.1")
    assert "no config file" not in err and "timed out" in err             # the demo needs none


def test_the_kiosk_id_is_kept_in_the_database_and_another_one_is_refused(tmp_path, kiosk_toml, clock, capsys):
    from kiosk.loading import load
    args = ("--config", str(kiosk_toml))
    assert run(capsys, *args, "simulate", "--taps", "3")[0] == 0
    other = tmp_path / "other.toml"
    other.write_text(kiosk_toml.read_text().replace(ID, "kiosk-0043"), encoding="utf-8")
    for command in (["simulate", "--taps", "1"], ["sync", "--once", "--timeout", "1"], ["stats"]):
        rc, _, err = run(capsys, "--config", str(other), *command)
        assert rc == 1 and f"belongs to kiosk '{ID}', but the config says kiosk.id = 'kiosk-0043'" in err, err
    rc, out, _ = run(capsys, "--config", str(other), "doctor", "--json")
    identity = {c["name"]: c for c in json.loads(out)["checks"]}["identity"]
    assert rc == 1 and identity["status"] == "fail"
    cfg = load(str(kiosk_toml), env={})
    with LocalStore(cfg.db_path) as store:
        assert store.db.execute_sql("SELECT DISTINCT kiosk_id FROM response").fetchall() == [(ID,)]
        assert store.get_meta("kiosk.id") == ID


def test_a_database_from_before_takes_its_identity_from_its_answers(tmp_path, cfg, store, recorder):
    """What an empty kiosk.toml did before: answers recorded as demo-kiosk-1 in the real
    database. The real id in the config now meets them: refused, never mixed."""
    recorder.record("visit", 2)
    store.db.execute_sql("DELETE FROM meta WHERE key = 'kiosk.id'")
    store.close()
    with pytest.raises(IdentityError, match="belongs to kiosk 'demo-kiosk-1', but"):
        LocalStore(cfg.db_path, kiosk_id=ID)
    with LocalStore(cfg.db_path, kiosk_id="demo-kiosk-1") as again:
        assert again.get_meta("kiosk.id") is None or again.get_meta("kiosk.id") == "demo-kiosk-1"


def test_config_check_names_the_data_directory_the_environment_chose(tmp_path, kiosk_toml, monkeypatch, capsys):
    monkeypatch.setenv("KUNDPULS_DATA_DIR", str(tmp_path / "elsewhere"))
    rc, out, _ = run(capsys, "config", "check", str(kiosk_toml))
    assert rc == 0 and f"data in {tmp_path / 'elsewhere'}" in out
    rc, out, _ = run(capsys, "config", "check", str(kiosk_toml), "--data-dir", str(tmp_path / "cli"))
    assert f"data in {tmp_path / 'cli'}" in out


# -- 14: the PIN lock survives a power cycle ---------------------------------------------------

def test_the_pin_lock_survives_a_restart_and_keeps_growing(cfg, store, clock):
    from dataclasses import replace

    from kiosk.pin import hash_pin
    from kiosk.ui.flow import KioskFlow
    cfg = replace(cfg, staff=replace(cfg.staff, pin_hash=hash_pin("4817", iterations=1000), max_tries=3,
                                     lockout_s=300.0))

    def boot(wall) -> KioskFlow:
        """A fresh app after a power cycle: monotonic time starts again, the wall clock goes on."""
        return KioskFlow(cfg, Recorder(cfg, store, FakeClock(wall)), FakeClock(wall))

    def wrong(flow: KioskFlow, n: int) -> None:
        for _ in range(n):
            flow.open_pin()
            for digit in "0000":
                flow.pin_digit(digit)
            flow.pin_submit()

    flow = boot(clock.now())
    wrong(flow, 3)
    assert 14 < flow.pin_locked_for() <= 15
    flow = boot(clock.now() + timedelta(seconds=5))                # pulled the plug, 5 s later
    assert 9 < flow.pin_locked_for() <= 10
    flow = boot(clock.now() - timedelta(hours=2))                  # a Pi without RTC, clock behind
    assert 0 < flow.pin_locked_for() <= 300
    flow = boot(clock.now() + timedelta(seconds=16))               # the lock ran out
    assert flow.pin_locked_for() == 0
    wrong(flow, 2)
    flow = boot(clock.now() + timedelta(seconds=17))               # the count survives a restart too
    wrong(flow, 1)
    assert 29 < flow.pin_locked_for() <= 30                        # and the back-off grew: 15, 30 s
    flow = boot(clock.now() + timedelta(seconds=60))
    flow.open_pin()
    for digit in "4817":
        flow.pin_digit(digit)
    assert flow.pin_submit() is True
    assert boot(clock.now() + timedelta(seconds=61)).pin_guard.tries_left == 3


# -- a full card after a restart: SQLite's I/O error is a full disk, not damage ------------------

FULL_CARD_SCRIPT = r'''
import json, os, subprocess, sys
from pathlib import Path
card, toml = Path(sys.argv[1]), sys.argv[2]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "card", str(card)], check=True)
# Random taps over the week before now fall within the repeat filter's seconds at some times of
# day and not at others (the seed fixes the gaps, not where opening hours cut them): a flagged
# press is kept but not counted, so the test counts answers and flagged presses together.
subprocess.run([sys.executable, "-m", "kiosk", "--config", toml, "simulate", "--taps", "50", "--seed", "7"],
               check=True, capture_output=True)
with open(card / "filler", "wb") as f:          # the card fills up while nothing holds the database
    try:
        while True:
            f.write(b"\0" * 65536)
    except OSError:
        pass
before = sorted(p.name for p in (card / "data").iterdir())
out = {}
for name, argv in (("stats", ["stats", "--json", "--since", "30d"]), ("simulate", ["simulate", "--taps", "1"]),
                   ("sync", ["sync", "--once", "--timeout", "1"]), ("doctor", ["doctor", "--json"]),
                   ("retry", ["refused", "retry"]), ("repair", ["repair"])):
    r = subprocess.run([sys.executable, "-m", "kiosk", "--config", toml, *argv], capture_output=True, text=True)
    out[name] = [r.returncode, r.stdout, r.stderr]
out["files"] = [before, sorted(p.name for p in (card / "data").iterdir() if not p.name.endswith(("-shm", "-wal")))]
(card / "filler").unlink()
r = subprocess.run([sys.executable, "-m", "kiosk", "--config", toml, "doctor", "--json"], capture_output=True, text=True)
import sqlite3
con = sqlite3.connect(card / "data" / "kiosk.db")
out["freed"] = [r.stdout, con.execute("SELECT COUNT(*) FROM response").fetchone()[0]]
con.close()
print(json.dumps(out))
'''


def on_a_small_card(tmp_path: Path, script: str, env: dict[str, str] | None = None) -> dict:
    """Run `script` as root in a private mount namespace (argv: the card's mount point, a
    kiosk.toml whose data_dir is on it; the script mounts a 2 MB tmpfs there), with `env` added
    to its environment; what it printed, as JSON. Skips where that cannot be done."""
    import os
    import shutil
    import subprocess
    import sys
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a small tmpfs needs root and unshare")
    card = tmp_path / "card"
    card.mkdir()
    toml = tmp_path / "kiosk.toml"
    toml.write_text(f'[kiosk]\nid = "{ID}"\nsite = "s1"\ndata_dir = "{card / "data"}"\n'
                    '\n[broker]\nhost = "127.0.0.1"\nport = 1\ntls = false\n', encoding="utf-8")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", script,
                        str(card), str(toml)], capture_output=True, text=True, timeout=180,
                       cwd=Path(__file__).parent.parent, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_card_full_at_start_is_full_everywhere_never_damaged(tmp_path):
    """A real full disk (a 2 MB tmpfs in a private mount namespace) holding a database nobody has
    open: SQLite cannot make the -shm file a WAL database needs and says SQLITE_IOERR_SHMSIZE.
    Every command that records says the disk is full; none sends people to `kiosk repair`, and
    repair itself says to free space first and writes nothing; `kiosk stats` still shows what was
    recorded (read as it stands on the card). Once space is freed every answer is there."""
    out = on_a_small_card(tmp_path, FULL_CARD_SCRIPT)
    rc, stats, err = out["stats"]                     # what was recorded can still be looked at
    since = json.loads(stats)["periods"]["since"]
    assert rc == 0 and since["answers"] + since["flagged"] == 50, err
    for name in ("simulate", "sync", "retry", "repair"):
        rc, _, err = out[name]
        assert rc == 1 and "Traceback" not in err, (name, err)
        assert err.startswith("kiosk: error: the disk holding") and "is full" in err, (name, err)
        assert "failed to read" not in err and "is damaged (" not in err and "and run `kiosk repair`" not in err
    assert "free space first" in out["repair"][2] and out["files"][0] == out["files"][1] == ["kiosk.db", "kiosk.db.made"]
    rc, report, _ = out["doctor"]
    checks = {c["name"]: c for c in json.loads(report)["checks"]}
    assert rc == 1 and checks["disk"]["status"] == "fail"
    assert checks["database"]["status"] == "warn" and "integrity_check ok" in checks["database"]["detail"]
    assert "repair" not in report.replace("no repair needed", "")
    report, answers = out["freed"]
    checks = {c["name"]: c for c in json.loads(report)["checks"]}
    assert checks["database"]["status"] == "ok" and answers == 50          # nothing was damaged or lost


# -- a card out of inodes: room in bytes, none for a file; a full disk too, never damage -------------

NO_INODES_SCRIPT = r"""
import json, os, subprocess, sys
from pathlib import Path
card, toml = Path(sys.argv[1]), sys.argv[2]
# 20 MB free all along, but room for a few dozen files: SQLite cannot make a -shm or -wal file.
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m,nr_inodes=40", "card", str(card)], check=True)
kiosk = [sys.executable, "-m", "kiosk", "--config", toml]
subprocess.run(kiosk + ["simulate", "--taps", "20", "--seed", "7"], check=True, capture_output=True)
fillers = []
while True:                                   # every inode taken by an empty file
    try:
        (card / f"f{len(fillers)}").touch()
    except OSError:
        break
    fillers.append(card / f"f{len(fillers)}")
out = {"free": os.statvfs(card).f_bavail * os.statvfs(card).f_frsize}
for name, argv in (("stats", ["stats", "--json", "--since", "30d"]), ("sync", ["sync", "--once", "--timeout", "1"]),
                   ("simulate", ["simulate", "--taps", "1"]), ("doctor", ["doctor", "--json"]),
                   ("repair", ["repair"])):
    r = subprocess.run(kiosk + argv, capture_output=True, text=True)
    out[name] = [r.returncode, r.stdout, r.stderr]
# The app's store and flow: read as it stands, the card known full before a tap, the tap refused.
sys.path.insert(0, os.getcwd())
from kiosk.capture import Recorder
from kiosk.clock import SystemClock
from kiosk.loading import load
from kiosk.store import LocalStore
from kiosk.ui.flow import KioskFlow
cfg = load(toml, env={})
store = LocalStore.even_full(cfg.db_path, kiosk_id=cfg.kiosk_id)
flow = KioskFlow(cfg, Recorder(cfg, store, SystemClock()), SystemClock())
known = [store.read_only, type(flow.problem).__name__]
out["flow"] = known + [flow.answer(4, "touch") is None, type(flow.store_problem).__name__]
for f in fillers[:4]:
    f.unlink()
out["flow_freed"] = [flow.answer(4, "touch") is not None, store.read_only]
store.close()
r = subprocess.run(kiosk + ["doctor", "--json"], capture_output=True, text=True)
out["freed"] = r.stdout
print(json.dumps(out))
"""


def test_a_card_out_of_inodes_is_full_everywhere_never_damaged(tmp_path):
    """A real card with megabytes free but no inode left (a 20 MB tmpfs with 40 inodes, every
    one taken): SQLite cannot make the -shm file and says SQLITE_CANTOPEN. That is a full disk,
    as when no byte is left: `kiosk stats` reads what was recorded, the commands that write say
    the disk is full (no free inodes), `kiosk doctor` names the missing inodes and never sends
    anyone to `kiosk repair`; the app reads its database as it stands, says so before a tap,
    and stores again once files are deleted."""
    out = on_a_small_card(tmp_path, NO_INODES_SCRIPT)
    assert out["free"] > 10 * 2 ** 20
    rc, stats, err = out["stats"]
    since = json.loads(stats)["periods"]["since"] if rc == 0 else {}
    assert rc == 0 and since["answers"] + since["flagged"] == 20, err
    for name in ("sync", "simulate"):
        rc, _, err = out[name]
        assert rc == 1 and err.startswith("kiosk: error: the disk holding") and "is full" in err, (name, err)
        assert "inodes" in err and "cannot open database" not in err and "and run `kiosk repair`" not in err, (name, err)
    rc, report, err = out["doctor"]
    checks = {c["name"]: c for c in json.loads(report)["checks"]}
    assert rc == 1 and checks["disk"]["status"] == "fail" and "inodes" in checks["disk"]["detail"], checks["disk"]
    database = checks["database"]
    assert database["status"] == "warn" and "integrity_check ok" in database["detail"], database
    assert "inodes" in database["detail"], database
    assert "repair" not in report.replace("no repair needed", "").replace("do not run `kiosk repair`", ""), report
    rc, _, err = out["repair"]
    assert rc == 1 and "is full" in err and "delete files first" in err and "Traceback" not in err, err
    assert out["flow"] == [True, "DiskFull", True, "DiskFull"], out["flow"]
    assert out["flow_freed"] == [True, False], out["flow_freed"]
    checks = {c["name"]: c for c in json.loads(out["freed"])["checks"]}
    assert checks["database"]["status"] == "ok", checks


# -- a card full at start: the kiosk runs all the same, and recovers without a restart ----------

# What the scripts below share: the card mounted, filled, the buttons-only kiosk on a pipe.
CARD_TOOLS = r'''
import json, os, signal, sqlite3, subprocess, sys, time
from pathlib import Path
card, toml = Path(sys.argv[1]), sys.argv[2]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "card", str(card)], check=True)
kiosk = [sys.executable, "-m", "kiosk"]
demo_env = dict(os.environ, KUNDPULS_DATA_DIR=str(card / "demo"))
demo_env.pop("KUNDPULS_CONFIG", None)
out = {}


def fill() -> None:
    """Fill the card to the last byte (a -shm file must not find 32 KiB left)."""
    with open(card / "filler", "ab", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def buttons() -> subprocess.Popen:
    """`kiosk run --headless --demo`: the buttons-only kiosk, its keys on a pipe."""
    return subprocess.Popen(kiosk + ["run", "--headless", "--demo"], env=demo_env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def press(child: subprocess.Popen, key: str) -> str:
    """Press a button; what the demo says of it (or EOF: the kiosk is not running)."""
    try:
        child.stdin.write(key)
        child.stdin.flush()
    except BrokenPipeError:
        return "EOF"
    while True:
        line = child.stdout.readline()
        if not line:
            return "EOF"
        if line.startswith(("answer ", "error: ")):
            return line.strip()


def quit(child: subprocess.Popen) -> list:
    if child.poll() is None:
        child.stdin.write("q")
        child.stdin.flush()
    return [child.wait(30), child.stderr.read()]


def sync_agent() -> subprocess.Popen:
    """`kiosk sync`, the daemon (with Python's fault handler on: see `stopped`)."""
    return subprocess.Popen(kiosk + ["--config", toml, "sync"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONFAULTHANDLER": "1"})


def stopped(agent: subprocess.Popen) -> list:
    """The agent stopped as systemd stops it: its exit status and what it logged. One that has
    not stopped 30 s after SIGTERM is aborted, so its fault handler prints where each of its
    threads was (once, under a loaded machine, it did not stop: the test then says where)."""
    agent.send_signal(signal.SIGTERM)
    try:
        return [agent.wait(30), agent.stderr.read()]
    except subprocess.TimeoutExpired:
        agent.send_signal(signal.SIGABRT)
        agent.wait(30)
        return ["not stopped 30 s after SIGTERM", agent.stderr.read()]


def app_flow(meanwhile=lambda: None) -> Path:
    """The app's store and flow (what `run_app` opens) on the full card: an answer refused
    (out["flow_full"]); then `meanwhile`, the card freed (the filler deleted) and an answer
    stored (out["flow_freed"]). Returns the database's path."""
    sys.path.insert(0, os.getcwd())
    from kiosk.capture import Recorder
    from kiosk.clock import SystemClock
    from kiosk.loading import load
    from kiosk.store import LocalStore
    from kiosk.ui.flow import KioskFlow
    cfg = load(toml, env={})
    store = LocalStore.even_full(cfg.db_path, kiosk_id=cfg.kiosk_id)
    flashed = []
    flow = KioskFlow(cfg, Recorder(cfg, store, SystemClock()), SystemClock(), flash=flashed.append)
    # Known at the start, before any customer's answer is refused (the staff view lists it).
    out["flow_start"] = [flow.not_stored, type(flow.problem).__name__, flow.store_problem is None]
    refused = flow.answer(4, "touch")
    out["flow_full"] = [refused is None, flow.screen, flow.not_stored, type(flow.store_problem).__name__,
                        list(flashed), store.read_only, cfg.db_path.exists()]
    meanwhile()
    (card / "filler").unlink()
    flow.check_card()                    # room again: staff and customers are told no more
    out["flow_room"] = flow.not_stored
    stored = flow.answer(4, "touch")
    out["flow_freed"] = [stored is not None, flow.screen, flow.not_stored, list(flashed), store.read_only]
    store.close()
    return cfg.db_path


def database(path: Path) -> list:
    if not path.exists():                # never made: sqlite3 would make an empty file
        return ["no database"]
    con = sqlite3.connect(path)
    try:
        return [con.execute("PRAGMA integrity_check").fetchone()[0],
                con.execute("SELECT COUNT(*) FROM response").fetchone()[0]]
    finally:
        con.close()
'''

OUTBOX_COMMIT_SCRIPT = CARD_TOOLS + r'''
from datetime import datetime, timezone
from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.exc import DiskFull
from kiosk.loading import load
from kiosk.outbox import Outbox
from kiosk.store import LocalStore
cfg = load(toml, env={})
clock = FakeClock(datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc))
with LocalStore(cfg.db_path, kiosk_id=cfg.kiosk_id) as s:
    r = Recorder(cfg, s, clock)
    for i in range(60):
        r.record("visit", 1 + i % 4)
        clock.advance(10)
agent = LocalStore(cfg.db_path, kiosk_id=cfg.kiosk_id)
box = Outbox(agent, cfg.kiosk_id)
box.next_batch(500, 1 << 20, now=clock.now(), sent_at="t1")
box.requeue()                                    # a reconnect: all that is unacked goes again
fill()
try:
    box.next_batch(500, 1 << 20, now=clock.now(), sent_at="t2")
    out["full"] = "committed"
except DiskFull:
    out["full"] = "refused"
(card / "filler").unlink()
got = []
while (b := box.next_batch(500, 1 << 20, now=clock.now(), sent_at="t3")) is not None:
    got.extend(b.seqs)
out["sent_after"] = [len(got), min(got, default=0), max(got, default=0)]
agent.close()
print(json.dumps(out))
'''


def test_a_batch_the_full_card_refused_to_mark_goes_once_there_is_room(tmp_path):
    """A real full card refuses the commit that marks a batch sent: the outbox's floor used to
    move past the batch anyway, so its answers waited for a quiet outbox or a restart."""
    out = on_a_small_card(tmp_path, OUTBOX_COMMIT_SCRIPT)
    assert out["full"] == "refused", out
    assert out["sent_after"] == [60, 1, 60], out


FULL_AT_START_SCRIPT = CARD_TOOLS + r'''
# The buttons: a database made while there was room; then a card full when the kiosk starts.
child = buttons()
out["made"] = press(child, "2")
quit(child)
fill()
child = buttons()
out["buttons_full"] = press(child, "3")
(card / "filler").unlink()
out["buttons_freed"] = press(child, "4")
out["buttons_exit"] = quit(child)
out["buttons_db"] = database(card / "demo" / "kiosk.db")

# The app's store and flow (what `run_app` opens), on a card full at start.
subprocess.run(kiosk + ["--config", toml, "simulate", "--taps", "20", "--seed", "7"], check=True,
               capture_output=True)
fill()
db_path = app_flow()
out["flow_db"] = database(db_path)

# The sync agent (`kiosk sync`, the daemon) on a card full at start: it keeps running.
fill()
agent = sync_agent()
time.sleep(4)
out["agent_running"] = agent.poll() is None
out["agent_exit"] = stopped(agent)
(card / "filler").unlink()
out["agent_db"] = database(db_path)
print(json.dumps(out))
'''


def test_a_kiosk_started_on_a_full_card_runs_refuses_answers_and_stores_them_once_there_is_room(tmp_path):
    """A real full disk (a 2 MB tmpfs in a private mount namespace) when the kiosk starts: the
    buttons-only kiosk and the app's store and flow start all the same (the database read as it
    stands), a press is refused (the fault blink; no thank-you, the notice on the question
    screen), and once a file is deleted the next press is stored, without a restart, the
    database intact. The sync agent started on the full card keeps running and says what it
    could not write once."""
    out = on_a_small_card(tmp_path, FULL_AT_START_SCRIPT)
    assert out["made"].startswith("answer ")
    assert out["buttons_full"].startswith("error: press on button 3 NOT recorded: the disk holding"), out
    assert out["buttons_freed"].startswith("answer "), out
    rc, err = out["buttons_exit"]
    assert rc == 0 and "Traceback" not in err and "has room again" in err, err
    assert out["buttons_db"] == ["ok", 2]

    assert out["flow_start"] == [True, "DiskFull", True] and out["flow_room"] is False
    assert out["flow_full"] == [True, "question", True, "DiskFull", [], True, True]
    assert out["flow_freed"] == [True, "thanks", False, [3], False]
    assert out["flow_db"] == ["ok", 21]

    rc, err = out["agent_exit"]
    assert out["agent_running"] and rc == 0 and "Traceback" not in err, err
    assert err.count("cannot write to the kiosk database") <= 2 and "in the outbox" in err, err
    assert out["agent_db"] == ["ok", 21]


# -- a kiosk updated while its card is full: its older database is read, and migrated once there is room

UPDATED_ON_A_FULL_CARD_SCRIPT = CARD_TOOLS + r'''
sys.path.insert(0, os.getcwd())
from tests.old_kiosk_schema import at_schema, schema_of


def before_the_update(path: Path) -> None:
    """The database at `path` as kiosk software from before migration 7 left it: schema 6."""
    current = path.with_name("current.db")
    os.replace(path, current)
    at_schema(path, 6, rows_from=current)
    current.unlink()


child = buttons()
out["made"] = press(child, "2")
quit(child)
before_the_update(card / "demo" / "kiosk.db")
subprocess.run(kiosk + ["--config", toml, "simulate", "--taps", "20", "--seed", "7"], check=True,
               capture_output=True)
before_the_update(card / "data" / "kiosk.db")
out["old"] = [schema_of(card / "demo" / "kiosk.db"), schema_of(card / "data" / "kiosk.db")]

# The card fills up; the kiosk is updated and its services start again.
fill()
r = subprocess.run(kiosk + ["--config", toml, "stats", "--json", "--since", "30d"], capture_output=True, text=True)
out["stats"] = [r.returncode, r.stdout, r.stderr]
r = subprocess.run(kiosk + ["--config", toml, "doctor", "--json"], capture_output=True, text=True)
out["doctor"] = r.stdout

child = buttons()
out["buttons_full"] = press(child, "3")
out["buttons_schema_full"] = schema_of(card / "demo" / "kiosk.db")
(card / "filler").unlink()
out["buttons_freed"] = press(child, "4")
out["buttons_exit"] = quit(child)
out["buttons_db"] = database(card / "demo" / "kiosk.db") + schema_of(card / "demo" / "kiosk.db")

fill()
agent = sync_agent()                 # the agent, then the app's store and flow, on the full card
time.sleep(4)
out["agent_running"] = agent.poll() is None
out["schema_full"] = schema_of(card / "data" / "kiosk.db")
db_path = app_flow()
out["agent_exit"] = stopped(agent)
out["flow_db"] = database(db_path) + schema_of(db_path)
con = sqlite3.connect(db_path)
out["outbox"] = list(con.execute("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM response"
                                 " WHERE acked_at IS NULL AND rejected_at IS NULL").fetchone())
con.close()
print(json.dumps(out))
'''


def test_a_kiosk_updated_while_its_card_is_full_runs_and_migrates_its_database_once_there_is_room(tmp_path):
    """A real full disk (a 2 MB tmpfs in a private mount namespace) under a kiosk just updated
    (docs/deployment.md B8) from software whose databases are at schema 6: the first start must
    apply migration 7 and finds no room. It may wait (an index the read path does without), so
    `kiosk stats` shows what was recorded, the buttons-only kiosk, the app's store and flow and
    the sync agent start all the same and refuse answers as on any full card; once a file is
    deleted the next answer migrates the database and is stored, the outbox whole, each seq once.
    (They exited at once with `the disk … is full`: a restart loop under systemd.)"""
    from kiosk.migrations import LATEST
    out = on_a_small_card(tmp_path, UPDATED_ON_A_FULL_CARD_SCRIPT)
    assert out["made"].startswith("answer ") and out["old"] == [[6, False], [6, False]], out
    rc, stats, err = out["stats"]
    assert rc == 0, err
    since = json.loads(stats)["periods"]["since"]
    assert since["answers"] + since["flagged"] == 20, since
    schema = {c["name"]: c for c in json.loads(out["doctor"])["checks"]}["schema"]
    assert schema["status"] == "warn" and schema["detail"] == (
        f"schema 6, migrated to {LATEST} once space is freed (the kiosk reads it as it stands until then)"), schema

    assert out["buttons_full"].startswith("error: press on button 3 NOT recorded: the disk holding"), out
    assert out["buttons_schema_full"] == [6, False], out
    assert out["buttons_freed"].startswith("answer "), out
    rc, err = out["buttons_exit"]
    assert rc == 0 and "Traceback" not in err and "has room again" in err, err
    assert out["buttons_db"] == ["ok", 2, LATEST, True], out

    assert out["agent_running"] and out["schema_full"] == [6, False], out
    assert out["flow_start"] == [True, "DiskFull", True] and out["flow_room"] is False
    assert out["flow_full"] == [True, "question", True, "DiskFull", [], True, True]
    assert out["flow_freed"] == [True, "thanks", False, [3], False]
    assert out["flow_db"] == ["ok", 21, LATEST, True]
    assert out["outbox"] == [21, 21, 1, 21], out
    rc, err = out["agent_exit"]
    assert rc == 0 and "Traceback" not in err and "read as it stands" in err, err


# -- a card full before the database was ever made: the kiosk runs, and makes it once there is room

FULL_BEFORE_FIRST_START_SCRIPT = CARD_TOOLS + r'''
fill()                                   # a first boot on a full card: no data directory, no database
r = subprocess.run(kiosk + ["--config", toml, "doctor", "--json"], capture_output=True, text=True)
out["doctor"] = [r.returncode, r.stdout, r.stderr]

# The buttons: a press is refused until there is room; then it makes the database and is stored.
child = buttons()
out["buttons_full"] = press(child, "3")
(card / "filler").unlink()
out["buttons_freed"] = press(child, "4")
out["buttons_exit"] = quit(child)


def made(path: Path) -> list:
    """What the first start writes into a new database: its schema and the kiosk's identity."""
    if not path.exists():
        return []
    con = sqlite3.connect(path)
    try:
        return [con.execute("PRAGMA user_version").fetchone()[0],
                con.execute("SELECT value FROM meta WHERE key = 'kiosk.id'").fetchone()]
    finally:
        con.close()


out["buttons_db"] = database(card / "demo" / "kiosk.db") + made(card / "demo" / "kiosk.db")

# The sync agent, then the app's store and flow (what `run_app` opens), on the full card.
fill()
agent = sync_agent()


def agent_runs() -> None:
    time.sleep(2)
    out["agent_running"] = agent.poll() is None


db_path = app_flow(agent_runs)
out["agent_exit"] = stopped(agent)
out["flow_db"] = database(db_path) + made(db_path)
print(json.dumps(out))
'''


def test_a_kiosk_first_started_on_a_full_card_runs_and_makes_its_database_once_there_is_room(tmp_path):
    """A real full disk (a 2 MB tmpfs in a private mount namespace) before the kiosk database was
    ever made (a first boot, or a data directory whose database was moved away): `kiosk doctor`
    says the card is full and the database not yet made; the buttons-only kiosk, the app's store
    and flow and the sync agent start all the same (an empty database, read only), a press is
    refused (no thank-you: nothing is acknowledged that is not stored), and once a file is
    deleted the next press makes the database, migrated and the kiosk's own, and is stored in it,
    without a restart."""
    from kiosk.migrations import LATEST
    out = on_a_small_card(tmp_path, FULL_BEFORE_FIRST_START_SCRIPT)
    rc, report, err = out["doctor"]
    assert rc == 1, err
    checks = {c["name"]: c for c in json.loads(report)["checks"]}
    assert checks["disk"]["status"] == "fail", checks
    database = checks["database"]
    assert database["status"] == "warn" and "no database yet" in database["detail"], database
    assert "the disk is full: it cannot be created until space is freed" in database["detail"], database
    assert "repair" not in database["detail"].replace("no repair needed", ""), database

    assert out["buttons_full"].startswith("error: press on button 3 NOT recorded: the disk holding"), out
    assert out["buttons_freed"].startswith("answer "), out
    rc, err = out["buttons_exit"]
    assert rc == 0 and "Traceback" not in err, err
    assert out["buttons_db"][:3] == ["ok", 1, LATEST] and out["buttons_db"][3], out["buttons_db"]

    assert out["flow_start"] == [True, "DiskFull", True] and out["flow_room"] is False
    assert out["flow_full"] == [True, "question", True, "DiskFull", [], True, False]
    assert out["flow_freed"] == [True, "thanks", False, [3], False]
    assert out["flow_db"] == ["ok", 1, LATEST, [ID]]
    rc, err = out["agent_exit"]
    assert out["agent_running"] and rc == 0 and "Traceback" not in err, err
    assert err.count("cannot write to the kiosk database") <= 2, err
    assert err.count("the database is made then (nothing was recorded yet)") == 1, err


APP_BEFORE_FIRST_START_SCRIPT = CARD_TOOLS + r'''
fill()
sys.path.insert(0, os.getcwd())
from kiosk.loading import load
import kiosk.ui.app as ui
cfg = load(toml, env={})
built = ui.build_app


def build_and_drive(*args, **kwargs):
    """The real app (`run_app`'s), driven: the happiest face tapped on the full card, then once
    a file is deleted; then closed."""
    app = built(*args, **kwargs)
    from kivy.clock import Clock
    from kivy.tests.common import UnitTestTouch

    def tap(then, tries: int = 100) -> None:
        # Under load the first frame can come after the first scheduled tap: wait (up to 10 s)
        # until the question's faces are on screen, rather than tap nothing.
        screen = app.sm.current_screen
        faces = [w for w in screen.walk() if type(w).__name__ == "SmileyButton"] if screen else []
        if not faces:
            if tries:
                Clock.schedule_once(lambda _dt: tap(then, tries - 1), 0.1)
            else:
                out["no_faces"] = app.sm.current
                app.stop()
            return
        face = max(faces, key=lambda w: w.value)
        touch = UnitTestTouch(*face.to_window(*face.center))
        touch.touch_down()
        Clock.schedule_once(lambda _dt: (touch.touch_up(), Clock.schedule_once(then, 0.5)), 0.1)

    def refused(_dt, tries: int = 50) -> None:
        hint = app.sm.current_screen.ids.hint.text
        if hint != app.tr("answer_not_stored", app.lang) and tries:
            # Under load the notice can come a frame or more after the 0.5 s (it did with three
            # test workers on two cores): look again, up to 5 s more.
            Clock.schedule_once(lambda dt: refused(dt, tries - 1), 0.1)
            return
        out["refused"] = [app.sm.current, hint == app.tr("answer_not_stored", app.lang), app.store.read_only,
                          cfg.db_path.exists()]
        (card / "filler").unlink()
        Clock.schedule_once(lambda _dt: tap(stored), 1.0)

    def stored(_dt) -> None:
        out["stored"] = [app.sm.current, app.store.read_only]
        app.stop()

    Clock.schedule_once(lambda _dt: tap(refused), 1.5)
    return app


ui.build_app = build_and_drive
try:
    out["exit"] = ui.run_app(cfg, demo=True, size=(800, 480))
except Exception as e:                   # the app did not start: say why (Kivy keeps stderr quiet)
    import traceback
    out["exit"] = repr(e)
    out["traceback"] = traceback.format_exc()[-3000:]   # where, should it happen again (it did once, under load)
out["db"] = database(cfg.db_path)
print(json.dumps(out))
'''


@pytest.mark.ui
def test_the_app_first_started_on_a_full_card_shows_its_question_and_stores_once_there_is_room(
        tmp_path, xvfb_display):
    """The real app (Kivy, on Xvfb) started on a full card that holds no database yet: it shows
    its question; a tap is refused (the question stays, with the notice in the hint's place, and
    nothing is made on the card); once a file is deleted the next tap is stored and thanked for."""
    out = on_a_small_card(tmp_path, APP_BEFORE_FIRST_START_SCRIPT, env={
        "DISPLAY": xvfb_display, "KIVY_HOME": str(tmp_path / "kivy-home"), "KIVY_NO_ARGS": "1",
        "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1"})
    assert out.get("refused") == ["question", True, True, False], out
    assert out["stored"] == ["thanks", False], out
    assert out["exit"] == 0 and out["db"] == ["ok", 1], out
