"""Names in the order a reader of each language expects: stores, regions, questions and people are
listed by name, and Python's own order (by code point) puts "Älmhult" before "Åre" and both after
"Zinkgruvan" only by luck of the encoding.

- Swedish: a–z, then å, ä, ö; æ sorts as ä, ø as ö, ü as y (as the Swedish Academy's word list).
- Norwegian Bokmål: a–z, then æ, ø, å; ä sorts as æ, ö as ø, ü as y.
- English: accents do not count ("Émile" with "Emile").
Case does not count; a run of digits compares as a number ("Store 2" before "Store 10"); equal
keys fall back to the text itself, so the order is total. Pure: no locale of the machine is read
(a server's locale is not the reader's, and may not be installed).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

# Letters after z, in order, and the letters that sort as one of them.
_AFTER_Z = {"sv": ("åäö", {"æ": "ä", "ø": "ö"}), "nb": ("æøå", {"ä": "æ", "ö": "ø"})}
_AS = {"ü": "y"}                 # both languages
_DIGITS = re.compile(r"(\d+)")


def _letter_key(ch: str, extra: str, same: dict[str, str]) -> tuple[int, ...]:
    ch = same.get(ch, _AS.get(ch, ch) if extra else ch)
    if ch in extra:
        return (ord("z") + 1 + extra.index(ch),)
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return tuple(ord(c) for c in base) or (ord(ch),)


def sort_key(text: str, lang: str) -> tuple:
    """The key that sorts `text` for a reader of `lang` (`sv`, `nb`, `en`; another: as English)."""
    extra, same = _AFTER_Z.get(lang, ("", {}))
    parts: list[tuple] = []
    for i, part in enumerate(_DIGITS.split(text.casefold())):
        if i % 2:
            parts.append((0, int(part)))
        elif part:
            parts.append((1, tuple(k for ch in part for k in _letter_key(ch, extra, same))))
    return (tuple(parts), text)


def sorted_names(items: Iterable[T], lang: str, name: Callable[[T], str] = str) -> list[T]:
    """`items` sorted by `name(item)` for a reader of `lang` (`sort_key`)."""
    return sorted(items, key=lambda item: sort_key(name(item), lang))
