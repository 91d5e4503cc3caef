#!/usr/bin/env bash
# provision.sh: turns a Raspberry Pi OS Bookworm (Lite, 64-bit) installation into a Kundpuls kiosk.
#
# Idempotent: run it again with the same options and nothing changes; run it with new options and
# only what differs is rewritten (files are compared before they are replaced, services restarted
# only when something they read changed). See docs/deployment.md for the whole procedure.
#
#   sudo ./provision.sh --kiosk-id ID --site SITE --broker-host HOST \
#        --broker-password-stdin --ca-file ca.crt [--display dsi7|hdmi|none] [--rotation 0|90|180|270]
#
# --dry-run prints every action and changes nothing. --root DIR provisions the tree under DIR
# instead of this machine (an image being built, or a test): files are written there, and
# commands that would act on the running system (apt-get, pip, systemctl, mkfs, raspi-config)
# are never run; they are written to DIR/var/lib/kundpuls-provision/pending.sh instead, to be
# run inside that system (e.g. on its first boot). This script never deletes data (only a copy of
# the data it did not finish, when it makes it again: data_partition.sh).
set -euo pipefail
umask 022

PROG=provision.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")

VENV=/opt/kundpuls/venv
ETC=/etc/kundpuls
DATA=/var/lib/kundpuls
BOOT=/boot/firmware
PENDING_FILE=/var/lib/kundpuls-provision/pending.sh
DATA_STEP=/var/lib/kundpuls-provision/data-partition.sh     # firmware_config/data_partition.sh
DATA_LABEL=kundpuls-data
# Takes every overlayroot= word out of cmdline.txt: raspi-config's `overlayroot=tmpfs` and the
# `overlayroot=tmpfs:recurse=0` this script makes of it (8.), which raspi-config's own overlay
# switch leaves in place (it takes out `overlayroot=tmpfs ` only) while it says "disabled".
OVERLAY_OFF_SED='s/ *overlayroot=[^ ]*//g'
# The way from the read-only root to a writable one (the boot partition is read-only there too).
WRITABLE_ROOT="sudo mount -o remount,rw $BOOT && sudo sed -i '$OVERLAY_OFF_SED' $BOOT/cmdline.txt && sudo reboot"
ID_RE='^[A-Za-z0-9_-]{1,64}$'
# The system's own Python (3.11 on Bookworm: tomllib), never a venv's or another found on PATH: it
# answers what the kiosk would say of a host and of the kiosk.toml rendered (kiosk_toml.py).
SYSTEM_PYTHON=/usr/bin/python3
# The data partition keeps every answer until the centre has it and privacy.keep_acked_days after
# (about 0.4 kB an answer: 256 MiB is years of a busy kiosk). Smaller is a mistake, such as a
# partition made in the gap before the boot partition (docs/deployment.md, B2).
DATA_MIN_BYTES=$((256 * 1024 * 1024))
# In the system that has the device (this one, or the target's pending.sh): $1 the data device,
# $2 the fewest bytes it must hold.
# shellcheck disable=SC2016  # expanded by that shell, not this one
DATA_SIZE_CHECK='s=$(lsblk -bdno SIZE "$1" 2>/dev/null | tr -dc 0-9); if [ -z "$s" ]; then echo "provision.sh: error: --data-device $1: no such block device" >&2; exit 2; fi; if [ "$s" -lt "$2" ]; then echo "provision.sh: error: --data-device $1 holds only $((s / 1048576)) MiB; the data partition keeps every answer and needs at least $(($2 / 1048576)) MiB: make it after the root partition (docs/deployment.md, B2)" >&2; exit 2; fi'

usage() {
  cat <<EOF
usage: $PROG --kiosk-id ID --site SITE --broker-host HOST [options]

Required (the first time; later runs keep what is already installed):
  --kiosk-id ID               kiosk id, also its broker user name (letters, digits, - and _)
  --site SITE                 site (store) id
  --broker-host HOST          central (or store) MQTT broker host name, as in its certificate
  --broker-password-stdin     read the kiosk's broker password from standard input, or
  --broker-password-file F    read it from file F, or
  --broker-password P         give it here (visible in the process list: prefer the two above)

Options:
  --broker-port N             broker TLS port (default 8883)
  --ca-file F                 CA certificate of the broker (default: the system's CAs)
  --display KIND              dsi7 (official 7" touch display, default), hdmi (HDMI + USB touch)
                              or none (buttons only, no screen)
  --rotation DEG              0, 90, 180 or 270: turn the UI (and touch) to match the mounting
  --staff-pin-hash HASH       staff PIN hash from 'kiosk pin hash' (default: staff screen locked)
  --package SPEC              what pip installs, kept for later runs (default: the checkout
                              this script is run from, now ${REPO}[kiosk])
  --read-only-root            make the root file system read-only (overlay in RAM); needs
  --data-device DEV           the partition that keeps the database (formatted only if empty)
  --no-read-only-root         turn the read-only root off again (from the next boot)
  --no-start                  install and enable the services, but do not (re)start them
                              (the next run without it does)
  --root DIR                  provision the system tree under DIR instead of this machine
  --dry-run                   print what would be done, change nothing
  -h, --help                  this help
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 2; }
say() { echo "$PROG: $*"; }

# ------------------------------------------------------------------------------------------------
# Command line

# Empty means "not given": an earlier run's choice, else the default, applies (see below).
KIOSK_ID="" SITE="" BROKER_HOST="" BROKER_PORT="" CA_FILE="" DISPLAY_KIND="" ROTATION=""
PASSWORD="" PASSWORD_GIVEN=0 STAFF_PIN_HASH="" PACKAGE="" READ_ONLY="" DATA_DEVICE=""
ROOT=/ DRY_RUN=0 START=1

need_value() { if [ "$#" -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi; }
set_password() {
  [ "$PASSWORD_GIVEN" -eq 0 ] || die "give the broker password only once"
  PASSWORD=$1 PASSWORD_GIVEN=1
}

while [ "$#" -gt 0 ]; do
  arg=$1
  case $arg in
    --*=*) set -- "${arg%%=*}" "${arg#*=}" "${@:2}"; continue ;;
  esac
  case $arg in
    --kiosk-id) need_value "$@"; KIOSK_ID=$2; shift ;;
    --site) need_value "$@"; SITE=$2; shift ;;
    --broker-host) need_value "$@"; BROKER_HOST=$2; shift ;;
    --broker-port) need_value "$@"; BROKER_PORT=$2; shift ;;
    --broker-password) need_value "$@"; set_password "$2"; shift ;;
    --broker-password-file)
      need_value "$@"
      [ -r "$2" ] || die "--broker-password-file: cannot read $2"
      set_password "$(head -n 1 "$2")"; shift ;;
    --broker-password-stdin)
      IFS= read -r line || [ -n "${line:-}" ] || die "--broker-password-stdin: nothing on standard input"
      set_password "$line" ;;
    --ca-file) need_value "$@"; CA_FILE=$2; shift ;;
    --display) need_value "$@"; DISPLAY_KIND=$2; shift ;;
    --rotation) need_value "$@"; ROTATION=$2; shift ;;
    --staff-pin-hash) need_value "$@"; STAFF_PIN_HASH=$2; shift ;;
    --package) need_value "$@"; PACKAGE=$2; shift ;;
    --read-only-root) READ_ONLY=1 ;;
    --no-read-only-root) READ_ONLY=0 ;;
    --data-device) need_value "$@"; DATA_DEVICE=$2; shift ;;
    --no-start) START=0 ;;
    --root) need_value "$@"; ROOT=$2; shift ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $arg" ;;
  esac
  shift
done

[ "${ROOT#/}" != "$ROOT" ] || die "--root must be an absolute path, got '$ROOT'"
ROOT=${ROOT%/}                  # "" for this machine
OFFLINE=0; [ -n "$ROOT" ] && OFFLINE=1
if [ "$OFFLINE" -eq 1 ] && [ ! -d "$ROOT" ]; then die "--root: no such directory: $ROOT"; fi

t() { printf '%s%s' "$ROOT" "$1"; }    # a system path inside the target tree

[ -x "$SYSTEM_PYTHON" ] || die "$SYSTEM_PYTHON not found: Raspberry Pi OS Bookworm has it (apt-get install python3)"
# kiosk_toml.py reads TOML with tomllib (Python 3.11, Bookworm's): an older one failed every check
# below, named as the option's fault ("--broker-host must be a host name", on Ubuntu 22.04).
"$SYSTEM_PYTHON" -c 'import tomllib' 2>/dev/null \
  || die "$SYSTEM_PYTHON is older than Python 3.11 (no tomllib), which this script needs: run it on Raspberry Pi OS Bookworm or a machine with Python 3.11 or newer"
kiosk_toml() { "$SYSTEM_PYTHON" "$HERE/kiosk_toml.py" "$@"; }

# What an earlier run left in place may stand in for what is not given again.
existing_toml=$(t "$ETC/kiosk.toml")
# All three given: an installed kiosk.toml that lacks them (emptied by a full card) is not needed.
IDENTITY_GIVEN=0
if [ -n "$KIOSK_ID" ] && [ -n "$SITE" ] && [ -n "$BROKER_HOST" ]; then IDENTITY_GIVEN=1; fi
existing_unreadable=0
if [ -f "$existing_toml" ]; then
  # Read as the kiosk reads it (TOML: quotes of either kind, comments, indented or dotted keys).
  if existing=$(kiosk_toml read "$existing_toml" 2>&1); then
    mapfile -t file_values <<<"$existing"       # id, site, host, port (the empty ones cut off)
    [ -n "$KIOSK_ID" ] || KIOSK_ID=${file_values[0]:-}
    [ -n "$SITE" ] || SITE=${file_values[1]:-}
    [ -n "$BROKER_HOST" ] || BROKER_HOST=${file_values[2]:-}
    [ -n "$BROKER_PORT" ] || BROKER_PORT=${file_values[3]:-}
  elif [ "$IDENTITY_GIVEN" -eq 1 ]; then
    existing_unreadable=1
  else
    die "$ETC/kiosk.toml is not TOML ($existing): fix it, or give --kiosk-id, --site and --broker-host to start again from firmware_config/kiosk.toml"
  fi
fi
[ -n "$BROKER_PORT" ] || BROKER_PORT=8883
# The display, rotation, read-only choice and a --package given are kept in /etc/kundpuls/provision.conf.
state_value() {
  local f
  f=$(t "$ETC/provision.conf")
  [ -f "$f" ] || return 0
  sed -n "s/^$1=//p" "$f" | tail -n 1
}
previous_display=$(state_value display)
if [ -z "$ROTATION" ] && { [ -z "$DISPLAY_KIND" ] || [ "$DISPLAY_KIND" = "$previous_display" ]; }; then
  ROTATION=$(state_value rotation)
fi
[ -n "$DISPLAY_KIND" ] || DISPLAY_KIND=${previous_display:-dsi7}
[ -n "$ROTATION" ] || ROTATION=0
# Without --package, the checkout this script is run from: an update from a new checkout (B8)
# installs that one. Earlier versions kept package= on every run, this default too; a checkout's
# `DIR[kiosk]` kept there was no choice (one given with --package looks the same: give it again).
[ -n "$PACKAGE" ] || PACKAGE=$(state_value package_option)
if [ -z "$PACKAGE" ]; then
  PACKAGE=$(state_value package)
  if [[ $PACKAGE == /*"[kiosk]" ]]; then
    [ "$PACKAGE" = "${REPO}[kiosk]" ] \
      || say "installing this checkout, ${REPO}[kiosk], not ${PACKAGE} (kept by an earlier run; --package installs another)"
    PACKAGE=""
  fi
fi
PACKAGE_OPTION=$PACKAGE         # kept for the next run; empty: the checkout it is run from
previous_read_only=$(state_value read_only)
[ -n "$READ_ONLY" ] || READ_ONLY=${previous_read_only:-0}
if [ "$READ_ONLY" -eq 1 ] && [ -z "$DATA_DEVICE" ]; then DATA_DEVICE=$(state_value data_device); fi
[ -n "$KIOSK_ID" ] || die "--kiosk-id is required"
[[ $KIOSK_ID =~ $ID_RE ]] || die "--kiosk-id must be 1-64 letters, digits, '-' or '_', got '$KIOSK_ID'"
[ "$KIOSK_ID" != central ] || die "--kiosk-id 'central' is reserved for the central ingest's broker user"
[ -n "$SITE" ] || die "--site is required"
[[ $SITE =~ $ID_RE ]] || die "--site must be 1-64 letters, digits, '-' or '_', got '$SITE'"
[ -n "$BROKER_HOST" ] || die "--broker-host is required"
# The kiosk's own rule (999.1.1.1, mqtt..example.com and a-.b are refused there; 2001:db8::1 is not).
kiosk_toml host "$BROKER_HOST" 2>/dev/null || die "--broker-host must be a host name or IP address, got '$BROKER_HOST'"
if ! [[ $BROKER_PORT =~ ^[0-9]{1,5}$ ]] || [ "$((10#$BROKER_PORT))" -lt 1 ] || [ "$((10#$BROKER_PORT))" -gt 65535 ]; then
  die "--broker-port must be 1-65535, got '$BROKER_PORT'"
fi
BROKER_PORT=$((10#$BROKER_PORT))     # 08883 would be written as is: not a TOML integer
case $DISPLAY_KIND in dsi7|hdmi|none) ;; *) die "--display must be dsi7, hdmi or none, got '$DISPLAY_KIND'" ;; esac
case $ROTATION in 0|90|180|270) ;; *) die "--rotation must be 0, 90, 180 or 270, got '$ROTATION'" ;; esac
if [ "$DISPLAY_KIND" = none ] && [ "$ROTATION" != 0 ]; then die "--rotation needs a display (--display none has none)"; fi
if [ "$PASSWORD_GIVEN" -eq 1 ]; then
  [ -n "$PASSWORD" ] || die "the broker password is empty"
elif [ ! -s "$(t "$ETC/broker.pass")" ]; then
  die "the broker password is required: --broker-password-stdin, --broker-password-file or --broker-password"
fi
if [ -n "$CA_FILE" ]; then [ -r "$CA_FILE" ] || die "--ca-file: cannot read $CA_FILE"; fi
if [ -n "$STAFF_PIN_HASH" ]; then
  make_one="make one with 'kiosk pin hash' (it asks for the PIN and prints the hash; docs/deployment.md, B5) and give it in single quotes"
  # The kiosk's own rule (kiosk/pin.py, through kiosk_toml.py): the kiosk is installed only later
  # in this script (or in the target system), so it cannot check the hash itself.
  problem=$(kiosk_toml pin "$STAFF_PIN_HASH" 2>&1) || die "--staff-pin-hash $problem: $make_one"
fi
if [ "$READ_ONLY" -eq 1 ] && [ -z "$DATA_DEVICE" ]; then
  die "--read-only-root needs --data-device: the database must not live in RAM"
fi
if [ -n "$DATA_DEVICE" ] && [ "$READ_ONLY" -eq 0 ]; then die "--data-device is only used with --read-only-root"; fi
if [ "$READ_ONLY" -eq 1 ] && [ "$OFFLINE" -eq 0 ]; then
  # Before anything is changed; under --root the target checks it (8.) before it formats.
  sh -c "$DATA_SIZE_CHECK" sh "$DATA_DEVICE" "$DATA_MIN_BYTES" || exit 2
fi
[ -n "$PACKAGE" ] || PACKAGE="${REPO}[kiosk]"

# The kiosk.toml this run installs (step 4): the installed one (operator edits are kept) or the
# reference, with the id, site and broker settings of this command line. Rendered and read back
# before anything is changed, so a value the kiosk would refuse stops here.
ca_path=""
if [ -n "$CA_FILE" ] || [ -f "$(t "$ETC/ca.crt")" ]; then ca_path=$ETC/ca.crt; fi
render_toml() {  # render_toml FILE: FILE with this run's settings; the keys it lacks on standard error
  awk -v id="$KIOSK_ID" -v site="$SITE" -v host="$BROKER_HOST" -v port="$BROKER_PORT" \
      -v ca="$ca_path" -v pw="$ETC/broker.pass" -v pin="$STAFF_PIN_HASH" '
  function set(line) { print line; done[sec "." key] = 1; handled = 1 }
  /^[[:space:]]*\[/ { sec = $0; sub(/#.*/, "", sec); gsub(/[[:space:]]/, "", sec) }
  {
    handled = 0
    key = $0; sub(/^[[:space:]]+/, "", key); sub(/[[:space:]]*=.*/, "", key)
    if (sec == "[kiosk]" && key == "id") set("id = \"" id "\"")
    else if (sec == "[kiosk]" && key == "site") set("site = \"" site "\"")
    else if (sec == "[broker]" && key == "host") set("host = \"" host "\"")
    else if (sec == "[broker]" && key == "port") set("port = " port)
    else if (sec == "[broker]" && key == "tls") set("tls = true")
    else if (sec == "[broker]" && key == "ca_file") set("ca_file = \"" ca "\"")
    else if (sec == "[broker]" && key == "password_file") set("password_file = \"" pw "\"")
    else if (sec == "[staff]" && key == "pin_hash" && pin != "") set("pin_hash = \"" pin "\"")
    if (!handled) print
  }
  END {
    n = split("[kiosk].id [kiosk].site [broker].host [broker].port [broker].tls [broker].ca_file [broker].password_file", need, " ")
    for (i = 1; i <= n; i++) if (!(need[i] in done)) { print need[i] > "/dev/stderr"; bad = 1 }
    exit bad
  }' "$1"
}
toml_source=$HERE/kiosk.toml
kept_aside=""
if [ -f "$existing_toml" ]; then
  if [ "$existing_unreadable" -eq 0 ] && rendered=$(render_toml "$existing_toml" 2>/dev/null); then
    toml_source=$existing_toml
  elif [ "$IDENTITY_GIVEN" -eq 0 ]; then
    render_toml "$existing_toml" >/dev/null || true
    die "$existing_toml lacks the keys above (one 'key = value' line each); add them, or give --kiosk-id, --site and --broker-host to start again from firmware_config/kiosk.toml"
  elif grep -qv '^[[:space:]]*\(#.*\)\?$' "$existing_toml"; then   # not TOML, or lacks keys
    # What the operator wrote there is kept beside it, never deleted.
    kept_aside=$ETC/kiosk.toml.incomplete
    say "$ETC/kiosk.toml lacks the keys provision.sh sets: starting again from firmware_config/kiosk.toml (the old file is kept as $kept_aside)"
  else
    say "$ETC/kiosk.toml is empty: starting again from firmware_config/kiosk.toml"
  fi
fi
if [ "$toml_source" != "$existing_toml" ]; then
  rendered=$(render_toml "$toml_source") || die "$toml_source lacks the keys above (one 'key = value' line each)"
fi
rendered_file=$(mktemp)
trap 'rm -f "$rendered_file"' EXIT
printf '%s\n' "$rendered" >"$rendered_file"
problem=$(kiosk_toml check "$rendered_file" --kiosk-id kiosk.id "$KIOSK_ID" --site kiosk.site "$SITE" \
            --broker-host broker.host "$BROKER_HOST" --broker-port broker.port "$BROKER_PORT" 2>&1) \
  || die "the kiosk.toml made from $toml_source is not what the kiosk would read: $problem"
if [ "$OFFLINE" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...), or try --dry-run first"
  [ -f "$BOOT/config.txt" ] || die "$BOOT/config.txt not found: this is not Raspberry Pi OS Bookworm"
  if [ "$(findmnt -n -o FSTYPE /)" = overlay ]; then
    die "$(printf '%s\n  %s' "the root file system is read-only (overlay): nothing written to it would survive a reboot. Make it writable with this (raspi-config's overlay switch leaves it on), run this again after the reboot (it turns the overlay back on), and reboot:" "$WRITABLE_ROOT")"
  fi
fi

# ------------------------------------------------------------------------------------------------
# Actions: every change goes through these, so --dry-run and --root behave the same everywhere.

CHANGED=()          # system paths written by this run
PENDING=()          # commands for the target system (--root)

# run CMD...: a command acting on the running system.
run() {
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would run: $*"
  elif [ "$OFFLINE" -eq 1 ]; then
    PENDING+=("$(printf '%q ' "$@")")
  else
    say "+ $*"
    "$@"
  fi
}

# put MODE PATH < content: write PATH (a system path) unless it already holds exactly this.
# MODE - is for the FAT boot partition, where modes do not exist (chmod fails there).
put() {
  local mode=$1 path=$2 dest tmp
  dest=$(t "$path")
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" && { [ "$mode" = - ] || [ "$(stat -c %a "$dest")" = "${mode#0}" ]; }; then
    rm -f "$tmp"
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    say "would write $path"
    rm -f "$tmp"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  # Same directory, then rename: a power cut leaves the old file or the new one, never half.
  local staged
  staged=$(mktemp "$dest.XXXXXX")
  cat "$tmp" >"$staged"
  rm -f "$tmp"
  if [ "$mode" = - ]; then chmod 0644 "$staged" 2>/dev/null || true; else chmod "$mode" "$staged"; fi
  sync "$staged" 2>/dev/null || true
  mv -f "$staged" "$dest"
  say "wrote $path"
  CHANGED+=("$path")
}

# own OWNER PATH: ownership of a system path (a user of the target system, so not done under --root).
own() {
  if [ "$DRY_RUN" -eq 1 ] || [ "$OFFLINE" -eq 1 ]; then
    run chown "$1" "$2"
  elif [ "$(stat -c %U:%G "$2")" != "$1" ]; then
    run chown "$1" "$2"
  fi
}

# drop PATH: remove a system path an earlier run wrote (never data), unless it is not there.
drop() {
  [ -e "$(t "$1")" ] || return 0
  if [ "$DRY_RUN" -eq 1 ]; then say "would remove $1"; return 0; fi
  rm -f "$(t "$1")"
  say "removed $1"
  CHANGED+=("$1")
}

changed_any() {  # changed_any PATH-PREFIX...: did this run write something under these?
  local p c
  for c in "${CHANGED[@]+"${CHANGED[@]}"}"; do
    for p in "$@"; do [ "${c#"$p"}" != "$c" ] && return 0; done
  done
  return 1
}

# A run that stops part way (the kiosk refuses the config after pip installed new code, a lost
# SSH connection, a power cut) may have changed what the services run without restarting them,
# and the next run finds nothing left to change: this mark, written before the first change and
# removed once the services have restarted, makes that run restart them (and reload systemd).
RESTART_MARK=/var/lib/kundpuls-provision/restart-pending
restart_owed=0
if [ -e "$(t "$RESTART_MARK")" ]; then
  restart_owed=1
  say "an earlier run stopped before it restarted the services: this run restarts them"
fi
if [ "$OFFLINE" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then
  mkdir -p "$(dirname "$RESTART_MARK")"
  echo "# Written by $PROG: a run changed this system and has not restarted the kiosk services yet; the next run restarts them." >"$RESTART_MARK"
  sync
fi

# ------------------------------------------------------------------------------------------------
# 1. System packages (Raspberry Pi OS)

packages=(python3-venv python3-pip python3-lgpio)
if [ "$DISPLAY_KIND" != none ]; then
  # What the Kivy wheel needs beside its bundled SDL2: Mesa (EGL/GLES through KMS) and its DRI
  # drivers (v3d, vc4: what GBM and EGL load; Raspberry Pi OS Lite has no Mesa, and no package
  # here depends on them), GBM, DRM, mtdev. tests/pi/debian-packages.txt installs the same.
  packages+=(libegl1 libgles2 libgl1-mesa-dri libgbm1 libdrm2 libmtdev1)
fi
if [ "$OFFLINE" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
else
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
fi

# ------------------------------------------------------------------------------------------------
# 2. The kiosk's user: kundpuls, in the gpio, video, input and render groups (systemd-sysusers).

put 0644 /etc/sysusers.d/kundpuls.conf <"$HERE/sysusers.d/kundpuls.conf"
user_ok() {  # the user exists and is in every group its sysusers.d file names
  local g
  grep -q '^kundpuls:' "$(t /etc/passwd)" 2>/dev/null || return 1
  while read -r kind _ g; do
    [ "$kind" = m ] || continue
    grep -Eq "^$g:[^:]*:[^:]*:(.*,)?kundpuls(,|\$)" "$(t /etc/group)" || return 1
  done <"$HERE/sysusers.d/kundpuls.conf"
}
if user_ok; then
  :
elif [ "$DRY_RUN" -eq 1 ]; then
  say "would run: systemd-sysusers${ROOT:+ --root=$ROOT} /etc/sysusers.d/kundpuls.conf"
elif command -v systemd-sysusers >/dev/null 2>&1; then
  # --root only edits passwd/group files inside the target tree, so it is safe there too.
  systemd-sysusers ${ROOT:+"--root=$ROOT"} "$(t /etc/sysusers.d/kundpuls.conf)" >/dev/null
else
  run systemd-sysusers /etc/sysusers.d/kundpuls.conf
fi

# ------------------------------------------------------------------------------------------------
# 3. The program: a virtual environment in /opt/kundpuls with the package and its kiosk extra.
# --system-site-packages lets gpiozero find the Pi OS lgpio module (python3-lgpio) without
# compiling it.

installed_packages() {  # a fingerprint of what the services run: changed by an update, and only then
  [ -x "$VENV/bin/pip" ] || return 0
  {
    "$VENV/bin/pip" freeze 2>/dev/null || true
    # pip freeze names a local-directory install `kundpuls @ file:///...` whatever its code is; the
    # RECORD of the installed package lists every file pip installed with its SHA-256.
    find "$VENV/lib" -path '*/site-packages/kundpuls-*.dist-info/RECORD' -type f -print0 2>/dev/null \
      | sort -z | xargs -0 -r cat || true
  } | sha256sum
}
packages_before=""
if [ "$OFFLINE" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then packages_before=$(installed_packages); fi
if [ "$OFFLINE" -eq 1 ] || [ "$DRY_RUN" -eq 1 ] || [ ! -x "$VENV/bin/python" ]; then
  run python3 -m venv --system-site-packages "$VENV"
fi
# pip builds a local directory in place, as root (setuptools' build/ and kundpuls.egg-info/), and
# the next build takes what is left in build/: files since deleted from the source came back with
# an update. This checkout is built from clean, and on this machine no root-owned build is left
# in it. (Not queued again after pip under --root: pending.sh keeps one of two equal commands.)
clean_build=()
if [ "$PACKAGE" = "${REPO}[kiosk]" ]; then clean_build=(rm -rf "$REPO/build" "$REPO/kundpuls.egg-info"); fi
if [ "${#clean_build[@]}" -gt 0 ]; then run "${clean_build[@]}"; fi
run "$VENV/bin/pip" install --quiet --upgrade "$PACKAGE"
if [ "${#clean_build[@]}" -gt 0 ] && [ "$OFFLINE" -eq 0 ]; then run "${clean_build[@]}"; fi
# The kiosk app runs with PYTHONOPTIMIZE=2 (kundpuls-kiosk.service): compile its Python for that
# level now, as root, or every start compiles it again (kiosk/precompile.py).
run "$VENV/bin/python" -OO -m kiosk.precompile

# ------------------------------------------------------------------------------------------------
# 4. Configuration: /etc/kundpuls/kiosk.toml from the installed one (operator edits are kept) or
# the reference, with the id, site and broker settings of this command line.

if [ -n "$CA_FILE" ]; then put 0644 "$ETC/ca.crt" <"$CA_FILE"; fi
if [ "$PASSWORD_GIVEN" -eq 1 ]; then
  put 0600 "$ETC/broker.pass" < <(printf '%s' "$PASSWORD")
fi
own kundpuls:kundpuls "$ETC/broker.pass"

if [ "$OFFLINE" -eq 0 ] && [ -x "$VENV/bin/kiosk" ]; then
  # The installed kiosk's whole validation (the rules above are only those provision.sh can know).
  # Its message names the file it read, a temporary one gone by the time it is read: it names the
  # file that one was made from instead (the installed kiosk.toml or the reference), line for line.
  if ! refusal=$("$VENV/bin/kiosk" config check "$rendered_file" 2>&1 >/dev/null); then
    printf '%s\n' "${refusal//"$rendered_file"/"$toml_source"}" >&2
    die "the kiosk refuses the kiosk.toml this run would install (above); $ETC/kiosk.toml is unchanged"
  fi
fi
if [ -n "$kept_aside" ]; then put 0640 "$kept_aside" <"$existing_toml"; own root:kundpuls "$kept_aside"; fi
put 0640 "$ETC/kiosk.toml" <"$rendered_file"
own root:kundpuls "$ETC/kiosk.toml"
put 0644 "$ETC/provision.conf" < <(
  echo "# Written by $PROG: the choices of the last run, used again when an option is not given."
  echo "display=$DISPLAY_KIND"
  echo "rotation=$ROTATION"
  echo "package_option=$PACKAGE_OPTION"
  echo "read_only=$READ_ONLY"
  echo "data_device=$DATA_DEVICE")

# ------------------------------------------------------------------------------------------------
# 5. systemd: units, hardware watchdog, time-sync cap, journal size.

units=(kundpuls-kiosk.service kundpuls-kiosk-headless.service kundpuls-sync.service)
# Which of the two kiosk programs may start here (their ConditionPathExists=).
if [ "$DISPLAY_KIND" = none ]; then
  put 0644 "$ETC/buttons-only" < <(echo "# Written by $PROG --display none: this kiosk has no screen, so only kundpuls-kiosk-headless.service starts.")
else
  drop "$ETC/buttons-only"
fi
for u in "${units[@]}"; do
  put 0644 "/etc/systemd/system/$u" <"$HERE/systemd/$u"
done
put 0644 /etc/systemd/system.conf.d/10-kundpuls-watchdog.conf <"$HERE/systemd/system.conf.d/10-kundpuls-watchdog.conf"
put 0644 /etc/systemd/system/systemd-time-wait-sync.service.d/10-kundpuls.conf \
  <"$HERE/systemd/systemd-time-wait-sync.service.d/10-kundpuls.conf"
put 0644 /etc/systemd/journald.conf.d/10-kundpuls.conf <"$HERE/systemd/journald.conf.d/10-kundpuls.conf"

# ------------------------------------------------------------------------------------------------
# 6. Display: Kivy's settings for this display and rotation; boot configuration.

if [ "$DISPLAY_KIND" != none ]; then
  put 0640 "$DATA/kivy/config.ini" <"$HERE/kivy/$DISPLAY_KIND-rot$ROTATION.ini"
  # Kivy writes its own files next to config.ini (KIVY_HOME).
  own kundpuls:kundpuls "$DATA/kivy"
  own kundpuls:kundpuls "$DATA/kivy/config.ini"
fi

# raspi-config's overlay switch (8.) makes the boot partition read-only too (its fstab line), and
# that stays when the root is made writable again to provision: writable for this run (as
# raspi-config does for its own edits), read-only again from the next boot.
if [ "$OFFLINE" -eq 0 ] && findmnt -n -o OPTIONS "$BOOT" 2>/dev/null | grep -Eq '(^|,)ro(,|$)'; then
  run mount -o remount,rw "$BOOT"
fi
put - "$BOOT/kundpuls.txt" \
  < <(cat "$HERE/boot/config.txt.d/10-kundpuls-base.txt" "$HERE/boot/config.txt.d/20-display-$DISPLAY_KIND.txt")

config_txt=$(t "$BOOT/config.txt")
if [ -f "$config_txt" ]; then
  if ! grep -qx 'include kundpuls.txt' "$config_txt"; then
    put - "$BOOT/config.txt" \
      < <(cat "$config_txt"; printf '\n# Kundpuls kiosk settings (firmware_config/provision.sh)\n[all]\ninclude kundpuls.txt\n')
  fi
  if [ "$DISPLAY_KIND" != none ] && ! grep -Eq '^dtoverlay=vc4-kms-v3d' "$config_txt"; then
    say "warning: $BOOT/config.txt does not load the KMS driver (dtoverlay=vc4-kms-v3d): the app needs it"
  fi
else
  say "warning: $BOOT/config.txt not found in the target; add 'include kundpuls.txt' to it by hand"
fi

# The console's rotation follows the UI's (fbcon counts clockwise, Kivy counter-clockwise).
cmdline_txt=$(t "$BOOT/cmdline.txt")
if [ -f "$cmdline_txt" ]; then
  fbcon=$(( (4 - ROTATION / 90) % 4 ))
  words=$(tr -s ' \n' ' ' <"$cmdline_txt" | sed 's/ *$//')
  new=$(printf '%s\n' "$words" | tr ' ' '\n' | grep -v '^fbcon=rotate:' | paste -sd ' ' -)
  [ "$fbcon" -ne 0 ] && new="$new fbcon=rotate:$fbcon"
  if [ "$new" != "$words" ]; then put - "$BOOT/cmdline.txt" < <(printf '%s\n' "$new"); fi
fi

# ------------------------------------------------------------------------------------------------
# 7. Services: the kiosk program for this display and the sync agent, enabled and started.

if [ "$DISPLAY_KIND" = none ]; then kiosk_unit=kundpuls-kiosk-headless.service other_unit=kundpuls-kiosk.service
else kiosk_unit=kundpuls-kiosk.service other_unit=kundpuls-kiosk-headless.service; fi

if [ "$OFFLINE" -eq 1 ] || [ "$DRY_RUN" -eq 1 ] || [ "$restart_owed" -eq 1 ] || changed_any /etc/systemd/; then
  run systemctl daemon-reload
fi
run systemctl disable --now "$other_unit"
run systemctl enable "$kiosk_unit" kundpuls-sync.service systemd-time-wait-sync.service
# Bluetooth is switched off in kundpuls.txt; its UART helper would only fail at every boot.
run sh -c 'if systemctl cat hciuart.service >/dev/null 2>&1; then systemctl disable --now hciuart.service; fi'
start_services() {
  [ "$START" -eq 1 ] || return 0      # --no-start: the restart stays owed
  if [ "$OFFLINE" -eq 0 ] && [ "$DRY_RUN" -eq 0 ] && [ "$restart_owed" -eq 0 ] \
     && ! changed_any "$ETC/" /etc/systemd/ "$DATA/" && [ "$packages_before" = "$(installed_packages)" ]; then
    run systemctl start "$kiosk_unit" kundpuls-sync.service
  else
    run systemctl restart "$kiosk_unit" kundpuls-sync.service
  fi
  if [ "$OFFLINE" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then rm -f "$RESTART_MARK"; fi
}
# Offline, the services start only after the data partition (8.) is formatted and holds the data.
[ "$OFFLINE" -eq 1 ] || start_services

# ------------------------------------------------------------------------------------------------
# 8. Optional read-only root: the root file system becomes an overlay in RAM (nothing written
# there survives a reboot, so an SD card is never worn or corrupted by a power cut), and the
# database moves to its own partition, mounted at /var/lib/kundpuls and left out of the overlay.

if [ "$READ_ONLY" -eq 1 ]; then
  if [ "$OFFLINE" -eq 1 ]; then run sh -c "$DATA_SIZE_CHECK" sh "$DATA_DEVICE" "$DATA_MIN_BYTES"; fi
  if [ "$DRY_RUN" -eq 0 ] && [ "$OFFLINE" -eq 0 ]; then
    fstype=$(blkid -o value -s TYPE "$DATA_DEVICE" 2>/dev/null || true)
    label=$(blkid -o value -s LABEL "$DATA_DEVICE" 2>/dev/null || true)
    if [ -z "$fstype" ]; then
      run mkfs.ext4 -q -L "$DATA_LABEL" "$DATA_DEVICE"
    elif [ "$label" != "$DATA_LABEL" ]; then
      die "$DATA_DEVICE already holds a $fstype file system labelled '$label'; refusing to format it (label it $DATA_LABEL to use it as is)"
    fi
  else
    # Formats only a partition without any file system.
    run sh -c "blkid $DATA_DEVICE >/dev/null || mkfs.ext4 -q -L $DATA_LABEL $DATA_DEVICE"
  fi
  # What the kiosk recorded so far (on the root file system, with what this run put in $DATA)
  # moves onto the partition, which /etc/fstab then mounts at $DATA: copied, synced, compared and
  # marked finished on the partition first, so that a power cut never hides an answer under the
  # mount (data_partition.sh). In the target system too (--root: from pending.sh), with the
  # services stopped; they start again below (on this machine) or at the end of pending.sh.
  put 0755 "$DATA_STEP" <"$HERE/data_partition.sh"
  run "$DATA_STEP" "$DATA_DEVICE" "$DATA" "$DATA_LABEL" "$kiosk_unit" kundpuls-sync.service
  if [ "$DRY_RUN" -eq 1 ]; then
    say "  (it copies $DATA onto $DATA_DEVICE unless that holds a finished copy, then mounts it there through /etc/fstab)"
  fi
  if [ "$OFFLINE" -eq 0 ] && [ "$START" -eq 1 ]; then run systemctl start "$kiosk_unit" kundpuls-sync.service; fi
  # raspi-config's overlay (the overlayroot package) would put other mounts under the overlay too
  # unless told recurse=0 (its fstab line becomes an overlay on the RAM disk, which also satisfies
  # the services' RequiresMountsFor=), and then the database would live in RAM after all. Nothing
  # else gives recurse=0: the kernel's overlayroot= overrides overlayroot.conf.
  run raspi-config nonint do_overlayfs 0
  run sed -i -e 's/overlayroot=tmpfs\( \|$\)/overlayroot=tmpfs:recurse=0\1/' "$BOOT/cmdline.txt"
  if [ "$DRY_RUN" -eq 0 ]; then
    say "the root file system is read-only from the next boot; to change the system later, make it writable with the command below (not raspi-config's overlay switch: it leaves overlayroot=tmpfs:recurse=0 in place), then run this again after the reboot:"
    say "  $WRITABLE_ROOT"
  fi
fi

if [ "$READ_ONLY" -eq 0 ] && [ "$previous_read_only" = 1 ]; then
  run sed -i -e "$OVERLAY_OFF_SED" "$BOOT/cmdline.txt"
  # With its word gone, raspi-config's switch turns off what it added with the overlay: a
  # read-only boot partition (its fstab line).
  run raspi-config nonint do_overlayfs 1
fi
[ "$OFFLINE" -eq 0 ] || start_services

# ------------------------------------------------------------------------------------------------
# Report

if [ "$OFFLINE" -eq 1 ] && [ "$DRY_RUN" -eq 0 ]; then
  # Earlier runs' commands stay (they may not have been run yet); a command given again moves to
  # the end, so the order of the latest run wins (enable after disable) and a rerun adds nothing.
  previous=()
  if [ -f "$(t "$PENDING_FILE")" ]; then mapfile -t previous < <(tail -n +5 "$(t "$PENDING_FILE")"); fi
  put 0755 "$PENDING_FILE" < <(
    echo "#!/bin/sh"
    echo "# Written by $PROG --root: run this inside the provisioned system (as root) to finish it,"
    echo "# then delete it. Later runs of $PROG --root add their commands at the end."
    echo "set -e"
    printf '%s\n' "${previous[@]+"${previous[@]}"}" "${PENDING[@]%" "}" \
      | awk '{ last[$0] = NR; line[NR] = $0 } END { for (i = 1; i <= NR; i++) if (last[line[i]] == i) print line[i] }')
fi
if [ "$DRY_RUN" -eq 1 ]; then
  say "dry run: nothing was changed"
elif [ "${#CHANGED[@]}" -eq 0 ]; then
  say "nothing to change: kiosk $KIOSK_ID is provisioned"
else
  say "kiosk $KIOSK_ID (site $SITE) provisioned; ${#CHANGED[@]} file(s) written"
  if changed_any "$BOOT/" /etc/systemd/system.conf.d/; then
    say "reboot to apply the boot settings: sudo reboot"
  fi
fi
