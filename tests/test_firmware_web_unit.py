"""kundpuls-web.service (`kiosk-central serve`): `systemd-analyze verify` is clean, and it runs as
hardened as the ingest, as the kundpuls user, restarted for ever. Not a notify unit (uvicorn does
not speak sd_notify), so it is not among test_firmware_units.UNITS, whose tests expect a watchdog."""

from __future__ import annotations

import shutil
import subprocess

from tests.test_firmware_units import SYSTEMD, WEB, directives, values, verify_root  # noqa: F401 (a fixture)


def test_systemd_analyze_verify_is_clean(verify_root):  # noqa: F811
    unit = verify_root / "etc/systemd/system" / WEB
    shutil.copy(SYSTEMD / WEB, unit)
    try:
        # Its program is the ingest's, which the fixture made executable in the root.
        program = values(SYSTEMD / "kundpuls-ingest.service", "ExecStart")[0].split()[0]
        assert values(unit, "ExecStart")[0].split()[0] == program
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={verify_root}",
                            f"/etc/systemd/system/{WEB}"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stderr.strip() == "" and r.stdout.strip() == "", r.stderr + r.stdout
    finally:
        unit.unlink()


def test_runs_the_web_app_as_hardened_as_the_ingest():
    web, ingest = SYSTEMD / WEB, SYSTEMD / "kundpuls-ingest.service"
    assert values(web, "ExecStart") == ["/opt/kundpuls/venv/bin/kiosk-central serve $KUNDPULS_SERVE_ARGS"]
    assert values(web, "EnvironmentFile") == values(ingest, "EnvironmentFile") == ["/etc/kundpuls/central.env"]
    assert values(web, "Type") == ["exec"] and values(web, "WatchdogSec") == []
    assert values(web, "Restart") == ["always"] and values(web, "StartLimitIntervalSec", "Unit") == ["0"]
    assert values(web, "WantedBy", "Install") == ["multi-user.target"]

    def sandbox(unit):
        """Everything from User= on: user, state directory, environment and the hardening."""
        d = directives(unit)
        start = next(i for i, (_, key, _) in enumerate(d) if key == "User")
        return [x for x in d[start:] if x[0] == "Service"]
    assert sandbox(web) == sandbox(ingest)
    assert ("Service", "User", "kundpuls") in sandbox(web)
