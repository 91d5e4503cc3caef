"""A real sync agent whose publishes the broker refuses (over its per-kiosk rate, the shipped
kundpuls.conf's plugin with its limit cut) sends them again: every answer reaches the real
ingest exactly once (tests/test_broker_rate_limit.py has the broker side)."""

from __future__ import annotations

import logging
import random

import pytest

from kiosk.pushed import file_mapping
from kiosk.sync_agent import SyncAgent
from tests.sync.e2e import Central, Running, assert_same_everywhere, wait_until
from tests.test_broker_rate_limit import ShippedAsFixture, start_shipped

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_refused_answers_are_sent_again_and_reach_the_centre_once(tmp_path, broker_ca, make_kiosk, caplog):
    """A real sync agent on the shipped broker, its limit cut to 36,000 bytes at once and 45,000 a
    second (about 4 one-answer batches at once, each counting 8 KiB more than its payload, then 5
    a second): most of its 20 batches are refused (PUBACK 0x87) at first; it logs that once, keeps
    them unacked, sends them again, and the real ingest ends with every answer exactly once."""
    server, broker = start_shipped(tmp_path / "mosq", broker_ca, bytes_per_s=45_000, burst_bytes=36_000)
    adapter = ShippedAsFixture(broker)
    central = Central(tmp_path / "central", adapter, kiosks=("kiosk-a",))
    try:
        central.start_ingest()
        k = make_kiosk(adapter, "kiosk-a", batch_max_events=1, ack_timeout_s=2.0)
        k.record(20)
        agent = SyncAgent(k.cfg, k.store, base_mapping=file_mapping(k.cfg), rng=random.Random(1))
        with caplog.at_level(logging.INFO, logger="kundpuls.sync"), Running(agent):
            assert wait_until(lambda: k.store.outbox_depth() == 0, timeout=90), (agent.counters, central.ingest_log())
        assert agent.counters.refused > 0 and agent.counters.resent > 0, agent.counters
        assert assert_same_everywhere(central, "kiosk-a", k.store) == 20
        refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "broker refused" in r.getMessage()]
        assert len(refusals) == 1 and "Not authorized" in refusals[0] and "rate limit" in refusals[0], refusals
    finally:
        central.stop()
        server.stop()
