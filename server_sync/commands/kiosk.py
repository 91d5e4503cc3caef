"""`kiosk-central kiosk add|deactivate|move|installs-on|list`: register a kiosk and give it a broker
credential, take both away again (its answers stay), move it, say the day it is to be installed,
list the register with what each kiosk had refused. (The fleet's health is `kiosk-central fleet`.)"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from server_sync.cli import existing_database_url
from server_sync.commands._argtypes import DAY_FORMAT, DAY_TIME_FORMAT, broker_host, day, day_time, topic_prefix
from server_sync.commands.ingest import add_broker_options, broker_settings
from server_sync.exc import CentralConfigError

if TYPE_CHECKING:
    from server_sync.central.tryouts import Recount

FAR_DAYS = 300          # an installation day further off is said to be far (`_warn_far`): a year mistyped


def add_parser(sub, common) -> None:
    p = sub.add_parser("kiosk", parents=[common], help="register kiosks (broker credential + ACL)")
    s = p.add_subparsers(dest="kiosk_command", metavar="ACTION", required=True)
    a = s.add_parser("add", parents=[common], help="register a kiosk and create its broker credential",
                     description="Registers the kiosk, writes its broker user to the mosquitto password file "
                                 "(a strong random password, printed once; a new file is made 0640), appends its "
                                 "ACL block (its site's alerts) to the ACL file, which must exist (it holds the "
                                 "shipped patterns every kiosk needs), and prints the [broker] settings for its "
                                 "kiosk.toml.")
    a.add_argument("id", metavar="ID", help="kiosk id (also its broker user name)")
    a.add_argument("--site", required=True, help="the site it stands in (kiosk-central site add first)")
    _broker_files(a)
    a.add_argument("--broker-host", type=broker_host, default=None, metavar="HOST",
                   help="broker host name the kiosk connects to, as in its TLS certificate (default: this host's "
                        "FQDN, refused when it is a loopback name such as localhost, which a kiosk cannot reach)")
    a.add_argument("--broker-port", type=int, default=8883, metavar="PORT", help="broker TLS port (default 8883)")
    a.add_argument("--prefix", type=topic_prefix, default="", metavar="P",
                   help="topic prefix before kundpuls/v1, if the fleet uses one")
    a.add_argument("--rotate-password", action="store_true",
                   help="the kiosk exists: issue a new broker password (the old one stops working on reload); "
                        "a deactivated kiosk is active again")
    a.add_argument("--installs-on", type=day, metavar="DAY",
                   help=f"the day ({DAY_FORMAT}, the site's) it is to be installed: not flagged "
                        "before it, and awaited while it does not report (default: it is expected now)")
    a.add_argument("--json", action="store_true", help="print the result as JSON (includes the password)")
    a.set_defaults(func=add)
    d = s.add_parser("deactivate", parents=[common], help="revoke a kiosk: broker user and ACL block removed, answers kept",
                     description="Marks the kiosk deactivated (its answers stay in the store), removes its broker "
                                 "user from the password file and its block from the ACL. Then make the broker "
                                 "read them (systemctl reload mosquitto): the kiosk is disconnected and cannot log "
                                 "in again; whatever still arrives from it is refused and counted. "
                                 "`kiosk add ID --site SITE --rotate-password` brings it back. With "
                                 "--clear-status it also clears the kiosk's retained status and its retained "
                                 "config (the staff roster of a push in it) on the broker (run it again after "
                                 "the reload: the disconnect publishes the kiosk's Last Will, retained).")
    d.add_argument("id", metavar="ID", help="kiosk id")
    _broker_files(d)
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    d.add_argument("--clear-status", action="store_true",
                   help="clear the kiosk's retained status and config on the broker (an empty retained message "
                        "on each topic, the MQTT way), as the centre's broker user: the options below")
    add_broker_options(d, password_flag="--broker-password-file")
    d.set_defaults(func=deactivate)
    m = s.add_parser("move", parents=[common], help="register a kiosk at another site (it moved, or was registered wrong)",
                     description="Registers the kiosk at SITE and gives its ACL block that site's alerts (then "
                                 "systemctl reload mosquitto). Answers already stored keep their site. Answers the "
                                 "kiosk holds because they named the site it now stands at go in after "
                                 "`kiosk refused retry` on the kiosk; so do those it recorded at the site it "
                                 "leaves until a day after the move. With --at the move is dated when the kiosk "
                                 "was carried over; for the site the kiosk is registered at already, --at dates its "
                                 "last move again (typed days before or after the kiosk moved).")
    m.add_argument("id", metavar="ID", help="kiosk id")
    m.add_argument("--site", required=True, help="the site it stands in now")
    m.add_argument("--at", type=day_time, metavar="TIME",
                   help=f"when it was carried over: {DAY_TIME_FORMAT} at SITE, or followed by UTC; in the past, "
                        "after its previous move (default: now)")
    m.add_argument("--acl-file", type=Path, default=Path("/etc/mosquitto/kundpuls.acl"), metavar="PATH",
                   help="mosquitto ACL file (default /etc/mosquitto/kundpuls.acl)")
    m.add_argument("--prefix", type=topic_prefix, default="", metavar="P",
                   help="topic prefix before kundpuls/v1, if the fleet uses one")
    m.add_argument("--json", action="store_true", help="print the result as JSON")
    m.set_defaults(func=move)
    i = s.add_parser("installs-on", parents=[common], help="the day a kiosk is to be installed (a rollout's kiosks "
                                                           "registered ahead)",
                     description="Until 08:00 on DAY at its site, a kiosk is never flagged (a Pi tried out "
                                 "ahead is the installer's), and one that does not report (not installed yet, or "
                                 "prepared, tried out and boxed) is awaited: listed by `fleet` (and the web app) "
                                 "with the day, not counted, and nobody is told of it. From then its silence counts: not heard from for 2 hours "
                                 "of the site's opening hours, it is flagged. What it recorded at its site before then is a "
                                 "tryout, kept but counted in no figure (answers stored already are decided "
                                 "again: how many is said on stderr). A DAY whose 08:00 has passed (a day cleared once "
                                 "the kiosk was installed, given back) is taken only for a kiosk heard since then, "
                                 "and sets aside what it recorded there before it.")
    i.add_argument("id", metavar="ID", help="kiosk id")
    i.add_argument("day", type=_day_or_none, metavar="DAY", help=f"{DAY_FORMAT}, or none (expected now)")
    i.add_argument("--json", action="store_true", help="print the result as JSON")
    i.set_defaults(func=installs_on)
    ls = s.add_parser("list", parents=[common], help="registered kiosks, active or not, and what each had refused",
                      description="Every registered kiosk: site, active or deactivated (and when), answers kept, "
                                  "and the messages the centre refused from it in the last 7 days (dead letters, "
                                  "kept or only counted).")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=list_kiosks)


def _broker_files(p: argparse.ArgumentParser) -> None:
    from server_sync.provision import DEFAULT_ACL_FILE, DEFAULT_PASSWORD_FILE
    p.add_argument("--password-file", type=Path, default=DEFAULT_PASSWORD_FILE, metavar="PATH",
                   help=f"mosquitto password file (default {DEFAULT_PASSWORD_FILE})")
    p.add_argument("--acl-file", type=Path, default=DEFAULT_ACL_FILE, metavar="PATH",
                   help=f"mosquitto ACL file (default {DEFAULT_ACL_FILE})")


def add(args: argparse.Namespace) -> int:
    from server_sync import provision
    from server_sync.central import registry
    from server_sync.central.db import connect
    from server_sync.config_push import site_pushes_missed, was_pushed
    from server_sync.protocol.codec import short

    if not 1 <= args.broker_port <= 65535:
        raise CentralConfigError(f"--broker-port must be 1-65535, got {args.broker_port}")
    host = args.broker_host or _this_host()
    _check_broker_files(args)
    db = connect(existing_database_url(args))
    password = provision.new_password()
    try:
        with _kiosk_transaction(db, args.id, args.site):
            reactivated = False
            if args.rotate_password:
                registry.check_id(args.id, "kiosk id")
                known = registry.kiosk(db, args.id)
                if known is None:
                    raise CentralConfigError(f"kiosk {args.id!r} does not exist; add it without --rotate-password")
                if known["site_id"] != args.site:
                    raise CentralConfigError(f"kiosk {args.id!r} is registered at site {known['site_id']!r}, "
                                             f"not {short(args.site)}")
                if not known["active"]:
                    registry.set_active(db, args.id, True, _now())
                    reactivated = True
            else:
                registry.add_kiosk(db, args.id, args.site, _now())
            seen, tried, when, away = (_set_day(db, args.id, args.installs_on) if args.installs_on
                                       else (None, None, "", 0))
            # The day it keeps, given now or before (a kiosk brought back keeps its day).
            installs_on = registry.kiosk(db, args.id)["installs_on"]
            # Inside the transaction: if the broker files cannot be written, the kiosk is not
            # registered. Both files were checked before; the password is written last, so a
            # refusal never leaves a new password in force that nobody was shown (an ACL block
            # without a password grants nothing, and the next `kiosk add` finds it there).
            appended = provision.ensure_acl(args.acl_file, args.id, args.site, args.prefix)
            provision.set_password(args.password_file, args.id, password)
            missed = site_pushes_missed(db, args.id, args.site)     # under the site's lock: no push meanwhile
            push_again = reactivated and was_pushed(db, args.id)
    finally:
        db.close()
    _tell_day(args.id, args.installs_on, seen, tried, when, away)
    toml = provision.kiosk_broker_toml(args.id, host, args.broker_port, args.prefix)
    if args.json:
        print(json.dumps({"kiosk_id": args.id, "site_id": args.site, "password": password,
                          "rotated": bool(args.rotate_password), "reactivated": reactivated,
                          "installs_on": installs_on,
                          "tryouts_set_aside": tried.set_aside if tried else 0,
                          "tryouts_counted_again": tried.counted_again if tried else 0,
                          "acl_appended": appended, "site_pushes_missed": missed,
                          "password_file": str(args.password_file), "acl_file": str(args.acl_file),
                          "broker_toml": toml}, indent=2))
        return 0
    _tell_pushes_missed(args.id, args.site, missed)
    print(f"kiosk {args.id} reactivated at site {args.site}, with a new broker password." if reactivated else
          f"kiosk {args.id} at site {args.site} has a new broker password." if args.rotate_password else
          f"kiosk {args.id} registered at site {args.site}.")
    if push_again:
        # `kiosk deactivate --clear-status` took its pushed config (and roster) off the broker.
        print(f"If it was deactivated with --clear-status, the broker holds no config for it: it runs the push it "
              f"saved (on a new card, its own kiosk.toml) until you push it again: kiosk-central config push "
              f"--kiosk {args.id} FILE")
    if args.installs_on:
        print(_day_said(args.id, args.installs_on, when))
    print(f"Broker user written to {args.password_file}"
          + (f", ACL block appended to {args.acl_file}" if appended else "")
          + ". Make the broker read them: systemctl reload mosquitto")
    print(f"\nOn the kiosk, /etc/kundpuls/kiosk.toml gets ({_provision_hint(host, args.broker_port, args.prefix)}):\n")
    print(toml)
    print(f"and its broker password goes to {provision.KIOSK_PASSWORD_FILE} (mode 0600, owner kundpuls),\n"
          "e.g. `provision.sh … --broker-password-stdin`. It is shown only now:\n")
    print(f"    {password}\n")
    if sys.stdout.isatty():
        print("(Copy it now; the password file keeps only a hash.)")
    return 0


def _provision_hint(host: str, port: int, prefix: str) -> str:
    """How provision.sh writes the [broker] table printed: every option it has for it (a port it
    was not told of left the kiosk on 8883), and what it has none for."""
    command = f"provision.sh --broker-host {host}" + (f" --broker-port {port}" if port != 8883 else "")
    return f"{command} does it" + (", but for topic_prefix: set that by hand" if prefix else "")


def _this_host() -> str:
    """This host's name, the broker host a kiosk is told when --broker-host is not given; refused
    when it names the kiosk's own machine there (`localhost` is what getfqdn finds on many hosts)."""
    from server_sync.program import hosts
    name, addresses = hosts.own_name()
    problem = hosts.loopback_problem(name, addresses)
    if problem:
        raise CentralConfigError(f"give --broker-host ({problem})")
    return name


def _check_broker_files(args: argparse.Namespace, *, existing: bool = False) -> None:
    """Refuse before anything changes when a broker file cannot be read or written, or is not
    there: the ACL always (provision.check_acl_file), the password file with `existing` (a
    command that takes a kiosk out of it)."""
    from server_sync import provision
    provision.check_password_file(args.password_file, existing=existing)
    provision.check_acl_file(args.acl_file)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def deactivate(args: argparse.Namespace) -> int:
    from server_sync import provision
    from server_sync.central import registry
    from server_sync.central.db import connect

    registry.check_id(args.id, "kiosk id")           # the argument first, then the files it names
    _check_broker_files(args, existing=True)
    # Read before anything changes: a wrong --broker-password-file must not leave half the work.
    settings = (broker_settings(args, f"kundpuls-deactivate-{os.getpid()}", "--broker-password-file")
                if args.clear_status else None)
    db = connect(existing_database_url(args))
    try:
        # Under the kiosk's writer lock: a push to it or its site (which takes it) is waited for,
        # or waits and then leaves it out.
        with _kiosk_transaction(db, args.id):
            known = registry.kiosk(db, registry.check_id(args.id, "kiosk id"))
            if known is None:
                raise CentralConfigError(f"no kiosk {args.id!r} is registered")
            if known["active"]:
                registry.set_active(db, args.id, False, _now())
            # Inside the transaction: if the broker files cannot be written, the kiosk stays
            # active (its credential still works, and the register says so).
            password_removed = provision.remove_password(args.password_file, args.id)
            acl_removed = provision.remove_acl(args.acl_file, args.id)
        answers = next((k["answers"] for k in registry.kiosks(db) if k["id"] == args.id), 0)
    finally:
        db.close()
    code = 0
    if known["active"] and not password_removed:
        # `kiosk add` gives every kiosk a broker user: none here means this is not the file the
        # broker reads, and there the credential still works. Said, and exit 1: this command is
        # often run because a kiosk was stolen.
        print(f"kiosk-central: warning: no broker user {args.id} in {args.password_file}: if the broker reads "
              f"another password file, the kiosk's credential still works there (give it with --password-file)",
              file=sys.stderr)
        code = 1
    cleared, config_cleared = _clear_retained(settings, args.id, args.prefix) if settings else (False, False)
    code = code or int(settings is not None and not (cleared and config_cleared))
    if args.json:
        print(json.dumps({"kiosk_id": args.id, "was_active": known["active"], "answers_kept": answers,
                          "password_removed": password_removed, "acl_block_removed": acl_removed,
                          "password_file": str(args.password_file), "acl_file": str(args.acl_file),
                          "status_cleared": cleared, "config_cleared": config_cleared}, indent=2))
        return code
    print(f"kiosk {args.id} {'deactivated' if known['active'] else 'was deactivated already'}; "
          f"its {answers} answer(s) stay in the central store.")
    removed = [f"its broker user from {args.password_file}"] if password_removed else []
    removed += [f"its ACL block from {args.acl_file}"] if acl_removed else []
    # Only a change asks for a reload, and so for the clearing after it (the reload disconnects
    # the kiosk, whose Last Will then stands retained again): run again, this command would
    # otherwise ask for both again, though nothing changed.
    if removed:
        print("Removed " + " and ".join(removed) + ". Make the broker read them: systemctl reload mosquitto "
              "(the kiosk is disconnected then).")
    else:
        print("It had no broker user or ACL block left: nothing changed in the broker's files.")
    print("Whatever still arrives from it (say through a store bridge) is refused and counted: kiosk-central kiosk list.")
    if cleared or config_cleared:
        what = "status and config are" if cleared and config_cleared else "status is" if cleared else "config is"
        print(f"Its retained {what} cleared on the broker" + (" (after the reload, its Last Will may stand there "
              "again: run this command with --clear-status once more)." if removed and cleared else "."))
    elif settings is None:
        print("Its last status and its last pushed config (the staff roster in it) stay retained on the broker "
              "(every ingestor reads the status at each start; the broker keeps both across restarts): "
              + ("after the reload, " if removed else "") + "clear them with --clear-status and the broker options.")
    return code


def _clear_retained(settings, kiosk_id: str, prefix: str) -> tuple[bool, bool]:
    """Publish an empty retained message on the kiosk's status and config topics: the broker
    forgets both (a hostile status would otherwise be handed to every ingestor at every start,
    and the last push's staff roster kept for a kiosk that reads it no more: no push can replace
    it, the kiosk being deactivated). The ingest ignores the empty status, a kiosk the empty
    config (it runs the push it saved). Whether each was cleared; what the broker refused is said
    on stderr."""
    from server_sync import protocol
    from server_sync.config_push import acl_hint, publish_each_retained
    topics = (("status", protocol.status_topic(kiosk_id, prefix)), ("config", protocol.config_topic(kiosk_id, prefix)))
    try:
        done = publish_each_retained(settings, [(topic, b"") for _what, topic in topics])
    except CentralConfigError as e:
        done = [None] * len(topics)
        problems = [str(e)] * len(topics)
    else:
        problems = [f"the publish was {p.problem}{acl_hint(settings, p)}" if p.problem else None for p in done]
    for (what, topic), problem in zip(topics, problems):
        if problem:
            print(f"kiosk-central: warning: the retained {what} on {topic} is not cleared: {problem}", file=sys.stderr)
    status, config = (problem is None for problem in problems)
    return status, config


def move(args: argparse.Namespace) -> int:
    from server_sync import provision
    from server_sync.central import registry
    from server_sync.central.db import connect
    from server_sync.config_push import site_pushes_missed, was_pushed

    acl_file = args.acl_file
    registry.check_id(args.id, "kiosk id")
    provision.check_acl_file(acl_file)
    db = connect(existing_database_url(args))
    now = _now()
    dated = None
    try:
        # Under the new site's writer lock and the kiosk's (its placement changes: a push to
        # either site is waited for, and sees it moved; ingest judges its answers by its stays);
        # if the ACL cannot be written, the kiosk stays where it was.
        with _kiosk_transaction(db, args.id, args.site):
            known = registry.kiosk(db, args.id)
            at = None if args.at is None else args.at.in_utc(registry.site_zones(db, [args.site])[args.site])
            if at is not None and known is not None and known["site_id"] == args.site:
                dated = _date_move(db, args.id, at, now, known["installs_on"])
            forgotten = known["installs_on"] if known and known["site_id"] != args.site else None
            before = registry.move_kiosk(db, registry.check_id(args.id, "kiosk id"), args.site, now, moved_at=at)
            had_block = before != args.site and provision.remove_acl(acl_file, args.id)
            if before != args.site:
                provision.ensure_acl(acl_file, args.id, args.site, args.prefix)
            moved = before != args.site
            missed = site_pushes_missed(db, args.id, args.site, moved=moved)
            # pushed for its former site, to a site whose kiosks run none: it still asks that site's questions
            carries_old_push = moved and not missed and was_pushed(db, args.id)
    finally:
        db.close()
    when = f"{at or now:%Y-%m-%d %H:%M}"
    if args.json:
        print(json.dumps({"kiosk_id": args.id, "from_site": before, "site_id": args.site, "acl_file": str(acl_file),
                          "moved": moved, "moved_at": when if moved or dated else None,
                          "was": None if dated is None else f"{dated.moved_out_at:%Y-%m-%d %H:%M}",
                          "site_pushes_missed": missed, "runs_former_sites_push": carries_old_push}))
    elif dated is not None:
        print(f"kiosk {args.id}'s move from site {dated.site_id} to {args.site} is now dated {when} UTC (it was "
              f"{dated.moved_out_at:%Y-%m-%d %H:%M} UTC): what it recorded at {dated.site_id} until a day after "
              f"that goes in after `kiosk refused retry` on the kiosk.")
    elif before == args.site:
        print(f"kiosk {args.id} is at site {args.site} already; nothing changed.")
    else:
        print(f"kiosk {args.id} moved from site {before} to {args.site}{'' if at is None else f' at {when} UTC'}; "
              f"its ACL block in {acl_file} now reads {args.site}'s alerts: systemctl reload mosquitto.")
        print("Answers the kiosk holds because they named this site go in after `kiosk refused retry` on the kiosk.")
        if forgotten:
            print(f"Its installation day {forgotten} was {before}'s and is forgotten: give one for {args.site} with "
                  f"`kiosk installs-on {args.id} DAY` if it is still to be installed.")
        _tell_pushes_missed(args.id, args.site, missed)
        if carries_old_push:
            print(f"{args.id} runs the config the centre last pushed to it, before this move; {args.site}'s kiosks"
                  f" run none: push it what {args.site} should ask (kiosk-central config push --kiosk {args.id} FILE).")
    if before != args.site and not had_block:
        print(f"kiosk-central: warning: {acl_file} had no ACL block for {args.id} (one for {args.site} was added): "
              f"check that this is the file the broker reads", file=sys.stderr)
    return 0


def _date_move(db, kiosk_id: str, at: datetime, now: datetime, day: str | None):
    """Date the kiosk's last move `at` (`registry.date_move`); returns the stay it ended as it was.
    Its placement moves along, so a day it is to be installed on decides again for its answers
    (`central.tryouts`), said on stderr. Call holding its writer lock (`_kiosk_transaction`)."""
    from server_sync.central import registry, tryouts
    from server_sync.web.marks import bump

    stay = registry.date_move(db, kiosk_id, at, now)
    if day:
        counted = tryouts.recount(db, kiosk_id)
        if counted.changed:
            bump(db, {counted.site_id}, now.replace(tzinfo=timezone.utc))
        _tell_recount(kiosk_id, day, counted, "to come")
    return stay


def _tell_pushes_missed(kiosk_id: str, site_id: str, missed: list[str]) -> None:
    """Say that the site's other kiosks run a config pushed after any to this one
    (config_push.site_pushes_missed)."""
    if missed:
        print(f"{site_id}'s kiosk{'s' if len(missed) > 1 else ''} {', '.join(missed)} run{'' if len(missed) > 1 else 's'}"
              f" a config the centre pushed after any push to {kiosk_id}, which goes on with its own kiosk.toml (or"
              f" an older push) until you push it the same file: kiosk-central config push --kiosk {kiosk_id} FILE")


def _set_day(db, kiosk_id: str, day: str | None) -> tuple[str | None, Recount, str, int]:
    """Give the kiosk its installation day (None: none) and decide again which of its stored
    answers are tryouts (`central.tryouts`); call holding its writer lock (`_kiosk_transaction`):
    no batch of it is stored meanwhile. Open web pages show the figures that changed at once.
    Returns when it was last heard if the day, still to come, hides its silence (None: it does
    not, or it was never heard: `registry.set_installs_on`), the recount, and when the day is:
    `to come` (its 08:00 at the site), `today` (its 08:00 passed) or `past`, and how many days
    from the site's today it is."""
    from server_sync.central import registry, tryouts
    from server_sync.central.installation import install_start
    from server_sync.web.marks import bump

    now = datetime.now(timezone.utc)
    seen = registry.set_installs_on(db, kiosk_id, day, now.replace(tzinfo=None))
    counted = tryouts.recount(db, kiosk_id)
    if counted.changed:
        bump(db, {counted.site_id}, now)
    zone = registry.site_zones(db, [counted.site_id])[counted.site_id]
    start = install_start(day, zone)
    when = "to come" if start is not None and start > now else \
        "today" if day == now.astimezone(zone).date().isoformat() else "past"
    away = (date.fromisoformat(day) - now.astimezone(zone).date()).days if day else 0
    return (seen if when == "to come" else None), counted, when, away


def _day_said(kiosk_id: str, day: str, when: str) -> str:
    """What the day means, by when it is (`_set_day`)."""
    from server_sync.central.installation import INSTALL_HOUR

    hour = f"{INSTALL_HOUR:02d}:00"
    if when == "to come":
        return (f"kiosk {kiosk_id} is to be installed on {day} (the site's day): not flagged before {hour} "
                "that day, and what it records at its site until then is a tryout.")
    return (f"kiosk {kiosk_id} is installed {'today, ' if when == 'today' else 'on '}{day} (the site's day"
            f"{'' if when == 'today' else ', past'}): what it recorded at its site since it was placed there "
            f"and before {hour} that day is a tryout.")


@contextmanager
def _kiosk_transaction(db, kiosk_id: str, site_id: str | None = None) -> Iterator[None]:
    """A transaction holding the kiosk's writer lock from its start (ingest's: `intake.kiosk_lock`;
    on SQLite the write lock at once, so a read before a write cannot fail busy), and before it
    that of the site it comes to, `site_id` (`registry.site_lock`: a config push to the site's
    kiosks takes it)."""
    from server_sync.central.dialect import group_transaction, writer_locks
    from server_sync.central.intake import kiosk_lock
    from server_sync.central.registry import site_lock

    with group_transaction(db, [site_lock(site_id)] if site_id else []):
        writer_locks(db, [kiosk_lock(kiosk_id)])
        yield


def _tell_recount(kiosk_id: str, day: str | None, tried: Recount | None, when: str) -> None:
    """Say on stderr (read beside JSON too) how many stored answers the day set aside or counted
    again: figures already read change. A day begun (`_set_day`'s `when`) that sets answers aside
    is given a warning: the kiosk was in service (a mistyped id would hide a store's figures)."""
    from server_sync.central.installation import INSTALL_HOUR

    if tried is None:
        return
    if tried.set_aside:
        print(f"kiosk-central: {'' if when == 'to come' else 'warning: '}{tried.set_aside} answer(s) kiosk "
              f"{kiosk_id} recorded before {day} "
              f"{INSTALL_HOUR:02d}:00 are set aside as a tryout: kept, not counted in its site's figures",
              file=sys.stderr)
    if tried.counted_again:
        print(f"kiosk-central: {tried.counted_again} answer(s) of kiosk {kiosk_id} set aside as a tryout "
              "count again in its site's figures", file=sys.stderr)


def _tell_day(kiosk_id: str, day: str | None, seen: str | None, tried: Recount | None, when: str,
              away: int) -> None:
    """Say on stderr what a new installation day changes (`_set_day`'s figures): a day on a kiosk
    in service, a day far off, the answers decided again."""
    _warn_in_service(kiosk_id, day, seen)
    _warn_far(kiosk_id, day, away)
    _tell_recount(kiosk_id, day, tried, when)


def _warn_far(kiosk_id: str, day: str | None, away: int) -> None:
    """A day more than FAR_DAYS from the site's today (2027 typed for 2026?) keeps the kiosk
    unwatched and its answers out of every figure until then: said on stderr, with how far."""
    if day and away > FAR_DAYS:
        print(f"kiosk-central: warning: {day} is {away} days away: until then kiosk {kiosk_id} is not flagged "
              "and what it records is counted in no figure (a mistyped year?)", file=sys.stderr)


def _warn_in_service(kiosk_id: str, day: str | None, seen: str | None) -> None:
    """A day on a kiosk that has reported (a mistyped id? one brought back in service?) hides its
    silence until then: said on stderr."""
    from server_sync.central.installation import INSTALL_HOUR
    if day and seen:
        print(f"kiosk-central: warning: kiosk {kiosk_id} has reported (last heard {seen} UTC): until {day} "
              f"{INSTALL_HOUR:02d}:00 it is not flagged and its answers are tryouts; if it is in service, give none",
              file=sys.stderr)


def _day_or_none(text: str) -> str | None:
    return None if text.strip().lower() == "none" else day(text)


def installs_on(args: argparse.Namespace) -> int:
    from server_sync.central import registry
    from server_sync.central.db import connect

    registry.check_id(args.id, "kiosk id")
    db = connect(existing_database_url(args))
    try:
        with _kiosk_transaction(db, args.id):
            seen, tried, when, away = _set_day(db, args.id, args.day)
    finally:
        db.close()
    _tell_day(args.id, args.day, seen, tried, when, away)
    if args.json:
        print(json.dumps({"kiosk_id": args.id, "installs_on": args.day, "tryouts_set_aside": tried.set_aside,
                          "tryouts_counted_again": tried.counted_again}))
    elif args.day:
        print(_day_said(args.id, args.day, when))
    else:
        print(f"kiosk {args.id} has no installation day: silent for 2 open hours, it is flagged.")
    return 0


def list_kiosks(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from server_sync.central import conflicts, dead_letters, registry
    from server_sync.central.db import connect
    from server_sync.protocol.codec import printable

    db = connect(existing_database_url(args))
    try:
        rows = registry.kiosks(db)
        week = (_now() - timedelta(days=6)).date().isoformat()
        refused = dead_letters.counts(db, week)
        conflicted = conflicts.counts(db, week)
    finally:
        db.close()
    for r in rows:
        r["refused_7d"] = refused.get(r["id"], {"messages": 0, "bytes": 0, "kept": 0})
        # Events whose id was already stored with other content: a kiosk re-sending ids it used.
        r["conflicts_7d"] = conflicted.get(r["id"], conflicts.NONE)
    if args.json:
        print(json.dumps({"kiosks": rows}, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no kiosks yet: kiosk-central kiosk add ID --site SITE")
        return 0
    print(f"{'kiosk':<16} {'site':<18} {'state':<12} {'answers':>8} {'refused 7d':>10} {'conflicts 7d':>12}"
          "  last refusal")
    for r in rows:
        state = "active" if r["active"] else "deactivated"
        ref = r["refused_7d"]
        print(f"{r['id']:<16} {r['site_id']:<18} {state:<12} {r['answers']:>8} {ref['messages']:>10}"
              f" {r['conflicts_7d']['conflicts']:>12}  {printable(ref.get('last_reason') or '', 120)}")
    print(f"{len(rows)} kiosks, {sum(not r['active'] for r in rows)} deactivated")
    return 0
