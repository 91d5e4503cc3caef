"""Fixtures of the central tests: a migrated central store (both engines) with a registered fleet."""

from __future__ import annotations

import pytest

from server_sync.central.db import connect
from tests.central.fleet import IngestProcess
from tests.central.wire import register_fleet


@pytest.fixture
def central(central_url):
    """(url, db): sites s1, s2 and kiosks k1, k2 (s1), k3, k4 (s2) registered."""
    db = connect(central_url)
    register_fleet(db)
    try:
        yield central_url, db
    finally:
        db.close()


@pytest.fixture
def ingestors(tmp_path):
    """start(url, broker, client_id="ingest-1", *extra, wait=True): a `kiosk-central ingest`
    process, killed after the test."""
    made: list[IngestProcess] = []

    def start(url, broker, client_id="ingest-1", *extra, wait=True) -> IngestProcess:
        p = IngestProcess(url, broker, tmp_path / f"{client_id}.log", client_id, *extra)
        made.append(p)
        return p.start(wait)

    try:
        yield start
    finally:
        for p in made:
            p.close()
