"""The real sync agent on the shipped broker, whose plugin refuses every subscription a kiosk does
not need (tests/test_broker_subscriptions.py): the agent's own three are granted, and the acks
the real ingest sends come back through them."""

from __future__ import annotations

import random

import pytest

from kiosk.pushed import file_mapping
from kiosk.sync_agent import SyncAgent
from server_sync import protocol as P
from tests.sync.e2e import SITE, Central, Running, assert_same_everywhere, wait_until
from tests.test_broker_rate_limit import ShippedAsFixture, start_shipped

pytestmark = pytest.mark.broker


def test_the_sync_agents_subscriptions_are_granted(tmp_path, broker_ca, make_kiosk):
    server, broker = start_shipped(tmp_path / "mosq", broker_ca)
    adapter = ShippedAsFixture(broker)
    central = Central(tmp_path / "central", adapter, kiosks=("kiosk-a",))
    try:
        central.start_ingest()
        k = make_kiosk(adapter, "kiosk-a")
        k.record(3)
        agent = SyncAgent(k.cfg, k.store, base_mapping=file_mapping(k.cfg), rng=random.Random(1))
        with Running(agent):
            assert wait_until(lambda: k.store.outbox_depth() == 0, timeout=30), (agent.counters, central.ingest_log())
        assert assert_same_everywhere(central, "kiosk-a", k.store) == 3
        log = (broker["dir"] / "mosquitto.log").read_text(errors="replace")
        for topic in (P.ack_topic("kiosk-a"), P.config_topic("kiosk-a"), P.alerts_topic(SITE)):
            assert f"kiosk-a 1 {topic}" in log, log[-3000:]          # log_type subscribe: granted
        assert "kundpuls_ratelimit: subscription" not in log, log[-3000:]
    finally:
        central.stop()
        server.stop()
