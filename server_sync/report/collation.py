"""Names in the order a reader of each language expects: stores, regions, questions and reasons are
listed by name, and Python's own order (by code point) puts "Älmhult" before "Åre" and both after
"Zinkgruvan" only by luck of the encoding.

- Swedish: a–z, then å, ä, ö; æ sorts as ä, ø and ő as ö, ü and ű as y; v and w apart (as the
  Swedish Academy's word list since 2006).
- Norwegian Bokmål: a–z, then æ, ø, å; ä sorts as æ, ö and ő as ø, ü and ű as y. "aa" is two a's
  (old spellings such as "Aalesund" are not read as å).
- English: accents do not count ("Émile" with "Emile"); æ as ae, ø as o.
Case does not count, nor spaces around a name; a run of digits compares as a number ("Butik 2"
before "Butik 10"); equal keys fall back to the text itself, so the order is total. Pure: no
locale of the machine is read (a server's locale is not the reader's, and may not be installed).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

# Letters after z, in order, and the letters that sort as another in that language.
_AFTER_Z = {"sv": "åäö", "nb": "æøå"}
_SAME = {"sv": {"æ": "ä", "ø": "ö", "ő": "ö", "ü": "y", "ű": "y"},
         "nb": {"ä": "æ", "ö": "ø", "ő": "ø", "ü": "y", "ű": "y"}}
# Letters Unicode does not split into a base letter and a mark, as the letters they are read as.
_PLAIN = {"æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_DIGITS = re.compile(r"([0-9]+)")        # ASCII only: another script's digits are letters here


def _letter_key(ch: str, after_z: str, same: dict[str, str]) -> tuple[int, ...]:
    ch = same.get(ch, ch)
    if ch in after_z:
        return (ord("z") + 1 + after_z.index(ch),)
    base = "".join(c for c in unicodedata.normalize("NFD", _PLAIN.get(ch, ch)) if not unicodedata.combining(c))
    return tuple(ord(c) for c in base)          # a lone mark counts for nothing


def sort_key(text: str, lang: str) -> tuple:
    """The key that sorts `text` for a reader of `lang` (`sv`, `nb`, `en`; another: as English)."""
    after_z, same = _AFTER_Z.get(lang, ""), _SAME.get(lang, {})
    parts: list[tuple] = []
    for i, part in enumerate(_DIGITS.split(unicodedata.normalize("NFC", text).strip().casefold())):
        if i % 2:
            digits = part.lstrip("0")
            parts.append((0, len(digits), digits))      # a number, however long, without int()
        elif part:
            parts.append((1, tuple(k for ch in part for k in _letter_key(ch, after_z, same))))
    return (tuple(parts), text)


def sorted_names(items: Iterable[T], lang: str, name: Callable[[T], str] = str) -> list[T]:
    """`items` sorted by `name(item)` for a reader of `lang` (`sort_key`)."""
    return sorted(items, key=lambda item: sort_key(name(item), lang))


def sorted_choices(pairs: Iterable[tuple[str, str]], lang: str) -> list[tuple[str, str]]:
    """(id, name) pairs by name for a reader of `lang`, then by id (two stores may share a name)."""
    return sorted(pairs, key=lambda pair: (sort_key(pair[1], lang), pair[0]))
