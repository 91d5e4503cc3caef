"""`v_followup_reason_codes`: the follow-up reasons without the customers' comments.

`v_followup_reasons` carries each follow-up's free-text `comment`: a role that may read the views
read every site's comments, while the web app shows a person only their sites' comments and
records each view in the audit log. Its columns are a contract (never dropped), so it keeps the
comment; this view has the same rows and every other column, for the BI role of docs/analysis.md,
which no longer gets `v_followup_reasons`.
"""

from peewee import Database

from server_sync.central.dialect import Dialect
from server_sync.central.migrations.m0053_response_excluded import VIEWS as M0053

# m0053's v_followup_reasons (its last version) without the comment.
VIEWS = {"v_followup_reason_codes": M0053["v_followup_reasons"].replace(", f.comment", "")}


def up(db: Database, dialect: Dialect) -> None:
    for name, body in VIEWS.items():
        db.execute_sql(f"CREATE VIEW {name} AS {body}")
