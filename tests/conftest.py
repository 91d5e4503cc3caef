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
# with three workers on 2 cores, from `--durations=300` on 2026-12-07 at 19:00, the machine also
# running reviewers (load 7-10; the suite took 16:35, a quiet one about half). `make test` hands
# whole files to the workers (`--dist loadfile --no-loadscope-reorder`) in collection order:
# starting with the long ones keeps one worker from finishing a long file alone at the end
# (xdist's own order, by number of tests, ran the one-test alert simulation last; the Pi
# provision and idle-notice files, grown since the list was last made, had gone to the end).
# Files not listed keep their order after these.
LONGEST_FILES = (
    "tests/central/test_ingest_service.py",     # 173 s
    "tests/ui/test_app.py",                     # 151 s
    "tests/web/test_browser.py",                # 140 s
    "tests/central/test_ingest_mqtt.py",        # 118 s
    "tests/web/test_errors.py",                 # 103 s
    "tests/test_firmware_provision.py",         # 103 s
    "tests/analysis/test_alert_quality.py",     # 95 s
    "tests/web/test_idle_notice.py",            # 85 s
    "tests/ui/test_fit.py",                     # 78 s
    "tests/web/test_security.py",               # 69 s
    "tests/analysis/test_ranking_drivers.py",   # 65 s
    "tests/analysis/test_change_interval.py",   # 63 s
    "tests/analysis/test_change_size.py",       # 59 s
    "tests/sync/test_e2e_sync.py",              # 55 s
    "tests/web/test_demo.py",                   # 44 s
    "tests/analysis/test_html_report.py",       # 44 s
    "tests/test_sd_card.py",                    # 32 s
    "tests/ui/test_device_settings.py",         # 31 s
    "tests/web/test_live.py",                   # 30 s
    "tests/analysis/test_history.py",           # 30 s
    "tests/central/test_notify_store.py",       # 29 s
    "tests/test_crash.py",                      # 26 s
    "tests/analysis/test_effects_batch.py",     # 21 s
    "tests/web/test_loop.py",                   # 19 s
    "tests/web/test_db_outage.py",              # 18 s
    "tests/central/test_provision.py",          # 17 s
    "tests/test_broker_rate_limit.py",          # 14 s
    "tests/analysis/test_series_local_time.py", # 14 s
    "tests/sync/test_rate_limited.py",          # 13 s
    "tests/central/test_cli.py",                # 12 s
)


def pytest_collection_modifyitems(config, items) -> None:
    gone = [path for path in LONGEST_FILES if not (config.rootpath / path).exists()]
    if gone:                                     # a renamed file would silently lose its place
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FILES names missing files: {gone}")
    rank = {path: i for i, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
