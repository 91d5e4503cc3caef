"""Core tables: sites, kiosks, questions, responses, follow-ups, dead letters, conflicts,
kiosk status, config pushes and the hourly rollup."""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE site (
        id VARCHAR(64) PRIMARY KEY,
        name TEXT NOT NULL,
        timezone TEXT NOT NULL DEFAULT 'Europe/Stockholm',
        created_at {ts} NOT NULL)""",
    """CREATE TABLE kiosk (
        id VARCHAR(64) PRIMARY KEY,
        site_id VARCHAR(64) NOT NULL REFERENCES site (id),
        registered_at {ts} NOT NULL,
        active {bool} NOT NULL DEFAULT {true})""",
    """CREATE TABLE question (
        id VARCHAR(64) NOT NULL,
        version INTEGER NOT NULL,
        scale TEXT NOT NULL,
        audience TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '{{}}',
        first_seen {ts} NOT NULL,
        PRIMARY KEY (id, version))""",
    """CREATE TABLE response (
        id VARCHAR(36) PRIMARY KEY,
        kiosk_id VARCHAR(64) NOT NULL,
        site_id VARCHAR(64) NOT NULL,
        seq {bigint} NOT NULL,
        question_id VARCHAR(64) NOT NULL,
        question_version INTEGER NOT NULL,
        scale TEXT NOT NULL,
        value INTEGER NOT NULL,
        audience TEXT NOT NULL,
        language TEXT NOT NULL,
        recorded_at {ts} NOT NULL,
        kiosk_recorded_at {ts} NOT NULL,
        clock_synced {bool} NOT NULL,
        time_status TEXT NOT NULL,
        boot_id TEXT NOT NULL,
        monotonic_ns {bigint} NOT NULL,
        filtered TEXT,
        received_at {ts} NOT NULL,
        batch TEXT)""",
    "CREATE INDEX response_site_time ON response (site_id, recorded_at)",
    "CREATE INDEX response_kiosk_seq ON response (kiosk_id, seq)",
    "CREATE INDEX response_boot ON response (kiosk_id, boot_id)",
    """CREATE TABLE followup (
        id VARCHAR(36) PRIMARY KEY,
        response_id VARCHAR(36) NOT NULL,
        kiosk_id VARCHAR(64) NOT NULL,
        seq {bigint} NOT NULL,
        reasons TEXT NOT NULL,
        comment TEXT,
        recorded_at {ts} NOT NULL,
        received_at {ts} NOT NULL)""",
    "CREATE INDEX followup_response ON followup (response_id)",
    """CREATE TABLE followup_reason (
        followup_id VARCHAR(36) NOT NULL,
        response_id VARCHAR(36) NOT NULL,
        reason VARCHAR(64) NOT NULL,
        PRIMARY KEY (followup_id, reason))""",
    "CREATE INDEX followup_reason_response ON followup_reason (response_id)",
    """CREATE TABLE dead_letter (
        id {serial_pk},
        received_at {ts} NOT NULL,
        topic TEXT NOT NULL,
        kiosk_id TEXT,
        reason TEXT NOT NULL,
        payload {blob} NOT NULL)""",
    """CREATE TABLE conflict (
        id {serial_pk},
        event_id VARCHAR(36) NOT NULL,
        kiosk_id TEXT NOT NULL,
        received_at {ts} NOT NULL,
        existing TEXT NOT NULL,
        incoming TEXT NOT NULL)""",
    """CREATE TABLE kiosk_status (
        kiosk_id VARCHAR(64) PRIMARY KEY,
        online {bool} NOT NULL,
        last_seen {ts} NOT NULL,
        version TEXT,
        outbox_depth INTEGER,
        oldest_unacked_s INTEGER,
        clock_synced {bool},
        disk_free_mb INTEGER,
        config_version INTEGER,
        config_error TEXT,
        payload TEXT NOT NULL DEFAULT '{{}}')""",
    """CREATE TABLE config_push (
        id {serial_pk},
        kiosk_id VARCHAR(64) NOT NULL,
        version INTEGER NOT NULL,
        payload TEXT NOT NULL,
        pushed_at {ts} NOT NULL)""",
    "CREATE UNIQUE INDEX config_push_version ON config_push (kiosk_id, version)",
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
        PRIMARY KEY (site_id, kiosk_id, question_id, audience, value, hour))""",
    "CREATE INDEX rollup_hourly_date ON rollup_hourly (local_date, site_id)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
