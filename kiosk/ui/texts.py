"""UI strings in Swedish, Norwegian Bokmål and English, loaded from `kiosk/locale/<lang>.toml`.

Every string the app shows comes from here; a missing key is an error at look-up (and a test
checks that every language has every key with the same placeholders). Never imports Kivy.
"""

from __future__ import annotations

import string
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Mapping

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
UI_LANGUAGES = ("sv", "nb", "en")


@lru_cache(maxsize=None)
def catalogue(language: str) -> Mapping[str, str]:
    """All strings of one language."""
    path = LOCALE_DIR / f"{language}.toml"
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise KeyError(f"no UI strings for language {language!r} ({path} is missing)") from None


def placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def tr(key: str, language: str, **values: object) -> str:
    """The string `key` in `language`, with {placeholders} filled from `values`."""
    try:
        text = catalogue(language)[key]
    except KeyError:
        raise KeyError(f"UI string {key!r} has no {language!r} translation") from None
    return text.format(**values) if values else text


def age_text(seconds: float | None, language: str) -> str:
    """A short human duration: 45 s, 12 min, 3 h, 2 d (units per language)."""
    if seconds is None:
        return tr("staff_never", language)
    s = max(0, int(seconds))
    if s < 60:
        return tr("age_s", language, n=s)
    if s < 3600:
        return tr("age_min", language, n=s // 60)
    if s < 86400:
        return tr("age_h", language, n=s // 3600)
    return tr("age_d", language, n=s // 86400)
