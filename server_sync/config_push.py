"""Config push: a kiosk.toml fragment (questions, languages, schedule, filters, follow-up, UI,
reasons) validated with the kiosk's own rules, given a version higher than any that kiosk may run
(`next_versions`), and published retained (QoS 1) on each target kiosk's config topic.

Only the sections `protocol.PUSHABLE` names may be pushed: never identity, broker, data dir,
GPIO wiring or the staff PIN (a push must not be able to move a kiosk to another broker or site).
The questions a push carries become the centre's definitions (`central.questions`).
The kiosk validates again against its own file and reports a refusal in its status.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from peewee import Database

from kiosk.config import KioskConfig, parse_config
from server_sync import protocol
from server_sync.protocol import codec, pushed
from server_sync.central import questions, registry
from server_sync.central.dialect import placeholders
from server_sync.exc import CentralConfigError
from server_sync.program.files import parse_json, parse_toml, read_text


@dataclass(frozen=True)
class PushFile:
    path: Path
    text: str
    data: dict[str, Any]          # the file as parsed (kiosk.toml shape)
    body: dict[str, Any]          # the push (protocol shape: languages top-level), without version


def load_push_file(path: Path) -> PushFile:
    """Read and shape-check a push file (TOML; .json also accepted)."""
    path = Path(path)
    try:
        text = read_text(path)
    except OSError as e:
        raise CentralConfigError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise CentralConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    try:
        data = parse_json(text) if path.suffix == ".json" else parse_toml(text)
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise CentralConfigError(f"{path}: syntax error: {e}") from None
    if not isinstance(data, dict):
        raise CentralConfigError(f"{path}: must be a table of kiosk.toml sections")
    allowed = pushed.PUSHABLE_TABLES + pushed.PUSHABLE_WHOLE
    body: dict[str, Any] = {}
    for key, value in data.items():
        if key == "kiosk":
            if not isinstance(value, dict):
                raise CentralConfigError(f"{path}: key 'kiosk' must be a table")
            for k in value:
                if k not in pushed.PUSHABLE_KIOSK:
                    raise CentralConfigError(
                        f"{path}: key 'kiosk.{k}' cannot be pushed (only kiosk.languages and "
                        "kiosk.default_language; identity, broker, data dir, GPIO and PIN stay on the kiosk)")
            body.update(copy.deepcopy(value))
        elif key == "config_version":
            raise CentralConfigError(f"{path}: key 'config_version' is assigned by the centre; remove it")
        elif key in allowed:
            body[key] = copy.deepcopy(value)
        else:
            raise CentralConfigError(f"{path}: key '{key}' cannot be pushed; allowed: "
                                     f"{', '.join(('kiosk.languages', 'kiosk.default_language') + allowed)}")
    if not body:
        raise CentralConfigError(f"{path}: nothing to push")
    for key, value in _floats(data):
        if not math.isfinite(value):      # TOML's inf and nan, or a number past a double's range
            raise CentralConfigError(f"must be a finite number, got {value}", key=key, path=str(path))
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise CentralConfigError(f"{path}: {e}; write times and dates as strings like \"20:30\"") from None
    size = len(codec.dumps({"version": protocol.MAX_CONFIG_VERSION, **body}))       # its longest version
    if size > pushed.MAX_CONFIG_BYTES:          # else a ProtocolError when encoded: exit 1, no file named
        raise CentralConfigError(f"{path}: the config it makes is {size} bytes, and a kiosk takes one of at most "
                                 f"1 MiB ({pushed.MAX_CONFIG_BYTES} bytes): make it smaller")
    return PushFile(path, text, data, body)


def _floats(value: Any, key: str = "") -> Iterator[tuple[str, float]]:
    """Every float in a parsed file, with its dotted key ('ui.thank_you_s', 'questions[0].x')."""
    if isinstance(value, float):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _floats(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _floats(v, f"{key}[{i}]")


def validate_for(push: PushFile, kiosk_id: str, site_id: str) -> KioskConfig:
    """Check the push makes a valid kiosk config (kiosk.config rules; errors name key and line),
    all but those that need the kiosk's wiring, which the centre does not know: the kiosk checks
    those on receipt and refuses a push its buttons cannot answer (shown in `fleet`)."""
    mapping = copy.deepcopy(push.data)
    mapping["kiosk"] = {**mapping.get("kiosk", {}), "id": kiosk_id, "site": site_id}
    return parse_config(mapping, text=push.text, path=push.path, on_device=False)


def answered_questions(db: Database, push: PushFile, cfg: KioskConfig) -> dict[tuple[str, int], questions.Answered]:
    """`questions.answered` for each question the push defines: read before the push's
    transaction, so the scans of the answers do not hold SQLite's write lock."""
    if "questions" not in push.body:
        return {}
    return {(q.id, q.version): questions.answered(db, q.id, q.version, q.scale, q.audience) for q in cfg.questions}


def define_questions(db: Database, push: PushFile, cfg: KioskConfig, now: datetime,
                     force: bool = False, seen: Mapping[tuple[str, int], questions.Answered] | None = None,
                     ) -> dict[str, int]:
    """The questions a push carries become the centre's definitions (central.questions): from
    now on an answer to one of them that disagrees is held on its kiosk. A version the centre
    defined before with another scale or audience refuses the push, and so does a first
    definition that most stored answers contradict, unless `force`. Returns, per question
    version, the stored answers that disagree (they stay as they are). The caller holds every
    question's writer lock already (`config_push_store.record`: all in their order)."""
    if "questions" not in push.body:
        return {}
    return {f"{q.id} v{q.version}": questions.define(db, q.id, q.version, q.scale, q.audience, dict(q.text), now,
                                                     force=force, seen=(seen or {}).get((q.id, q.version)))
            for q in cfg.questions}


@dataclass(frozen=True)
class Versions:
    """What a push gives each target: `next`, kiosk: its version; `skipped`, kiosk: why it gets none."""
    next: dict[str, int]
    skipped: dict[str, str]


def next_versions(db: Database, kiosk_ids: Sequence[str]) -> Versions:
    """`plan_versions` from what the centre pushed each kiosk and what each reported applied."""
    marks = placeholders(db, len(kiosk_ids))
    pushed = highest_pushed(db, kiosk_ids)
    applied = dict(db.execute_sql(f"SELECT kiosk_id, config_version FROM kiosk_status WHERE kiosk_id IN ({marks})",
                                  list(kiosk_ids)).fetchall())
    return plan_versions(kiosk_ids, pushed, applied)


def highest_pushed(db: Database, kiosk_ids: Sequence[str], *, sent: bool = False) -> dict[str, int]:
    """kiosk: the highest version the centre recorded a push of to it (none: not there); `sent`:
    of those given to the broker (`config_push.sent_at`)."""
    return dict(db.execute_sql(f"SELECT kiosk_id, MAX(version) FROM config_push WHERE kiosk_id IN"
                               f" ({placeholders(db, len(kiosk_ids))})" + (" AND sent_at IS NOT NULL" if sent else "")
                               + " GROUP BY kiosk_id", list(kiosk_ids)).fetchall())


def plan_versions(kiosk_ids: Sequence[str], pushed: Mapping[str, int | None],
                  applied: Mapping[str, int | None]) -> Versions:
    """Per kiosk: one more than the highest version it may run: pushed to it, reported applied
    by it, or the shipped kiosk.toml's (a kiosk that never reported runs that one, and would take
    a push at its version for the config it already has). A kiosk that may run the highest
    version there is can take no push: it is skipped, with why, and the others get theirs (its
    kiosk.toml may say so, or the kiosk report so: one kiosk must not stop a site's push)."""
    versions, skipped = {}, {}
    for k in kiosk_ids:
        was_pushed, runs = pushed.get(k) or 0, applied.get(k) or 0
        highest = max(was_pushed, runs, protocol.SHIPPED_CONFIG_VERSION)
        if highest < protocol.MAX_CONFIG_VERSION:
            versions[k] = highest + 1
        elif runs >= was_pushed:
            known = f"the centre pushed it version {was_pushed} at most" if was_pushed else "the centre never pushed it one"
            skipped[k] = (f"it reports running config version {runs}, the highest a config version can be, so no "
                          f"push can go above it ({known}); see to its kiosk.toml's config_version on the device")
        else:
            skipped[k] = (f"the centre pushed it config version {was_pushed} already, the highest a config version "
                          "can be, so no push can go above it")
    return Versions(versions, skipped)


def site_pushes_missed(db: Database, kiosk_id: str, site_id: str, *, moved: bool = False) -> list[str]:
    """The site's other active kiosks that got a config push after `kiosk_id`'s last one (or it
    never got one; `moved` to the site: its pushes were for its former site, none counts): a
    kiosk added to a site, or moved to it, runs its own kiosk.toml (or its former site's push)
    until it is pushed the site's. Nothing records "a site's config" (a push goes to the kiosks
    of the moment), so `kiosk add` and `kiosk move` say so (a review: a kiosk added later ran the
    shipped questions beside its site's pushed ones, and nothing said it)."""
    p = db.param
    own = None if moved else db.execute_sql(f"SELECT MAX(pushed_at) FROM config_push WHERE kiosk_id = {p}",
                                            (kiosk_id,)).fetchone()[0]
    rows = db.execute_sql(
        f"SELECT c.kiosk_id, MAX(c.pushed_at) FROM config_push c JOIN kiosk k ON k.id = c.kiosk_id"
        f" WHERE k.site_id = {p} AND k.active = {p} AND c.kiosk_id <> {p} GROUP BY c.kiosk_id ORDER BY c.kiosk_id",
        (site_id, True, kiosk_id)).fetchall()
    return [k for k, at in rows if own is None or at > own]


def was_pushed(db: Database, kiosk_id: str) -> bool:
    """Whether the centre ever pushed a config to `kiosk_id`."""
    return db.execute_sql(f"SELECT 1 FROM config_push WHERE kiosk_id = {db.param} LIMIT 1", (kiosk_id,)).fetchone() is not None


def targets(db: Database, kiosk_id: str | None, site_id: str | None) -> list[tuple[str, str]]:
    """[(kiosk_id, site_id)] the push goes to."""
    if kiosk_id:
        k = registry.kiosk(db, kiosk_id)
        if k is None:
            raise CentralConfigError(f"unknown kiosk {kiosk_id!r} (kiosk-central kiosk add)")
        if not k["active"]:         # as --site leaves it out: its broker user is gone, the config would wait unread
            raise CentralConfigError(f"kiosk {kiosk_id!r} is deactivated (kiosk-central kiosk add {kiosk_id} "
                                     f"--site {k['site_id']} --rotate-password brings it back)")
        return [(kiosk_id, k["site_id"])]
    if registry.site(db, site_id) is None:
        raise CentralConfigError(f"unknown site {site_id!r} (kiosk-central site add)")
    kiosks = registry.kiosks_of_site(db, site_id)
    if not kiosks:
        raise CentralConfigError(f"site {site_id!r} has no active kiosks")
    return [(k, site_id) for k in kiosks]


@dataclass(frozen=True)
class Publication:
    """What became of one retained publish. `problem`: None when the broker confirmed it, else
    what went wrong; `taken`: whether the broker may hold it now. Only a refusal (a PUBACK with a
    failure reason code) says it does not: a message whose PUBACK did not come, or that paho
    could not send when it was published, may still have reached it or go out on a reconnect."""
    topic: str
    problem: str | None = None
    taken: bool = True


def publish_each_retained(settings, messages: Sequence[tuple[str, bytes]],
                          timeout_s: float = 15.0) -> list[Publication]:
    """Connect, publish each message retained at QoS 1, wait (`timeout_s` in all) for every
    PUBACK, disconnect; what became of each message, in order. CentralConfigError, with nothing
    published, when the broker cannot be reached or refuses the connection."""
    from server_sync.ingest import make_client
    client = make_client(settings, manual_ack=False)
    connected = threading.Event()
    result: dict[str, Any] = {}

    def on_connect(c, userdata, flags, reason_code, properties) -> None:
        result["rc"] = reason_code
        connected.set()

    def on_publish(c, userdata, mid, reason_code, properties) -> None:
        acked[mid] = reason_code

    acked: dict[int, Any] = {}
    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(settings.host, settings.port, keepalive=30)
    except OSError as e:
        raise CentralConfigError(f"cannot reach the broker at {settings.host}:{settings.port}: {e}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise CentralConfigError(f"no answer from the broker at {settings.host}:{settings.port}")
        if result["rc"].is_failure:
            raise CentralConfigError(f"the broker refused the connection: {result['rc']}")
        infos = [client.publish(topic, payload, qos=1, retain=True) for topic, payload in messages]
        deadline = time.monotonic() + timeout_s
        return [_publication(topic, info, acked, deadline) for (topic, _p), info in zip(messages, infos)]
    finally:
        client.disconnect()
        client.loop_stop()


def _publication(topic: str, info, acked: Mapping[int, Any], deadline: float) -> Publication:
    try:
        info.wait_for_publish(max(0.0, deadline - time.monotonic()))
    except (RuntimeError, ValueError) as e:         # the connection was lost (paho's words)
        return Publication(topic, f"not confirmed: {e}")
    if not info.is_published():
        return Publication(topic, "not confirmed in time")
    rc = acked.get(info.mid)
    if rc is not None and rc.is_failure:
        return Publication(topic, f"refused: {rc}", taken=False)
    return Publication(topic)


def publish_retained(settings, messages: Sequence[tuple[str, bytes]], timeout_s: float = 15.0,
                     what: str = "config") -> None:
    """publish_each_retained, raising CentralConfigError for the first message the broker did
    not confirm. `what`: the kind of topic, as the errors name it (config, status)."""
    for p in publish_each_retained(settings, messages, timeout_s):
        if p.problem:
            raise CentralConfigError(f"the {what} publish on {p.topic} was {p.problem}"
                                     f"{acl_hint(settings, p)}")


def acl_hint(settings, publication: Publication) -> str:
    """What to check when the broker refused a publish."""
    if not (publication.problem or "").startswith("refused"):
        return ""
    return f" (does the broker's ACL let user {settings.username!r} write {publication.topic}?)"


def failed_push(settings, messages: Sequence[tuple[str, str, int, bytes]],
                publications: Sequence[Publication], skipped: Mapping[str, str] | None = None,
                superseded: Sequence[str] = ()) -> str | None:
    """What an operator must know of a push that did not go to every target: which kiosks it
    skipped (`plan_versions`) and which the broker did not confirm (and why), which got it, and
    how to finish; None when it went to all. `superseded`: the kiosks it was recorded for and
    not sent to, a push recorded after it sent there already (`config_push_store.send`)."""
    failed = [(k, v, p) for (k, _t, v, _b), p in zip(messages, publications) if p.problem]
    if not failed and not skipped:
        return None
    said = "; ".join([f"no push to kiosk {k}: {why}" for k, why in sorted((skipped or {}).items())]
                     + [f"config version {v} to kiosk {k} was {p.problem}{acl_hint(settings, p)}" for k, v, p in failed])
    missed = [k for k, _v, p in failed if not p.taken]
    unsure = [k for k, _v, p in failed if p.taken]
    got = [k for (k, *_), p in zip(messages, publications) if p.problem is None]
    if len(missed) == len(messages) and not superseded:
        return f"{said}. Nothing was pushed or recorded."
    parts = [said + "."]
    if got:
        parts.append(f"{_kiosks(got, 'Kiosk')} got it: recorded.")
    if superseded:
        parts.append(f"{_kiosks(superseded, 'Kiosk')} got a push recorded after it already.")
    if unsure:
        parts.append(f"{_kiosks(unsure, 'Kiosk')} may have it: recorded, so the next push goes above that version.")
    if missed:
        parts.append(f"Once that is fixed, push again to {_kiosks(missed)} (config push --kiosk ID FILE).")
    return " ".join(parts)


def _kiosks(ids: Sequence[str], word: str = "kiosk") -> str:
    return f"{word}{'' if len(ids) == 1 else 's'} {', '.join(ids)}"


def kept_payload(payload: bytes) -> str:
    """A pushed config as the centre's record of it (`config_push`) keeps it: the staff roster
    (`privacy.staff_names`, the names the kiosk masks in comments) as "[name]" each. The kiosk
    needs the names; the record only that it had so many (the roster was kept at the centre
    for ever, every former employee's name with it: a privacy review)."""
    config = json.loads(payload)
    names = (config.get("privacy") or {}).get("staff_names")
    if not isinstance(names, list):
        return payload.decode()
    config["privacy"] = dict(config["privacy"], staff_names=["[name]"] * len(names))
    return json.dumps(config, ensure_ascii=False, separators=(",", ":"))


def config_messages(push: PushFile, versions: Mapping[str, int], prefix: str = "") -> list[tuple[str, str, int, bytes]]:
    """[(kiosk_id, topic, version, payload)] for each target."""
    return [(k, protocol.config_topic(k, prefix), v, protocol.encode_config(v, push.body))
            for k, v in sorted(versions.items())]
