"""A bound on the MQTT v5 property block of a PUBLISH that a centre's paho client reads.

paho (2.2.0) parses a property block in time quadratic in its number of properties
(`Properties.unpack` slices the rest of the buffer anew for each one), in its network thread,
before `on_message` sees the message. A PUBLISH may carry nearly `max_packet_size` of properties
(1 MiB): 40,000 empty User Properties took 4.8 s, 200,000 of them 160 s, and every other
message of that connection waited. Kundpuls sends none with a message: the kiosk's sync agent
publishes its batches, statuses and Last Will without properties, and the centre reads none. The
shipped broker's plugin drops the properties of every PUBLISH a kiosk or store bridge sends
(firmware_config/mosquitto/ratelimit/), but not a Last Will's, which mosquitto 2.0 never shows a
plugin; and a broker may lack the plugin. So a centre's client skips a block longer than
PUBLISH_PROPERTIES_MAX_BYTES whole, unread: the message is handled without properties, and
`skipped_bytes` says how long the block was (the ingest logs it).

Scoped to the clients given to `guard_publish_properties` (`make_client` does it for every
client of the centre's): paho builds a PUBLISH's `Properties` itself, so the check sits in
`Properties.unpack` for the whole process, but applies only in a thread inside `bounded()`,
which the guarded client's handling of a PUBLISH is; everywhere else paho's own parse runs.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from typing import Iterator

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.properties import Properties, VariableByteIntegers

# The most bytes of properties a PUBLISH may bring a centre's client and be read: Kundpuls sends
# none, a broker adds at most a few (a message expiry, subscription identifiers: tens of bytes),
# and none of the centre's clients reads them. paho takes about 2 ms for 1 KiB of empty User
# Properties (8 ms for 4 KiB, 23 times the ingest's whole work on a one-answer batch; 2 cores,
# 2026-12-07), so a block within the bound costs little more than the message.
PUBLISH_PROPERTIES_MAX_BYTES = 1024

# paho's own parse, for everything the bound does not apply to.
paho_unpack = getattr(Properties.unpack, "__wrapped__", Properties.unpack)

_SKIPPED = "_kundpuls_skipped_bytes"       # set on a Properties whose block was skipped
_bound = threading.local()                 # .max_bytes: the bound in this thread, or None
_install_lock = threading.Lock()


@functools.wraps(paho_unpack)
def _bounded_unpack(self: Properties, buffer) -> tuple[Properties, int]:
    """`Properties.unpack`: in a bounded thread, a PUBLISH's block over the bound is skipped.
    Returns as paho's does: the properties (none, here) and the bytes the block takes, its length
    prefix included, which is where the payload starts."""
    max_bytes = getattr(_bound, "max_bytes", None)
    if max_bytes is None or self.packetType != PacketTypes.PUBLISH:
        return paho_unpack(self, buffer)
    length, prefix = VariableByteIntegers.decode(buffer)
    if length <= max_bytes:
        return paho_unpack(self, buffer)
    if prefix + length > len(buffer):
        raise MalformedPacket("property block longer than its packet")
    self.clear()
    object.__setattr__(self, _SKIPPED, length)     # Properties' own __setattr__ takes property names only
    return self, prefix + length


def _install() -> None:
    with _install_lock:
        if Properties.unpack is not _bounded_unpack:
            Properties.unpack = _bounded_unpack


@contextmanager
def bounded(max_bytes: int = PUBLISH_PROPERTIES_MAX_BYTES) -> Iterator[None]:
    """In this thread, until the block ends: a PUBLISH's property block longer than `max_bytes`
    is skipped unread."""
    _install()
    outer = getattr(_bound, "max_bytes", None)
    _bound.max_bytes = max_bytes
    try:
        yield
    finally:
        _bound.max_bytes = outer


def skipped_bytes(properties: Properties | None) -> int:
    """The length of the property block skipped for these properties (a message's), 0 if read."""
    return getattr(properties, _SKIPPED, 0) if properties is not None else 0


def guard_publish_properties(client, max_bytes: int = PUBLISH_PROPERTIES_MAX_BYTES) -> None:
    """Make paho `client` (MQTT 5) skip the property block of a PUBLISH it receives when it is
    longer than `max_bytes`: its handling of each PUBLISH (decoding it and `on_message`, in its
    network thread) runs inside `bounded`."""
    handle = getattr(client, "_handle_publish", None)
    if handle is None:
        # paho's internals moved: fail at start-up rather than run unguarded.
        raise RuntimeError("paho-mqtt has no Client._handle_publish: server_sync/mqtt_properties.py needs updating")

    def handle_publish_bounded():
        with bounded(max_bytes):
            return handle()
    client._handle_publish = handle_publish_bounded
