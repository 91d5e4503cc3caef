"""The actions log: what a site changed and when (`kiosk-central action add`), for the reports'
before/after comparison. Validates input and stores (`add`); `evaluated` lists the actions with
the same before/after comparison the report makes (`kiosk-central action list`, the web app)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from peewee import Database

from server_sync.exc import CentralConfigError


def add(db: Database, site_id: str, question_id: str, action_date: str, note: str,
        now: datetime | None = None) -> dict:
    try:
        date.fromisoformat(action_date)
    except ValueError:
        raise CentralConfigError(f"--date {action_date!r} is not a date (YYYY-MM-DD)") from None
    note = (note or "").strip()
    if not note:
        raise CentralConfigError("--note must say what the site changed")
    if len(note) > 2000:
        raise CentralConfigError(f"--note is {len(note)} characters; keep it under 2000")
    p = db.param
    if not db.execute_sql(f"SELECT 1 FROM site WHERE id = {p}", (site_id,)).fetchone():
        raise CentralConfigError(f"unknown site {site_id!r}")
    if not db.execute_sql(f"SELECT 1 FROM question WHERE id = {p}", (question_id,)).fetchone():
        raise CentralConfigError(f"unknown question {question_id!r}")
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    with db.atomic():
        db.execute_sql(f"INSERT INTO action (site_id, question_id, action_date, note, created_at)"
                       f" VALUES ({p}, {p}, {p}, {p}, {p})", (site_id, question_id, action_date, note, created))
        new_id = db.execute_sql(f"SELECT MAX(id) FROM action WHERE site_id = {p}", (site_id,)).fetchone()[0]
    return {"id": int(new_id), "site_id": site_id, "question_id": question_id, "date": action_date, "note": note,
            "created_at": created.isoformat(sep=" ")}


def evaluated(db: Database, site_ids: tuple[str, ...] = ()) -> list[dict]:
    """Logged actions (of `site_ids`, or all), each with its before/after `change_dict`."""
    from server_sync.analysis import queries
    from server_sync.analysis.chain_report import ACTION_WINDOW_DAYS
    from server_sync.analysis.metrics import Tally
    from server_sync.analysis.trends import change_dict
    acts = queries.actions(db, queries.ReportFilter(tuple(site_ids)))
    catalogue = queries.questions(db)
    kinds = {q: (c["audience"], c["scale"]) for q, c in catalogue.items()}
    windows = queries.action_windows(db, acts, kinds, ACTION_WINDOW_DAYS)
    out = []
    for a in acts:
        scale = catalogue.get(a["question_id"], {}).get("scale", "smiley4")
        w = windows.get(a["id"], {})
        out.append(dict(a, window_days=ACTION_WINDOW_DAYS,
                        **change_dict(w.get("before", Tally(scale)), w.get("after", Tally(scale)))))
    return out
