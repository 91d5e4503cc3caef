"""The README's table of config keys, derived from the schema (`kiosk.config.KEYS`).

tests/test_docs.py fails, showing the expected table, when README.md does not hold it; after a
key changed, `python -m tests.readme_keys` writes it there. Development tooling: not part of the
installed package.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from kiosk.config import KEYS

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- config-keys:begin -->", "<!-- config-keys:end -->"


def key_table() -> str:
    rows = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for k in KEYS:
        if k.shown_default is not None:
            default = k.shown_default
        else:
            default = "`" + json.dumps(k.default, ensure_ascii=False) + "`"
        rows.append(f"| `{k.name}` | {k.type} | {default} | {k.allowed} | {k.doc} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    """`readme` with the text between the config-keys markers replaced by the table."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _m: f"{BEGIN}\n{key_table()}\n{END}", readme)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"updated {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
