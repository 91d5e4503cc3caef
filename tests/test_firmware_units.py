"""The systemd units and drop-ins of firmware_config/systemd pass `systemd-analyze verify` in a
temporary root that holds this machine's own systemd units plus ours (warnings count as failures),
and say what the deployment promises: watchdog, restart, hardening, time-sync ordering.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEMD = ROOT / "firmware_config" / "systemd"
UNITS = ("kundpuls-kiosk.service", "kundpuls-kiosk-headless.service", "kundpuls-sync.service",
         "kundpuls-ingest.service", "kundpuls-notify.service")
CENTRAL = ("kundpuls-ingest.service", "kundpuls-notify.service", "kundpuls-retention.service",
           "kundpuls-digest.service", "kundpuls-web.service")
# Not a notify service (uvicorn does not speak sd_notify): checked in tests/test_firmware_web_unit.py.
WEB = "kundpuls-web.service"
KIOSK_SIDE = UNITS[:3]
# oneshots, each followed by its timer
SCHEDULED = ("kundpuls-retention.service", "kundpuls-retention.timer", "kundpuls-digest.service",
             "kundpuls-digest.timer")
ONESHOTS = SCHEDULED[0::2]
HOST_UNITS = Path("/usr/lib/systemd/system")


def directives(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, in order (units repeat keys, so no dict)."""
    out, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(path: Path, key: str, section: str | None = None) -> list[str]:
    return [v for s, k, v in directives(path) if k == key and (section is None or s == section)]


@pytest.fixture(scope="module")
def verify_root(tmp_path_factory) -> Path:
    """A root with the host's systemd units, ours in /etc, and every ExecStart binary present."""
    if not shutil.which("systemd-analyze") or not HOST_UNITS.is_dir():
        pytest.fail("systemd-analyze and /usr/lib/systemd/system are required (see .ci/system-deps.sh)")
    root = tmp_path_factory.mktemp("sysroot")
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")           # merged /usr, as on Bookworm
    etc = root / "etc/systemd/system"
    etc.mkdir(parents=True)
    for unit in (*UNITS, *SCHEDULED):
        shutil.copy(SYSTEMD / unit, etc / unit)
    dropin = etc / "systemd-time-wait-sync.service.d"
    shutil.copytree(SYSTEMD / "systemd-time-wait-sync.service.d", dropin)
    for unit in [*UNITS, *ONESHOTS, "systemd-time-wait-sync.service"]:
        src = etc / unit if (etc / unit).exists() else root / "usr/lib/systemd/system" / unit
        for cmd in values(src, "ExecStart"):
            exe = Path(cmd.lstrip("@-:+!").split()[0])
            target = root / exe.relative_to("/")
            if not target.exists():
                # The program itself is installed by pip on the Pi; verify checks the path is executable.
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("#!/bin/sh\nexit 0\n")
                target.chmod(0o755)
    return root


@pytest.mark.parametrize("unit", [*UNITS, *SCHEDULED, "systemd-time-wait-sync.service"])
def test_systemd_analyze_verify_is_clean(verify_root, unit):
    ours = unit in UNITS or unit in SCHEDULED
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={verify_root}",
                        f"/etc/systemd/system/{unit}" if ours else unit],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # systemd only warns about unknown keys, bad values and missing executables: all count here.
    assert r.stderr.strip() == "" and r.stdout.strip() == "", r.stderr + r.stdout


def test_verify_catches_a_broken_unit(verify_root):
    """The check above can fail: a typo'd key and a bad value are reported."""
    broken = verify_root / "etc/systemd/system/kundpuls-broken.service"
    broken.write_text((SYSTEMD / "kundpuls-sync.service").read_text()
                      .replace("WatchdogSec=60", "WatchdogSec=sixty\nProtectSytem=strict"))
    try:
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={verify_root}",
                            "/etc/systemd/system/kundpuls-broken.service"], capture_output=True, text=True)
        assert "ProtectSytem" in r.stderr and "sixty" in r.stderr
    finally:
        broken.unlink()


@pytest.mark.parametrize("unit", UNITS)
def test_every_program_feeds_the_watchdog_and_restarts(unit):
    u = SYSTEMD / unit
    assert values(u, "Type") == ["notify"]
    assert values(u, "NotifyAccess") == ["main"]
    assert values(u, "Restart") == ["always"]
    (wd,) = values(u, "WatchdogSec")
    assert 10 <= int(wd) <= 120
    assert values(u, "StartLimitIntervalSec", "Unit") == ["0"]      # never give up restarting


@pytest.mark.parametrize("unit", [*UNITS, *ONESHOTS])
def test_units_are_hardened(unit):
    u = SYSTEMD / unit
    for key, value in (("User", "kundpuls"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                       ("PrivateTmp", "yes"), ("NoNewPrivileges", "yes"), ("CapabilityBoundingSet", ""),
                       ("RestrictSUIDSGID", "yes"), ("ProtectKernelModules", "yes")):
        assert values(u, key) == [value], key
    # The kiosk's programs add what they read the clock's state with (kiosk.clock).
    assert values(u, "SystemCallFilter") == ["@system-service" + (" adjtimex clock_adjtime clock_adjtime64" if unit in KIOSK_SIDE else "")]
    data = "/var/lib/kundpuls-central" if unit in CENTRAL else "/var/lib/kundpuls"
    assert values(u, "ReadWritePaths") == [data]


def test_device_access_is_what_each_program_needs():
    app, headless, sync = (SYSTEMD / u for u in KIOSK_SIDE)
    assert values(app, "SupplementaryGroups") == ["gpio video input render"]
    assert values(app, "DevicePolicy") == ["closed"]
    assert set(values(app, "DeviceAllow")) == {"char-drm rw", "char-input r", "char-gpiochip rw"}
    assert values(headless, "SupplementaryGroups") == ["gpio"]
    assert values(headless, "DeviceAllow") == ["char-gpiochip rw"]
    assert values(sync, "PrivateDevices") == ["yes"] and values(sync, "SupplementaryGroups") == []
    # The kiosk programs have no network at all; only the sync agent talks to the broker.
    for u in (app, headless):
        assert values(u, "IPAddressDeny") == ["any"]
        assert "AF_INET" not in values(u, "RestrictAddressFamilies")[0]
    assert "AF_INET" in values(sync, "RestrictAddressFamilies")[0]


def test_kiosk_app_runs_on_kms_with_its_own_kivy_home():
    env = dict(v.split("=", 1) for v in values(SYSTEMD / "kundpuls-kiosk.service", "Environment"))
    assert env["KIVY_WINDOW"] == "sdl2" and env["SDL_VIDEODRIVER"] == "kmsdrm"
    assert env["KIVY_HOME"] == "/var/lib/kundpuls/kivy"
    assert env["KUNDPULS_CONFIG"] == "/etc/kundpuls/kiosk.toml" and env["KUNDPULS_DATA_DIR"] == "/var/lib/kundpuls"
    assert values(SYSTEMD / "kundpuls-kiosk.service", "ExecStart") == ["/opt/kundpuls/venv/bin/kiosk run"]
    assert values(SYSTEMD / "kundpuls-kiosk-headless.service", "ExecStart") == ["/opt/kundpuls/venv/bin/kiosk run --headless"]
    assert values(SYSTEMD / "kundpuls-sync.service", "ExecStart") == ["/opt/kundpuls/venv/bin/kiosk sync"]
    assert values(SYSTEMD / "kundpuls-ingest.service", "ExecStart")[0].startswith(
        "/opt/kundpuls/venv/bin/kiosk-central ingest")


@pytest.mark.parametrize("unit", KIOSK_SIDE[:2])
def test_gpio_library_gets_a_writable_working_directory(unit):
    """lgpio creates FIFOs in its working directory (gpiozero issue 1106); / is read-only here."""
    u = SYSTEMD / unit
    (runtime,) = values(u, "RuntimeDirectory")
    env = dict(v.split("=", 1) for v in values(u, "Environment"))
    assert values(u, "WorkingDirectory") == [f"/run/{runtime}"] and env["LG_WD"] == f"/run/{runtime}"


def test_only_the_sync_agent_waits_for_time_sync():
    for unit in ("kundpuls-kiosk.service", "kundpuls-kiosk-headless.service"):
        ordering = " ".join(values(SYSTEMD / unit, "After") + values(SYSTEMD / unit, "Wants")
                            + values(SYSTEMD / unit, "Requires"))
        # A tap is recorded from power-up on, with clock_synced=false until the clock syncs.
        assert "time-sync" not in ordering and "network-online" not in ordering
    sync = SYSTEMD / "kundpuls-sync.service"
    assert "time-sync.target" in values(sync, "After")[0]
    # A passive target: units order after it; systemd-time-wait-sync (enabled by provision.sh) pulls it in.
    assert "time-sync.target" not in " ".join(values(sync, "Wants"))
    # ... but never forever: time-wait-sync is capped.
    (cap,) = values(SYSTEMD / "systemd-time-wait-sync.service.d/10-kundpuls.conf", "TimeoutStartSec")
    assert cap == "2min"


def test_hardware_watchdog_is_within_what_the_soc_can_do():
    conf = SYSTEMD / "system.conf.d/10-kundpuls-watchdog.conf"
    d = {(s, k): v for s, k, v in directives(conf)}
    # The BCM2835/2711/2712 watchdog counts to ~15 s at most; systemd must pet it within that.
    assert 5 <= int(d[("Manager", "RuntimeWatchdogSec")]) <= 15
    assert re.fullmatch(r"\d+min", d[("Manager", "RebootWatchdogSec")])
    journal = {(s, k) for s, k, _ in directives(SYSTEMD / "journald.conf.d/10-kundpuls.conf")}
    assert ("Journal", "SystemMaxUse") in journal


def test_retention_runs_daily_and_catches_up():
    timer, service = SYSTEMD / "kundpuls-retention.timer", SYSTEMD / "kundpuls-retention.service"
    assert values(timer, "OnCalendar") == ["*-*-* 03:30:00"] and values(timer, "Persistent") == ["true"]
    assert values(service, "Type") == ["oneshot"]
    assert values(service, "ExecStart") == ["/opt/kundpuls/venv/bin/kiosk-central retention run"]


def test_the_digest_goes_weekly_and_catches_up():
    timer, service = SYSTEMD / "kundpuls-digest.timer", SYSTEMD / "kundpuls-digest.service"
    assert values(timer, "OnCalendar") == ["Mon *-*-* 06:00:00"] and values(timer, "Persistent") == ["true"]
    assert values(service, "Type") == ["oneshot"]
    assert values(service, "ExecStart") == ["/opt/kundpuls/venv/bin/kiosk-central digest send"]


def syscall_set(names: list[str]) -> set[str]:
    """System calls of `names` (calls and @sets, nested sets included), as systemd expands them."""
    out: set[str] = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        r = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True)
        members = [line.strip() for line in r.stdout.splitlines()[1:] if line.strip() and not line.strip().startswith("#")]
        out |= syscall_set(members)
    return out


def allowed_syscalls(unit: Path) -> set[str]:
    """What the unit's SystemCallFilter= lines allow, after ProtectClock= (which takes @clock out of
    an allow-list, reading the clock's state included) and any ~ lines."""
    allow: set[str] = set()
    deny: set[str] = set()
    for _section, key, value in directives(unit):
        if key == "SystemCallFilter":
            (deny if value.startswith("~") else allow).update(syscall_set(value.lstrip("~").split()))
        elif key == "ProtectClock" and value == "yes":
            deny |= syscall_set(["@clock"])
    return allow - deny


ALLOWED_ONLY = """
import ctypes, ctypes.util, json, logging, sys
from kiosk.clock import kernel_clock_synced
allowed = json.loads(sys.argv[1])
seccomp = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
seccomp.seccomp_init.restype = ctypes.c_void_p
seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
seccomp.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
kernel_clock_synced()                           # libraries found and loaded before the filter
ctx = seccomp.seccomp_init(0x00050000 | 1)     # SCMP_ACT_ERRNO(EPERM), as SystemCallErrorNumber=EPERM
for name in allowed:
    nr = seccomp.seccomp_syscall_resolve_name(name.encode())
    if nr >= 0:                                  # not a call of this architecture
        seccomp.seccomp_rule_add(ctx, 0x7fff0000, nr, 0)      # SCMP_ACT_ALLOW
if seccomp.seccomp_load(ctx) != 0:
    print("no-seccomp")
    sys.exit(0)
buf = ctypes.create_string_buffer(512)
state = libc.adjtimex(buf)
got = {"state": state, "errno": ctypes.get_errno()}
logging.basicConfig(level=logging.INFO, format="%(message)s")
kernel_clock_synced()                           # says so when the read is refused
print(json.dumps(got))
"""


@pytest.mark.parametrize("unit", KIOSK_SIDE)
def test_the_kiosk_programs_can_read_whether_the_clock_is_synced_under_their_units_filter(unit):
    """Under its unit's system-call filter (as systemd computes it from SystemCallFilter= and
    ProtectClock=, loaded here with libseccomp in a child process) the program can still ask the
    kernel whether NTP synced the clock. ProtectClock=yes refused that: every answer was stamped
    clock_synced=false and acknowledged answers were never pruned."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is required (see .ci/system-deps.sh)")
    allowed = allowed_syscalls(SYSTEMD / unit)

    def under(calls: set[str]) -> tuple[dict, str]:
        r = subprocess.run([sys.executable, "-c", ALLOWED_ONLY, json.dumps(sorted(calls))], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
        assert r.returncode == 0, r.stderr
        if r.stdout.strip() == "no-seccomp":
            pytest.skip("this machine lets no process load a seccomp filter")
        return json.loads(r.stdout), r.stderr

    got, said = under(allowed)
    assert got["state"] >= 0 and got["errno"] == 0 and "adjtimex refused" not in said, (unit, got, said)
    assert "clock_settime" not in allowed and "settimeofday" not in allowed      # setting it stays refused
    # With ProtectClock=yes, as it was: refused, and the program says so instead of "not synced".
    got, said = under(allowed - syscall_set(["@clock"]))
    assert got == {"state": -1, "errno": 1} and "cannot read whether the clock is synced" in said


def test_only_the_kiosk_program_that_fits_this_kiosk_starts():
    """The docs' `systemctl restart kundpuls-kiosk` on a buttons-only kiosk: the app's unit
    Conflicts= the headless one, so starting it stopped the buttons and started a touchscreen app
    with no screen (failing every 2 s). Each now starts only where it fits (provision.sh writes
    /etc/kundpuls/buttons-only for --display none), and neither stops the other."""
    app, headless = SYSTEMD / "kundpuls-kiosk.service", SYSTEMD / "kundpuls-kiosk-headless.service"
    assert values(app, "ConditionPathExists") == ["!/etc/kundpuls/buttons-only"]
    assert values(headless, "ConditionPathExists") == ["/etc/kundpuls/buttons-only"]
    assert values(app, "Conflicts") == ["getty@tty1.service"] and values(headless, "Conflicts") == []
