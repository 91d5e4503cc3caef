"""Shared pytest set-up. Fixtures live in tests/fixtures/<area>.py and are loaded by name, so
each area (core, broker, postgres, display) owns its own file."""

import pkgutil
from pathlib import Path

pytest_plugins = [f"tests.fixtures.{m.name}"
                  for m in pkgutil.iter_modules([str(Path(__file__).parent / "fixtures")])
                  if not m.name.startswith("_")]
