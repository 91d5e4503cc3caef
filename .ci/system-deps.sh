#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, if any is missing.
# Used by `make test` and by .ci/run; `--demo` (used by `make demo`) installs only what the demo
# chain needs: the kiosk app's window, the broker (and what builds its rate limit plugin) and openssl
# for its demo CA. Safe to run again (it only installs what is absent).
set -euo pipefail

demo_packages=(libgl1 libegl1 libmtdev1 libsdl2-2.0-0 mosquitto mosquitto-clients openssl
               gcc make libc6-dev mosquitto-dev libmosquitto-dev)

packages=(
  mosquitto mosquitto-clients          # the MQTT broker the tests start for real
  gcc make libc6-dev                   # build the broker's rate limit plugin ...
  mosquitto-dev libmosquitto-dev       # ... against mosquitto's plugin headers
  postgresql                           # the central database server the tests start for real
  xvfb xauth libgl1 libegl1 libmtdev1  # Kivy on a virtual display
  libsdl2-2.0-0                        # Kivy window provider
  chromium                             # renders the HTML report in tests
  chromium-driver                      # Selenium drives chromium in the web app's browser tests
  shellcheck                           # lints firmware_config scripts
  systemd                              # systemd-analyze verify for the units
  openssl                              # test certificate authority
)

if [ "${1:-}" = "--demo" ]; then
  packages=("${demo_packages[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "system-deps: error: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
