"""Standard output that cannot be written is one `kiosk: error:` line and exit 1 for every command
that prints, said once in the skeleton both commands share (server_sync.program.cli); a reader that went away (`| head`) ends the command
quietly with 141, as SIGPIPE ends a Unix tool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.cli import main
from server_sync.program.standard_output import READER_GONE

ROOT = Path(__file__).resolve().parent.parent
FULL = "kiosk: error: cannot write to standard output: No space left on device\n"


@pytest.fixture
def data(tmp_path) -> list[str]:
    assert main(["simulate", "--taps", "30", "--seed", "1", "--followups", "--data-dir", str(tmp_path)]) == 0
    return ["--data-dir", str(tmp_path)]


def _kiosk(*args: str, **kw) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}   # buffered, as for a user
    return subprocess.Popen([sys.executable, "-m", "kiosk", *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("command", [
    ["stats"], ["stats", "--json"], ["export"], ["export", "--format", "csv"], ["refused", "list"],
    ["doctor"], ["config", "check"], ["config", "keys"], ["--help"], ["--version"], ["run", "--help"],
])
def test_a_full_disk_is_one_error_line_for_every_command_that_prints(command, data):
    with open("/dev/full", "w") as full:                # a real full disk: every write fails
        p = _kiosk(*data, *command, stdout=full)
        _, err = p.communicate(timeout=60)
    assert (p.returncode, err) == (1, FULL)


def test_the_commands_stand_in_for_stdout_is_gone_afterwards(data, capsys):
    out = sys.stdout
    assert main([*data, "stats"]) == 0
    assert sys.stdout is out and capsys.readouterr().out



def test_dev_full_fails_also_when_the_output_is_written_only_at_exit(data):
    with open("/dev/full", "w") as full:
        p = _kiosk(*data, "stats", stdout=full)
        _, err = p.communicate(timeout=60)
    assert (p.returncode, err) == (1, FULL)


def test_a_closed_stdout_is_an_error_not_silence(data):
    p = _kiosk(*data, "stats", stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    _, err = p.communicate(timeout=60)
    assert (p.returncode, err) == (1, "kiosk: error: cannot write to standard output: it is closed\n")


def test_a_reader_that_went_away_ends_the_command_quietly_with_141():
    p = _kiosk("config", "keys", stdout=subprocess.PIPE)
    p.stdout.close()                                    # `| head` that has read enough
    _, err = p.communicate(timeout=60)
    assert (p.returncode, err) == (READER_GONE, "")
