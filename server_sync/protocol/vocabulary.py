"""The words both sides of the wire use: audiences, languages, press filters, identifiers and the
limits of a message. Pure data; scales live in `scales`, reasons in `catalogue`.
"""

from __future__ import annotations

import re

AUDIENCES: tuple[str, ...] = ("customer", "employee")
LANGUAGES: tuple[str, ...] = ("sv", "nb", "en")
# Whose words stand in for a language a text (a question's wording) was not written in: the
# nearest first (a Norwegian reader reads Swedish), English last.
STAND_INS: dict[str, tuple[str, ...]] = {"sv": ("nb", "en"), "nb": ("sv", "en"), "en": ("sv", "nb")}


class Worded(str):
    """A text that knows the language it is written in (`lang`): a question's wording standing
    in from another language reads as the text everywhere, and a page marks it `lang="…"`
    (WCAG 3.1.2: a screen reader reads it with that language's sounds)."""

    lang: str

    def __new__(cls, text: str, lang: str) -> "Worded":
        worded = super().__new__(cls, text)
        worded.lang = lang
        return worded

    def __reduce__(self):           # copy and pickle would call __new__ with the text alone
        return Worded, (str(self), self.lang)


def in_nearest(words: object, lang: str) -> Worded | None:
    """The text of `words` (language -> text) in `lang`, else in the nearest language it has
    (STAND_INS), knowing which it is; None when it has none (or is not such a mapping)."""
    if not isinstance(words, dict):
        return None
    return next((Worded(w, k) for k in (lang, *STAND_INS.get(lang, ()))
                 if isinstance(w := words.get(k), str) and w.strip()), None)


FILTER_FLAGS: tuple[str, ...] = ("repeat", "burst")      # why a press was flagged (kept, not counted)
FOLLOWUP_MODES: tuple[str, ...] = ("negative", "every", "never")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"                      # kiosk, site, question and reason ids
ID_RULE = "1-64 letters a-z or A-Z, digits, '-' or '_'"   # ID_PATTERN said to a person: no å, ä, ö
ID_RE = re.compile(ID_PATTERN)
# Ids no kiosk may have: the central ingest's broker user (the broker's ACL gives it every
# kiosk's topics). Refused by `kiosk-central kiosk add`, provision.sh and the kiosk's own config.
RESERVED_KIOSK_IDS = frozenset({"central"})
# Canonical lowercase UUID text, as str(uuid.uuid4()) writes it.
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
BATCH_ID_PATTERN = r"[A-Za-z0-9_.:-]{1,80}"
BATCH_ID_RE = re.compile(BATCH_ID_PATTERN)

# The largest value the centre's columns hold: BIGINT (seq, monotonic_ns) and INTEGER (a
# question's version, a status's counters: 32 bits on PostgreSQL). A field the centre stores is
# bounded by its column's, or a message would pass the decoder and fail at the insert.
MAX_INT64 = 2 ** 63 - 1
MAX_INT32 = 2 ** 31 - 1
MAX_QUESTION_VERSION = MAX_INT32       # an answer's question_version: the centre keeps it in a 4-byte INTEGER
# A config's version: kiosk.toml's config_version, a push's, a status's (the centre's INTEGER columns).
# A kiosk that runs this one can take no push (a push must be higher): `config push` skips it.
MAX_CONFIG_VERSION = MAX_INT32
MAX_COMMENT_CHARS = 2000                 # the largest followup.max_comment_chars a kiosk may set
MAX_REASONS = 16
DEFAULT_MAX_BYTES = 1024 * 1024          # the centre's limit; kiosks build at most sync.batch_max_bytes
DEFAULT_MAX_EVENTS = 5000                # the largest sync.batch_max_events a kiosk may set

# What a kiosk writes into a comment in place of the personal data it removed (kiosk/scrub.py),
# by kind; the centre shows them as removed data, never as text a customer typed.
SCRUB_MARKS: dict[str, str] = {"e-mail": "[e-mail]", "phone": "[phone]", "id-number": "[id-number]",
                               "card": "[card]", "iban": "[iban]", "name": "[name]"}
