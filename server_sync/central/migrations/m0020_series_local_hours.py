"""A series is (question, scale), and local time is the answer's own (issue 12).

- rollup_hourly gets the scale in its primary key: before, a question asked on smiley4 and later
  on nps11 summed both scales' answers of one value and hour into one row (smiley "3"s counted
  as NPS "3"s). The table is created anew (SQLite cannot change a primary key in place) and
  `v_hourly`, which reads it, is dropped and created again with the same columns (m0012's).
- Its `hour` is now the UTC instant the site-local hour starts, and every rollup's local date
  and hour are the answer's own: before, they were taken from the start of the UTC hour, a day
  wrong at 18:45 UTC in Kolkata (+05:30), Kathmandu (+05:45), Adelaide (+10:30), Chatham, ….

Every rollup is recomputed from the stored answers and follow-up reasons
(`rollups.rebuild`, the same counting as ingest), so an upgraded centre reports the right
figures. The daily, monthly and chain tables keep their keys: they held the scale already.
"""

from peewee import Database

from server_sync.central import rollups
from server_sync.central.dialect import Dialect
from server_sync.central.migrations.m0012_employee_privacy import VIEWS

STATEMENTS = [
    "DROP VIEW v_hourly",
    "DROP TABLE rollup_hourly",
    """CREATE TABLE rollup_hourly (
        site_id VARCHAR(64) NOT NULL,
        kiosk_id VARCHAR(64) NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        audience TEXT NOT NULL,
        scale TEXT NOT NULL,
        value INTEGER NOT NULL,
        hour {ts} NOT NULL,
        local_date TEXT NOT NULL,
        local_hour INTEGER NOT NULL,
        weekday INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (site_id, kiosk_id, question_id, audience, scale, value, hour))""",
    "CREATE INDEX rollup_hourly_date ON rollup_hourly (local_date, site_id)",
    f"CREATE VIEW v_hourly AS {VIEWS['v_hourly']}",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
    rollups.rebuild(db)
