"""Fixtures of the central tests: a migrated central store (both engines) with a registered fleet."""

from __future__ import annotations

import pytest

from server_sync.central.db import connect
from tests.central.fleet import IngestProcess
from tests.central.wire import register_fleet


@pytest.fixture(autouse=True)
def this_host_reachable(monkeypatch):
    """`kiosk add` without --broker-host takes this host's name and refuses a loopback one, which
    is what many test machines find (`localhost`): the centre's tests run as on a host kiosks
    reach, whatever this machine's DNS says. Tests of the refusal set their own name."""
    from server_sync.program import hosts
    monkeypatch.setattr(hosts, "own_name", lambda: ("central.test", ["192.0.2.10"]))


@pytest.fixture
def quick_password_hashes(monkeypatch):
    """argon2id at its lowest cost, for tests whose people's passwords are not what they test: at
    the product's cost (RFC 9106's profile, 64 MiB) each user added takes ~0.25 s. The hashes are
    still argon2id, made and checked by the same code; the web's security and people tests keep
    the product's cost."""
    from argon2 import PasswordHasher

    from server_sync.web import people
    monkeypatch.setattr(people, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


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
