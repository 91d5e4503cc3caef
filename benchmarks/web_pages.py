"""The web app's pages over the 10 M-answer chain (200 sites × 2 years from seeds.history), on
SQLite and on PostgreSQL, with `kiosk-central serve` as a real process (2 workers).

Measured, per engine, in one run:
- server time (the app's own `Server-Timing` header: request to first byte) p50/p95 of the
  overview, a site, the ranking (sites), the comments (as an analyst, and as a store manager whose
  comments are a 200th of all) and the fleet, each page computed afresh (`--cache-seconds 0`);
  and the overview, ranking and comments of a regional manager (the sites of one region, a third
  of the chain: neither one site nor the chain-wide rollups); target p95 < 300 ms;
- the floor of each page, in the same run: the same figures computed from the rollups alone, in
  process, without HTTP, sessions or rendering (overview: the period's site tallies and daily
  series and today's answers; ranking: the site tallies of both periods and the shrinkage; site:
  the chain report for the site, every section of which the page shows; comments: the comments
  query; fleet: analysis.fleet), and the ratio;
- 50 concurrent signed-in users (analysts, regional and store managers) opening those pages, each
  waiting THINK_S after an answer before the next click, for LOAD_S seconds: client-side latency
  p50/p95 with the default figure cache (30 s, keyed by the live marks) and without it; target
  p95 < 1 s. And the same 50 users with no pause at all (a stress test, reported, no target);
- the same 50 users with the cache on while answers arrive: the sites' live marks bumped as
  ingest's after-commit hook does (`marks.bump`, one site a commit) at the chain's own busy-hour
  rate (its answers over its days and OPEN_HOURS, × PEAK_FACTOR, each answer its own commit),
  so that the cache keyed by those marks is invalidated as in a store's day (without answers
  arriving it stays warm: the best case). Only the marks move: no answer is stored, so the
  database's writes of a busy hour are not in it (the summary says "marks only");
- the resident memory of each worker after the load.
The chain is built once into benchmarks/out/web_pages/ (SQLite file, PostgreSQL cluster directory)
and reused by later runs (building it takes about a minute per engine; see report_chain).
Sizes: $KUNDPULS_BENCH_SITES (200), $KUNDPULS_BENCH_DAYS (730).
"""

from __future__ import annotations

import json
import os
import pwd
import random
import statistics
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import load_1m

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "web_pages"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "wal_level": "minimal", "max_wal_senders": "0",
               "max_wal_size": "8GB", "shared_buffers": "512MB", "work_mem": "64MB",
               "maintenance_work_mem": "512MB", "max_connections": "200"}
PASSWORD = "benchmark password"
REPEAT = 25
LOAD_USERS = 50
LOAD_S = 20.0
THINK_S = 1.0                 # a person reading for a second before the next click (fast)
PAGES = {"overview": "/", "site": "/sites/s001", "ranking": "/sites", "comments": "/comments", "fleet": "/fleet"}
REGIONAL_PAGES = {"overview_regional": "/", "ranking_regional": "/sites", "comments_regional": "/comments"}
REGION = "no"                 # the regional manager's region (65 of the 200 sites)
OPEN_HOURS = 12               # a store's day, over which the chain's answers arrive
PEAK_FACTOR = 2               # a busy hour against the day's average


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


class _Cluster:
    """A PostgreSQL cluster kept in `root` between runs (the 10 M chain lives in it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0

    def start(self) -> str:
        from tests.fixtures.postgres import free_port
        fresh = not (self.root / "data").exists()
        if fresh:
            self.root.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                pw = pwd.getpwnam("postgres")
                os.chown(self.root, pw.pw_uid, pw.pw_gid)
            subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.root / "data"), "-U", "postgres",
                                         "--auth=trust", "-E", "UTF8", "--locale=C"]), check=True, capture_output=True)
        self.port = free_port()
        opts = " ".join(f"-c {k}={v}" for k, v in PG_SETTINGS.items())
        opts += f" -c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "start", "-w", "-D", str(self.root / "data"),
                                     "-l", str(self.root / "log"), "-o", opts]), check=True, capture_output=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}/kundpuls_bench"

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-m", "fast", "-D", str(self.root / "data")]),
                       capture_output=True)


def _build(url: str, marker: Path, sites: int, days: int) -> dict:
    """The chain in `url`, made once: history, comments on a fifth of the follow-ups, regions by
    country, and one user per role."""
    spec = {"sites": sites, "days": days, "comment_share": 0.2}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return {"built_now": False}
    _empty(url)                                   # a half-built chain from an interrupted run
    from seeds.comments import add_comments
    from seeds.history import HistorySpec, generate
    from server_sync.central.db import connect
    from server_sync.web.people import add_region, add_user, assign_region
    db = connect(url)
    t0 = time.perf_counter()
    try:
        made = generate(db, HistorySpec(sites=sites, days=days))
        comments = add_comments(db, share=spec["comment_share"])
        zones = dict(db.execute_sql("SELECT id, timezone FROM site").fetchall())
        for zone, (region, name) in {"Europe/Stockholm": ("se", "Sverige"), "Europe/Oslo": ("no", "Norge")}.items():
            add_region(db, region, name)
            members = sorted(s for s, z in zones.items() if z == zone)
            if members:
                assign_region(db, region, members)
        add_user(db, "analyst", "analyst", password=PASSWORD)
        add_user(db, "regional", "regional-manager", regions=["no"], password=PASSWORD)
        add_user(db, "store", "store-manager", sites=["s001"], password=PASSWORD)
        if url.startswith("postgresql"):
            db.execute_sql("ANALYZE")
    finally:
        db.close()
    marker.write_text(json.dumps(spec))
    return {"built_now": True, "build_s": round(time.perf_counter() - t0, 1), "answers": made.answers,
            "comments": comments}


def _empty(url: str) -> None:
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)
        return
    from tests.fixtures.postgres import admin_execute, with_database
    admin = with_database(url, "postgres")
    name = url.rsplit("/", 1)[1]
    admin_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin_execute(admin, f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _server_ms(response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def _page_times(base: str, who: str, path: str) -> list[float]:
    from tests.web.world import login
    c = login(base, who, PASSWORD)
    c.get(path)                                       # warm the worker's connections and imports
    out = []
    for _ in range(REPEAT):
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        out.append(_server_ms(r))
    return out


def _floors(url: str, region: tuple[str, ...]) -> dict[str, list[float]]:
    """The same figures from the rollups alone (or the bare query), in this process; `region`:
    the regional manager's sites."""
    from server_sync.analysis import chain_report, queries
    from server_sync.analysis.fleet import fleet
    from server_sync.analysis.ranking import rank_sites
    from server_sync.central.db import connect
    from server_sync.web.queries import CommentFilter, answers_today, comments

    db = connect(url, migrate_schema=False)
    if url.startswith("postgresql"):
        db.execute_sql("SET max_parallel_workers_per_gather = 0")      # as the web app's connections
    f = queries.ReportFilter()
    now = datetime.now(timezone.utc)
    catalogue = queries.questions(db)

    def periods():
        start, end = chain_report.resolve_period(db, f)
        days = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days + 1
        prev_start = (datetime.fromisoformat(start) - __import__("datetime").timedelta(days=days)).date().isoformat()
        prev_end = (datetime.fromisoformat(start) - __import__("datetime").timedelta(days=1)).date().isoformat()
        return start, end, prev_start, prev_end

    def overview(sites: tuple[str, ...] = ()):
        start, end, prev_start, _ = periods()
        queries.site_tallies(db, queries.ReportFilter(sites).period(start, end))
        queries.daily_tallies(db, queries.ReportFilter(sites).period(prev_start, end))
        answers_today(db, sites or None, now)

    def ranking(sites: tuple[str, ...] = ()):
        start, end, prev_start, prev_end = periods()
        for a, b in ((start, end), (prev_start, prev_end)):
            tallies = queries.site_tallies(db, queries.ReportFilter(sites).period(a, b))
            for q, c in catalogue.items():
                rank_sites({s: t for (s, qq, au, sc), t in tallies.items() if qq == q and sc == c["scale"]}, c["scale"])

    jobs = {"overview": overview, "ranking": ranking,
            "site": lambda: chain_report.build(db, queries.ReportFilter(("s001",)), now=now),
            "comments": lambda: comments(db, CommentFilter(sites=None)),
            "comments_store": lambda: comments(db, CommentFilter(sites=("s001",))),
            "fleet": lambda: fleet(db, now),
            "overview_regional": lambda: overview(region), "ranking_regional": lambda: ranking(region),
            "comments_regional": lambda: comments(db, CommentFilter(sites=region))}
    out = {}
    for name, job in jobs.items():
        job()
        times = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            job()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = times
    db.close()
    return out


def _load(base: str, regional_site: str, seconds: float = LOAD_S, think_s: float = THINK_S) -> dict:
    """LOAD_USERS signed-in users (a mix of roles) opening pages for `seconds`, `think_s` apart."""
    import httpx
    from tests.web.world import login
    roles = ["analyst", "regional", "store"]
    paths = {"analyst": list(PAGES.values()), "regional": ["/", "/sites", f"/sites/{regional_site}", "/comments", "/fleet"],
             "store": ["/", "/sites/s001", "/comments", "/fleet", "/sites"]}
    clients = [(roles[i % 3], login(base, roles[i % 3], PASSWORD)) for i in range(LOAD_USERS)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def user(i: int, role: str, client: httpx.Client) -> None:
        rng = random.Random(i)
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                r = client.get(rng.choice(paths[role]), timeout=60)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            took = (time.perf_counter() - t0) * 1000
            with lock:
                (latencies.append(took) if ok else None)
                errors[0] += 0 if ok else 1
            if think_s:
                time.sleep(think_s * rng.uniform(0.5, 1.5))

    threads = [threading.Thread(target=user, args=(i, role, c)) for i, (role, c) in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"users": LOAD_USERS, "seconds": seconds, "think_s": think_s, "requests": len(latencies), "errors": errors[0],
            "per_s": round(len(latencies) / seconds, 1), "p50_ms": round(_pct(latencies, 0.5), 1),
            "p95_ms": round(_pct(latencies, 0.95), 1), "max_ms": round(max(latencies), 1),
            "target_met": _pct(latencies, 0.95) < 1000 and errors[0] == 0}


def busy_hour_commits_per_s(answers: int, days: int) -> float:
    """Ingest commits a second in a busy hour of the chain, each answer arriving on its own
    (kiosks send at once): the rate at which the live marks move."""
    return answers / days / (OPEN_HOURS * 3600) * PEAK_FACTOR


def bump_marks(url: str, site_ids: list[str], per_s: float, stop: threading.Event, *,
               rng: random.Random | None = None) -> int:
    """Bump one random site's mark `per_s` times a second, as ingest's hook does after a commit,
    until `stop`; returns how many bumps."""
    from server_sync.central.db import connect
    from server_sync.web import marks
    rng = rng or random.Random(7)
    db = connect(url, migrate_schema=False)
    n = 0
    try:
        while not stop.wait(rng.expovariate(per_s)):
            marks.bump(db, {rng.choice(site_ids)}, datetime.now(timezone.utc))
            n += 1
    finally:
        db.close()
    return n


def _worker_rss_mb(server) -> list[float]:
    from tests.web.test_demo import descendants
    out = []
    for pid in sorted(descendants(server.proc.pid)):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        out.append(round(rss / 1024, 1))
    return out


def _measure(url: str, marker: Path, sites: int, days: int) -> dict:
    from tests.web.world import WebServer
    built = _build(url, marker, sites, days)
    result: dict = {"chain": built}
    from server_sync.central.db import connect
    db = connect(url, migrate_schema=False)
    p = db.param
    region = tuple(sorted(r[0] for r in db.execute_sql(f"SELECT id FROM site WHERE region_id = {p}", (REGION,))))
    regional = region[0] if region else "s001"
    all_sites = [r[0] for r in db.execute_sql("SELECT id FROM site")]
    answers = db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0]
    db.close()
    floors = _floors(url, region)
    load_avg = os.getloadavg()
    server = WebServer(url, OUT / "serve-cold.log", workers=2, extra=("--cache-seconds", "0")).start()
    try:
        pages = {}
        for name, path in PAGES.items():
            pages[name] = _page_times(server.url, "analyst", path)
        pages["comments_store"] = _page_times(server.url, "store", "/comments")
        for name, path in REGIONAL_PAGES.items():
            pages[name] = _page_times(server.url, "regional", path)
        result["load_uncached"] = _load(server.url, regional, LOAD_S / 2)
    finally:
        server.stop()
    rows = {}
    for name, times in pages.items():
        floor = floors[name]
        rows[name] = {"p50_ms": round(_pct(times, 0.5), 1), "p95_ms": round(_pct(times, 0.95), 1),
                      "floor_p50_ms": round(_pct(floor, 0.5), 1), "floor_p95_ms": round(_pct(floor, 0.95), 1),
                      "ratio_p50": round(_pct(times, 0.5) / max(0.01, _pct(floor, 0.5)), 2),
                      "target_met": _pct(times, 0.95) < 300}
    result["pages"] = rows
    server = WebServer(url, OUT / "serve.log", workers=2).start()
    try:
        result["load_cached"] = _load(server.url, regional)
        per_s = busy_hour_commits_per_s(answers, days)
        stop = threading.Event()
        bumps: list[int] = []
        bumper = threading.Thread(target=lambda: bumps.append(bump_marks(url, all_sites, per_s, stop)))
        bumper.start()
        try:
            live = _load(server.url, regional)
        finally:
            stop.set()
            bumper.join()
        result["load_cached_answers_arriving"] = {**live, "mark_bumps_per_s": round(per_s, 2),
                                                  "mark_bumps": bumps[0] if bumps else 0}
        stress = _load(server.url, regional, LOAD_S / 2, think_s=0)
        stress.pop("target_met")
        result["stress_no_pause"] = stress
        result["worker_rss_mb"] = _worker_rss_mb(server)
    finally:
        server.stop()
    result["load_average_1m"] = load_1m(load_avg)
    result["median_page_p95_ms"] = round(statistics.median(r["p95_ms"] for r in rows.values()), 1)
    return result


def run() -> dict:
    sites = int(os.environ.get("KUNDPULS_BENCH_SITES", "200"))
    days = int(os.environ.get("KUNDPULS_BENCH_DAYS", "730"))
    cache = OUT / f"{sites}x{days}"              # the chain of this size, kept between runs
    (cache / "sqlite").mkdir(parents=True, exist_ok=True)
    result: dict = {"repeat": REPEAT, "postgresql_settings": PG_SETTINGS, "cache": str(cache.relative_to(HERE))}
    result["sqlite"] = _measure(f"sqlite:///{cache / 'sqlite' / 'central.db'}", cache / "sqlite" / "READY", sites, days)
    cluster = _Cluster(cache / "pg")
    try:
        url = cluster.start()
        result["postgresql"] = _measure(url, cache / "pg" / "READY", sites, days)
    finally:
        cluster.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
