"""Fixtures of the web tests: the small chain of world.py in a real database (SQLite, and
PostgreSQL from tests/fixtures/postgres.py), served by a real `kiosk-central serve` process with
two workers; one per test module and engine, so the browser and HTTP tests share it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from tests.fixtures.postgres import admin_execute, with_database
from tests.web.world import WebServer, build_chain


@dataclass
class Web:
    engine: str
    db_url: str
    server: WebServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def chain_url(request, tmp_path_factory):
    """A database URL holding the world.py chain; parametrized by the engine."""
    engine = request.param
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'central.db'}"
        build_chain(url)
        yield url
        return
    server = request.getfixturevalue("pg_server")
    name = "kp_web_" + uuid.uuid4().hex[:12]
    admin_execute(server, f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    url = with_database(server, name)
    try:
        build_chain(url)
        yield url
    finally:
        admin_execute(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def web(chain_url, tmp_path_factory) -> Web:
    server = WebServer(chain_url, tmp_path_factory.mktemp("serve") / "serve.log").start()
    try:
        yield Web("postgresql" if chain_url.startswith("postgresql") else "sqlite", chain_url, server)
    finally:
        server.stop()
