"""Open the central database from a URL and migrate it.

`sqlite:///path/central.db` (the embedded default, WAL + synchronous=FULL because ingest acks
MQTT only after a commit) or `postgresql://user:pass@host:port/name` (production, through
psycopg 3). The centre talks to it through `central.dialect`; there are no models to bind.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sqlite3
import time
from pathlib import Path
from urllib.parse import ParseResult, parse_qs, unquote, urlparse

from peewee import Database, DatabaseError, InterfaceError, OperationalError, PostgresqlDatabase, SqliteDatabase

from server_sync.central.dialect import first_line, in_one_line
from server_sync.central.migrations import migrate
from server_sync.exc import PERCENT_ENCODE, CentralConfigError
from server_sync.program.file_access import denied, too_long

# busy_timeout first: peewee applies these in order, and switching a new file to WAL needs a lock
# that another process opening or migrating it at the same moment may hold; before this pragma
# only sqlite3's 5 s connect default applies ("database is locked" seen once in
# test_concurrent_migrate_is_safe while a 10M-row benchmark loaded the disk).
SQLITE_PRAGMAS = {"busy_timeout": 10000, "journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                  # Ingest inserts random (UUID) keys: with SQLite's default 2 MB page cache every
                  # insert into a 100k-row store misses; 64 MB keeps the hot indexes in memory.
                  # Checkpoints every 64 MB of WAL rather than 4 MB: fewer checkpoint fsyncs under
                  # a backlog drain. Durability is unchanged (synchronous=FULL fsyncs each commit).
                  "cache_size": -65536, "wal_autocheckpoint": 16384,
                  # What a change frees is zeroed, not left readable in the file: an erased
                  # comment's bytes (central.retention). Debian's SQLite is built so; not every one is.
                  "secure_delete": 1}

# How long a process opening a SQLite store waits while others hold it locked: switching the file
# to WAL takes a lock that a process migrating it holds for the whole migration, longer than
# busy_timeout's 10 s when several processes (the web app's workers, ingest) start together on a
# loaded machine (test_concurrent_migrate_is_safe failed so once in CI, "database is locked").
OPEN_LOCKED_FOR = 120.0

# What a postgresql:// URL's query may set: libpq's connection parameters (PostgreSQL 15-17's
# documentation, "Parameter Key Words"); anything else went to peewee as a keyword and failed
# there with a traceback (`?host=` twice, `?field_types=`).
LIBPQ_PARAMETERS = frozenset((
    "host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout "
    "client_encoding options application_name fallback_application_name keepalives keepalives_idle "
    "keepalives_interval keepalives_count tcp_user_timeout replication gssencmode sslmode sslnegotiation "
    "requiressl sslcompression sslcert sslkey sslkeylogfile sslpassword sslcertmode sslrootcert sslcrl sslcrldir "
    "sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation "
    "service target_session_attrs load_balance_hosts").split())

# psycopg 3 prepares a statement run five times; PostgreSQL then may switch to a generic plan,
# which cannot hash a key list passed as one array parameter (`= ANY(%s)`) and compares every
# row with every key: ingest's id look-ups took 26 instead of 3 ms a batch. Plans stay custom.
PG_CONNECT = {"options": "-c plan_cache_mode=force_custom_plan"}


def connect(url: str, *, migrate_schema: bool = True) -> Database:
    """Connect to the database named by `url` and migrate it."""
    db = database_from_url(url)
    deadline = time.monotonic() + OPEN_LOCKED_FOR
    while True:
        try:
            db.connect(reuse_if_open=True)
            break
        except Exception as e:        # driver errors differ per engine; all mean "cannot connect"
            if isinstance(db, SqliteDatabase) and "locked" in str(e) and time.monotonic() < deadline:
                time.sleep(0.2)       # another process is migrating the file (below): wait it out
                continue
            raise CentralConfigError(_sqlite_denied(db) or f"cannot connect to {redact(url)}: {in_one_line(e)}") from None
    if migrate_schema:
        try:
            _refuse_another_apps_file(db)
            migrate(db)
        except CentralConfigError:
            db.close()
            raise
        except DatabaseError as e:
            db.close()
            if not _not_permitted(e):
                raise                      # a bug in a migration: let it be seen
            raise CentralConfigError(_sqlite_denied(db) or
                                     f"{redact(url)}: the database refuses this user ({first_line(e)}); "
                                     f"the centre's user must own the store or be allowed to create "
                                     f"tables in it") from None
    return db


DATABASE_DOWN = (OperationalError, InterfaceError)    # what a long-running service waits out and retries


def reconnect(db: Database) -> DatabaseError | None:
    """Drop `db`'s connection and open a new one, for a service going on after the database
    failed under it; the error when it cannot yet (still down), else None."""
    with contextlib.suppress(Exception):       # a dead connection may fail to close; it is gone anyway
        if not db.is_closed():
            db.close()
    try:
        db.connect(reuse_if_open=True)
    except DATABASE_DOWN as e:
        return e
    return None


def limit_waits(db: Database, seconds: float) -> None:
    """Wait at most about `seconds` for another's lock or for a silent server, on `db`'s
    connection and on every one it opens later (`reconnect`): SQLite's busy timeout (never above
    SQLITE_PRAGMAS'), PostgreSQL's lock_timeout, and, unless the URL sets them, libpq's
    connect_timeout and tcp_user_timeout (a server gone from the network, its packets dropped:
    a connection attempt waited for the kernel's TCP retries, minutes). A wait cut short raises
    OperationalError, which a service retries (DATABASE_DOWN). For a service under a systemd
    watchdog: one attempt at the store must end well within WatchdogSec, or it is killed while it
    waits (a long backup, a purge, a failed-over host)."""
    ms = max(1, int(seconds * 1000))
    if isinstance(db, SqliteDatabase):
        db.pragma("busy_timeout", min(ms, SQLITE_PRAGMAS["busy_timeout"]), permanent=True)
    elif isinstance(db, PostgresqlDatabase):
        db.connect_params["options"] = " ".join(filter(None, (db.connect_params.get("options"),
                                                               f"-c lock_timeout={ms}")))
        db.connect_params.setdefault("connect_timeout", max(2, round(seconds)))   # libpq's least is 2 s
        db.connect_params.setdefault("tcp_user_timeout", ms)
        if not db.is_closed():
            db.execute_sql(f"SET lock_timeout = {ms}")


def _sqlite_denied(db: Database) -> str | None:
    """For a SQLite store this user may not use (a directory it may not enter or write, where
    SQLite keeps its -wal and -shm files even to read; a file it may not read or write): which,
    naming the user and the directory. "unable to open database file" and "attempt to write a
    readonly database" named neither, and blamed the file for its directory."""
    if not isinstance(db, SqliteDatabase):
        return None
    if long := too_long(db.database):
        return long
    why = denied(db.database, "central store")
    return (f"{why} (SQLite writes its -wal and -shm files beside {db.database}, even to read it): run "
            "kiosk-central as the centre's user, or give that user the directory") if why else None


def _refuse_another_apps_file(db: Database) -> None:
    """A SQLite file with tables but no migration recorded is not a central store (a kiosk's
    `kiosk.db` given to --db is the easy slip): migrating it would fail half-way and leave a
    central table behind in it."""
    if not isinstance(db, SqliteDatabase):
        return                             # a PostgreSQL database may hold other schemas' tables
    try:
        tables = {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except DatabaseError as e:               # "file is not a database", "database disk image is malformed"
        raise CentralConfigError(_sqlite_denied(db) or
                                 f"{db.database} is not a usable SQLite database ({first_line(e)}; check --db)") from None
    # An empty ledger beside other tables: such a file as an earlier version left it.
    ledger = "schema_migration" in tables and db.execute_sql("SELECT COUNT(*) FROM schema_migration").fetchone()[0]
    if tables - {"schema_migration"} and not ledger:
        whose = "a kiosk's database" if {"response", "followup"} <= tables else "another program's database"
        raise CentralConfigError(f"{db.database} is {whose}, not a central store (check --db)")


def _not_permitted(e: DatabaseError) -> bool:
    """Whether the engine refused this user (PostgreSQL's insufficient_privilege, a read-only
    SQLite file) rather than a statement being wrong."""
    cause = e.args[0] if e.args else e
    return (getattr(cause, "sqlstate", None) == "42501"
            or "readonly database" in str(cause) or "permission denied" in str(cause).lower())


def check_url(url: str) -> ParseResult:
    """`url` parsed, or CentralConfigError saying what is wrong with it; makes and opens nothing."""
    u = parse_url(url)
    if u.scheme == "sqlite":
        # sqlite://relative/path is a common slip; so are sqlite:c.db and sqlite:/abs.db, whose
        # path (after the one slash every form strips) was 'c.db'[1:] and the relative abs.db.
        if u.netloc or not url.partition(":")[2].startswith("//"):
            raise CentralConfigError(f"bad database URL {url!r}: use sqlite:///relative.db or sqlite:////abs/path.db")
        if not unquote(u.path[1:]):
            raise CentralConfigError(f"bad database URL {url!r}: no file path")
        if u.query or u.params:                       # SQLite takes no options here; do not drop them unseen
            raise CentralConfigError(f"bad database URL {url!r}: a sqlite URL takes no options "
                                     f"(?{u.query or u.params}); the centre sets its own pragmas")
        return u
    if u.scheme in ("postgres", "postgresql"):
        params = parse_qs(u.query, keep_blank_values=True)
        unknown = sorted(set(params) - LIBPQ_PARAMETERS)
        # A password with a '/' or '#' in it, unencoded, left the host in the path or fragment
        # (and a host read from inside the password: "failed to resolve host 'y'"); one with a
        # '?' after digits, in the query, as a parameter named by the password's rest.
        if "@" in u.path or "@" in u.fragment or any("@" in k for k in unknown):
            raise CentralConfigError(f"bad database URL {redact(url)!r}: {PERCENT_ENCODE}")
        if unknown:
            raise CentralConfigError(f"bad database URL {redact(url)!r}: {', '.join(unknown)} is not a connection"
                                     f" parameter of PostgreSQL's (libpq's: host, port, dbname, sslmode, …)")
        if not u.path.strip("/") and not params.get("dbname", [""])[-1]:
            raise CentralConfigError(f"bad database URL {redact(url)!r}: no database name")
        return u
    raise CentralConfigError(f"bad database URL {redact(url)!r}: scheme must be sqlite or postgresql")


def database_from_url(url: str) -> Database:
    u = check_url(url)
    if u.scheme == "sqlite":
        path = unquote(u.path[1:])               # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db
        if path != ":memory:":
            _make_directory(Path(path).parent)
        # Every transaction BEGIN IMMEDIATE: a deferred one that read and then wrote while another
        # process committed could not wait (its snapshot was stale) and failed at once with
        # "database is locked", busy_timeout or not: `config push` did so beside a running ingestor.
        db = SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False, lock_type="IMMEDIATE")
        # dialect.SQLITE.lower: on every connection peewee opens (a web worker opens one a thread).
        db.register_function(lower_text, "kp_lower", 1, deterministic=True)
        return db
    # The URL's parts, then its query (libpq's own rule: `?host=/var/run/postgresql` is a Unix
    # socket, and a parameter given in both is the query's); the centre's own options last.
    given = {"user": unquote(u.username) if u.username else None,
             "password": unquote(u.password) if u.password else None, "host": u.hostname or None,
             "port": u.port or None}
    params = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
    name = params.pop("dbname", "") or u.path.strip("/")
    options = " ".join(filter(None, (params.pop("options", ""), PG_CONNECT["options"])))
    kwargs = {k: v for k, v in {**given, **params}.items() if v is not None}
    return PostgresqlDatabase(name, prefer_psycopg3=True, **kwargs, options=options)


def make_sqlite_file(path: str) -> bool:
    """Put a new SQLite store at `path` whole: made under another name and set to WAL mode (which
    writes its header), then linked into place, which fails where another process was first.
    SQLite's own open leaves the file 0 bytes until WAL mode is set, and a process starting
    beside then took it for a store that lost everything (cli's refusal of an empty file). True
    when this process made it; False when it was there already, or could not be made so (a file
    system without hard links): connect then makes it, or says why it cannot."""
    target = Path(path)
    _make_directory(target.parent)
    temp = target.with_name(f".{target.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        con = sqlite3.connect(temp)
        try:
            con.execute("PRAGMA journal_mode=wal")
        finally:
            con.close()
        os.link(temp, target)
        return True
    except (OSError, sqlite3.Error):        # FileExistsError: another process made it first
        return False
    finally:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def lower_text(text: str | None) -> str | None:
    """SQLite's `kp_lower`: every letter in lower case (SQLite's own LOWER folds only A-Z)."""
    return text.lower() if isinstance(text, str) else text


def parse_url(url: str) -> ParseResult:
    """urlparse, its port read too: a port that is no number or out of range, or a broken
    [IPv6] address, is a bad URL rather than urllib's ValueError."""
    try:
        u = urlparse(url)
        port = u.port
    except ValueError as e:
        if "Port" not in str(e):
            why = "unbalanced [ ] around an IPv6 address"
        else:    # 'user:Ab3/x@host': the netloc ends at the '/', and 'Ab3' is read as the port
            why = PERCENT_ENCODE if _at_past_netloc(url) else "port must be 1-65535"
        raise CentralConfigError(f"bad database URL {redact(url)!r}: {why}") from None
    if port == 0:
        raise CentralConfigError(f"bad database URL {redact(url)!r}: port must be 1-65535")
    return u


def _at_past_netloc(url: str) -> bool:
    """Whether an '@' comes after where urlparse ends the netloc (at the first '/', '?' or '#'):
    the user's password had one of those in it, unencoded."""
    rest = url.partition("://")[2]
    return "@" in rest[len(re.match(r"[^/?#]*", rest).group()):]


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CentralConfigError(f"cannot create directory {directory} for the database: {e.strerror}") from None


def redact(url: str) -> str:
    """The URL with its password as ***. Text, not urlparse: it also redacts a URL urlparse
    refuses. The password runs to the last '@' of all: one with '/', '#', '?' or '@' in it,
    unencoded, goes past where urlparse ends it ('user:Ab3/xYz@host' showed '/xYz'). A URL with
    no password but an '@' in its query loses more than its password, never a password's part."""
    url = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:).*@", r"\1***@", url, count=1, flags=re.DOTALL)
    return re.sub(r"([?&](?:ssl)?password=)[^&#]*", r"\1***", url)       # and in the query


__all__ = ["connect", "database_from_url", "make_sqlite_file"]
