"""A config push in the central store, in two transactions (`kiosk-central config push`).

`record` defines the push's questions and records each kiosk's version, and commits before
anything is published: a push is recorded wherever the broker may hold it, whatever fails after
(published inside the transaction, a connection lost before the commit rolled the record back:
the kiosks ran a config the centre had no record of, and the next push was given the same
version, which they refused as not newer; a review). `send` publishes it, marks it sent where
the broker may hold it (`config_push.sent_at`), then forgets the kiosks the broker refused it
for, and the whole push (its versions, the definitions it made) when the broker took it for none
or was not reached. A failure between the two, or one that ends the send after the broker took
it and before its commit, leaves a version recorded and not marked sent: safe for that push (the
next push to that kiosk goes above it), though a push recorded before it and sent after it then
stands in its place at the broker until the next push.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Sequence

from peewee import Database

from kiosk.config import KioskConfig
from server_sync import config_push
from server_sync.central import questions, registry
from server_sync.central.dialect import placeholders, time_param, writer_locks
from server_sync.central.intake import kiosk_lock
from server_sync.config_push import Publication, PushFile
from server_sync.exc import CentralConfigError

Message = tuple[str, str, int, bytes]          # (kiosk id, topic, version, payload)


@dataclass(frozen=True)
class Recorded:
    """What `record` stored (or, for a dry run, would have): each kiosk's message, the kiosks
    skipped and why (`config_push.plan_versions`), the stored answers that disagree per question
    version defined, and what `send` needs to take the push back or keep its definitions (the
    versions `defined` at `at`; what they were before is in `pushed_definition`)."""
    messages: list[Message]
    skipped: dict[str, str]
    disagreeing: dict[str, int]
    defined: list[questions.Key]
    at: datetime


MOVES = 5                  # times a --kiosk push looks again for a kiosk moved as it locked its site


class _Moved(Exception):
    """The pushed kiosk is at another site than the one whose lock the push took."""

    def __init__(self, site_id: str) -> None:
        super().__init__(site_id)
        self.site_id = site_id


def record(db: Database, push: PushFile, kiosk_id: str | None, site_id: str | None,
           checked: Mapping[tuple[str, str], KioskConfig], *, seen: Mapping[questions.Key, questions.Answered],
           force: bool = False, prefix: str = "", keep: bool = True) -> Recorded:
    """Define the push's questions and record its version for each target kiosk (`--kiosk
    kiosk_id` or `--site site_id`, as `config_push.targets`), in one transaction: committed
    (`keep`), else rolled back (a dry run). `checked`: the file validated for the targets read
    before it (`config_push.validate_for`), by (kiosk, site). Raises CentralConfigError, nothing
    kept, when every kiosk is skipped."""
    site_read = next(iter(checked))[1]
    for _ in range(MOVES):
        try:
            return _record(db, push, kiosk_id, site_id, site_read, checked, seen=seen, force=force, prefix=prefix,
                           keep=keep)
        except _Moved as moved:
            site_read = moved.site_id
    raise CentralConfigError(f"kiosk {kiosk_id!r} was moved to another site each time the push began; push again")


def locked_targets(db: Database, kiosk_id: str | None, site_id: str | None, site_read: str) -> list[tuple[str, str]]:
    """`config_push.targets` inside the push's transaction, under the writer locks that keep
    them so until its commit: the site's (`registry.site_lock`: no kiosk comes to it meanwhile,
    `kiosk add` and `kiosk move` take it), then each kiosk's (`kiosk deactivate` and `kiosk
    move` take it: one under way is waited for, and the kiosks read again). Read before the
    transaction, they were pushed as they were: a kiosk added meanwhile got nothing and was not
    told, one deactivated was pushed to (a review). Raises _Moved when the kiosk of a `--kiosk`
    push is at another site than `site_read` (the lock taken is not its site's)."""
    site = site_id or site_read

    def read() -> list[tuple[str, str]]:
        found = config_push.targets(db, kiosk_id, site_id)
        if found[0][1] != site:
            raise _Moved(found[0][1])
        return found

    writer_locks(db, [registry.site_lock(site)])
    writer_locks(db, [kiosk_lock(k) for k, _s in read()])
    return read()


def _record(db: Database, push: PushFile, kiosk_id: str | None, site_id: str | None, site_read: str,
            checked: Mapping[tuple[str, str], KioskConfig], *, seen: Mapping[questions.Key, questions.Answered],
            force: bool, prefix: str, keep: bool) -> Recorded:
    with db.atomic() as txn:
        kiosks = locked_targets(db, kiosk_id, site_id, site_read)
        cfg = next(iter(checked.values()))       # its questions: the same for every kiosk
        for target in kiosks:
            if target not in checked:            # come to the site since: the file is validated for it too
                config_push.validate_for(push, *target)
        at = datetime.now(timezone.utc).replace(tzinfo=None)
        keys = [(q.id, q.version) for q in cfg.questions] if "questions" in push.body else []
        writer_locks(db, [questions.lock_name(*k) for k in keys])     # before reading them
        questions.note_pushed(db, keys, at)                           # what taking it back puts back
        disagreeing = config_push.define_questions(db, push, cfg, at, force=force, seen=seen)
        versions = config_push.next_versions(db, [k for k, _ in kiosks])
        messages = config_push.config_messages(push, versions.next, prefix)
        if not messages:               # every target skipped: nothing defined or recorded
            raise CentralConfigError(config_push.failed_push(None, messages, [], versions.skipped))
        db.cursor().executemany(
            f"INSERT INTO config_push (kiosk_id, version, payload, pushed_at) VALUES ({placeholders(db, 4)})",
            [(k, v, config_push.kept_payload(payload), at) for k, _t, v, payload in messages])
        if not keep:
            txn.rollback()
    return Recorded(messages, versions.skipped, disagreeing, keys, at)


def push_lock(kiosk_id: str) -> str:
    """The writer lock a push is published to a kiosk under (`send`): one push at a time per
    kiosk. Not the kiosk's own (`intake.kiosk_lock`): a broker slow to answer would hold ingest."""
    return f"config-push:{kiosk_id}"


@dataclass(frozen=True)
class Sent:
    """What `send` did: the messages published (`messages`) and what became of each, in order
    (`publications`); kiosk: (its version, the later one) for each kiosk a push recorded after
    this one had been sent to already, so this one was not (`superseded`)."""
    messages: list[Message]
    publications: list[Publication]
    superseded: dict[str, tuple[int, int]]


def send(db: Database, settings, pushed: Recorded) -> Sent:
    """Publish each recorded config retained (`config_push.publish_each_retained`), under the
    kiosks' push locks, mark those the broker may hold sent (`config_push.sent_at`), and forget
    the kiosks the broker refused it for. A kiosk a later push was sent to already gets none
    (the broker keeps the last one retained: sent after it, this one would stand in its place
    for a kiosk that connects later). One only recorded does not stand this one aside: it may
    yet be refused, and the kiosk would get neither (a review); under the same lock it is sent
    after this one, or not at all. So the broker keeps, per kiosk, the highest version sent.
    Raises CentralConfigError, the push forgotten, when the broker took it for none or was not
    reached."""
    failure: CentralConfigError | None = None
    with db.atomic():
        writer_locks(db, [push_lock(k) for k, _t, _v, _p in pushed.messages])
        superseded = _superseded(db, pushed.messages)
        messages = [m for m in pushed.messages if m[0] not in superseded]
        try:
            publications = config_push.publish_each_retained(
                settings, [(t, payload) for _k, t, _v, payload in messages]) if messages else []
        except CentralConfigError as e:          # nothing published
            failure, publications = e, [Publication(t, f"not sent: {e}", taken=False) for _k, t, _v, _p in messages]
        now = time_param(db)(datetime.now(timezone.utc).replace(tzinfo=None))
        db.cursor().executemany(
            f"UPDATE config_push SET sent_at = {db.param} WHERE kiosk_id = {db.param} AND version = {db.param}",
            [(now, k, v) for (k, _t, v, _p), p in zip(messages, publications) if p.taken])
        refused = [m for m, p in zip(messages, publications) if not p.taken]
        if refused:
            forget(db, pushed, refused)
        if len(refused) < len(pushed.messages):          # not taken back: its definitions stand
            questions.keep_pushed(db, pushed.defined, pushed.at)
    if failure is not None and not superseded:
        raise failure
    if refused and len(refused) == len(pushed.messages):
        raise CentralConfigError(config_push.failed_push(settings, messages, publications, pushed.skipped))
    return Sent(messages, publications, superseded)


def _superseded(db: Database, messages: Sequence[Message]) -> dict[str, tuple[int, int]]:
    """kiosk: (its version, the highest sent) for each kiosk a push recorded after this one was
    sent to."""
    newest = config_push.highest_pushed(db, [k for k, _t, _v, _p in messages], sent=True)
    return {k: (v, newest[k]) for k, _t, v, _p in messages if newest.get(k, v) > v}


def forget(db: Database, pushed: Recorded, messages: Sequence[Message]) -> None:
    """Take back the push's record for these kiosks; for all of them, the definitions it gave too
    (`questions.undefine`: unless changed since), so nothing of it is left."""
    with db.atomic():
        db.cursor().executemany(f"DELETE FROM config_push WHERE kiosk_id = {db.param} AND version = {db.param}",
                                [(k, v) for k, _t, v, _p in messages])
        if len(messages) == len(pushed.messages):
            writer_locks(db, [questions.lock_name(*k) for k in pushed.defined])
            for key in pushed.defined:
                questions.undefine(db, key, pushed.at)
