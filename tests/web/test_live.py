"""Live: answers a kiosk publishes through the real broker (TLS, ACL) reach two running ingestors
(shared subscription), and the open overview, site and fleet pages in the browser show them within
two seconds, without a reload, while the web app runs two worker processes. The processes meet
only in the database (marks bumped by ingest's after-commit hook), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server_sync import protocol
from server_sync.central import registry
from server_sync.central.db import connect
from tests.central.fleet import IngestProcess
from tests.central.wire import batch, response
from tests.web.conftest import ENGINES
from tests.web.test_browser import ARTIFACTS, browser, screenshot, sign_in

pytestmark = [pytest.mark.parametrize("chain_url", ENGINES, indirect=True, scope="module"), pytest.mark.broker]

LIVE_WITHIN_S = 2.0
KIOSK, SITE = "k1", "s003"            # the broker fixture's kiosk user, registered at the store's site


def kiosk_client(broker) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=KIOSK, protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=broker.ca_file)
    c.username_pw_set(KIOSK, broker.passwd(KIOSK))
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect(broker.host, broker.port, keepalive=10)
    c.loop_start()
    assert connected.wait(10)
    return c


def publish(client: mqtt.Client, topic: str, payload: bytes, retain: bool = False) -> float:
    """Publish at QoS 1; the moment the broker has it (before ingest can even see it)."""
    info = client.publish(topic, payload, qos=1, retain=retain)
    info.wait_for_publish(5)
    return time.monotonic()


def wait_for(driver, script: str, expected, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script(script) == expected:
            return time.monotonic()
        time.sleep(0.02)
    return None


def test_new_answers_appear_on_open_pages_within_two_seconds(web, broker, tmp_path):
    db = connect(web.db_url)
    try:
        registry.add_kiosk(db, KIOSK, SITE, datetime.now(timezone.utc).replace(tzinfo=None))
    finally:
        db.close()
    ingestors = [IngestProcess(web.db_url, broker, tmp_path / f"ingest-{i}.log", f"ingest-{i}").start()
                 for i in (1, 2)]
    kiosk = kiosk_client(broker)
    driver = browser()
    seq = [0]

    def answers(n: int) -> float:
        now = datetime.now(timezone.utc)
        events = []
        for i in range(n):
            seq[0] += 1
            events.append(response(seq[0], kiosk=KIOSK, site=SITE, value=1 + i % 4,
                                   at=now - timedelta(milliseconds=100 * (n - i))))
        return publish(kiosk, *batch(events, KIOSK))

    try:
        sign_in(driver, web.url, "sara-store")
        today = "return document.querySelector('[data-today]').getAttribute('data-today')"
        assert wait_for(driver, "return document.getElementById('live-state').textContent", "live", 10)
        before = int(driver.execute_script(today))
        sent = answers(3)
        seen = wait_for(driver, today, str(before + 3), 10)
        assert seen is not None, "the overview never showed the new answers"
        assert seen - sent < LIVE_WITHIN_S, f"overview: {seen - sent:.2f} s"
        measured = {"overview_s": round(seen - sent, 3)}
        screenshot(driver, ARTIFACTS / web.engine / "live-overview-1280.png", 1280)

        # The site page: its summary gains the new answers (n moves on) without a reload.
        driver.get(f"{web.url}/sites/{SITE}")
        assert wait_for(driver, "return document.getElementById('live-state').textContent", "live", 10)
        n_now = "return Array.from(document.querySelectorAll('#summary .ci')).map(e => e.textContent).join('|')"
        cards = driver.execute_script(n_now)
        driver.execute_script("window.__stillHere = true")
        sent = answers(2)
        seen = wait_for(driver, n_now.replace("return ", "return (") + ") !== " + repr(cards), True, 10)
        assert seen is not None and seen - sent < LIVE_WITHIN_S, "site page not refreshed in time"
        measured["site_s"] = round(seen - sent, 3)
        assert driver.execute_script("return window.__stillHere") is True, "the page reloaded"

        # The fleet page: the kiosk reports its status (outbox depth 7) and the row shows it.
        driver.get(f"{web.url}/fleet")
        assert wait_for(driver, "return document.getElementById('live-state').textContent", "live", 10)
        status = protocol.encode_status(version="test", outbox_depth=7, oldest_unacked_s=3, clock_synced=True,
                                        disk_free_mb=900, config_version=1,
                                        ts=protocol.iso_ms(datetime.now(timezone.utc)))
        sent = publish(kiosk, protocol.status_topic(KIOSK), status, retain=True)
        row = (f"return Array.from(document.querySelectorAll('#live-fleet tr')).some("
               f"r => r.cells[0] && r.cells[0].textContent === '{KIOSK}' && r.cells[4].textContent === '7')")
        seen = wait_for(driver, row, True, 10)
        assert seen is not None and seen - sent < LIVE_WITHIN_S, "fleet page not refreshed in time"
        measured["fleet_s"] = round(seen - sent, 3)
        (ARTIFACTS / web.engine / "live-latency.json").write_text(json.dumps(measured) + "\n")
        screenshot(driver, ARTIFACTS / web.engine / "live-fleet-1280.png", 1280)
        for entry in driver.get_log("browser"):
            assert entry["level"] not in ("SEVERE", "ERROR"), entry
    finally:
        driver.quit()
        kiosk.loop_stop()
        kiosk.disconnect()
        for p in ingestors:
            p.close()

