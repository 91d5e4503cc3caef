"""The kiosk-side sync agent: drains the outbox of the kiosk database to the centre over MQTT 5,
and brings back acks, pushed configs and site alerts.

It runs as its own process beside the kiosk app, on the same SQLite file, in one thread: a loop
that connects (TLS, the kiosk's own credential, fixed client id, persistent session), publishes
batches at QoS 1, reads the centre's replies, and sleeps in short steps.

Guarantees it keeps (see docs/sync.md):
- an event is marked acked only when the centre's `ack` names its seq, never on PUBACK; one the
  ack names as rejected (refused for good) is kept, marked, and never sent again; an ack counts
  only when it answers a batch this run of the agent sent (its incarnation, `protocol.
  incarnation_of`): the broker may hold acks for another database under the same kiosk id;
- what is unacked is sent again after `sync.ack_timeout_s`, after every reconnect and after a
  restart (the outbox is the truth, nothing is kept only in memory);
- a pushed config is applied only if it validates, the kiosk running here can use it and it is
  newer; a refusal (or a push it could not save) is reported in status, and so is a push at the
  version running that is not the config running (only the retained push it applied, delivered
  again, is let be);
- no message from the centre can stop the loop; a database write that fails while handling one
  is logged (once per run of failures) and not recorded: an ack that could not be recorded
  leaves its batch in flight, so it goes again after the ack timeout and the centre dedups it;
- an exception nothing foresaw in a turn (the outbox, the status, retention) is logged once with
  its traceback and the loop goes on, tried again as after a failed write: let out, it ended the
  agent, and systemd restarted it 5 s later into the same failure, for ever;
- database writes are short transactions: the tap path never waits long;
- a text cell the card damaged (a byte that is not UTF-8) stops nothing: its event goes with
  U+FFFD in place of the damaged characters, and the log names the table and column, never the
  text (kiosk.outbox).

It never records answers; the only rows it deletes are acknowledged ones past the kiosk's
retention (`kiosk.retention`, once the clock is synced). Time, randomness, the MQTT client and the
store are injected, so tests drive it against a real broker with controlled clocks.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import shutil
import sqlite3
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import peewee

from kiosk import __version__
from kiosk.anchors import Hold, hold_for, keep_anchor, live_anchor
from kiosk.broker_password import read_password
from kiosk.clock import Clock, SystemClock
from kiosk.config import KioskConfig
from kiosk.exc import DiskFull, KioskError
from kiosk.outbox import Inflight, Outbox, OutboxBatch
from kiosk.pushed import file_version, push_version, runs_already, save_pushed, saved_push_check, validate_push
from kiosk.local_day import restamp_unsynced
from kiosk.retention import WAL_RETRY_S, RetentionPass
from kiosk.store import LocalStore
from kiosk.usable import recorded_kind
from server_sync import protocol as P
from server_sync.program.systemd import SystemdNotifier
from server_sync.program.tls import check_ca_file
from server_sync.protocol import ProtocolError

log = logging.getLogger("kundpuls.sync")

SESSION_EXPIRY_S = 7 * 24 * 3600     # the broker keeps our subscriptions and queued acks this long
CONNECT_TIMEOUT_S = 10.0
# While no ack comes back at all (the ingest is down), each re-send doubles the wait before the
# next, up to this: the broker queues every re-send for the ingest, and a day of re-sending a
# long backlog every 30 s would be gigabytes.
MAX_ACK_TIMEOUT_S = 1800.0
PRUNE_EVERY_S = 6 * 3600.0         # how often acknowledged answers past their days are removed
PRUNE_UNSYNCED_RETRY_S = 60.0      # while the clock is not synced, look again this soon
# Between two write transactions of a retention pass: longer than the sleeps of SQLite's busy
# handler so far, so a tap waiting for the lock gets it at its next try (kiosk.retention).
PASS_PAUSE_S = 0.02
# What a write to the kiosk database can raise: a failed or full card (kiosk.store's StoreError)
# or what SQLite itself refuses (a locked database, a constraint).
STORE_FAILURES = (KioskError, sqlite3.Error, peewee.PeeweeException)
REFUSED_LOG_EVERY_S = 600.0        # a broker refusing our publishes is logged at most this often
STORE_RETRY_S = 1.0                # after a failed outbox write, try again this soon
# A push the card could not take is tried again this often (quietly: its refusal was said once),
# so it applies once room is freed, not at the next connect; a push is not urgent, a full card
# is not to be written to every second for it.
CONFIG_RETRY_S = 10.0
# Refusals that retrying cannot fix: `kiosk sync --once` stops at once with the broker's words.
PERMANENT_REFUSALS = ("Bad user name or password", "Not authorized", "Client identifier not valid",
                      "Banned", "Unsupported protocol version")


class SyncError(KioskError, RuntimeError):
    """The agent cannot do its job (broker refuses us, drain timed out)."""


class Backoff:
    """Exponential reconnect delay with jitter: min_s, 2·min_s, … up to max_s, each drawn from
    [d/2, d] so a fleet that lost the broker together does not come back in lockstep."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random) -> None:
        self.min_s = min_s
        self.max_s = max(max_s, min_s)
        self.rng = rng
        self.attempt = 0

    def next(self) -> float:
        d = min(self.max_s, self.min_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return d / 2 + self.rng.random() * d / 2

    def reset(self) -> None:
        self.attempt = 0


def paho_client(client_id: str):
    """A paho-mqtt 2.x client speaking MQTT 5; reconnects are the agent's business."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                    reconnect_on_failure=False)
    c.max_queued_messages_set(0)
    return c


@dataclass
class SyncCounters:
    batches_sent: int = 0
    events_sent: int = 0
    events_acked: int = 0
    resent: int = 0
    connects: int = 0
    acks: int = 0
    events_rejected: int = 0
    acks_ignored: int = 0            # answers to another incarnation's batches (`handle_ack`)
    refused: int = 0                 # publishes the broker refused (`_on_publish`)


class SyncAgent:
    """One kiosk's link to the centre. `run()` until `stop` is set (daemon) or drained (--once)."""

    def __init__(self, cfg: KioskConfig, store: LocalStore, *,
                 client_factory: Callable[[str], Any] = paho_client,
                 clock: Clock | None = None, monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, notifier: SystemdNotifier | None = None,
                 base_mapping: Mapping[str, Any] | None = None, password: str | None = None,
                 max_inflight_batches: int = 16) -> None:
        self.cfg = cfg
        self.store = store
        # New at each start: the seqs an ack names are this database's only when the ack answers
        # a batch this run sent. An ack kept by the broker for an earlier run is ignored (what it
        # named goes again, and the centre counts it once): it may be for another database under
        # this kiosk id (made again from seq 1, restored from an image), whose seqs now name other
        # events. Per run rather than per database, because a restored image keeps its database's
        # id; the cost is one more send of what was in flight at a restart, sent again anyway.
        self.incarnation = uuid.uuid4().hex
        batch_numbers = itertools.count(1)
        self.outbox = Outbox(store, cfg.kiosk_id, new_batch_id=lambda: P.incarnation_batch_id(
            self.incarnation, next(batch_numbers)))
        self.inflight = Inflight()
        self.client_factory = client_factory
        self.clock = clock or SystemClock()
        self.mono = monotonic
        self.backoff = Backoff(cfg.sync.backoff_min_s, cfg.sync.backoff_max_s, rng or random.Random())
        self.notifier = notifier or SystemdNotifier(env={})
        self.base_mapping = dict(base_mapping) if base_mapping is not None else {}
        self.password = password if password is not None else read_password(cfg)
        if cfg.broker.tls and cfg.broker.ca_file:
            check_ca_file(cfg.broker.ca_file, key="broker.ca_file")
        # The ingest commits whatever is queued as one group while the acks of the last one come
        # back: with 16 batches in flight (4 MB at most) it finds about half of them waiting
        # (measured in a 100k drain: 48 group commits with 16, 88 with 8).
        self.max_inflight_batches = max_inflight_batches
        self.prefix = cfg.broker.topic_prefix
        self.counters = SyncCounters()
        self.ack_timeout_s = cfg.sync.ack_timeout_s

        self.client: Any = None
        self.connected = False          # CONNACK success and subscriptions sent
        self._connecting_since: float | None = None
        self._next_attempt = 0.0
        self._next_status = 0.0
        self._next_prune = 0.0
        self._retention: RetentionPass | None = None     # a pass under way (`_prune`)
        self._wal_owed = False          # a pass removed rows and could not empty the WAL after
        self._anchor_kept = False       # the running boot's anchor is in meta (`_keep_anchor`)
        self._anchor_retry_at = 0.0
        self._next_rescan = 0.0
        self._check_drained = True
        # Per kind of write (the outbox, a message on a topic) that fails: (its reason, how often).
        self._store_failing: dict[str, tuple[str, int]] = {}
        self._turn_failing: dict[str, tuple[str, int]] = {}     # the same, for what nothing foresaw
        self._store_retry_at = 0.0
        self._unsaved_push: bytes | None = None     # a push the card could not take (handle_config)
        self._unsaved_retry_at = 0.0
        self._requeue_due = False           # a (re)connect: what was sent goes again, once written
        self._refused_logged_at: float | None = None   # the last "broker refused" warning
        self._refused_unlogged = 0                      # refusals since that warning
        self.last_error: str | None = None
        self.permanent_error: str | None = None

        applied = store.get_meta("config.applied_version")
        self.applied_version = max(cfg.config_version, int(applied) if applied and applied.isdigit() else 0)
        refused = _json_or_none(store.get_meta("config.refused"))
        self.config_error: str | None = refused.get("reason") if isinstance(refused, dict) else None
        self.kind = recorded_kind(store)          # of the kiosk beside us (kiosk.usable); None: not known
        self._check_saved_push()

        self._topics = {
            "ack": P.ack_topic(cfg.kiosk_id, self.prefix),
            "config": P.config_topic(cfg.kiosk_id, self.prefix),
            "alerts": P.alerts_topic(cfg.site_id, self.prefix),
        }
        self._events_topic = P.events_topic(cfg.kiosk_id, self.prefix)
        self._status_topic = P.status_topic(cfg.kiosk_id, self.prefix)

    # --- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, once: bool = False,
            timeout: float | None = None) -> bool:
        """Run until `stop` is set; with `once`, until every event is acked (True) or `timeout`
        seconds pass (raises SyncError). Always leaves the broker cleanly."""
        stop = stop or threading.Event()
        deadline = None if timeout is None else self.mono() + timeout
        self._start_writes()
        self.notifier.ready("starting")
        try:
            while not stop.is_set():
                self.step()
                self.notifier.ping()
                if once:
                    if self.permanent_error:
                        raise SyncError(f"the broker refused the connection: {self.permanent_error}")
                    if self._drained():
                        return True
                    if deadline is not None and self.mono() > deadline:
                        raise SyncError(self._timeout_message(timeout))
                if not self.connected:
                    stop.wait(0.02)
            return self._drained()
        finally:
            self.close()

    def _start_writes(self) -> None:
        """What the agent writes as it starts. A card full at start does not stop it: what is
        recorded can still be read and sent (`_pump_unmarked`); the requeue waits for the
        outbox's next try, and nothing is marked sent before it has run. A damaged card stops it."""
        try:
            # This connection's commits need not wait for fsync: every write the agent makes can
            # be lost in a power cut without harm (a lost acked_at means one more send, which the
            # centre dedupes; sent_at is cleared at start anyway), and WAL keeps the file
            # consistent. The app's own connection stays synchronous=FULL, so taps stay durable.
            # Set in the thread that runs the loop, because peewee keeps one connection per thread.
            self.store.db.thread_pragma("synchronous", "NORMAL")
            # A restart: whatever a previous run sent and saw no ack for goes again.
            self.outbox.requeue()
        except DiskFull as e:
            self._requeue_due = True
            self._store_failed("the outbox", e)
        self._say_connected("0")

    def step(self) -> None:
        """One turn of the loop: connect if due, network I/O, publish, time-outs, status; now
        and then the SD card's retention (kiosk.retention)."""
        now = self.mono()
        if now >= self._next_prune:
            self._prune(now)
        if not self._anchor_kept and now >= self._anchor_retry_at:
            self._keep_anchor(now)
        if self._unsaved_push is not None and now >= self._unsaved_retry_at:
            self._retry_push(self._unsaved_push, now)
        if self.client is None:
            if now >= self._next_attempt:
                self._start_connect()
            return
        if self._connecting_since is not None and now - self._connecting_since > CONNECT_TIMEOUT_S:
            self._lost(f"no CONNACK within {CONNECT_TIMEOUT_S:.0f} s")
            return
        c = self.client
        rc = c.loop(timeout=0.01 if self.connected else 0.05)
        if rc != 0 and self.client is c:        # paho did not report it through on_disconnect
            self._lost(f"connection lost ({rc})")
            return
        if self.connected and now >= self._store_retry_at:
            try:
                if self._requeue_due:
                    self.counters.resent += self.outbox.requeue()
                    self._requeue_due = False
                self._expire(now)
                self._pump()
            except STORE_FAILURES as e:
                # The card takes no write (full, failing): nothing was marked, what is in flight
                # stays in flight. The link and the status go on; the outbox tries again soon.
                self._store_retry_at = now + STORE_RETRY_S
                self._store_failed("the outbox", e)
                if isinstance(e, DiskFull):         # a full card still reads; a failing one may not
                    self._pump_unmarked()
            except Exception as e:
                # Nothing foresaw it (a bug; a cell the card damaged as no path expects). Let out,
                # it ended the agent, and systemd's restart met it again 5 s later, for ever: a loop
                # that sent nothing, read no ack or push, and sent no status. Tried again as after
                # a failed write; the status goes on saying the outbox grows.
                self._store_retry_at = now + STORE_RETRY_S
                self._turn_failed("the outbox", e)
            else:
                self._store_works("the outbox")
                self._turn_works("the outbox")
        if self.connected and now >= self._next_status:
            try:
                self.publish_status()
            except Exception as e:                  # as above: a read the card fails included
                self._next_status = now + self.cfg.sync.status_interval_s
                self._turn_failed("the status", e)
            else:
                self._turn_works("the status")

    @property
    def pruning(self) -> bool:
        """A retention pass is under way (its next transaction comes at a later turn)."""
        return self._retention is not None

    def _prune(self, now: float) -> None:
        """A turn of the retention pass (kiosk.retention): one short write transaction, the next
        PASS_PAUSE_S later (the loop and the taps go on between), a new pass PRUNE_EVERY_S after
        the last ended."""
        try:
            if self._retention is None:
                # Ages are measured with the wall clock: one not synced (a Pi without RTC, days
                # ahead) would remove acknowledged answers the staff screen still counts. Wait for
                # the sync. What this boot stamped before the sync is aged by the monotonic clock.
                if not self.clock.clock_synced():
                    self._next_prune = now + PRUNE_UNSYNCED_RETRY_S
                    return
                # Synced now: what this boot recorded before goes on its right local day (once a
                # boot; mostly nothing to do).
                restamp_unsynced(self.store, self.cfg.timezone, boot_id=self.clock.boot_id(), now=self.clock.now(),
                                 monotonic_ns=self.clock.monotonic_ns())
                self._retention = RetentionPass(self.store, self.cfg.privacy.keep_acked_days, self.clock.now(),
                                                boot_id=self.clock.boot_id(), monotonic_ns=self.clock.monotonic_ns(),
                                                wal_owed=self._wal_owed)
            self._retention.step()
        except STORE_FAILURES as e:
            # A full card deletes nothing either (the WAL needs room), nor a failing one, nor a
            # database locked past the busy timeout: a new pass later.
            self._retention = None
            self._next_prune = now + PRUNE_UNSYNCED_RETRY_S
            self._store_failed("the retention pass", e)
            return
        except Exception as e:
            # Nothing foresaw it (a cell the card damaged as no path expects: a monotonic_ns
            # turned text once raised in the restamp). Let out, it ended the agent, and systemd's
            # restart met it again at the first turn, for good: nothing was sent until a reboot.
            # The pass is dropped; a new one later, as after a full card.
            self._retention = None
            self._next_prune = now + PRUNE_UNSYNCED_RETRY_S
            self._turn_failed("the retention pass", e)
            return
        self._store_works("the retention pass")
        self._turn_works("the retention pass")
        if not self._retention.done:
            # The WAL's first try comes as a next transaction would; a try again, when a read
            # held it, later (kiosk.retention).
            wal_retry = self._retention.emptying_wal and self._retention.wal_tries
            self._next_prune = now + (WAL_RETRY_S if wal_retry else PASS_PAUSE_S)
            return
        done, self._retention = self._retention, None
        self._next_prune = now + PRUNE_EVERY_S
        if done.removed:
            log.info("removed %d acknowledged events older than %d days", done.removed,
                     self.cfg.privacy.keep_acked_days)
        if done.wal_emptied is not None:
            self._wal_owed = not done.wal_emptied
        if done.wal_emptied is False:
            log.warning("%s-wal may still hold what retention removed: another connection kept reading "
                        "through %d tries; the next pass, in %.0f h, empties it", self.cfg.db_path.name,
                        done.wal_tries, PRUNE_EVERY_S / 3600)

    # --- connecting ---------------------------------------------------------------------------

    def _start_connect(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        c = self.client_factory(f"kiosk-{self.cfg.kiosk_id}")
        b = self.cfg.broker
        if b.tls:
            c.tls_set(ca_certs=b.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        c.username_pw_set(b.username or self.cfg.kiosk_id, self.password)
        c.will_set(self._status_topic, P.will_payload(), qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client = c
        self._connecting_since = self.mono()
        try:
            c.connect(b.host, b.port, keepalive=b.keepalive_s, clean_start=False, properties=props)
        except (OSError, ssl.SSLError, ValueError) as e:
            self._lost(f"cannot connect to {b.host}:{b.port}: {e}")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is not self.client:
            return
        if reason_code.is_failure:
            reason = str(reason_code)
            if reason in PERMANENT_REFUSALS:
                self.permanent_error = reason
            self._lost(f"broker refused the connection: {reason}")
            return
        self._connecting_since = None
        self.connected = True
        self.permanent_error = None
        self.last_error = None
        self.counters.connects += 1
        self.backoff.reset()
        client.subscribe([(t, 1) for t in self._topics.values()])
        # A reconnect: the centre may never have seen what was in flight; send it all again. The
        # requeue is a write, done by the loop with the outbox's other writes: a card that takes
        # none then delays it (nothing is sent before it) rather than stopping the agent here.
        self.inflight.clear()
        self._requeue_due = True
        self._say_connected("1")
        try:
            self._remember_local_address(client)
        except STORE_FAILURES as e:
            self._store_failed("the connection state", e)
        self.publish_status()
        log.info("connected to %s:%s", self.cfg.broker.host, self.cfg.broker.port)

    def _remember_local_address(self, client) -> None:
        # The staff screen shows the kiosk's address, but the app's unit has no AF_INET
        # (RestrictAddressFamilies): the agent, which talks to the broker anyway, tells it.
        try:
            sock = client.socket()
            address = sock.getsockname()[0] if sock is not None else None
        except OSError:
            address = None
        if address:
            self.store.set_meta("net.local_ip", address)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if client is self.client:
            self._lost(f"disconnected: {reason_code}")

    def _lost(self, why: str) -> None:
        """Drop the connection (if any) and schedule the next attempt after a backoff."""
        was = self.connected
        self.connected = False
        self._connecting_since = None
        self.last_error = why
        c, self.client = self.client, None
        if c is not None:
            try:
                sock = c.socket()
                if sock is not None:
                    sock.close()
            except OSError:
                pass
        delay = self.backoff.next()
        self._next_attempt = self.mono() + delay
        if was:
            self._say_connected("0")
        log.warning("%s; next attempt in %.1f s", why, delay)

    def _say_connected(self, value: str) -> None:
        """The link's state for the staff screen (meta sync.connected): a card that takes no
        write must not stop the agent over it."""
        try:
            self.store.set_meta("sync.connected", value)
        except STORE_FAILURES as e:
            self._store_failed("the connection state", e)

    # --- publishing ---------------------------------------------------------------------------

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        """A PUBACK. The broker refuses a publish (0x87 Not authorized) when this kiosk is over its
        rate (firmware_config/mosquitto/ratelimit/) and drops it: for a batch that is just no ack,
        so its events stay in flight and go again after the ack timeout, like any batch the
        centre never answered; a status goes with the next one. Logged once, then at most every
        REFUSED_LOG_EVERY_S with the count (a refused drain alternates refusals and acks)."""
        if not getattr(reason_code, "is_failure", False):
            return
        self.counters.refused += 1
        self._refused_unlogged += 1
        now = self.mono()
        if self._refused_logged_at is None or now - self._refused_logged_at >= REFUSED_LOG_EVERY_S:
            log.warning("the broker refused %d message(s) (%s): this kiosk is over the broker's rate limit; "
                        "what they carried is sent again after the ack timeout (%.0f s)",
                        self._refused_unlogged, reason_code, self.ack_timeout_s)
            self._refused_logged_at = now
            self._refused_unlogged = 0

    def _pump(self) -> None:
        sent = 0
        while len(self.inflight) < self.max_inflight_batches and sent < 4:
            batch = self.outbox.next_batch(self.cfg.sync.batch_max_events, self.cfg.sync.batch_max_bytes,
                                           now=self.clock.now(), sent_at=P.iso_ms(self.clock.now()),
                                           live=self._live_anchor(), hold=self._hold())
            if batch is None and self._rescan_due():
                batch = self.outbox.next_batch(self.cfg.sync.batch_max_events, self.cfg.sync.batch_max_bytes,
                                               now=self.clock.now(), sent_at=P.iso_ms(self.clock.now()),
                                               live=self._live_anchor(), hold=self._hold())
            if batch is None:
                return
            _say_damaged(batch)
            info = self.client.publish(self._events_topic, batch.payload, qos=1)
            if info.rc != 0:
                self.outbox.requeue(batch.seqs)
                self._lost(f"publish failed (rc {info.rc})")
                return
            if batch.invalid:
                log.error("event seq %s fails validation and goes alone: %s", batch.seqs[0], batch.invalid)
            self.inflight.add(batch.batch_id, batch.seqs, self.mono())
            self.counters.batches_sent += 1
            self.counters.events_sent += batch.count
            sent += 1

    def _live_anchor(self) -> P.Anchor | None:
        """The running boot's clock anchor, read now; None while its clock is not synced."""
        return live_anchor(self.clock.boot_id(), self.clock.clock_synced(), P.iso_ms(self.clock.now()),
                           self.clock.monotonic_ns())

    def _keep_anchor(self, now: float) -> None:
        """The first turn that sees the running boot's clock synced keeps its anchor in meta
        (kiosk.anchors `keep_anchor`): held answers of this boot still name it after a reboot,
        should the boot record no synced answer before it. Offline too; a failed write is tried
        again soon, and stops nothing else."""
        if not self.clock.clock_synced():           # cheap, every turn until then (SystemClock caches it)
            return
        anchor = self._live_anchor()
        if anchor is None:
            return
        try:
            keep_anchor(self.store.db, anchor)
        except STORE_FAILURES as e:
            self._anchor_retry_at = now + STORE_RETRY_S
            self._store_failed("the clock anchor", e)
        except Exception as e:              # as in the other turns: nothing may end the agent
            self._anchor_retry_at = now + STORE_RETRY_S
            self._turn_failed("the clock anchor", e)
        else:
            self._anchor_kept = True
            self._store_works("the clock anchor")
            self._turn_works("the clock anchor")

    def _hold(self) -> Hold | None:
        """The running boot's unsynced answers that wait for its clock (sync.clock_wait_s)."""
        return hold_for(self.clock.boot_id(), self.clock.clock_synced(), self.clock.monotonic_ns(),
                        self.cfg.sync.clock_wait_s)

    def _pump_unmarked(self) -> None:
        """The outbox cannot be written (a full card): what is recorded can still be read, so
        it is published all the same, each event once while this lasts (a few batches a turn),
        without marking it sent and outside the in-flight count: its ack cannot be recorded
        either. Once the card takes writes again the outbox goes as usual, marked, and the
        centre counts each event once."""
        try:
            for _ in range(4):
                batch = self.outbox.next_batch(self.cfg.sync.batch_max_events, self.cfg.sync.batch_max_bytes,
                                               now=self.clock.now(), sent_at="", mark=False,
                                               live=self._live_anchor(), hold=self._hold())
                if batch is None:
                    return
                _say_damaged(batch)
                info = self.client.publish(self._events_topic, batch.payload, qos=1)
                if info.rc != 0:
                    self._lost(f"publish failed (rc {info.rc})")
                    return
                self.counters.batches_sent += 1
                self.counters.events_sent += batch.count
        except STORE_FAILURES as e:
            self._store_failed("reading the outbox", e)

    def _rescan_due(self) -> bool:
        """Nothing unsent above the outbox's floor: now and then (every ack timeout) look below
        it too, for events another process made sendable again (`kiosk refused retry`)."""
        now = self.mono()
        if now < self._next_rescan or not self.outbox.has_floor():
            return False
        self._next_rescan = now + self.cfg.sync.ack_timeout_s
        return self.outbox.rescan()

    def _expire(self, now: float) -> None:
        late = self.inflight.expired(now, self.ack_timeout_s)
        if late:
            try:
                n = self.outbox.requeue(late)
            except STORE_FAILURES:
                # Not made sendable again: keep them in flight, due again at the next try.
                self.inflight.add(f"requeue-{late[0]}", late, now - self.ack_timeout_s)
                raise
            self.counters.resent += n
            log.warning("%d events without ack after %.0f s; sending them again", n, self.ack_timeout_s)
            self.ack_timeout_s = min(self.ack_timeout_s * 2, max(MAX_ACK_TIMEOUT_S, self.cfg.sync.ack_timeout_s))

    def status_payload(self, online: bool = True) -> bytes:
        now = self.clock.now()
        oldest = self.store.oldest_unacked()
        age = None
        if oldest:
            try:
                age = max(0, int((now - P.parse_iso_ms(oldest)).total_seconds()))
            except ProtocolError:
                age = None
        try:
            free_mb = shutil.disk_usage(self.cfg.data_dir).free // (1024 * 1024)
        except OSError:
            free_mb = None
        return P.encode_status(online=online, version=__version__, outbox_depth=self.outbox.depth(),
                               oldest_unacked_s=age, clock_synced=self.clock.clock_synced(),
                               disk_free_mb=free_mb, config_version=self.applied_version,
                               config_error=self.config_error, ts=P.iso_ms(now),
                               rejected=self.store.rejected_count())

    def publish_status(self) -> None:
        self._notice_kind()
        if self.client is not None and self.connected:
            self.client.publish(self._status_topic, self.status_payload(), qos=1, retain=True)
        self._next_status = self.mono() + self.cfg.sync.status_interval_s
        self.notifier.status(f"{'connected' if self.connected else 'offline'}, outbox {self.outbox.depth()}")

    # --- what the centre sends ----------------------------------------------------------------

    def _on_message(self, client, userdata, msg) -> None:
        if client is not self.client:
            return
        topic = msg.topic
        # paho re-raises a callback's exception out of loop(): nothing may escape from here.
        try:
            if topic == self._topics["ack"]:
                self.handle_ack(msg.payload)
            elif topic == self._topics["config"]:
                self.handle_config(msg.payload)
            elif topic == self._topics["alerts"]:
                self.handle_alert(msg.payload)
            else:
                return
        except ProtocolError as e:
            log.error("ignored a bad message on %s: %s", topic, e.reason)
        except STORE_FAILURES as e:
            self._store_failed(f"a message on {topic}", e)
        except Exception:
            log.exception("a message on %s could not be handled; ignored", topic)
        else:
            self._store_works(f"a message on {topic}")

    def _store_failed(self, where: str, e: BaseException) -> None:
        """A write to the kiosk database failed in `where` (a message on a topic, or the outbox):
        nothing of it was recorded (each write is one transaction). For an ack that is
        safe: its batch stays in flight and goes again after the ack timeout, and the centre
        dedups it. Said once per run of failures of that kind, not for every ack of a drain."""
        reason = f"{type(e).__name__}: {e}"
        last, count = self._store_failing.get(where, (None, 0))
        self._store_failing[where] = (reason, count + 1)
        if last != reason:
            log.error("cannot write to the kiosk database (%s), in %s: not recorded (the events of an ack "
                      "not recorded go again after the ack timeout; the centre counts them once). Further "
                      "failures like it are not logged until a write succeeds", reason, where)

    def _store_works(self, where: str) -> None:
        """That kind of write went through (again)."""
        if where in self._store_failing:
            _, count = self._store_failing.pop(where)
            log.warning("the kiosk database takes writes again, in %s, after %d failure(s)", where, count)

    def _turn_failed(self, where: str, e: Exception) -> None:
        """An exception nothing foresaw in `where` (the outbox, the status, retention): logged with
        its traceback once per run of failures like it, not at every turn."""
        reason = f"{type(e).__name__}: {e}"
        last, count = self._turn_failing.get(where, (None, 0))
        self._turn_failing[where] = (reason, count + 1)
        if last != reason:
            log.error("unexpected failure in %s (%s); the agent goes on and tries again. Further failures like "
                      "it are not logged until it works", where, reason, exc_info=e)

    def _turn_works(self, where: str) -> None:
        if where in self._turn_failing:
            _, count = self._turn_failing.pop(where)
            log.warning("no unexpected failure in %s any more, after %d", where, count)

    def handle_ack(self, payload: bytes) -> int:
        ack = P.decode_ack(payload)
        if ack.incarnation != self.incarnation:
            # Not an answer to this run's batches (see `incarnation`), its rejections neither. An
            # ack without an incarnation answers a kiosk from before them: refused too, since a
            # card re-flashed with this version under the old id meets exactly those.
            log.info("ignored the ack of batch %s: not sent by this run of the agent (what it names goes "
                     "again if it is still unacked here; the centre counts it once)", ack.batch_id)
            self.counters.acks_ignored += 1
            return 0
        at = P.iso_ms(self.clock.now())
        n = self.outbox.mark_acked(ack.ranges, at, meta={"sync.last_ack_at": at})
        if ack.rejected:
            refused = self.outbox.mark_rejected([(r.ranges, r.reason) for r in ack.rejected], at)
            self.counters.events_rejected += refused
            if refused:
                log.error("the centre refused %d event(s) for good (kept here, not sent again): %s",
                          refused, "; ".join(r.reason for r in ack.rejected)[:500])
                self._next_status = 0.0          # tell the centre at the next turn (status)
        self.inflight.ack(ack)
        if ack.rejected:
            # The centre refused that batch as a whole: the rest of it goes again now, without
            # the refused events, rather than after the ack timeout. Made sendable first: should
            # that write fail, the rest stays in flight and goes again after the ack timeout.
            rest = self.inflight.unacked(ack.batch_id)
            if rest:
                self.outbox.requeue(rest)
            self.inflight.forget(ack.batch_id)
        self.counters.acks += 1
        self.counters.events_acked += n
        self.ack_timeout_s = self.cfg.sync.ack_timeout_s      # the centre is answering again
        self._check_drained = True
        return n

    def handle_config(self, payload: bytes, again: bool = False) -> bool:
        """Apply a pushed config if valid and newer; else record and report the refusal. `again`:
        a push the card could not take, tried again (a failure to save it is not said twice)."""
        self._unsaved_push = None       # any push that came since replaces one waiting for room
        if not payload:
            return False                # the centre cleared its retained config
        try:
            # Judged for the kiosk that runs here (it says which kind it is when it starts).
            self._notice_kind()
            pushed, _ = validate_push(self.base_mapping, payload, self.applied_version, kind=self.kind)
        except ProtocolError as e:
            version = push_version(payload)
            if version == self.applied_version and runs_already(self.base_mapping, payload, self.cfg.data_dir,
                                                                 version):
                return False            # the retained config we already run, delivered again
            # Anything else at or below the version it runs is said: a push taken silently for
            # the config the kiosk has looks applied in `fleet` and never is.
            self._refuse(version, e.reason)
            return False
        try:
            save_pushed(self.cfg.data_dir, pushed)
        except OSError as e:
            # A full or read-only card: not applied (nothing half-written is left), said in the
            # status; tried again every CONFIG_RETRY_S (the retained push also comes again on
            # the next connect, but a card freed meanwhile must not wait for one: a review).
            self._unsaved_push, self._unsaved_retry_at = payload, self.mono() + CONFIG_RETRY_S
            if not again:
                self._refuse(pushed["version"], f"cannot save it in {self.cfg.data_dir}: {e.strerror or e}")
            return False
        self.applied_version = pushed["version"]
        self.config_error = None
        self.store.set_meta("config.applied_version", str(self.applied_version))
        self.store.db.execute_sql("DELETE FROM meta WHERE key = 'config.refused'")
        log.info("applied pushed config version %d", self.applied_version)
        self.publish_status()
        return True

    def _retry_push(self, payload: bytes, now: float) -> None:
        """Try again a push the card could not take. Nothing may escape the loop: a card that
        fails the meta write as well keeps the push for the next try."""
        try:
            self.handle_config(payload, again=True)
        except STORE_FAILURES as e:
            self._unsaved_push, self._unsaved_retry_at = payload, now + CONFIG_RETRY_S
            self._store_failed("a pushed config", e)
        except Exception:
            log.exception("a pushed config could not be applied; it comes again on the next connect")

    def _refuse(self, version: int | None, reason: str) -> None:
        """Keep the current config; say why in meta `config.refused` and the status."""
        self.config_error = f"config {version if version is not None else '?'} refused: {reason}"[:500]
        log.error("%s", self.config_error)
        try:
            self.store.set_meta("config.refused", json.dumps(
                {"version": version, "reason": reason, "at": P.iso_ms(self.clock.now())}))
        finally:
            self.publish_status()       # the status says it even when the card takes no write

    def _check_saved_push(self) -> None:
        """At start, and when the kiosk beside us says it is another kind: a saved push it can no
        longer use (kiosk.toml changed under it) is not applied (every start path leaves it out
        too), so the status says so instead of its version; one it can use again counts again."""
        check = saved_push_check(self.base_mapping, self.cfg.data_dir, self.kind)
        if check is None:
            return
        version, reason = check
        if reason is None:
            if (self.config_error or "").startswith(f"saved push v{version} "):
                self.applied_version, self.config_error = version, None
            return
        self.applied_version = file_version(self.base_mapping)
        where = self.cfg.source.name if self.cfg.source is not None else "this kiosk's config"
        self.config_error = f"saved push v{version} no longer valid with {where}: {reason}"[:500]
        log.error("%s", self.config_error)

    def _notice_kind(self) -> None:
        # The kiosk may start after us (first boot) or be re-provisioned as another kind.
        kind = recorded_kind(self.store)
        if kind != self.kind:
            self.kind = kind
            self._check_saved_push()

    def handle_alert(self, payload: bytes) -> None:
        alert = P.decode_alert(payload, self.cfg.site_id)
        existing = _json_or_none(self.store.get_meta("site.alerts"))
        kept = P.keep_alerts(existing if isinstance(existing, list) else [], alert)
        self.store.set_meta("site.alerts", json.dumps(kept, ensure_ascii=False))

    # --- ending -------------------------------------------------------------------------------

    def _drained(self) -> bool:
        if not self._check_drained and len(self.inflight):
            return False
        self._check_drained = False
        return self.connected and len(self.inflight) == 0 and self.outbox.empty()

    def _timeout_message(self, timeout: float | None) -> str:
        depth = self.outbox.depth()
        link = "connected" if self.connected else f"not connected: {self.last_error or 'connecting'}"
        waits = "" if self._hold() is None else (
            "; the clock has not synced: answers recorded before it wait for it in the boot's first "
            f"{self.cfg.sync.clock_wait_s:g} s (sync.clock_wait_s)")
        return (f"timed out after {timeout:g} s: {depth} event(s) not yet acknowledged by the centre "
                f"({link}{waits})")

    def close(self) -> None:
        """Say offline (retained, with the counts) and disconnect cleanly, so the Last Will is not
        needed."""
        c = self.client
        self.client = None              # from here on, callbacks from `c` are ours to ignore
        if c is not None and self.connected:
            try:
                # Offline, with what the kiosk holds (the outbox, answers the centre refused):
                # the fleet view keeps showing it while the kiosk is away.
                info = c.publish(self._status_topic, self.status_payload(online=False), qos=1, retain=True)
                end = self.mono() + 2.0
                while not info.is_published() and self.mono() < end:
                    if c.loop(timeout=0.05) != 0:
                        break
                c.disconnect()
                c.loop(timeout=0.05)
            except (OSError, ValueError, RuntimeError):
                pass
        self.client = None
        self.connected = False
        try:
            self.store.set_meta("sync.connected", "0")
        except Exception:              # the database may be gone at interpreter exit; nothing to do
            pass
        self.notifier.stopping()


def _say_damaged(batch: OutboxBatch) -> None:
    """Where the batch holds text the card damaged (sent with U+FFFD): where only, never the text
    (a customer's comment). Said before the publish: the outbox names a cell once."""
    if batch.damaged:
        log.warning("sending %d text cell(s) that are not UTF-8 (a byte damaged on the card) with U+FFFD in place "
                    "of the damaged characters: %s. To mend the file, stop the kiosk services and run "
                    "`kiosk repair --force` (docs/deployment.md, When things go wrong)", len(batch.damaged),
                    ", ".join(f"seq {seq} {where}" for seq, where in batch.damaged))


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None

