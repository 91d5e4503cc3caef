"""The kiosk's local store: peewee models on SQLite, opened durable (WAL, synchronous=FULL).

Every answer is committed here before the customer is thanked; the `sent_at`/`acked_at` columns
are the outbox the sync agent drains (`rejected_at`: the centre refused the event for good; it
stays here, out of the outbox). Rows are deleted only by the retention pass (kiosk.retention),
and only once the centre has acknowledged them.
Models are bound late: `LocalStore(path)` opens the file, migrates it and binds the models.

An SD card fails: a damaged file (or an empty one, which a new database never is: it is made
aside and moved in whole) raises `DamagedDatabase`, a full disk `DiskFull`, with what to do
(`kiosk repair`, kiosk.repair; free space); never an sqlite3 traceback. A full disk is not
always SQLITE_FULL: opening a WAL database that no process holds open must create its
shared-memory file (-shm), and on a full card that fails as an I/O error (SQLITE_IOERR_SHMSIZE);
a write-side I/O error on a disk with no room left is taken for what it is, a full disk; so is
SQLITE_CANTOPEN on a disk with no free inode (bytes free, but no file can be made). The
commands that only look (`LocalStore.existing`) then read the file as it stands, without a -shm;
the kiosk's services (`LocalStore.even_full`) too, and a database the full card had no room to
make at all reads as an empty one (`empty_database_uri`) until there is room to make it, and one
an update left at an older schema is read so while the migrations it lacks may wait
(`readable_as_it_stands`), and migrated once there is room. The
kiosk's id is written into the database at first start (meta `kiosk.id`); a config that names
another id is refused (`IdentityError`): answers are never recorded under a wrong identity.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import quote

from peewee import DatabaseError as PeeweeDatabaseError
from peewee import BooleanField, CharField, IntegerField, Model, SqliteDatabase, TextField

from kiosk.access import database_exists, file_in_the_way, no_access
from kiosk.damaged_text import decode_text, tolerant_text, undecodable
from kiosk.earlier import mark_made, start_sequence
from kiosk.exc import DamagedDatabase, DiskFull, IdentityError, StoreError
from kiosk.migrations import LATEST, UserVersion, migrations, not_a_kiosk_database, pending_may_wait
from msgspec.structs import astuple

from server_sync.program.migrations import SchemaTooNew
from server_sync.program.migrations import migrate as run_migrations
from server_sync.protocol import FieldSpec, FollowUpEvent, ResponseEvent, field_names, fields_of

log = logging.getLogger("kiosk.store")

# An event is in the outbox while the centre has neither acknowledged nor refused it.
OUTBOX = "acked_at IS NULL AND rejected_at IS NULL"
_TEXT_TIME = " AND typeof(recorded_at) = 'text'"      # not a cell the card turned into a BLOB
# Refused for good and held here for a person to decide (retry, or set aside: schema 6).
HELD = "rejected_at IS NOT NULL AND set_aside_at IS NULL"
# A refusal names the event it found first ("event 3f2a…: site_id …"): grouped without it.
_FIRST_EVENT = re.compile(r"^event \S+: ")

PRAGMAS = {
    # First: peewee applies these in order, and switching a new file to WAL needs a lock that a
    # second process opening it at the same moment may hold; the wait for it should be this one,
    # not whatever the driver's connect default happens to be.
    "busy_timeout": 5000,      # the sync agent and `kiosk stats` share the file
    "journal_mode": "wal",
    "synchronous": 2,          # FULL: a commit survives a power cut, not just a crash
    "foreign_keys": 1,
    # SQLite's page cache, per connection: 256 KiB, not its 2 MiB default. The kiosk's queries
    # are an insert per answer and the staff view's grouped counts over an index; with the
    # default the cache grows by ~0.13 MB an hour of answers until 2 MiB, resident in the app
    # for good (docs/ui.md). The file's pages stay in the kernel's page cache either way.
    "cache_size": -256,
    # What a delete or an update frees is zeroed, not left readable on the card: a comment the
    # retention pass removed (kiosk.retention). Debian's SQLite is built so; not every one is.
    "secure_delete": 1,
}


class _Base(Model):
    class Meta:
        database = None
        legacy_table_names = False


_FIELD_CLASSES = {"text": TextField, "int": IntegerField, "bool": BooleanField, "list": TextField}


class _EventRow(_Base):
    """A recorded event: its wire fields (declared once, in server_sync.protocol.events, and
    added below by `_declare`) and the outbox state the kiosk keeps beside them."""
    id = TextField(primary_key=True)
    sent_at = TextField(null=True)               # sent in this session of the sync agent
    send_count = IntegerField(default=0)
    acked_at = TextField(null=True)              # the centre committed it
    rejected_at = TextField(null=True)           # the centre refused it for good (never re-sent)
    rejected_reason = TextField(null=True)
    set_aside_at = TextField(null=True)          # refused, and a person set it aside (never sent)

    EVENT: ClassVar[type]

    def to_event(self) -> dict[str, Any]:
        """The wire form of this row, as `protocol.encode_batch` sends it."""
        return wire_event(self.EVENT, {spec.name: getattr(self, spec.name) for spec in fields_of(self.EVENT)})


def wire_event(event: type, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of a row of `event`'s columns as stored (`stored`: by column name)."""
    out: dict[str, Any] = {"type": event.type}
    for spec in fields_of(event):
        out[spec.name] = wire_value(spec, stored[spec.name])
    return out


def wire_value(spec: FieldSpec, stored: Any) -> Any:
    """A column's value as the wire carries it (SQLite keeps a bool as 0/1, a list as JSON text)."""
    if stored is None:
        return None
    if spec.kind == "bool":
        return bool(stored)
    if isinstance(stored, bytes):
        stored = decode_text(stored)   # a BLOB the card made of a cell: its text, as the outbox sends it
    if spec.kind == "list":
        if not isinstance(stored, str):
            return list(stored)
        try:
            return json.loads(stored)
        except ValueError:
            return stored          # no longer JSON (a damaged card): the text, as the outbox sends it
    return stored


def _declare(model: type[_EventRow], event: type) -> type[_EventRow]:
    """Give `model` a column for every wire field of `event` it does not define itself."""
    model.EVENT = event
    for spec in fields_of(event):
        if spec.name not in model._meta.fields:
            model._meta.add_field(spec.name, _FIELD_CLASSES[spec.kind](null=spec.optional))
    return model


class Response(_EventRow):
    source = TextField()               # touch, button, key, simulate
    local_date = TextField()           # store-local date and hour, for local stats
    local_hour = IntegerField()


class FollowUp(_EventRow):
    class Meta:
        table_name = "followup"

    @property
    def reason_codes(self) -> list[str]:
        return json.loads(self.reasons)


_declare(Response, ResponseEvent)
_declare(FollowUp, FollowUpEvent)


_LIST_FIELDS = {t: frozenset(i for i, spec in enumerate(fields_of(t)) if spec.kind == "list")
                for t in (ResponseEvent, FollowUpEvent)}


def insert_statement(model: type[_EventRow], extra: tuple[str, ...] = ()) -> str:
    """INSERT of an event's wire fields (and `extra` kiosk columns), in `row_values` order."""
    cols = field_names(model.EVENT) + extra
    return (f"INSERT INTO {model._meta.table_name} ({', '.join(cols)})"
            f" VALUES ({', '.join('?' * len(cols))})")


def event_json_sql(model: type[_EventRow]) -> str:
    """An SQL expression that builds a row's wire JSON in SQLite (json_object, in C), the same
    object as `to_event()` (a test checks): the sync agent then only joins text."""
    parts = [f"'type', '{model.EVENT.type}'"]
    for spec in fields_of(model.EVENT):
        col = spec.name
        if spec.kind == "bool":
            col = f"json(CASE WHEN {col} IS NULL THEN 'null' WHEN {col} THEN 'true' ELSE 'false' END)"
        else:
            # A cell the card turned into a BLOB (text and blob differ in the lowest bit of a
            # cell's type in the record's header) goes as its text, as `wire_value` gives it:
            # json_object refuses a BLOB, which failed the whole read, and nothing after it went.
            col = (f"CAST({col} AS TEXT)" if spec.kind != "int"      # a NULL stays NULL
                   else f"CASE WHEN typeof({col}) = 'blob' THEN CAST({col} AS TEXT) ELSE {col} END")
        if spec.kind == "list":
            # A cell the card damaged so it is no longer JSON goes as the text it holds (a JSON
            # string, as `wire_value` gives it): json() of it failed the whole read, and the
            # outbox sent nothing after that event, ever. The centre refuses that event alone.
            col = f"json(CASE WHEN json_valid({col}) THEN {col} ELSE json_quote({col}) END)"
        parts.append(f"'{spec.name}', {col}")
    return f"json_object({', '.join(parts)})"


def row_values(event: Any) -> tuple:
    """An event struct's wire fields as SQLite column values (bool as 0/1, a list as JSON)."""
    values = astuple(event)
    lists = _LIST_FIELDS[type(event)]
    if lists:
        values = tuple(json.dumps(v) if i in lists else v for i, v in enumerate(values))
    return values


class Meta(_Base):
    key = CharField(primary_key=True)
    value = TextField()


MODELS = (Response, FollowUp, Meta)

REPAIR_HINT = "stop the kiosk services and run `kiosk repair` (docs/deployment.md, When things go wrong)"


def sqlite_error_name(error: BaseException) -> str:
    """SQLite's name for an error (SQLITE_CORRUPT, SQLITE_FULL, …), also through peewee's
    wrapper; "" when it is not SQLite's."""
    for e in (error, *(error.args[:1] if error.args else ()), error.__cause__, error.__context__):
        name = getattr(e, "sqlite_errorname", None)
        if name:
            return name
    return ""


# I/O errors SQLite reports when a write finds no room (growing or creating the -shm file, writing
# or syncing the WAL or the database): on a disk with no space left they mean "full", not "damaged".
WRITE_IO_ERRORS = frozenset({"SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_SHMOPEN", "SQLITE_IOERR_SHMMAP",
                             "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_DIR_FSYNC",
                             "SQLITE_IOERR_TRUNCATE"})
# Below this the disk counts as full: the -shm file alone needs 32 KiB, a WAL frame a page, and
# a card that works has far more free (kiosk doctor fails under 50 MB).
FULL_BELOW_BYTES = 1024 * 1024


def _nearest(path: Path | str) -> Path:
    """`path`, or the nearest directory above it that exists (a database not made yet)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def free_bytes(path: Path | str) -> int | None:
    """Space free for this user on the disk holding `path` (`_nearest`); None when that cannot
    be told."""
    try:
        return shutil.disk_usage(_nearest(path)).free
    except OSError:
        return None


def disk_is_full(path: Path | str) -> bool:
    """The disk holding `path` has no room left for SQLite to write (see FULL_BELOW_BYTES)."""
    free = free_bytes(path)
    return free is not None and free < FULL_BELOW_BYTES


def free_inodes(path: Path | str) -> int | None:
    """How many more files this user may make on the disk holding `path` (`_nearest`); None
    when that cannot be told or the file system counts no inodes (btrfs, vfat say 0 of 0: no
    limit)."""
    try:
        st = os.statvfs(_nearest(path))
    except OSError:
        return None
    return st.f_favail if st.f_files else None


def out_of_inodes(path: Path | str) -> bool:
    """The disk holding `path` has bytes, perhaps, but no inode left: no new file can be made
    (SQLite's -shm and -wal), and SQLite says SQLITE_CANTOPEN."""
    return free_inodes(path) == 0


def no_room(path: Path | str) -> bool:
    """SQLite cannot open the database at `path` as usual: no bytes (`disk_is_full`) or no
    inode (`out_of_inodes`) left for its -shm file."""
    return disk_is_full(path) or out_of_inodes(path)


def disk_full_error(path: Path | str) -> DiskFull:
    """The one sentence every command says about a full disk (no bytes or no inodes left)."""
    if out_of_inodes(path) and not disk_is_full(path):
        return DiskFull(f"the disk holding {path} is full: it has no free inodes (it holds as many files as it can, "
                        "whatever the MB free), and nothing more can be recorded until files are deleted "
                        "(`kiosk doctor` shows how many are free; nothing is damaged, do not run `kiosk repair`; "
                        "docs/deployment.md, When things go wrong)")
    return DiskFull(f"the disk holding {path} is full: nothing more can be recorded until space is freed "
                    "(`kiosk doctor` shows how much is free; nothing is damaged, do not run `kiosk repair`; "
                    "docs/deployment.md, When things go wrong)")


def unshared_uri(path: Path | str) -> str | None:
    """A URI that reads the database as it stands on the card, without the -shm file a full
    disk has no room for (SQLite's immutable mode, read only); None when that would not show
    all of it: a WAL that holds commits (a process has the database open, or stopped before it
    checkpointed). A database not made yet (a first start on a full card, or a data directory
    whose database was moved away) stands as an empty one (`empty_database_uri`)."""
    if not Path(path).exists():
        return empty_database_uri()
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return None
    return f"file:{quote(str(path))}?immutable=1"


def look_uri(path: Path) -> str:
    """A URI to look at a database that may be another program's, leaving nothing beside it: read
    only, and immutable while no WAL holds commits (a plain read-only open of a database in WAL
    mode makes its -wal and -shm files, beside a refused central store too)."""
    return unshared_uri(path) or f"file:{quote(str(path))}?mode=ro"


def card_failure(error: BaseException, path: Path | str) -> StoreError | None:
    """A database error that means the SD card failed or is full, as the error a person can act
    on (None for anything else: a locked database, a bug)."""
    name = sqlite_error_name(error)
    column = undecodable(error)
    if column is not None:
        # No SQLite error and integrity_check finds nothing: plain `kiosk repair` would say "not damaged".
        where = f"column {column}: " if column else ""
        return DamagedDatabase(f"the kiosk database {path} holds text that is not UTF-8 ({where}a byte "
                               "damaged on the card); the sync agent still sends every record and `kiosk export` "
                               "writes them, the damaged characters as U+FFFD. To mend the file, stop the kiosk "
                               "services and run `kiosk repair --force` (docs/deployment.md, When things go wrong)")
    if name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB":
        return DamagedDatabase(f"the kiosk database {path} is damaged ({error}): {REPAIR_HINT}")
    if (name == "SQLITE_FULL" or (name in WRITE_IO_ERRORS and no_room(path))
            or (name.startswith("SQLITE_CANTOPEN") and out_of_inodes(path))
            or getattr(error, "errno", None) == errno.ENOSPC):
        return disk_full_error(path)
    if name.startswith("SQLITE_IOERR"):
        return DamagedDatabase(f"the SD card holding {path} failed to read or write ({error}): check the card "
                               f"(dmesg), then {REPAIR_HINT}")
    return None


# A new kiosk database, migrated and empty, in this process's memory (SQLite's memdb VFS: a name
# that starts with "/" is one database for every connection of the process). It is opened read
# only, never written, so every store that needs it shares it; `_EMPTY` is the one writable
# connection, made once and never closed, that keeps it in memory.
_EMPTY_NAME = f"/kundpuls-not-yet-made-{os.getpid()}"
_EMPTY: SqliteDatabase | None = None
_EMPTY_LOCK = threading.Lock()


def empty_database_uri() -> str:
    """A URI that reads as a kiosk database with no rows yet, read only: what a database the
    full card had no room to make reads as, so the kiosk's services start and look as on a
    first start, and a write is refused (as DiskFull, see `KioskDatabase.failure`)."""
    global _EMPTY
    with _EMPTY_LOCK:
        if _EMPTY is None:
            # thread_safe=False: one connection for all threads, not one that dies with its thread.
            db = SqliteDatabase(f"file:{_EMPTY_NAME}?vfs=memdb", uri=True, thread_safe=False,
                                check_same_thread=False)
            db.connect()
            migrate(db)
            _EMPTY = db
    return f"file:{_EMPTY_NAME}?vfs=memdb&mode=ro"


class KioskDatabase(SqliteDatabase):
    """peewee's SqliteDatabase whose statements and commits turn a failed card into
    DamagedDatabase or DiskFull (see `card_failure`). `path` is the file's (the name the
    errors give); one opened `unshared` (read only, on a full disk) refuses a write as DiskFull.

    An unshared database opens itself as usual again (shared, WAL, writable) as soon as the
    disk has room: see `_current`, the one rule for it; one not made yet is made then, as at a
    first start (migrated; `on_writable` then writes the kiosk's identity). The same object
    stays bound to the models; each thread (peewee keeps one connection per thread: the app's
    PIN check, the sync agent) drops its read-only connection at its next statement outside a
    transaction."""

    def __init__(self, database: str, *args: Any, path: Path | str | None = None, unshared: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.path = path or database
        self.unshared = unshared
        self._generation = 0             # bumped when the file is opened another way (`_share`)
        self._share_lock = threading.Lock()
        # Run once the file is open for writing (`_share`): the store's identity claim.
        self.on_writable: Callable[[], None] | None = None

    def failure(self, error: BaseException) -> StoreError | None:
        """`error` as the StoreError a person can act on (`card_failure`; on an unshared
        database a refused write is the full disk), or None when it is something else."""
        if self.unshared and sqlite_error_name(error).startswith("SQLITE_READONLY"):
            return disk_full_error(self.path)
        return card_failure(error, self.path)

    def _failure(self, error: BaseException) -> BaseException:
        return self.failure(error) or error

    def _connect(self):
        conn = super()._connect()
        self._state.generation = self._generation     # called under self._lock, in this thread
        for pragma, value in getattr(self._state, "own_pragmas", {}).items():
            conn.execute(f"PRAGMA {pragma} = {value}")
        return conn

    def thread_pragma(self, pragma: str, value: int | str) -> None:
        """Set a PRAGMA on this thread's connection, kept when it is replaced (`_current`)."""
        self._state.own_pragmas = {**getattr(self._state, "own_pragmas", {}), pragma: value}
        self.execute_sql(f"PRAGMA {pragma} = {value}")

    def _busy(self) -> bool:
        """This thread's connection is inside a transaction (peewee's or the tap path's own)."""
        return not self._state.closed and (self.in_transaction() or self._state.conn.in_transaction)

    def _current(self) -> None:
        """Before this thread's next statement (never inside a transaction): on an unshared
        database, a disk with room again opens the file for writing (`_share`), so the next
        answer after space was freed is stored without a restart; a connection of this thread
        opened the old way is replaced. Checked on every use while unshared (a statvfs, cheap):
        another process that wrote in the meantime must not be read through an immutable
        connection for long (SQLite assumes such a file never changes)."""
        if self.unshared and not self._busy() and not no_room(self.path):
            self._share()
        if (not self._state.closed and getattr(self._state, "generation", self._generation) != self._generation
                and not self._busy()):
            self.close()
            self.connect()

    def _share(self) -> None:
        """Open the file as usual (`PRAGMAS`, its -shm made) instead of as it stood, making it
        first if it is not there yet (as `open_database` does at a first start); when the card
        still has no room for that, stay unshared (the next use tries again). A database that
        turns out damaged or another kiosk's is not used: the statement that found it fails."""
        with self._share_lock:
            if not self.unshared:
                return                                   # another thread did it
            before = (self.database, self.connect_params.get("uri", False))
            try:
                _prepare(Path(self.path), make=True)
                self._open_as(str(self.path), False, unshared=False)
                self.close()
                self.connect()
                migrate(self)
                if self.on_writable is not None:
                    self.on_writable()
            except (sqlite3.DatabaseError, PeeweeDatabaseError, OSError) as e:     # DiskFull is an OSError
                self._unshare(*before)
                log.warning("the disk holding %s has room again, but the database cannot be opened for "
                            "writing yet (%s); still read as it stands", self.path, e)
                return
            except StoreError:
                self._unshare(*before)
                raise
        log.warning("the disk holding %s has room again: the kiosk database is open for writing", self.path)

    def _unshare(self, database: str, uri: bool) -> None:
        """Back to reading `database` as it stood (this thread's connection too)."""
        self._open_as(database, uri, unshared=True)
        if not self._state.closed:
            self.close()
        self.connect()

    def _open_as(self, database: str, uri: bool, *, unshared: bool) -> None:
        """What new connections open from now on; under peewee's lock, which every thread's
        `connect` holds, so each connection is stamped with the generation it was opened in."""
        with self._lock:
            self.database, self.connect_params["uri"], self.unshared = database, uri, unshared
            self._generation += 1

    def connection(self):
        self._current()
        return super().connection()

    def cursor(self, *args: Any, **kwargs: Any):
        self._current()
        return super().cursor(*args, **kwargs)

    def execute_sql(self, sql, params=None, *args, **kwargs):
        try:
            return super().execute_sql(sql, params, *args, **kwargs)
        except (sqlite3.DatabaseError, PeeweeDatabaseError) as e:
            raise self._failure(e)

    def commit(self):
        try:
            return super().commit()
        except (sqlite3.DatabaseError, PeeweeDatabaseError) as e:
            raise self._failure(e)

    def rollback(self):
        # After some errors (a full disk: SQLITE_FULL, SQLITE_IOERR) SQLite has rolled the
        # transaction back itself; peewee's ROLLBACK would then fail ("no transaction is active")
        # and hide the error that mattered, DiskFull, behind a raw OperationalError.
        if not self.is_closed() and not self._state.conn.in_transaction:
            return None
        return super().rollback()


def open_database(path: Path | str, *, unshared: str | None = None) -> SqliteDatabase:
    """Open (creating if needed) and migrate the kiosk database at `path`. An existing empty file
    is refused like a damaged one: a kiosk database is never empty once made, and one that is
    has lost every seq the kiosk used (a new one would start again at 1). With `unshared` (a
    URI from `unshared_uri`) it is opened through that, read only, and nothing is made."""
    path = Path(path)
    _prepare(path, make=not unshared)
    _refuse_foreign(unshared or look_uri(path), path)
    db = KioskDatabase(unshared or str(path), pragmas=PRAGMAS, check_same_thread=False, uri=bool(unshared),
                       path=path, unshared=bool(unshared))
    try:
        db.connect(reuse_if_open=True)
        if unshared:
            readable_as_it_stands(db, path)
        else:
            migrate(db)
    except StoreError:
        db.close()
        raise
    except (sqlite3.DatabaseError, PeeweeDatabaseError, OSError) as e:
        # peewee wraps sqlite3's errors in its own classes; both mean the file is unusable.
        db.close()
        raise (card_failure(e, path) or no_access(path)
               or StoreError(f"cannot open database {path}: {e} (run `kiosk doctor`)")) from None
    return db


def _prepare(path: Path, *, make: bool) -> None:
    """The file at `path` ready to open: with `make`, its data directory and the database made
    (migrated) when missing; an existing empty file refused (see `open_database`)."""
    if make:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):      # a full card has no room for a directory
                raise disk_full_error(path) from None
            # A file in the way first: file_access.denied would call that file a directory
            # this user may not enter.
            why = file_in_the_way(path.parent)
            if not why and (denied := no_access(path)):
                raise denied from None
            raise StoreError(f"cannot create data directory {path.parent}: {why or e.strerror}") from None
    if not database_exists(path):
        if make:
            _create(path)
        return
    try:
        size = path.stat().st_size
    except OSError as e:
        raise no_access(path) or StoreError(f"cannot read {path}: {e.strerror}") from None
    else:
        if size == 0:
            raise DamagedDatabase(f"the kiosk database {path} is empty (0 bytes): the card lost it, and with it "
                                  f"the kiosk's sequence; {REPAIR_HINT}")


def _refuse_foreign(uri: str, path: Path) -> None:
    """Refuse another program's database before anything is done to it (even our pragmas switch
    its journal to WAL): looked at read-only, through `uri`. One that cannot be read so is left
    to the open that follows, which says what is wrong with it."""
    try:
        con = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error:
        return
    try:
        why = not_a_kiosk_database(con)
    except sqlite3.Error:
        return
    finally:
        con.close()
    if why:
        raise not_ours(path, why)


def not_ours(path: Path, why: str) -> StoreError:
    """The error for another program's database where the kiosk's should be (`why`: what shows it)."""
    return StoreError(f"{path} is not a kiosk database: {why}. It was left as it is; point --data-dir "
                      "or kiosk.data_dir at the kiosk's own data directory")


def _create(path: Path) -> None:
    """Make a new database aside, migrated, and move it in whole: so the app and the sync
    agent starting together on a fresh card never see each other's half-made (0-byte) file,
    which open_database refuses."""
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}")
    db = SqliteDatabase(str(tmp), pragmas=PRAGMAS)
    try:
        db.connect()
        migrate(db)
        sequence = start_sequence(path, datetime.now(timezone.utc))
        if sequence:
            # The directory held a database before (kiosk.earlier): never its seqs again.
            db.execute_sql("UPDATE sequence SET value = ? WHERE name = 'event'", (sequence,))
            log.warning("%s was missing, but this directory held a kiosk database before: the new one starts "
                        "its sequence above every seq that left the kiosk (%d); whatever the lost one had not sent is gone",
                        path, sequence)
        db.close()                          # the last connection checkpoints and drops the WAL
        try:
            os.link(tmp, path)              # never over a database another process just made
        except FileExistsError:
            pass
        except OSError:                     # a file system without hard links (FAT)
            if not path.exists():
                os.replace(tmp, path)
    except (sqlite3.DatabaseError, PeeweeDatabaseError, OSError) as e:
        raise card_failure(e, path) or no_access(path) or StoreError(f"cannot create database {path}: {e}") from None
    finally:
        if not db.is_closed():
            db.close()
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)


def migrate(db: SqliteDatabase) -> int:
    """Apply pending migrations (the shared runner, the `user_version` ledger); return the
    schema version now in force."""
    try:
        return run_migrations(UserVersion(db), migrations(db), refuse_newer=True)
    except SchemaTooNew as e:
        raise _too_new(e) from None


def readable_as_it_stands(db: SqliteDatabase, path: Path) -> int:
    """The schema version of a database opened read only on a full card (`unshared`), where no
    migration can run: those pending that may wait (kiosk.migrations.MAY_WAIT) are applied once
    there is room (`KioskDatabase._share`, before any write); one the read path needs refuses
    the database as the full disk it is, as does a schema newer than this software as such."""
    version = UserVersion(db).newest()
    if version > LATEST:
        raise _too_new(SchemaTooNew(version, LATEST))
    if not pending_may_wait(version):
        raise disk_full_error(path)
    if version < LATEST:
        log.info("the kiosk database %s is at schema %d: it is migrated to %d once the disk has room",
                 path, version, LATEST)
    return version


def _too_new(error: SchemaTooNew) -> StoreError:
    return StoreError(f"{error}; upgrade kundpuls")


class LocalStore:
    """The kiosk database, opened, migrated and bound to the models. With `kiosk_id`, the
    database must be that kiosk's (see `claim`)."""

    def __init__(self, path: Path | str, kiosk_id: str | None = None, *, unshared: str | None = None) -> None:
        self.path = Path(path)
        self.db = open_database(self.path, unshared=unshared)
        self.db.bind(MODELS)
        if kiosk_id is not None:
            try:
                self.claim(kiosk_id)
            except StoreError:
                self.close()
                raise
            # Read as it stood (a full card): once it opens for writing, the identity is written
            # there as at a first start (a database made only then has none yet), or refused.
            self.db.on_writable = lambda: self.claim(kiosk_id)

    def claim(self, kiosk_id: str) -> None:
        """Make sure this database is kiosk `kiosk_id`'s: its id is written in at the first
        start (or, for a database from before, taken from its answers) and a config that says
        otherwise is refused. A kiosk never changes its identity silently: answers recorded
        under the wrong id would be refused at the centre, and these under the right one mixed
        with another kiosk's."""
        stored = self.get_meta("kiosk.id")
        if stored is None:
            row = self.db.execute_sql("SELECT kiosk_id FROM response WHERE kiosk_id <> ? LIMIT 1",
                                      (kiosk_id,)).fetchone()
            if row is None and not self.read_only:      # read only: written once it is not (`on_writable`)
                try:
                    with self.db.atomic("IMMEDIATE"):
                        self.db.execute_sql("INSERT OR IGNORE INTO meta (key, value) VALUES ('kiosk.id', ?)",
                                            (kiosk_id,))
                except (sqlite3.DatabaseError, PeeweeDatabaseError):
                    # Read-only (`kiosk stats` by another user): the kiosk's own services write it.
                    # (A failed card raised a StoreError already, which goes on up.)
                    pass
                stored = self.get_meta("kiosk.id") or kiosk_id
            else:
                stored = row[0] if row else kiosk_id
        if stored == kiosk_id and not self.read_only:
            mark_made(self.path, datetime.now(timezone.utc))
        if stored != kiosk_id:
            raise IdentityError(
                f"the kiosk database {self.path} belongs to kiosk {stored!r}, but the config says kiosk.id = {kiosk_id!r}: "
                "nothing is recorded or sent under another identity. If the config is wrong, fix kiosk.id; if this "
                "card's database is another kiosk's, give this kiosk its own data directory (docs/deployment.md, "
                "When things go wrong)")

    @classmethod
    def existing(cls, path: Path | str, kiosk_id: str | None = None) -> "LocalStore":
        """The database at `path` for a command that only looks at what was recorded (stats,
        export, refused): one that is not there is a mistyped --data-dir or data_dir, never a
        fresh empty database reporting zero answers. Commands that record create it. On a full
        disk it is read as it stands (`even_full`)."""
        path = Path(path)
        if not database_exists(path):         # which says a file where the directory belongs
            raise StoreError(f"no kiosk database in {path.parent} (check --data-dir or data_dir in the config)")
        return cls.even_full(path, kiosk_id=kiosk_id)

    @classmethod
    def even_full(cls, path: Path | str, kiosk_id: str | None = None) -> "LocalStore":
        """The database at `path` (created if missing), also on a disk too full for SQLite to
        open it (no room for its -shm file): then it is read as it stands (`unshared_uri`), so
        what was recorded can still be looked at and sent, and a write says the disk is full
        until there is room again, when it opens itself for writing (`KioskDatabase._current`).
        A database the full card had no room to make reads as an empty one until then, and is
        made then. For the kiosk's services (app, buttons, sync agent), which must not stop over
        a full card, and the commands that only look."""
        try:
            return cls(path, kiosk_id=kiosk_id)
        except DiskFull:
            made = Path(path).exists()
            uri = unshared_uri(path)
            if uri is None:
                raise
            store = cls(path, kiosk_id=kiosk_id, unshared=uri)
            log.info("%s; %s", disk_full_error(path), "what was recorded is read as it stands until then" if made
                     else "the database is made then (nothing was recorded yet)")
            return store

    @property
    def read_only(self) -> bool:
        """Opened as it stood on a full card, and no room yet to open it for writing."""
        return bool(getattr(self.db, "unshared", False))

    def full_now(self) -> DiskFull | None:
        """The error the next write would meet when the disk holding the database is known full
        now (`disk_is_full`; read as it stood and still no inode to open it otherwise), or None:
        what the kiosk tells staff before a tap is refused. A statvfs: cheap, but not for every
        frame. (Open as usual, a card out of inodes still stores: its -wal and -shm are made.)"""
        full = disk_is_full(self.path) or (self.read_only and out_of_inodes(self.path))
        return disk_full_error(self.path) if full else None

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self) -> "LocalStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def outbox_depth(self) -> int:
        """Events still to reach the centre (neither acked nor refused by it)."""
        row = self.db.execute_sql(
            f"SELECT (SELECT COUNT(*) FROM response WHERE {OUTBOX})"
            f" + (SELECT COUNT(*) FROM followup WHERE {OUTBOX})").fetchone()
        return int(row[0])

    def oldest_unacked(self) -> str | None:
        # A time the card damaged must not fail the read (the sync agent's status, the staff
        # screen): a byte not UTF-8 reads as U+FFFD (no time: its age is not known), a BLOB is
        # passed over (it came back as bytes).
        with tolerant_text(self.db.connection()):
            row = self.db.execute_sql(
                f"SELECT MIN(t) FROM (SELECT MIN(recorded_at) AS t FROM response WHERE {OUTBOX}{_TEXT_TIME}"
                f" UNION ALL SELECT MIN(recorded_at) FROM followup WHERE {OUTBOX}{_TEXT_TIME})").fetchone()
        return row[0]

    def rejected_count(self) -> int:
        """Events the centre refused for good and held here (not set aside), never sent again."""
        row = self.db.execute_sql(
            f"SELECT (SELECT COUNT(*) FROM response WHERE {HELD})"
            f" + (SELECT COUNT(*) FROM followup WHERE {HELD})").fetchone()
        return int(row[0])

    def refused_by_reason(self) -> dict[str, int]:
        """Events the centre refused for good and held here, counted by its reason (most first;
        a reason without the event it names first, so one cause reads as one line)."""
        rows = self.db.execute_sql(
            f"SELECT rejected_reason, COUNT(*) FROM response WHERE {HELD} GROUP BY rejected_reason UNION ALL"
            f" SELECT rejected_reason, COUNT(*) FROM followup WHERE {HELD} GROUP BY rejected_reason").fetchall()
        counted: dict[str, int] = {}
        for reason, n in rows:
            key = _FIRST_EVENT.sub("", reason) if reason else "(no reason given)"
            counted[key] = counted.get(key, 0) + int(n)
        return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))

    def set_aside_count(self, reason_contains: str | None = None) -> int:
        """Refused events a person set aside (all, or those whose reason contains the text)."""
        where, params = "set_aside_at IS NOT NULL", ()
        if reason_contains:
            where, params = f"{where} AND instr(lower(rejected_reason), lower(?)) > 0", (reason_contains,)
        row = self.db.execute_sql(f"SELECT (SELECT COUNT(*) FROM response WHERE {where})"
                                  f" + (SELECT COUNT(*) FROM followup WHERE {where})", params * 2).fetchone()
        return int(row[0])

    def _held_where(self, reason_contains: str | None) -> tuple[str, tuple]:
        if reason_contains:
            return f"{HELD} AND instr(lower(rejected_reason), lower(?)) > 0", (reason_contains,)
        return HELD, ()

    def retry_refused(self, reason_contains: str | None = None) -> int:
        """Put events the centre refused back into the outbox (after the cause was fixed: the
        question registered, the kiosk moved to its site); returns how many. They are sent again
        as they were: the same ids and seqs, so the centre still counts each once."""
        where, params = self._held_where(reason_contains)
        n = 0
        with self.db.atomic("IMMEDIATE"):
            for table in ("response", "followup"):
                n += self.db.execute_sql(f"UPDATE {table} SET rejected_at = NULL, rejected_reason = NULL,"
                                         f" sent_at = NULL WHERE {where}", params).rowcount
        return n

    def set_aside_refused(self, reason_contains: str | None, at: str) -> int:
        """Set aside events the centre refused for good (all, or those whose reason contains
        the text): a person decided they will never go. They stay (the staff view counts them,
        `kiosk export` has them) until retention removes them as acknowledged ones; returns how
        many."""
        where, params = self._held_where(reason_contains)
        n = 0
        with self.db.atomic("IMMEDIATE"):
            for table in ("response", "followup"):
                n += self.db.execute_sql(f"UPDATE {table} SET set_aside_at = ? WHERE {where}", (at, *params)).rowcount
        return n

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute_sql("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute_sql("INSERT INTO meta (key, value) VALUES (?, ?)"
                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def integrity_ok(self) -> bool:
        return self.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
