#!/usr/bin/env bash
# `make pi-check`: the kiosk on the Pi's architecture. Runs the project in an emulated Debian 12
# (bookworm, the base of Raspberry Pi OS Bookworm) arm64 userland on this x86 machine: installs
# it with the `kiosk` extra and runs `kiosk doctor`, `simulate`, `stats`, the headless demo, the
# window demo on Xvfb with each shipped Kivy ini, and the kiosk's unit tests.
#
# How: qemu-user-static runs the arm64 binaries through a binfmt_misc instance of our own,
# mounted in a private user + mount + pid namespace (Linux >= 6.7), so nothing on the host is
# registered or mounted. The namespace maps uids 0-65535 one to one (written by this script, as
# root), so dpkg can own files as any user. The userland with its Python dependencies is cached
# as a tarball (default ~/.cache/kundpuls/pi-root.tar, `PI_CACHE_DIR` to move it); it is built
# again when tests/pi/ or the dependencies in pyproject.toml change. `PI_REBUILD=1` forces it.
#
# Proves: the software stack (Python 3.11, Kivy 2.3 and SDL2 from the aarch64 wheels, lgpio,
# gpiozero, peewee/SQLite, msgspec, python-stdnum, phonenumbers) installs and runs on arm64 with glibc 2.36.
# Does not prove: the Pi's GPIO (gpiozero's mock pins here), its display driver (Xvfb and Mesa's
# software renderer instead of KMS/v3d), its touch panel, SD card, speed or temperature.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PROG="pi-check"
CACHE_DIR="${PI_CACHE_DIR:-${HOME:-/root}/.cache/kundpuls}"
TARBALL="$CACHE_DIR/pi-root.tar"
KEYFILE="$CACHE_DIR/pi-root.key"

die() { echo "$PROG: error: $*" >&2; exit 1; }
say() { echo "$PROG: $*"; }

# -- preflight: say clearly what is missing ----------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root: the namespace's uid map (0-65535) is written by root"
kernel="$(uname -r)"
kmaj="${kernel%%.*}"; krest="${kernel#*.}"; kmin="${krest%%.*}"
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" -eq 6 ] && [ "$kmin" -lt 7 ]; }; then
  die "Linux >= 6.7 is needed for a binfmt_misc instance in a user namespace (this is $kernel)"
fi
for cmd in unshare debootstrap qemu-aarch64-static Xvfb tar python3; do
  command -v "$cmd" >/dev/null || die "$cmd is missing (apt-get install qemu-user-static debootstrap xvfb)"
done
QEMU="$(command -v qemu-aarch64-static)"

# The cache key: what goes into the cached userland: the recipe's version (bump it when
# inside.sh builds the root differently), the Debian packages, the Python dependencies.
RECIPE=1
deps="$(python3 -c 'import sys, tomllib; p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(sorted(p["dependencies"]), sorted(p["optional-dependencies"]["kiosk"]), sorted(p["optional-dependencies"]["test"]))' \
  "$REPO/pyproject.toml")" || die "cannot read the dependencies from pyproject.toml"
key="$( (echo "$RECIPE"; grep -v '^\s*\(#\|$\)' "$HERE/debian-packages.txt"; echo "$deps") | sha256sum | cut -c1-16)"
reuse=0
if [ -z "${PI_REBUILD:-}" ] && [ -f "$TARBALL" ] && [ "$(cat "$KEYFILE" 2>/dev/null)" = "$key" ]; then
  reuse=1
fi
mkdir -p "$CACHE_DIR" || die "cannot create the cache directory $CACHE_DIR"

WORK="$(mktemp -d /var/tmp/kundpuls-pi.XXXXXX)"
XVFB_PID=""
NS_PID=""
cleanup() {
  if [ -n "$NS_PID" ]; then kill "$NS_PID" 2>/dev/null || true; fi
  if [ -n "$XVFB_PID" ]; then kill "$XVFB_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The project as git knows it (tracked and new files, not .venv or artifacts).
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf "$WORK/src.tar") \
  || die "cannot pack the project from $REPO"

# The window demo draws on an Xvfb of the host (native speed); its socket is shared with the root.
rfd="$WORK/xvfb.fd"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp -noreset 3>"$rfd" >/dev/null 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do [ -s "$rfd" ] && break; sleep 0.1; done
[ -s "$rfd" ] || die "Xvfb did not start"
DISPLAY_NUM="$(tr -dc 0-9 <"$rfd")"

# The mirror the host's apt uses (debootstrap's own default otherwise).
MIRROR="$(sed -n 's/^URIs: *\([^ ]*debian\)\/* *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)"
[ -n "$MIRROR" ] || MIRROR="$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"

if [ "$reuse" = 1 ]; then say "reusing the arm64 userland from $TARBALL"; else say "building the arm64 userland (cache: $TARBALL)"; fi
mkfifo "$WORK/go"
# The namespace waits on the fifo until its uid/gid maps are written (only root outside can).
# shellcheck disable=SC2016  # the inner script expands its own arguments
unshare --user --mount --pid --fork --kill-child -- \
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  bash -c 'read -r _ <"$1"; shift; exec bash "$@"' _ "$WORK/go" \
  "$HERE/inside.sh" "$WORK" "$reuse" "$TARBALL" "$QEMU" "$DISPLAY_NUM" "$MIRROR" "$HERE/debian-packages.txt" "$key" &
NS_PID=$!
for _ in $(seq 50); do
  [ "$(readlink /proc/$NS_PID/ns/user 2>/dev/null)" != "$(readlink /proc/self/ns/user)" ] && break
  sleep 0.1
done
echo "0 0 65536" >"/proc/$NS_PID/uid_map" || die "cannot write the namespace's uid map"
echo "0 0 65536" >"/proc/$NS_PID/gid_map" || die "cannot write the namespace's gid map"
echo go >"$WORK/go"
status=0
wait "$NS_PID" || status=$?
NS_PID=""
if [ "$status" -ne 0 ]; then
  die "the check in the arm64 userland failed (exit $status); see the output above"
fi
say "ok: the kiosk installs and runs on arm64 (Debian 12); see README 'Checked on the Pi's architecture'"
