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


# The files that take longest, longest first (seconds of their tests' set-up, call and tear-down
# with two workers on 2 cores, from `--durations=0` on 2026-12-06 at 21:41: 1157 s in all, 10:00
# for the suite). `make test` hands whole files to the workers (`--dist loadfile
# --no-loadscope-reorder`) in collection order: starting with the long ones keeps one worker from
# finishing a long file alone at the end (xdist's own order, by number of tests, ran the one-test
# alert simulation last). Files not listed keep their order after these.
LONGEST_FILES = (
    "tests/web/test_browser.py",                # 93 s
    "tests/ui/test_app.py",                     # 73 s
    "tests/central/test_ingest_mqtt.py",        # 67 s
    "tests/central/test_ingest_service.py",     # 63 s
    "tests/web/test_security.py",               # 59 s
    "tests/analysis/test_change_size.py",       # 47 s
    "tests/sync/test_e2e_sync.py",              # 45 s
    "tests/analysis/test_change_interval.py",   # 33 s
    "tests/web/test_errors.py",                 # 33 s
    "tests/analysis/test_alert_quality.py",     # 28 s
    "tests/ui/test_fit.py",                     # 25 s
    "tests/ui/test_device_settings.py",         # 24 s
    "tests/analysis/test_html_report.py",       # 23 s
    "tests/test_sd_card.py",                    # 21 s
    "tests/web/test_demo.py",                   # 19 s
    "tests/analysis/test_ranking_drivers.py",   # 19 s
    "tests/sync/test_agent.py",                 # 18 s
    "tests/central/test_notify.py",             # 17 s
    "tests/web/test_alert_language.py",         # 16 s
    "tests/web/test_downloads.py",              # 15 s
    "tests/web/test_loop.py",                   # 15 s
    "tests/central/test_cli.py",                # 15 s
    "tests/central/test_kiosk_watch.py",        # 15 s
    "tests/web/test_live.py",                   # 14 s
    "tests/analysis/test_history.py",           # 14 s
    "tests/analysis/test_series_local_time.py", # 13 s
    "tests/test_crash.py",                      # 13 s
    "tests/central/test_provision.py",          # 12 s
)


def pytest_collection_modifyitems(config, items) -> None:
    gone = [path for path in LONGEST_FILES if not (config.rootpath / path).exists()]
    if gone:                                     # a renamed file would silently lose its place
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FILES names missing files: {gone}")
    rank = {path: i for i, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
