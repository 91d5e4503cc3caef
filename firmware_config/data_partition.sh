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
# over: one holding files without a mark, or the mounted one lacking the answers the root file
# system holds under it, is refused with what to do.
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

# newest_on ROOT_DB PARTITION_DB: the newest answer of the database on the root file system is in
# the one on the partition (or it holds none). Else prints how many it holds and from when.
newest_on() {
  python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
from pathlib import Path

def opened(path):
    # What is on the root file system is read as it stands (no -wal or -shm made there), with its
    # write-ahead log when the kiosk left one.
    mode = "ro" if Path(f"{path}-wal").exists() else "ro&immutable=1"
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode={mode}", uri=True)

try:
    root = opened(sys.argv[1])
    count, = root.execute("SELECT COUNT(*) FROM response").fetchone()
    newest = root.execute("SELECT id, seq, recorded_at FROM response ORDER BY seq DESC LIMIT 1").fetchone()
except sqlite3.Error as e:
    if "no such table" in str(e):
        sys.exit(0)                                  # a database never used: no answer
    print(f"a kiosk.db that cannot be read ({e})")
    sys.exit(1)
if newest is None:
    sys.exit(0)
try:
    found = opened(sys.argv[2]).execute("SELECT 1 FROM response WHERE id = ? AND seq = ?", newest[:2]).fetchone()
except sqlite3.Error:
    found = None
if found is None:
    print(f"{count} answer(s), the newest recorded at {newest[2]}")
    sys.exit(1)
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
    missing=""
    if [ -e "$below/kiosk.db" ]; then
      partition_db=$data/kiosk.db
      [ -e "$partition_db" ] || partition_db=/dev/null
      missing=$(newest_on "$below/kiosk.db" "$partition_db") || missing=${missing:-answers}
    fi
    umount "$under"
    rmdir "$under"
    if [ -n "$missing" ]; then
      die "$data is mounted from the data partition, but the kiosk.db on the root file system under it holds $missing, that the partition lacks (an earlier run stopped before its copy was finished, and the kiosk has recorded on the partition since). The partition and /etc/fstab are left as they are, and the read-only root stays off: move the partition's files aside and run this again, which copies the root's onto it ($howto)"
    fi
    : >"$data/$MARK"
    sync
    say "the data partition mounted at $data lacks no answer the root file system holds under it: marked as finished"
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
