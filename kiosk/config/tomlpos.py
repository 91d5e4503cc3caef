"""Find the line of a key in a TOML text, so config errors can say where the problem is.

`tomllib` gives line numbers only for syntax errors; for a well-formed file with a wrong value we
locate the key ourselves. Handles tables, arrays of tables and dotted keys; inline tables fall
back to the line of their parent key. Never raises: an unknown path gives None.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_dotted(s: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", s)
    return [p.strip("\"'") for p in parts]


def key_lines(text: str) -> dict[tuple, int]:
    """Map every key path (tuple of str/int) found in `text` to its 1-based line number."""
    found: dict[tuple, int] = {}
    array_counts: dict[tuple, int] = {}
    current: tuple = ()
    in_multiline: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        m = _HEADER.match(line)
        if m and not _KEY.match(line):
            names = _split_dotted(m.group(2))
            if m.group(1) == "[[":
                # The array itself takes no index: [[questions]] again is its next entry.
                base = _resolve(names[:-1], array_counts) + (names[-1],)
                idx = array_counts.get(base, -1) + 1
                array_counts[base] = idx
                current = base + (idx,)
                found.setdefault(base, lineno)         # the array itself: its first entry's header
            else:
                current = _resolve(names, array_counts)
            found.setdefault(current, lineno)
            continue
        k = _KEY.match(line)
        if k:
            path = current + tuple(_split_dotted(k.group(1)))
            found.setdefault(path, lineno)
            rest = line[k.end():]
            for q in ('"""', "'''"):
                if rest.count(q) == 1:
                    in_multiline = q
    return found


def _resolve(names: list[str], array_counts: dict[tuple, int]) -> tuple:
    """A header like [questions.text] inside the last [[questions]] entry gets its index."""
    path: tuple = ()
    for name in names:
        path = path + (name,)
        if path in array_counts:
            path = path + (array_counts[path],)
    return path


def line_of(text: str | None, path: tuple) -> int | None:
    """Line of `path`, or of its nearest ancestor present in the text."""
    if not text:
        return None
    found = key_lines(text)
    p = tuple(path)
    while p:
        if p in found:
            return found[p]
        p = p[:-1]
    return None
