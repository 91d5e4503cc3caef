#!/usr/bin/env bash
# The part of `make pi-check` that runs inside its private user + mount + pid namespace (started
# by tests/pi/pi-check.sh, which wrote the uid map): registers qemu in a binfmt_misc instance of
# its own, builds or unpacks the arm64 userland, installs the project there and runs the checks.
# Arguments: WORK REUSE TARBALL QEMU DISPLAY_NUM MIRROR PACKAGES_FILE KEY
set -euo pipefail
WORK="$1" REUSE="$2" TARBALL="$3" QEMU="$4" DISPLAY_NUM="$5" MIRROR="$6" PACKAGES="$7" KEY="$8"
ROOT="$WORK/root"
SUITE=bookworm
step() { echo "pi-check: [$(date +%H:%M:%S)] $*"; }
die() { echo "pi-check: error: $*" >&2; exit 1; }

# arm64 ELF binaries run through qemu; F: qemu is opened now, so it works inside the chroot.
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc in the namespace"
printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$QEMU"':F' \
  >/proc/sys/fs/binfmt_misc/register || die "cannot register qemu-aarch64 with binfmt_misc"

mount_guest() {
  mount -t proc proc "$ROOT/proc"
  mount --rbind /sys "$ROOT/sys"
  mount --rbind /dev "$ROOT/dev"
  mkdir -p "$ROOT/tmp/.X11-unix"
  mount --bind /tmp/.X11-unix "$ROOT/tmp/.X11-unix"
  # Name resolution and the host's CA bundle (pip must trust what the host trusts).
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  mkdir -p "$ROOT/etc/kundpuls-pi"
  cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/kundpuls-pi/ca.crt"
}

unmount_guest() {
  for m in tmp/.X11-unix dev sys proc; do umount -R "$ROOT/$m" 2>/dev/null || umount -l "$ROOT/$m" 2>/dev/null || true; done
}

guest() {   # a command in the arm64 root, as its root
  chroot "$ROOT" /usr/bin/env -i PATH=/opt/kundpuls/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 PIP_CERT=/etc/kundpuls-pi/ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=120 "$@"
}

if [ "$REUSE" = 1 ]; then
  step "unpacking the cached userland"
  mkdir -p "$ROOT"
  tar -xpf "$TARBALL" -C "$ROOT" || die "cannot unpack $TARBALL (delete it to rebuild)"
  mount_guest
else
  mapfile -t pkgs < <(grep -v '^\s*\(#\|$\)' "$PACKAGES")
  include="$(IFS=,; echo "${pkgs[*]}")"
  step "debootstrap $SUITE arm64, first stage (downloads)"
  # container=lxc: debootstrap makes no device nodes (a user namespace cannot); /dev is bound.
  container=lxc debootstrap --arch=arm64 --foreign --variant=minbase --include="$include" \
    "$SUITE" "$ROOT" ${MIRROR:+"$MIRROR"} >"$WORK/debootstrap.log" 2>&1 \
    || { tail -30 "$WORK/debootstrap.log" >&2; die "debootstrap (first stage) failed"; }
  mount_guest
  step "debootstrap second stage (emulated)"
  guest env container=lxc /debootstrap/debootstrap --second-stage >"$WORK/debootstrap2.log" 2>&1 \
    || { tail -30 "$WORK/debootstrap2.log" >&2; tail -30 "$ROOT/debootstrap/debootstrap.log" >&2 2>/dev/null; die "debootstrap (second stage) failed"; }
  step "Python venv and the project's dependencies (aarch64 wheels)"
  guest /usr/bin/python3 -m venv /opt/kundpuls/venv
  guest pip install -q --upgrade pip "setuptools>=68" wheel || die "pip could not upgrade itself in the arm64 root"
  mkdir -p "$ROOT/opt/kundpuls/src"
  tar -xf "$WORK/src.tar" -C "$ROOT/opt/kundpuls/src"
  # Dependencies only, so the cache does not hold this commit's code.
  guest python -c 'import tomllib; p = tomllib.load(open("/opt/kundpuls/src/pyproject.toml", "rb"))["project"]
deps = p["dependencies"] + p["optional-dependencies"]["kiosk"] + p["optional-dependencies"]["test"]
open("/opt/kundpuls/requirements.txt", "w").write("\n".join(deps) + "\n")'
  guest pip install -q -r /opt/kundpuls/requirements.txt || die "the dependencies did not install on arm64"
  rm -rf "$ROOT/opt/kundpuls/src"
  unmount_guest
  step "saving the userland to $TARBALL"
  if ! { tar -cpf "$TARBALL.tmp" -C "$ROOT" --exclude=./var/cache/apt/archives --exclude=./root/.cache . \
         && mv "$TARBALL.tmp" "$TARBALL" && echo "$KEY" >"${TARBALL%.tar}.key"; }; then
    die "cannot write $TARBALL"
  fi
  mount_guest
fi
trap unmount_guest EXIT

step "installing this commit of the project with the kiosk extra"
rm -rf "$ROOT/opt/kundpuls/src"
mkdir -p "$ROOT/opt/kundpuls/src"
tar -xf "$WORK/src.tar" -C "$ROOT/opt/kundpuls/src"
guest pip install -q --no-build-isolation "/opt/kundpuls/src[kiosk,test]" || die "the project did not install on arm64"
# As provision.sh does: the kiosk's service runs Python at -OO, compiled for it beforehand.
guest python -OO -m kiosk.precompile || die "kiosk.precompile failed on arm64"
guest env KIVY_NO_CONSOLELOG=1 KIVY_NO_ARGS=1 python -c 'import platform, sqlite3, kivy, gpiozero, lgpio, msgspec, peewee, stdnum, phonenumbers
from importlib.metadata import version as v
print("pi-check:", platform.machine(), "Python", platform.python_version(), "glibc", platform.libc_ver()[1],
      "Kivy", v("kivy"), "gpiozero", v("gpiozero"), "lgpio", v("lgpio"), "msgspec", v("msgspec"), "SQLite", sqlite3.sqlite_version)' \
  || die "the kiosk's libraries do not import on arm64"

# The checks, as the test suite's own Python script (it runs in the arm64 root too).
cp "$(dirname "$0")/checks.py" "$ROOT/opt/kundpuls/checks.py"
guest python /opt/kundpuls/checks.py --display ":$DISPLAY_NUM" --src /opt/kundpuls/src
