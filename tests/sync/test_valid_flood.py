"""No kiosk may hurt another, with valid answers too: kiosk-a, with its own credential, publishes
full-size valid batches (just under 1 MiB, about 2,800 new answers each) as fast as it can,
through the shipped broker (its config and its per-kiosk limit plugin, as shipped) to the real
ingest, while kiosk-b sends one answer at a time and waits for the centre's ack.

Before, both limits counted messages (1,000 at once, 50 a second): 300 full batches were all
taken, each costing the centre 50-70 ms, and kiosk-b's answer waited behind them in the broker's
queue (46 s in this test, 25 s in a review). Both now count bytes: the broker takes kiosk-a's
burst (20 of them) and refuses the rest (tests/test_broker_rate_limit.py has the broker alone)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from server_sync import protocol
from tests.sync.e2e import SITE, Central, wait_until
from tests.test_broker_rate_limit import FLOOD_DELAY_BOUND_S, ShippedAsFixture, start_shipped
from tests.test_firmware_mosquitto import PASSWORDS, Peer

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FLOOD_BATCHES = 300
BOOT = "22222222-2222-4222-8222-222222222222"
MARK = "ffffffff"                    # in every id of the template: a batch's number replaces it


def answer(kiosk: str, seq: int, event_id: str, at: datetime) -> dict:
    return {"type": "response", "id": event_id, "seq": seq, "kiosk_id": kiosk, "site_id": SITE,
            "question_id": "visit", "question_version": 1, "scale": "smiley4", "value": 1 + seq % 4,
            "audience": "customer", "language": "sv", "recorded_at": protocol.iso_ms(at),
            "clock_synced": True, "boot_id": BOOT, "monotonic_ns": 10**9 + seq * 10**6, "filtered": None}


def full_batch_template(kiosk: str) -> tuple[bytes, int]:
    """(payload, answers): a batch of as many answers as fit in the protocol's largest payload,
    every id and the batch id holding MARK, so that replacing it makes a new batch of new answers
    (in 1 ms instead of 15 ms of encoding)."""
    t0 = datetime.now(timezone.utc) - timedelta(days=2)
    events: list[dict] = []
    while True:
        n = len(events) + 1
        events.append(answer(kiosk, n, f"{MARK}-0000-4000-8000-{n:012x}", t0 + timedelta(milliseconds=n)))
        if n % 100 == 0 and len(protocol.encode_batch(kiosk, f"flood-{MARK}", events)) > protocol.DEFAULT_MAX_BYTES:
            break
    while len(payload := protocol.encode_batch(kiosk, f"flood-{MARK}", events)) > protocol.DEFAULT_MAX_BYTES:
        events.pop()
    assert payload.count(MARK.encode()) == len(events) + 1
    return payload, len(events)


class Prober:
    """kiosk-b: a one-answer batch, then the seconds until the centre's ack for it arrives."""

    def __init__(self, broker: dict) -> None:
        self.peer = Peer(broker, "kiosk-b", PASSWORDS["kiosk-b"])
        self.peer.subscribe(protocol.ack_topic("kiosk-b"))
        self.seq = 0
        self.t0 = datetime.now(timezone.utc) - timedelta(hours=1)

    def latency(self, timeout: float = 120.0) -> float:
        self.seq += 1
        batch_id = f"probe-{self.seq}"
        acked = lambda: any(protocol.decode_ack(m.payload).batch_id == batch_id for m in self.peer.messages)  # noqa: E731
        start = time.monotonic()
        self.peer.c.publish(protocol.events_topic("kiosk-b"), protocol.encode_batch(
            "kiosk-b", batch_id, [answer("kiosk-b", self.seq, str(uuid.uuid4()), self.t0)]), qos=1)
        with self.peer.arrived:
            assert self.peer.arrived.wait_for(acked, timeout), f"no ack for {batch_id}"
        return time.monotonic() - start


def test_a_kiosk_flooding_full_valid_batches_does_not_delay_another_kiosks_acks(tmp_path, broker_ca):
    """kiosk-a publishes 300 full batches of new answers at once (its own credential, its own
    topic, every one valid); kiosk-b's answers are acked within FLOOD_DELAY_BOUND_S of their
    usual time all the while and after. The broker takes kiosk-a's burst and refuses the rest
    (PUBACK 0x87, so they stay with kiosk-a, which would send them again); what it took is
    stored, nothing else."""
    server, broker = start_shipped(tmp_path / "mosq", broker_ca)
    central = Central(tmp_path / "central", ShippedAsFixture(broker), kiosks=("kiosk-a", "kiosk-b"))
    b = flooder = None
    try:
        central.start_ingest()
        b = Prober(broker)
        baseline = max(b.latency() for _ in range(5))
        template, per_batch = full_batch_template("kiosk-a")
        flooder = Peer(broker, "kiosk-a", PASSWORDS["kiosk-a"])

        def flood() -> None:
            for i in range(FLOOD_BATCHES):
                flooder.c.publish(protocol.events_topic("kiosk-a"), template.replace(MARK.encode(), b"%08x" % i), qos=1)
        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        answered = lambda: len(flooder.pubacks) == FLOOD_BATCHES  # noqa: E731
        during = []
        while not answered() or len(during) < 3:
            during.append(b.latency())
            time.sleep(0.2)
        after = [b.latency() for _ in range(3)]
        refused = sum(1 for rc in flooder.pubacks.values() if rc.is_failure)
        taken = FLOOD_BATCHES - refused
        print(f"baseline {baseline:.2f} s; kiosk-b during kiosk-a's flood {[round(x, 2) for x in during]}, "
              f"after {[round(x, 2) for x in after]}; {refused} of {FLOOD_BATCHES} refused by the broker")
        assert max(during + after) <= baseline + FLOOD_DELAY_BOUND_S, (baseline, during, after)
        assert refused >= FLOOD_BATCHES * 0.8, refused
        assert wait_until(lambda: central.count("kiosk-a") == taken * per_batch, 60), \
            (central.count("kiosk-a"), taken, central.ingest_log())
        assert all(str(rc) == "Not authorized" for rc in flooder.pubacks.values() if rc.is_failure)
    finally:
        for peer in (flooder, b and b.peer):
            if peer is not None:
                peer.close()
        central.stop()
        server.stop()
