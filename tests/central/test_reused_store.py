"""The PostgreSQL store the central tests share per worker (`tests/fixtures/postgres.py`,
`ReusedStore`) is handed to each test as a newly migrated, empty store: rows written, sequences
advanced, connections left open and schema changes by the test before do not reach the next."""

from __future__ import annotations

import psycopg
import pytest

from server_sync.central.db import connect
from tests.central.wire import register_fleet
from tests.fixtures.postgres import ReusedStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(pg_server, migrated_postgres):
    s = ReusedStore(pg_server, migrated_postgres)
    try:
        yield s
    finally:
        s.drop()


OID = "SELECT oid FROM pg_database WHERE datname = current_database()"     # a new copy has a new one


def rows(url: str, sql: str):
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_rows_sequences_and_open_connections_do_not_reach_the_next_test(store):
    db = connect(store.checkout())
    register_fleet(db)
    db.execute_sql("INSERT INTO dead_letter (received_at, topic, reason, payload) VALUES (now(), 't', 'r', 'p'::bytea)")
    migrations = rows(store.url, "SELECT count(*) FROM schema_migration")
    left_open = psycopg.connect(store.url)          # idle in a transaction that holds a lock
    left_open.execute("SELECT * FROM site FOR UPDATE")

    url = store.checkout()
    assert rows(url, "SELECT count(*) FROM site") == [(0,)]
    assert rows(url, "SELECT count(*) FROM kiosk") == [(0,)]
    assert rows(url, "SELECT count(*) FROM schema_migration") == migrations
    assert left_open.closed or left_open.broken or _is_cut(left_open)
    db2 = connect(url)
    db2.execute_sql("INSERT INTO dead_letter (received_at, topic, reason, payload) VALUES (now(), 't', 'r', 'p'::bytea)")
    assert db2.execute_sql("SELECT id FROM dead_letter").fetchall() == [(1,)]   # the sequence restarted
    db2.close()
    db.close()


def _is_cut(conn) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_a_changed_schema_gives_a_new_copy(store):
    url = store.checkout()
    before = rows(url, OID)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE site ADD COLUMN left_behind integer")
    url = store.checkout()
    assert rows(url, "SELECT count(*) FROM information_schema.columns"
                     " WHERE table_name = 'site' AND column_name = 'left_behind'") == [(0,)]
    assert rows(url, OID) != before


def test_the_rows_the_migrations_wrote_are_put_back(store):
    url = store.checkout()
    settings = rows(url, "SELECT name, value FROM central_setting ORDER BY name")
    migrations = rows(url, "SELECT * FROM schema_migration ORDER BY number")
    assert settings and migrations
    before = rows(url, OID)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE central_setting SET value = '1' WHERE name = %s", (settings[0][0],))
        conn.execute("INSERT INTO central_setting (name, value) VALUES ('smtp_host', 'h')")
        conn.execute("DELETE FROM schema_migration WHERE number = (SELECT max(number) FROM schema_migration)")
        conn.execute("CREATE TEMP TABLE staging (x integer)")     # a temporary schema stays: not the store's
    url = store.checkout()
    assert rows(url, "SELECT name, value FROM central_setting ORDER BY name") == settings
    assert rows(url, "SELECT * FROM schema_migration ORDER BY number") == migrations
    assert rows(url, OID) == before              # put back in place, not copied again
