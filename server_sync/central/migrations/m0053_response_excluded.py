"""`response.excluded`: the centre's reason not to count an answer its kiosk counted, NULL for one
that counts. The one reason so far is `tryout` (`central.installation`): recorded before 08:00 of its
kiosk's installation day at that site. Such answers are kept, like a kiosk's flagged presses
(`filtered`), and left out wherever those are: the rollups and the BI views of raw answers and
reasons (same columns)."""

from peewee import Database

from server_sync.central.dialect import Dialect
from server_sync.central.migrations.m0012_employee_privacy import VIEWS as BEFORE

COUNTED = "r.filtered IS NULL AND r.excluded IS NULL"

VIEWS = {name: BEFORE[name].replace("r.filtered IS NULL", COUNTED) for name in ("v_answers", "v_followup_reasons")}

STATEMENTS = ["ALTER TABLE response ADD COLUMN excluded VARCHAR(16)"]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
    for name, body in VIEWS.items():
        db.execute_sql(f"DROP VIEW {name}")
        db.execute_sql(f"CREATE VIEW {name} AS {body}")
