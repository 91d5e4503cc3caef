"""The chain report over 200 sites × 2 years (about ten million answers), on SQLite and PostgreSQL.

Measured, per engine, in one run:
- the history generator (seeds.history) filling an empty store: answers per second
  (target: 10 M in under 2 minutes);
- the full chain report over the whole two years from the rollups (`chain_report.build`), in a
  fresh process so its peak memory is its own (targets: under 1 s, under 500 MB);
- the competing approach: the same figures (per-site tallies and the daily series) by a plain
  GROUP BY over the raw answers, against the same figures from the rollups: the ratio, and a
  check that both give identical numbers.
PostgreSQL is a throw-away cluster started here with production-like durability (fsync on) and
bulk-load friendly WAL settings (wal_level=minimal), listed in the result.
Sizes: $KUNDPULS_BENCH_SITES (200), $KUNDPULS_BENCH_DAYS (730).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "report_chain"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "wal_level": "minimal", "max_wal_senders": "0",
               "max_wal_size": "8GB", "shared_buffers": "512MB", "work_mem": "64MB",
               "maintenance_work_mem": "512MB", "max_parallel_workers_per_gather": "2"}
REPEAT = 5

_PROBE = r"""
import json, sys, time
from zoneinfo import ZoneInfo
from server_sync.central.db import connect
from server_sync.analysis import chain_report, queries, raw_figures
from server_sync.analysis.queries import ReportFilter
url, first, last, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
db = connect(url, migrate_schema=False)
f = ReportFilter(date_from=first, date_to=last)
def timed(fn):
    out = []
    for _ in range(repeat):
        t = time.perf_counter(); result = fn(); out.append(time.perf_counter() - t)
    return result, out
report, report_s = timed(lambda: chain_report.build(db, f))
# VmHWM (peak RSS of this process image): ru_maxrss would include what the benchmark process
# held when it forked this one.
rss_report = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
tz = ZoneInfo("Europe/Stockholm")
rolled, rollup_s = timed(lambda: (queries.site_tallies(db, f), queries.daily_tallies(db, f)))
raw, raw_s = timed(lambda: (raw_figures.site_tallies(db, f, tz), raw_figures.daily_tallies(db, f, tz)))
print(json.dumps({"report_s": report_s, "report_peak_rss_mb": rss_report / 1024,
                  "figures_rollup_s": rollup_s, "figures_raw_s": raw_s, "figures_equal": rolled == raw,
                  "answers_in_report": sum(s["n"] for s in report["summary"]), "sites": len(report["pulse"]["sites"])}))
"""


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


class _Cluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kundpuls-bench-pg-", dir=OUT))
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.port = 0

    def start(self) -> str:
        from tests.fixtures.postgres import free_port
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.root / "data"), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8", "--locale=C"]), check=True, capture_output=True)
        self.port = free_port()
        opts = " ".join(f"-c {k}={v}" for k, v in PG_SETTINGS.items())
        opts += f" -c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "start", "-w", "-D", str(self.root / "data"),
                                     "-l", str(self.root / "log"), "-o", opts]), check=True, capture_output=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-m", "fast", "-D", str(self.root / "data")]),
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _measure(url: str, sites: int, days: int) -> dict:
    from seeds.history import HistorySpec, generate
    from server_sync.analysis.queries import data_range
    from server_sync.central.db import connect

    db = connect(url)
    t0 = time.perf_counter()
    made = generate(db, HistorySpec(sites=sites, days=days))
    gen_s = time.perf_counter() - t0
    first, last = data_range(db)
    sizes = {t: db.execute_sql(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
             for t in ("response", "rollup_hourly", "rollup_daily", "rollup_monthly", "rollup_chain_hourly",
                       "rollup_reason_daily")}
    db.close()
    probe = subprocess.run([sys.executable, "-c", _PROBE, url, first, last, str(REPEAT)], capture_output=True,
                           text=True, check=True, cwd=HERE.parent)
    p = json.loads(probe.stdout)
    med = (lambda xs: sorted(xs)[len(xs) // 2])
    return {
        "answers": made.answers, "followups": made.followups, "sites": sites, "days": days,
        "period": [first, last], "rows": sizes,
        "generate_s": round(gen_s, 1), "generate_answers_per_s": round(made.answers / gen_s),
        "generate_target_met": gen_s < 120,
        "report_median_s": round(med(p["report_s"]), 3), "report_best_s": round(min(p["report_s"]), 3),
        "report_peak_rss_mb": round(p["report_peak_rss_mb"], 1),
        "report_target_met": med(p["report_s"]) < 1.0 and p["report_peak_rss_mb"] < 500,
        "figures_from_rollups_median_s": round(med(p["figures_rollup_s"]), 3),
        "figures_from_raw_group_by_median_s": round(med(p["figures_raw_s"]), 3),
        "raw_over_rollup_ratio": round(med(p["figures_raw_s"]) / med(p["figures_rollup_s"]), 1),
        "report_over_raw_figures_ratio": round(med(p["figures_raw_s"]) / med(p["report_s"]), 1),
        "figures_equal": p["figures_equal"], "answers_in_report": p["answers_in_report"],
    }


def run() -> dict:
    sites = int(os.environ.get("KUNDPULS_BENCH_SITES", "200"))
    days = int(os.environ.get("KUNDPULS_BENCH_DAYS", "730"))
    OUT.mkdir(parents=True, exist_ok=True)
    result: dict = {"postgresql_settings": PG_SETTINGS}
    path = OUT / "central.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    try:
        result["sqlite"] = _measure(f"sqlite:///{path}", sites, days)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    cluster = _Cluster()
    try:
        result["postgresql"] = _measure(cluster.start(), sites, days)
    finally:
        cluster.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
