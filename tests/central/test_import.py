"""`kiosk-central import FILE`: a real `kiosk export` file goes in through the same validation and
dedupe as MQTT ingest; importing twice adds nothing; bad lines are dead-lettered with their line
number; a truncated file is reported; an unregistered kiosk is a clear error."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.config import parse_config
from kiosk.export import write_jsonl
from kiosk.store import LocalStore
from seeds.demo import demo_config_mapping
from server_sync import protocol
from server_sync.central.registry import ZONE_FIX
from server_sync.cli import main
from server_sync.ingest import Ingest
from tests.central.wire import count


def export_of(tmp_path, answers: int, followup_every: int | None, hours_ago: int, step_s: int) -> str:
    """A real `kiosk export` of kiosk k1 (site s1): `answers` answers `step_s` apart from
    `hours_ago`, a follow-up to every `followup_every`-th."""
    mapping = demo_config_mapping("k1", "s1")
    mapping["kiosk"]["data_dir"] = str(tmp_path / "k1")
    cfg = parse_config(mapping)
    clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=hours_ago))
    with LocalStore(cfg.db_path) as store:
        rec = Recorder(cfg, store, clock)
        q = cfg.questions[0]
        for i in range(answers):
            r = rec.record(q.id, q.values[i % len(q.values)])
            clock.advance(step_s)
            if followup_every and i % followup_every == 0:
                rec.record_followup(r.id, reasons=[q.reasons[0]], comment="kö")
        out = io.StringIO()
        write_jsonl(cfg, store, out, clock.now())
    return out.getvalue()


@pytest.fixture
def export_file(tmp_path):
    """A real export of kiosk k1 (site s1): 60 answers, 6 follow-ups."""
    path = tmp_path / "k1-export.jsonl"
    path.write_text(export_of(tmp_path, 60, 10, hours_ago=10, step_s=9), encoding="utf-8")
    return path


def run_import(capsys, *argv) -> tuple[int, dict | str, str]:
    rc = main(["import", *argv])
    out, err = capsys.readouterr()
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, out, err


def test_import_twice_adds_nothing_the_second_time(central, export_file, capsys):
    url, db = central
    rc, s, _ = run_import(capsys, str(export_file), "--db", url, "--json")
    assert rc == 0 and (s["events"], s["new"], s["duplicates"], s["complete"]) == (66, 66, 0, True)
    rc, s, _ = run_import(capsys, str(export_file), "--db", url, "--json")
    assert rc == 0 and (s["new"], s["duplicates"], s["conflicts"]) == (0, 66, 0)
    assert count(db, "SELECT COUNT(*) FROM response") == 60 and count(db, "SELECT COUNT(*) FROM followup") == 6
    assert count(db, "SELECT COALESCE(SUM(n), 0) FROM rollup_hourly") == \
        count(db, "SELECT COUNT(*) FROM response WHERE filtered IS NULL")
    rc, text, _ = run_import(capsys, str(export_file), "--db", url)
    assert "66 events: 0 new, 66 duplicates, 0 conflicts, 0 dead-lettered" in text


def test_import_dash_reads_standard_input_from_a_pipe(central, tmp_path):
    """`ssh kiosk kiosk export | kiosk-central import -`: read as it comes. A pipe cannot tell its
    position: after 1,000 lines the progress asked it, a traceback ("Illegal seek"; a review)."""
    url, db = central
    text = export_of(tmp_path, 1100, None, hours_ago=30, step_s=30)
    proc = subprocess.Popen([sys.executable, "-m", "server_sync", "import", "-", "--db", url, "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(text.encode("utf-8"), timeout=120)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["new"] == 1100 and count(db, "SELECT COUNT(*) FROM response") == 1100


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_sites_time_zone_edited_by_hand_stops_the_import_with_a_clear_error(central, export_file, capsys):
    """ZoneInfo's ZoneInfoNotFoundError went up as a traceback. Now the error names the site, the
    value and the fix, nothing is dead-lettered for it, and the file goes in once the zone is right."""
    url, db = central
    with db.atomic():
        db.execute_sql("UPDATE site SET timezone = 'Mars/Olympus' WHERE id = 's1'")
    rc, out, err = run_import(capsys, str(export_file), "--db", url, "--json")
    assert rc == 2 and out == "", out
    assert err.startswith("kiosk-central: error: the stored timezone of site s1 is 'Mars/Olympus'") and \
        f"set it again: {ZONE_FIX}" in err and "Traceback" not in err, err
    assert count(db, "SELECT COUNT(*) FROM response") == 0 and count(db, "SELECT COUNT(*) FROM dead_letter") == 0
    with db.atomic():
        db.execute_sql("UPDATE site SET timezone = 'Europe/Stockholm' WHERE id = 's1'")
    rc, s, _ = run_import(capsys, str(export_file), "--db", url, "--json")
    assert rc == 0 and (s["new"], s["complete"]) == (66, True)


def test_import_draws_the_progress_bar_on_a_terminal_unless_json(central, export_file, capsys, monkeypatch):
    url, _db = central
    for args, drawn in (([], True), (["--json"], False), (["--no-progress"], False)):
        term = Terminal()
        monkeypatch.setattr("sys.stderr", term)
        assert main(["import", str(export_file), "--db", url, *args]) == 0
        bar = term.getvalue()
        assert (f"{export_file.name}: 100%" in bar and "66 events" in bar) == drawn, bar
        assert drawn or bar == ""
    capsys.readouterr()


def test_import_after_mqtt_ingest_shares_the_dedupe(central, export_file, capsys):
    url, db = central
    lines = [json.loads(x) for x in export_file.read_text().splitlines()[1:-1]]
    Ingest(db).handle(protocol.events_topic("k1"), protocol.encode_batch("k1", "b1", lines[:30]))
    rc, s, _ = run_import(capsys, str(export_file), "--db", url, "--json")
    assert rc == 0 and (s["new"], s["duplicates"]) == (36, 30)


def test_bad_lines_conflicts_and_truncation_are_reported(central, export_file, capsys, tmp_path):
    url, db = central
    lines = export_file.read_text(encoding="utf-8").splitlines()
    run_import(capsys, str(export_file), "--db", url, "--json")
    answers = [json.loads(x) for x in lines[1:-1] if json.loads(x)["type"] == "response"]
    changed = dict(answers[0], value=1 if answers[0]["value"] != 1 else 2)
    out_of_range = dict(answers[1], id="5d2c3c1e-0000-4000-8000-000000000001", value=42)
    other_kiosk = dict(answers[2], id="5d2c3c1e-0000-4000-8000-000000000002", kiosk_id="k2")
    bad = tmp_path / "bad.jsonl"
    # Header, a conflict, two invalid events, broken JSON, the rest; and no end line (truncated).
    bad.write_text("\n".join([lines[0], json.dumps(changed), json.dumps(out_of_range), json.dumps(other_kiosk),
                              '{"type": "response", "id": ', *lines[4:-1]]) + "\n", encoding="utf-8")
    rc, s, err = run_import(capsys, str(bad), "--db", url, "--json")
    assert rc == 1 and "looks truncated (no end line" in err
    assert (s["conflicts"], s["dead_lettered"], s["new"]) == (1, 3, 0)
    reasons = [r[0] for r in db.execute_sql("SELECT reason FROM dead_letter ORDER BY id")]
    assert "line 3" in reasons[0] and "out of range" in reasons[0]
    assert "line 4" in reasons[1] and "does not match 'k1'" in reasons[1]
    assert "line 5: malformed JSON" in reasons[2]
    assert count(db, "SELECT COUNT(*) FROM conflict") == 1
    # A whole file with one line damaged (not JSON, not UTF-8): that line refused, with its
    # number and why; not "looks truncated", which the count of read lines said.
    # json's messages that end in "at" said "… at at column N".
    for damage, why in ((b"not json at all", "Expecting value at column 1"),
                        (b'{"type": "response", "comment": "\xff\xfe"}', "not UTF-8 text"),
                        (b'{"type": "response", "comment": "a\x01b"}', "Invalid control character at column 35")):
        raw = export_file.read_bytes().split(b"\n")
        raw[6] = damage
        mid = tmp_path / "mid.jsonl"
        mid.write_bytes(b"\n".join(raw))
        assert main(["import", str(mid), "--db", url, "--no-progress"]) == 1
        out, err = capsys.readouterr()
        assert "1 dead-lettered" in out
        assert err.splitlines() == [f"kiosk-central: refused line 7: malformed JSON: {why}"]
    # The end line damaged (the last line no JSON): every event is in, and the count cannot be
    # checked; said so, not "truncated" with the damaged line counted as an event.
    raw = export_file.read_text(encoding="utf-8").rstrip("\n").split("\n")
    events = len(raw) - 2
    end = tmp_path / "end.jsonl"
    end.write_text("\n".join([*raw[:-1], raw[-1][:-5]]) + "\n", encoding="utf-8")
    assert main(["import", str(end), "--db", url, "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert f"{events} events" in out and "truncated" not in err, (out, err)
    assert f"the last line of {end} is damaged (its end line" in err and f"{events} events read" in err
    # A line after the end line is refused with its number too.
    after = tmp_path / "after.jsonl"
    after.write_text("\n".join([*raw, raw[1]]) + "\n", encoding="utf-8")
    assert main(["import", str(after), "--db", url, "--no-progress"]) == 1
    assert f"kiosk-central: refused line {len(raw) + 1}: a line after the end line" in capsys.readouterr().err


def test_a_comment_with_a_lone_surrogate_is_a_dead_letter_not_a_stopped_import(central, export_file, capsys, tmp_path):
    """`"\\ud800"` is valid JSON and decodes to a lone surrogate, which UTF-8 cannot hold: the
    database driver refused the row and the import (and the conflict path) stopped with a
    traceback. Now the event is refused with its reason and the rest goes in."""
    url, db = central
    lines = export_file.read_text(encoding="utf-8").splitlines()
    followups = [i for i, x in enumerate(lines[1:-1], 1) if json.loads(x)["type"] == "followup"]
    bad = tmp_path / "surrogate.jsonl"
    lines[followups[0]] = lines[followups[0]].replace('"comment":"k\u00f6"', '"comment":"hi \\ud800"').replace(
        '"comment": "k\u00f6"', '"comment": "hi \\ud800"').replace('"comment":"kö"', '"comment":"hi \\ud800"')
    assert "\\ud800" in lines[followups[0]], lines[followups[0]]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, s, err = run_import(capsys, str(bad), "--db", url, "--json")
    assert "Traceback" not in err and s["dead_lettered"] == 1 and s["new"] == len(lines) - 3, (rc, s, err)
    reason = db.execute_sql("SELECT reason FROM dead_letter").fetchone()[0]
    assert "comment contains a lone surrogate (U+D800)" in reason
    # The same event again, now as a changed copy of one already stored: the conflict path.
    stored = json.loads(lines[followups[1]])
    lines2 = [lines[0], json.dumps(dict(stored, comment="x \ud800")), lines[-1]]
    again = tmp_path / "surrogate2.jsonl"
    again.write_text("\n".join(lines2) + "\n", encoding="utf-8")
    rc, s, err = run_import(capsys, str(again), "--db", url, "--json")
    assert "Traceback" not in err and s["dead_lettered"] == 1, (rc, s, err)


def test_a_comment_the_card_damaged_goes_in_with_its_replacement_character(central, tmp_path, capsys):
    """A comment with a damaged byte (not UTF-8) is exported with U+FFFD in its place
    (kiosk.damaged_text); the centre takes it as any comment, unchanged."""
    mapping = demo_config_mapping("k1", "s1")
    mapping["kiosk"]["data_dir"] = str(tmp_path / "k1")
    cfg = parse_config(mapping)
    clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2))
    with LocalStore(cfg.db_path) as store:
        q = cfg.questions[0]
        rec = Recorder(cfg, store, clock)
        rec.record_followup(rec.record(q.id, q.values[0]).id, reasons=[q.reasons[0]], comment="kö")
        store.db.execute_sql("UPDATE followup SET comment = CAST(X'4BC3' AS TEXT)")
        out = io.StringIO()
        write_jsonl(cfg, store, out, clock.now())
    path = tmp_path / "damaged.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    url, db = central
    rc, s, err = run_import(capsys, str(path), "--db", url, "--json")
    assert rc == 0 and (s["new"], s["dead_lettered"]) == (2, 0), (s, err)
    assert db.execute_sql("SELECT comment FROM followup").fetchone()[0] == "K\ufffd"


def test_a_number_of_thousands_of_digits_is_refused_as_what_it_is(central, export_file, capsys, tmp_path):
    """Python refused 5,000 digits with advice to raise sys.set_int_max_str_digits, and read 4,000
    in quadratic time: a line's number is refused past 40 digits, naming them."""
    url, db = central
    lines = export_file.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[1])
    lines[1] = json.dumps(event).replace(f'"seq": {event["seq"]}', '"seq": ' + "9" * 5000)
    assert "9" * 5000 in lines[1]
    bad = tmp_path / "digits.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, s, err = run_import(capsys, str(bad), "--db", url, "--json")
    assert rc == 1 and s["dead_lettered"] == 1 and s["new"] == len(lines) - 3, (rc, s, err)
    reason = db.execute_sql("SELECT reason FROM dead_letter").fetchone()[0]
    assert reason == "line 2: malformed JSON: a whole number of 5000 digits (an event has none over 40)"


@pytest.mark.parametrize("etype", [[], {}])
def test_an_event_type_that_is_no_string_is_a_dead_letter(central, export_file, capsys, tmp_path, etype):
    """`{"type": []}` stopped the import with a traceback (unhashable type, looked up among the
    event types); now the line is refused with its reason and the rest goes in."""
    url, db = central
    lines = export_file.read_text(encoding="utf-8").splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "type": etype})
    bad = tmp_path / "type.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, s, err = run_import(capsys, str(bad), "--db", url, "--json")
    assert rc == 1 and s["dead_lettered"] == 1 and s["new"] == len(lines) - 3, (rc, s, err)
    reason = db.execute_sql("SELECT reason FROM dead_letter").fetchone()[0]
    assert reason == f"line 2: unknown event type {json.dumps(etype)}; expected response or followup", reason


def test_an_import_refusal_names_the_import_as_its_remedy(central, export_file, capsys, tmp_path):
    """An import's refused line said "… then `kiosk refused retry`", which on the kiosk finds
    nothing to retry (the file was never sent over MQTT): the remedy of a file is to import it again."""
    url, db = central
    lines = []
    for line in export_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "kiosk_id" in record:
            record["kiosk_id"] = "k3"                     # registered at s2; its answers say s1
        lines.append(json.dumps(record))
    moved = tmp_path / "k3.jsonl"
    moved.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, s, err = run_import(capsys, str(moved), "--db", url)
    assert rc == 1 and "is not the registered site 's2' of kiosk 'k3'" in err, err
    assert "(fix kiosk.site, or the registration, then import the file again (what is stored already is skipped))" in err
    assert "kiosk refused retry" not in err
    reason = db.execute_sql("SELECT reason FROM dead_letter").fetchone()[0]
    assert "then import the file again" in reason


def test_unregistered_kiosk_and_non_export_files_are_clear_errors(tmp_path, capsys, export_file):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["site", "add", "s1", "--name", "S", "--db", url]) == 0      # import makes no store
    rc = main(["import", str(export_file), "--db", url])
    err = capsys.readouterr().err
    assert rc == 2 and "kiosk-central: error: kiosk 'k1'" in err and "kiosk-central kiosk add k1" in err
    not_export = tmp_path / "x.jsonl"
    not_export.write_text('{"hello": 1}\n')
    assert main(["import", str(not_export), "--db", url]) == 2
    assert "not an export header" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "missing.jsonl"), "--db", url]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_deactivated_kiosks_file_is_refused_up_front_and_nothing_written(central, export_file, capsys):
    """Its events used to be refused one by one: '66 dead-lettered', no reason shown, a dead letter
    for each answer already stored. Now the same upfront refusal as for an unregistered kiosk."""
    from server_sync.central import registry
    url, db = central
    assert run_import(capsys, str(export_file), "--db", url, "--json")[0] == 0
    registry.set_active(db, "k1", False, datetime.now(timezone.utc).replace(tzinfo=None))
    rc, out, err = run_import(capsys, str(export_file), "--db", url)
    assert rc == 2 and out == "", out
    assert "kiosk-central: error: kiosk 'k1'" in err and "is deactivated" in err, err
    assert "kiosk-central kiosk add k1 --site s1 --rotate-password" in err and "Traceback" not in err
    assert count(db, "SELECT COUNT(*) FROM dead_letter") == 0
    assert count(db, "SELECT COALESCE(SUM(messages), 0) FROM dead_letter_count") == 0


def test_an_empty_file_is_said_to_be_empty(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["site", "add", "s1", "--name", "S", "--db", url]) == 0
    empty = tmp_path / "k1.jsonl"
    empty.write_bytes(b"")
    assert main(["import", str(empty), "--db", url]) == 2
    err = capsys.readouterr().err
    assert f"kiosk-central: error: {empty} is empty" in err and "not JSON" not in err, err


def test_an_endless_line_is_refused_without_reading_it_into_memory(central, export_file, capsys, tmp_path):
    """A 40 MB line on an untrusted stick: refused for its length (dead-lettered with its start),
    the lines after it imported, and the import's memory stays that of one line of 64 KB (it
    read the whole line first: a 300 MB one took 900 MB)."""
    import tracemalloc
    url, db = central
    lines = export_file.read_text(encoding="utf-8").splitlines()
    big = tmp_path / "big.jsonl"
    with open(big, "w", encoding="utf-8") as f:
        f.write(lines[0] + "\n")
        f.write('{"type": "response", "note": "' + "x" * 40_000_000 + '"}\n')
        f.write("\n".join(lines[1:]) + "\n")
    tracemalloc.start()
    try:
        rc, s, _ = run_import(capsys, str(big), "--db", url, "--json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 1 and (s["new"], s["dead_lettered"], s["complete"]) == (66, 1, True)
    assert peak < 8_000_000, peak
    [reason] = [r[0] for r in db.execute_sql("SELECT reason FROM dead_letter")]
    assert reason.startswith("line 2") and "longer than 65536 bytes" in reason


def test_bounded_lines_keep_the_start_of_a_long_line_and_every_line_after_it():
    from server_sync.importer import bounded_lines
    data = b"short\n" + b"y" * 10_000 + b"\n" + b"z" * 10 + b"\nlast"
    assert list(bounded_lines(io.BytesIO(data), 100)) == [b"short\n", b"y" * 101, b"z" * 10 + b"\n", b"last"]
