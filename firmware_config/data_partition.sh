#!/bin/sh
# data_partition.sh: moves what the kiosk has recorded onto its data partition and mounts that at
# the data directory, for provision.sh --read-only-root (docs/deployment.md, B7). provision.sh
# installs it as /var/lib/kundpuls-provision/data-partition.sh and runs it there: on the Pi, or
# from pending.sh in a system it provisioned with --root.
#
#   data-partition.sh DEVICE DATA_DIR LABEL UNIT...
#
# DEVICE is formatted and labelled LABEL already. The UNITs (the kiosk's services) are stopped
# while the data is copied; provision.sh starts them again.
#
# A power cut must never hide an answer under the mount: the data is copied, synced and compared,
# then marked finished on the partition (MARK, written last), and only then does /etc/fstab mount
# the partition at DATA_DIR. A copy that stopped part way (COPYING, no MARK) is made again from
# the data directory, where the kiosk kept recording. The partition's own files are never copied
# over: one holding files without a mark, or the mounted one lacking answers the root file system
# holds under it that the kiosk would still keep, is refused with what to do (and never told to
# take the root's database over one that counted on past it).
set -eu

device=$1 data=$2 label=$3
shift 3
MARK=.kundpuls-copied
COPYING=.kundpuls-copying
line="LABEL=$label $data ext4 defaults,noatime,nofail,x-systemd.device-timeout=15s 0 2"
howto='docs/deployment.md, "The data partition lacks answers"'

say() { echo "provision.sh: $*"; }
die() { echo "provision.sh: error: $*" >&2; exit 2; }

# holds DIR: DIR holds files of its own (not lost+found, the marks, nor what was set aside).
holds() {
  [ -n "$(find "$1" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name "$MARK" ! -name "$COPYING" \
            ! -name kept-aside -print -quit)" ]
}

# fstab [LINE]: /etc/fstab without its lines for the data directory, and with LINE; a power cut
# leaves the old file or the new one.
fstab() {
  t=$(mktemp /etc/fstab.XXXXXX)
  { grep -v "[[:space:]]${data}[[:space:]]" /etc/fstab || true; [ "$#" -eq 0 ] || printf '%s\n' "$1"; } >"$t"
  chmod 0644 "$t"
  sync
  mv -f "$t" /etc/fstab
  sync
  say "wrote /etc/fstab"
}

# same FROM TO: every file under FROM is under TO with the same bytes.
same() {
  (cd "$1" && find . -type f ! -name "$MARK" ! -name "$COPYING" \
      -exec sh -c 'for f; do cmp -s "$f" "$0/$f" || exit 1; done' "$2" {} +)
}

# lacking ROOT_DB PARTITION_DB: whether the partition's database went on from the one on the root
# file system, which an earlier provision.sh copied (with the kiosk stopped) before it mounted the
# partition over it. Exits 0 when nothing the kiosk would still keep is missing from it: it holds
# the root's newest answer (a copy of the whole), or it is the same kiosk's, its sequence counter
# (which never goes back, whatever retention removes) is not behind the root's, and the centre had
# acknowledged every root answer it lacks (retention removes those after privacy.keep_acked_days).
# A counter alone does not tell: a database the kiosk started anew on a half copy holding
# kiosk.db.made counts on above every seq from the time (kiosk.earlier). Else prints what the
# root's holds that the partition lacks, and why ("holds …"), and exits 1 when the root's may be
# copied over it (it holds none, or one counting behind the root's: not what the kiosk went on
# with, and the root's gives out no seq the partition's gave), 3 when it may not (one counting on
# past the root's, which may be the one the kiosk records in; another kiosk's; one not readable).
lacking() {
  python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
from pathlib import Path

def uri(path):
    # Each database is read as it stands (nothing written, no -wal or -shm made beside the root's),
    # with its write-ahead log when the kiosk left one.
    mode = "ro" if Path(f"{path}-wal").exists() else "ro&immutable=1"
    return f"{Path(path).resolve().as_uri()}?mode={mode}"

def value(con, sql, default=None):
    try:
        row = con.execute(sql).fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return default
        raise
    return default if row is None or row[0] is None else row[0]

def counter(con, db):
    """Where the database's sequence stands: the kiosk's counter, or its highest seq."""
    return max(value(con, f"SELECT value FROM {db}.sequence WHERE name = 'event'", 0),
               value(con, f"SELECT MAX(seq) FROM {db}.response", 0),
               value(con, f"SELECT MAX(seq) FROM {db}.followup", 0))

def kiosk(con, db):
    return (value(con, f"SELECT value FROM {db}.meta WHERE key = 'kiosk.id'")
            or value(con, f"SELECT kiosk_id FROM {db}.response LIMIT 1"))

def has(con, db, table):
    return value(con, f"SELECT 1 FROM {db}.sqlite_master WHERE type = 'table' AND name = '{table}'") is not None

def unacknowledged(con, table):
    """(how many, the newest recorded_at) of the root's rows of `table` the centre had not
    acknowledged that the partition lacks."""
    if not has(con, "main", table):
        return 0, None
    lacks = f" AND NOT EXISTS (SELECT 1 FROM part.{table} p WHERE p.id = r.id AND p.seq = r.seq)" \
        if has(con, "part", table) else ""
    return con.execute(f"SELECT COUNT(*), MAX(r.recorded_at) FROM main.{table} r"
                       f" WHERE r.acked_at IS NULL{lacks}").fetchone()

def verdict(root_db, part_db):
    """(exit status, what the partition lacks and why)."""
    con = sqlite3.connect(uri(root_db), uri=True)
    try:
        count, = con.execute("SELECT COUNT(*) FROM response").fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return 0, ""                                 # a database never used: no answer
        raise
    newest = con.execute("SELECT id, seq, recorded_at FROM response ORDER BY seq DESC LIMIT 1").fetchone()
    if newest is None:
        return 0, ""
    held = f"holds {count} answer(s), the newest recorded at {newest[2]}, that the partition lacks"
    if not Path(part_db).exists():
        return 1, f"{held}: it holds no kiosk.db"
    con.execute("ATTACH DATABASE ? AS part", (uri(part_db),))
    if con.execute("SELECT 1 FROM part.response WHERE id = ? AND seq = ?", newest[:2]).fetchone():
        return 0, ""
    mine, theirs = kiosk(con, "main"), kiosk(con, "part")
    if mine and theirs and mine != theirs:
        return 3, f"{held}: the partition's database is kiosk {theirs}'s, the root's kiosk {mine}'s"
    root_at, part_at = counter(con, "main"), counter(con, "part")
    if part_at < root_at:
        return 1, f"{held}: its database counts to seq {part_at}, the root's to {root_at}"
    answers, at = unacknowledged(con, "response")
    followups, followup_at = unacknowledged(con, "followup")
    if not answers and not followups:
        return 0, ""
    what = " and ".join(f"{n} {kind}" for n, kind in ((answers, "answer(s)"), (followups, "follow-up(s)")) if n)
    newest_at = max(filter(None, (at, followup_at)))
    return 3, (f"holds {what} the centre had not acknowledged (the newest recorded at {newest_at}), that the "
               f"partition's database lacks, though it counts on past the root's (to seq {part_at}, the root's to "
               f"{root_at}): the kiosk may have removed them once the centre had them, or started that database "
               "anew when an earlier copy stopped")

try:
    status, text = verdict(sys.argv[1], sys.argv[2])
except Exception as e:                 # whatever failed, never a verdict that copies over the partition
    status, text = 3, f"cannot be compared with the partition's ({e})"
if text:
    print(text)
sys.exit(status)
EOF
}

if findmnt -n "$data" >/dev/null; then
  if [ ! -e "$data/$MARK" ]; then
    # Mounted by an earlier run's /etc/fstab line (written before its copy by a provision.sh from
    # before the mark): what it left on the root file system under the mount must be there too.
    # A bind mount of the file system that holds it (the root) shows what is under the mount.
    holder=$(findmnt -n -o TARGET --target "$(dirname "$data")")
    under=$(mktemp -d)
    mount --bind "$holder" "$under"
    below=$under${data#"${holder%/}"}
    found="" status=0
    if [ -e "$below/kiosk.db" ]; then
      found=$(lacking "$below/kiosk.db" "$data/kiosk.db") || status=$?
      [ "$status" -eq 0 ] || [ -n "$found" ] || found="cannot be compared with the partition's (python3 did not run)"
    fi
    umount "$under"
    rmdir "$under"
    case $status in
      0) ;;
      1) die "$data is mounted from the data partition, but the kiosk.db on the root file system under it $found (an earlier run stopped before its copy was finished, and the kiosk has recorded on the partition since). The partition and /etc/fstab are left as they are, and the read-only root stays off: move the partition's files aside and run this again, which copies the root's onto it ($howto)" ;;
      *) die "$data is mounted from the data partition, but the kiosk.db on the root file system under it $found. The partition and /etc/fstab are left as they are, and the read-only root stays off; the root's database is never to be copied over the partition's, which may be the one the kiosk went on with: bring the root's answers to the centre, then mark the partition finished and run this again ($howto)" ;;
    esac
    : >"$data/$MARK"
    sync
    say "the data partition mounted at $data lacks nothing the kiosk keeps of what the root file system holds under it: marked as finished"
  fi
  if ! grep -qxF "$line" /etc/fstab 2>/dev/null; then fstab "$line"; fi
  exit 0
fi

mkdir -p "$data"
partition=$(mktemp -d)
mount "$device" "$partition"
copy=1
if [ -e "$partition/$MARK" ] && grep -qxF "$line" /etc/fstab 2>/dev/null; then
  copy=0       # finished and mounted at an earlier boot: it holds the kiosk's data now
elif [ -e "$partition/$MARK" ] && [ -n "$(find "$partition" -newer "$partition/$MARK" ! -path "$partition" ! -name "$COPYING" -print -quit)" ]; then
  umount "$partition"
  rmdir "$partition"
  die "the data partition $device holds a finished copy written to since, but /etc/fstab does not mount it at $data: if it holds the kiosk's data, add the line '$line' to /etc/fstab and run this again; if not, move its files aside and run this again ($howto)"
elif [ ! -e "$partition/$MARK" ] && [ ! -e "$partition/$COPYING" ] && holds "$partition"; then
  umount "$partition"
  rmdir "$partition"
  die "the data partition $device holds files no run of provision.sh finished copying there (no $MARK): they may be the kiosk's data, so they are left as they are. If they are (/etc/fstab mounted it at $data before), mount it (sudo mount $device $data) and run this again; if not, move them aside and run this again, which copies $data onto it ($howto)"
fi
if [ "$copy" -eq 1 ]; then
  # Until the copy is finished nothing mounts the partition at the next boot: the kiosk goes on
  # with all its data on the root file system.
  if grep -q "[[:space:]]${data}[[:space:]]" /etc/fstab 2>/dev/null; then fstab; fi
  systemctl stop "$@"
  # A copy of this script's (stopped part way, or never mounted): made again from the data
  # directory, where the kiosk went on recording. The copying mark is there (synced) before the
  # finished one goes and stays while the rest is cleared: a power cut in between leaves a copy
  # this script makes again, never files no run marked.
  : >"$partition/$COPYING"
  sync
  rm -f "$partition/$MARK"
  sync
  find "$partition" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name kept-aside ! -name "$COPYING" \
      -exec rm -rf {} +
  say "copying $data onto $device"
  rm -f "$data/$MARK" "$data/$COPYING"       # never on the root file system: a mark copied first
  cp -a "$data/." "$partition/"
  sync
  if ! same "$data" "$partition"; then
    umount "$partition"
    rmdir "$partition"
    die "the copy of $data on $device differs from it (a failing card?): nothing mounts it; run this again"
  fi
  : >"$partition/$MARK"
  rm "$partition/$COPYING"
  sync
fi
umount "$partition"
rmdir "$partition"
if ! grep -qxF "$line" /etc/fstab 2>/dev/null; then fstab "$line"; fi
systemctl daemon-reload
mount "$data"
