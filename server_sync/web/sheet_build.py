"""A large Excel download built in a child process (server_sync/report/sheet_child.py), not in the
web worker: openpyxl holds the GIL for the whole build (95 000 comments: 13-15 s), and every other
page the worker served meanwhile waited its turn for the interpreter (a review: seconds). The
worker hands the child the rows it has already read for the person (their scope applied: the
child reads no database) through a pipe, a chunk at a time, and waits for it without holding the
GIL; the child writes the workbook to a temporary file, which the worker opens and unlinks at
once, so the response streams an open file and nothing is left on disk whatever becomes of it.
The child is killed when the person's client goes away or the build takes longer than its limit;
the temporary file is removed then too, and on any failure."""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, Sequence

import server_sync

CHILD = (sys.executable, "-m", "server_sync.report.sheet_child")   # followed by the file to write
TIME_LIMIT_S = 180.0          # 95 000 comments take about 15 s; ten times that on a loaded machine is broken
POLL_S = 0.2                  # how often the worker looks whether the client is gone or time is up
CHUNK_ROWS = 1_000            # rows a frame of the pipe: each pickled in a few ms, the GIL let go between
TEMP_PREFIX = "kundpuls-sheet-"
TEMP_DIR: str | None = None   # tempfile's default


class SheetFailed(Exception):
    """The child did not build the workbook (it failed, or was stopped: below)."""


class SheetCancelled(SheetFailed):
    """The person's client went away before the workbook was built: the child was killed."""


class SheetTimeout(SheetFailed):
    """The build took longer than its limit: the child was killed."""


def build(columns: Sequence[str], rows: Sequence[Sequence[Any] | dict], sheet: str, *,
          cancelled: Callable[[], bool] = lambda: False, time_limit_s: float | None = None) -> IO[bytes]:
    """The workbook of `rows` (workbook.to_xlsx's table), built by a child process, as a file open
    for reading whose path is already removed (closing it frees its space). `cancelled` is asked
    every POLL_S while the child works: True kills it (SheetCancelled); so does the time limit
    (`time_limit_s`, else TIME_LIMIT_S: SheetTimeout); a child that fails is SheetFailed. No temporary file remains in any case."""
    fd, path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".xlsx", dir=TEMP_DIR)
    os.close(fd)
    try:
        _run_child(path, columns, rows, sheet, cancelled, TIME_LIMIT_S if time_limit_s is None else time_limit_s)
        return open(path, "rb")
    finally:
        os.unlink(path)


def _run_child(path: str, columns: Sequence[str], rows: Sequence[Sequence[Any] | dict], sheet: str,
               cancelled: Callable[[], bool], time_limit_s: float) -> None:
    deadline = time.monotonic() + time_limit_s
    proc = subprocess.Popen([*CHILD, path], stdin=subprocess.PIPE, env=_child_env())
    fed: list[BaseException] = []           # what stopped the feeding, if anything but the child's end
    feeder = threading.Thread(target=_feed, args=(proc.stdin, columns, rows, sheet, fed), daemon=True,
                              name="sheet-feeder")
    feeder.start()
    try:
        while True:
            try:
                code = proc.wait(POLL_S)        # waits without the GIL: the worker's pages go on
                break
            except subprocess.TimeoutExpired:   # still building: is it still wanted, and in time?
                if cancelled():
                    raise SheetCancelled("the client went away") from None
                if time.monotonic() > deadline:
                    raise SheetTimeout(f"not built within {time_limit_s:g} s") from None
        if code != 0 or fed:
            raise SheetFailed(f"the workbook's child process exited {code}" + (f" ({fed[0]!r})" if fed else ""))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        feeder.join()                       # its pipe is closed or broken by now: it ends


def _feed(pipe: IO[bytes], columns: Sequence[str], rows: Sequence[Sequence[Any] | dict], sheet: str,
          failures: list[BaseException]) -> None:
    """Write the child's input (sheet_child.py) to `pipe`, then close it. A child that is gone
    (killed, failed) breaks the pipe: that ends the feeding quietly; any other failure is kept
    in `failures` and the pipe closed short, so the child ends too (EOFError)."""
    columns = list(columns)
    try:
        pickle.dump((sheet, columns), pipe, protocol=pickle.HIGHEST_PROTOCOL)
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = [[row.get(c) for c in columns] if isinstance(row, dict) else list(row)
                     for row in rows[start:start + CHUNK_ROWS]]
            pickle.dump(chunk, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(None, pipe)
    except (BrokenPipeError, ConnectionResetError):
        return                              # the child is gone: its exit code says why (_run_child)
    except BaseException as e:              # noqa: BLE001 - reported by the waiting thread
        failures.append(e)
    finally:
        with contextlib.suppress(OSError):  # closing flushes: a pipe the child broke refuses that
            pipe.close()


def _child_env() -> dict[str, str]:
    """The worker's environment, with this very server_sync first on the child's path (the child is
    started by `python -m` from wherever the worker runs)."""
    root = str(Path(server_sync.__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root + (os.pathsep + rest if rest else ""))
