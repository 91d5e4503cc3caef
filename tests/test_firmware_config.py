"""The reference kiosk.toml, the Kivy display settings and the boot fragments of firmware_config/:
the reference loads with the kiosk's own loader and documents every key of kiosk.config.KEYS; the
pin map is sound; every Kivy ini is read by Kivy's own config loader as written (not "upgraded"
into double touch input) with the rotation its name says.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import KEYS, RESERVED_PINS, load_file

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware_config"
REFERENCE = FW / "kiosk.toml"
DISPLAYS = ("dsi7", "hdmi")
ROTATIONS = (0, 90, 180, 270)


# The reference's commented-out example (a staff pulse and its schedule): its TOML lines start "# ",
# its comments "# # ".
EXAMPLE_LINE = re.compile(r"# (\[\[\w+\]\]|\[\w+\]|\w+ = .+|# .*)")


def documented_keys(text: str) -> dict[str, bool]:
    """Dotted key name (as in KEYS) -> whether a comment sits right above it (or its table), in
    the file or in its commented-out example."""
    found: dict[str, bool] = {}
    section = ""
    comment_above = False
    for line in text.splitlines():
        s = line.strip()
        example = EXAMPLE_LINE.fullmatch(s)
        s = example.group(1) if example else s
        if not s:
            comment_above = False
            continue
        if s.startswith("#"):
            comment_above = True
            continue
        m = re.fullmatch(r"\[\[(\w+)\]\]|\[(\w+)\]", s)
        if m:
            name = m.group(1) or m.group(2)
            section = f"{name}[]." if m.group(1) else f"{name}."
            found.setdefault(name, comment_above)
            found[name] = found[name] or comment_above
        else:
            key = s.split("=", 1)[0].strip()
            name = section + key
            found[name] = found.get(name, False) or comment_above
        comment_above = False
    return found


def test_reference_loads_with_the_kiosk_loader():
    cfg = load_file(REFERENCE)
    assert cfg.broker.tls and cfg.broker.port == 8883
    assert cfg.broker.password_file == "/etc/kundpuls/broker.pass"
    assert [q.id for q in cfg.questions] == ["visit"]


def test_the_reference_asks_customers_only_and_has_no_schedule():
    """provision.sh installs the reference on every store's kiosk: it must never ask customers a
    staff question (it did: "How was your working day?" on weekdays 20:30-21:30), and a push of
    questions alone must not meet a schedule naming a question the push does not carry."""
    cfg = load_file(REFERENCE)
    assert {q.audience for q in cfg.questions} == {"customer"} and cfg.schedule == ()


def test_the_references_check_command_can_read_the_installed_file():
    """provision.sh installs it root:kundpuls 0640: an admin's own `kiosk config check` cannot read it."""
    checks = [line for line in REFERENCE.read_text().splitlines() if "kiosk config check" in line]
    assert checks and all(line.lstrip("# ").startswith("sudo -u kundpuls ") for line in checks)


def test_the_references_example_loads_once_uncommented(tmp_path):
    """The commented-out staff pulse is what docs/deployment.md tells an operator to enable."""
    lines = REFERENCE.read_text().splitlines()
    start = lines.index("# [[questions]]")
    uncommented = [line.removeprefix("# ") for line in lines[start:]]
    path = tmp_path / "kiosk.toml"
    path.write_text("\n".join(lines[:start] + uncommented) + "\n")
    cfg = load_file(path)
    assert [(q.id, q.audience) for q in cfg.questions] == [("visit", "customer"), ("pulse", "employee")]
    assert [e.question for e in cfg.schedule] == ["pulse", "visit"]


def test_the_centre_knows_the_reference_config_version():
    """A kiosk provisioned from the reference runs its config_version before it ever reports: the
    centre's first push must go above it (config_push.next_versions), or the kiosk takes the push
    for the config it has."""
    from server_sync.protocol import SHIPPED_CONFIG_VERSION
    assert load_file(REFERENCE).config_version == SHIPPED_CONFIG_VERSION


def test_every_loader_key_is_in_the_reference_with_a_comment():
    found = documented_keys(REFERENCE.read_text())
    missing = [k.name for k in KEYS if k.name not in found]
    uncommented = [k.name for k in KEYS if k.name in found and not found[k.name]]
    assert not missing, f"keys of kiosk.config.KEYS missing from {REFERENCE.name}: {missing}"
    assert not uncommented, f"keys without a comment above them: {uncommented}"


def test_reference_has_no_key_the_loader_does_not_know():
    names = {k.name for k in KEYS}
    tables = {n.split(".")[0].removesuffix("[]") for n in names if "." in n}
    extra = [k for k in documented_keys(REFERENCE.read_text())
             if k not in names and k not in tables and not k.startswith("reasons.")]  # reason codes are data
    assert not extra


def test_pin_map_is_sound():
    g = load_file(REFERENCE).gpio
    pins = list(g.buttons) + list(g.leds)
    assert len(g.buttons) == 4 and len(g.leds) == 4
    assert len(set(pins)) == len(pins), "a BCM pin is used twice"
    assert not set(pins) & RESERVED_PINS, "uses ID EEPROM, I2C or UART pins"
    assert all(0 <= p <= 27 for p in pins)
    # The same pins as the wiring guide, in the same order.
    wiring = (FW / "wiring.md").read_text()
    for role, bcm in [*(("button", p) for p in g.buttons), *(("LED", p) for p in g.leds)]:
        assert re.search(rf"\|\s*{role} \d[^|]*\|\s*BCM {bcm}\s*\|", wiring), f"{role} BCM {bcm} not in wiring.md"


def _kivy_reads(ini: Path, home: Path) -> subprocess.Popen:
    home.mkdir()
    (home / "config.ini").write_bytes(ini.read_bytes())
    code = ("import json\nfrom kivy.config import Config\n"
            "print(json.dumps({'input': dict(Config.items('input')),"
            " 'rotation': Config.getint('graphics', 'rotation'),"
            " 'log_enable': Config.getint('kivy', 'log_enable'),"
            " 'show_cursor': Config.getint('graphics', 'show_cursor')}))")
    env = dict(os.environ, KIVY_HOME=str(home), KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1",
               KIVY_NO_FILELOG="1", KIVY_NO_ENV_CONFIG="1")
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_kivy_inis_are_read_by_kivy_as_written(tmp_path):
    inis = {(d, r): FW / "kivy" / f"{d}-rot{r}.ini" for d in DISPLAYS for r in ROTATIONS}
    assert sorted(p.name for p in (FW / "kivy").glob("*.ini")) == sorted(p.name for p in inis.values())
    procs = {k: _kivy_reads(p, tmp_path / f"{k[0]}-{k[1]}") for k, p in inis.items()}
    for (display, rotation), proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        seen = json.loads(out)
        assert seen["rotation"] == rotation
        assert seen["log_enable"] == 0 and seen["show_cursor"] == 0
        # Exactly one touch provider, and no mouse provider that would double every tap.
        (provider,) = seen["input"].values()
        assert provider.startswith("probesysfs,")
        args = dict(a.split("=", 1) for a in provider.split(",")[1:])
        assert set(args) <= {"provider", "match", "use_regex", "select_all", "use_mouse", "param"}
        assert args["provider"] == ("mtdev" if display == "dsi7" else "hidinput")
        if display == "dsi7":
            # The names the 7" panel's touch controller has had (Kivy matches with re.match, IGNORECASE).
            for name in ("generic ft5x06 (79)", "FT5406 memory based driver"):
                assert re.match(args["match"], name, re.IGNORECASE)
            assert not re.match(args["match"], "ILITEK ILITEK-TP", re.IGNORECASE)
        # Kivy did not rewrite ("upgrade") the file: what we ship is what runs.
        assert (tmp_path / f"{display}-{rotation}" / "config.ini").read_bytes() == inis[display, rotation].read_bytes()


def test_kivy_inis_hold_every_setting_kivy_fills_in_for_older_files(tmp_path):
    """At its own config_version Kivy fills in no default (kivy.clock then fails at import with
    NoOptionError 'kivy_clock'): each ini must hold every setting of Kivy's own default file,
    which Kivy writes into an empty KIVY_HOME. Touch input is the device's choice alone."""
    home = tmp_path / "fresh"
    home.mkdir()
    env = dict(os.environ, KIVY_HOME=str(home), KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1")
    subprocess.run([sys.executable, "-c", "import kivy.config"], env=env, check=True,
                   capture_output=True, timeout=60)
    defaults = configparser.RawConfigParser()
    defaults.read(home / "config.ini")
    for ini in sorted((FW / "kivy").glob("*.ini")):
        shipped = configparser.RawConfigParser()
        shipped.read(ini)
        assert shipped.get("kivy", "config_version") == defaults.get("kivy", "config_version")
        missing = [f"[{s}] {o}" for s in defaults.sections() if s != "input"
                   for o in defaults.options(s) if not shipped.has_option(s, o)]
        assert not missing, f"{ini.name} lacks settings Kivy reads: {missing}"
        assert shipped.get("kundpuls", "device") == ini.stem


def test_without_the_config_version_kivy_would_add_a_mouse_provider(tmp_path):
    """Why the inis pin config_version: an unversioned file is 'upgraded' with Kivy's defaults."""
    stripped = tmp_path / "unversioned.ini"
    stripped.write_text(re.sub(r"(?m)^config_version = 27\n", "", (FW / "kivy/dsi7-rot0.ini").read_text()))
    proc = _kivy_reads(stripped, tmp_path / "home")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "mouse" in json.loads(out)["input"]


def test_boot_fragments():
    frag = FW / "boot/config.txt.d"
    base = (frag / "10-kundpuls-base.txt").read_text()
    for line in ("dtparam=watchdog=on", "dtparam=audio=off", "dtoverlay=disable-bt"):
        assert re.search(rf"(?m)^{re.escape(line)}$", base)
    # Raspberry Pi OS's config.txt loads the KMS overlay; loading it a second time is not safe.
    assert not re.search(r"(?m)^dtoverlay=vc4-kms", base)
    for name in ("20-display-dsi7.txt", "20-display-hdmi.txt", "20-display-none.txt"):
        text = (frag / name).read_text()
        settings = [l for l in text.splitlines() if l and not l.startswith("#")]
        assert settings[0] == "[all]"                      # never inherit a [pi4]/[cm4] filter
        assert all(re.fullmatch(r"[a-z_0-9]+=[\w,.-]+|\[all\]", l) for l in settings), settings
