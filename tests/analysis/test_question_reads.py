"""The report names its questions from the register (queries.questions, queries.earlier_versions),
which kiosks' answers fill with a row per unknown (question, version). It read every row, each
report (`kiosk-central report`, the web app's pages and downloads, the digest): now one row per
question (and per question, audience and scale), the centre's newest definition (else the newest
seen), with the same report. On SQLite and a real
PostgreSQL; rows counted, not seconds."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta, timezone

from server_sync.analysis import chain_report, queries
from server_sync.analysis.queries import ReportFilter
from tests.analysis.seeding import add_site, answer, commit

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PADDING = 50_000


def _register(db, qid: str, version: int, scale: str, words: dict | None, audience: str = "customer") -> None:
    """A version the centre defined (`defined_at`)."""
    p = db.param
    db.execute_sql(f"INSERT INTO question (id, version, scale, audience, text, first_seen, defined_at) VALUES"
                   f" ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
                   (qid, version, scale, audience, json.dumps(words) if words is not None else "{}",
                    datetime(2025, 1, 1), datetime(2025, 1, 1)))


def _chain(db) -> None:
    """Two sites; `visit` reworded in its newer version, `pulse` moved from nps11 (v1, v2) to smiley4 (v3) with
    answers on both scales, `staff` for employees, `kiosk-only` answered but never registered."""
    add_site(db, "s1")
    add_site(db, "s2", tz="Europe/Oslo")
    # Room below for the kiosks' older versions (_pad).
    _register(db, "visit", PADDING + 1, "smiley4", {"en": "How was it?"})
    _register(db, "visit", PADDING + 2, "smiley4", {"en": "How was your visit?", "sv": "Hur var besöket?"})
    _register(db, "pulse", 1, "nps11", {"en": "Recommend us?"})
    _register(db, "pulse", 2, "nps11", {"en": "Would you recommend us?"})
    _register(db, "pulse", 3, "smiley4", {"en": "How do you like us?"})
    _register(db, "staff", 1, "smiley4", {"en": "Your day?"}, audience="employee")
    _register(db, "broken", 1, "smiley4", None)
    db.execute_sql("UPDATE question SET text = 'not json' WHERE id = 'broken'")
    rng = random.Random(5)
    rows = []
    for d in range(1, 30):
        day = NOW.replace(tzinfo=None, hour=10) - timedelta(days=d)
        for site in ("s1", "s2"):
            rows += [answer(site, day, rng.choice((1, 3, 4))) for _ in range(6)]
            rows.append(answer(site, day, rng.randrange(11), question="pulse", scale="nps11"))
            rows.append(answer(site, day, rng.choice((2, 4)), question="pulse"))
            rows.append(answer(site, day, rng.choice((1, 4)), question="staff", audience="employee"))
            rows.append(answer(site, day, 3, question="kiosk-only"))
    commit(db, rows)


def _pad(db, n: int) -> None:
    """`n` older versions of `visit` of nobody's wording (as kiosks' answers bring them), below
    the versions _chain gave it: the newest stay the newest."""
    db.execute_sql("WITH RECURSIVE v(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM v WHERE n < %d)"
                   " INSERT INTO question (id, version, scale, audience, text, first_seen)"
                   " SELECT 'visit', n, 'smiley4', 'customer', '{}', %s FROM v" % (n, db.param),
                   (datetime(2025, 1, 1),))


def _whole_register(db, with_audience: bool) -> dict:
    """What the two functions return, read from every row: per question (and per question,
    audience and scale) the newest version the centre defined, else the newest seen. The reference."""
    questions_out, versions_out = {}, {}
    for qid, version, scale, audience, text, defined in db.execute_sql(
            "SELECT id, version, scale, audience, text, defined_at IS NOT NULL FROM question"
            " ORDER BY defined_at IS NOT NULL, id, version"):
        try:
            wording = json.loads(text or "{}")
        except ValueError:
            wording = {}
        named = {"id": qid, "version": version, "scale": scale, "audience": audience, "text": wording,
                 "defined": bool(defined), "built_in": False}       # no catalogue version in _chain
        questions_out[qid] = named
        versions_out[(qid, audience, scale)] = named
    if not with_audience:
        return versions_out
    for qid, audience, scale in db.execute_sql("SELECT DISTINCT question_id, audience, scale FROM rollup_monthly"):
        questions_out.setdefault(qid, {"id": qid, "version": None, "scale": scale, "audience": audience, "text": {},
                                       "defined": False, "built_in": False})
    return questions_out


def _counting(db, monkeypatch) -> dict[str, int]:
    """Rows each statement on the register hands to Python, by statement."""
    fetched: dict[str, int] = {}
    real = db.execute_sql

    class Rows(list):
        def fetchall(self):
            return list(self)

        def fetchone(self):
            return self[0] if self else None

    def execute_sql(sql, params=None, *a, **kw):
        cursor = real(sql, params, *a, **kw)
        if not re.search(r"\bFROM question\b", sql):
            return cursor
        rows = Rows(cursor.fetchall())
        fetched[sql] = fetched.get(sql, 0) + len(rows)
        return rows
    monkeypatch.setattr(db, "execute_sql", execute_sql)
    return fetched


def test_the_report_names_its_questions_as_before(central_db, monkeypatch):
    db = central_db
    _chain(db)
    assert queries.questions(db) == _whole_register(db, True)
    assert queries.earlier_versions(db) == _whole_register(db, False)
    new = chain_report.build(db, ReportFilter(), now=NOW)
    assert {q["id"] for q in new["questions"]} >= {"visit", "pulse", "pulse@nps11", "staff", "kiosk-only"}
    monkeypatch.setattr(queries, "questions", lambda d: _whole_register(d, True))
    monkeypatch.setattr(queries, "earlier_versions", lambda d: _whole_register(d, False))
    assert chain_report.build(db, ReportFilter(), now=NOW) == new


def test_reading_the_register_does_not_grow_with_old_versions(central_db, monkeypatch):
    db = central_db
    _chain(db)
    before = chain_report.build(db, ReportFilter(sites=("s1",)), now=NOW)
    _pad(db, PADDING)
    assert db.execute_sql("SELECT COUNT(*) FROM question").fetchone()[0] == PADDING + 7
    fetched = _counting(db, monkeypatch)
    after = chain_report.build(db, ReportFilter(sites=("s1",)), now=NOW)
    assert after == before
    # One row per registered question (visit, pulse, staff, broken), then one per question and
    # scale (pulse twice): 4 and 5, each with the centre's 7 definitions and the catalogue's
    # versions the register holds (the padding's visit v1), whatever the padding.
    assert sorted(fetched.values()) == [4 + 7 + 1, 5 + 7 + 1], fetched
