"""`kiosk doctor`: checks that a kiosk can work, and says plainly what is wrong.

Each check returns a `Check` (ok / warn / fail and a sentence); the command prints them and
exits 1 when any failed. A warning is worth knowing but does not stop the kiosk from recording
(an unsynced clock, no broker credentials yet); a failure names what to do (a damaged or empty
database: `kiosk repair`; a nearly full disk; a database of another kiosk). A full disk is never
called damage: a database SQLite cannot open for want of room is read as it stands instead.

The database is opened read-only: the doctor never creates, migrates or repairs anything.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from kiosk.access import AS_KIOSK_USER, database_exists, file_in_the_way, no_access, this_user
from kiosk.config import KioskConfig, running_on_pi
from kiosk.exc import DiskFull, StoreError
from kiosk.migrations import LATEST, not_a_kiosk_database, pending_may_wait
from server_sync.program.tls import check_ca_file
from server_sync.protocol.errors import SettingError

OK, WARN, FAIL = "ok", "warn", "fail"
LOW_DISK_BYTES = 200 * 1024 * 1024       # warn: days of answers left, but the journal and updates need room
FULL_DISK_BYTES = 50 * 1024 * 1024       # fail: the next update or a big journal fills it
LOW_INODES = 1000                        # warn: a journal's or an update's files take the last ones
STALE_OUTBOX_S = 24 * 3600
REPAIR = "stop the kiosk services (systemctl stop kundpuls-kiosk kundpuls-sync) and run `kiosk repair`"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def check_database(cfg: KioskConfig, now: datetime) -> list[Check]:
    path = cfg.db_path
    try:
        exists = database_exists(path)
    except StoreError as e:
        return [Check("database", FAIL, str(e))]
    if not exists:
        from kiosk.store import no_room
        if no_room(path):
            # Not "created when the kiosk first runs": the kiosk runs, but cannot make it yet.
            return [Check("database", WARN, f"no database yet at {path}, and the disk is full: it cannot be created "
                                            "until space is freed (see disk). The kiosk runs meanwhile but stores no "
                                            "answer; the first answer after that creates it (nothing is damaged, no "
                                            "repair needed)")]
        return [Check("database", WARN, f"no database yet at {path}; it is created when the kiosk first runs")]
    if path.stat().st_size == 0:
        return [Check("database", FAIL, f"{path} is empty (0 bytes): the card lost the database and the kiosk's "
                                        f"sequence with it; {REPAIR}")]
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as e:
        return [Check("database", FAIL, str(no_access(path) or f"cannot open {path}: {e}"))]
    full = ""
    try:
        try:
            integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
            version = con.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as e:
            from kiosk.store import card_failure
            if not isinstance(card_failure(e, path), DiskFull):
                # This user may not write beside it (SQLite must, even to read): not damage.
                return [Check("database", FAIL, str(no_access(path) or
                                                    f"{path} is not a readable SQLite database ({e}): {REPAIR}"))]
            # No room for the -shm file SQLite must make to open it: a full disk, not a damaged file.
            con.close()
            con = _open_unshared(path)
            try:
                if con is None:
                    raise sqlite3.DatabaseError("its WAL holds commits")
                integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
                version = con.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError:
                return [Check("database", FAIL, f"{path} cannot be opened while the disk is full (SQLite needs room "
                                                "for its -shm file): free space (see disk), then run `kiosk doctor` "
                                                "again; a full disk damages nothing, do not run `kiosk repair` for it")]
            from kiosk.store import disk_is_full
            full = (" (read without its -shm file: the disk is full, so the kiosk cannot open it to record until "
                    "space is freed, see disk; no repair needed)") if disk_is_full(path) else (
                    " (read without its -shm file: the disk has no free inodes, so the kiosk cannot make the files "
                    "SQLite needs beside it to record until files are deleted, see disk; no repair needed)")
        out = []
        if integrity != "ok":
            first = integrity.splitlines()[1 if integrity.startswith("***") else 0][:200]
            out.append(Check("database", FAIL, f"{path} is damaged (integrity_check: {first}): {REPAIR}; it keeps "
                                               "every row it can read"))
            return out
        foreign = not_a_kiosk_database(con)
        if foreign:
            out.append(Check("database", FAIL, f"{path} is not a kiosk database: {foreign}; it may be another "
                                               "program's (the central store?): point kiosk.data_dir (or "
                                               "--data-dir) at the kiosk's own data directory"))
            return out
        if full:
            out.append(Check("database", WARN, f"{path} integrity_check ok{full}"))
        else:
            out.append(Check("database", OK, f"{path} opens, integrity_check ok"))
        if version > LATEST:
            out.append(Check("schema", FAIL, f"schema {version} is newer than this software ({LATEST}); upgrade kundpuls"))
        elif version < LATEST:
            out.append(Check("schema", WARN, _pending_schema(version, bool(full))))
        else:
            out.append(Check("schema", OK, f"schema version {version}"))
        if version >= 1:
            out.append(_outbox(con, now, version))
            out.append(_identity(con, cfg.kiosk_id))
        return out
    finally:
        if con is not None:
            con.close()


def _pending_schema(version: int, full: bool) -> str:
    """What becomes of a database at an older schema `version`: migrated when the kiosk starts;
    on a full card (`full`) once there is room, the kiosk reading it as it stands meanwhile
    only when every pending migration may wait (kiosk.migrations.MAY_WAIT)."""
    if not full:
        return f"schema {version}, migrated to {LATEST} at the next start"
    if pending_may_wait(version):
        return (f"schema {version}, migrated to {LATEST} once space is freed (the kiosk reads it as it "
                "stands until then)")
    return (f"schema {version}, migrated to {LATEST} once space is freed: the kiosk services cannot start "
            "until then")


def _open_unshared(path: Path) -> sqlite3.Connection | None:
    """The database read as it stands on the card (kiosk.store.unshared_uri), or None."""
    from kiosk.store import unshared_uri
    uri = unshared_uri(path)
    try:
        return None if uri is None else sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error:
        return None


def _identity(con: sqlite3.Connection, kiosk_id: str) -> Check:
    """The database is this kiosk's (kiosk.store.LocalStore.claim)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'kiosk.id'").fetchone()
    owner = row[0] if row else None
    if owner is None:
        found = con.execute("SELECT kiosk_id FROM response WHERE kiosk_id <> ? LIMIT 1", (kiosk_id,)).fetchone()
        owner = found[0] if found else None
    if owner is not None and owner != kiosk_id:
        return Check("identity", FAIL, f"the database belongs to kiosk {owner!r}, the config says {kiosk_id!r}: nothing "
                                       "is recorded or sent until they agree (fix kiosk.id, or give this kiosk its "
                                       "own data directory)")
    return Check("identity", OK, f"the database belongs to kiosk {kiosk_id}" if owner else
                 f"the database takes kiosk {kiosk_id}'s id at the first start")


def _outbox(con: sqlite3.Connection, now: datetime, version: int) -> Check:
    # Schema 3 keeps events the centre refused for good (rejected_at): out of the outbox.
    from kiosk.store import HELD, OUTBOX
    pending = OUTBOX if version >= 3 else "acked_at IS NULL"
    depth, oldest = con.execute(
        f"SELECT (SELECT COUNT(*) FROM response WHERE {pending})"
        f" + (SELECT COUNT(*) FROM followup WHERE {pending}),"
        f" (SELECT MIN(t) FROM (SELECT MIN(recorded_at) AS t FROM response WHERE {pending}"
        f"  UNION ALL SELECT MIN(recorded_at) FROM followup WHERE {pending}))").fetchone()
    held = HELD if version >= 6 else "rejected_at IS NOT NULL"     # schema 6: some set aside
    rejected = con.execute(
        f"SELECT (SELECT COUNT(*) FROM response WHERE {held})"
        f" + (SELECT COUNT(*) FROM followup WHERE {held})").fetchone()[0] if version >= 3 else 0
    refused = (f"; {rejected} records refused by the centre for good (kept here, not sent again;"
               " the sync log says why)") if rejected else ""
    if not depth:
        if rejected:
            return Check("outbox", WARN, "nothing waits for the centre" + refused)
        return Check("outbox", OK, "empty: every record is confirmed by the centre")
    age = (now - datetime.fromisoformat(oldest.replace("Z", "+00:00"))).total_seconds()
    detail = f"{depth} records wait for the centre, the oldest since {oldest}"
    if age > STALE_OUTBOX_S:
        return Check("outbox", WARN, detail + f" ({age / 3600:.0f} h): is the kiosk syncing?" + refused)
    return Check("outbox", WARN if rejected else OK, detail + refused)


def check_pushed(cfg: KioskConfig) -> Check | None:
    """The centre's saved push (kiosk.pushed): laid over the file, or why it is not (the file
    changed since, or this kind of kiosk cannot ask its questions). None when there is no push
    newer than the file. The sync agent reports the same in its status (config_error)."""
    from kiosk.pushed import file_mapping, saved_push_check
    try:
        found = saved_push_check(file_mapping(cfg), cfg.data_dir, _stored_kind(cfg.db_path))
    except (OSError, ValueError) as e:            # the file went away or changed under us
        return Check("pushed config", WARN, f"cannot compare the centre's push with {cfg.source}: {e}")
    if found is None:
        return None
    version, problem = found
    if problem is None:
        return Check("pushed config", OK, f"version {version} from the centre, laid over {cfg.source or 'the defaults'}")
    return Check("pushed config", WARN, f"version {version} from the centre is NOT used: {problem}. The kiosk runs "
                                        f"with {cfg.source or 'the defaults'} as it is; push a config it can use "
                                        "(kiosk-central config push), or fix the file")


def _stored_kind(path: Path) -> str | None:
    """Which kind of kiosk last started on this database (kiosk.usable.KIND_META), if it says."""
    from kiosk.usable import KIND_META
    try:
        if not database_exists(path):
            return None
    except StoreError:                            # said by the database check
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (KIND_META,)).fetchone()
    except sqlite3.Error:                         # a full disk, an old or foreign database: said above
        return None
    finally:
        con.close()
    return row[0] if row else None


def check_gpio(env: Mapping[str, str], on_pi: bool,
               load_factory: Callable[[], object] | None = None) -> Check:
    name = env.get("GPIOZERO_PIN_FACTORY")
    if name == "mock":
        return Check("gpio", OK, "mock pins (GPIOZERO_PIN_FACTORY=mock): buttons are simulated")
    if not on_pi and not name:
        return Check("gpio", OK, "not a Raspberry Pi: no GPIO here; the buttons run on gpiozero's "
                                 "mock pins (kiosk run --demo, or GPIOZERO_PIN_FACTORY=mock)")
    if load_factory is None:
        def load_factory():
            from gpiozero import Device
            return Device._default_pin_factory()
    try:
        factory = load_factory()
    except Exception as e:
        return Check("gpio", FAIL, f"no pin factory can drive the GPIO ({type(e).__name__}: {e}); "
                                   "install lgpio (python3-lgpio) or check /dev/gpiochip*")
    try:
        close = getattr(factory, "close", None)
        if close:
            close()
    except Exception:
        pass
    return Check("gpio", OK, f"pin factory {type(factory).__name__}")


def compiled_for(source: Path, level: int) -> bool:
    """Whether `source` has a bytecode file for optimization `level` that Python will use (it
    names this version's magic number and the source's current modification time and size)."""
    import importlib.util
    try:
        cached = Path(importlib.util.cache_from_source(str(source), optimization=level or ""))
        head = cached.read_bytes()[:16]
        st = source.stat()
    except (OSError, ValueError):
        return False
    return (head[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(head[4:8], "little") == 0
            and int.from_bytes(head[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(head[12:16], "little") == st.st_size & 0xFFFFFFFF)


def check_compiled(on_pi: bool, sources: tuple[Path, ...] | None = None) -> Check | None:
    """On a Pi: the kiosk app's service runs Python at PYTHONOPTIMIZE=2, and the code it imports
    (its own and the standard library's) should be compiled for that (kiosk.precompile), or
    every start compiles it again. None elsewhere (a laptop runs Python as it is)."""
    if not on_pi:
        return None
    if sources is None:
        import json
        import kiosk
        sources = (Path(kiosk.__file__).parent / "ui" / "app.py", Path(json.__file__))
    missing = [str(s) for s in sources if not compiled_for(s, 2)]
    if missing:
        return Check("compiled", WARN, f"not compiled for the app service's PYTHONOPTIMIZE=2: {', '.join(missing)}; "
                                        "every start compiles it again (slower start, more memory). Run "
                                        "`sudo /opt/kundpuls/venv/bin/python -OO -m kiosk.precompile` "
                                        "(provision.sh does)")
    return Check("compiled", OK, "the kiosk's code and the standard library are compiled for PYTHONOPTIMIZE=2")


def check_clock(synced: bool) -> Check:
    if synced:
        return Check("clock", OK, "synchronised (NTP)")
    return Check("clock", WARN, "not synchronised: answers are stamped clock_synced=false until NTP "
                                "syncs (the centre corrects them); check systemd-timesyncd and the network")


def check_disk(data_dir: Path, disk_usage: Callable[[str], object] = shutil.disk_usage,
               inodes: Callable[[str], int | None] | None = None) -> list[Check]:
    """The data dir can be entered and written, and its disk has room: bytes and inodes (files;
    `inodes`, kiosk.store.free_inodes by default: None where the file system counts none)."""
    from kiosk.store import free_inodes
    from server_sync.program.file_access import too_long
    if why := too_long(data_dir):
        return [Check("data dir", FAIL, why)]
    probe = Path(data_dir)
    # os.path.exists, not Path.exists: Python 3.11's raises PermissionError below a directory this
    # user may not enter; the nearest directory it can see then says which.
    while not os.path.exists(probe) and probe != probe.parent:
        probe = probe.parent
    out = []
    if not os.path.isdir(probe):
        # A file where the data dir or one above it belongs: entering it is not what fails, and
        # no other user could (a file has no entries).
        out.append(Check("data dir", FAIL, f"{file_in_the_way(Path(data_dir))} (check --data-dir or data_dir in "
                                           "the config)"))
    elif probe != Path(data_dir) and not os.access(probe, os.X_OK):
        out.append(Check("data dir", FAIL, f"user {this_user()} may not enter {probe}: {AS_KIOSK_USER}"))
    elif probe == Path(data_dir) and not os.access(probe, os.W_OK):
        out.append(Check("data dir", FAIL, f"{data_dir} is not writable by user {this_user()}: {AS_KIOSK_USER}"))
    elif probe != Path(data_dir) and not os.access(probe, os.W_OK):
        out.append(Check("data dir", FAIL, f"{data_dir} does not exist and {probe} is not writable"))
    free = disk_usage(str(probe)).free
    mb = free / 1024 / 1024
    files = (inodes or free_inodes)(str(probe))
    if free < FULL_DISK_BYTES:
        from kiosk.store import FULL_BELOW_BYTES
        when = "no answer can be stored now" if free < FULL_BELOW_BYTES else "answers will soon not be stored"
        out.append(Check("disk", FAIL, f"only {mb:.0f} MB free for {data_dir} (fails below "
                                       f"{FULL_DISK_BYTES // 2 ** 20} MB): {when}; free space "
                                       "(sudo journalctl --vacuum-size=50M, sudo apt clean) or use a larger card"))
    elif files == 0:
        # SQLite makes files beside the database (-shm, -wal): with none to spare it cannot open
        # it to record, whatever the MB free, and says SQLITE_CANTOPEN; nothing is damaged.
        out.append(Check("disk", FAIL, f"no free inodes for {data_dir} ({mb:,.0f} MB free, but no new file can be "
                                       "made): a kiosk started now cannot open its database to record; delete files "
                                       "on that disk (`sudo du --inodes -xd3 / | sort -n | tail` shows where they are)"))
    elif free < LOW_DISK_BYTES:
        out.append(Check("disk", WARN, f"only {mb:.0f} MB free for {data_dir} (warns below "
                                       f"{LOW_DISK_BYTES // 2 ** 20} MB)"))
    elif files is not None and files < LOW_INODES:
        out.append(Check("disk", WARN, f"{mb:,.0f} MB free for {data_dir}, but only {files:,} inodes (files) "
                                       f"(warns below {LOW_INODES:,})"))
    else:
        inode_note = "" if files is None else f", {files:,} inodes (files)"
        out.append(Check("disk", OK, f"{mb:,.0f} MB free for {data_dir}{inode_note}"))
    return out


def check_broker(cfg: KioskConfig) -> list[Check]:
    b = cfg.broker
    out = []
    where = f"{b.host}:{b.port}"
    if not b.tls:
        out.append(Check("broker", WARN, f"{where} without TLS: only for a test or a laptop demo"))
    else:
        try:
            if b.ca_file:
                check_ca_file(b.ca_file, key="broker.ca_file")     # as `kiosk sync` does at start-up
            out.append(Check("broker", OK, f"{where} with TLS as user {b.username}"))
        except SettingError as e:
            out.append(Check("broker", FAIL, str(e)))
    if not b.password_file:
        out.append(Check("broker password", WARN, "broker.password_file is not set: the kiosk cannot log in to the broker"))
        return out
    p = Path(b.password_file)
    try:
        st = p.stat()
    except OSError as e:
        out.append(Check("broker password", FAIL, f"broker.password_file {p}: {e.strerror}"))
        return out
    if not stat.S_ISREG(st.st_mode):         # a directory's mode 755 read as "chmod 600 it" (a review)
        out.append(Check("broker password", FAIL, f"broker.password_file {p}: not a regular file"))
    elif st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        out.append(Check("broker password", FAIL, f"{p} is readable by every user (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it"))
    elif not os.access(p, os.R_OK):
        out.append(Check("broker password", FAIL, f"{p} is not readable by user {this_user()}: {AS_KIOSK_USER}"))
    else:
        from kiosk.broker_password import read_password
        from kiosk.exc import ConfigError
        try:
            password = read_password(cfg)             # as the sync agent reads it
        except ConfigError as e:
            out.append(Check("broker password", FAIL, str(e)))
            return out
        if not password:
            out.append(Check("broker password", FAIL, f"{p} is empty"))
        else:
            out.append(Check("broker password", OK, f"{p} present, mode {stat.S_IMODE(st.st_mode):o}"))
    return out


def run_checks(load_config: Callable[[], KioskConfig], env: Mapping[str, str] | None = None,
               now: datetime | None = None, clock_synced: Callable[[], bool] | None = None,
               on_pi: bool | None = None) -> list[Check]:
    """Every check, in the order a person would fix them."""
    from kiosk.exc import KioskError
    env = os.environ if env is None else env
    now = now or datetime.now(timezone.utc)
    if clock_synced is None:
        from kiosk.clock import kernel_clock_synced
        clock_synced = kernel_clock_synced
    try:
        cfg = load_config()
    except KioskError as e:
        checks = [Check("config", FAIL, str(e))]
        cfg = None
    else:
        checks = [Check("config", OK, f"{cfg.source or 'built-in defaults'}: kiosk {cfg.kiosk_id}, "
                                      f"site {cfg.site_id}, {len(cfg.questions)} question(s)")]
    if cfg is not None:
        pushed = check_pushed(cfg)
        checks += [pushed] if pushed else []
        checks += check_database(cfg, now)
    on_pi = running_on_pi() if on_pi is None else on_pi
    checks.append(check_gpio(env, on_pi))
    compiled = check_compiled(on_pi)
    checks += [compiled] if compiled else []
    checks.append(check_clock(clock_synced()))
    if cfg is not None:
        checks += check_disk(cfg.data_dir)
        checks += check_broker(cfg)
    return checks
