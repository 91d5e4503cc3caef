"""The simulator: realistic, seeded tap times; the command drives the real Recorder."""

from __future__ import annotations

import io
import json
import random
import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from kiosk.cli import main
from kiosk.durations import parse_duration
from kiosk.simulate import mix_on_scale, parse_mix, tap_times
from seeds.demo import OPENING_HOURS

TZ = "Europe/Stockholm"
END = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


def test_tap_times_are_seeded_sorted_and_in_opening_hours():
    start = END - timedelta(days=28)
    a = tap_times(5000, start, END, TZ, random.Random(7))
    assert a == tap_times(5000, start, END, TZ, random.Random(7))
    assert a != tap_times(5000, start, END, TZ, random.Random(8))
    assert a == sorted(a) and start <= a[0] and a[-1] <= END
    for t in a:
        local = t.astimezone(ZoneInfo(TZ))
        open_h, close_h = OPENING_HOURS[local.weekday()]
        assert open_h <= local.hour < close_h


def test_lunch_and_late_afternoon_are_busier_and_saturday_beats_tuesday():
    start = END - timedelta(days=28)
    local = [t.astimezone(ZoneInfo(TZ)) for t in tap_times(20000, start, END, TZ, random.Random(1))]
    hours = Counter(t.hour for t in local)
    assert hours[12] > 2 * hours[9] and hours[17] > 2 * hours[20]
    days = Counter(t.weekday() for t in local)
    assert days[5] > days[1] * 1.3


def test_no_opening_hours_in_the_period():
    sunday_night = datetime(2026, 11, 22, 22, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="no opening hours"):
        tap_times(5, sunday_night, sunday_night + timedelta(hours=3), TZ, random.Random(1))


def test_parse_mix_and_period():
    assert parse_mix("1=10, 2=20,3=40,4=30") == {1: 10, 2: 20, 3: 40, 4: 30}
    for bad in ("1=x", "1", "1=-1", "1=0", "", "1=nan", "1=inf", "1=1e400", "1=1e308,2=1e308"):
        with pytest.raises(ValueError):
            parse_mix(bad)
    with pytest.raises(ValueError, match="'1=20': value 1 is given twice"):      # one weight was dropped
        parse_mix("1=10,1=20")
    mix_on_scale({1: 1, 4: 2}, (1, 2, 3, 4))
    with pytest.raises(ValueError, match="value 5 is not on the scale"):
        mix_on_scale({5: 1}, (1, 2, 3, 4))
    assert parse_duration("7d") == timedelta(days=7) and parse_duration("90m") == timedelta(minutes=90)
    for bad in ("7", "0d", "7w", "d", "-1d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_simulate_command_records_through_the_capture_path(tmp_path, capsys):
    d = tmp_path / "d"
    assert main(["simulate", "--taps", "300", "--seed", "5", "--mix", "1=50,4=50", "--followups",
                 "--json", "--data-dir", str(d)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["taps"] == 300
    con = sqlite3.connect(d / "kiosk.db")
    rows = con.execute("SELECT value, source, filtered FROM response ORDER BY seq").fetchall()
    fus = con.execute("SELECT COUNT(*) FROM followup").fetchone()[0]
    seqs = [s for (s,) in con.execute("SELECT seq FROM response UNION ALL SELECT seq FROM followup ORDER BY seq")]
    times = [t for (t,) in con.execute("SELECT recorded_at FROM response ORDER BY seq")]
    con.close()
    assert len(rows) == 300 and {r[0] for r in rows} == {1, 4} and {r[1] for r in rows} == {"simulate"}
    assert fus == summary["followups"] > 0
    assert seqs == list(range(1, 300 + fus + 1))
    assert (summary["first_seq"], summary["last_seq"]) == (1, seqs[-1])
    assert times == sorted(times)
    assert summary["flagged"] == sum(1 for r in rows if r[2])


def test_simulate_says_the_seqs_it_used_to_the_last_follow_up(tmp_path, capsys):
    """It said "seq 1-457" when a follow-up after the last answer had 458 (a review). Seed 1's
    last event is a follow-up."""
    d = tmp_path / "d"
    assert main(["simulate", "--taps", "40", "--seed", "1", "--mix", "1=100", "--followups", "--data-dir", str(d)]) == 0
    con = sqlite3.connect(d / "kiosk.db")
    last_answer, last_event = con.execute("SELECT (SELECT MAX(seq) FROM response), (SELECT MAX(seq) FROM followup)").fetchone()
    con.close()
    assert last_event > last_answer
    assert f", seq 1-{last_event}, " in capsys.readouterr().out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_simulate_draws_the_progress_bar_on_a_terminal_only(tmp_path, capsys, monkeypatch):
    for n, (stream, drawn) in enumerate(((Terminal(), True), (io.StringIO(), False))):
        monkeypatch.setattr("sys.stderr", stream)
        assert main(["simulate", "--taps", "250", "--seed", "1", "--data-dir", str(tmp_path / str(n))]) == 0
        bar = stream.getvalue()
        assert ("simulate: 100%" in bar and "250/250" in bar) == drawn, bar
        assert drawn or bar == ""
    assert "recorded 250 taps" in capsys.readouterr().out


def test_simulate_bad_arguments(tmp_path, capsys):
    assert main(["simulate", "--taps", "5", "--mix", "7=1", "--data-dir", str(tmp_path)]) == 2
    assert "kiosk: error: --mix for question 'visit' (smiley4): value 7" in capsys.readouterr().err
    assert main(["simulate", "--taps", "5", "--question", "nope", "--data-dir", str(tmp_path)]) == 2
    capsys.readouterr()
    # Weights random.choices refuses (nan, inf) and periods reaching before the year 1 were tracebacks.
    for argv, fragment in ((["--mix", "1=1e400"], "argument --mix: '1=1e400': write VALUE=WEIGHT with a finite"),
                           (["--mix", "1=nan"], "argument --mix: '1=nan': write VALUE=WEIGHT with a finite"),
                           (["--over", "99999999d"], "argument --over: '99999999d': at most 3660 days"),
                           (["--over=-1d"], "argument --over: '-1d': must be a positive duration like 7d")):
        with pytest.raises(SystemExit) as e:
            main(["simulate", "--taps", "1", *argv, "--data-dir", str(tmp_path)])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("usage:") and f"kiosk simulate: error: {fragment}" in err, err
    with pytest.raises(SystemExit) as e:
        main(["simulate", "--taps", "0"])
    assert e.value.code == 2
    assert "error: argument --taps" in capsys.readouterr().err


def test_simulate_refuses_a_production_data_dir_without_force(capsys, tmp_path):
    from kiosk.cli import main
    from kiosk.config import PI_DATA_DIR

    config = tmp_path / "kiosk.toml"
    config.write_text('[kiosk]\nid = "kiosk-0042"\n')
    assert main(["--config", str(config), "simulate", "--taps", "1", "--data-dir", PI_DATA_DIR]) == 2
    assert "production kiosk's data directory" in capsys.readouterr().err
    # Without a config file, a production data directory is refused before anything else.
    assert main(["simulate", "--taps", "1", "--data-dir", PI_DATA_DIR]) == 2
    assert "no config file at" in capsys.readouterr().err
