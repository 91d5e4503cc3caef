"""The centre's record of a config push keeps the staff roster as "[name]" each.

The roster (`privacy.staff_names`) goes to the kiosk, which masks the names in comments; the
centre's record of each push (`config_push.payload`) kept every name, for ever (a privacy
review). New pushes are recorded without them (`config_push.kept_payload`); this rewrites those
recorded before, in Python on both engines (few rows: one a kiosk and push). Frozen: the rule is
spelt here, as it was when written.
"""

import json

from peewee import Database

from server_sync.central.dialect import Dialect


def without_names(payload: str) -> str | None:
    """`payload` with each staff name as "[name]"; None when it names none (left as it is)."""
    try:
        config = json.loads(payload)
    except ValueError:
        return None
    privacy = config.get("privacy") if isinstance(config, dict) else None
    names = privacy.get("staff_names") if isinstance(privacy, dict) else None
    if not isinstance(names, list) or all(n == "[name]" for n in names):
        return None
    config["privacy"] = dict(privacy, staff_names=["[name]"] * len(names))
    return json.dumps(config, ensure_ascii=False, separators=(",", ":"))


def up(db: Database, dialect: Dialect) -> None:
    p = db.param
    rows = db.execute_sql("SELECT kiosk_id, version, payload FROM config_push").fetchall()
    for kiosk_id, version, payload in rows:
        kept = without_names(payload)
        if kept is not None:
            db.execute_sql(f"UPDATE config_push SET payload = {p} WHERE kiosk_id = {p} AND version = {p}",
                           (kept, kiosk_id, version))
