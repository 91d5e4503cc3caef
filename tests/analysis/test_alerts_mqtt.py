"""End to end: a dip in a kiosk's batch (against four ordinary weeks of the site) reaches
`kiosk-central ingest` (a real process, real mosquitto with TLS, password file and ACL); its
after-commit hook raises ONE alert, publishes it on the site's alerts topic where a kiosk of that
site receives it, and queues its notice for the webhooks (ingest never POSTs itself: the notify
worker delivers it, signed). More bad answers in the same dip: no second alert."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server_sync import protocol
from server_sync.central.db import connect
from server_sync.cli import main
from server_sync.notify import queue, sender
from tests.analysis.seeding import answer, commit, ordinary_weeks
from tests.analysis.webhook import WebhookReceiver
from tests.central.fleet import IngestProcess, wait_until
from tests.central.wire import batch, register_fleet, response

pytestmark = pytest.mark.broker


def _client(broker, user: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{user}", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=broker.ca_file)
    c.username_pw_set(user, broker.passwd(user))
    return c


def test_dip_through_ingest_publishes_one_alert_and_calls_the_webhook(broker, tmp_path):
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    register_fleet(db)
    usual = ordinary_weeks(db, "s1", datetime.now(timezone.utc), random.Random(1), kiosk="k2")
    hook = WebhookReceiver(status=200)
    queue.add_endpoint(db, "office", hook.url, "json", datetime.now(timezone.utc))
    ingest = IngestProcess(url, broker, tmp_path / "ingest.log")
    received: list[protocol.Alert] = []
    subscribed = threading.Event()
    staff = _client(broker, "k2")                                 # another kiosk of site s1 listens
    staff.on_message = lambda c, u, m: received.append(protocol.decode_alert(m.payload, "s1"))
    staff.on_subscribe = lambda *a: subscribed.set()
    kiosk = _client(broker, "k1")
    try:
        ingest.start()
        staff.connect(broker.host, broker.port)
        staff.loop_start()
        staff.subscribe(protocol.alerts_topic("s1"), qos=1)
        assert subscribed.wait(10)
        kiosk.connect(broker.host, broker.port)
        kiosk.loop_start()
        now = datetime.now(timezone.utc)
        events = [response(i + 1, value=1 if i % 4 else 3, at=now - timedelta(minutes=24 - i)) for i in range(24)]
        kiosk.publish(*batch(events), qos=1).wait_for_publish(10)
        assert wait_until(lambda: len(received) == 1, 20), ingest.log()
        assert received[0].kind == "realtime" and received[0].site_id == "s1"
        more = [response(30 + i, value=1, at=datetime.now(timezone.utc)) for i in range(3)]
        kiosk.publish(*batch(more), qos=1).wait_for_publish(10)
        assert wait_until(lambda: db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] == usual + 27, 20)
        time.sleep(1.0)                                          # time for a wrong second alert to show
        assert len(received) == 1
        stored = db.execute_sql("SELECT id, n, negative, published_at, webhook_status FROM alert").fetchall()
        assert len(stored) == 1 and stored[0][3] is not None and stored[0][4] is None
        assert f"alert-{stored[0][0]}" == received[0].id
        assert hook.bodies == []                                 # queued, not POSTed by ingest
        assert sender.deliver_webhooks(db, datetime.now(timezone.utc)) == 1
        assert hook.bodies[0]["event"] == "alert.raised" and hook.bodies[0]["site_id"] == "s1"
        assert stored[0][1] == 24                                 # the dip: the 24 answers of the batch
    finally:
        for c in (staff, kiosk):
            c.loop_stop()
            c.disconnect()
        ingest.close()
        hook.close()
        db.close()


def test_alerts_check_publishes_what_it_raises(broker, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    register_fleet(db)
    got: list[protocol.Alert] = []
    subscribed = threading.Event()
    staff = _client(broker, "k3")                                 # a kiosk of site s2
    staff.on_message = lambda c, u, m: got.append(protocol.decode_alert(m.payload, "s2"))
    staff.on_subscribe = lambda *a: subscribed.set()
    try:
        staff.connect(broker.host, broker.port)
        staff.loop_start()
        staff.subscribe(protocol.alerts_topic("s2"), qos=1)
        assert subscribed.wait(10)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        ordinary_weeks(db, "s2", now, random.Random(2), kiosk="k4")
        commit(db, [answer("s2", now - timedelta(minutes=i), 1, kiosk="k3") for i in range(24)])
        args = ["--db", url, "alerts", "check", "--broker-host", broker.host, "--broker-port", str(broker.port),
                "--ca-file", broker.ca_file, "--username", "central",
                "--password-file", str(broker.password_file_for("central")), "--json"]
        assert main(args) == 0
        raised = json.loads(capsys.readouterr().out)
        assert [(a["site_id"], a["kind"]) for a in raised] == [("s2", "realtime")]
        assert wait_until(lambda: len(got) == 1, 10) and got[0].id == f"alert-{raised[0]['id']}"
        assert raised[0]["published_at"] is not None                               # the broker took it
        assert main(args) == 0 and json.loads(capsys.readouterr().out) == []       # same dip: nothing new
    finally:
        staff.loop_stop()
        staff.disconnect()
        db.close()


def dipped_store(tmp_path) -> str:
    """A store whose site s2 had ordinary weeks and now 24 unhappy answers in a row (a dip)."""
    url = f"sqlite:///{tmp_path / 'central.db'}"
    db = connect(url)
    try:
        register_fleet(db)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        ordinary_weeks(db, "s2", now, random.Random(2), kiosk="k4")
        commit(db, [answer("s2", now - timedelta(minutes=i), 1, kiosk="k3") for i in range(24)])
    finally:
        db.close()
    return url


def test_alerts_check_lists_what_it_raised_with_owner_and_state(tmp_path, capsys):
    """The text listing of `alerts check` is that of `alerts list`: the stored alert, owned."""
    url = dipped_store(tmp_path)
    assert main(["--db", url, "alerts", "check", "--no-publish"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 new alert(s)"
    # Kept back, so not published: it said published all the same (a review).
    db = connect(url)
    try:
        assert db.execute_sql("SELECT published_at FROM alert").fetchall() == [(None,)]
    finally:
        db.close()
    assert main(["--db", url, "alerts", "list"]) == 0
    assert out[:-1] == capsys.readouterr().out.splitlines()
    assert " s2 " in out[0] and " open " in out[0]


def test_alerts_check_with_the_broker_away_keeps_them_unpublished(tmp_path, capsys):
    """No broker: "alerts not published … they stay stored", and they were stored as published."""
    from tests.fixtures.broker import free_tcp_port
    url = dipped_store(tmp_path)
    db = connect(url)
    try:
        assert main(["--db", url, "alerts", "check", "--no-tls", "--broker-host", "127.0.0.1",
                     "--broker-port", str(free_tcp_port()), "--json"]) == 0
        out = capsys.readouterr()
        assert "alerts not published" in out.err and len(json.loads(out.out)) == 1
        assert db.execute_sql("SELECT published_at FROM alert").fetchall() == [(None,)]
    finally:
        db.close()
