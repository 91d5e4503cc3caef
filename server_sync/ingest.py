"""Central ingest: MQTT messages from kiosks into the central store, then the `ack` back.

Two layers:
- `Ingest.handle(topic, payload, retained)`: one message -> store writes (through
  `central.intake.Intake`, committed) -> the messages to publish back. No sockets; tested directly.
  Anything that does not follow the contract is dead-lettered with its reason, never raised.
  `Ingest.commit_group(...)`: the same for several decoded messages in ONE transaction (group
  commit: one durable commit instead of one per message), each in its own savepoint. A batch
  refused for events that can never pass gets an ack naming them in `rejected`, so the kiosk
  stops sending them (docs/sync.md).
- `IngestService`: the thin paho-mqtt 2.x (MQTT 5) shell. Subscribes through the shared
  subscription `$share/GROUP/…/kiosk/+/events` (N ingestors side by side; GROUP is derived from
  the centre's broker password, `share_group`) and to every kiosk's status; `manual_ack=True`: a message is acknowledged to the broker only AFTER its database
  commit, so a crashed ingestor leaves it with the broker (persistent session, redelivered).
  The network thread only queues, into a bounded inbox (server_sync/ingest_inbox.py: a flood
  makes it wait, and the broker with it, instead of growing memory; answers beyond a kiosk's
  rate are not taken, its statuses are coalesced to the newest instead); the worker decodes
  everything already queued (up to MAX_GROUP_EVENTS), commits it as one group, then acks every
  message of the group and publishes each kiosk's `ack`.

Must never: ack a message before its commit, crash on a bad message, or let one kiosk's
message write another kiosk's data.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import ssl
import dataclasses
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Sequence

from peewee import Database

from server_sync import protocol
from server_sync.protocol.codec import printable, short
from server_sync.log_throttle import PerKeyThrottle
from server_sync.mqtt_properties import PUBLISH_PROPERTIES_MAX_BYTES, guard_publish_properties, skipped_bytes
from server_sync.central.db import DATABASE_DOWN, reconnect
from server_sync.central.dialect import in_one_line, lost_a_race, root_driver_error
from server_sync.central.intake import Accepted, Intake, kiosk_lock, utc_now
from server_sync.central.registry import KioskDeactivated
from server_sync.exc import ProtocolError, StoredSettingError
from server_sync.ingest_inbox import INBOX_MAX_BYTES, INBOX_MAX_MESSAGES, Inbox, KioskRates

log = logging.getLogger("kundpuls.ingest")

# After a commit: (db, site_ids whose answers changed, now, ingest's topic prefix) -> messages to
# publish (topic, payload; topics under that prefix). The real-time alert rule plugs in here (see
# server_sync/commands/ingest.py AFTER_COMMIT_HOOKS).
AfterCommitHook = Callable[[Database, "set[str]", datetime, str], "Iterable[tuple[str, bytes]]"]


RETAINED_EVENTS = ("retained events message: answers are never published retained (the broker would hand them "
                   "to every ingest start again); cleared on the broker")
# A kiosk's refused messages: a warning at most this often per kiosk (the counters line and
# dead_letter_count have every one). A broker publishes a Last Will past its rate limit: a kiosk
# reconnecting in a loop with a refused will made ~340 warnings a second.
DEAD_LETTER_LOG_EVERY_S = 60.0

MAX_GROUP_EVENTS = 5000         # group commit: events per transaction at most (10 full batches)
# Messages of one kiosk in one group at most: the inbox is taken round-robin across kiosks, and a
# kiosk's flood fills a group only up to this, so another kiosk's message waits one short group.
MAX_GROUP_PER_KIOSK = 200
CONNECT_FAIL_LOG_EVERY_S = 10.0  # broker unreachable: a warning at most this often (paho retries 1-30 s)
COUNTERS_HEARTBEAT_S = 3600.0    # the counters are logged when they change, and at least this often
INBOX_FULL_LOG_EVERY_S = 60.0    # paho's thread waited for room in the inbox: a warning at most this often


@dataclass
class Outcome:
    """What handling one message did and what to publish once the broker has its PUBACK."""
    kind: str                                  # batch | status | dead_letter | dropped | ignored
    publish: list[tuple[str, bytes]] = field(default_factory=list)
    accepted: Accepted | None = None
    reason: str | None = None
    rejected: int = 0                          # events named back to their kiosk as refused
    clear_retained: str | None = None          # a topic whose retained message the broker must forget

    @property
    def changed_sites(self) -> set[str]:
        return self.accepted.changed_sites if self.accepted else set()


@dataclass(frozen=True)
class Decoded:
    """A message checked against the contract: a batch, a status, or the reason it is refused
    (with, for a sound envelope whose events are refused for good, the batch id and the seqs to
    name in the ack's `rejected`)."""
    topic: str
    now: datetime
    kiosk_id: str | None
    batch: protocol.Batch | None = None
    status: protocol.Status | None = None
    reason: str | None = None
    refused: protocol.EventsRefused | None = None
    ignored: bool = False                       # an empty message: a retained message cleared
    clear_retained: bool = False                # a retained events message: refused, and cleared


def _superseded(messages: Sequence[tuple[Decoded, bytes, bool]]) -> set[int]:
    """The statuses of a group that a later full status of the same kiosk replaces anyway: only
    the newest per kiosk is written (a kiosk publishing thousands of statuses would otherwise
    update its `kiosk_status` row thousands of times in one transaction). Only a live, full
    status replaces: a Last Will keeps what the status before it said, and a retained one (old
    news replayed at subscribe) keeps the last-seen time; those and the ones before them are
    written as they come."""
    out: set[int] = set()
    replaced: set[str] = set()                  # kiosks with a later full, live status
    for i in range(len(messages) - 1, -1, -1):
        d, _payload, retained = messages[i]
        if d.status is None or d.reason is not None or d.kiosk_id is None:
            continue
        if d.kiosk_id in replaced:
            out.add(i)
        elif not retained and not _is_will(d.status):
            replaced.add(d.kiosk_id)
    return out


def _is_will(status: protocol.Status) -> bool:
    """A Last Will: offline, with no time of its own (the broker publishes it for the kiosk)."""
    return not status.online and status.ts is None


def _for_log(topic: str) -> str:
    """A topic as a log line shows it: a hostile one (a 5000-character kiosk id) cut short."""
    return printable(topic) if len(topic) <= 120 else short(topic)


class Ingest:
    """Turns one MQTT message into committed store writes and the replies to publish."""

    def __init__(self, db: Database, *, prefix: str = "", clock: Callable[[], datetime] = utc_now,
                 max_bytes: int = protocol.DEFAULT_MAX_BYTES,
                 hooks: Sequence[AfterCommitHook] = (),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.prefix = prefix
        self.clock = clock
        self._dead_letter_lines = PerKeyThrottle(DEAD_LETTER_LOG_EVERY_S, monotonic)
        self.max_bytes = max_bytes
        self.hooks = list(hooks)
        self.intake = Intake(db, clock)
        # The database down, or a race lost with another writer (deadlock, serialization
        # failure: dialect.lost_a_race, retried at once): never dead-lettered, the group is retried.
        self.retry = DATABASE_DOWN

    def commit_group(self, messages: Sequence[tuple[Decoded, bytes, bool]]) -> list[Outcome]:
        """Group commit: store several decoded messages (decoded, payload, retained) in ONE
        transaction, each in its own savepoint (a refused one is dead-lettered while the others
        go in), and commit once. Nothing of the group is committed if this raises (`retry` errors:
        database down, deadlock), so the caller acks nothing and retries the whole group. A status
        that a later one of the same kiosk in the group replaces is not written (`_superseded`)."""
        locks = []
        for d, _payload, _retained in messages:
            if d.reason is None and not d.ignored and d.kiosk_id is not None:
                locks.append(kiosk_lock(d.kiosk_id) if d.batch is not None else f"status:{d.kiosk_id}")
        superseded = _superseded(messages)
        with self.intake.group(locks):
            return [Outcome("status") if i in superseded else self.commit(d, payload, retained)
                    for i, (d, payload, retained) in enumerate(messages)]

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> Outcome:
        """Commit what `payload` carries. Database outages raise (the caller retries); any
        other fault ends in the dead-letter table with its reason."""
        return self.commit(self.decode(topic, payload, retained), payload, retained)

    def decode(self, topic: str, payload: bytes, retained: bool = False) -> Decoded:
        """Check a message against the contract, without the database. Never raises."""
        now = self.clock()
        kiosk_id = None
        try:
            kiosk_id, kind = protocol.parse_kiosk_topic(topic, self.prefix)
            if kind in ("events", "status") and not payload:
                # `mosquitto_pub -r -n`: the standard way to clear a retained message (a status,
                # or the events the ingest clears below); the broker passes the empty message
                # on. Not an error, and not the kiosk's.
                return Decoded(topic, now, kiosk_id, ignored=True)
            if kind == "events" and retained:
                # A kiosk may publish its events retained (the ACL cannot refuse the flag): the
                # broker would hand the batch to the ingest again at every start. Its answers
                # went in when it was published, if an ingest ran; else the kiosk, never acked,
                # sends them again. Refused, and cleared on the broker.
                return Decoded(topic, now, kiosk_id, reason=RETAINED_EVENTS, clear_retained=True)
            if kind == "events":
                return Decoded(topic, now, kiosk_id, batch=protocol.decode_batch(
                    topic, payload, now=now, max_bytes=self.max_bytes, prefix=self.prefix))
            if kind == "status":
                return Decoded(topic, now, kiosk_id, status=protocol.decode_status(payload))
            raise ProtocolError(f"ingest does not take {kind!r} messages (topic {topic[:200]!r})")
        except protocol.EventsRefused as e:
            return Decoded(topic, now, kiosk_id, reason=e.reason, refused=e)
        except ProtocolError as e:
            return Decoded(topic, now, kiosk_id, reason=e.reason)
        except Exception as e:          # a bug must not stop the fleet's ingest; the kiosk re-sends
            log.exception("internal error decoding %s", _for_log(topic))
            return Decoded(topic, now, kiosk_id, reason=f"internal error: {type(e).__name__}: {e}")

    def commit(self, d: Decoded, payload: bytes, retained: bool = False) -> Outcome:
        """Store a decoded message (or dead-letter it) and say what to publish back. Events
        refused for good are named in an ack's `rejected`, so their kiosk stops sending them;
        any other refusal gets no ack (the kiosk sends it again later: fixing the registration,
        say, lets it through)."""
        if d.ignored:
            log.debug("ignored an empty message on %s (a retained message cleared)", _for_log(d.topic))
            return Outcome("ignored")
        reason, refused = d.reason, d.refused
        clear = d.topic if d.clear_retained else None
        keep = True                     # a deactivated kiosk's messages are only counted
        if reason is None:
            try:
                if d.batch is not None:
                    accepted = self.intake.accept(d.batch, d.now)
                    ack = (protocol.ack_topic(d.kiosk_id, self.prefix),
                           protocol.encode_ack(d.batch.batch_id, accepted.seqs))
                    return Outcome("batch", [ack], accepted=accepted)
                self.intake.record_status(d.kiosk_id, d.status, retained=retained, received_at=d.now)
                return Outcome("status")
            except protocol.EventsRefused as e:
                reason, refused = e.reason, e
            except KioskDeactivated as e:
                reason, keep = e.reason, False
            except ProtocolError as e:
                reason = e.reason
            except StoredSettingError as e:
                # A setting of the centre edited by hand, e.g. the time zone of the kiosk's site
                # that its answers are counted in: the centre's fault, not the message's. Retrying
                # would hold up every kiosk behind it, storing would count the answers into the
                # wrong days. Dead-lettered in one line that says what to fix (its neighbours in
                # the group commit), with no ack, and not named `rejected`: the kiosk keeps the
                # answers and sends them again, and they go in once the setting is right.
                reason = str(e)
            except self.retry:
                raise
            except Exception as e:      # as above: dead-letter, keep going
                log.exception("internal error on %s", _for_log(d.topic))
                reason = f"internal error: {type(e).__name__}: {e}"
        self._say_dead_lettered(d, reason)
        try:
            self.intake.dead_letter(d.topic, reason, payload, d.kiosk_id, d.now, keep=keep)
        except self.retry:
            raise
        except Exception:
            # Even the dead letter failed (its savepoint is rolled back; the group goes on). The
            # same row would fail again on every redelivery and hold up every kiosk: drop it,
            # acked, with the message's topic and reason in the log.
            log.exception("could not dead-letter %s (%s); acknowledged and dropped",
                          _for_log(d.topic), printable(reason, 500))
            return Outcome("dropped", reason=reason, clear_retained=clear)
        publish = []
        if refused is not None and refused.seqs and d.kiosk_id is not None:
            # The envelope was sound, so the kiosk id is the topic's (the broker let only that
            # kiosk publish there): its ack topic is the one to tell.
            publish.append((protocol.ack_topic(d.kiosk_id, self.prefix),
                            protocol.encode_ack(refused.batch_id, (), rejected=[(refused.seqs, reason)])))
        return Outcome("dead_letter", publish, reason=reason, rejected=len(refused.seqs) if publish else 0,
                       clear_retained=clear)

    def _say_dead_lettered(self, d: Decoded, reason: str) -> None:
        """A warning per refused message, at most one per kiosk every DEAD_LETTER_LOG_EVERY_S."""
        left_out = self._dead_letter_lines.admit(d.kiosk_id or "")
        if left_out is None:
            return
        since = (f" (kiosk {printable(d.kiosk_id or '?', 80)}: {left_out} more dead-lettered since its last such "
                 "line, not logged)" if left_out else "")
        log.warning("dead-lettered %s: %s%s", _for_log(d.topic), printable(reason, 500), since)

    def after_commit(self, site_ids: set[str]) -> list[tuple[str, bytes]]:
        """Run the hooks for sites whose answers changed; a failing hook is logged, not fatal."""
        out: list[tuple[str, bytes]] = []
        if not site_ids:
            return out
        now = self.clock()
        for hook in self.hooks:
            try:
                out.extend(hook(self.db, set(site_ids), now, self.prefix) or ())
            except DATABASE_DOWN:
                log.warning("after-commit hook %s: database unavailable", getattr(hook, "__name__", hook))
            except Exception:
                log.exception("after-commit hook %s failed", getattr(hook, "__name__", hook))
        return out


# ---------------------------------------------------------------------------------------------
# The MQTT shell

@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int = 8883
    tls: bool = True
    ca_file: str | None = None
    username: str | None = "central"
    password: str | None = None
    client_id: str = "kundpuls-ingest"
    keepalive_s: int = 30
    # The broker keeps a crashed ingestor's session (and queues its share) this long: enough for a
    # restart to pick up what it had not acknowledged, short enough that a host that never comes
    # back stops being handed batches. A clean stop ends the session at once (leave_properties).
    session_expiry_s: int = 3600
    receive_maximum: int = 64                   # unacked messages the broker may hand us at once
    share_group: str = "ingest"                 # see share_group(); derived from the password


def share_group(password: str | None) -> str:
    """The name of the ingestors' share group: derived from the centre's broker password, which
    every ingestor has and no kiosk has.

    mosquitto 2.0's `acl_file` never checks a SUBSCRIBE (the read ACL applies only when a message
    is delivered), so a kiosk credential may join any share group it can name; joined to the
    ingest's, it would be handed its share of every kiosk's batches and the broker would drop
    them at delivery (the kiosk may not read them), never acked. A group name no kiosk can guess
    keeps it out: a capability, not an ACL (docs/deployment.md says what the broker enforces).
    Without a password (a laptop demo without TLS) the group is plain `ingest`."""
    if not password:
        return "ingest"
    digest = hmac.new(password.encode("utf-8"), b"kundpuls/v1 ingest share group", hashlib.sha256)
    return "ingest-" + digest.hexdigest()[:32]


def make_client(settings: BrokerSettings, *, manual_ack: bool = True):
    """A configured, not yet connected paho MQTT 5 client, which skips a received PUBLISH's
    property block larger than Kundpuls uses, unread (server_sync/mqtt_properties.py)."""
    import paho.mqtt.client as mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                         protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    guard_publish_properties(client)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls:
        client.tls_set(ca_certs=settings.ca_file or None, cert_reqs=ssl.CERT_REQUIRED,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.reconnect_delay_set(1, 30)
    return client


def connect_properties(settings: BrokerSettings):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.session_expiry_s
    props.ReceiveMaximum = settings.receive_maximum
    return props


def leave_properties():
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    props = Properties(PacketTypes.DISCONNECT)
    props.SessionExpiryInterval = 0
    return props


@dataclass
class Counters:
    messages: int = 0
    commits: int = 0                # group commits: messages / commits = the mean group size
    new: int = 0
    duplicates: int = 0
    conflicts: int = 0
    corrected: int = 0
    dead_letters: int = 0
    rejected: int = 0               # events of dead-lettered batches named back to their kiosk
    statuses: int = 0
    dropped: int = 0                # could not even be dead-lettered: acked, and logged
    over_rate: int = 0              # over their kiosk's rate, not taken (paho's thread counts them)
    coalesced: int = 0              # statuses a newer one of their kiosk replaced before their group (paho's thread)
    properties_skipped: int = 0     # messages whose MQTT property block was too large to read (paho's thread)

    def add(self, outcome: Outcome) -> None:
        if outcome.kind == "ignored":
            return
        self.messages += 1
        if outcome.kind == "dropped":
            self.dropped += 1
        elif outcome.kind == "dead_letter":
            self.dead_letters += 1
            self.rejected += outcome.rejected
        elif outcome.kind == "status":
            self.statuses += 1
        elif outcome.accepted:
            a = outcome.accepted
            self.new += a.new
            self.duplicates += a.duplicates
            self.conflicts += a.conflicts
            self.corrected += a.corrected

    def line(self) -> str:
        return (f"{self.messages} messages in {self.commits} commits: {self.new} new, {self.duplicates} duplicates, "
                f"{self.conflicts} conflicts, {self.corrected} corrected, {self.dead_letters} dead-lettered"
                f" ({self.rejected} events rejected back to their kiosk)"
                + (f", {self.dropped} dropped (see the log)" if self.dropped else "")
                + (f", {self.over_rate} over their kiosk's rate not taken" if self.over_rate else "")
                + (f", {self.coalesced} statuses replaced by a newer one before written" if self.coalesced else "")
                + (f", {self.properties_skipped} with MQTT properties skipped unread"
                   if self.properties_skipped else ""))


class IngestService:
    """Runs `Ingest` on a paho client until `stop` is set (SIGTERM)."""

    def __init__(self, ingest: Ingest, client, settings: BrokerSettings, *, notifier=None,
                 reconnect_db: Callable[[], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic, status_every_s: float = 10.0,
                 max_group_events: int = MAX_GROUP_EVENTS, inbox_messages: int = INBOX_MAX_MESSAGES,
                 inbox_bytes: int = INBOX_MAX_BYTES, max_group_per_kiosk: int = MAX_GROUP_PER_KIOSK,
                 rates: KioskRates | None = None) -> None:
        self.ingest = ingest
        self.client = client
        self.settings = settings
        self.notifier = notifier
        self.reconnect_db = reconnect_db or self._reconnect_db
        self.counters = Counters()
        # Bounded (server_sync/ingest_inbox.py): a QoS 0 flood blocks paho's thread, not memory.
        self._inbox: Inbox[tuple[int, object]] = Inbox(inbox_messages, inbox_bytes)
        self._generation = 0                    # bumped per connection: acks never cross sessions
        self._subscribed = threading.Event()
        self._stopping = False
        self._mono = monotonic
        self._status_every = status_every_s
        self._max_group_events = max_group_events
        self._max_group_per_kiosk = max_group_per_kiosk
        # One line at most every INBOX_FULL_LOG_EVERY_S for each of these, whichever kiosk caused it.
        self._inbox_full_lines = PerKeyThrottle(INBOX_FULL_LOG_EVERY_S, monotonic)
        self._over_rate_lines = PerKeyThrottle(INBOX_FULL_LOG_EVERY_S, monotonic)
        self._skipped_properties_lines = PerKeyThrottle(DEAD_LETTER_LOG_EVERY_S, monotonic)
        self._rates = rates or KioskRates(clock=monotonic)
        self._failed_connects = 0               # in a row, since the last successful CONNACK
        self._failed_unlogged = 0
        self._fail_logged_at: float | None = None
        self._connect_error: BaseException | None = None
        self._refused: str | None = None        # why the broker refused the last CONNECT
        self._logged_line: str | None = None    # the counters as last logged, and when
        self._logged_at: float | None = None
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        self._catch_connect_errors(client)
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe

    # paho callbacks (network thread): hand over only; the work happens in run()'s thread.

    def _catch_connect_errors(self, client) -> None:
        """paho's network thread calls `reconnect()` and, when it raises, `on_connect_fail`
        without the error; keep the error so the warning can say what went wrong."""
        reconnect = client.reconnect

        def reconnect_keeping_the_error(*args, **kwargs):
            try:
                return reconnect(*args, **kwargs)
            except OSError as e:            # refused, unreachable, DNS, TLS: paho retries
                self._connect_error = e
                raise
        client.reconnect = reconnect_keeping_the_error

    def _on_connect_fail(self, client, userdata) -> None:
        """The broker could not be reached: a warning for the first failed attempt, then at most
        one every CONNECT_FAIL_LOG_EVERY_S with the attempts in between (paho retries every
        1 to 30 s, and an operator must see why nothing is ingested)."""
        self._failed_connects += 1
        self._failed_unlogged += 1
        now = self._mono()
        if self._fail_logged_at is not None and now - self._fail_logged_at < CONNECT_FAIL_LOG_EVERY_S:
            return
        error = self._connect_error
        why = f"{type(error).__name__}: {error}" if error is not None else "no connection"
        since = (f"; {self._failed_unlogged} attempts since the last message"
                 if self._fail_logged_at is not None and self._failed_unlogged > 1 else "")
        log.warning("cannot connect to the broker at %s:%d (%s), attempt %d%s; retrying",
                    self.settings.host, self.settings.port, why, self._failed_connects, since)
        self._fail_logged_at = now
        self._failed_unlogged = 0

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            # paho tries again (and reports the drop that follows as "Protocol error"): say the
            # real reason once, until it changes or a connection gets through.
            said = str(reason_code)
            if said != self._refused:
                hint = (": check --username/--password-file (the broker user and its password)"
                        if said in ("Not authorized", "Bad user name or password") else "")
                log.error("broker %s:%d refused the connection: %s%s; retrying", self.settings.host,
                          self.settings.port, said.lower() if hint else said, hint)
            self._refused = said
            return
        self._refused = None
        if self._failed_connects:
            log.info("reached the broker after %d failed attempt(s)", self._failed_connects)
        self._failed_connects = self._failed_unlogged = 0
        self._fail_logged_at = None
        self._generation += 1
        from paho.mqtt.subscribeoptions import SubscribeOptions
        prefix = self.ingest.prefix
        client.subscribe([(protocol.shared_events_subscription(prefix, self.settings.share_group),
                           SubscribeOptions(qos=1)),
                          (protocol.status_subscription(prefix), SubscribeOptions(qos=1))])
        log.info("connected to %s:%d as %s (session present: %s)", self.settings.host,
                 self.settings.port, self.settings.client_id, flags.session_present)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("the broker refused a subscription: %s", ", ".join(refused))
            return
        # The group's name is a secret of the centre's (share_group): not in the journal.
        log.info("subscribed to %s and %s", protocol.shared_events_subscription(self.ingest.prefix, "GROUP"),
                 protocol.status_subscription(self.ingest.prefix))
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._stopping:
            log.info("disconnected from the broker")
        elif self._refused is not None:
            log.debug("disconnected after the refusal (%s)", reason_code)
        else:
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        # Hand over only. Decoding here, beside the worker's inserts, was measured slower: each
        # row sqlite3 steps releases the GIL, and getting it back from a thread busy decoding
        # costs a switch interval (a GIL convoy: measured 44 instead of 21 us per inserted row).
        kiosk, kind = self._route(message.topic)
        skipped = skipped_bytes(message.properties)
        if skipped:
            self._properties_skipped(kiosk, skipped)
        blocked = self._inbox.blocked
        if kind == "status":
            self._coalesce_status(message, kiosk)
        elif self._rates.allow(kiosk, len(message.payload)):
            self._inbox.put((self._generation, message), _bytes_of(message), kiosk)
        else:
            self._over_rate(message, kiosk)
        if self._inbox.blocked != blocked:
            self._say_inbox_full()

    def _coalesce_status(self, message, kiosk: str) -> None:
        """A status never meets the kiosk's rate: an over-rate answer comes again from the kiosk's
        outbox, a status does not (the broker publishes a Last Will once, for a kiosk that is
        gone), and dropping it left a dead kiosk shown online. Exempting statuses is safe because
        they are coalesced instead: the inbox keeps each kiosk's newest STATUSES_KEPT_PER_KIOSK
        (server_sync/ingest_inbox.py) and hands them to the worker once per group, so a kiosk
        flooding statuses costs at most two status writes a group, and the ones it pushes out
        cost an ack here (no decoding, no write); what is held counts against the inbox's
        bounds like any message. A status pushed out is acknowledged to the broker unwritten:
        the kiosk_status row keeps only the newest status anyway (and a will, the counts of the
        one before it, which is why two are kept)."""
        pushed_out = self._inbox.put_latest((self._generation, message), _bytes_of(message), kiosk)
        for generation, old in pushed_out or ():
            # From an earlier connection: its mid may name another message now (the broker
            # redelivers it instead, and it is coalesced again).
            if old.qos > 0 and generation == self._generation:
                self.client.ack(old.mid, old.qos)
            self.counters.coalesced += 1        # written by this thread only

    def _over_rate(self, message, kiosk: str) -> None:
        """A message over its kiosk's rate (`KioskRates`), not taken: acknowledged to the broker
        (this is its own connection's message, in paho's thread), never to the kiosk, which sends
        its answers again after its ack timeout. A warning at most every INBOX_FULL_LOG_EVERY_S."""
        if message.qos > 0:
            self.client.ack(message.mid, message.qos)
        self.counters.over_rate += 1            # written by this thread only
        if self._over_rate_lines.admit("") is not None:
            r = self._rates
            log.warning("kiosk %s sends more than %g bytes a second (burst %d bytes, %d more a message) or "
                        "%d a day: %d message(s) over the rate not taken so far (its answers are sent again)",
                        printable(kiosk or "?", 80), r.bytes_per_s, r.burst_bytes, r.message_bytes, r.day_bytes,
                        self.counters.over_rate)

    def _properties_skipped(self, kiosk: str, length: int) -> None:
        """A message came with an MQTT property block too large to read (make_client skipped it,
        server_sync/mqtt_properties.py): it is handled without it. Kundpuls sends none, so this is
        a hostile or broken client (the shipped broker drops a kiosk's properties except a Last
        Will's). A warning at most every DEAD_LETTER_LOG_EVERY_S per kiosk."""
        self.counters.properties_skipped += 1   # written by this thread only
        left_out = self._skipped_properties_lines.admit(kiosk)
        if left_out is not None:
            log.warning("kiosk %s sent a message with %d bytes of MQTT properties (Kundpuls sends none; at most %d "
                        "are read): handled without them%s", printable(kiosk or "?", 80), length,
                        PUBLISH_PROPERTIES_MAX_BYTES, f" ({left_out} more since the last warning)" if left_out else "")

    def _route(self, topic: str) -> tuple[str, str]:
        """(kiosk, kind) of a topic: whose turn the message takes in the inbox (the broker lets a
        kiosk publish only under its own id) and whether it is a status; ("", "") for a topic
        that names none (it is refused by the worker)."""
        try:
            return protocol.parse_kiosk_topic(topic, self.ingest.prefix)
        except ProtocolError:
            return "", ""

    def _say_inbox_full(self) -> None:
        """A warning, at most every INBOX_FULL_LOG_EVERY_S, that paho's thread had to wait for
        room: a flood (QoS 0, or many kiosks at once) or a slow database."""
        if self._inbox_full_lines.admit("") is None:
            return
        log.warning("inbox full (%d messages or %d MiB held, %d waits so far): the broker waits until the "
                    "worker catches up", self._inbox.max_messages, self._inbox.max_bytes // (1024 * 1024),
                    self._inbox.blocked)

    # the worker loop

    def run(self, stop: threading.Event, connect_timeout_s: float | None = None) -> int:
        s = self.settings
        self.client.connect_async(s.host, s.port, s.keepalive_s, clean_start=False,
                                  properties=connect_properties(s))
        self.client.loop_start()
        ready = False
        last_status = self._mono()
        deadline = None if connect_timeout_s is None else self._mono() + connect_timeout_s
        try:
            while not stop.is_set():
                self._ping()
                if not ready and self._subscribed.is_set():
                    ready = True
                    if self.notifier:
                        self.notifier.ready("ingesting")
                if not ready and deadline is not None and self._mono() > deadline:
                    log.error("could not connect to the broker at %s:%d", s.host, s.port)
                    return 1
                if self._mono() - last_status >= self._status_every:
                    last_status = self._mono()
                    self._report_counters(last_status)
                first = self._inbox.get(timeout=0.5)
                if first is None:
                    continue
                group = self._take_group(first)
                try:
                    self._process(group, stop)
                finally:
                    # Done with them (acked, or left to the broker when stopping): room again.
                    self._inbox.release(len(group), sum(_bytes_of(m) for _g, m, _d in group))
        finally:
            self._stopping = True
            self._inbox.close()                 # a put blocked in paho's thread must not hold up loop_stop
            if self.notifier:
                self.notifier.stopping()
            # A clean stop leaves the share group for good (session expiry 0 on DISCONNECT): a
            # stopped ingestor whose session lingered would keep getting its share of batches,
            # queued where no one reads them. A crash keeps the session, so the restarted
            # ingestor (same client id) gets back what it had not acknowledged.
            self.client.disconnect(properties=leave_properties())
            self.client.loop_stop()
            log.info("stopped; %s", self.counters.line())
        return 0

    def _report_counters(self, now: float) -> None:
        """The counters to systemd's status line every `status_every_s`; to the log only when
        they changed since the last line logged, or after COUNTERS_HEARTBEAT_S without change (an
        idle ingest must not write the same line 8,640 times a day)."""
        line = self.counters.line()
        if self.notifier:
            self.notifier.status(line)
        if line != self._logged_line or (self._logged_at is not None
                                          and now - self._logged_at >= COUNTERS_HEARTBEAT_S):
            log.info("%s", line)
            self._logged_line, self._logged_at = line, now

    def _take_group(self, first: tuple[tuple[int, object], int, str]) -> list[tuple[int, object, Decoded]]:
        """`first` and whatever else is already queued, up to `max_group_events` events and
        `max_group_per_kiosk` messages of each kiosk, taken round-robin across kiosks: the
        messages that arrived during the last commit share the next one, and one kiosk's flood
        cannot fill it. No waiting for more: an idle ingest commits a lone message at once."""
        taken: Counter[str] = Counter()
        full: set[str] = set()                  # kiosks whose share of this group is taken
        queued: tuple[tuple[int, object], int, str] | None = first
        group: list[tuple[int, object, Decoded]] = []
        events = 0
        while queued is not None:
            item, _size_bytes, kiosk = queued
            group.append(self._decoded(item))
            events += _size(group[-1][2])
            taken[kiosk] += 1
            if taken[kiosk] >= self._max_group_per_kiosk:
                full.add(kiosk)
            if events >= self._max_group_events:
                break
            queued = self._inbox.get_nowait(skip=full)
        return group

    def _decoded(self, item: tuple[int, object]) -> tuple[int, object, Decoded]:
        generation, message = item
        return generation, message, self.ingest.decode(message.topic, message.payload, bool(message.retain))

    def _process(self, group: list[tuple[int, object, Decoded]], stop: threading.Event) -> None:
        try:
            outcomes = self._commit_or_split(group, stop)
        except _Stopping:
            return                              # no ack, so the kiosk sends it again
        self._acknowledge(group, outcomes)

    def _commit_or_split(self, group: list[tuple[int, object, Decoded]],
                         stop: threading.Event) -> list[Outcome]:
        """The group's outcomes: committed as one, or, when that fails for good, one by one."""
        try:
            return self._commit(group, stop)
        except _Stopping:
            raise
        except Exception as e:
            return self._one_by_one(group, stop, e)

    def _commit(self, group: list[tuple[int, object, Decoded]], stop: threading.Event) -> list[Outcome]:
        """Commit the group, running it again while it loses races or the database is down;
        raises _Stopping when `stop` is set meanwhile, and any other error as it is."""
        delay = 0.5
        races = 0
        while True:
            # The watchdog is fed between attempts, here in the worker's thread: an outage may
            # last longer than WatchdogSec, each attempt does not (commands/ingest.py bounds its
            # lock waits), and a worker really stuck in one still stops pinging.
            self._ping()
            try:
                return self.ingest.commit_group(
                    [(decoded, message.payload, bool(message.retain)) for _g, message, decoded in group])
            except DATABASE_DOWN as e:
                if lost_a_race(e):
                    # Deadlock or serialization failure against another ingestor: the database
                    # rolled this group back; nothing was acked, so simply run it again.
                    races += 1
                    log.warning("group of %d messages lost a race with another writer (%s); retry %d",
                                len(group), in_one_line(root_driver_error(e)), races)
                    self._rollback()
                    if self._wait(stop, min(0.01 * races, 0.5)):
                        raise _Stopping
                    continue
                # One line an attempt (journald makes each line an entry), saying what failed first.
                log.error("database unavailable (%s); %d message(s) kept, retrying in %.1f s",
                          in_one_line(root_driver_error(e)), len(group), delay)
                if self._wait(stop, delay):
                    raise _Stopping
                delay = min(delay * 2, 30.0)
                self.reconnect_db()

    def _ping(self) -> None:
        if self.notifier:
            self.notifier.ping()

    def _wait(self, stop: threading.Event, seconds: float) -> bool:
        """stop.wait(seconds), the watchdog fed meanwhile: True when `stop` was set."""
        return self.notifier.wait(stop, seconds) if self.notifier else stop.wait(seconds)

    def _one_by_one(self, group: list[tuple[int, object, Decoded]], stop: threading.Event,
                    error: Exception) -> list[Outcome]:
        """The group failed with an error that retrying cannot cure (a bug, a value the database
        refuses): commit its messages one at a time, so only the one at fault is refused and the
        others, other kiosks' answers among them, go in. Never raises but _Stopping: one message
        must not stop the fleet's ingest (systemd would restart it into the same message)."""
        log.error("group of %d messages failed (%s: %s); committing them one by one", len(group),
                  type(error).__name__, printable(error, 300))
        self._rollback()
        outcomes = []
        for item in group:
            try:
                outcomes += self._commit([item], stop)
            except _Stopping:
                raise
            except Exception as e:
                self._rollback()
                outcomes.append(self._refuse_alone(item, e, stop))
        return outcomes

    def _refuse_alone(self, item: tuple[int, object, Decoded], error: Exception,
                      stop: threading.Event) -> Outcome:
        """Dead-letter the one message that failed on its own, with the error as its reason; if
        even that fails, drop it (it is acked) with a log line."""
        generation, message, decoded = item
        reason = printable(f"internal error: {type(error).__name__}: {error}", 500)
        log.error("%s failed on its own: %s", _for_log(message.topic), reason)
        refused = dataclasses.replace(decoded, reason=reason, batch=None, status=None, refused=None,
                                      ignored=False)
        try:
            return self._commit([(generation, message, refused)], stop)[0]
        except _Stopping:
            raise
        except Exception:
            self._rollback()
            log.exception("could not dead-letter %s; acknowledged and dropped", _for_log(message.topic))
            return Outcome("dropped", reason=reason)

    def _acknowledge(self, group: list[tuple[int, object, Decoded]], outcomes: list[Outcome]) -> None:
        """Ack the group's messages to the broker and publish what its outcomes say."""
        # Committed (or dead-lettered), all of the group at once: now, and only now, the broker
        # may forget these messages. A message from an earlier connection is not acked here: its
        # mid may name another message now; the broker redelivers it and the dedupe makes that
        # harmless.
        changed: set[str] = set()
        self.counters.commits += 1
        for (generation, message, _decoded), outcome in zip(group, outcomes):
            if message.qos > 0 and generation == self._generation:
                self.client.ack(message.mid, message.qos)
            for topic, payload in outcome.publish:
                self.client.publish(topic, payload, qos=1)
            if outcome.clear_retained:
                # An empty retained message makes the broker forget the retained one (it passes
                # the empty one on to us, and `decode` ignores it).
                self.client.publish(outcome.clear_retained, b"", qos=1, retain=True)
            self.counters.add(outcome)
            changed |= outcome.changed_sites
        for topic, payload in self.ingest.after_commit(changed):
            self.client.publish(topic, payload, qos=1)

    def _rollback(self) -> None:
        """Make sure no aborted transaction is left open on the connection (peewee normally
        rolled it back already when the exception left `atomic`)."""
        try:
            self.ingest.db.rollback()
        except Exception:               # nothing open, or the connection is gone (retried anyway)
            pass

    def _reconnect_db(self) -> None:
        # Not logged when it fails: the attempt that follows meets the same error and says it
        # (two ERROR lines an attempt with one text, before).
        reconnect(self.ingest.db)


class _Stopping(Exception):
    """`stop` was set while a group waited to be retried: it is left unacknowledged."""


def _bytes_of(message) -> int:
    """What a message weighs in the inbox: its payload and topic."""
    return len(message.payload) + len(message.topic)


def _size(decoded: Decoded) -> int:
    """Events a decoded message carries (1 for a status or a refused message)."""
    return len(decoded.batch.events) if decoded.batch is not None else 1
