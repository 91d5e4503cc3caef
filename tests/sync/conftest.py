"""Kiosk-side set-ups for the sync tests: a kiosk.toml on disk that talks to the test broker as
one kiosk, its store, a recorder stamping with the real date (the centre checks recorded_at
against its own now), and a fake centre."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kiosk import config as kconfig
from kiosk import loading
from kiosk.capture import Recorder
from kiosk.clock import FakeClock
from kiosk.store import LocalStore
from tests.sync.fakecentre import FakeCentre


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def kiosk_toml(kiosk_id: str, site_id: str, data_dir: Path, broker: dict, sync: dict) -> str:
    """A small kiosk.toml (built-in questions) for kiosk `kiosk_id` on the test broker."""
    tables = {"kiosk": {"id": kiosk_id, "site": site_id, "data_dir": str(data_dir)},
              "ui": {"fullscreen": False}, "broker": broker, "sync": sync}
    out = ["config_version = 1"]
    for name, table in tables.items():
        out.append(f"\n[{name}]")
        out += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(out) + "\n"


FAST_SYNC = {"ack_timeout_s": 2.0, "backoff_min_s": 0.05, "backoff_max_s": 0.5,
             "status_interval_s": 60.0, "batch_max_events": 100}


@dataclass
class KioskSetup:
    path: Path                   # kiosk.toml
    cfg: kconfig.KioskConfig
    store: LocalStore
    recorder: Recorder
    clock: FakeClock

    def record(self, n: int, followup_every: int = 0) -> list:
        out = []
        q = self.cfg.questions[0]
        for i in range(n):
            value = q.values[i % len(q.values)]
            r = self.recorder.record(q.id, value)
            out.append(r)
            self.clock.advance(7)              # past the repeat filter; flagged or not, all sync
            if followup_every and i % followup_every == 0:
                self.recorder.record_followup(r.id, comment=f"comment {i}")
        return out


@pytest.fixture
def make_kiosk(tmp_path):
    stores = []

    def make(broker, kiosk_id: str = "k1", site_id: str = "sthlm-sodermalm", *, port: int | None = None,
             **sync) -> KioskSetup:
        data_dir = tmp_path / kiosk_id
        b = broker.kiosk_broker_mapping(kiosk_id)
        if port:
            b["port"] = port
        path = tmp_path / f"{kiosk_id}.toml"
        path.write_text(kiosk_toml(kiosk_id, site_id, data_dir, b, {**FAST_SYNC, **sync}))
        cfg = loading.load(str(path), env={})
        store = LocalStore(cfg.db_path)
        stores.append(store)
        clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
        return KioskSetup(path, cfg, store, Recorder(cfg, store, clock), clock)

    try:
        yield make
    finally:
        for s in stores:
            s.close()


@pytest.fixture
def centre(broker):
    c = FakeCentre(broker)
    try:
        yield c
    finally:
        c.close()
