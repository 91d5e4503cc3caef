"""`config push` beside other commands at the same moment: each ends as if they had run one after
the other, on PostgreSQL (READ COMMITTED: two sessions read the same rows, then both write) as on
SQLite (one writer). The push runs in a thread of its own and is held at a named step (`Hold`);
the other command runs meanwhile, and the push goes on once that one has ended or waits for a
lock (`blocked_or_done`). The broker is `FakeBroker`: it takes every publish, in order.

A review found each of these with real processes: two definitions of one question version (the
last won silently, and one site's kiosks had been sent the other meaning); a push whose database
connection was lost after the broker took it (the kiosks ran a config the centre had no record of,
and the retry was given the same version, which they refused); a push that read its kiosks before
`kiosk add`, `move` or `deactivate` changed them; two pushes at once (a UniqueViolation traceback)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import defaultdict

import pytest

from server_sync import config_push, protocol
from server_sync.central import questions
from server_sync.central.db import connect
from server_sync.cli import main
from server_sync.config_push import Publication
from tests.fixtures.cli import broker_files

BROKER = ["--no-tls", "--broker-host", "127.0.0.1"]


class PerThread(io.TextIOBase):
    """sys.stdout / sys.stderr for commands run in threads at once: what each thread wrote, apart."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = defaultdict(list)

    def write(self, text: str) -> int:
        self.texts[threading.current_thread().name].append(text)
        return len(text)

    def isatty(self) -> bool:
        return False

    def said(self, name: str) -> str:
        return "".join(self.texts[name])


class Run(threading.Thread):
    """`kiosk-central ARGV` in a thread named `name`: its exit code, or the exception it raised."""

    def __init__(self, name: str, *argv: str) -> None:
        super().__init__(name=name, daemon=True)
        self.argv, self.rc, self.error = list(argv), None, None

    def run(self) -> None:
        try:
            self.rc = main(self.argv)
        except BaseException as e:          # a traceback the command would print
            self.error = e

    def result(self, timeout: float = 60) -> int:
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} did not end"
        assert self.error is None, f"{self.name} raised {self.error!r}"
        return self.rc


class Hold:
    """`module.name`, once it returned for the `call`-th time in thread `who`, waits there until
    `release` (other threads' calls go through)."""

    def __init__(self, monkeypatch, module, name: str, who: str, call: int = 1) -> None:
        self.reached, self.go = threading.Event(), threading.Event()
        original, calls = getattr(module, name), []

        def held(*a, **kw):
            result = original(*a, **kw)
            if threading.current_thread().name == who:
                calls.append(1)
                if len(calls) == call:
                    self.reached.set()
                    assert self.go.wait(60), "never released"
            return result

        monkeypatch.setattr(module, name, held)

    def wait(self) -> None:
        assert self.reached.wait(60), "the held step was never reached"

    def release(self) -> None:
        self.go.set()


class FakeBroker:
    """Stands in for `publish_each_retained`: takes every message, and keeps them in order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.then = None                    # called after taking them (a failure to come)

    def __call__(self, settings, messages, timeout_s: float = 15.0) -> list[Publication]:
        with self.lock:
            self.got += [(topic, protocol.decode_config(payload)) for topic, payload in messages]
        if self.then:
            self.then()
        return [Publication(topic) for topic, _p in messages]

    def versions(self, kiosk: str) -> list[int]:
        return [c["version"] for t, c in self.got if t == protocol.config_topic(kiosk)]

    def scales(self, kiosk: str) -> list[str]:
        return [q["scale"] for t, c in self.got if t == protocol.config_topic(kiosk) for q in c.get("questions", [])]


@pytest.fixture
def broker(monkeypatch) -> FakeBroker:
    fake = FakeBroker()
    monkeypatch.setattr(config_push, "publish_each_retained", fake)
    return fake


def apart(monkeypatch) -> tuple[PerThread, PerThread]:
    """(stdout, stderr) of each thread apart, from here to the test's end (a fixture's would be
    undone by pytest's capture, set again as the test starts)."""
    out, err = PerThread(), PerThread()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    return out, err


def is_postgres(url: str) -> bool:
    return url.startswith("postgres")


def waiting_for_a_lock(url: str) -> bool:
    """Whether a session of the store waits for a lock (PostgreSQL)."""
    import psycopg
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                            " WHERE NOT l.granted AND a.datname = current_database()").fetchone()[0] > 0


def blocked_or_done(url: str, thread: threading.Thread, timeout: float = 30) -> None:
    """Until `thread` ended or waits for a lock. SQLite: a moment (every writer waits there for
    its single write lock, which the held push has from its BEGIN)."""
    end = time.monotonic() + (timeout if is_postgres(url) else 0.5)
    while thread.is_alive() and time.monotonic() < end:
        if is_postgres(url) and waiting_for_a_lock(url):
            return
        thread.join(0.02)


def fragment(tmp_path, name: str, version: int, scale: str = "smiley4", question: str = "visit") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[[questions]]\nid = "{question}"\nversion = {version}\nscale = "{scale}"\n'
                    f'text = {{sv = "{name}", nb = "{name}", en = "{name}"}}\n', encoding="utf-8")
    return str(path)


def rows(url: str, sql: str) -> list[tuple]:
    db = connect(url)
    try:
        return [tuple(r) for r in db.execute_sql(sql).fetchall()]
    finally:
        db.close()


def recorded(url: str) -> list[tuple[str, int]]:
    return rows(url, "SELECT kiosk_id, version FROM config_push ORDER BY kiosk_id, version")


def definition(url: str, question: str, version: int) -> list[tuple]:
    return [(scale, defined is not None) for scale, defined in rows(
        url, f"SELECT scale, defined_at FROM question WHERE id = '{question}' AND version = {version}")]


# ---------------------------------------------------------------------------------------------
# 1. Two definitions of one question version


@pytest.mark.parametrize("before", ["new", "seen in answers"])
@pytest.mark.parametrize("other", ["question define", "push to another site"])
def test_a_question_version_defined_twice_at_once_is_refused_the_second_time(central, tmp_path, broker, monkeypatch,
                                                                             before, other):
    """A push defining `visit` v8 as smiley4 and, at the same moment, `question define visit 8
    --scale nps11` (or a push of it as nps11 to another site): both read the register before
    either wrote, so both exited 0 and the register kept the last (nps11), while s1's kiosks had
    been sent smiley4 and their answers were held from then on; a version new to the register was
    a UniqueViolation traceback instead. The second is refused, as when run one after the other."""
    url, db = central
    out, err = apart(monkeypatch)
    if before == "seen in answers":         # as ingest notes a version an answer brought in
        db.execute_sql("INSERT INTO question (id, version, scale, audience, text, first_seen, first_kiosk_id)"
                       " VALUES ('visit', 8, 'smiley4', 'customer', '{}', '2026-11-23 12:00:00', 'k1')")
    hold = Hold(monkeypatch, questions, "read", who="push")
    push = Run("push", "config", "push", "--site", "s1", fragment(tmp_path, "smiley", 8), *BROKER, "--db", url)
    second = (["question", "define", "visit", "8", "--scale", "nps11", "--audience", "customer"]
              if other == "question define" else
              ["config", "push", "--site", "s2", fragment(tmp_path, "nps", 8, "nps11"), *BROKER])
    push.start()
    hold.wait()                             # the push read the register, and defines visit v8 next
    then = Run("second", *second, "--db", url)
    then.start()
    blocked_or_done(url, then)
    hold.release()
    assert push.result() == 0, err.said("push")
    assert then.result() == 2, out.said("second")
    assert "question visit v8 is defined as smiley4/customer" in err.said("second"), err.said("second")
    assert definition(url, "visit", 8) == [("smiley4", True)]
    assert broker.scales("k1") == broker.scales("k2") == ["smiley4"]
    assert broker.versions("k3") == broker.versions("k4") == []
