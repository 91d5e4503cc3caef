"""Without PostgreSQL installed, its tests are skipped with the reason outside CI and fail loudly
in CI (tests/fixtures/postgres.py); run here as a pytest inside pytest, with the binaries'
folder pointing nowhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_a_postgres_test(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "KUNDPULS_TEST_PG_URL")}
    env["KUNDPULS_TEST_PG_BIN"] = str(tmp_path / "no-postgresql-here")
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "tests/central/test_store.py", "-k", "test_migrate_is_idempotent and postgresql"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(bool(os.environ.get("KUNDPULS_TEST_PG_URL")), reason="uses an external server")
def test_skipped_with_the_reason_outside_ci(tmp_path):
    proc = _run_a_postgres_test(tmp_path, ci=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and "initdb, pg_ctl) not found" in proc.stdout, proc.stdout


@pytest.mark.skipif(bool(os.environ.get("KUNDPULS_TEST_PG_URL")), reason="uses an external server")
def test_fails_loudly_in_ci(tmp_path):
    proc = _run_a_postgres_test(tmp_path, ci=True)
    assert proc.returncode != 0, proc.stdout
    assert "PostgreSQL is required in CI" in proc.stdout and "1 error" in proc.stdout, proc.stdout
