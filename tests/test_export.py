"""Export: JSONL lines are exactly the wire events (plus header and end lines); CSV the same fields."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import threading
from datetime import date, datetime, timezone

import pytest

from kiosk.cli import main
from kiosk.export import CSV_COLUMNS, write_csv, write_jsonl
from kiosk.store import FollowUp, Response
from seeds.demo import demo_config_mapping

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def fill(recorder, clock):
    a = recorder.record("visit", 1)
    recorder.record_followup(a.id, ["queue", "staff"], "mail me: x@example.com")
    clock.advance(3600 * 24)
    b = recorder.record("visit", 4)
    clock.advance(10)
    c = recorder.record("recommend", 10)
    return a, b, c


def test_jsonl_is_header_wire_events_in_seq_order_and_end(cfg, store, recorder, clock):
    fill(recorder, clock)
    out = io.StringIO()
    assert write_jsonl(cfg, store, out, NOW) == 4
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0] == {"type": "export", "schema": 1, "kiosk_id": cfg.kiosk_id, "site_id": cfg.site_id,
                        "exported_at": "2026-11-23T12:00:00.000Z", "since": None}
    assert lines[-1] == {"type": "end", "events": 4}
    events = lines[1:-1]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    expected = ([Response.get(Response.seq == s).to_event() for s in (1, 3, 4)]
                + [FollowUp.get(FollowUp.seq == 2).to_event()])
    assert sorted(events, key=lambda e: e["seq"]) == sorted(expected, key=lambda e: e["seq"])
    assert events[1]["type"] == "followup" and events[1]["comment"] == "mail me: [e-mail]"


def test_since_uses_store_local_days(cfg, store, recorder, clock):
    fill(recorder, clock)
    out = io.StringIO()
    assert write_jsonl(cfg, store, out, NOW, since=date(2026, 11, 24)) == 2


def test_since_takes_the_day_kiosk_stats_counts_an_answer_on(cfg, store, recorder, clock):
    """An answer given before NTP synced is stamped with fake-hwclock's old time; once the clock
    syncs, kiosk.local_day puts its `local_date` on today (as `kiosk stats` counts it) and leaves
    `recorded_at` as sent. `--since today` filtered on `recorded_at` and left it, and its
    follow-up, out of the export. A follow-up goes by its answer's day, so the two go together."""
    from kiosk.local_day import restamp_unsynced
    from kiosk.stats import local_stats
    clock.synced = False
    clock.step(datetime(2026, 11, 20, 19, 0, tzinfo=timezone.utc))    # fake-hwclock: last Friday
    late = recorder.record("visit", 2)
    recorder.record_followup(late.id, ["queue"], None)
    clock.step(datetime(2026, 11, 23, 11, 5, tzinfo=timezone.utc))     # NTP: Monday, today
    clock.synced = True
    assert restamp_unsynced(store, cfg.timezone, boot_id=clock.boot_id(), now=clock.now(),
                            monotonic_ns=clock.monotonic_ns()) == 1
    clock.advance(600)
    recorder.record("visit", 4)
    today = local_stats(cfg, store, clock.now(), question="visit")["periods"]["today"]
    assert today["answers"] + today["flagged"] == 2
    out = io.StringIO()
    assert write_jsonl(cfg, store, out, NOW, since=date(2026, 11, 23)) == 3
    events = [json.loads(x) for x in out.getvalue().splitlines()[1:-1]]
    assert [e["type"] for e in events] == ["response", "followup", "response"]
    assert events[0]["recorded_at"].startswith("2026-11-20")             # as sent: the centre corrects it
    # The day before today exports nothing of it twice, and a day after it nothing at all.
    assert write_jsonl(cfg, store, io.StringIO(), NOW, since=date(2026, 11, 24)) == 0


def test_since_keeps_a_follow_up_whose_answer_was_lost_by_its_own_day(cfg, store, recorder, clock):
    """`kiosk repair` keeps a follow-up whose answer it could not save: with no answer to go by,
    `--since` takes the follow-up's own recorded_at."""
    fill(recorder, clock)
    store.db.execute_sql("PRAGMA foreign_keys = OFF")
    store.db.execute_sql("DELETE FROM response WHERE seq = 1")
    store.db.execute_sql("PRAGMA foreign_keys = ON")
    assert write_jsonl(cfg, store, io.StringIO(), NOW, since=date(2026, 11, 23)) == 3
    assert write_jsonl(cfg, store, io.StringIO(), NOW, since=date(2026, 11, 24)) == 2
    assert write_jsonl(cfg, store, io.StringIO(), NOW, since=date(1, 1, 1)) == 3


def test_csv_has_every_record_and_the_header_record(cfg, store, recorder, clock):
    fill(recorder, clock)
    out = io.StringIO()
    assert write_csv(cfg, store, out, NOW) == 4
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["type"] == "export" and rows[0]["schema"] == "1" and rows[0]["kiosk_id"] == cfg.kiosk_id
    assert [r["type"] for r in rows[1:]] == ["response", "followup", "response", "response"]
    assert rows[2]["reasons"] == "queue;staff"


def test_export_command_writes_file_atomically(cfg, store, recorder, clock, tmp_path, capsys):
    fill(recorder, clock)
    target = tmp_path / "usb" / "kiosk.jsonl"
    target.parent.mkdir()
    assert main(["export", "--data-dir", str(cfg.data_dir), "--output", str(target)]) == 0
    assert len(target.read_text().splitlines()) == 6
    assert not list(target.parent.glob("*.part"))
    assert main(["export", "--data-dir", str(cfg.data_dir), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("type,id,seq")


def test_a_part_file_linked_elsewhere_is_replaced_not_written_through(cfg, store, recorder, clock, tmp_path):
    """A stick prepared with "kiosk.jsonl.part -> some file" made the export write into that file
    (as the kiosk's user). The link is replaced; what it pointed to is untouched."""
    fill(recorder, clock)
    victim = tmp_path / "kiosk.toml"
    victim.write_text("[kiosk]\nid = 'k1'\n")
    target = tmp_path / "usb" / "kiosk.jsonl"
    target.parent.mkdir()
    target.with_name("kiosk.jsonl.part").symlink_to(victim)
    assert main(["export", "--data-dir", str(cfg.data_dir), "--output", str(target)]) == 0
    assert victim.read_text() == "[kiosk]\nid = 'k1'\n"
    assert not target.is_symlink() and len(target.read_text().splitlines()) == 6
    assert not list(target.parent.glob("*.part"))


def test_export_errors(tmp_path, capsys):
    assert main(["export", "--data-dir", str(tmp_path / "none")]) == 1
    assert "kiosk: error: no kiosk database" in capsys.readouterr().err
    assert main(["export", "--data-dir", str(tmp_path / "none"), "--output", str(tmp_path / "no" / "x")]) == 1


DAMAGE = "UPDATE followup SET comment = CAST(X'4BC3' AS TEXT) WHERE seq = (SELECT MIN(seq) FROM followup)"


@pytest.mark.parametrize("column, cell, exported", [
    ("comment", "CAST(X'4BC3' AS TEXT)", "K\ufffd"),
    ("reasons", "CAST(X'5B2271C3' AS TEXT)", '["q\ufffd'),      # no longer JSON, and a byte not UTF-8
    ("comment", "X'4BC3'", "K\ufffd"),                           # a BLOB: one bit of the record's header
    ("monotonic_ns", "X'4BC3'", "K\ufffd"),
], ids=["comment", "reasons-not-json", "comment-blob", "number-blob"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_damaged_byte_in_a_text_cell_is_exported_not_a_traceback(
        fmt, column, cell, exported, cfg, store, recorder, clock, tmp_path, capsys):
    """One byte of a comment damaged on the card (not UTF-8) stopped the export with a traceback
    ("Could not decode to UTF-8 column 'comment'") and nothing exported: the rescue path lost
    every record for one byte. The damaged text is exported with U+FFFD in its place. A
    follow-up's reasons damaged so they are no longer JSON stopped it too (JSONDecodeError):
    they are exported as the text they hold, as the outbox sends them (`kiosk-central import`
    dead-letters that line alone). A cell the card turned into a BLOB stopped it too
    (UnicodeDecodeError, or bytes json cannot write): exported as text, as the outbox sends it."""
    fill(recorder, clock)
    store.db.execute_sql(f"UPDATE followup SET {column} = {cell} WHERE seq = (SELECT MIN(seq) FROM followup)")
    target = tmp_path / f"kiosk.{fmt}"
    assert main(["export", "--data-dir", str(cfg.data_dir), "--format", fmt, "-o", str(target)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    text = target.read_text(encoding="utf-8")
    if fmt == "jsonl":
        events = [json.loads(x) for x in text.splitlines()[1:-1]]
        assert len(events) == 4 and events[1][column] == exported
    else:
        assert [r[column] for r in csv.DictReader(io.StringIO(text)) if r["type"] == "followup"] == [exported]


def test_the_export_reads_text_tolerantly_only_while_it_exports(cfg, store, recorder, clock):
    """The tolerant reading is the export's: the store's connection reads text as before after it."""
    fill(recorder, clock)
    store.db.execute_sql(DAMAGE)
    assert write_jsonl(cfg, store, io.StringIO(), NOW) == 4
    with pytest.raises(Exception, match="Could not decode"):
        store.db.execute_sql("SELECT comment FROM followup").fetchall()


def test_export_streams_not_loads(cfg, store, recorder, clock):
    for i in range(300):
        clock.advance(6)
        recorder.record("visit", 1 + i % 4)
    from kiosk.export import events
    it = events(store)
    first = next(it)
    assert first["seq"] == 1            # a generator: nothing was materialised up front
    assert sum(1 for _ in it) == 299


def test_since_the_first_day_there_is_exports_everything(cfg, store, recorder, clock, capsys):
    """Midnight of 0001-01-01 in Stockholm is in year 0 UTC, which datetime cannot hold: it is
    before every record, as `kiosk stats --since 0001-01-01` finds (it was an OverflowError)."""
    fill(recorder, clock)
    assert write_jsonl(cfg, store, io.StringIO(), NOW, since=date(1, 1, 1)) == 4
    assert main(["export", "--data-dir", str(cfg.data_dir), "--since", "0001-01-01"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == '{"type": "end", "events": 4}'


def test_export_refuses_a_future_since_like_stats(cfg, store, recorder, clock, capsys):
    fill(recorder, clock)
    assert main(["export", "--data-dir", str(cfg.data_dir), "--since", "2999-01-01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: --since 2999-01-01 is in the future") and "Traceback" not in err


def test_export_into_a_pipe_writes_into_it_and_leaves_it_a_pipe(cfg, store, recorder, clock, tmp_path, capsys):
    """`-o /dev/null` or a FIFO: written into, never renamed over (as root that replaced /dev/null
    with a plain file). A FIFO stands in for the device here."""
    fill(recorder, clock)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    assert main(["export", "--data-dir", str(cfg.data_dir), "--output", str(fifo)]) == 0
    reader.join(timeout=10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got and got[0].splitlines()[-1] == '{"type": "end", "events": 4}'


@pytest.mark.parametrize("given", [[], ["--output", "-"], ["-o", "-"]])
def test_output_dash_is_standard_output(given, cfg, store, recorder, clock, tmp_path, capsys, monkeypatch):
    """`-o -` is standard output, as Unix tools read it: it wrote a file named '-'."""
    fill(recorder, clock)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--data-dir", str(cfg.data_dir), *given]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[-1] == '{"type": "end", "events": 4}' and "exported" not in out.err
    assert not (tmp_path / "-").exists()


# A comment's leading tab or CR never reaches the store (kiosk.scrub trims it): the last two are
# for the cell guard itself.
FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"]


def test_csv_cells_are_never_formulas_and_booleans_are_0_or_1(cfg, store, recorder, clock):
    """A comment that starts like a formula is shown as text (a leading apostrophe, as OWASP
    recommends); clock_synced and unsent read 0/1 alike, as docs/export-format.md says."""
    for i, comment in enumerate(FORMULAS[:4]):
        answer = recorder.record("visit", 1)
        recorder.record_followup(answer.id, [], comment, unsent=bool(i % 2))
        clock.advance(60)
    out = io.StringIO()
    write_csv(cfg, store, out, NOW)
    rows = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["type"] == "followup"]
    assert [r["comment"] for r in rows] == ["'" + c for c in FORMULAS[:4]]
    assert [r["unsent"] for r in rows] == ["0", "1"] * 2
    assert {r["clock_synced"] for r in rows} <= {"0", "1"}


@pytest.mark.parametrize("config_mapping", [demo_config_mapping("-A1", "-B2")])
def test_the_csv_header_record_escapes_ids_as_the_event_rows_do(cfg, store, recorder, clock):
    """A kiosk or site id may start with '-' (the id pattern allows it), which a spreadsheet runs
    as a formula: the events wrote `'-A1`, the header record `-A1` raw."""
    fill(recorder, clock)
    out = io.StringIO()
    write_csv(cfg, store, out, NOW)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {(r["kiosk_id"], r["site_id"] or "'-B2") for r in rows} == {("'-A1", "'-B2")}


def test_a_text_cell_never_starts_a_formula_and_is_otherwise_as_typed():
    """server_sync.program.spreadsheet: the one guard of the kiosk's export and the web's CSV."""
    from server_sync.program.spreadsheet import text_cell
    assert all(text_cell(text) == "'" + text for text in FORMULAS)
    assert [text_cell(t) for t in ("fine", "", "'quoted", " =x", "a=b")] == ["fine", "", "'quoted", " =x", "a=b"]


def test_the_web_csv_writes_yes_and_no_as_the_kiosks_export_does():
    """The web's downloads wrote Python's True/False (the actions' `overdue`)."""
    render = pytest.importorskip("server_sync.web.render")      # not on a kiosk (no web extra)
    assert render.to_csv(["overdue", "note"], [{"overdue": True, "note": "=1"}, {"overdue": False}]) == \
        "overdue,note\n1,'=1\n0,\n"


def test_the_web_apps_csv_escapes_joined_lists_too():
    """The comments download joined a follow-up's reason codes into one cell unescaped: a code may
    start with '-' (the id pattern allows it), and `-2-3` is a formula to a spreadsheet."""
    render = pytest.importorskip("server_sync.web.render")      # not on a kiosk (no web extra)
    text = render.to_csv(["reasons", "comment"], [{"reasons": ["-2-3", "queue"], "comment": "=1+1"}])
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row == ["'-2-3;queue", "'=1+1"]
