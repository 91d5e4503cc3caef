"""What the threads of one web worker share, in process: the audit log's group writer (every
event stored before its request goes on, one commit for those that arrive together), the
figures cache (one thread computes a key while the others wait for it) and, on PostgreSQL, the
setting of every thread's connection."""

from __future__ import annotations

import threading
import time

import pytest

from server_sync.web import audit
from server_sync.web.cache import FiguresCache


def test_the_group_writer_stores_every_event_before_the_request_goes_on(central_db):
    writer = audit.GroupWriter(central_db)
    commits = []
    atomic = central_db.atomic

    def counted():
        commits.append(1)
        return atomic()
    central_db.atomic = counted
    seen_after_write = []

    def view(i: int) -> None:
        audit.record(central_db, "comments_viewed", user_name=f"u{i}", address="10.0.0.1", shown=i)
        # The request's own connection sees its event at once (it is committed, not queued).
        seen_after_write.append(bool(central_db.execute_sql(
            f"SELECT 1 FROM audit_log WHERE user_name = {central_db.param}", (f"u{i}",)).fetchone()))
    try:
        threads = [threading.Thread(target=view, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        central_db.atomic = atomic
        writer.close()
    assert seen_after_write == [True] * 40
    assert {e["user"] for e in audit.entries(central_db, event="comments_viewed")} == {f"u{i}" for i in range(40)}
    assert 1 <= len(commits) <= 40
    # Closed: the events go straight to the database again.
    audit.record(central_db, "login", user_name="after", address=None)
    assert audit.entries(central_db, limit=1)[0]["user"] == "after"


def test_a_failed_group_commit_fails_the_requests_that_waited_for_it(central_db):
    writer = audit.GroupWriter(central_db)
    central_db.execute_sql("DROP TABLE audit_log")
    try:
        with pytest.raises(Exception):
            audit.record(central_db, "login", user_name="x", address=None)
    finally:
        writer.close()


def test_one_thread_computes_a_cached_key_the_others_wait_for_it():
    cache = FiguresCache(seconds=30)
    builds = []

    def build():
        builds.append(1)
        time.sleep(0.2)
        return {"figures": len(builds)}
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(("report", 1), build))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and results == [{"figures": 1}] * 8
    assert (cache.misses, cache.hits) == (1, 7)


def test_a_failed_build_is_not_cached_and_the_next_thread_tries_again():
    cache = FiguresCache(seconds=30)
    with pytest.raises(ZeroDivisionError):
        cache.get("k", lambda: 1 / 0)
    assert cache.get("k", lambda: "ok") == "ok"


@pytest.mark.postgres
def test_a_web_worker_on_postgresql_plans_no_parallel_workers_in_any_thread(pg_url):
    """A page's queries are short: on a few cores PostgreSQL's parallel workers cost more than
    they save (a store manager's comments over the benchmark chain: 87 ms with, 27 ms without)."""
    from server_sync.web.app import _connect
    db = _connect(pg_url)
    try:
        seen = [db.execute_sql("SHOW max_parallel_workers_per_gather").fetchone()[0]]
        t = threading.Thread(target=lambda: seen.append(
            db.execute_sql("SHOW max_parallel_workers_per_gather").fetchone()[0]))
        t.start()
        t.join()
        assert seen == ["0", "0"]
        assert db.execute_sql("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"    # kept
    finally:
        db.close()


@pytest.mark.postgres
def test_the_group_writer_connects_again_after_postgresql_cut_its_connection(pg_url):
    """The writer's thread keeps a connection of its own: once PostgreSQL had cut it (a restart,
    pg_terminate_backend), every audit event failed, and with it every sign-in and every page that
    audits, until the web app was restarted. The event that met the cut fails (its request is a
    503); the next is stored on a new connection."""
    from server_sync.central.db import connect
    from server_sync.central.dialect import store_failure
    db = connect(pg_url)
    writer = audit.GroupWriter(db)
    try:
        audit.record(db, "login", user_name="before", address=None)
        db.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND pid <> pg_backend_pid()")
        with pytest.raises(Exception) as cut:
            audit.record(db, "login", user_name="cut", address=None)
        assert store_failure(cut.value) is not None
        audit.record(db, "login", user_name="after", address=None)
        assert [e["user"] for e in audit.entries(db)] == ["after", "before"]
    finally:
        writer.close()
        db.close()
