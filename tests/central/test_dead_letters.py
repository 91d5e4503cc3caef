"""What the centre keeps of refused messages (server_sync/central/dead_letters.py), on SQLite and
a real PostgreSQL: one credential's flood keeps at most a day's budget of rows and bytes and
counts the rest; the same message is kept once, however often it comes; other kiosks' refusals
keep their own budget. (The broker's packet limit and the retained statuses that every ingestor
sees again at each start: tests/test_firmware_mosquitto.py, tests/central/test_ingest_mqtt.py.)"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from server_sync import protocol
from server_sync.central import dead_letters
from server_sync.central.retention import apply_retention
from server_sync.ingest import Ingest
from tests.central.wire import NOW, count, register_fleet


@pytest.fixture
def store(central_db):
    register_fleet(central_db)
    return central_db


def flood(ingest: Ingest, kiosk: str, n: int, size: int) -> None:
    for _ in range(n):
        ingest.handle(protocol.events_topic(kiosk), b"{" + os.urandom(size - 1).hex()[:size - 1].encode())


def kept(db, kiosk: str) -> tuple[int, int]:
    return tuple(db.execute_sql("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM dead_letter"
                                f" WHERE kiosk_id = {db.param}", (kiosk,)).fetchone())


def test_a_flood_from_one_credential_keeps_a_days_budget_and_counts_the_rest(store):
    ingest = Ingest(store, clock=lambda: NOW)
    flood(ingest, "k1", 150, 20 * 1024)
    rows, size = kept(store, "k1")
    assert rows == dead_letters.KEEP_PER_DAY and size <= dead_letters.KEEP_BYTES_PER_DAY
    assert size >= dead_letters.KEEP_BYTES_PER_DAY - 20 * 1024     # the budget is used, not wasted
    assert dead_letters.counts(store)["k1"] == {
        "messages": 150, "bytes": 150 * 20 * 1024, "kept": 100, "last_at": str(
            store.execute_sql("SELECT last_at FROM dead_letter_count").fetchone()[0]),
        "last_reason": store.execute_sql("SELECT last_reason FROM dead_letter_count").fetchone()[0]}
    truncated = count(store, f"SELECT COUNT(*) FROM dead_letter WHERE reason LIKE {store.param}",
                      ("%bytes for the day are spent%",))
    assert truncated == rows - dead_letters.KEEP_BYTES_PER_DAY // (20 * 1024)
    # Another kiosk still has its own budget, and k1 a new one the next day.
    flood(ingest, "k2", 1, 20 * 1024)
    assert kept(store, "k2") == (1, 20 * 1024)
    tomorrow = Ingest(store, clock=lambda: NOW + timedelta(days=1))
    flood(tomorrow, "k1", 1, 1000)
    assert kept(store, "k1")[0] == 101
    # A payload too large to keep whole keeps its head and says so.
    flood(ingest, "k3", 1, dead_letters.KEEP_BYTES_EACH + 10)
    assert kept(store, "k3") == (1, dead_letters.KEEP_BYTES_EACH)
    assert count(store, f"SELECT COUNT(*) FROM dead_letter WHERE reason LIKE {store.param}", ("%too large to keep%",)) == 1


def test_the_same_refused_message_is_kept_once_and_counted_each_time(store):
    ingest = Ingest(store, clock=lambda: NOW)
    bad_status = (protocol.status_topic("k1"), b'{"schema": 1, "online": "yes"}')
    unknown = (protocol.status_topic("k9"), protocol.will_payload())
    for _ in range(3):                      # three ingestors, or one restarted twice
        for topic, payload in (bad_status, unknown):
            assert Ingest(store, clock=lambda: NOW).handle(topic, payload, retained=True).kind == "dead_letter"
    assert count(store, "SELECT COUNT(*) FROM dead_letter") == 2
    counted = dead_letters.counts(store)
    assert counted["k1"]["messages"] == counted["k9"]["messages"] == 3
    assert counted["k1"]["kept"] == counted["k9"]["kept"] == 1


def test_retention_removes_the_counts_with_the_dead_letters(store):
    ingest = Ingest(store, clock=lambda: NOW)
    flood(ingest, "k1", 2, 100)
    apply_retention(store, NOW + timedelta(days=91))
    assert count(store, "SELECT COUNT(*) FROM dead_letter") == count(store, "SELECT COUNT(*) FROM dead_letter_count") == 0


def test_an_empty_retained_status_is_the_standard_clear_not_a_dead_letter(store, caplog):
    """`mosquitto_pub -r -n -t …/kiosk/k1/status` clears a retained status: the broker passes the
    empty message on. It is no error of the kiosk's: nothing dead-lettered, nothing counted."""
    caplog.set_level("DEBUG", logger="kundpuls.ingest")
    ingest = Ingest(store, clock=lambda: NOW)
    for retained in (True, False):
        assert ingest.handle(protocol.status_topic("k1"), b"", retained=retained).kind == "ignored"
    assert count(store, "SELECT COUNT(*) FROM dead_letter") == 0
    assert dead_letters.counts(store) == {}
    assert not [r for r in caplog.records if r.levelname != "DEBUG"]
    # A status that is there but broken still is one.
    assert ingest.handle(protocol.status_topic("k1"), b"{").kind == "dead_letter"


def test_a_hostile_kiosk_id_is_cut_short_in_the_log(store, caplog):
    caplog.set_level("DEBUG", logger="kundpuls.ingest")
    kid = "k" * 5000
    for kind in ("status", "events", "config"):           # an ingest each: its first line of a minute
        assert Ingest(store, clock=lambda: NOW).handle(f"kundpuls/v1/kiosk/{kid}/{kind}", b'{"v":1}').kind == "dead_letter"
    # Ingest's own lines: after a Kivy test in the same worker the root logger is at DEBUG, and
    # peewee's queries are captured too.
    lines = [r.getMessage() for r in caplog.records if r.name == "kundpuls.ingest"]
    assert len(lines) == 3 and all(len(line) < 300 and "k" * 100 not in line for line in lines), lines


HOSTILE_STATUS = b'{"schema":1,"online":true,"\\u0000\\u001b[2J\\u202e":1}'


def test_a_refusal_quoting_control_characters_is_stored_escaped(store, capsys):
    """msgspec quotes an unknown field's name verbatim: a NUL in it made PostgreSQL refuse the
    dead-letter row (and stopped the ingest); an ESC in it cleared the terminal of whoever ran
    `kiosk-central kiosk list`. Reasons are stored escaped, on both engines."""
    ingest = Ingest(store, clock=lambda: NOW)
    out = ingest.handle(protocol.status_topic("k1"), HOSTILE_STATUS)
    want = "status: Object contains unknown field `\\x00\\x1b[2J\\u202e`"
    assert out.kind == "dead_letter" and out.reason == want
    assert store.execute_sql("SELECT reason FROM dead_letter").fetchone()[0] == want
    assert dead_letters.counts(store)["k1"]["last_reason"] == want
    # A reason handed in raw (a future caller, an internal error's text) is made safe in record.
    with store.atomic():
        dead_letters.record(store, protocol.status_topic("k2"), "bell\x07\x00" + "x" * 5000, b"{}", "k2",
                            NOW.replace(tzinfo=None))
    reason = store.execute_sql(f"SELECT reason FROM dead_letter WHERE kiosk_id = {store.param}",
                               ("k2",)).fetchone()[0]
    assert reason.startswith("bell\\x07\\x00x") and len(reason) <= 2000


def test_kiosk_list_prints_no_terminal_escapes(tmp_path, capsys, monkeypatch):
    """A reason stored raw by an older centre (SQLite keeps a NUL and an ESC) is escaped when listed."""
    from server_sync.central.db import connect
    from server_sync.cli import main
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    register_fleet(db)
    db.execute_sql("INSERT INTO dead_letter_count (kiosk_id, day, messages, bytes, kept, kept_bytes, last_reason,"
                   " last_at) VALUES ('k1', ?, 1, 2, 0, 0, ?, ?)",
                   (NOW.date().isoformat(), "field `\x1b]0;pwned\x07\x1b[2J`", NOW.replace(tzinfo=None)))
    db.close()
    import server_sync.commands.kiosk as kiosk_cmd
    monkeypatch.setattr(kiosk_cmd, "_now", lambda: NOW.replace(tzinfo=None))
    assert main(["--db", url, "kiosk", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "field `\\x1b]0;pwned\\x07\\x1b[2J`" in out


def test_a_statuses_own_text_is_stored_printable(store):
    """`version` and `config_error` are the kiosk's words, stored in kiosk_status: a NUL there
    made PostgreSQL refuse the status (dead-lettered as an internal error), an ESC was kept raw."""
    ingest = Ingest(store, clock=lambda: NOW)
    payload = protocol.encode_status(version="1.0\x1b[2J", outbox_depth=0, oldest_unacked_s=None,
                                     clock_synced=True, disk_free_mb=1, config_version=1,
                                     config_error="bad\x00key\nline 2", ts=protocol.iso_ms(NOW))
    assert ingest.handle(protocol.status_topic("k1"), payload).kind == "status"
    row = store.execute_sql("SELECT version, config_error FROM kiosk_status WHERE kiosk_id = 'k1'").fetchone()
    assert tuple(row) == ("1.0\\x1b[2J", "bad\\x00key\\x0aline 2")


def test_a_flood_of_refusals_logs_a_line_a_minute_per_kiosk(store, caplog):
    """A kiosk reconnecting in a loop with a refused retained Last Will (a broker publishes wills
    past its rate limit) had ~340 wills a second dead-lettered, each in a warning line: 200 KB/s
    of log from one credential, enough for journald's rate limit to drop the ingest's other lines
    (a review). Now a kiosk's first refusal of a minute is logged, the rest counted, and its next
    line says how many were not logged; another kiosk's refusals have their own minute."""
    now = [100.0]
    ingest = Ingest(store, clock=lambda: NOW, monotonic=lambda: now[0])
    will = b'{"schema":1,"online":true,"' + b"x" * 2000 + b'":1}'
    caplog.set_level("WARNING", logger="kundpuls.ingest")

    def refuse(kiosk: str, n: int = 1) -> list[str]:
        caplog.clear()
        for _ in range(n):
            assert ingest.handle(protocol.status_topic(kiosk), will, retained=True).kind == "dead_letter"
        return [r.getMessage() for r in caplog.records if r.name == "kundpuls.ingest"]

    first = refuse("k1", 340)
    assert len(first) == 1 and first[0].startswith(f"dead-lettered {protocol.status_topic('k1')}: "), first
    assert "not logged" not in first[0]
    assert len(refuse("k2")) == 1                        # its own minute
    now[0] += 59.9
    assert refuse("k1", 10) == []
    now[0] += 0.1
    again, = refuse("k1")
    assert again.startswith(f"dead-lettered {protocol.status_topic('k1')}: "), again
    assert again.endswith(" (kiosk k1: 349 more dead-lettered since its last such line, not logged)"), again
    now[0] += 60
    assert "not logged" not in refuse("k1")[0]
    assert dead_letters.counts(store)["k1"]["messages"] == 352


def test_the_log_throttle_remembers_a_bounded_number_of_kiosks():
    """Its keys are kiosk ids from topics: past max_keys the least recently logged is forgotten
    (its next line is logged, its count lost), so memory stays bounded."""
    from server_sync.log_throttle import PerKeyThrottle
    now = [0.0]
    throttle = PerKeyThrottle(60.0, lambda: now[0], max_keys=2)
    assert [throttle.admit(k) for k in ("a", "b", "a", "b")] == [0, 0, None, None]
    assert throttle.admit("c") == 0                      # "a" forgotten
    assert throttle.admit("a") == 0 and throttle.admit("c") is None
    now[0] = 60.0
    assert throttle.admit("c") == 1 and throttle.admit("c") is None
