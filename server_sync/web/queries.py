"""The few queries only the web app asks (everything else comes from server_sync.analysis): the
comments customers wrote, and today's answers so far.

Every function takes the sites to look at explicitly (`sites=None` only for a scope that sees the
whole chain) and puts them into the SQL: what a person may not see is never read. Parameters
only; search text is matched with LIKE, its wildcards escaped. Never writes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from peewee import Database

from server_sync.analysis.chain_report import centre_employee_group, series_id
from server_sync.analysis.privacy import protect_today
from server_sync.analysis.queries import catalogue_rows, questions
from server_sync.central import registry
from server_sync.central.dialect import dialect_of, fold, placeholders
from server_sync.protocol.catalogue import built_in
from server_sync.protocol.vocabulary import Worded, in_nearest

COMMENTS_PER_PAGE = 50


@dataclass(frozen=True)
class CommentFilter:
    """What the comments page asks for; every field optional."""
    sites: tuple[str, ...] | None = None      # None: every site (a scope that sees the chain)
    question: str | None = None
    reason: str | None = None
    score: int | None = None
    scale: str | None = None                  # only answers on this scale (the page: a question's series)
    date_from: str | None = None              # site-local dates
    date_to: str | None = None
    search: str | None = None
    also_marks: tuple[str, ...] = ()          # scrub marks the search words name (render.marks_named)
    page: int = 1
    per_page: int = COMMENTS_PER_PAGE


def _zones(db: Database, sites: Sequence[str] | None) -> dict[ZoneInfo, list[str]]:
    """Time zone -> the sites in it (of `sites`, or of the chain), by registry.site_zones."""
    by_name: dict[str, tuple[ZoneInfo, list[str]]] = {}
    for sid, zone in registry.site_zones(db, sites).items():
        by_name.setdefault(zone.key, (zone, []))[1].append(sid)
    return dict(by_name.values())


def _utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(timezone.utc).replace(tzinfo=None)


def like_pattern(text: str) -> str:
    """`%text%` for LIKE … ESCAPE '\\', the user's own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


PER_SITE_UP_TO = 40        # sites queried one by one (each newest first through its own index)

# A comment's time is its answer's (`r.recorded_at`): its day in the filter, its place in the
# list and the time shown, on every path (the reason figures count it on that day too).
_COMMENT_COLUMNS = ("f.id, r.recorded_at, f.comment, f.reasons, r.site_id, s.name, s.timezone, r.question_id,"
                    " r.scale, r.value, r.language")
_PROBE_COLUMNS = "f.id, r.recorded_at"      # what the order needs, no comment's text


def _filters(db: Database, f: CommentFilter) -> tuple[list[str], list]:
    """The clauses every way of reading comments shares: question, score, reason, search.
    Customers' comments only: an employee question's comment, listed with its score and minute,
    is one employee's (with a shift roster, a named one); employee figures are shown only for
    groups of at least the minimum (docs/privacy.md). Not a tryout's ("test", typed by the
    installer before the kiosk was the store's: central.installation); a flagged press's comment
    is still a customer's words."""
    p = db.param
    clauses, params = ["f.comment IS NOT NULL", "r.audience = 'customer'", "r.excluded IS NULL"], []
    if f.question:
        clauses.append(f"r.question_id = {p}")
        params.append(f.question)
    if f.score is not None:
        clauses.append(f"r.value = {p}")
        params.append(f.score)
    if f.scale:
        clauses.append(f"r.scale = {p}")
        params.append(f.scale)
    if f.reason:
        clauses.append(f"EXISTS (SELECT 1 FROM followup_reason fr WHERE fr.followup_id = f.id AND fr.reason = {p})")
        params.append(f.reason)
    if f.search:
        # Both sides composed and in lower case, every letter's ("öppna" finds "Öppna"): the
        # text here by dialect.fold, the comment by the dialect's `lower`, which is the same on
        # SQLite and ICU's on PostgreSQL, neither the database's locale.
        found = [f"{dialect_of(db).lower.format(text='f.comment')} LIKE {p} ESCAPE '\\'"]
        params.append(like_pattern(fold(f.search)))
        for mark in f.also_marks:             # the badge's words find the stored mark too
            found.append(f"f.comment LIKE {p} ESCAPE '\\'")
            params.append(like_pattern(mark))
        clauses.append("(" + " OR ".join(found) + ")")
    return clauses, params


def _days(db: Database, f: CommentFilter, zones: Sequence[ZoneInfo], column: str) -> tuple[list[str], list]:
    """`column` inside the site-local days f.date_from..f.date_to of any of `zones` (from the
    earliest start to the latest end), as UTC bounds."""
    p = db.param
    clauses, params = [], []
    if f.date_from:
        clauses.append(f"{column} >= {p}")
        params.append(min(_utc(date.fromisoformat(f.date_from), zone) for zone in zones))
    if f.date_to:
        clauses.append(f"{column} < {p}")
        params.append(max(_utc(date.fromisoformat(f.date_to) + timedelta(days=1), zone) for zone in zones))
    return clauses, params


def comments(db: Database, f: CommentFilter) -> tuple[list[dict], bool]:
    """Comments newest first, one page of them, and whether there are more. A comment's day,
    order and time are its answer's, on both paths below.

    Few sites (a store or a region): each site's answers newest first through its own index,
    their follow-ups with a comment, the sites merged; a site's comments are a small share of
    all, so walking every comment and looking its answer up (measured: 3.4 s on PostgreSQL for
    one of 200 sites) would be far slower. Many sites: every comment newest first through the
    comments' own index, its answer looked up; that index is on the answer's time copied to
    the follow-up (`answered_at`, migration m0054), since the follow-up's own time may fall on
    another day (an answer at 23:59:50, its comment sent at 00:00:10)."""
    limit = f.per_page
    query = _comments_sql(db, f, _COMMENT_COLUMNS, take=limit + 1, offset=(max(1, f.page) - 1) * limit)
    if query is None:
        return [], False
    sql, params = query
    rows = db.execute_sql(sql, params).fetchall()
    out = []
    for fid, at, comment, reasons, site, name, tz, question, scale, value, language in rows[:limit]:
        stamp = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        zone = registry.stored_zone(site, tz)
        local = stamp.replace(tzinfo=timezone.utc).astimezone(zone)
        try:
            codes = json.loads(reasons or "[]")
        except ValueError:
            codes = []
        out.append({"id": fid, "recorded_at": stamp.replace(tzinfo=timezone.utc).isoformat(),
                    "local_time": local.strftime("%Y-%m-%d %H:%M"), "zone": local.tzname(), "timezone": zone.key,
                    "comment": comment, "reasons": codes, "site_id": site, "site_name": name,
                    "question_id": question, "scale": scale, "value": int(value), "language": language})
    return out, len(rows) > limit


def comments_beyond(db: Database, f: CommentFilter, most: int) -> bool:
    """Whether `f` finds more than `most` comments (whatever its page), asked by id alone: a
    download to be refused for it is told so before a comment is read."""
    query = _comments_sql(db, f, _PROBE_COLUMNS, take=1, offset=most)
    return query is not None and bool(db.execute_sql(*query).fetchall())


def _comments_sql(db: Database, f: CommentFilter, columns: str, take: int, offset: int) -> tuple[str, list] | None:
    """The query of `take` comments `f` finds, from the `offset`th newest, selecting `columns`
    (the comment's id and time first: the merge below orders by them); None when it finds none
    for sure. Why its two paths: `comments`."""
    if f.sites is not None and not f.sites:
        return None
    common, common_params = _filters(db, f)
    zones = _zones(db, f.sites) if (f.sites is not None or f.date_from or f.date_to) else {}
    p = db.param
    params: list = []
    if f.sites is not None and len(f.sites) <= PER_SITE_UP_TO:
        parts = []
        for zone, zone_sites in sorted(zones.items(), key=lambda z: z[0].key):
            for site in sorted(zone_sites):
                days, day_params = _days(db, f, [zone], "r.recorded_at")
                where = " AND ".join([f"r.site_id = {p}"] + days + common)
                # Ordered as the merge below orders (f.id breaks ties), or a page's cut could
                # keep another comment of the same second than the merge would show.
                parts.append(f"SELECT * FROM (SELECT {columns} FROM response r"
                             " JOIN followup f ON f.response_id = r.id JOIN site s ON s.id = r.site_id"
                             f" WHERE {where} ORDER BY r.recorded_at DESC, f.id DESC"
                             f" LIMIT {offset + take}) part{len(parts)}")
                params += [site] + day_params + common_params
        if not parts:
            return None
        return (f"SELECT * FROM ({' UNION ALL '.join(parts)}) c ORDER BY 2 DESC, 1 DESC"
                f" LIMIT {take} OFFSET {offset}"), params
    else:
        # The clauses in the order of their parameters: sites, days, then the common filters
        # (the common ones first, with their parameters last, matched a question, score, reason
        # or search with a site id or a date: such a page showed no comments at all).
        clauses = ["r.id = f.response_id", "s.id = r.site_id"]
        if f.sites is not None:
            clauses.append(f"r.site_id IN ({placeholders(db, len(f.sites))})")
            params += list(f.sites)
        if f.date_from or f.date_to:
            ranges = []
            for zone, zone_sites in sorted(zones.items(), key=lambda z: z[0].key):
                days, day_params = _days(db, f, [zone], "f.answered_at")
                ranges.append("(" + " AND ".join([f"r.site_id IN ({placeholders(db, len(zone_sites))})"] + days) + ")")
                params += zone_sites + day_params
            clauses.append("(" + (" OR ".join(ranges) or "1 = 0") + ")")
            if zones:
                # The zones' days together, as one range of the index to read: their own
                # ranges, ORed, are only checked row by row.
                days, day_params = _days(db, f, list(zones), "f.answered_at")
                clauses += days
                params += day_params
        clauses += common
        params += common_params
        # CROSS JOIN: SQLite then keeps followup the outer table (it never reorders a CROSS JOIN)
        # and walks the comments' index (followup_comment_answered) newest first. Left to itself,
        # without ANALYZE statistics, it took response_site_time for a site list and sorted every
        # answer of those sites (measured: 8.4 s for a region of 65 of 200 sites, 10 M answers).
        # PostgreSQL plans a CROSS JOIN with its WHERE like the inner join it is.
        return (f"SELECT {columns} FROM followup f CROSS JOIN response r CROSS JOIN site s"
                f" WHERE {' AND '.join(clauses)}"
                f" ORDER BY f.answered_at DESC, f.id DESC LIMIT {take} OFFSET {offset}"), params


def answers_today(db: Database, sites: Sequence[str] | None, now: datetime,
                  report: dict[str, Any] | None = None, question: str | None = None,
                  date_from: str | None = None, date_to: str | None = None) -> dict[str, Any] | None:
    """Answers so far on each site's own today (site-local date), from the daily rollup:
    {"total", "by_question": {series: n}}, as the page beside it filters and names them: of
    `question` only, if given; each series apart, keyed by the report's id (`question`, or
    `question@scale` for its answers on another scale than its current one, chain_report.series_id:
    smiley4's 4s are not smiley5's); only the sites whose today lies within `date_from`..`date_to`,
    and None when no site's does (the page's period is another one). An employee question's only
    as privacy.protect_today lets them be shown (`report`: the same page's, whose minimum group
    and days it keeps to; else the centre's minimum)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    days: set[str] = set()
    p = db.param
    catalogue = questions(db)
    for zone, zone_sites in _zones(db, sites).items():
        today = now.astimezone(zone).date().isoformat()
        if (date_from and today < date_from) or (date_to and today > date_to):
            continue
        days.add(today)
        only = f" AND question_id = {p}" if question else ""
        rows = db.execute_sql(
            f"SELECT question_id, audience, scale, SUM(n) FROM rollup_daily WHERE local_date = {p}"
            f" AND site_id IN ({placeholders(db, len(zone_sites))}){only} GROUP BY question_id, audience, scale",
            [today] + zone_sites + ([question] if question else [])).fetchall()
        for q, audience, scale, n in rows:
            current = (catalogue[q]["audience"], catalogue[q]["scale"]) if q in catalogue else (audience, scale)
            counts[(series_id(q, (audience, scale), current), audience)] += int(n or 0)
    if not days:
        return None
    group = (report or {}).get("filters", {}).get("min_employee_group") or centre_employee_group(db)
    return protect_today(counts, days, group, report)


def site_names(db: Database, sites: Sequence[str] | None) -> dict[str, str]:
    """id -> name of `sites` (None: every site)."""
    if sites is None:
        return dict(db.execute_sql("SELECT id, name FROM site").fetchall())
    if not sites:
        return {}
    return dict(db.execute_sql(f"SELECT id, name FROM site WHERE id IN ({placeholders(db, len(sites))})",
                               list(sites)).fetchall())


def with_zones(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` (each naming its `site_id`), each given its site's time zone (`timezone`, the IANA
    name): what the pages' `local` filter reads the row's stored UTC times in."""
    zones = registry.site_zones(db, {r["site_id"] for r in rows})
    for r in rows:
        r["timezone"] = zones[r["site_id"]].key
    return rows


def question_words(db: Database, lang: str) -> dict[str, Worded]:
    """id -> the question's wording in `lang` (its newest version's), for the pages' `question`
    filter: a reader sees the question, not its id. A question not worded in `lang` is named in
    the nearest language it is worded in (vocabulary.in_nearest, which a page marks), and left out (the filter shows its id) only
    without any. Only rows with wording are read, and the catalogue's versions (worded by the
    catalogue where the register has no words, as the reports name them: queries._built_in):
    those only seen in answers have none (`{}`), and kiosks may have put many there."""
    out: dict[str, Worded] = {}
    shipped, params = catalogue_rows(db, "question")
    for qid, version, scale, audience, text in db.execute_sql(
            f"SELECT id, version, scale, audience, text FROM question WHERE text <> '{{}}' OR {shipped}"
            " ORDER BY id, version", params).fetchall():
        try:
            words = json.loads(text or "{}")
            catalogued = built_in(qid, version, scale, audience)
            wording = in_nearest(words or (catalogued or {}).get("text"), lang)
        except ValueError:
            wording = None
        if wording:
            out[qid] = wording
    return out


def scope_names(db: Database) -> dict[str, dict[str, str]]:
    """The names a person's scope is shown in: {"regions": id -> name, "sites": id -> name}."""
    return {"regions": dict(db.execute_sql("SELECT id, name FROM region").fetchall()),
            "sites": site_names(db, None)}
