"""The machine a benchmark ran on: recorded next to every result (numbers mean little without it)."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="ignore").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def filesystem_of(path: str) -> str:
    """The mount (device and type) holding `path`: fsync cost depends on it."""
    best = ("", "unknown", "unknown")
    try:
        real = os.path.realpath(path)
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fstype = line.split()[:3]
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best[0]):
                best = (mnt, dev, fstype)
    except OSError:
        pass
    return f"{best[1]} on {best[0] or '?'} ({best[2]})"


OUTPUTS = ("benchmarks/results", "benchmarks/README.md")     # what a run writes


def code_version(root: Path = Path(__file__).resolve().parents[1]) -> dict:
    """The commit measured, and whether the work tree differed from it, new files included
    (then the commit alone does not say which code ran). The benchmarks' own outputs (their
    stored results and the README's table) are no code: a run after another's result was
    written, before it was committed, was called dirty for it."""
    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", ".", *(f":(exclude){p}" for p in OUTPUTS))
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def load_1m(before: tuple[float, ...]) -> dict:
    """The 1-minute load average at a run's start (`before`, an os.getloadavg() taken then) and
    now: what a result stores about the machine's other work during the run."""
    return {"before": round(before[0], 2), "after": round(os.getloadavg()[0], 2)}


def machine_info() -> dict:
    """Recorded with every result: the machine, how busy it was, and the code that ran."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **code_version(),
        # Other work on the (shared) machine slows every series: the 1-minute load average
        # when the result was written.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }
