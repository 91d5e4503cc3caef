"""Translated strings, the one scheme of every Kundpuls program: a flat TOML catalogue per
language (`<folder>/<lang>.toml`, `key = "text"`, `{name}` placeholders filled by str.format).
The kiosk's touchscreen (kiosk/locale) and the centre's reports (server_sync/report/locale) both
load theirs through `Catalogues`.

A text about a number of things has, where the one thing is worded otherwise ("1 site", not "1
sites"), a sibling `<key>_one` taken when the caller says the number is one (`counted=`: not
`count`, which texts use as a placeholder); every language has it, the same word or not ("1 svar").

A missing key or language is a KeyError naming both, never a blank on a screen or in a report;
`Catalogues.problems()` lists what a test must find empty (a key missing in one language, an extra
one, placeholders that differ, an empty or non-text value). Reads files only; knows no language
of its own.
"""

from __future__ import annotations

import string
import tomllib
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence


ONE = "_one"            # the suffix of a text's wording for one thing (Catalogues.text's `counted`)


def placeholders(text: str) -> set[str]:
    """The `{name}` placeholders of a catalogue text."""
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


class Catalogues:
    """The catalogues of one program part (`what` names it in errors: "UI", "report"), one per
    language in `languages`, the first of which is the reference the others are checked against."""

    def __init__(self, folder: Traversable | Path, languages: Sequence[str], *, what: str) -> None:
        self.folder = folder
        self.languages = tuple(languages)
        self.what = what
        self._loaded: dict[str, Mapping[str, str]] = {}

    def strings(self, language: str) -> Mapping[str, str]:
        """Every string of one language (read once, then kept)."""
        try:
            return self._loaded[language]
        except KeyError:
            pass
        path = self.folder / f"{language}.toml"
        try:
            with path.open("rb") as f:
                loaded = MappingProxyType(tomllib.load(f))
        except FileNotFoundError:
            raise KeyError(f"no {self.what} strings for language {language!r} ({path} is missing)") from None
        self._loaded[language] = loaded
        return loaded

    def text(self, key: str, language: str, *, counted: int | None = None, **values: object) -> str:
        """The string `key` in `language`, with its {placeholders} filled from `values`; `counted`:
        the number it is about, for its `<key>_one` when that is one."""
        strings = self.strings(language)
        if counted == 1 and f"{key}{ONE}" in strings:
            key += ONE
        try:
            text = strings[key]
        except KeyError:
            raise KeyError(f"{self.what} string {key!r} has no {language!r} translation") from None
        return text.format(**values) if values else text

    def problems(self) -> list[str]:
        """What keeps the catalogues from being complete and alike; empty when they are."""
        found: list[str] = []
        ref_lang = self.languages[0]
        ref = self.strings(ref_lang)
        for lang in self.languages:
            cat = self.strings(lang)
            found += [f"{lang} lacks {key!r}" for key in sorted(set(ref) - set(cat))]
            found += [f"{lang} has {key!r}, {ref_lang} has not" for key in sorted(set(cat) - set(ref))]
            found += [f"{lang} has {key!r} but not {key.removesuffix(ONE)!r}" for key in sorted(cat)
                      if key.endswith(ONE) and key.removesuffix(ONE) not in cat]
            for key, text in cat.items():
                if not isinstance(text, str) or not text.strip():
                    found.append(f"{lang}.{key} is not a non-empty text: {text!r}")
                elif "counted" in placeholders(text):
                    found.append(f"{lang}.{key} has the placeholder 'counted', the name of text()'s own argument")
                elif key in ref and isinstance(ref[key], str) and placeholders(text) != placeholders(ref[key]):
                    found.append(f"{lang}.{key} has placeholders {sorted(placeholders(text))}, "
                                 f"{ref_lang} {sorted(placeholders(ref[key]))}")
        return found
