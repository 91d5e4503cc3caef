"""`config push` beside other commands at the same moment: each ends as if they had run one after
the other, on PostgreSQL (READ COMMITTED: two sessions read the same rows, then both write) as on
SQLite (one writer). The push runs in a thread of its own and is held at a named step (`Hold`);
the other command runs meanwhile, and the push goes on once that one has ended or waits for a
lock (`blocked_or_done`). The broker is a real mosquitto with the shipped ACLs (`RealBroker`),
made to refuse (its ACL) or stopped at the moment a test chooses, and each test ends by reading
what every kiosk gets retained, with its own credential, against the register (`agree`: a retained
version is one recorded, none below the highest marked sent). A stand-in broker took every
publish at once and could not show what a kiosk connecting after is handed.

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
from typing import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server_sync import config_push, protocol
from server_sync.central import questions
from server_sync.central.db import connect
from server_sync.cli import main
from server_sync.config_push import Publication
from tests.fixtures.broker import Broker, free_tcp_port
from tests.fixtures.cli import SHIPPED_ACL, broker_files

pytestmark = pytest.mark.broker


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


def held_push(monkeypatch, broker, module, step: str, *argv: str) -> tuple[Run, Hold]:
    """`config push ARGV` started in a thread named "push", once `module.step` returned there
    held (`Hold`)."""
    hold = Hold(monkeypatch, module, step, who="push")
    push = Run("push", "config", "push", *argv, *broker.args)
    push.start()
    hold.wait()
    return push, hold


KIOSKS = ("k1", "k2", "k3", "k4", "k5", "k6")
SHIPPED_CENTRAL_ACL = SHIPPED_ACL.with_name("kundpuls-central.acl")
CONFIG_WRITE = "topic write kundpuls/v1/kiosk/+/config\n"


def shipped_acl(centre_writes_configs: bool = True) -> str:
    """The shipped ACLs of both listeners as one (the test broker has one): the kiosks' patterns,
    then the centre's user. Without `centre_writes_configs`, the centre's as it would be without
    its line for config topics (an ACL installed before config push, or edited wrongly): the
    broker then refuses every push with a PUBACK `Not authorized`."""
    central = SHIPPED_CENTRAL_ACL.read_text()
    assert CONFIG_WRITE in central, "the shipped centre's ACL changed: see shipped_acl"
    return SHIPPED_ACL.read_text() + "\n" + (central if centre_writes_configs else central.replace(CONFIG_WRITE, ""))


class RealBroker:
    """A real mosquitto (tests/fixtures/broker.py) with the shipped ACLs, and the pushes' broker
    options (`args`; `args_as(user)`: with another user's credential). The real
    `publish_each_retained` reaches it; what the broker confirmed is also kept in order (`got`, to
    tell [2, 3] from [3]), and `then` runs once it returned (a failure after the broker took a
    push). `refuses` makes the broker take (None), refuse for its ACL ("all") or be unreachable,
    stopped ("connection"), at the moment the test chooses; `retained` is what each kiosk reads on
    its config topic with its own credential."""

    def __init__(self, broker: Broker, monkeypatch) -> None:
        self.broker, self.got, self.lock = broker, [], threading.Lock()
        self.then = None
        self.publish = publish = config_push.publish_each_retained
        self.args = self.args_as("central")

        def published(settings, messages, timeout_s: float = 15.0) -> list[Publication]:
            publications = publish(settings, messages, timeout_s)
            with self.lock:
                self.got += [(topic, protocol.decode_config(payload))
                             for (topic, payload), p in zip(messages, publications) if p.problem is None]
            if self.then:
                self.then()
            return publications

        monkeypatch.setattr(config_push, "publish_each_retained", published)

    def args_as(self, user: str) -> list[str]:
        b = self.broker
        return ["--broker-host", b.host, "--broker-port", str(b.port), "--ca-file", b.ca_file,
                "--username", user, "--password-file", str(b.password_file_for(user))]

    def refuses(self, how: str | None) -> None:
        acl = shipped_acl(centre_writes_configs=how != "all")
        if self.broker.acl_file.read_text() != acl:
            self.broker.acl_file.write_text(acl)
            self.broker.reload()
        if how == "connection":
            self.broker.stop()
        else:
            self.broker.start()

    def clear(self) -> None:
        """The broker as a test finds it: taking pushes, no config retained."""
        from server_sync.ingest import BrokerSettings
        self.refuses(None)
        b = self.broker
        settings = BrokerSettings(host=b.host, port=b.port, tls=True, ca_file=b.ca_file, username="central",
                                  password=b.passwd("central"))
        assert all(p.problem is None for p in self.publish(settings, [(protocol.config_topic(k), b"") for k in KIOSKS]))

    def versions(self, kiosk: str) -> list[int]:
        return [c["version"] for t, c in self.got if t == protocol.config_topic(kiosk)]

    def scales(self, kiosk: str) -> list[str]:
        return [q["scale"] for t, c in self.got if t == protocol.config_topic(kiosk) for q in c.get("questions", [])]

    def retained(self, timeout: float = 10) -> dict[str, int]:
        """kiosk: the version of the config retained for it, as each kiosk reads it (subscribed
        with its own credential; the broker started again if stopped: its retained messages are
        kept across a restart). A kiosk's second subscription is confirmed after the retained
        message of its first (mosquitto queues that as it handles the first): none by then is none."""
        self.broker.start()
        got: dict[str, int] = {}
        done = {k: threading.Event() for k in KIOSKS}
        clients = []
        for k in KIOSKS:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"reader-{k}", protocol=mqtt.MQTTv5)
            c.tls_set(ca_certs=self.broker.ca_file)
            c.username_pw_set(k, self.broker.passwd(k))
            c.on_connect = lambda cl, u, f, rc, p, k=k: (cl.subscribe(protocol.config_topic(k), qos=1),
                                                          cl.subscribe(protocol.ack_topic(k), qos=1))
            c.on_subscribe = lambda cl, u, mid, rcs, p, k=k: (u.append(mid), len(u) == 2 and done[k].set())
            c.on_message = lambda cl, u, m, k=k: got.__setitem__(k, protocol.decode_config(m.payload)["version"])
            c.user_data_set([])
            c.connect_async(self.broker.host, self.broker.port, keepalive=10)       # all at once
            c.loop_start()
            clients.append(c)
        try:
            for k in KIOSKS:
                assert done[k].wait(timeout), f"{k} could not read its config topic"
        finally:
            for c in clients:
                c.disconnect()
                c.loop_stop()
        return got


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory, broker_ca) -> Iterator[Broker]:
    """One broker for the file's tests (`broker` leaves it as it found it): one a test made the
    file 9 s longer (mosquitto's start and stop, 60 times)."""
    real = Broker(tmp_path_factory.mktemp("mosquitto"), broker_ca, (*KIOSKS, "central"))
    real.acl_file.write_text(shipped_acl())
    try:
        yield real.start()
    finally:
        real.stop()


@pytest.fixture
def broker(mosquitto, monkeypatch) -> Iterator[RealBroker]:
    real = RealBroker(mosquitto, monkeypatch)
    try:
        yield real
    finally:
        real.clear()


def agree(url: str, broker: RealBroker) -> dict[str, int]:
    """What each kiosk reads retained (kiosk: version), once checked against the register
    (docs/central.md): the push is recorded wherever the broker may hold it (a retained version is
    one recorded for its kiosk), and the broker keeps the highest version sent (none below one
    marked sent, `config_push.sent_at`; above it: a send that failed after the broker took it)."""
    got = broker.retained()
    register = rows(url, "SELECT kiosk_id, version, sent_at FROM config_push")
    for k in KIOSKS:
        sent = max([v for kiosk, v, at in register if kiosk == k and at is not None], default=None)
        if k not in got:
            assert sent is None, f"{k}: version {sent} marked sent, the broker holds none"
        else:
            assert (k, got[k]) in {(kiosk, v) for kiosk, v, _at in register}, f"{k}: v{got[k]} retained, not recorded"
            assert sent is None or got[k] >= sent, f"{k}: v{got[k]} retained, v{sent} sent"
    return got


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
    second = (["question", "define", "visit", "8", "--scale", "nps11", "--audience", "customer"]
              if other == "question define" else
              ["config", "push", "--site", "s2", fragment(tmp_path, "nps", 8, "nps11"), *broker.args])
    # The push read the register, and defines visit v8 next.
    push, hold = held_push(monkeypatch, broker, questions, "read", "--site", "s1", fragment(tmp_path, "smiley", 8), "--db", url)
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
    assert agree(url, broker) == {"k1": 2, "k2": 2}


# ---------------------------------------------------------------------------------------------
# 2. A push that fails after the broker took it


def end_the_push_session(url: str) -> None:
    """The push's database connection lost (a PostgreSQL restart, a failover): every other session
    of the store ended by the server (the test's own too)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        ended = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                             " current_database() AND pid <> pg_backend_pid()").fetchall()
    assert (True,) in ended, ended


def interrupt() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("failure", ["interrupted", "connection lost"])
def test_a_push_the_broker_took_is_recorded_whatever_fails_after(central, tmp_path, broker, capsys, failure):
    """The push published inside its transaction and committed after: a connection lost (or the
    command interrupted) once the broker had taken it rolled back its record and its questions'
    definitions, the kiosks ran it, and the retry was given the same version again, which each
    kiosk refused as not newer (the centre recorded v2 = the retry, the kiosks ran v2 = the first).
    docs/central.md: a push is recorded wherever the broker may hold it. The real broker took it
    (each kiosk reads it retained) before the failure, which comes once the publish returned."""
    url, _db = central
    if failure == "connection lost" and not is_postgres(url):
        pytest.skip("a SQLite store has no connection to lose")
    broker.then = interrupt if failure == "interrupted" else (lambda: end_the_push_session(url))
    rc = main(["config", "push", "--site", "s1", fragment(tmp_path, "first", 5), *broker.args, "--db", url])
    err = capsys.readouterr().err
    if failure == "interrupted":
        assert rc == 130, err
    else:                                   # 0 when the push had nothing left to write after it
        assert rc == 0 or (rc == 1 and "the central database failed while the command ran" in err), err
    assert broker.versions("k1") == broker.versions("k2") == [2]          # the kiosks have it
    assert recorded(url) == [("k1", 2), ("k2", 2)]
    assert definition(url, "visit", 5) == [("smiley4", True)]
    assert agree(url, broker) == {"k1": 2, "k2": 2}
    broker.then = None
    assert main(["config", "push", "--site", "s1", fragment(tmp_path, "retry", 6), *broker.args, "--db", url]) == 0
    assert broker.versions("k1") == broker.versions("k2") == [2, 3]       # above it: the kiosks take it
    assert recorded(url) == [("k1", 2), ("k1", 3), ("k2", 2), ("k2", 3)]
    assert agree(url, broker) == {"k1": 3, "k2": 3}


@pytest.mark.parametrize("before", ["new", "seen in answers", "defined"])
@pytest.mark.parametrize("refuses", ["all", "connection"])
def test_a_push_the_broker_took_for_no_kiosk_leaves_nothing(central, tmp_path, broker, capsys, before, refuses):
    """Recorded before it is published, a push the broker refuses for every kiosk (or that does
    not reach it) is taken back whole: no version recorded, the register as it was (README: refused
    for all, nothing is kept). Refused: pushed with a kiosk's credential, which the shipped ACL
    lets write no config topic (every PUBACK `Not authorized`); not reached: a closed port."""
    url, db = central
    if before != "new":
        db.execute_sql("INSERT INTO question (id, version, scale, audience, text, first_seen, first_kiosk_id,"
                       " defined_at) VALUES ('visit', 5, 'smiley4', 'customer', '{\"sv\": \"x\"}',"
                       " '2026-11-23 12:00:00', 'k1', " + ("'2026-11-23 12:30:00'" if before == "defined" else "NULL")
                       + ")")
    register = rows(url, "SELECT * FROM question ORDER BY id, version")
    if refuses == "all":                    # a kiosk's credential: the shipped ACL lets it write no config
        args = broker.args_as("k1")
    else:                                   # a port no broker listens on
        args = [*broker.args, "--broker-port", str(free_tcp_port())]
    assert main(["config", "push", "--site", "s1", fragment(tmp_path, "first", 5), *args, "--db", url]) == 2
    err = capsys.readouterr().err
    assert ("Nothing was pushed or recorded" if refuses == "all" else "cannot reach the broker") in err, err
    assert recorded(url) == [] and rows(url, "SELECT * FROM question ORDER BY id, version") == register
    assert agree(url, broker) == {}


# ---------------------------------------------------------------------------------------------
# 3. A push beside kiosk add, move and deactivate


def test_a_push_goes_to_the_kiosks_of_its_site_as_they_are_when_it_records(central, tmp_path, broker, monkeypatch):
    """The push read its site's kiosks before its transaction and pushed to those: a kiosk added
    to the site meanwhile got nothing, and nothing said so (`kiosk add` had found no push to name);
    one moved away ran its old site's push, one deactivated was pushed to and recorded. As run one
    after the other: the push goes to the site's active kiosks of when it records."""
    url, _db = central
    out, err = apart(monkeypatch)
    files = broker_files(tmp_path)
    assert main(["kiosk", "add", "k6", "--site", "s1", *files, "--db", url]) == 0
    # It read k1, k2 and k6.
    push, hold = held_push(monkeypatch, broker, config_push, "targets", "--site", "s1", fragment(tmp_path, "s1", 4),
                           "--db", url)
    assert main(["kiosk", "add", "k5", "--site", "s1", *files, "--db", url]) == 0
    assert main(["kiosk", "move", "k2", "--site", "s2", "--acl-file", files[3], "--db", url]) == 0
    assert main(["kiosk", "deactivate", "k6", *files, "--db", url]) == 0
    hold.release()
    assert push.result() == 0, err.said("push")
    assert recorded(url) == [("k1", 2), ("k5", 2)]
    assert [k for k in ("k1", "k2", "k5", "k6") if broker.versions(k)] == ["k1", "k5"]
    assert "kiosk k5" in out.said("push") and "kiosk k2" not in out.said("push")
    assert agree(url, broker) == {"k1": 2, "k5": 2}


@pytest.mark.parametrize("change", ["deactivate", "move"])
def test_a_push_to_one_kiosk_finds_it_as_it_is_when_it_records(central, tmp_path, broker, monkeypatch, change):
    """`config push --kiosk k1` read k1 before its transaction: deactivated meanwhile, it was
    pushed to and recorded (its broker user gone, the config waits unread). Moved meanwhile, the
    push takes its new site's lock (it had read the old one) and goes to it there."""
    url, _db = central
    out, err = apart(monkeypatch)
    files = broker_files(tmp_path)
    assert main(["kiosk", "add", "k5", "--site", "s1", *files, "--db", url]) == 0
    # It read k5 at s1, active.
    push, hold = held_push(monkeypatch, broker, config_push, "targets", "--kiosk", "k5", fragment(tmp_path, "one", 4),
                           "--db", url)
    if change == "deactivate":
        assert main(["kiosk", "deactivate", "k5", *files, "--db", url]) == 0
    else:
        assert main(["kiosk", "move", "k5", "--site", "s2", "--acl-file", files[3], "--db", url]) == 0
    hold.release()
    if change == "deactivate":
        assert push.result() == 2
        assert "kiosk 'k5' is deactivated" in err.said("push"), err.said("push")
        assert recorded(url) == [] and broker.got == [] and agree(url, broker) == {}
    else:
        assert push.result() == 0, err.said("push")
        assert recorded(url) == [("k5", 2)] and broker.versions("k5") == [2] and agree(url, broker) == {"k5": 2}


@pytest.mark.parametrize("other", ["add k5 to s1", "move k3 to s1", "move k2 to s2"])
def test_a_kiosk_added_or_moved_while_a_push_records_is_told_of_it(central, tmp_path, broker, monkeypatch, other):
    """`kiosk add` or `kiosk move` while a push to the site was under way read the pushes before
    it was committed: a kiosk added or moved to the site was not told that the site's kiosks run a
    pushed config it lacks, and one moved away not that it runs its former site's. It waits for
    the push, and says what it says after one."""
    url, _db = central
    out, err = apart(monkeypatch)
    files = broker_files(tmp_path)
    argv = {"add k5 to s1": ["kiosk", "add", "k5", "--site", "s1", *files],
            "move k3 to s1": ["kiosk", "move", "k3", "--site", "s1", "--acl-file", files[3]],
            "move k2 to s2": ["kiosk", "move", "k2", "--site", "s2", "--acl-file", files[3]]}[other]
    # Inside its transaction: about to record k1 and k2.
    push, hold = held_push(monkeypatch, broker, config_push, "next_versions", "--site", "s1", fragment(tmp_path, "s1", 4),
                           "--db", url)
    then = Run("other", *argv, "--json", "--db", url)
    then.start()
    blocked_or_done(url, then)
    hold.release()
    assert push.result() == 0, err.said("push")
    assert then.result() == 0, err.said("other")
    said = json.loads(out.said("other"))
    if other == "move k2 to s2":
        assert said["runs_former_sites_push"] is True and said["site_pushes_missed"] == []
    else:
        assert said["site_pushes_missed"] == ["k1", "k2"]
    assert recorded(url) == [("k1", 2), ("k2", 2)]
    assert agree(url, broker) == {"k1": 2, "k2": 2}


# ---------------------------------------------------------------------------------------------
# 4. Two pushes at the same moment


def test_two_pushes_at_once_are_given_one_version_after_the_other(central, tmp_path, broker, monkeypatch):
    """Two admins push to site s1 at the same moment: both read the kiosks' versions before either
    recorded, both gave each kiosk version 2, and the second ended in a UniqueViolation traceback
    (config_push_version). The second waits for the first's kiosks and is given version 3; the
    broker gets 2 before 3 (a kiosk refuses a version not above the one it runs), or 3 alone when
    the second was sent before the first came to publish (`test_a_push_recorded_after_…`)."""
    url, _db = central
    out, err = apart(monkeypatch)
    # Inside its transaction, versions given, not recorded yet.
    first, hold = held_push(monkeypatch, broker, config_push, "next_versions", "--site", "s1", fragment(tmp_path, "a", 4),
                            "--db", url)
    second = Run("second", "config", "push", "--site", "s1", fragment(tmp_path, "b", 5), *broker.args, "--db", url)
    second.start()
    blocked_or_done(url, second)
    hold.release()
    assert first.result() == 0, err.said("push")
    assert second.result() == 0, err.said("second")
    assert recorded(url) == [("k1", 2), ("k1", 3), ("k2", 2), ("k2", 3)]
    assert "pushed config version 3 to kiosk k1" in out.said("second")
    for kiosk in ("k1", "k2"):
        assert broker.versions(kiosk) in ([2, 3], [3])
        if broker.versions(kiosk) == [3]:
            assert f"config version 2 to kiosk {kiosk} not sent: a push recorded after it" in out.said("push")
    assert agree(url, broker) == {"k1": 3, "k2": 3}                    # the highest, whichever order


def test_a_push_recorded_after_another_is_the_one_sent(central, tmp_path, broker, monkeypatch):
    """Recorded, then published (config_push_store): a push recorded after another may be sent
    first. The earlier one then sends nothing to those kiosks (the broker would keep it
    retained over the later one, which a kiosk connecting after would never get), says so, and
    keeps its record (a version not sent: the next push goes above it)."""
    from server_sync import config_push_store
    url, _db = central
    out, err = apart(monkeypatch)
    first, hold = held_push(monkeypatch, broker, config_push_store, "record", "--kiosk", "k1", fragment(tmp_path, "a", 4),
                            "--json", "--db", url)
    assert main(["config", "push", "--site", "s1", fragment(tmp_path, "b", 5), *broker.args, "--db", url]) == 0
    hold.release()
    assert first.result() == 0, err.said("push")
    assert broker.versions("k1") == [3] and broker.versions("k2") == [2]
    assert recorded(url) == [("k1", 2), ("k1", 3), ("k2", 2)]
    assert agree(url, broker) == {"k1": 3, "k2": 2}
    said = json.loads(out.said("push"))
    assert said["pushed"] == [] and said["superseded"] == [{"kiosk_id": "k1", "version": 2, "by_version": 3}]


NAMES = ("push", "second", "third")


def recorded_and_held(monkeypatch, broker, url: str, *argvs: list[str]) -> list[tuple[Run, Hold]]:
    """`config push ARGV` for each, one after the other, in threads named as `NAMES`: each
    recorded and held before its send."""
    from server_sync import config_push_store
    held = []
    for name, argv in zip(NAMES, argvs):
        hold = Hold(monkeypatch, config_push_store, "record", who=name)
        run = Run(name, "config", "push", *argv, *broker.args, "--db", url)
        run.start()
        hold.wait()
        held.append((run, hold))
    return held


@pytest.mark.parametrize("later", ["sent", "refused", "not reached"])
def test_a_push_stands_aside_only_for_a_later_push_that_was_sent(central, tmp_path, broker, monkeypatch, later):
    """Push A (--kiosk k1, v2) and push B (--site s1: v3 for k1) both recorded; A came to its
    publish first, saw B's record and sent k1 nothing (exit 0, "superseded"); then the broker
    refused B (or was not reached) and B was taken back: k1 got neither config, the centre still
    recorded v2 for it, and A's definition of visit v4 stayed though no kiosk had A's config. A
    push now stands aside only for a later push already sent: A is sent, then B or not, as when
    one ran after the other. Between the two sends the broker reloads an ACL without the centre's
    config line (it refuses B) or is stopped (B does not reach it); started again, it still holds
    A's config for k1 (persistence)."""
    url, _db = central
    out, err = apart(monkeypatch)
    (a, hold_a), (b, hold_b) = recorded_and_held(monkeypatch, broker, url, ["--kiosk", "k1", fragment(tmp_path, "a", 4)],
                                                 ["--site", "s1", fragment(tmp_path, "b", 5)])
    hold_a.release()
    assert a.result() == 0, err.said("push")
    assert "pushed config version 2 to kiosk k1" in out.said("push"), out.said("push")
    broker.refuses({"sent": None, "refused": "all", "not reached": "connection"}[later])
    hold_b.release()
    assert b.result() == (0 if later == "sent" else 2), err.said("second")
    assert definition(url, "visit", 4) == [("smiley4", True)]
    if later == "sent":
        assert broker.versions("k1") == [2, 3] and broker.versions("k2") == [2]
        assert recorded(url) == [("k1", 2), ("k1", 3), ("k2", 2)]
        assert agree(url, broker) == {"k1": 3, "k2": 2}
    else:
        assert broker.versions("k1") == [2] and broker.versions("k2") == []
        assert recorded(url) == [("k1", 2)] and definition(url, "visit", 5) == []
        assert agree(url, broker) == {"k1": 2}


@pytest.mark.parametrize("sends", [
    [("push", "refused"), ("second", "refused")],
    [("second", "refused"), ("push", "refused")],
    [("push", "refused"), ("second", "sent")],
    [("push", "sent"), ("second", "refused")],
    [("second", "refused"), ("push", "refused"), ("third", "refused")],
    [("push", "refused"), ("third", "refused"), ("second", "sent")],
    [("third", "sent"), ("push", "refused"), ("second", "refused")],
])
def test_pushes_taken_back_leave_no_definition_of_theirs(central, tmp_path, broker, monkeypatch, sends):
    """Pushes that define the same new question version (visit v8) to s1, s2 (and k1), each
    recorded before the next, sent in another order; the broker refuses some (an outage). Two
    refused, the first first: the first's undo found the second's definition and left it, the
    second's restored the first's (its register row before it): both admins were told "Nothing
    was pushed or recorded", and visit v8 stayed defined. The register ends as if the refused
    pushes had never run: the definition of the last one recorded that was sent, or none. The
    outage is the broker stopped before a push's send (started again before one that is sent);
    the kiosks read the config of the push sent, or none."""
    url, _db = central
    out, err = apart(monkeypatch)
    targets = {"push": ["--site", "s1"], "second": ["--site", "s2"], "third": ["--kiosk", "k1"]}
    pushes = [name for name in NAMES if name in dict(sends)]
    held = dict(zip(pushes, recorded_and_held(monkeypatch, broker, url, *[[*targets[name], fragment(tmp_path, name, 8)]
                                                                   for name in pushes])))
    for name, outcome in sends:
        broker.refuses(None if outcome == "sent" else "connection")
        run, hold = held[name]
        hold.release()
        assert run.result() == (0 if outcome == "sent" else 2), err.said(name)
    sent = [name for name in pushes if dict(sends)[name] == "sent"]
    register = rows(url, "SELECT text, defined_at IS NOT NULL FROM question WHERE id = 'visit' AND version = 8")
    assert [(json.loads(text)["en"], bool(defined)) for text, defined in register] == [(n, True) for n in sent[-1:]]
    given = {"push": {"k1": 2, "k2": 2}, "second": {"k3": 2, "k4": 2}, "third": {"k1": 3 if "push" in pushes else 2}}
    assert agree(url, broker) == {k: v for name in sent for k, v in given[name].items()}
