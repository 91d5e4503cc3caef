"""numpy's OpenBLAS gets one thread in Kundpuls's processes unless the operator chose
(server_sync.program.blas): set before numpy is first imported, which is when OpenBLAS reads it,
whichever of the centre's or the seeds' modules a program imports first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server_sync.program import blas

ROOT = Path(__file__).resolve().parents[1]

# What OPENBLAS_NUM_THREADS says at the moment numpy is first imported.
AT_NUMPY_IMPORT = r"""
import importlib.abc, os, sys
seen = []
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "numpy" and not seen:
            seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
        return None
sys.meta_path.insert(0, Watch())
import importlib
importlib.import_module(sys.argv[1])
print(seen[0] if seen else "numpy not imported")
"""


def test_the_operators_setting_is_kept_and_otherwise_one_thread():
    env: dict[str, str] = {}
    blas.one_thread_unless_set(env)
    assert env == {"OPENBLAS_NUM_THREADS": "1"}
    for name in blas.SETTINGS:
        env = {name: "4"}
        blas.one_thread_unless_set(env)
        assert env == {name: "4"}, name        # OMP_NUM_THREADS=4 is not overridden by our 1


@pytest.mark.parametrize("module", ["server_sync.analysis.chain_report", "server_sync.web.app",
                                    "server_sync.analysis.alerts", "seeds.history", "seeds.bulkload"])
def test_numpy_is_imported_after_the_setting(module):
    env = {k: v for k, v in os.environ.items() if k not in blas.SETTINGS}
    out = subprocess.run([sys.executable, "-c", AT_NUMPY_IMPORT, module], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1", (module, out.stdout)
