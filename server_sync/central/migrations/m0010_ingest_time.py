"""Ingest bookkeeping: clock anchors for time correction, and the clock fields of follow-ups.

- clock_anchor: per kiosk and boot, the first synced event seen (wall time + monotonic reading).
  An event recorded before the kiosk's clock synced is corrected to
  anchor.recorded_at + (monotonic_ns - anchor.monotonic_ns); one indexed lookup per batch.
- response_boot becomes a partial index over uncorrected events only.
- followup gains kiosk_recorded_at, clock_synced, time_status, boot_id, monotonic_ns, so its
  time is corrected like an answer's and a re-sent follow-up is compared field by field.
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE clock_anchor (
        kiosk_id VARCHAR(64) NOT NULL,
        boot_id VARCHAR(36) NOT NULL,
        recorded_at {ts} NOT NULL,
        monotonic_ns {bigint} NOT NULL,
        PRIMARY KEY (kiosk_id, boot_id))""",
    "ALTER TABLE followup ADD COLUMN kiosk_recorded_at {ts}",
    "ALTER TABLE followup ADD COLUMN clock_synced {bool}",
    "ALTER TABLE followup ADD COLUMN time_status TEXT",
    "ALTER TABLE followup ADD COLUMN boot_id TEXT",
    "ALTER TABLE followup ADD COLUMN monotonic_ns {bigint}",
    "UPDATE followup SET kiosk_recorded_at = recorded_at, time_status = 'uncorrected'",
    # Time correction looks only for uncorrected events of a boot: a partial index stays tiny and
    # costs the bulk insert of synced answers nothing (it replaces m0001's full response_boot).
    "DROP INDEX response_boot",
    "CREATE INDEX response_uncorrected ON response (kiosk_id, boot_id) WHERE time_status = 'uncorrected'",
    "CREATE INDEX followup_uncorrected ON followup (kiosk_id, boot_id) WHERE time_status = 'uncorrected'",
    "CREATE INDEX dead_letter_received ON dead_letter (received_at)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
