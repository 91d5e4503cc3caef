"""`kiosk.installs_on`: the day (the site's own, `YYYY-MM-DD`) a registered kiosk is to be installed
(`kiosk-central kiosk add --installs-on`, `kiosk installs-on`). A chain registers a rollout's kiosks
ahead of it: until that day a kiosk not heard from yet is awaited, not silent, so the fleet does
not flag it and its exit stays 0. NULL: none given, the kiosk is expected from its registration."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = ["ALTER TABLE kiosk ADD COLUMN installs_on VARCHAR(10)"]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
