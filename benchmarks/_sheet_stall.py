"""How long other pages take on a web worker while it answers a 95 000-row Excel download of the
comments (a review: openpyxl held the worker's GIL for the whole build, 13-15 s). Not one of the
`python -m benchmarks` set (its name starts with `_`): run it by hand, once per tree to compare,

    python -m benchmarks._sheet_stall --tree /work/main        # the server's code from that tree

`kiosk-central serve --workers 1` on a SQLite file of 95 000 comments (one site, made directly,
in a temporary folder); an analyst signed in opens the alerts page REPEAT times when idle, then
ten times a second while one `/comments?format=xlsx` of all 95 000 is being answered; prints the
pages' latency (p50, p95, max) both ways and the download's time, as JSON."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

COMMENTS = 95_000
REPEAT = 40
PASSWORD = "benchmark password"
PAGE = "/alerts"
READ_S = 4.0                  # the page function reads the comments (2.6 s on the reference machine)
PACE_S = 0.1                  # between two page views: people clicking, not a flood


def _seed(url: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from server_sync.central.db import connect
    from tests.analysis.seeding import add_question, add_site, answer, commit
    db = connect(url)
    try:
        add_site(db, "s001")
        add_question(db)
        start = datetime(2026, 1, 1, 8, 0)
        rows = [answer("s001", start + timedelta(minutes=5 * i), 1 + i % 4) for i in range(COMMENTS)]
        commit(db, rows)
        p = db.param
        with db.atomic():
            db.execute_sql("SELECT 1")
            cursor = db.cursor()
            cursor.executemany("INSERT INTO followup (id, response_id, kiosk_id, seq, reasons, comment, recorded_at,"
                               f" received_at, answered_at) VALUES ({p}, {p}, {p}, {p}, '[]', {p}, {p}, {p}, {p})",
                               [(f"f-{i}", r["id"], r["kiosk_id"], 10_000 + i,
                                 f"Kommentar nummer {i}: kön var lång och kassan stängd, personalen trevlig.",
                                 r["recorded_at"], r["recorded_at"], r["recorded_at"]) for i, r in enumerate(rows)])
    finally:
        db.close()


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _summary(xs: list[float]) -> dict:
    return {"n": len(xs), "p50_ms": round(statistics.median(xs) * 1000, 1),
            "p95_ms": round(_pct(xs, 0.95) * 1000, 1), "max_ms": round(max(xs) * 1000, 1)}


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return time.perf_counter() - started


def measure(tree: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/central.db"
        env = dict(os.environ, PYTHONPATH=str(tree))
        cli = [sys.executable, "-m", "server_sync", "--db", url]
        _seed(url)
        subprocess.run([*cli, "user", "add", "ana", "--role", "analyst", "--language", "sv", "--password-stdin"],
                       input=PASSWORD + "\n", text=True, env=env, cwd=tree, check=True, capture_output=True)
        port = 18000 + os.getpid() % 1000
        log = open(f"{tmp}/serve.log", "wb")
        server = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", "1"], env=env, cwd=tree,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(base + "/login", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            c = httpx.Client(base_url=base, timeout=120)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            assert c.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": csrf,
                                          "next": "/"}).status_code == 303
            for _ in range(5):
                _timed(c, PAGE)
            idle = [_timed(c, PAGE) for _ in range(REPEAT)]
            done: dict = {}

            def download() -> None:
                started = time.perf_counter()
                r = c.get("/comments?format=xlsx")
                done.update(status=r.status_code, bytes=len(r.content), seconds=round(time.perf_counter() - started, 2))
            thread = threading.Thread(target=download)
            started = time.perf_counter()
            thread.start()
            busy = []                        # (seconds since the download was asked for, the page's latency)
            while thread.is_alive():
                busy.append((time.perf_counter() - started, _timed(c, PAGE)))
                time.sleep(PACE_S)
            thread.join()
            # The first seconds are the page function's read of the 95 000 comments (the same before
            # and after: in the worker, as every page's query), then the workbook's build.
            reading = [t for at, t in busy if at < READ_S]
            building = [t for at, t in busy if at >= READ_S]
            return {"tree": str(tree), "page": PAGE, "comments": COMMENTS, "idle": _summary(idle),
                    "while_reading": _summary(reading), "while_building": _summary(building),
                    "slowest": [(round(at, 1), round(t * 1000)) for at, t in sorted(busy, key=lambda x: -x[1])[:5]],
                    "download": done}
        finally:
            server.terminate()
            server.wait(30)
            log.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    args = p.parse_args()
    print(json.dumps(measure(args.tree.resolve()), indent=2))


if __name__ == "__main__":
    main()
