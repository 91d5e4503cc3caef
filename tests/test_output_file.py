"""`program.files.write_output` (a report's --output): whole or not at all, through a symlink to
its target, into a device without replacing it, keeping an existing file's mode, no temp file
left behind; and `kiosk-central report -o` writing with it."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from server_sync.cli import main
from server_sync.program.files import write_output


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_reader_sees_the_old_file_or_the_new_one_never_a_part(tmp_path):
    # A reader polling while big reports are written over each other: every read is one whole
    # report. (A plain write truncates first: readers saw empty and half files.)
    out, big = tmp_path / "report.html", 4_000_000
    versions = ["a" * big, "b" * big]
    write_output(out, versions[0])
    seen, stop = set(), threading.Event()

    def read() -> None:
        while not stop.is_set():
            text = out.read_text()
            seen.add((len(text), text[:1], text[-1:]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(12):
            write_output(out, versions[i % 2])
    finally:
        stop.set()
        reader.join()
    assert seen and seen <= {(big, "a", "a"), (big, "b", "b")}, seen
    assert _leftovers(tmp_path) == []


def test_a_symlink_keeps_pointing_at_the_new_report(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    write_output(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real) and real.read_text() == "new"


def test_an_existing_files_mode_is_kept_and_a_new_one_follows_the_umask(tmp_path):
    kept = tmp_path / "kept.csv"
    kept.write_text("old")
    kept.chmod(0o640)
    write_output(kept, "new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "new"
    old = os.umask(0o027)
    try:
        write_output(tmp_path / "new.csv", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640


def test_a_device_is_written_into_not_replaced(tmp_path):
    write_output("/dev/null", "report")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_output(out, "half \udc80 a report")          # fails in the middle of writing
    assert out.read_text() == "old" and _leftovers(tmp_path) == []


def test_report_output_writes_the_whole_report(tmp_path, migrated_sqlite, capsys):
    from tests.fixtures.postgres import copy_sqlite
    copy_sqlite(migrated_sqlite, tmp_path / "c.db")
    out = tmp_path / "r.json"
    out.write_text("an older report")
    assert main(["report", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--no-progress", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["schema"] and _leftovers(tmp_path) == []
    assert main(["report", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--no-progress",
                 "-o", str(tmp_path / "missing" / "r.json")]) == 2
    assert "cannot write --output" in capsys.readouterr().err


def test_report_output_that_cannot_be_looked_at_is_said_before_the_report(tmp_path, migrated_sqlite, capsys):
    # A file name longer than a name can be (ENAMETOOLONG) was a traceback from the check for
    # a directory; now the same error as a failed write, exit 2.
    from tests.fixtures.postgres import copy_sqlite
    copy_sqlite(migrated_sqlite, tmp_path / "c.db")
    out = tmp_path / ("r" * 300 + ".json")
    assert main(["report", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--no-progress", "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"kiosk-central: error: cannot write --output {out}: File name too long\n"


def test_report_output_in_a_directory_this_user_may_not_enter(tmp_path, migrated_sqlite):
    # Was a PermissionError traceback (Path.is_dir raises on EACCES); run without root's
    # override of file modes, since root may enter any directory.
    import shutil
    import subprocess
    import sys
    from tests.fixtures.postgres import copy_sqlite
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("dropping root's override of file modes needs root and setpriv")
    copy_sqlite(migrated_sqlite, tmp_path / "c.db")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    out = locked / "r.json"
    r = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable,
                        "-m", "server_sync", "report", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--no-progress",
                        "-o", str(out)], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[1])
    assert (r.returncode, r.stderr) == (2, f"kiosk-central: error: cannot write --output {out}: Permission denied\n")
