"""Shared pytest set-up. Fixtures live in tests/fixtures/<area>.py and are loaded by name, so
each area (core, broker, postgres, display) owns its own file."""

import os
import pkgutil
from pathlib import Path

# Passwords hashed with argon2-cffi's profile for tests in this process and every server it starts
# (server_sync.web.people.CHEAP_HASH_ENV): 0.2 s of CPU a login otherwise, a few hundred times.
# tests/web/test_people.py checks the servers' own profile without it.
os.environ.setdefault("KUNDPULS_TEST_CHEAP_PASSWORD_HASH", "1")

import pytest

from server_sync.program import blas

blas.one_thread_unless_set()        # as the programs do, before a test file imports numpy first

pytest_plugins = [f"tests.fixtures.{m.name}"
                  for m in pkgutil.iter_modules([str(Path(__file__).parent / "fixtures")])
                  if not m.name.startswith("_")]


# The files that take longest, longest first (seconds of their tests with two workers on 2
# cores, from `--durations=0`, 2026-12-03 13:22, a slow stretch of the VM: 1341 s in all, 11:31 for
# the suite, which read 9:22 at 12:04 with nearly the same tests); the files marked * were
# re-measured at 14:20-15:00 after their set-up changed: the old and the new file run back to
# back with `-n 0`, the figure here scaled by the ratio. `make test` hands whole files to the
# workers (`--dist loadfile --no-loadscope-reorder`) in collection order: starting with the long
# ones keeps one worker from finishing a long file alone at the end (xdist's own order, by number
# of tests, ran the one-test alert simulation last). Files not listed keep their order after these.
LONGEST_FILES = (
    "tests/ui/test_app.py",                     # 109 s: seven app processes in the fixture
    "tests/central/test_ingest_mqtt.py",        # 88 s
    "tests/web/test_security.py",               # 77 s* (131 before; 151 before the address lock-out took copies)
    "tests/web/test_browser.py",                # 76 s* (100 before)
    "tests/sync/test_e2e_sync.py",              # 64 s
    "tests/analysis/test_alert_quality.py",     # 59 s
    "tests/analysis/test_change_size.py",       # 59 s (2026-12-06, a slow stretch: 1316 s in all)
    "tests/web/test_errors.py",                 # 52 s* (101 before)
    "tests/central/test_notify.py",             # 44 s* (70 before)
    "tests/web/test_demo.py",                   # 44 s
    "tests/web/test_loop.py",                   # 37 s* (44 before)
    "tests/web/test_live.py",                   # 36 s
    "tests/ui/test_device_settings.py",         # 36 s
    "tests/analysis/test_ranking_drivers.py",   # 37 s (2026-12-06, as above)
    "tests/analysis/test_change_interval.py",   # 28 s (2026-12-06, as above)
    "tests/central/test_cli.py",                # 26 s
    "tests/central/test_ingest_service.py",     # 24 s
    "tests/central/test_one_kiosk.py",          # 21 s
    "tests/analysis/test_history.py",           # 21 s
    "tests/test_crash.py",                      # 20 s
    "tests/central/test_workflow.py",           # 19 s* (23 before)
    "tests/analysis/test_series_local_time.py", # 17 s* (24 before)
    "tests/analysis/test_employee_privacy.py",  # 15 s* (29 before)
    "tests/central/test_ingest.py",             # 13 s* (22 before)
)


def pytest_collection_modifyitems(config, items) -> None:
    gone = [path for path in LONGEST_FILES if not (config.rootpath / path).exists()]
    if gone:                                     # a renamed file would silently lose its place
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FILES names missing files: {gone}")
    rank = {path: i for i, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
