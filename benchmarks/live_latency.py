"""Live pages: from a kiosk's answers to an open page showing them, without a reload. Target:
p95 < 2 s.

End to end, as in production: a kiosk publishes through mosquitto (TLS, password, ACL) at QoS 1;
two `kiosk-central ingest` processes share the subscription and commit; the web app
(`kiosk-central serve`, two workers) polls the database's marks and pushes to the page, which
fetches its new figures; the page is the store manager's overview (today's answers) and a site
page (its summary cards) in headless Chromium. The chain is tests/web/world.py's.

Measured, per engine (SQLite, PostgreSQL), ROUNDS rounds each, in one run:
- `overview`, `site`: answers published by an MQTT client as a kiosk would (tests/web/test_live.py's
  `LiveRig`); `page_s` from the broker's acknowledgement of the publish to the page showing them;
- `tap_to_overview`: the whole way from a tap, a second kiosk recording answers as the app does
  (`kiosk.capture.Recorder`: committed in the kiosk's SQLite, the tap acknowledged) and its
  `SyncAgent` sending them; `page_s` from the last tap's acknowledgement to the overview;
- the floor, `commit_s`: from the same moment to the answers being committed in the central
  database, seen by a reader polling it every 5 ms (no page can be faster), and the live path's
  own part (`live_path_s = page_s - commit_s`: the marks' poll, the push, the page's fetch and
  render);
p50, p95 and the largest of each, and the ratio of the p50s. Rounds start at random moments
(seeded) so they do not fall in step with the workers' 0.25 s poll.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from benchmarks.machine import load_1m

ROUNDS = 30                 # per page and engine
TARGET_P95_S = 2.0
TAPPING_KIOSK = "k2"        # a second kiosk at the store manager's site, recording as a kiosk does


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict:
    return {"p50": round(statistics.median(values), 3), "p95": round(_percentile(values, 0.95), 3),
            "max": round(max(values), 3), "n": len(values)}


class _Committed:
    """Polls the central database for a kiosk's answer count, every 5 ms, in a thread: the
    moment a count is first reached."""

    def __init__(self, db_url: str, kiosk_id: str) -> None:
        from server_sync.central.db import connect
        self.db, self.kiosk_id = connect(db_url, migrate_schema=False), kiosk_id

    def count(self) -> int:
        return self.db.execute_sql("SELECT count(*) FROM response WHERE kiosk_id = %s" % self.db.param,
                                   (self.kiosk_id,)).fetchone()[0]

    def wait_in_thread(self, expected: int, timeout: float = 15.0) -> tuple[threading.Thread, list]:
        seen: list = []

        def poll() -> None:
            deadline = time.monotonic() + timeout
            try:
                while time.monotonic() < deadline:
                    if self.count() >= expected:
                        seen.append(time.monotonic())
                        return
                    time.sleep(0.005)
            finally:
                self.db.close()             # this thread's connection (peewee keeps one per thread)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        return thread, seen


def _rounds(driver, figure: str, committed: _Committed, send: Callable[[int], float], rng: random.Random) -> dict:
    """ROUNDS times: 1-3 answers sent by `send` (which returns the moment they count as given),
    then the moments the centre has them and the page shows them."""
    from tests.web.test_live import changed, wait_for
    page_s, commit_s = [], []
    for _ in range(ROUNDS):
        time.sleep(rng.uniform(0.3, 1.0))
        n = rng.randint(1, 3)
        before = driver.execute_script(figure)
        thread, seen_committed = committed.wait_in_thread(committed.count() + n)
        sent = send(n)
        shown = wait_for(driver, changed(figure, before), True, 15)
        thread.join(15)
        if shown is None or not seen_committed:
            raise RuntimeError(f"answers not shown (page {shown}, committed {seen_committed})")
        page_s.append(shown - sent)
        commit_s.append(seen_committed[0] - sent)
    return {"page_s": _summary(page_s), "commit_s": _summary(commit_s),
            "live_path_s": _summary([p - c for p, c in zip(page_s, commit_s)]),
            "ratio_p50_page_vs_commit": round(statistics.median(page_s) / statistics.median(commit_s), 1)}


class _TappingKiosk:
    """A kiosk as in the store: answers recorded by `kiosk.capture.Recorder` (durably committed
    in its own SQLite before the tap is acknowledged) and sent by a `SyncAgent` running in a
    thread. Its press filters are off: the benchmark taps faster than customers do."""

    def __init__(self, broker, tmp: Path, kiosk_id: str, site_id: str) -> None:
        from kiosk.capture import Recorder
        from kiosk.config import parse_config
        from kiosk.demo import demo_config_mapping
        from kiosk.store import LocalStore
        from kiosk.sync_agent import SyncAgent
        mapping = demo_config_mapping(kiosk_id, site_id)
        mapping["broker"] = broker.kiosk_broker_mapping(kiosk_id)
        mapping["kiosk"]["data_dir"] = str(tmp / kiosk_id)
        mapping["filters"] = {"repeat_window_s": 0, "burst_per_minute": 0}
        cfg = parse_config(mapping)
        self.store = LocalStore(cfg.db_path)
        self.recorder = Recorder(cfg, self.store)
        self.stop = threading.Event()
        self.agent = threading.Thread(target=SyncAgent(cfg, self.store, rng=random.Random(1)).run, args=(self.stop,),
                                      daemon=True)
        self.agent.start()

    def tap(self, n: int) -> float:
        """n answers to the visit question, one after the other; the moment the last is committed."""
        for i in range(n):
            self.recorder.record("visit", 1 + i % 4)
        return time.monotonic()

    def close(self) -> None:
        self.stop.set()
        self.agent.join(10)
        self.store.close()


def _engine(db_url: str, broker, tmp: Path, rng: random.Random) -> dict:
    from server_sync.central import registry
    from server_sync.central.db import connect
    from tests.web.test_live import KIOSK, LIVE_STATE, SITE, SITE_CARDS, TODAY, LiveRig, wait_for
    from tests.web.world import WebServer, build_chain

    build_chain(db_url)
    db = connect(db_url)
    try:
        registry.add_kiosk(db, TAPPING_KIOSK, SITE, datetime.now(timezone.utc).replace(tzinfo=None))
    finally:
        db.close()
    server = WebServer(db_url, tmp / "serve.log").start()
    published, tapped = _Committed(db_url, KIOSK), _Committed(db_url, TAPPING_KIOSK)
    try:
        with LiveRig(db_url, broker, server.url, tmp) as rig:
            out: dict = {}
            for page, path, figure in (("overview", "/", TODAY), ("site", f"/sites/{SITE}", SITE_CARDS)):
                rig.driver.get(server.url + path)
                if not wait_for(rig.driver, LIVE_STATE, "live", 15):
                    raise RuntimeError(f"the {page} page never went live")
                out[page] = _rounds(rig.driver, figure, published, rig.answers, rng)
            # From the tap, through the kiosk's own database and sync agent, to the overview.
            rig.driver.get(server.url + "/")
            if not wait_for(rig.driver, LIVE_STATE, "live", 15):
                raise RuntimeError("the overview never went live")
            kiosk = _TappingKiosk(broker, tmp, TAPPING_KIOSK, SITE)
            try:
                out["tap_to_overview"] = _rounds(rig.driver, TODAY, tapped, kiosk.tap, rng)
            finally:
                kiosk.close()
            return out
    finally:
        server.stop()
        published.db.close()
        tapped.db.close()


def run() -> dict:
    from tests.fixtures.broker import Broker, TestCA
    from tests.web.test_live import KIOSK
    load_before = os.getloadavg()
    rng = random.Random(20261205)
    result: dict = {"setup": "mosquitto (TLS, ACL), two ingest processes (shared subscription), serve with "
                             "two workers (marks polled every 0.25 s), headless Chromium; the store "
                             "manager's overview and site page"}
    with tempfile.TemporaryDirectory(prefix="kundpuls-bench-live-") as d:
        tmp = Path(d)
        with Broker(tmp / "broker", TestCA(tmp / "ca"), (KIOSK, TAPPING_KIOSK, "central")) as broker:
            (tmp / "sqlite").mkdir()
            result["sqlite"] = _engine(f"sqlite:///{tmp / 'sqlite' / 'central.db'}", broker, tmp / "sqlite", rng)
            result["postgresql"] = _postgres(broker, tmp / "pg", rng)
    targets = {}
    for engine in ("sqlite", "postgresql"):
        for page, figures in (result[engine].items() if "skipped" not in result[engine] else ()):
            if not isinstance(figures, dict):
                continue                    # the server's settings
            targets[f"{engine}_{page}_p95_under_{TARGET_P95_S:g}_s"] = figures["page_s"]["p95"] < TARGET_P95_S
    result["targets_met"] = targets
    result["load_average_1m"] = load_1m(load_before)
    return result


def _postgres(broker, tmp: Path, rng: random.Random) -> dict:
    from tests.fixtures.postgres import LocalPostgres, admin_execute, with_database
    tmp.mkdir()
    server = LocalPostgres()
    try:
        server.start()
    except RuntimeError as e:
        return {"skipped": str(e)[:300]}
    try:
        admin_execute(server.url, "CREATE DATABASE live TEMPLATE template0 ENCODING 'UTF8'")
        out = _engine(with_database(server.url, "live"), broker, tmp, rng)
        durability = ", ".join(f"{k}={server.settings[k]}" for k in ("fsync", "synchronous_commit", "full_page_writes"))
        return {**out, "server": f"PostgreSQL 15, test settings ({durability})"}
    finally:
        server.stop()


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
