"""The report's own words in Swedish, Norwegian (bokmål) and English (`--lang sv|nb|en`), from
server_sync/report/locale/<lang>.toml through the one translation scheme (server_sync.program.i18n).

Reason labels come from server_sync.protocol.catalogue.REASONS and question wording from the store,
so only the report's own words live in the catalogues. A missing key is a KeyError naming key and
language, never a blank in a report.
"""

from __future__ import annotations

from importlib.resources import files

from server_sync.program.i18n import Catalogues
from server_sync.protocol.catalogue import REASONS
from server_sync.protocol.vocabulary import LANGUAGES

REPORT_TEXTS = Catalogues(files(__package__) / "locale", LANGUAGES, what="report")


def t(key: str, lang: str, *, counted: int | None = None, **values: object) -> str:
    """The report's text `key` in `lang`, with its {placeholders} filled from `values` (`counted`:
    the number it is about, program.i18n)."""
    return REPORT_TEXTS.text(key, lang, counted=counted, **values)


def reason_labels(lang: str) -> dict[str, str]:
    return {code: labels.get(lang, code) for code, labels in REASONS.items()}


def weekdays(lang: str) -> list[str]:
    return t("weekdays", lang).split(",")
