"""Scrub personal data out of free-text comments on the kiosk, before they are stored.

Kundpuls asks nothing personal, but customers type: an e-mail address, a phone number, a
personal identity number, a card number or an IBAN, or the name of the clerk who served them.
Each is replaced by a mark (`[e-mail]`, `[phone]`, `[id-number]`, `[card]`, `[iban]`,
`[name]`) before the commit, so it never reaches the disk or the wire. What a customer writes
about the store itself stays: prices, times, dates, receipt, order and store numbers, postcodes
and EAN codes (tests/test_scrub_corpus.py measures both on a generated corpus).

How each kind is recognised:
- identity numbers by their structure and check digits (kiosk.checkdigits, the same answers as
  python-stdnum's): Swedish personnummer and samordningsnummer (Luhn), Norwegian fødselsnummer
  and D-number (two mod-11 digits); a number whose check digits fail is not someone's number
  and is kept;
- card numbers: 15-19 digits (grouped or not) with a card network's first digit and a valid
  Luhn digit; an IBAN by its mod-97 check (stdnum, imported the first time a comment holds
  something shaped like one: stdnum costs the kiosk ~1.3 MB); an EAN-13 is neither;
- phone numbers as Google's libphonenumber reads them for the Nordic countries, with and
  without country code, unless the words before it say it is a receipt, order, article or store
  number;
- names from the site's staff roster (pushed with the config, never synced back).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import phonenumbers

from kiosk.checkdigits import luhn_valid, norwegian_id_valid
from server_sync.protocol.vocabulary import SCRUB_MARKS

EMAIL_MARK = SCRUB_MARKS["e-mail"]
PHONE_MARK = SCRUB_MARKS["phone"]
ID_MARK = SCRUB_MARKS["id-number"]
CARD_MARK = SCRUB_MARKS["card"]
IBAN_MARK = SCRUB_MARKS["iban"]
NAME_MARK = SCRUB_MARKS["name"]
MARKS = (EMAIL_MARK, PHONE_MARK, ID_MARK, CARD_MARK, IBAN_MARK, NAME_MARK)

PHONE_REGIONS = ("SE", "NO", "DK", "FI")

# Letters of any language: the keyboard offers å, ä, ö, æ, ø, and addresses take them (märta.öberg@,
# kalle@företag.se).
_EMAIL = re.compile(r"[\w.%+\-]+\s*(?:@|\(at\)|\[at\])\s*[\w\-]+(?:\s*\.\s*[\w\-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){10,30}\b")
# Digits with the separators people type between groups; boundaries keep it off longer numbers.
_DIGIT_RUN = re.compile(r"(?<![\w+])\d(?:[ \-]?\d){9,18}(?![\w])")
_SE_ID = re.compile(r"(?<![\w])(?:(?:19|20)?\d{6})[-+ ]?\d{4}(?![\w])")
_NO_ID = re.compile(r"(?<![\w])\d{6}[ \-]?\d{5}(?![\w])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Dates and times read like phone numbers to a phone parser; people write them in complaints.
_DATE_OR_TIME = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}(?:[./-]\d{2,4})?|\d{1,2}[.:]\d{2}(?:\s*-\s*\d{1,2}[.:]\d{2})?")
# Words that say the number after them belongs to the store, not a person (sv, nb, en).
_NOT_PERSONAL = re.compile(
    r"(?:kvitto\w*|kvittering\w*|order\w*|ordre\w*|ordernr|artikel\w*|artnr|art\.?\s?nr|vare\w*|"
    r"ean|gtin|streckkod\w*|strekkode\w*|barcode|butik\w*|butikk\w*|store|shop|filial|kassa|kasse|"
    r"receipt|item|sku|ref\w*|bong|nummer\s+på\s+(?:kvittot|kvitteringen))\W{0,3}(?:n[ro]\.?|nummer|number|#)?\W{0,3}$",
    re.IGNORECASE)
_CARD_FIRST = "23456"       # first digit of Visa (4), Mastercard (5, 2), Amex/Diners (3), Maestro/Discover (6)


@dataclass(frozen=True)
class Scrubber:
    """Scrubs comments for one site; `names`: the staff roster (first names or full names; each
    name of a full name is masked on its own too, as customers name staff by the badge)."""
    names: Sequence[str] = ()
    regions: Sequence[str] = PHONE_REGIONS
    _names_re: re.Pattern | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = {unicodedata.normalize("NFC", n.strip()) for n in self.names if n and n.strip()}
        names = sorted(entries | {part for n in entries for part in n.split() if len(part) > 1},
                       key=len, reverse=True)
        if names:
            alts = "|".join(re.escape(n) for n in names)
            # A name alone or in the genitive (Annas, Anna's), never inside another word; with the
            # rest of a double name it is part of (Anna-Karin, Lisa-Anna), or half of it is left.
            object.__setattr__(self, "_names_re", re.compile(
                rf"(?<![\w-])(?:\w+-)*(?:{alts})(?:-\w+)*(?:'?s)?(?![\w-])", re.IGNORECASE))

    def scrub(self, text: str, max_chars: int = 200) -> str:
        """The comment as stored: composed (NFC, as the centre stores it), personal data
        replaced, control characters and runs of white space folded, cut to `max_chars`."""
        # Composed first: a name typed as "a" and a combining diaeresis ("Ma\u0308rta") is the
        # roster's "Märta" and must be masked as such.
        text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
        text = _EMAIL.sub(EMAIL_MARK, text)
        text = _IBAN.sub(_iban_mark, text)
        text = _SE_ID.sub(lambda m: ID_MARK if _swedish_id(m.group(0)) else m.group(0), text)
        text = _NO_ID.sub(lambda m: ID_MARK if _norwegian_id(m.group(0)) else m.group(0), text)
        text = _DIGIT_RUN.sub(lambda m: CARD_MARK if _card(m.group(0)) else m.group(0), text)
        text = self._phones(text)
        if self._names_re is not None:
            text = self._names_re.sub(NAME_MARK, text)
        text = re.sub(r"\s+", " ", text).strip()
        return text[:max_chars]

    def _phones(self, text: str) -> str:
        spans: list[tuple[int, int]] = []
        for region in self.regions:
            for m in phonenumbers.PhoneNumberMatcher(text, region):
                if _DATE_OR_TIME.fullmatch(m.raw_string.strip("() ")):
                    continue
                if not _NOT_PERSONAL.search(text[max(0, m.start - 40):m.start]):
                    spans.append((m.start, m.end))
        if not spans:
            return text
        out, at = [], 0
        for start, end in _merged(spans):
            out += [text[at:start], PHONE_MARK]
            at = end
        return "".join(out) + text[at:]


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)   # a 29 February: some year had one


def _swedish_id(s: str) -> bool:
    """A Swedish personnummer or samordningsnummer (day + 60): a date and a Luhn digit."""
    d = _digits(s)
    ten = d[-10:]
    if len(d) not in (10, 12) or not luhn_valid(ten):
        return False
    month, day = int(ten[2:4]), int(ten[4:6])
    if day > 60:
        day -= 60
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]


def _iban_mark(m: re.Match) -> str:
    """The match with its longest leading IBAN masked (a word in capitals may follow it). An IBAN
    is known by its length and mod-97 digits; the national part's own checks are not needed."""
    from stdnum import iban        # rare in a comment; see the module's docstring
    s = m.group(0)
    for end in range(len(s), 13, -1):
        if (end == len(s) or s[end] == " ") and iban.is_valid(s[:end], check_country=False):
            return IBAN_MARK + s[end:]
    return s


def _norwegian_id(s: str) -> bool:
    """A Norwegian fødselsnummer or D-number (both check digits and the date)."""
    return norwegian_id_valid(_digits(s))


def _card(s: str) -> bool:
    d = _digits(s)
    return 15 <= len(d) <= 19 and d[0] in _CARD_FIRST and luhn_valid(d)


_DEFAULT = Scrubber()


def scrub_comment(text: str, max_chars: int = 200, names: Sequence[str] = ()) -> str:
    """`Scrubber(names).scrub(text, max_chars)`; the common case without a roster is built once."""
    scrubber = _DEFAULT if not names else Scrubber(tuple(names))
    return scrubber.scrub(text, max_chars)
