"""Regenerates the config-key table in README.md from `kiosk.config.KEYS`.

Run `python -m kiosk.docs` after adding a key; a test fails when README.md is out of date.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from kiosk.config import KEYS

BEGIN, END = "<!-- config-keys:begin -->", "<!-- config-keys:end -->"


def key_table() -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for k in KEYS:
        if isinstance(k.default, str) and k.default.startswith("("):
            default = k.default
        else:
            default = "`" + json.dumps(k.default, ensure_ascii=False) + "`"
        rows.append(f"| `{k.name}` | {k.type} | {default} | {k.doc} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _m: f"{BEGIN}\n{key_table()}\n{END}", readme)


def main() -> int:
    path = Path(__file__).resolve().parent.parent / "README.md"
    text = path.read_text(encoding="utf-8")
    new = render(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"updated {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
