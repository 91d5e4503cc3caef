"""firmware_config/provision.sh, run for real into temporary roots: the exact files it writes, the
same result twice, a second run that changes nothing, --dry-run that changes nothing, and never a
command run on this machine (apt-get, pip, systemctl … are shadowed by recorders on PATH, and
must stay unused). Every shell script passes shellcheck, the generated pending.sh too.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import load_file
from kiosk.pin import MAX_ITERATIONS, MIN_ITERATIONS, hash_pin, pin_hash_problem, verify_pin

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware_config"
PROVISION = FW / "provision.sh"

# A Bookworm boot partition as the Imager leaves it (the parts provision.sh edits).
CONFIG_TXT = "dtparam=audio=on\ncamera_auto_detect=1\ndisplay_auto_detect=1\ndtoverlay=vc4-kms-v3d\n\n[all]\n"
CMDLINE_TXT = ("console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 "
               "fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n")
ARGS = ["--kiosk-id", "kiosk-0042", "--site", "sthlm-sodermalm", "--broker-host", "mqtt.kundpuls.example",
        "--broker-password-stdin", "--display", "dsi7", "--rotation", "90",
        "--read-only-root", "--data-device", "/dev/mmcblk0p3"]
PASSWORD = "s3cret-for-kiosk-0042"

# Every file a provisioned tree holds, with its mode. Nothing more, nothing less.
EXPECTED = {
    "boot/firmware/cmdline.txt": 0o644,
    "boot/firmware/config.txt": 0o644,
    "boot/firmware/kundpuls.txt": 0o644,
    "etc/.pwd.lock": 0o600,                   # systemd-sysusers' lock file
    "etc/group": 0o644,
    "etc/gshadow": 0o000,
    "etc/passwd": 0o644,
    "etc/shadow": 0o000,
    "etc/kundpuls/broker.pass": 0o600,
    "etc/kundpuls/ca.crt": 0o644,
    "etc/kundpuls/kiosk.toml": 0o640,
    "etc/kundpuls/provision.conf": 0o644,
    "etc/sysusers.d/kundpuls.conf": 0o644,
    "etc/systemd/journald.conf.d/10-kundpuls.conf": 0o644,
    "etc/systemd/system.conf.d/10-kundpuls-watchdog.conf": 0o644,
    "etc/systemd/system/kundpuls-kiosk-headless.service": 0o644,
    "etc/systemd/system/kundpuls-kiosk.service": 0o644,
    "etc/systemd/system/kundpuls-sync.service": 0o644,
    "etc/systemd/system/systemd-time-wait-sync.service.d/10-kundpuls.conf": 0o644,
    "var/lib/kundpuls-provision/data-partition.sh": 0o755,
    "var/lib/kundpuls-provision/pending.sh": 0o755,
    "var/lib/kundpuls/kivy/config.ini": 0o640,
}
HOST_COMMANDS = ("apt-get", "pip", "pip3", "python3", "systemctl", "mkfs.ext4", "raspi-config",
                 "mount", "umount", "chown", "useradd", "usermod", "blkid", "sudo")


@pytest.fixture(scope="module")
def recorder_path(tmp_path_factory) -> tuple[dict, Path]:
    """PATH with recorders shadowing every command that would act on this machine."""
    bin_dir = tmp_path_factory.mktemp("shims")
    log = bin_dir / "calls.log"
    for name in HOST_COMMANDS:
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 0\n')
        shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    return env, log


def seed(root: Path) -> None:
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text(CONFIG_TXT)
    (root / "boot/firmware/cmdline.txt").write_text(CMDLINE_TXT)


def provision(env: dict, *args: str, stdin: str = PASSWORD, script: Path = PROVISION) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


def checkout_copy(dest: Path) -> Path:
    """Another checkout of this repository at dest, with what provision.sh reads (firmware_config
    and the two rules kiosk_toml.py loads by path); its provision.sh."""
    shutil.copytree(FW, dest / "firmware_config")
    for rule in ("kiosk/pin.py", "server_sync/program/hosts.py"):
        (dest / rule).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rule, dest / rule)
    return dest / "firmware_config/provision.sh"


def snapshot(root: Path) -> dict[str, tuple[int, str, int]]:
    """path -> (mode, sha256, mtime_ns) of every file and symlink under root."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_dir() and not p.is_symlink():
            continue
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else os.readlink(p)
        out[str(p.relative_to(root))] = (stat.S_IMODE(st.st_mode), digest, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("ca") / "ca.crt"
    p.write_text("-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n")
    return p


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory, recorder_path, ca_file):
    """Two fresh roots provisioned with the same options, and the first provisioned again."""
    env, log = recorder_path
    roots = []
    for name in ("one", "two"):
        root = tmp_path_factory.mktemp(name)
        seed(root)
        r = provision(env, "--root", str(root), "--ca-file", str(ca_file), *ARGS)
        assert r.returncode == 0, r.stderr + r.stdout
        roots.append(root)
    before = snapshot(roots[0])
    again = provision(env, "--root", str(roots[0]), "--ca-file", str(ca_file), *ARGS)
    assert again.returncode == 0, again.stderr
    return {"roots": roots, "before": before, "after": snapshot(roots[0]), "again": again, "log": log}


def test_writes_exactly_the_expected_files(provisioned):
    snap = snapshot(provisioned["roots"][0])
    assert sorted(snap) == sorted(EXPECTED)
    wrong_modes = {p: oct(m) for p, (m, _, _) in snap.items() if m != EXPECTED[p]}
    assert not wrong_modes


def test_two_roots_get_identical_content(provisioned):
    one, two = (snapshot(r) for r in provisioned["roots"])
    assert {p: v[:2] for p, v in one.items()} == {p: v[:2] for p, v in two.items()}


def test_second_run_changes_nothing(provisioned):
    assert provisioned["after"] == provisioned["before"]       # content, modes and mtimes
    assert "nothing to change" in provisioned["again"].stdout


def test_never_runs_commands_on_this_machine(provisioned):
    log = provisioned["log"]
    assert not log.exists() or log.read_text() == ""


def test_installed_files_are_what_the_kiosk_needs(provisioned):
    root = provisioned["roots"][0]
    cfg = load_file(root / "etc/kundpuls/kiosk.toml")
    assert (cfg.kiosk_id, cfg.site_id) == ("kiosk-0042", "sthlm-sodermalm")
    assert (cfg.broker.host, cfg.broker.port, cfg.broker.tls) == ("mqtt.kundpuls.example", 8883, True)
    assert cfg.broker.username == "kiosk-0042"            # the broker ACL's %u
    assert cfg.broker.password_file == "/etc/kundpuls/broker.pass"
    assert cfg.broker.ca_file == "/etc/kundpuls/ca.crt"
    assert (root / "etc/kundpuls/broker.pass").read_text() == PASSWORD
    for unit in ("kundpuls-kiosk.service", "kundpuls-kiosk-headless.service", "kundpuls-sync.service"):
        assert (root / "etc/systemd/system" / unit).read_bytes() == (FW / "systemd" / unit).read_bytes()
    assert (root / "var/lib/kundpuls/kivy/config.ini").read_bytes() == (FW / "kivy/dsi7-rot90.ini").read_bytes()
    boot = root / "boot/firmware"
    assert (boot / "kundpuls.txt").read_text() == (
        (FW / "boot/config.txt.d/10-kundpuls-base.txt").read_text()
        + (FW / "boot/config.txt.d/20-display-dsi7.txt").read_text())
    config_txt = (boot / "config.txt").read_text()
    assert config_txt.startswith(CONFIG_TXT) and config_txt.rstrip().endswith("[all]\ninclude kundpuls.txt")
    # Kivy's 90 degrees counter-clockwise is fbcon's 270 clockwise (3).
    assert (boot / "cmdline.txt").read_text() == CMDLINE_TXT.rstrip("\n") + " fbcon=rotate:3\n"
    passwd = (root / "etc/passwd").read_text()
    assert passwd.startswith("kundpuls:x:") and ":/var/lib/kundpuls:/usr/sbin/nologin" in passwd
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in (root / "etc/group").read_text().split()}
    assert all("kundpuls" in groups[g] for g in ("gpio", "video", "input", "render"))
    # /etc/fstab mounts the data partition once the target has copied the data onto it (pending.sh).
    assert not (root / "etc/fstab").exists()
    assert (root / "var/lib/kundpuls-provision/data-partition.sh").read_bytes() == (FW / "data_partition.sh").read_bytes()


def test_pending_commands_finish_the_system(provisioned):
    pending = (provisioned["roots"][0] / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()
    assert pending[0] == "#!/bin/sh" and pending[3] == "set -e"
    # One shell-quoted command a line; compare them as the shell will see them.
    text = "\n".join(" ".join(shlex.split(line)) for line in pending[4:])
    for expected in ("apt-get install -y --no-install-recommends python3-venv",
                     "python3 -m venv --system-site-packages /opt/kundpuls/venv",
                     "/opt/kundpuls/venv/bin/pip install --quiet --upgrade",
                     "/opt/kundpuls/venv/bin/python -OO -m kiosk.precompile",
                     "chown kundpuls:kundpuls /etc/kundpuls/broker.pass",
                     "systemctl enable kundpuls-kiosk.service kundpuls-sync.service systemd-time-wait-sync.service",
                     "systemctl disable --now kundpuls-kiosk-headless.service",
                     "raspi-config nonint do_overlayfs 0"):
        assert expected in text
    assert "mkfs.ext4 -q -L kundpuls-data /dev/mmcblk0p3" in text and "blkid /dev/mmcblk0p3" in text
    # The partition is formatted, then gets what the root file system holds under it, and only then
    # do the services start (on it, not on the root file system it hides).
    lines = [shlex.split(line) for line in pending[4:]]
    mkfs = next(i for i, w in enumerate(lines) if "mkfs.ext4" in " ".join(w))
    copy = lines.index(["/var/lib/kundpuls-provision/data-partition.sh", "/dev/mmcblk0p3", "/var/lib/kundpuls",
                        "kundpuls-data", "kundpuls-kiosk.service", "kundpuls-sync.service"])
    starts = [i for i, w in enumerate(lines) if w[:2] == ["systemctl", "restart"] or w[:2] == ["systemctl", "start"]]
    assert starts and mkfs < copy < min(starts)


def test_pending_data_step_copies_what_the_partition_hides(provisioned, tmp_path):
    """The queued data step, run for real as in the target at its first boot: the labelled
    partition gets the data directory (kivy/config.ini, which this run wrote there) and only then
    /etc/fstab's line; at the next boot it is mounted, and a rerun keeps what it holds."""
    pending = (provisioned["roots"][0] / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()
    step = next(w for w in map(shlex.split, pending[4:]) if w[0].endswith("/data-partition.sh"))
    pi = _machine(tmp_path)
    installed = pi / "upper" / step[0].lstrip("/")
    installed.parent.mkdir(parents=True)
    shutil.copy2(provisioned["roots"][0] / step[0].lstrip("/"), installed)
    (pi / "upper/var/lib/kundpuls/kivy").mkdir(parents=True)
    (pi / "upper/var/lib/kundpuls/kivy/config.ini").write_text("rotation = 90\n")
    r = _boot(pi, *step)
    assert r.returncode == 0, r.stderr
    data = pi / "partition"
    assert (data / "kivy/config.ini").read_text() == "rotation = 90\n" and (data / ".kundpuls-copied").is_file()
    assert (pi / "upper/etc/fstab").read_text().splitlines()[-1] == FSTAB_LINE
    assert ["systemctl stop kundpuls-kiosk.service kundpuls-sync.service", "systemctl daemon-reload",
            "mount /var/lib/kundpuls"] == _calls(pi)
    (data / "kivy/config.ini").write_text("rotation = 180\n")
    r = _boot(pi, *step)
    assert r.returncode == 0, r.stderr
    assert (data / "kivy/config.ini").read_text() == "rotation = 180\n" and _calls(pi) == []


def test_rerun_with_new_options_keeps_the_rest(recorder_path, tmp_path, ca_file):
    env, _ = recorder_path
    seed(tmp_path)
    assert provision(env, "--root", str(tmp_path), "--ca-file", str(ca_file), *ARGS).returncode == 0
    # An update (B8 in docs/deployment.md): no options at all; every earlier choice stays.
    before = snapshot(tmp_path)
    r = provision(env, "--root", str(tmp_path), stdin="")
    assert r.returncode == 0, r.stderr
    assert snapshot(tmp_path) == before
    toml = tmp_path / "etc/kundpuls/kiosk.toml"
    toml.write_text(toml.read_text().replace("thank_you_s = 2.0", "thank_you_s = 3.5"))  # an operator edit
    # Later: turned to headless and a staff PIN set; no options repeated, no password given again.
    pin_hash = hash_pin("2468")
    r = provision(env, "--root", str(tmp_path), "--display", "none", "--staff-pin-hash", pin_hash, stdin="")
    assert r.returncode == 0, r.stderr
    cfg = load_file(toml)
    assert cfg.ui.thank_you_s == 3.5 and cfg.kiosk_id == "kiosk-0042"
    assert verify_pin("2468", cfg.staff.pin_hash)
    assert (tmp_path / "etc/kundpuls/broker.pass").read_text() == PASSWORD
    assert "[all]\ndisplay_auto_detect=0" in (tmp_path / "boot/firmware/kundpuls.txt").read_text()
    assert "fbcon=rotate" not in (tmp_path / "boot/firmware/cmdline.txt").read_text()
    pending = (tmp_path / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()
    # The first run's one-off commands are still there; the latest choice comes last.
    assert any(line.startswith("raspi-config nonint do_overlayfs 0") for line in pending)
    assert pending.index("systemctl enable kundpuls-kiosk-headless.service kundpuls-sync.service "
                         "systemd-time-wait-sync.service") > pending.index(
        "systemctl disable --now kundpuls-kiosk-headless.service")


def test_dry_run_changes_nothing(recorder_path, tmp_path, ca_file):
    env, log = recorder_path
    seed(tmp_path)
    before = snapshot(tmp_path)
    r = provision(env, "--dry-run", "--root", str(tmp_path), "--ca-file", str(ca_file), *ARGS)
    assert r.returncode == 0, r.stderr
    assert snapshot(tmp_path) == before
    assert "would write /etc/kundpuls/kiosk.toml" in r.stdout
    assert "would run: systemctl enable kundpuls-kiosk.service" in r.stdout
    assert not log.exists() or log.read_text() == ""


@pytest.mark.parametrize("args, message", [
    (["--site", "s", "--broker-host", "h", "--broker-password", "p"], "--kiosk-id is required"),
    (["--kiosk-id", "a/b", "--site", "s", "--broker-host", "h", "--broker-password", "p"], "--kiosk-id must be"),
    (["--kiosk-id", "central", "--site", "s", "--broker-host", "h", "--broker-password", "p"], "reserved"),
    (["--kiosk-id", "k", "--site", "s", "--broker-host", "h"], "broker password is required"),
    (["--kiosk-id", "k", "--site", "s", "--broker-host", "h", "--broker-password", "p", "--rotation", "45"],
     "--rotation must be 0, 90, 180 or 270"),
    (["--kiosk-id", "k", "--site", "s", "--broker-host", "h", "--broker-password", "p", "--read-only-root"],
     "needs --data-device"),
    (["--kiosk-id", "k", "--site", "s", "--broker-host", "h", "--broker-port", "99999", "--broker-password", "p"],
     "--broker-port must be 1-65535"),
    (["--bogus"], "unknown argument: --bogus"),
])
def test_bad_arguments_are_named(recorder_path, tmp_path, args, message):
    env, _ = recorder_path
    r = provision(env, "--root", str(tmp_path), *args, stdin="")
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("provision.sh: error: ")]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert list(tmp_path.iterdir()) == []              # refused before touching anything


# Named by position: hash_pin salts at random, and pytest-xdist's workers must collect the same ids.
@pytest.mark.parametrize("pin_hash", [
    "1234", "PASTE-THE-HASH-HERE", "pbkdf2_sha256$200000$a b$c", "pbkdf2_sha256$$c2FsdA==$aGFzaA==",
    hash_pin("4821"), hash_pin("4821", iterations=MIN_ITERATIONS), hash_pin("4821", iterations=MIN_ITERATIONS - 1),
    "pbkdf2_sha256$000200000$c2FsdA==$aGFzaA==", "pbkdf2_sha256$0000000099999$c2FsdA==$aGFzaA==",
    hash_pin("4821")[:-2], hash_pin("4821", iterations=MAX_ITERATIONS + 1),     # cut short when copied; absurd
], ids=lambda value: None if "$" not in value or len(value) < 60 else f"hashed-{value.split('$')[1]}-{len(value)}")
def test_the_staff_pin_hash_is_refused_when_the_kiosk_would_refuse_it(recorder_path, tmp_path, pin_hash):
    """The script checks the hash before the kiosk is installed by the kiosk's own rule
    (kiosk.pin.pin_hash_problem, through kiosk_toml.py), and says how to make one: it checked the
    shape and the iterations only, so a hash cut short when copied was written and the kiosk then
    refused its config at start."""
    env, _ = recorder_path
    r = provision(env, "--dry-run", "--root", str(tmp_path), "--kiosk-id", "k", "--site", "s", "--broker-host", "h",
                  "--broker-password", "p", "--staff-pin-hash", pin_hash, stdin="")
    problem = pin_hash_problem(pin_hash)
    assert r.returncode == (0 if problem is None else 2), r.stderr
    if problem:
        assert r.stderr.startswith(f"provision.sh: error: --staff-pin-hash {problem}: make one with 'kiosk pin hash'")


def test_a_system_python_without_tomllib_is_named_not_blamed_on_an_option(recorder_path, tmp_path):
    """On a machine whose python3 is older than 3.11 (Ubuntu 22.04, preparing an image with
    --root) every check through kiosk_toml.py failed and was said as the option's fault:
    "--broker-host must be a host name or IP address, got 'mqtt.example.com'"."""
    env, _ = recorder_path
    old = tmp_path / "python3"                    # a Python that has no tomllib, as 3.10
    old.write_text('#!/bin/sh\nif [ "$1" = -c ]; then exit 1; fi\nexec /usr/bin/python3 "$@"\n')
    old.chmod(0o755)
    script = tmp_path / "provision.sh"
    script.write_text(PROVISION.read_text().replace("SYSTEM_PYTHON=/usr/bin/python3", f"SYSTEM_PYTHON={old}"))
    r = subprocess.run(["bash", str(script), "--dry-run", "--root", str(tmp_path), "--kiosk-id", "k1", "--site", "s1",
                        "--broker-host", "mqtt.example.com", "--broker-password", "p"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith(f"provision.sh: error: {old} is older than Python 3.11"), r.stderr
    assert "--broker-host" not in r.stderr


def test_every_script_passes_shellcheck(provisioned):
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is required (see .ci/system-deps.sh)")
    scripts = sorted(FW.rglob("*.sh"))
    assert PROVISION in scripts
    r = subprocess.run(["shellcheck", "--severity=style", *map(str, scripts)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    pending = provisioned["roots"][0] / "var/lib/kundpuls-provision/pending.sh"
    r = subprocess.run(["shellcheck", "--shell=sh", str(pending)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def _pending_step(root: Path, needle: str) -> list[str]:
    pending = (root / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()
    return next(w for w in map(shlex.split, pending[4:]) if w[:2] == ["sh", "-c"] and needle in w[2])


@pytest.mark.parametrize("size, message", [
    (3 * 2**20, "--data-device /dev/mmcblk0p3 holds only 3 MiB; the data partition keeps every answer and "
                "needs at least 256 MiB"),
    (256 * 2**20 - 512, "holds only 255 MiB"),
    (256 * 2**20, None),
    (2362232832, None),
    ("", "--data-device /dev/mmcblk0p3: no such block device"),
])
def test_the_target_refuses_a_data_partition_too_small_before_formatting_it(provisioned, tmp_path, size, message):
    """A partition made in the first free gap of a Raspberry Pi OS card (before the boot partition)
    is 3 MiB: the kiosk would stop recording once it filled. The queued check stops pending.sh
    (set -e) before the partition is formatted or the services start on it."""
    pending = (provisioned["roots"][0] / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()
    lines = [shlex.split(line) for line in pending[4:]]
    check = next(i for i, w in enumerate(lines) if w[:2] == ["sh", "-c"] and "lsblk" in w[2])
    mkfs = next(i for i, w in enumerate(lines) if "mkfs.ext4" in " ".join(w))
    assert check < mkfs
    assert lines[check][3:] == ["sh", "/dev/mmcblk0p3", str(256 * 2**20)]
    lsblk = tmp_path / "lsblk"                      # lsblk -bdno SIZE DEV, right-aligned as lsblk prints
    lsblk.write_text(f'#!/bin/sh\n[ -n "{size}" ] || {{ echo "lsblk: $4: not a block device" >&2; exit 32; }}\n'
                     f'printf "%12s\\n" "{size}"\n')
    lsblk.chmod(0o755)
    r = subprocess.run(lines[check], env=dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}"),
                       capture_output=True, text=True, timeout=10)
    if message is None:
        assert (r.returncode, r.stderr) == (0, "")
    else:
        assert r.returncode == 2 and r.stderr.startswith("provision.sh: error: ") and message in r.stderr, r.stderr
        assert "docs/deployment.md, B2" in r.stderr or "no such block device" in r.stderr


def _fake_venv(venv: Path) -> Path:
    """A venv as `pip install ~/kundpuls[kiosk]` leaves it: pip freeze names the checkout, not its code."""
    (venv / "bin").mkdir(parents=True)
    pip = venv / "bin/pip"
    pip.write_text("#!/bin/sh\n[ \"$1\" = freeze ] && printf 'gpiozero==2.0.1\\nkundpuls @ file:///home/admin/kundpuls\\n'\n")
    pip.chmod(0o755)
    record = venv / "lib/python3.11/site-packages/kundpuls-0.2.0.dist-info/RECORD"
    record.parent.mkdir(parents=True)
    record.write_text("kiosk/__init__.py,sha256=mknaVqxlTvC9s3O9UpjG-sqr5M3LvFoW3ww7Q8uJkXI,295\n"
                      "kiosk/app.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,1200\n"
                      "kiosk/__pycache__/app.cpython-311.pyc,,\n")
    return record


def _start_or_restart(venv: Path, update: str) -> str:
    """provision.sh's own installed_packages, changed_any and start_services, as step 7 runs them on
    a Pi: the fingerprint before pip, the `update` shell command as pip's install, then the decision."""
    text = PROVISION.read_text()
    functions = [re.search(rf"(?ms)^{name}\(\) {{.*?^}}$", text).group(0)
                 for name in ("installed_packages", "changed_any", "start_services")]
    script = "\n".join([
        "set -euo pipefail",
        f"VENV={shlex.quote(str(venv))} ETC=/etc/kundpuls DATA=/var/lib/kundpuls",
        "START=1 OFFLINE=0 DRY_RUN=0 kiosk_unit=kundpuls-kiosk.service CHANGED=() restart_owed=0",
        f"RESTART_MARK={shlex.quote(str(venv))}/restart-pending",
        "run() { echo \"$*\"; }",
        *functions,
        "packages_before=$(installed_packages)",
        update,
        "start_services",
    ])
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.parametrize("update, expected", [
    ("true", "systemctl start kundpuls-kiosk.service kundpuls-sync.service"),      # git pull: nothing new
    ("touch \"$VENV\"/lib/*/site-packages/kundpuls-*.dist-info/RECORD",               # reinstalled, same code
     "systemctl start kundpuls-kiosk.service kundpuls-sync.service"),
    ("sed -i 's/AAAA/BBBB/' \"$VENV\"/lib/*/site-packages/kundpuls-*.dist-info/RECORD",  # app.py changed
     "systemctl restart kundpuls-kiosk.service kundpuls-sync.service"),
    ("echo 'kiosk/new.py,sha256=CCCC,10' >> \"$VENV\"/lib/*/site-packages/kundpuls-*.dist-info/RECORD",
     "systemctl restart kundpuls-kiosk.service kundpuls-sync.service"),
])
def test_a_code_only_update_restarts_the_services_and_nothing_else_does(tmp_path, update, expected):
    """B8 (`git pull && provision.sh`): a changed source restarts the services although pip freeze
    prints the same `kundpuls @ file:///…` line; an unchanged one only makes sure they run."""
    _fake_venv(tmp_path / "venv")
    assert _start_or_restart(tmp_path / "venv", update) == expected


def test_this_machine_refuses_a_data_partition_too_small_before_changing_anything(recorder_path, tmp_path):
    """Provisioning the Pi itself (no --root) checks the data device first; a dry run too."""
    env, log = recorder_path
    lsblk = tmp_path / "lsblk"
    lsblk.write_text(f'#!/bin/sh\necho "{3 * 2**20}"\n')
    lsblk.chmod(0o755)
    env = dict(env, PATH=f"{tmp_path}:{env['PATH']}")
    r = provision(env, "--dry-run", "--kiosk-id", "k", "--site", "s", "--broker-host", "h", "--broker-password", "p",
                  "--read-only-root", "--data-device", "/dev/sdz3", stdin="")
    assert r.returncode == 2 and r.stdout == "", r.stdout
    assert r.stderr.startswith("provision.sh: error: --data-device /dev/sdz3 holds only 3 MiB"), r.stderr
    assert not log.exists() or log.read_text() == ""


@pytest.mark.parametrize("host", ["999.1.1.1", "mqtt..example.com", "a-.b", "x.-y.com", "10.0.0.300"])
def test_a_broker_host_the_kiosk_refuses_is_refused_by_name(recorder_path, tmp_path, host):
    """provision.sh used a looser pattern of its own: these were written, and the kiosk then
    refused its config. It now asks the kiosk's rule (server_sync/program/hosts.py)."""
    env, _ = recorder_path
    seed(tmp_path)
    before = snapshot(tmp_path)
    r = provision(env, "--root", str(tmp_path), *ARGS[:4], "--broker-host", host, "--broker-password", "p", stdin="")
    assert r.returncode == 2 and "provisioned" not in r.stdout
    assert r.stderr == f"provision.sh: error: --broker-host must be a host name or IP address, got '{host}'\n"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("option, value, key, expected", [
    ("--broker-host", "2001:db8::1", "host", "2001:db8::1"),      # the kiosk takes IPv6; provision.sh refused it
    ("--broker-host", "mqtt.example.com.", "host", "mqtt.example.com."),
    ("--broker-port", "08883", "port", 8883),                      # was written `port = 08883`: not TOML
    ("--broker-port", "443", "port", 443),
])
def test_what_the_kiosk_accepts_is_written_as_the_kiosk_reads_it(recorder_path, tmp_path, option, value, key, expected):
    env, _ = recorder_path
    seed(tmp_path)
    r = provision(env, "--root", str(tmp_path), *ARGS[:6], option, value, "--broker-password", "p", stdin="")
    assert r.returncode == 0, r.stderr
    cfg = load_file(tmp_path / "etc/kundpuls/kiosk.toml")
    assert getattr(cfg.broker, key) == expected


def test_a_rendered_file_that_does_not_read_back_is_named(tmp_path):
    """The last check before kiosk.toml is installed: TOML as the kiosk reads it, each option's value in place."""
    rendered = tmp_path / "kiosk.toml"
    rendered.write_text('[kiosk]\nid = "k"\n[broker]\nport = 08883\n')
    r = subprocess.run(["/usr/bin/python3", str(FW / "kiosk_toml.py"), "check", str(rendered),
                        "--broker-port", "broker.port", "08883"], capture_output=True, text=True)
    assert r.returncode == 1 and "at line 4" in r.stderr and r.stderr.rstrip().endswith(": port = 08883"), r.stderr
    rendered.write_text('[kiosk]\nid = "k"\n[broker]\nport = 8883\n')
    r = subprocess.run(["/usr/bin/python3", str(FW / "kiosk_toml.py"), "check", str(rendered),
                        "--kiosk-id", "kiosk.id", "k2", "--broker-port", "broker.port", "8883"], capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (1, "--kiosk-id 'k2' would be read as kiosk.id = 'k'\n")


@pytest.mark.parametrize("left", ["", "# half a file\n\n", "[ui]\nthank_you_s = 3.5\n"])
def test_a_kiosk_toml_that_lost_its_keys_is_made_again_from_the_reference(recorder_path, tmp_path, ca_file, left):
    """docs/deployment.md, "The kiosk refuses its config": a card that filled up left kiosk.toml
    empty; provision.sh again with --kiosk-id, --site and --broker-host is the fix. It took the
    empty file as its template and stopped ("lacks the keys above")."""
    env, _ = recorder_path
    seed(tmp_path)
    assert provision(env, "--root", str(tmp_path), "--ca-file", str(ca_file), *ARGS).returncode == 0
    toml = tmp_path / "etc/kundpuls/kiosk.toml"
    toml.write_text(left)
    r = provision(env, "--root", str(tmp_path), stdin="")             # not enough to start again
    assert r.returncode == 2 and "--kiosk-id is required" in r.stderr, r.stderr
    assert toml.read_text() == left
    r = provision(env, "--root", str(tmp_path), *ARGS[:6], stdin="")
    assert r.returncode == 0, r.stderr
    cfg = load_file(toml)
    assert (cfg.kiosk_id, cfg.site_id, cfg.broker.host, cfg.broker.ca_file) == (
        "kiosk-0042", "sthlm-sodermalm", "mqtt.kundpuls.example", "/etc/kundpuls/ca.crt")
    kept = tmp_path / "etc/kundpuls/kiosk.toml.incomplete"
    if left.strip(" \n#") and not left.startswith("#"):
        assert kept.read_text() == left and stat.S_IMODE(kept.stat().st_mode) == 0o640   # what it held is kept
    else:
        assert not kept.exists()


def test_the_installed_kiosk_toml_is_read_as_toml(recorder_path, tmp_path, ca_file):
    """What an operator may write and the kiosk reads: single quotes, a comment after a table's
    name, indented keys. provision.sh's own reader took 'sthlm-sodermalm' with its quotes, missed
    [broker] (then "--broker-host is required") and the indented keys."""
    env, _ = recorder_path
    seed(tmp_path)
    assert provision(env, "--root", str(tmp_path), "--ca-file", str(ca_file), *ARGS).returncode == 0
    toml = tmp_path / "etc/kundpuls/kiosk.toml"
    text = toml.read_text()
    for old, new in [('site = "sthlm-sodermalm"', "site = 'sthlm-sodermalm'"), ('id = "kiosk-0042"', '  id = "kiosk-0042"'),
                     ("[broker]\n", "[broker]  # central\n"), ('host = "mqtt.kundpuls.example"', "\thost = 'mqtt.kundpuls.example'"),
                     ("port = 8883", "port = 8883   # TLS")]:
        assert old in text
        text = text.replace(old, new, 1)
    toml.write_text(text)
    r = provision(env, "--root", str(tmp_path), stdin="")
    assert r.returncode == 0, r.stderr
    cfg = load_file(toml)
    assert (cfg.kiosk_id, cfg.site_id, cfg.broker.host, cfg.broker.port) == (
        "kiosk-0042", "sthlm-sodermalm", "mqtt.kundpuls.example", 8883)
    toml.write_text(text.replace("[broker]  # central", "[broker"))
    r = provision(env, "--root", str(tmp_path), stdin="")
    assert r.returncode == 2 and r.stderr.startswith("provision.sh: error: /etc/kundpuls/kiosk.toml is not TOML ("), r.stderr
    assert "give --kiosk-id, --site and --broker-host to start again" in r.stderr


def test_the_buttons_only_mark_follows_the_display(recorder_path, tmp_path, ca_file):
    """/etc/kundpuls/buttons-only, which the kiosk units' ConditionPathExists= read: there for
    --display none only, gone again once the kiosk has a screen."""
    env, _ = recorder_path
    seed(tmp_path)
    mark = tmp_path / "etc/kundpuls/buttons-only"
    assert provision(env, "--root", str(tmp_path), "--ca-file", str(ca_file), *ARGS).returncode == 0
    assert not mark.exists()
    r = provision(env, "--root", str(tmp_path), "--display", "none", "--rotation", "0", stdin="")
    assert r.returncode == 0, r.stderr
    assert mark.is_file() and stat.S_IMODE(mark.stat().st_mode) == 0o644
    r = provision(env, "--dry-run", "--root", str(tmp_path), "--display", "hdmi", stdin="")
    assert "would remove /etc/kundpuls/buttons-only" in r.stdout and mark.exists()
    r = provision(env, "--root", str(tmp_path), "--display", "hdmi", stdin="")
    assert r.returncode == 0 and "removed /etc/kundpuls/buttons-only" in r.stdout and not mark.exists()


def test_the_documented_line_for_a_black_display_outlives_a_rerun(recorder_path, tmp_path, ca_file):
    """docs/deployment.md, "The touch is rotated …" 5.: the overlay line goes where it says, and
    the next provision.sh (an update, B8; another display setting) keeps it. It said
    kundpuls.txt, which every run writes anew."""
    docs = (ROOT / "docs/deployment.md").read_text()
    where = re.search(r"The 7\" display stays black.*?add `dtoverlay=vc4-kms-dsi-7inch`.*?at the end of\s+`(/boot/firmware/[\w.]+)`",
                      docs, re.S)
    assert where, "the advice for a black 7\" display is not where this test looks"
    env, _ = recorder_path
    seed(tmp_path)
    assert provision(env, "--root", str(tmp_path), "--ca-file", str(ca_file), *ARGS).returncode == 0
    target = tmp_path / where.group(1).lstrip("/")
    target.write_text(target.read_text() + "dtoverlay=vc4-kms-dsi-7inch\n")
    for display in ("dsi7", "hdmi", "dsi7"):
        r = provision(env, "--root", str(tmp_path), "--display", display, stdin="")
        assert r.returncode == 0, r.stderr
        assert target.read_text().splitlines()[-1] == "dtoverlay=vc4-kms-dsi-7inch"
    # After the include: the firmware reads it after Kundpuls' own settings, in [all].
    lines = (tmp_path / "boot/firmware/config.txt").read_text().splitlines()
    assert lines.index("include kundpuls.txt") < lines.index("dtoverlay=vc4-kms-dsi-7inch")


def test_the_pi_check_installs_what_provision_sh_installs_for_a_display():
    """tests/pi/debian-packages.txt names a group of packages "the list provision.sh installs": it
    had libgl1-mesa-dri (Mesa's DRI drivers, which GBM and EGL load on KMS) and provision.sh did
    not, so on Raspberry Pi OS Lite (no Mesa) the app found no GPU driver while the emulated Pi
    check, which had it, passed."""
    text = (ROOT / "tests/pi/debian-packages.txt").read_text()
    groups = re.findall(r"((?:^#.*\n)+)((?:^[^#\n].*\n)+)", text, re.M)    # (comment, packages) each
    named = [packages.split() for comment, packages in groups if "provision.sh installs" in comment]
    assert len(named) == 1, "no group of tests/pi/debian-packages.txt says it is provision.sh's list"
    display = re.search(r'if \[ "\$DISPLAY_KIND" != none \]; then\n(?:\s*#.*\n)*\s*packages\+=\(([^)]*)\)',
                        PROVISION.read_text())
    assert display, "provision.sh's packages for a display are not where this test looks"
    assert sorted(named[0]) == sorted(display.group(1).split())


def test_this_checkout_is_built_from_clean(recorder_path, tmp_path, ca_file):
    """B8, `git pull` then provision.sh: pip builds a local directory in place, and setuptools
    took what an earlier install left in build/, so files since deleted from the source were
    installed again. provision.sh removes build/ and kundpuls.egg-info/ before pip builds this
    checkout (and, on the Pi, after it: no root-owned build is left in the checkout)."""
    env, _ = recorder_path
    checkout = tmp_path / "kundpuls"
    script = checkout_copy(checkout)
    root = tmp_path / "root"
    root.mkdir()
    seed(root)
    r = provision(env, "--root", str(root), "--ca-file", str(ca_file), *ARGS, script=script)
    assert r.returncode == 0, r.stderr
    lines = [shlex.split(line) for line in (root / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()[4:]]
    pip = lines.index(["/opt/kundpuls/venv/bin/pip", "install", "--quiet", "--upgrade", f"{checkout}[kiosk]"])
    assert lines[pip - 1] == ["rm", "-rf", f"{checkout}/build", f"{checkout}/kundpuls.egg-info"]
    # What it removes is the build pip left, and nothing else of the checkout.
    stale = checkout / "build/lib/kiosk/deleted_since.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("")
    (checkout / "kundpuls.egg-info").mkdir()
    (checkout / "kundpuls.egg-info/SOURCES.txt").write_text("kiosk/deleted_since.py\n")
    before = sorted(p for p in checkout.rglob("*") if "build" not in p.parts and "kundpuls.egg-info" not in p.parts)
    subprocess.run(lines[pip - 1], check=True)
    assert sorted(checkout.rglob("*")) == before
    # On the Pi (a dry run shows it): before pip, and after.
    r = provision(env, "--dry-run", "--kiosk-id", "k", "--site", "s", "--broker-host", "h", "--broker-password", "p",
                  stdin="", script=script)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    pip = out.index(f"provision.sh: would run: /opt/kundpuls/venv/bin/pip install --quiet --upgrade {checkout}[kiosk]")
    clean = f"provision.sh: would run: rm -rf {checkout}/build {checkout}/kundpuls.egg-info"
    assert out[pip - 1] == clean and out[pip + 1] == clean


def test_an_update_from_another_checkout_installs_that_checkout(recorder_path, tmp_path, ca_file):
    """provision.conf kept package=<the first checkout>[kiosk] although --package was never given,
    and every later run installed that: an update from a new checkout (B8) silently installed the
    old code. Only --package is kept; without it, the checkout provision.sh is run from."""
    env, _ = recorder_path
    first, second = (checkout_copy(tmp_path / name) for name in ("kundpuls", "kundpuls-2"))
    root = tmp_path / "root"
    root.mkdir()
    seed(root)
    conf = root / "etc/kundpuls/provision.conf"

    def installed(script: Path, *args: str) -> str:
        r = provision(env, "--root", str(root), *args, stdin="", script=script)
        assert r.returncode == 0, r.stderr
        pending = (root / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()
        return [shlex.split(line) for line in pending if "/venv/bin/pip install" in line][-1][-1]

    assert provision(env, "--root", str(root), "--ca-file", str(ca_file), *ARGS, script=first).returncode == 0
    assert installed(second) == f"{tmp_path}/kundpuls-2[kiosk]"
    assert installed(first) == f"{tmp_path}/kundpuls[kiosk]"
    # What an earlier provision.sh kept on every run: the checkout it ran from, not a choice.
    conf.write_text(conf.read_text() + f"package={tmp_path}/kundpuls[kiosk]\n")
    assert installed(second) == f"{tmp_path}/kundpuls-2[kiosk]"
    assert "package=" not in conf.read_text()
    # A package given is kept, by this version and by an earlier one.
    assert installed(second, "--package", "kundpuls[kiosk]==0.2.0") == "kundpuls[kiosk]==0.2.0"
    assert installed(first) == "kundpuls[kiosk]==0.2.0"
    assert installed(first, "--package", f"{tmp_path}/kundpuls-2[kiosk]") == f"{tmp_path}/kundpuls-2[kiosk]"
    assert installed(first) == f"{tmp_path}/kundpuls-2[kiosk]"
    conf.write_text("display=dsi7\nrotation=90\npackage=/srv/kundpuls.whl\nread_only=1\ndata_device=/dev/mmcblk0p3\n")
    assert installed(first) == "/srv/kundpuls.whl"


# `raspi-config nonint do_overlayfs 0|1` as far as it edits cmdline.txt: the grep and sed lines of
# get_overlay_conf, enable_overlayfs and disable_overlayfs in raspi-config (RPi-Distro/raspi-config,
# Bookworm), copied as they are. Its disable takes out `overlayroot=tmpfs ` with the space only.
RASPI_CONFIG = r'''#!/bin/sh
[ "$1 $2" = "nonint do_overlayfs" ] || { echo "raspi-config $*: not in this stand-in" >&2; exit 1; }
if [ "$3" = 0 ]; then
  if ! grep -q "overlayroot=tmpfs" $CMDLINE ; then
    sed -i $CMDLINE -e "s/^/overlayroot=tmpfs /"
  fi
elif grep -q "overlayroot=tmpfs" $CMDLINE ; then
  sed -i $CMDLINE -e "s/\(.*\)overlayroot=tmpfs \(.*\)/\1\2/"
fi
'''


def _on_the_pi(tmp_path: Path, command: str, cmdline: Path) -> None:
    """command, run as on the Pi (sudo, mount and reboot do nothing; raspi-config as above) on
    cmdline for /boot/firmware/cmdline.txt."""
    bin_dir = tmp_path / "pi-bin"
    if not bin_dir.exists():
        bin_dir.mkdir()
        for name, text in [("sudo", 'exec "$@"'), ("mount", "exit 0"), ("reboot", "exit 0"),
                           ("raspi-config", RASPI_CONFIG)]:
            (bin_dir / name).write_text(text if text.startswith("#!") else f"#!/bin/sh\n{text}\n")
            (bin_dir / name).chmod(0o755)
    r = subprocess.run(["sh", "-c", command.replace("/boot/firmware/cmdline.txt", str(cmdline))],
                       env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CMDLINE=str(cmdline)),
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, (command, r.stderr)


def _overlay_commands(root: Path) -> list[str]:
    """What pending.sh does to cmdline.txt, in its order."""
    pending = (root / "var/lib/kundpuls-provision/pending.sh").read_text().splitlines()[4:]
    return [line for line in pending if "do_overlayfs" in line or "cmdline.txt" in line]


def test_the_documented_way_to_a_writable_root_turns_the_overlay_off(recorder_path, tmp_path, ca_file):
    """B7: to change a read-only kiosk, make the root writable, reboot, provision. The way given
    (docs, provision.sh's messages) was `raspi-config nonint do_overlayfs 1`, whose sed takes out
    `overlayroot=tmpfs ` only: provision.sh had made it `overlayroot=tmpfs:recurse=0 ` (the data
    partition must stay out of the overlay), so raspi-config said "disabled", changed nothing,
    and provision.sh refused to run on the overlay root ever after."""
    env, _ = recorder_path
    root = tmp_path / "root"
    root.mkdir()
    seed(root)
    r = provision(env, "--root", str(root), "--ca-file", str(ca_file), *ARGS)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    said = out[next(i for i, line in enumerate(out) if "to change the system later" in line) + 1]
    docs = re.search(r"(?m)^(.*?)\s+# root writable again$", (ROOT / "docs/deployment.md").read_text())
    assert docs, "the command of B7 is not where this test looks"
    # The cmdline provision.sh leaves on the Pi (its fbcon word, raspi-config's, then its own edit).
    written = (root / "boot/firmware/cmdline.txt").read_text()
    cmdline = tmp_path / "cmdline.txt"
    cmdline.write_text(written)
    for command in _overlay_commands(root):
        _on_the_pi(tmp_path, command, cmdline)
    overlaid = cmdline.read_text()
    assert overlaid.split()[0] == "overlayroot=tmpfs:recurse=0" and overlaid.split()[1:] == written.split()
    # raspi-config's own switch does not turn it off: the way out must not be that.
    _on_the_pi(tmp_path, "raspi-config nonint do_overlayfs 1", cmdline)
    assert cmdline.read_text() == overlaid
    # What provision.sh says when it is run on the read-only root (as root, on a Pi: stand-ins here).
    script = checkout_copy(tmp_path / "kundpuls")
    check = '[ -f "$BOOT/config.txt" ] || die'
    assert check in script.read_text()
    script.write_text(script.read_text().replace(check, "true || die"))      # this machine is no Pi
    bin_dir = tmp_path / "overlay-root-bin"
    bin_dir.mkdir()
    for name, text in [("id", '[ "$1" = -u ] && echo 0'), ("findmnt", "echo overlay")]:
        (bin_dir / name).write_text(f"#!/bin/sh\n{text}\n")
        (bin_dir / name).chmod(0o755)
    r = provision(dict(env, PATH=f"{bin_dir}:{env['PATH']}"), *ARGS[:6], "--broker-password", "p", stdin="",
                  script=script)
    assert r.returncode == 2 and "the root file system is read-only (overlay)" in r.stderr, r.stderr
    refused = r.stderr.splitlines()[-1]
    for way_out in (said.removeprefix("provision.sh:").strip(), refused.strip(), docs.group(1)):
        cmdline.write_text(overlaid)
        _on_the_pi(tmp_path, way_out, cmdline)
        assert cmdline.read_text().split() == written.split(), way_out       # no overlayroot= word left
    # provision.sh --no-read-only-root turns it off too.
    r = provision(env, "--root", str(root), "--no-read-only-root", stdin="")
    assert r.returncode == 0, r.stderr
    cmdline.write_text(written)
    for command in _overlay_commands(root):
        _on_the_pi(tmp_path, command, cmdline)
    assert cmdline.read_text().split() == written.split()


@pytest.mark.parametrize("options, remounted", [("ro,relatime,fmask=0022,dmask=0022", True),
                                                ("rw,relatime,fmask=0022,dmask=0022", False)])
def test_a_read_only_boot_partition_is_made_writable_for_the_run(recorder_path, tmp_path, options, remounted):
    """`raspi-config nonint do_overlayfs 0` (B7) also makes the boot partition read-only (its
    fstab line), and it stays so once the root is writable again: the next provision.sh failed
    writing /boot/firmware, after raspi-config had put its plain `overlayroot=tmpfs` back (the
    data partition under the overlay). It remounts the boot partition writable first."""
    env, _ = recorder_path
    findmnt = tmp_path / "findmnt"
    findmnt.write_text(f'#!/bin/sh\ncase "$*" in *" /boot/firmware"*) echo "{options}" ;; *) exec /usr/bin/findmnt "$@" ;; esac\n')
    findmnt.chmod(0o755)
    r = provision(dict(env, PATH=f"{tmp_path}:{env['PATH']}"), "--dry-run", *ARGS[:6], "--broker-password", "p",
                  stdin="")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    first_write = next(i for i, line in enumerate(out) if line.startswith("provision.sh: would write /boot/firmware/"))
    remount = [i for i, line in enumerate(out) if line == "provision.sh: would run: mount -o remount,rw /boot/firmware"]
    assert len(remount) == (1 if remounted else 0)
    assert not remounted or remount[0] < first_write


def test_a_refusal_of_the_installed_kiosk_names_the_file_not_a_temporary_one(recorder_path, tmp_path):
    """After `git pull`, the installed kiosk's `kiosk config check` refused an operator's edit and
    its message named the temporary file provision.sh had rendered (`kiosk: error:
    /tmp/tmp.1zmuSJyXDO:37, key …`), gone by the time it was read. It names the file the
    rendered one was made from, line for line: the installed kiosk.toml (or the reference)."""
    env, _ = recorder_path
    etc, venv = tmp_path / "etc", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    kiosk = venv / "bin/kiosk"                     # `kiosk config check FILE`, as the kiosk words a refusal
    kiosk.write_text('#!/bin/sh\nn=$(grep -n "repeat_window_s = -1" "$3" | cut -d: -f1)\n'
                     '[ -z "$n" ] && exit 0\n'
                     'echo "kiosk: error: $3:$n, key \'filters.repeat_window_s\': must be at least 0" >&2\nexit 2\n')
    kiosk.chmod(0o755)
    script = tmp_path / "provision.sh"
    text = PROVISION.read_text()
    for old, new in [("VENV=/opt/kundpuls/venv", f"VENV={venv}"), ("ETC=/etc/kundpuls", f"ETC={etc}"),
                     ('HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)', f"HERE={FW}")]:
        assert old in text
        text = text.replace(old, new)
    script.write_text(text)
    args = ["--dry-run", *ARGS[:6], "--broker-password", "p"]
    assert provision(env, *args, stdin="", script=script).returncode == 0
    etc.mkdir()
    edited = (FW / "kiosk.toml").read_text().replace("repeat_window_s = ", "repeat_window_s = -1  # was ", 1)
    (etc / "kiosk.toml").write_text(edited)
    line = next(i for i, text in enumerate(edited.splitlines(), 1) if "repeat_window_s = -1" in text)
    r = provision(env, *args, stdin="", script=script)
    assert r.returncode == 2, r.stderr
    said = r.stderr.splitlines()
    assert said[0] == f"kiosk: error: {etc}/kiosk.toml:{line}, key 'filters.repeat_window_s': must be at least 0"
    assert said[1].startswith("provision.sh: error: the kiosk refuses the kiosk.toml this run would install")
    assert "/tmp/tmp." not in r.stderr


# ------------------------------------------------------------------------------------------------
# provision.sh run on the Pi itself (no --root), for real, in a private mount namespace: overlays
# over /etc, /var/lib, /opt and /boot keep what it writes (the host's own files stay as they are),
# the data partition is a directory, and stand-ins answer for what acts on hardware or services.
# Each run is a boot: it starts with what /etc/fstab mounts, and a power cut ends it.

DEVICE = "/dev/mmcblk0p3"
FSTAB_LINE = "LABEL=kundpuls-data /var/lib/kundpuls ext4 defaults,noatime,nofail,x-systemd.device-timeout=15s 0 2"
MACHINE_ARGS = [*ARGS[:6], "--broker-password", PASSWORD, "--display", "dsi7", "--rotation", "90"]

# The kiosk service at a boot: the kiosk's own store and recorder (this checkout's, run by the
# Python running these tests) open the database where /var/lib/kundpuls is, making a new one when
# there is none (its sequence resumed above an earlier one's when the directory shows one was
# there, kiosk.earlier), and record an answer (argv[2] answers).
KIOSK_AT_BOOT = r'''
import sys
from pathlib import Path
from kiosk.capture import Recorder
from kiosk.config import parse_config
from kiosk.demo import demo_config_mapping
from kiosk.store import LocalStore
config = parse_config(demo_config_mapping("kiosk-0042", "sthlm-sodermalm"))
store = LocalStore(Path(sys.argv[1]), kiosk_id=config.kiosk_id)
question = config.questions[0]
for _ in range(int(sys.argv[2])):
    Recorder(config, store).record(question.id, question.values[0])
store.close()
'''
KIOSK = [sys.executable, "-c", KIOSK_AT_BOOT]
KIOSK_ENV = {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def _answers(db: Path, count: int) -> Path:
    """A kiosk database holding `count` answers more, as the kiosk leaves it (no -wal once closed)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*KIOSK, str(db), str(count)], check=True, env=dict(os.environ, **KIOSK_ENV))
    return db


def _rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT id, seq FROM response ORDER BY seq").fetchall()
    finally:
        con.close()


def _machine(tmp_path: Path) -> Path:
    """A Pi provisioned before (or not), as the state directory the runs below share."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("mounts need root and unshare")
    pi = tmp_path / "pi"
    for d in ("etc", "var/lib", "opt", "boot"):
        (pi / "upper" / d).mkdir(parents=True)
        (pi / "work" / d).mkdir(parents=True)
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "-t", "overlay", "overlay", "-o",
                            f"lowerdir=/opt,upperdir={pi}/upper/opt,workdir={pi}/work/opt", "/opt"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no overlay mount here: {probe.stderr.decode().strip()}")
    seed(pi / "upper")
    (pi / "partition").mkdir()
    (pi / "partition/lost+found").mkdir()
    record = _fake_venv(pi / "upper/opt/kundpuls/venv")
    venv = pi / "upper/opt/kundpuls/venv/bin"
    (venv / "pip").write_text(f"#!/bin/sh\ncase $1 in freeze) printf 'kundpuls @ file:///home/admin/kundpuls\\n' ;;\n"
                              f"  install) if [ -e {pi}/new-code ]; then mv {pi}/new-code {record}; fi ;; esac\n")
    (venv / "python").write_text("#!/bin/sh\nexit 0\n")            # kiosk.precompile
    (venv / "kiosk").write_text('#!/bin/sh\nif grep -q "repeat_window_s = -1" "$3"; then\n'
                                '  echo "kiosk: error: $3: key \'filters.repeat_window_s\': must be at least 0" >&2; exit 2\nfi\n')
    log = pi / "calls.log"
    mount, cp = shutil.which("mount"), shutil.which("cp")
    shims = {
        "systemctl": f'echo "systemctl $*" >> {log}\nif [ -e {pi}/fail-"$1" ]; then rm {pi}/fail-"$1"; exit 1; fi',
        "mount": (f'case "$*" in\n  "-o remount,rw /boot/firmware") echo "mount $*" >> {log}; exit 0 ;;\n'
                  f'  "{DEVICE} "*) exec {mount} --bind {pi}/partition "$2" ;;\n'
                  f'  /var/lib/kundpuls) echo "mount $*" >> {log}; exec {mount} --bind {pi}/partition /var/lib/kundpuls ;;\n'
                  f'esac\nexec {mount} "$@"'),
        "findmnt": 'if [ "$*" = "-n -o FSTYPE /" ]; then echo ext4; exit 0; fi\nexec /usr/bin/findmnt "$@"',
        "lsblk": "echo 2362232832",
        "blkid": 'case "$*" in *TYPE*) echo ext4 ;; *LABEL*) echo kundpuls-data ;; esac',
        # A power cut while the data is copied: what was copied but the database, then nothing.
        "cp": (f'if [ -e {pi}/cut-power ]; then\n  rm {pi}/cut-power; {cp} "$@"\n'
               f'  for dest; do :; done; rm -f "$dest/kiosk.db"; kill -9 0\nfi\nexec {cp} "$@"'),
    }
    for name in ("apt-get", "chown", "systemd-sysusers", "raspi-config", "mkfs.ext4"):
        shims[name] = f'echo "{name} $*" >> {log}'
    (pi / "bin").mkdir()
    for name, text in shims.items():
        (pi / "bin" / name).write_text(f"#!/bin/sh\n{text}\n")
        (pi / "bin" / name).chmod(0o755)
    for exe in venv.iterdir():
        exe.chmod(0o755)
    checkout_copy(pi / "kundpuls")                 # its build/ is what pip's runs clean, not this one's
    return pi


def _boot(pi: Path, *command: str, kiosk_runs: bool = True, fstab_mounts: bool = True) -> subprocess.CompletedProcess:
    """A boot of the Pi (what /etc/fstab mounts; the kiosk service records an answer where its data
    is, once it is installed), then command. The calls it made: pi/calls.log, anew."""
    (pi / "calls.log").write_text("")
    boot = [f"mount -t overlay overlay -o lowerdir=/{d},upperdir={pi}/upper/{d},workdir={pi}/work/{d} /{d}"
            for d in ("etc", "var/lib", "opt", "boot")]
    if fstab_mounts:
        boot.append(f'if grep -qF "{FSTAB_LINE}" /etc/fstab; then mount --bind {pi}/partition /var/lib/kundpuls; fi')
    if kiosk_runs:
        boot.append("if [ -e /etc/systemd/system/kundpuls-kiosk.service ]; then "
                    f"{shlex.join(KIOSK)} /var/lib/kundpuls/kiosk.db 1; fi")
    shell = "set -e\n" + "\n".join(boot) + '\nexec "$@"\n'
    env = dict(os.environ, PATH=f"{pi}/bin:{os.environ['PATH']}", **KIOSK_ENV)
    return subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", shell, "_", *command],
                          env=env, capture_output=True, text=True, timeout=120, start_new_session=True)


def _boot_and_provision(pi: Path, *args: str, **boot: bool) -> subprocess.CompletedProcess:
    """A boot, then provision.sh on the Pi with args."""
    return _boot(pi, "bash", str(pi / "kundpuls/firmware_config/provision.sh"), *args, **boot)


def _calls(pi: Path) -> list[str]:
    return (pi / "calls.log").read_text().splitlines()


def test_a_power_cut_while_the_data_is_copied_hides_no_answer(tmp_path):
    """B7 on the Pi: /etc/fstab got its line for the data partition before the answers were copied
    onto it. A power cut during the copy, and the next boot mounted the half copy over the data:
    the kiosk started a new database there, and the rerun, which copied only onto an empty
    partition, said it had provisioned the kiosk, with its 39 answers hidden under the mount.
    Now the line is written once the copy is synced, compared and marked finished on the
    partition: a half copy is made again, with what the kiosk recorded since."""
    pi = _machine(tmp_path)
    root_db = _answers(pi / "upper/var/lib/kundpuls/kiosk.db", 39)      # recorded before B7
    r = _boot_and_provision(pi, *MACHINE_ARGS)
    assert r.returncode == 0, r.stderr
    (pi / "cut-power").touch()
    r = _boot_and_provision(pi, "--read-only-root", "--data-device", DEVICE)
    assert r.returncode == -9 and not (pi / "cut-power").exists(), r.stderr
    r = _boot_and_provision(pi)                                          # the rerun, after the reboot
    assert r.returncode == 0, r.stderr
    data = pi / "partition"
    assert (data / "kiosk.db").read_bytes() == root_db.read_bytes()
    answers = _rows(root_db)
    assert len(answers) == 41                     # the kiosk recorded one at each boot, on the root
    assert (data / "kivy/config.ini").read_bytes() == (FW / "kivy/dsi7-rot90.ini").read_bytes()
    assert (data / ".kundpuls-copied").is_file()
    assert FSTAB_LINE in (pi / "upper/etc/fstab").read_text().splitlines()
    assert "raspi-config nonint do_overlayfs 0" in _calls(pi)
    # The next boot: the data partition, with every answer; a rerun changes nothing.
    r = _boot_and_provision(pi)
    assert r.returncode == 0, r.stderr
    assert _rows(data / "kiosk.db")[:41] == answers and len(_rows(data / "kiosk.db")) == 42
    assert _rows(root_db) == answers


def test_a_power_cut_while_a_half_copy_is_cleared_leaves_it_to_be_made_again(tmp_path):
    """A power cut in the copy, then another at the rerun while it cleared that half copy off the
    partition: the rerun had deleted .kundpuls-copying first, so what was left held neither mark,
    and every later run refused the partition as holding files of its own. The copying mark now
    stays until the copy is finished: the next rerun clears the partition and copies again."""
    pi = _machine(tmp_path)
    root_db = _answers(pi / "upper/var/lib/kundpuls/kiosk.db", 39)
    assert _boot_and_provision(pi, *MACHINE_ARGS).returncode == 0
    (pi / "cut-power").touch()
    assert _boot_and_provision(pi, "--read-only-root", "--data-device", DEVICE).returncode == -9
    # The power goes once `rm -rf` has removed the first of what it was given on the partition
    # (and the copying mark, wherever find listed it).
    rm = shutil.which("rm")
    (pi / "bin/rm").write_text(
        f'#!/bin/sh\nif [ "$1" = -rf ] && [ -e {pi}/cut-rm ] && [ -d "$(dirname "$2")/lost+found" ]; then\n'
        f'  for f; do case $f in */.kundpuls-copying) {rm} -f "$f" ;; esac; done\n'
        f'  {rm} -rf "$2" {pi}/cut-rm; kill -9 0\nfi\nexec {rm} "$@"\n')
    (pi / "bin/rm").chmod(0o755)
    (pi / "cut-rm").touch()
    r = _boot_and_provision(pi)
    assert r.returncode == -9 and not (pi / "cut-rm").exists(), r.stderr
    assert not (pi / "partition/.kundpuls-copied").exists()
    r = _boot_and_provision(pi)
    assert r.returncode == 0, r.stderr
    data = pi / "partition"
    assert (data / "kiosk.db").read_bytes() == root_db.read_bytes() and len(_rows(root_db)) == 42
    assert (data / ".kundpuls-copied").is_file() and not (data / ".kundpuls-copying").exists()
    assert FSTAB_LINE in (pi / "upper/etc/fstab").read_text().splitlines()


def _left_by_an_earlier_provision(pi: Path, on_partition: int | None, made: bool = False) -> Path:
    """A Pi made read-only by a provision.sh from before the mark: /etc/fstab mounts the data
    partition, which holds no mark; 39 answers on the root file system under it. On the
    partition: a copy of them with `on_partition` answers more, or (None) the kiosk's new database
    after a power cut stopped the copy; `made`: the copy had got as far as kiosk.db.made, so the
    kiosk started that database's sequence above every seq from the time (kiosk.earlier)."""
    root_db = _answers(pi / "upper/var/lib/kundpuls/kiosk.db", 39)
    r = _boot_and_provision(pi, *MACHINE_ARGS)
    assert r.returncode == 0, r.stderr
    conf = pi / "upper/etc/kundpuls/provision.conf"
    conf.write_text(conf.read_text().replace("read_only=0", "read_only=1").replace("data_device=", f"data_device={DEVICE}"))
    (pi / "upper/etc/fstab").write_text(FSTAB_LINE + "\n")
    (pi / "partition/kivy").mkdir()
    if on_partition is None:
        if made:
            shutil.copy2(root_db.with_name("kiosk.db.made"), pi / "partition")
        _answers(pi / "partition/kiosk.db", 1)
    else:
        shutil.copy2(root_db, pi / "partition/kiosk.db")
        _answers(pi / "partition/kiosk.db", on_partition)
    return root_db


def test_answers_an_earlier_run_left_under_the_mount_are_named_not_hidden(tmp_path):
    """The reviewer's Pi after the power cut above, with a provision.sh from before the mark: the
    data partition is mounted, the kiosk records into a new database there, the 39 answers are on
    the root file system under it. The rerun said the kiosk was provisioned and turned the
    read-only root on; it now stops, names what is hidden and what to do, and changes nothing."""
    pi = _machine(tmp_path)
    _left_by_an_earlier_provision(pi, None)
    partition = sorted(p.name for p in (pi / "partition").iterdir())
    r = _boot_and_provision(pi, kiosk_runs=False)
    assert r.returncode == 2, r.stdout + r.stderr
    error = r.stderr.splitlines()[-1]
    assert error.startswith("provision.sh: error: /var/lib/kundpuls is mounted from the data partition, but "), error
    assert "39 answer(s)" in error
    # Its database counts to seq 1, behind the root's 39: it cannot be what the kiosk went on
    # with from them, and copying the root's onto the partition gives out no seq twice.
    assert "seq 1, the root's to 39" in error and "which copies the root's onto it" in error
    where = re.search(r'\(docs/deployment.md, "([^"]+)"\)$', error)
    assert where and f"\n### {where.group(1)}\n" in (ROOT / "docs/deployment.md").read_text(), error
    assert not any(c.startswith("raspi-config") for c in _calls(pi)), _calls(pi)
    assert sorted(p.name for p in (pi / "partition").iterdir()) == partition         # no mark
    assert "provisioned" not in r.stdout


def _sql(db: Path, statement: str) -> None:
    con = sqlite3.connect(db)
    try:
        con.execute(statement)
        con.commit()
    finally:
        con.close()


def test_an_old_install_whose_kiosk_removed_the_copied_answers_is_taken_as_it_is(tmp_path):
    """B8 on a kiosk an earlier provision.sh made read-only months ago: it finished its copy, and
    the kiosk has since removed the answers it copied (acknowledged by the centre, older than
    privacy.keep_acked_days), the newest left under the mount among them. The update was refused
    as lacking them, and the docs said to copy the root's months-old database over the live one.
    A partition whose database counted on past the root's and lacks only answers the centre had
    acknowledged is this kiosk's data: marked and used as it is. Another kiosk's is not."""
    pi = _machine(tmp_path)
    root_db = _left_by_an_earlier_provision(pi, 5)
    _sql(root_db, "UPDATE response SET acked_at = recorded_at")             # sent before the copy
    ours = pi / "partition/kiosk.db"
    _sql(ours, "DELETE FROM response WHERE seq <= 39")                       # retention since
    before = _rows(ours)
    assert [seq for _, seq in before] == [40, 41, 42, 43, 44]
    _sql(ours, "UPDATE meta SET value = 'kiosk-0043' WHERE key = 'kiosk.id'")
    r = _boot_and_provision(pi, kiosk_runs=False)
    assert r.returncode == 2, r.stdout + r.stderr
    error = r.stderr.splitlines()[-1]
    assert "the partition's database is kiosk kiosk-0043's, the root's kiosk kiosk-0042's" in error, error
    assert "copies the root's onto it" not in error and not (pi / "partition/.kundpuls-copied").exists()
    _sql(ours, "UPDATE meta SET value = 'kiosk-0042' WHERE key = 'kiosk.id'")
    r = _boot_and_provision(pi, kiosk_runs=False)
    assert r.returncode == 0, r.stderr
    assert (pi / "partition/.kundpuls-copied").is_file()
    assert _rows(ours) == before
    assert "raspi-config nonint do_overlayfs 0" in _calls(pi)


def test_a_database_started_anew_above_the_roots_sequence_is_named_never_copied_over(tmp_path):
    """The power cut of the earlier provision.sh's copy came after kiosk.db.made: the kiosk
    started its new database on the partition above every seq from the time, past the root's.
    Its counter alone would take it for the root's successor, with the 39 answers the centre has
    not acknowledged hidden under the mount: refused, naming them; and since the partition's
    database may be the live one, the way on brings them to the centre, never the root's
    database over it. Once they are there, the partition marked by hand is used as it is."""
    pi = _machine(tmp_path)
    _left_by_an_earlier_provision(pi, None, made=True)
    ours = pi / "partition/kiosk.db"
    assert _rows(ours)[0][1] > 10**10
    partition = sorted(p.name for p in (pi / "partition").iterdir())
    r = _boot_and_provision(pi, kiosk_runs=False)
    assert r.returncode == 2, r.stdout + r.stderr
    error = r.stderr.splitlines()[-1]
    assert error.startswith("provision.sh: error: /var/lib/kundpuls is mounted from the data partition, but "), error
    assert "39 answer(s) the centre had not acknowledged" in error and "copies the root's onto it" not in error
    where = re.search(r'\(docs/deployment.md, "([^"]+)"\)$', error)
    assert where and f"\n### {where.group(1)}\n" in (ROOT / "docs/deployment.md").read_text(), error
    assert not any(c.startswith("raspi-config") for c in _calls(pi)), _calls(pi)
    assert sorted(p.name for p in (pi / "partition").iterdir()) == partition
    (pi / "partition/.kundpuls-copied").touch()
    r = _boot_and_provision(pi, kiosk_runs=False)
    assert r.returncode == 0, r.stderr
    assert "raspi-config nonint do_overlayfs 0" in _calls(pi)


def test_a_data_partition_an_earlier_run_finished_is_taken_as_it_is(tmp_path):
    """The same Pi, but the earlier provision.sh finished its copy: the kiosk's database on the
    partition holds the answers under the mount and those recorded since. It is marked finished
    and used as it is."""
    pi = _machine(tmp_path)
    _left_by_an_earlier_provision(pi, 5)
    before = _rows(pi / "partition/kiosk.db")
    r = _boot_and_provision(pi, kiosk_runs=False)
    assert r.returncode == 0, r.stderr
    assert (pi / "partition/.kundpuls-copied").is_file()
    assert _rows(pi / "partition/kiosk.db") == before and len(before) == 44
    assert "raspi-config nonint do_overlayfs 0" in _calls(pi)


def test_a_data_partition_with_files_of_its_own_is_never_copied_over(tmp_path):
    """Not mounted, and the partition holds files no run of provision.sh copied there (no mark):
    they may be the kiosk's (a provision.sh from before the mark, a mount that failed at boot).
    Refused, with what to do; nothing changed. With the mark and /etc/fstab's line (finished,
    mounted at an earlier boot) it is mounted as it is, never copied over."""
    pi = _machine(tmp_path)
    _left_by_an_earlier_provision(pi, 5)
    ours = _rows(pi / "partition/kiosk.db")
    r = _boot_and_provision(pi, kiosk_runs=False, fstab_mounts=False)
    assert r.returncode == 2, r.stdout + r.stderr
    error = r.stderr.splitlines()[-1]
    assert error.startswith(f"provision.sh: error: the data partition {DEVICE} holds files no run of provision.sh"), error
    assert "docs/deployment.md" in error
    assert not any(c.startswith(("raspi-config", "systemctl stop")) for c in _calls(pi)), _calls(pi)
    assert _rows(pi / "partition/kiosk.db") == ours
    (pi / "partition/.kundpuls-copied").touch()
    r = _boot_and_provision(pi, kiosk_runs=False, fstab_mounts=False)
    assert r.returncode == 0, r.stderr
    assert _rows(pi / "partition/kiosk.db") == ours
    assert "mount /var/lib/kundpuls" in _calls(pi)


def test_a_finished_copy_fstab_never_mounted_is_made_again(tmp_path):
    """A power cut between the mark and /etc/fstab's line: the kiosk went on recording on the root
    file system, so the copy, never mounted and not written to since, is made again."""
    pi = _machine(tmp_path)
    root_db = _answers(pi / "upper/var/lib/kundpuls/kiosk.db", 3)
    assert _boot_and_provision(pi, *MACHINE_ARGS).returncode == 0
    stale = pi / "partition/kiosk.db"
    shutil.copy2(root_db, stale)
    (pi / "partition/.kundpuls-copied").touch()
    os.utime(stale, (1_700_000_000, 1_700_000_000))
    _answers(root_db, 2)
    r = _boot_and_provision(pi, "--read-only-root", "--data-device", DEVICE, kiosk_runs=False)
    assert r.returncode == 0, r.stderr
    assert stale.read_bytes() == root_db.read_bytes() and len(_rows(stale)) == 5


RESTART = "systemctl restart kundpuls-kiosk.service kundpuls-sync.service"
START = "systemctl start kundpuls-kiosk.service kundpuls-sync.service"


def test_an_update_that_stopped_before_the_restart_restarts_at_the_rerun(tmp_path):
    """B8 after `git pull`: the installed kiosk refused an operator's edit of kiosk.toml, after pip
    had installed the new code. Fixed, the rerun said "nothing to change" and only made sure the
    services ran: the old code went on running. A run marks the restart pending before it
    changes anything and clears the mark once the services have restarted."""
    pi = _machine(tmp_path)
    assert _boot_and_provision(pi, *MACHINE_ARGS).returncode == 0
    pending = pi / "upper/var/lib/kundpuls-provision/restart-pending"
    assert not pending.exists()
    toml = pi / "upper/etc/kundpuls/kiosk.toml"
    edited = toml.read_text()
    toml.write_text(edited.replace("repeat_window_s = 5.0", "repeat_window_s = -1"))
    record = next((pi / "upper/opt/kundpuls/venv/lib").rglob("RECORD"))
    (pi / "new-code").write_text(record.read_text().replace("AAAA", "BBBB"))        # git pull
    r = _boot_and_provision(pi)
    assert r.returncode == 2 and "kiosk: error: /etc/kundpuls/kiosk.toml" in r.stderr, r.stderr
    assert "BBBB" in record.read_text() and RESTART not in _calls(pi)           # the new code, not running
    toml.write_text(edited)
    r = _boot_and_provision(pi)
    assert r.returncode == 0, r.stderr
    calls = _calls(pi)
    assert RESTART in calls and START not in calls and "systemctl daemon-reload" in calls
    assert not pending.exists()
    r = _boot_and_provision(pi)
    assert r.returncode == 0 and "nothing to change" in r.stdout
    assert START in _calls(pi) and RESTART not in _calls(pi) and "systemctl daemon-reload" not in _calls(pi)


def test_unit_files_an_interrupted_run_wrote_are_loaded_at_the_rerun(tmp_path):
    """The reviewer's chroot: daemon-reload failed after the unit files were written; the rerun
    found them in place, skipped daemon-reload and only started the services."""
    pi = _machine(tmp_path)
    (pi / "fail-daemon-reload").touch()
    r = _boot_and_provision(pi, *MACHINE_ARGS)
    assert r.returncode != 0 and (pi / "upper/etc/systemd/system/kundpuls-kiosk.service").exists()
    r = _boot_and_provision(pi)
    assert r.returncode == 0, r.stderr
    calls = _calls(pi)
    assert "systemctl daemon-reload" in calls and RESTART in calls
    assert calls.index("systemctl daemon-reload") < calls.index(RESTART)
    # --no-start leaves the restart pending: the services run what they ran before.
    (pi / "upper/etc/kundpuls/kiosk.toml").write_text(
        (pi / "upper/etc/kundpuls/kiosk.toml").read_text().replace("repeat_window_s = 5.0", "repeat_window_s = 6.0"))
    r = _boot_and_provision(pi, "--rotation", "180", "--no-start")
    assert r.returncode == 0 and not any(c.startswith(("systemctl restart", "systemctl start")) for c in _calls(pi))
    r = _boot_and_provision(pi)
    assert r.returncode == 0 and RESTART in _calls(pi)
