"""The actions log: what a site changed and when (`kiosk-central action add`), for the reports'
before/after comparison. Validates input and stores (`add`); `evaluated` lists the actions with
the same effect the report shows (`kiosk-central action list`, the web app, the alert→action
workflow); how an effect is judged lives in `effects` (pure), the reads in `queries`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.analysis.days import parse_day
from server_sync.analysis.privacy import protect_action
from server_sync.exc import CentralConfigError, FieldError

MAX_NOTE = 2000
MAX_DAYS_AHEAD = 366         # an action may be logged ahead of its first day, not a year ahead


def add(db: Database, site_id: str, question_id: str, action_date: str, note: str,
        now: datetime | None = None, by: str | None = None) -> dict:
    """Store an action; `by`: who logged it (`created_by`; None: not known)."""
    action_date = parse_day(action_date, "--date", "date")
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    # Planned a little ahead is fine (its effect stays pending); a year ahead is a typo.
    latest = (created.date() + timedelta(days=MAX_DAYS_AHEAD)).isoformat()
    if action_date > latest:
        raise FieldError(f"--date {action_date} is more than {MAX_DAYS_AHEAD} days ahead (latest {latest})", "date",
                         "after", value=action_date, last=latest)
    note = (note or "").strip()
    if not note:
        raise FieldError("--note must say what the site changed", "note", "empty")
    if len(note) > MAX_NOTE:
        raise FieldError(f"--note is {len(note)} characters; keep it under {MAX_NOTE}", "note", "too_long",
                         length=len(note), most=MAX_NOTE)
    p = db.param
    if not db.execute_sql(f"SELECT 1 FROM site WHERE id = {p}", (site_id,)).fetchone():
        raise CentralConfigError(f"unknown site {site_id!r}")
    if not db.execute_sql(f"SELECT 1 FROM question WHERE id = {p}", (question_id,)).fetchone():
        raise FieldError(f"unknown question {question_id!r}", "question", "not_offered", value=question_id)
    with db.atomic():
        # Its own id from the INSERT: the site's highest read after it was, on PostgreSQL, another
        # action committed meanwhile (two "new action" forms at once), whose row the caller then
        # filled in (a review).
        new_id = db.execute_sql(f"INSERT INTO action (site_id, question_id, action_date, note, created_at, created_by)"
                                f" VALUES ({p}, {p}, {p}, {p}, {p}, {p}) RETURNING id",
                                (site_id, question_id, action_date, note, created, by)).fetchall()[0][0]
    return {"id": int(new_id), "site_id": site_id, "question_id": question_id, "date": action_date, "note": note,
            "created_at": created.isoformat(sep=" "), "created_by": by}


def evaluated(db: Database, site_ids: tuple[str, ...] = (), *, today: date | None = None,
              now: datetime | None = None) -> list[dict]:
    """Logged actions (of `site_ids`, or all), each with its effect (`effects.action_effect`: the
    site against the rest of the chain, baseline before the dip, verdict `better`,
    `no_detectable_effect`, `worse`, `pending` or `too_little_data`); an employee question's as
    a report shows it (privacy.protect_action, at the centre's minimum group). `today`: the first
    day not yet over, for every action; without it each site's own date at `now` (default: the
    present)."""
    from server_sync.analysis import queries
    from server_sync.analysis.chain_report import centre_employee_group
    acts = queries.actions(db, queries.ReportFilter(tuple(site_ids)))
    days = today or site_dates(db, {a["site_id"] for a in acts}, now or datetime.now(timezone.utc))
    catalogue = queries.questions(db)
    out = with_effects(db, acts, catalogue, days)
    employee = [a for a in out if a.get("audience", catalogue.get(a["question_id"], {}).get("audience")) == "employee"]
    if employee:
        # The web app's actions pages, `action list` and the closing notices read no report.
        group = centre_employee_group(db)
        for a in employee:
            protect_action(a, group)
    return out


def site_dates(db: Database, site_ids: Iterable[str], now: datetime) -> dict[str, date]:
    """Each site's first day not yet over for its actions, at `now`: its own date in its zone
    (registry.site_todays: an action's after-window ends with the site's last local day, and
    UTC's date is a day ahead of a store west of UTC each evening, when a verdict would be given
    before that day's answers are in), but no later than the chain's earliest, since the control
    is the rest of the chain: a day still going on at a site further west had answers to come
    that would move a verdict already given (a review)."""
    from server_sync.central.registry import site_todays, time_zone
    own = {site: date.fromisoformat(day) for site, day in site_todays(db, site_ids, now).items()}
    at = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    # The chain's zones; one stored wrong is said on its own site's pages, and holds up no other.
    zones = [time_zone(name) for (name,) in db.execute_sql("SELECT DISTINCT timezone FROM site") if name]
    earliest = min((at.astimezone(zone).date() for zone in zones if zone is not None), default=None)
    return {site: day if earliest is None else min(day, earliest) for site, day in own.items()}


def with_effects(db: Database, acts: list[dict], catalogue: dict[str, dict],
                 today: date | Mapping[str, date]) -> list[dict]:
    """`acts` (rows of `queries.actions`) each with its `effects.action_effect` merged in; the one
    evaluation the report, `action list` and the web app share. All at once, by
    `effects_batch` (the plain `action_effect` one at a time is its reference). `today`: the
    first day not yet over, one for all or per site (`site_dates`).

    Each action is judged on the series (question, audience, scale) of the question's version in
    force on its day (`kind_on`), not on the question's current one: a question asked on another
    scale since (a new version) leaves its earlier actions on the scale they were taken on, and
    their windows count only that scale's answers (a change inside the after-window ends it,
    `kind_until`). `scale`, `audience` and `series_id` (the
    report's name of that series, chain_report.series_id) say which."""
    from server_sync.analysis import queries
    from server_sync.analysis.chain_report import series_id
    from server_sync.analysis.effects import LOOKBACK_DAYS, span
    from server_sync.analysis.effects_batch import ActionDays, action_effects
    from server_sync.central.registry import site_zones
    versions = queries.question_versions(db, {a["question_id"] for a in acts})
    began = queries.kinds_began(db, {(a["site_id"], a["question_id"]) for a in acts})
    zones = site_zones(db, {a["site_id"] for a in acts})
    kinds = {}
    for a in acts:
        current = catalogue.get(a["question_id"])
        found = kind_on(versions.get(a["question_id"], []), date.fromisoformat(a["date"]), zones[a["site_id"]],
                        began.get((a["site_id"], a["question_id"])))
        if found or current:
            kinds[a["id"]] = found or (current["audience"], current["scale"])
    site, chain = queries.action_arrays(db, acts, kinds, span)
    alert_days = queries.action_alert_days(db, acts, LOOKBACK_DAYS)
    days = [ActionDays(kinds.get(a["id"], ("", "smiley4"))[1], date.fromisoformat(a["date"]),
                       alert_days.get(a["id"]),
                       kind_until(versions.get(a["question_id"], []), date.fromisoformat(a["date"]),
                                  zones[a["site_id"]], began.get((a["site_id"], a["question_id"]))))
            for a in acts]
    todays = today if isinstance(today, date) else [today[a["site_id"]] for a in acts]
    out = []
    for a, effect in zip(acts, action_effects(days, site, chain, todays)):
        kind = kinds.get(a["id"])
        current = catalogue.get(a["question_id"])
        now_kind = (current["audience"], current["scale"]) if current else kind
        named = {} if kind is None else {"audience": kind[0], "scale": kind[1],
                                         "series_id": series_id(a["question_id"], kind, now_kind)}
        out.append(dict(a, **named, **effect))
    return out


Began = Mapping[tuple[str, str], date]       # (audience, scale) -> the site's first answer on it


def _starts(versions: list[dict], zone: ZoneInfo, began: Began | None) -> list[tuple[dict, date]]:
    """Each version in force at the site with the site-local day it came into force there. With
    the site's answers (`began`, `queries.kinds_began`: its first answer on each (audience,
    scale)), from them alone: a version none of the site's answers is on is not in force there,
    whatever the register holds. Defining a version at the centre changes nothing a kiosk asks
    until a config carrying it reaches the kiosk; taken as in force from its `first_seen`, a hand
    `question define` cut every running action of the question short, at every site, and judged
    the day's new actions on a scale nobody answered (a review). And answers a backlog brought
    after the register learnt the version count from their own day. At a site without answers on
    the question (`began` empty or None), from when the register first held each version
    (`first_seen`): the best guess of what it will be asked."""
    from server_sync.analysis.queries import local_date
    if not began:
        return [(v, local_date(v["first_seen"], zone)) for v in versions]
    return [(v, began[(v["audience"], v["scale"])]) for v in versions if (v["audience"], v["scale"]) in began]


def kind_on(versions: list[dict], day: date, zone: ZoneInfo, began: Began | None = None) -> tuple[str, str] | None:
    """(audience, scale) of the question's version in force on `day` (site-local), from its
    register rows (`queries.question_versions`): among the versions in force at the site by the
    end of that day (`_starts`), the one that names the question as `queries._naming` does (one
    the centre defined before one only seen in answers, then the newest). An action older than
    every version in force at the site takes the first of them (the scale the site's answers
    began on, or the register's first).
    None without versions (a question only in the rollups)."""
    if not versions:
        return None
    starts = _starts(versions, zone, began)
    naming = lambda v: (v["defined"], v["version"])       # noqa: E731 - the one rule, twice below
    by_then = [v for v, start in starts if start <= day]
    if by_then:
        chosen = max(by_then, key=naming)
    elif starts:
        first = min(start for _v, start in starts)
        chosen = max((v for v, start in starts if start == first), key=naming)
    else:
        chosen = min(versions, key=lambda v: (not v["defined"], v["version"]))
    return chosen["audience"], chosen["scale"]


def kind_until(versions: list[dict], day: date, zone: ZoneInfo, began: Began | None = None) -> date | None:
    """The first site-local day after `day` on which another (audience, scale) is in force
    (`kind_on`, with the same `began`): where an action's series ends. None while it is still
    the one asked."""
    kind = kind_on(versions, day, zone, began)
    starts = {start for _v, start in _starts(versions, zone, began)}
    return min((start for start in starts if start > day and kind_on(versions, start, zone, began) != kind),
               default=None)
