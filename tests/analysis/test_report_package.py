"""What ships beside the code: the report's templates and catalogues are found as package
resources (as from an installed wheel), and pyproject's package-data globs are exactly right:
each matches a file, and every file beside the code in a package matches one (a template or
catalogue left out would be missing only once installed)."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

from server_sync.report.html import ENV

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
    "package-data"]


def test_templates_and_catalogues_are_package_resources():
    report = files("server_sync.report")
    assert (report / "templates" / "report" / "page.html").is_file()
    assert all((report / "locale" / f"{lang}.toml").is_file() for lang in ("sv", "nb", "en"))
    names = ENV.list_templates()
    assert "report/page.html" in names and "report/sections/summary.html" in names
    for name in names:
        ENV.get_template(name)                          # each one parses


def test_every_package_data_glob_matches_a_file():
    empty = [f"{package}: {glob}" for package, globs in PACKAGE_DATA.items() for glob in globs
             if not any(p.is_file() for p in (ROOT / package.replace(".", "/")).glob(glob))]
    assert empty == []


def test_every_file_beside_the_code_is_package_data():
    shipped = {p for package, globs in PACKAGE_DATA.items() for glob in globs
               for p in (ROOT / package.replace(".", "/")).glob(glob)}
    beside = [p for package in ("kiosk", "server_sync", "seeds") for p in (ROOT / package).rglob("*")
              if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    left_out = sorted(str(p.relative_to(ROOT)) for p in beside if p not in shipped)
    assert left_out == []
