"""The web app through a database outage: a real `kiosk-central serve` (two workers) on a PostgreSQL
server of this module's own, whose connections are killed (pg_terminate_backend) and which is
restarted; and the app on a SQLite store another process holds locked. Each worker's threads kept
their dead connections: every request after a restart or a kill, even /login, was a 500 with a
traceback of 50 lines, until the service was restarted, and the live poller logged a line four
times a second (a review). Now a request the database fails is a 503 that says so in the person's
language (JSON for the API), logged in one line; the next request connects afresh."""

from __future__ import annotations

import html
import logging
import sqlite3
import time

import httpx
import psycopg
import pytest

from server_sync.central import db as central_db
from server_sync.web.app import WebSettings
from tests.fixtures.postgres import admin_execute, own_server, with_database
from tests.web.world import PASSWORD, WebServer, kiosk_central, login, served_in_process

WORKERS = 2
UNAVAILABLE = {
    "en": ("The database is unavailable", "The database is not answering just now. Try again in a moment; if it goes"
           " on, tell an administrator."),
    "sv": ("Databasen är inte tillgänglig", "Databasen svarar inte just nu. Försök igen om en stund; säg till en"
           " administratör om det fortsätter."),
    "nb": ("Databasen er ikke tilgjengelig", "Databasen svarer ikke akkurat nå. Prøv igjen om et øyeblikk; si fra til"
           " en administrator om det fortsetter."),
}


def _people(url: str) -> str:
    """A Swedish admin in the store at `url`; an API token of hers."""
    r = kiosk_central(url, "user", "add", "ulla", "--role", "admin", "--language", "sv", "--password-stdin",
                      stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = kiosk_central(url, "user", "token", "ulla", "--label", "outage")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A PostgreSQL server of this module's own (a restart must cut no other test's connections),
    a store on it, served by `kiosk-central serve`."""
    with own_server() as server:
        admin_execute(server.url, "CREATE DATABASE outage TEMPLATE template0 ENCODING 'UTF8'")
        url = with_database(server.url, "outage")
        token = _people(url)
        web = WebServer(url, tmp_path_factory.mktemp("outage") / "serve.log", workers=WORKERS).start()
        try:
            yield server, web, token
        finally:
            web.stop()


def _clients(web: WebServer, token: str) -> tuple[httpx.Client, httpx.Client]:
    """ulla signed in, with a Swedish browser's Accept-Language; the API with her token."""
    person = login(web.url, "ulla")
    person.headers["Accept-Language"] = "sv-SE,sv;q=0.9,en;q=0.5"
    return person, httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _assert_unavailable(r: httpx.Response, lang: str) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:500])
    assert r.headers["retry-after"] == "5"
    if r.request.url.path.startswith("/api/"):
        assert r.json() == {"error": UNAVAILABLE["en"][1]}, r.text
        return
    said = html.unescape(r.text)
    assert all(words in said for words in UNAVAILABLE[lang]), said[:2000]


def _served_again(ask, rounds: int = 12) -> list[int]:
    """The statuses of `rounds` rounds of requests; each round asks everything `ask` asks."""
    statuses = []
    for _ in range(rounds):
        statuses += [r.status_code for r in ask()]
        time.sleep(0.1)
    return statuses


def _log_is_quiet(log: str) -> None:
    assert "Traceback" not in log and "unexpected error" not in log, log[-4000:]


@pytest.mark.postgres
@pytest.mark.slow
def test_connections_killed_under_the_app_cost_one_request_a_worker_at_most(postgres):
    server, web, token = postgres
    person, api = _clients(web, token)

    def ask() -> list[httpx.Response]:
        return [person.get("/alerts"), api.get("/api/v1/sites"), httpx.get(web.url + "/login")]
    logged = len(web.log())
    assert set(_served_again(ask, 8)) == {200}              # every worker's threads connected
    with psycopg.connect(server.url, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname ="
                               " 'outage' AND pid <> pg_backend_pid()").fetchone()[0]
    assert killed >= WORKERS
    statuses = _served_again(ask)
    assert set(statuses) <= {200, 503} and statuses.count(503) <= WORKERS, statuses
    assert set(statuses[-3 * 6:]) == {200}, statuses
    login(web.url, "ulla")                   # the audit log's writer (a thread of its own) writes again
    log = web.log()[logged:]
    _log_is_quiet(log)
    assert log.count("answered 503") == statuses.count(503), log[-4000:]
    assert log.count("live marks:") <= 2 * WORKERS, log[-4000:]     # its outage and its end, once each


@pytest.mark.postgres
@pytest.mark.slow
def test_a_postgresql_restart_is_a_503_in_the_persons_language_while_it_lasts_then_served(postgres):
    server, web, token = postgres
    person, api = _clients(web, token)
    anonymous = httpx.Client(base_url=web.url, headers={"Accept-Language": "nb"}, timeout=30)
    logged = len(web.log())
    server.halt()
    try:
        down = []
        for _ in range(6):
            down += [(person.get("/alerts"), "sv"), (person.get("/sites"), "sv"), (api.get("/api/v1/sites"), "en"),
                     (anonymous.get("/login"), "nb"), (anonymous.get("/login?lang=en"), "en")]
            time.sleep(0.2)
        for r, lang in down:
            _assert_unavailable(r, lang)
    finally:
        server.start()
    statuses = _served_again(lambda: [person.get("/alerts"), api.get("/api/v1/sites"), anonymous.get("/login")])
    assert set(statuses) <= {200, 503} and statuses.count(503) <= WORKERS, statuses
    assert set(statuses[-3 * 6:]) == {200}, statuses
    login(web.url, "ulla")                   # the audit log's writer (a thread of its own) writes again
    log = web.log()[logged:]
    _log_is_quiet(log)
    assert log.count("answered 503") == len(down) + statuses.count(503), log[-4000:]
    outage = [line for line in log.splitlines() if line.startswith("live marks:")]
    assert 1 <= sum("the database is unavailable" in line for line in outage) <= WORKERS, outage
    assert len(outage) <= 2 * WORKERS, outage                      # not one a poll (four a second)


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    """The app served in this process on a SQLite store whose busy timeout is 0.5 s (10 s in the
    product)."""
    monkeypatch.setitem(central_db.SQLITE_PRAGMAS, "busy_timeout", 500)
    path = tmp_path / "central.db"
    url = f"sqlite:///{path}"
    central_db.connect(url).close()
    _people(url)
    with served_in_process(WebSettings(url, cache_seconds=0, threads=4)) as base:
        yield base, path


def test_a_sqlite_store_locked_beyond_the_busy_timeout_is_a_503_then_served(sqlite_app, caplog):
    """Another process holds the write lock (a long purge, a backup, the sqlite3 shell): a page that
    writes (the login page keeps a session for its form) waits the busy timeout, then says the
    database is unavailable; a page that only reads is served meanwhile (WAL), on the connections
    the failure had closed; once the lock is let go, every page is served."""
    base, path = sqlite_app
    person = login(base, "ulla")

    def visitor() -> httpx.Response:          # a new one each time: no session yet, so one is stored
        return httpx.get(base + "/login", headers={"Accept-Language": "sv"}, timeout=30)
    assert visitor().status_code == 200
    caplog.set_level(logging.WARNING)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        _assert_unavailable(visitor(), "sv")
        assert [person.get("/alerts").status_code for _ in range(6)] == [200] * 6
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert visitor().status_code == 200
    logged = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert [rec.getMessage() for rec in logged] == ["GET /login: the database is unavailable, answered 503:"
                                                    " database is locked"], [rec.getMessage() for rec in logged]
    assert not any(rec.exc_info for rec in logged)
