"""Find the site's staff names (the roster `privacy.staff_names`) in a comment, as each of the
kiosk's keyboards types them, and mask them (kiosk.scrub).

Each name of a roster entry is masked on its own too ("Per-Olof Svensson": "Per-Olof",
"Svensson"), in the genitive, and with the whole double name it is part of (roster "Anna" masks
"Anna-Karin"). A name that is also an everyday word (kiosk.name_words: dag, per, hans, bo,
andre, ...) is masked only where it names someone:
- a full name of the roster ("Dag Hansen"), a double name, or the name as the roster spells it
  where the word is spelled otherwise ("André", not "andre"): always;
- else kept where the word right before makes it the everyday word ("i dag", "20 kr per kilo",
  "den andre kassen", "att bo");
- else masked when written with a capital within a sentence ("hjälp av Per"; the kiosk's keyboard
  has none, so this is for text typed elsewhere), or next to words that say a person is meant:
  before it "tack", "takk til", "thanks to", "kassören"; after it what a person does or where
  ("dag var otrevlig", "per i kassan", "liv som jobbar"), or what of a person is judged after a
  genitive ("pers bemötande");
- else kept ("hans kollega", "stig in", "bo gärna här").
The kiosk's keyboard has no capitals: lower case is the rule there, so the words around a name
carry the decision. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from kiosk.name_words import (EVERYDAY_BEFORE, EVERYDAY_NAMES, PERSON_AFTER, PERSON_BEFORE,
                              PERSON_GENITIVE_AFTER, merged)

_EVERYDAY_NAMES = merged(EVERYDAY_NAMES)
_EVERYDAY_BEFORE = merged(EVERYDAY_BEFORE)
_PERSON_BEFORE = merged(PERSON_BEFORE)
_PERSON_AFTER = merged(PERSON_AFTER)
_PERSON_GENITIVE_AFTER = merged(PERSON_GENITIVE_AFTER)
_WORD = re.compile(r"\w+")
# The words around a name are read within its sentence (a comma does not end one).
_SENTENCE_END = re.compile(r"[.!?;:]")
_CUE_WORDS = 3          # the longest cue ("at the till")


class StaffNames:
    """The roster of one site, ready to mask its names in comments."""

    def __init__(self, names: Sequence[str]) -> None:
        entries = {unicodedata.normalize("NFC", n.strip()) for n in names if n and n.strip()}
        parts = sorted(entries | {part for n in entries for part in n.split() if len(part) > 1},
                       key=len, reverse=True)
        self._re: re.Pattern | None = None
        if parts:
            alts = "|".join(_as_typed(n) for n in parts)
            # A name alone or in the genitive (Annas, Anna's), never inside another word; with the
            # rest of a double name it is part of (Anna-Karin, Lisa-Anna), or half of it is left.
            self._re = re.compile(rf"(?<![\w-])(?:\w+-)*(?:{alts})(?:-\w+)*(?:'?s)?(?![\w-])", re.IGNORECASE)

    def masked(self, text: str, mark: str) -> str:
        """`text` with each roster name that names someone replaced by `mark`."""
        if self._re is None:
            return text
        return self._re.sub(lambda m: mark if _names_someone(m) else m.group(0), text)


def _names_someone(m: re.Match) -> bool:
    found = m.group(0)
    word = found.lower()
    genitive = word not in _EVERYDAY_NAMES and _without_genitive(word) in _EVERYDAY_NAMES
    if word not in _EVERYDAY_NAMES and not genitive:
        return True                           # no everyday word: a name wherever it stands
    before = _words_before(m.string, m.start())
    after = _words_after(m.string, m.end())
    if any(" ".join(before[-n:]) in _PERSON_BEFORE for n in (2, 3) if len(before) >= n):
        return True                           # "thanks to per": before "to" makes it the word
    if before and (before[-1] in _EVERYDAY_BEFORE or before[-1].isdigit()):
        return False
    if found[0].isupper() and not found.isupper() and not _sentence_start(m.string, m.start()):
        return True
    if before and before[-1] in _PERSON_BEFORE:
        return True
    if any(" ".join(after[:n]) in _PERSON_AFTER for n in range(1, _CUE_WORDS + 1) if len(after) >= n):
        return True
    return genitive and bool(after) and after[0] in _PERSON_GENITIVE_AFTER


def _without_genitive(word: str) -> str:
    return word[:-2] if word.endswith("'s") else word[:-1] if word.endswith("s") else word


def _words_before(text: str, start: int) -> list[str]:
    head = text[:start]
    ends = list(_SENTENCE_END.finditer(head))
    return [w.lower() for w in _WORD.findall(head[ends[-1].end():] if ends else head)][-_CUE_WORDS:]


def _words_after(text: str, end: int) -> list[str]:
    tail = text[end:]
    stop = _SENTENCE_END.search(tail)
    return [w.lower() for w in _WORD.findall(tail[:stop.start()] if stop else tail)][:_CUE_WORDS]


def _sentence_start(text: str, start: int) -> bool:
    head = text[:start].rstrip()
    return not head or head[-1] in ".!?"


# What a roster name's letter may be typed as: the Swedish keyboard has no æ or ø, the Norwegian no
# ä or ö, the English none of them nor å ("Jørgen" is typed "jörgen" or "jorgen", "Märta" "marta").
_LETTER_AS_TYPED = {"ä": "ä|æ|a|ae", "æ": "æ|ä|a|ae", "ö": "ö|ø|o|oe", "ø": "ø|ö|o|oe", "å": "å|a|aa"}


def _as_typed(name: str) -> str:
    """A pattern for roster name `name` (NFC) as a customer types it: each letter with a mark may
    be typed with the other Nordic layout's letter or without the mark (a letter without a mark
    only as itself: roster "Mats" never masks "mäts"), and the parts of a double name with a
    space, a hyphen or nothing between ("per olof", "perolof" for "Per-Olof")."""
    out = []
    for c in name.lower():
        if c in "- ":
            out.append(r"[-\s]?")
        elif c in _LETTER_AS_TYPED:
            out.append(f"(?:{_LETTER_AS_TYPED[c]})")
        else:
            base = unicodedata.normalize("NFD", c)[0]
            out.append(f"[{re.escape(c)}{re.escape(base)}]" if base != c else re.escape(c))
    return "".join(out)
