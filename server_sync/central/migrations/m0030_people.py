"""The people of the web app and what each may see: regions grouping sites, users with a role,
their regions or sites, server-side sessions, API tokens, login attempts and the audit log.

- region: a group of sites (`kiosk-central region add`); site.region_id says which a site is in
  (NULL: none). A regional manager sees the sites of their regions.
- web_user: name, role (admin, analyst, regional-manager, store-manager), language, the argon2id
  hash of the password (never the password), whether it must be changed at the next login (a
  one-time password), and when the user was disabled.
- web_user_region / web_user_site: a regional manager's regions, a store manager's sites.
- web_session: a browser session; only the SHA-256 of its token is stored (a stolen database
  holds no usable cookie), with its CSRF token and when it was last used (idle expiry).
  user_id NULL: a session before login (it carries the login form's CSRF token).
- api_token: per-user tokens for the JSON API, stored hashed the same way.
- web_login_attempt: failed and successful logins per account and address (throttling, lockout).
- audit_log: logins, logouts, lockouts, exports and comment views, with who, when and from where
  (kept `audit_keep_months`, then removed by `kiosk-central retention run`: central/retention.py).
"""

from peewee import Database

from server_sync.central.dialect import Dialect

STATEMENTS = [
    """CREATE TABLE region (
        id VARCHAR(64) PRIMARY KEY,
        name TEXT NOT NULL,
        created_at {ts} NOT NULL)""",
    "ALTER TABLE site ADD COLUMN region_id VARCHAR(64)",
    "CREATE INDEX site_region ON site (region_id)",
    """CREATE TABLE web_user (
        id {serial_pk},
        name VARCHAR(64) NOT NULL UNIQUE,
        role VARCHAR(32) NOT NULL,
        language VARCHAR(8) NOT NULL,
        password_hash TEXT NOT NULL,
        must_change_password {bool} NOT NULL DEFAULT {false},
        created_at {ts} NOT NULL,
        password_changed_at {ts} NOT NULL,
        disabled_at {ts})""",
    """CREATE TABLE web_user_region (
        user_id {bigint} NOT NULL,
        region_id VARCHAR(64) NOT NULL,
        PRIMARY KEY (user_id, region_id))""",
    """CREATE TABLE web_user_site (
        user_id {bigint} NOT NULL,
        site_id VARCHAR(64) NOT NULL,
        PRIMARY KEY (user_id, site_id))""",
    """CREATE TABLE web_session (
        token_hash VARCHAR(64) PRIMARY KEY,
        user_id {bigint},
        csrf_token VARCHAR(64) NOT NULL,
        created_at {ts} NOT NULL,
        last_seen_at {ts} NOT NULL,
        address TEXT,
        user_agent TEXT)""",
    "CREATE INDEX web_session_user ON web_session (user_id)",
    "CREATE INDEX web_session_seen ON web_session (last_seen_at)",
    """CREATE TABLE api_token (
        token_hash VARCHAR(64) PRIMARY KEY,
        user_id {bigint} NOT NULL,
        label TEXT NOT NULL,
        created_at {ts} NOT NULL,
        last_used_at {ts},
        revoked_at {ts})""",
    "CREATE INDEX api_token_user ON api_token (user_id)",
    """CREATE TABLE web_login_attempt (
        id {serial_pk},
        at {ts} NOT NULL,
        account VARCHAR(64) NOT NULL,
        address VARCHAR(64) NOT NULL,
        success {bool} NOT NULL)""",
    "CREATE INDEX web_login_attempt_account ON web_login_attempt (account, at)",
    "CREATE INDEX web_login_attempt_address ON web_login_attempt (address, at)",
    """CREATE TABLE audit_log (
        id {serial_pk},
        at {ts} NOT NULL,
        user_name VARCHAR(64),
        event VARCHAR(32) NOT NULL,
        address VARCHAR(64),
        detail TEXT NOT NULL DEFAULT '{{}}')""",
    "CREATE INDEX audit_log_at ON audit_log (at)",
]


def up(db: Database, dialect: Dialect) -> None:
    for sql in STATEMENTS:
        db.execute_sql(dialect.ddl(sql))
