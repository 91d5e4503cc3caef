"""Fixtures of the web tests: the small chain of world.py in a real database (SQLite, and
PostgreSQL from tests/fixtures/postgres.py), served by a real `kiosk-central serve` process with
two workers; one per test module and engine, so the browser and HTTP tests share it.

The chain is built once per test worker and engine (`sqlite_chain`, `postgres_chain`: the
generator and eight `kiosk-central` commands, ~4 s) and copied for each module (SQLite's backup
API; PostgreSQL's CREATE DATABASE … TEMPLATE), so a module that changes its chain changes only
its copy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.postgres import admin_execute, copy_sqlite, fresh_database, with_database
from tests.web.world import WebServer, build_chain


@dataclass
class Web:
    engine: str
    db_url: str
    server: WebServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def sqlite_chain(tmp_path_factory) -> Path:
    """The world chain in SQLite, built once per test worker; modules get copies."""
    path = tmp_path_factory.mktemp("web-template") / "central.db"
    build_chain(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_chain(pg_server) -> str:
    """The name of a PostgreSQL database holding the world chain, built once per test worker;
    nobody connects to it after the build, so it serves as a template for the modules' copies."""
    name = "kp_webtpl_" + uuid.uuid4().hex[:12]
    admin_execute(pg_server, f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
    try:
        build_chain(with_database(pg_server, name))
        yield name
    finally:
        admin_execute(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def chain_url(request, tmp_path_factory):
    """A database URL holding this module's own copy of the world.py chain; parametrized by the engine."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("web") / "central.db"
        copy_sqlite(request.getfixturevalue("sqlite_chain"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_chain")
    with fresh_database(request.getfixturevalue("pg_server"), template=template) as url:
        yield url


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def web(chain_url, tmp_path_factory) -> Web:
    server = WebServer(chain_url, tmp_path_factory.mktemp("serve") / "serve.log").start()
    try:
        yield Web("postgresql" if chain_url.startswith("postgresql") else "sqlite", chain_url, server)
    finally:
        server.stop()
