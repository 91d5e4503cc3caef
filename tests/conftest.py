"""Shared pytest set-up. Fixtures live in tests/fixtures/<area>.py and are loaded by name, so
each area (core, broker, postgres, display) owns its own file."""

import pkgutil
from pathlib import Path

import pytest

pytest_plugins = [f"tests.fixtures.{m.name}"
                  for m in pkgutil.iter_modules([str(Path(__file__).parent / "fixtures")])
                  if not m.name.startswith("_")]


# The files that take longest, longest first (seconds of their tests with two workers on 2
# cores, from a JUnit report, 2026-12-03 10:00: 1135 s in all, 9:45 for the suite). `make test`
# hands whole files to the workers (`--dist loadfile --no-loadscope-reorder`) in collection
# order: starting with the long ones keeps one worker from finishing a long file alone at the end
# (xdist's own order, by number of tests, ran the one-test alert simulation last). Files not
# listed keep their order after these.
LONGEST_FILES = (
    "tests/web/test_security.py",               # 164 s
    "tests/ui/test_app.py",                     # 126 s: seven app processes in the fixture
    "tests/web/test_browser.py",                # 100 s
    "tests/central/test_ingest_mqtt.py",        # 87 s
    "tests/web/test_errors.py",                 # 73 s
    "tests/central/test_notify.py",             # 54 s
    "tests/sync/test_e2e_sync.py",              # 41 s
    "tests/analysis/test_alert_quality.py",     # 39 s
    "tests/web/test_demo.py",                   # 27 s
    "tests/web/test_live.py",                   # 25 s
    "tests/web/test_loop.py",                   # 24 s
    "tests/ui/test_device_settings.py",         # 24 s
    "tests/central/test_ingest_service.py",     # 23 s
    "tests/central/test_cli.py",                # 18 s
    "tests/analysis/test_history.py",           # 15 s
    "tests/analysis/test_employee_privacy.py",  # 15 s
    "tests/analysis/test_series_local_time.py", # 15 s
    "tests/central/test_one_kiosk.py",          # 14 s
    "tests/test_crash.py",                      # 14 s
    "tests/analysis/test_effects_batch.py",     # 14 s
    "tests/central/test_ingest.py",             # 14 s
)


def pytest_collection_modifyitems(config, items) -> None:
    gone = [path for path in LONGEST_FILES if not (config.rootpath / path).exists()]
    if gone:                                     # a renamed file would silently lose its place
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FILES names missing files: {gone}")
    rank = {path: i for i, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
