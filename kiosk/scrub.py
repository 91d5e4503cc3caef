"""Scrub personal data out of free-text comments on the kiosk, before they are stored.

Kundpuls asks nothing personal, but customers type: an e-mail address, a phone number, a
personal identity number, a card or account number, or the name of the clerk who served them.
Each is replaced by a mark (`[e-mail]`, `[phone]`, `[id-number]`, `[card]`, `[iban]`,
`[name]`) before the commit, so it never reaches the disk or the wire. What a customer writes
about the store itself stays: prices, times, dates, receipt, order and store numbers, postcodes
and EAN codes (tests/test_scrub_corpus.py measures both on a generated corpus).

How each kind is recognised (white space folded first; digits read across the groups they are
typed in: "85 01 01 1236", "4111  1111 1111 1111"):
- identity numbers by their structure and check digits (kiosk.checkdigits, the same answers as
  python-stdnum's): Swedish personnummer and samordningsnummer (Luhn), Norwegian fødselsnummer
  and D-number (two mod-11 digits); a number whose check digits fail is not someone's number
  and is kept;
- card numbers: 15-19 digits with a card network's first digit and a valid Luhn digit; an
  EAN-13 is not one;
- account numbers: an IBAN, in capitals or not, by its mod-97 check (then stdnum's, imported
  the first time a comment holds one: stdnum costs the kiosk ~1.3 MB); a Norwegian account
  number (4+2+5 digits) by its mod-11 check digit unless the words before it say it is a receipt
  or order number; any 10-18 digits after "konto", "kontonr", "account"... (a Swedish clearing and
  account number has no check digit all banks share); all as `[iban]`, which the kiosk and the
  web show as "account number removed";
- e-mail addresses by their pattern, also spelled out as the kiosk's keyboard (no @) types them;
- phone numbers as Google's libphonenumber reads them for the Nordic countries, with and
  without country code, unless the words before it say it is a receipt, order, article or store
  number;
- names from the site's staff roster (pushed with the config, never synced back), as each of
  the kiosk's keyboards types them ("jörgen", "jorgen" for "Jørgen"); a name that is also an
  everyday word ("dag", "per") only where it names someone (kiosk.staff_names).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import phonenumbers

from kiosk.checkdigits import luhn_valid, norwegian_account_valid, norwegian_id_valid
from kiosk.staff_names import StaffNames
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
# kalle@företag.se); "(at)" and "(dot)" in any case ("anna (AT) example.se").
_EMAIL = re.compile(r"[\w.%+\-]+\s*(?:@|\(at\)|\[at\])\s*[\w\-]+(?:\s*(?:\.|\(dot\)|\[dot\])\s*[\w\-]+)+", re.IGNORECASE)
# An address as the kiosk's keyboard types it, with no @: "kalle at foretag.se", "kalle snabel a
# gmail.com", "kari krøllalfa online dot no". A word before "at" and a place after it is a sentence
# too ("cheaper at ica.se", Norwegian "jeg syns at power.no er bedre": "at" is "that"), so the
# host must end in a top-level domain people's addresses have and, for a plain "at", the word
# before must not be one that comes before "at" in a sentence (_NOT_AN_ADDRESS; "snabel a",
# "krøllalfa" and "(at)" are in no sentence). The dot
# as typed: ".", with a space before it or on both sides ("gmail . com"; a space after it alone is a
# sentence's end: "at noon. no one came"), or spelled (en, sv; nb "punktum", "prikk"), in the name
# before the at too ("ola punktum nordmann krøllalfa ...": the name is what must go).
_DOT_WORD = r" (?:dot|punkt|punktum|prikk) "
_SPELLED_DOT = rf"(?: ?\.| \. |{_DOT_WORD})"
_EMAIL_SPELLED = re.compile(
    rf"((?:[\w.%+\-]+{_DOT_WORD})*[\w.%+\-]+) (at|\(at\)|\[at\]|snabel ?-?a|krøllalfa|alfakrøll) "
    rf"[\w\-]+(?:{_SPELLED_DOT}[\w\-]+)*"
    rf"{_SPELLED_DOT}(?:se|no|dk|fi|is|ax|nu|eu|com|net|org|info|me|io|uk|de)\b", re.IGNORECASE)
# The words before "at" in a sentence. No one's address begins so (a name, "lisa at gmail.com",
# is no such word); a word missing here masks a shop's address as an e-mail address.
_NOT_AN_ADDRESS = frozenset((
    # en: where something was bought or cost what ("costs less at zalando.se", "checked out at")
    "look looked looking order ordered ordering buy bought buying shop shopped shopping sold sells selling "
    "sale sales cheaper cheap better less more lower higher same deal deals offer offers discount price "
    "prices cost costs available stock online store found find saw seen got get out it is was were are "
    "me us them here there "
    # nb, da: the verbs and words an "at" (that) clause follows ("jeg syns at power.no er bedre",
    # "skuffet over at elkjop.no er billigere")
    "mener mente synes syns syntes tror trodde tenker tenkte tænker håper håpet håber føler følte viser "
    "viste sa sier siger sagt vet visste ved ser så skriver skrev hører hørte merker merket opplever "
    "oplever forventer regner antar påstår forstår liker betyr virker lurer glad fornøyd skuffet "
    "overrasket enig sikker klart bare fordi over på for med uten etter enn").split())
# An IBAN in capitals or not: the kiosk's keyboard has no capitals ("se45 5000 0000 0583 9825 7466").
_IBAN = re.compile(r"\b[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]){10,30}\b")
# An account number the words before it name (sv, nb, da, en), whatever the bank's format: a
# Swedish clearing and account number has no check digit that holds for every bank. Between the
# word and the digits at most a possessive and one linking verb ("mitt kontonummer är 8327 ...",
# "kontonummeret mitt er ...", "my account number is ..."), no other word: "konto har 12345678901
# poäng" says nothing of whose number it is.
_ACCOUNT_AFTER_WORD = re.compile(
    r"(\b(?:bank)?(?:konto(?:t|en|nr|nummer(?:et)?|numret)?|kto|account|acct)\b\W{0,3}"
    r"(?:(?:nr|no|nummer|number)\b\W{0,3})?(?:(?:mitt|min|my)\b\W{0,3})?"
    r"(?:(?:är|er|is|var|was|lyder)\b\W{0,3})?)(\d+(?:(?:[.,-] ?| )\d+)*)(?!\w)", re.IGNORECASE)
# A clearing or register number and an account: 4 + 6 digits at the least; fewer is an amount, a
# count or a date ("kontot 2025 10 21"), more is no account.
_ACCOUNT_DIGITS = range(10, 19)
# A Norwegian account number as written (4+2+5 digits, with spaces, dots or neither); its last
# digit is a mod-11 check digit.
_NO_ACCOUNT = re.compile(r"(?<![\w.,+])\d{4}([ .]?)\d{2}\1\d{5}(?!\w|[.,]\d)")
# Groups of digits with what people type between them: a space (white space is folded to one space
# first, so two spaces, a tab or a line break are one too), a dash, a dot ("4111.1111.1111.1111",
# "850101.1236"), the personnummer's "+". Any
# number of groups of any size ("85 01 01 1236", "4111 1111 1111 1111"): the digits are checked,
# not the grouping. The boundaries keep it off longer numbers and a "+46".
_DIGIT_GROUPS = re.compile(r"(?<![\w+])\d+(?:(?: ?[-+.] ?| )\d+)*(?!\w)")
_GROUP = re.compile(r"\d+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
# Dates and times read like phone numbers to a phone parser; people write them in complaints, on
# the kiosk's keyboard (no dash, slash or colon) as a day, month and year with spaces too.
_ISO_DATE = r"\d{4}-\d{1,2}-\d{1,2}"
_SPACED_DATE = (r"(?:0?[1-9]|[12]\d|3[01]) (?:0?[1-9]|1[0-2]) (?:19|20)\d\d"
                r"|(?:19|20)\d\d (?:0?[1-9]|1[0-2]) (?:0?[1-9]|[12]\d|3[01])")
_DATE_OR_TIME = re.compile(_ISO_DATE + r"|\d{1,2}[./-]\d{1,2}(?:[./-]\d{2,4})?|\d{1,2}[.:]\d{2}(?:\s*-\s*\d{1,2}[.:]\d{2})?"
                          r"|" + _SPACED_DATE)
# A whole date and a time after it ("kontot 2026-12-03 14.30": when the person called about it)
# have an account's count of digits, and are none.
_DATE_THEN_TIME = re.compile(r"(?:" + _ISO_DATE + r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|" + _SPACED_DATE
                             + r")(?: \d{1,2}[.: ]\d{2})?")
# Words that say the number after them belongs to the store, not a person (sv, nb, en). Whole
# words: "ean" in "sean", "ref" in "refund", "vare" in "varene" (the goods) kept a phone number.
_NOT_PERSONAL = re.compile(
    r"\b(?:kvitto\w*|kvittering\w*|order\w*|ordre\w*|ordernr|beställning\w*|bestilling\w*|artikel\w*|artnr|art\.?\s?nr|vare(?:nr|nummer\w*)?|"
    r"ean|gtin|streckkod\w*|strekkode\w*|barcode|butik\w*|butikk\w*|store|shop|filial|kassa|kasse|"
    r"receipt|item|sku|ref|refnr|referens\w*|referanse\w*|reference|bong|nummer\s+på\s+(?:kvittot|kvitteringen))"
    r"\W{0,3}(?:n[ro]\.?|nummer|number|#)?\W{0,3}$",
    re.IGNORECASE)
_CARD_FIRST = "23456"       # first digit of Visa (4), Mastercard (5, 2), Amex/Diners (3), Maestro/Discover (6)


@dataclass(frozen=True)
class Scrubber:
    """Scrubs comments for one site; `names`: the staff roster (first names or full names; each
    name of a full name is masked on its own too, as customers name staff by the badge)."""
    names: Sequence[str] = ()
    regions: Sequence[str] = PHONE_REGIONS
    _staff: StaffNames = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_staff", StaffNames(self.names))

    def scrub(self, text: str, max_chars: int = 200) -> str:
        """The comment as stored: composed (NFC, as the centre stores it), personal data
        replaced, control characters and runs of white space folded, cut to `max_chars`."""
        # Composed first: a name typed as "a" and a combining diaeresis ("Ma\u0308rta") is the
        # roster's "Märta" and must be masked as such. White space folded before anything is
        # looked for: "850101  1236" is the same number as "850101 1236" (it was stored unmasked,
        # then folded into it).
        text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", _CONTROL.sub(" ", text)))
        text = _EMAIL.sub(EMAIL_MARK, text)
        text = _EMAIL_SPELLED.sub(_spelled_address_masked, text)
        text = _IBAN.sub(_iban_mark, text)
        text = _ACCOUNT_AFTER_WORD.sub(_account_after_word_masked, text)
        text = _DIGIT_GROUPS.sub(_numbers_masked, text)
        text = _NO_ACCOUNT.sub(_norwegian_account_masked, text)
        text = self._phones(text)
        text = self._staff.masked(text, NAME_MARK)
        return text.strip()[:max_chars]

    def _phones(self, text: str) -> str:
        spans: list[tuple[int, int]] = []
        for region in self.regions:
            for m in phonenumbers.PhoneNumberMatcher(text, region):
                if _DATE_OR_TIME.fullmatch(m.raw_string.strip("() ")):
                    continue
                if not _store_number_before(text, m.start):
                    spans.append((m.start, m.end))
        if not spans:
            return text
        out, at = [], 0
        for start, end in _merged(spans):
            out += [text[at:start], PHONE_MARK]
            at = end
        return "".join(out) + text[at:]


def _store_number_before(text: str, start: int) -> bool:
    """The words before `start` say the number there is the store's (a receipt, an order...)."""
    return _NOT_PERSONAL.search(text[max(0, start - 40):start]) is not None


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


def _numbers_masked(m: re.Match) -> str:
    """The groups of digits with each identity or card number among them masked: the longest
    run of whole groups that is one, from the left (a personnummer and a phone number typed one
    after the other are two runs of groups, not one 20-digit number)."""
    run = m.group(0)
    groups = [g.span() for g in _GROUP.finditer(run)]
    out, at, i = [], 0, 0
    while i < len(groups):
        ends, length = [], 0
        for j in range(i, len(groups)):          # the runs from group i short enough to be one
            length += groups[j][1] - groups[j][0]
            if length > _LONGEST:
                break
            ends.append(j)
        for j in reversed(ends):
            mark = _number_mark(run[groups[i][0]:groups[j][1]])
            if mark:
                out += [run[at:groups[i][0]], mark]
                at, i = groups[j][1], j + 1
                break
        else:
            i += 1
    return "".join(out) + run[at:]


_LONGEST = 19           # digits: a card number's longest


def _number_mark(s: str) -> str | None:
    """The mark for digits `s` (separators among them), None when they are no one's number."""
    d = _digits(s)
    if _card(d):
        return CARD_MARK
    if _swedish_id(d) or _norwegian_id(d):
        return ID_MARK
    return None


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)   # a 29 February: some year had one


def _swedish_id(d: str) -> bool:
    """Digits `d` are a Swedish personnummer or samordningsnummer (day + 60): a date and a Luhn
    digit, the century (19, 20) in front or not."""
    ten = d[-10:]
    if len(d) not in (10, 12) or (len(d) == 12 and d[:2] not in ("19", "20")) or not luhn_valid(ten):
        return False
    month, day = int(ten[2:4]), int(ten[4:6])
    if day > 60:
        day -= 60
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]


def _spelled_address_masked(m: re.Match) -> str:
    sentence = m.group(2).lower() == "at" and m.group(1).split()[-1].lower() in _NOT_AN_ADDRESS
    return m.group(0) if sentence else EMAIL_MARK


def _iban_mark(m: re.Match) -> str:
    """The match with its longest leading IBAN masked (a word may follow it). An IBAN is known by
    its length and mod-97 digits; the national part's own checks are not needed."""
    s = m.group(0)
    for end in range(len(s), 13, -1):
        if (end == len(s) or s[end] == " ") and _mod97_holds(s[:end]) and _iban_valid(s[:end]):
            return IBAN_MARK + s[end:]
    return s


def _mod97_holds(s: str) -> bool:
    """The IBAN's mod-97 check alone, before stdnum is imported: in lower case ordinary words are
    shaped like an IBAN too ("kl15 och sedan gick vi"), and only 1 in 97 of them passes this."""
    compact = s.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def _iban_valid(s: str) -> bool:
    from stdnum import iban        # rare in a comment; see the module's docstring
    return iban.is_valid(s, check_country=False)


def _account_after_word_masked(m: re.Match) -> str:
    if _DATE_THEN_TIME.fullmatch(m.group(2)):
        return m.group(0)
    return m.group(1) + IBAN_MARK if len(_digits(m.group(2))) in _ACCOUNT_DIGITS else m.group(0)


def _norwegian_account_masked(m: re.Match) -> str:
    """A Norwegian account number masked unless its check digit fails or the words before it say
    whose number it is (a receipt or an order number of 11 digits passes 1 time in 11)."""
    if norwegian_account_valid(_digits(m.group(0))) and not _store_number_before(m.string, m.start()):
        return IBAN_MARK
    return m.group(0)


def _norwegian_id(d: str) -> bool:
    """Digits `d` are a Norwegian fødselsnummer or D-number (both check digits and the date)."""
    return len(d) == 11 and norwegian_id_valid(d)


def _card(d: str) -> bool:
    """Digits `d` are a payment card's number: a card network's first digit and a Luhn digit."""
    return 15 <= len(d) <= _LONGEST and d[0] in _CARD_FIRST and luhn_valid(d)


_DEFAULT = Scrubber()


def scrub_comment(text: str, max_chars: int = 200, names: Sequence[str] = ()) -> str:
    """`Scrubber(names).scrub(text, max_chars)`; the common case without a roster is built once."""
    scrubber = _DEFAULT if not names else Scrubber(tuple(names))
    return scrubber.scrub(text, max_chars)
