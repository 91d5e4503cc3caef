"""A generated corpus of customer comments in Swedish, Norwegian and English, for measuring the
kiosk's scrubbing (kiosk/scrub.py): comments with an embedded identifier that must go (with
valid check digits, and the same with a broken check digit, in the spacing and dash variants
people type) and comments with a look-alike that must stay (prices, times, dates, receipt,
order and store numbers, postcodes, EAN codes, amounts near the word for an account, a shop's
web address, "at" before a sentence's end, words close to a staff name, staff names that are
everyday words used as the words: "i dag", "20 kr per kilo", "den andre kassen").

Identifiers are built from their rules (check digits computed by python-stdnum), never copied
from a list, so every run with the same seed is the same corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.no import fodselsnummer, kontonr


@dataclass(frozen=True)
class Sample:
    text: str
    kind: str              # what is embedded: "personnummer", "price", ...
    value: str             # the embedded text itself
    personal: bool         # must be scrubbed (True) or must survive (False)
    valid: bool = True     # check digits valid (identifiers only)
    language: str = "sv"


# The last ones are also everyday words ("i dag", "20 kr per kilo", "hans kollega", "bo gärna här",
# "den andre kassen"): masked only where they name someone (kiosk.staff_names).
STAFF = ("Anna", "Lars-Erik", "Kari Nordmann", "Mohammed", "Sofie", "Per-Olof Svensson", "Anna-Karin", "Jørgen", "Märta",
         "Dag Hansen", "Per Olsson", "Hans", "Bo", "Liv", "André")

_PERSONAL_TEMPLATES = {
    "sv": ["Mitt personnummer är {x}, ring mig", "{x} heter jag i ert system", "Kontakta mig på {x} tack",
           "Kassören frågade efter {x} och det var obehagligt", "skriv till {x} om ni vill veta mer",
           "mvh sean {x}"],
    "nb": ["Fødselsnummeret mitt er {x}", "Ring meg på {x} i morgen", "Kontakt meg: {x}",
           "Betalte med {x} og ble trukket to ganger", "send svar til {x}", "hilsen jean {x}", "ring om varene {x}"],
    "en": ["My number is {x}, call me", "Please contact {x} about it", "Charged twice on {x}!",
           "reach me at {x} after five", "{x} is where you can find me", "I want a refund {x}"],
}
# The last ones: a word that holds one of the words saying a number is the store's ("ean" in
# "sean", "ref" in "refund", "vare" in "varene") kept the phone number after it.
_LOOKALIKE_TEMPLATES = {
    "sv": ["Det kostade {x} och det är för dyrt", "Vi var där {x} och det var kö", "Jag handlade {x}",
           "Angående {x}: varan saknades", "Butiken vid {x} har bättre service"],
    "nb": ["Det kostet {x}, altfor dyrt", "Vi var der {x} og det var kø", "Jeg handlet {x}",
           "Gjelder {x}: varen manglet", "Butikken på {x} er bedre"],
    "en": ["It cost {x} which is too much", "We came {x} and the queue was long", "I shopped {x}",
           "About {x}: the item was missing", "The store at {x} is better"],
}
_STAFF_TEMPLATES = {
    "sv": ["{x} i kassan var otrevlig", "Tack till {x} för hjälpen!", "{x}s bemötande var dåligt",
           "Jag pratade med {x} om saken"],
    "nb": ["{x} i kassen var frekk", "Takk til {x} for hjelpen!", "{x} var veldig hyggelig",
           "Jeg snakket med {x} om det"],
    "en": ["{x} at the till was rude", "Thanks to {x} for the help!", "Ask {x} what happened",
           "I spoke to {x} about it"],
}


def staff_as_typed(rng: random.Random, name: str, language: str) -> str:
    """A roster name as the kiosk's keyboard for `language` types it: lower case, the parts of a
    double name with a space or nothing between (no hyphen), ø and æ as ö and ä on the Swedish
    keyboard and the other way round on the Norwegian, no marks on the English ("per olof",
    "jörgen", "marta" were stored as typed)."""
    typed = name.lower().replace("-", rng.choice([" ", ""]))
    return typed.translate({"sv": str.maketrans("øæ", "öä"), "nb": str.maketrans("öä", "øæ"),
                            "en": str.maketrans("åäöæø", "aaoao")}[language])


def _date(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)


def _keyboard_spaced(rng: random.Random, digits: str, groupings: list[tuple[int, ...]]) -> str:
    """`digits` as typed on the kiosk's keyboard, which has no dash: in groups of the sizes of one
    of `groupings`, between them a space, now and then two (a number with two spaces in it was
    stored unmasked)."""
    sizes = rng.choice(groupings)
    parts, at = [], 0
    for size in sizes:
        parts.append(digits[at:at + size])
        at += size
    return "".join(part + rng.choice([" ", " ", "  "]) for part in parts[:-1]) + parts[-1]


def personnummer(rng: random.Random, valid: bool, coordination: bool = False) -> str:
    y, m, d = _date(rng)
    body = f"{y % 100:02d}{m:02d}{d + (60 if coordination else 0):02d}{rng.randint(0, 999):03d}"
    check = int(luhn.calc_check_digit(body))
    check = check if valid else (check + rng.randint(1, 9)) % 10
    long_form = rng.random() < 0.3
    head = f"{y}{m:02d}{d + (60 if coordination else 0):02d}" if long_form else body[:6]
    if rng.random() < 0.25:
        return _keyboard_spaced(rng, f"{head}{body[6:]}{check}", [(len(head), 4), (len(head), 2, 2), (2, 2, 2, 4)]
                                if len(head) == 6 else [(len(head), 4), (4, 2, 2, 4)])
    sep = rng.choice(["-", "", " ", "-"])
    return f"{head}{sep}{body[6:]}{check}"


def fodselsnummer_no(rng: random.Random, valid: bool, d_number: bool = False) -> str:
    while True:
        y, m, d = _date(rng)
        serial = rng.randint(0, 499) if y < 2000 else rng.randint(500, 999)
        body = f"{d + (40 if d_number else 0):02d}{m:02d}{y % 100:02d}{serial:03d}"
        first = fodselsnummer.calc_check_digit1(body)
        if first == "10":                       # some bodies have no valid check digit: draw again
            continue
        second = fodselsnummer.calc_check_digit2(body + first)
        if second != "10":
            break
    number = body + first + second
    if not valid:
        number = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    if rng.random() < 0.25:
        return _keyboard_spaced(rng, number, [(6, 5), (2, 2, 2, 5), (6, 3, 2)])
    sep = rng.choice(["", " ", "-", ""])
    return f"{number[:6]}{sep}{number[6:]}"


def card(rng: random.Random, valid: bool) -> str:
    first = rng.choice(["4", "51", "52", "55", "2221", "37", "6011"])
    length = 15 if first == "37" else 16
    body = first + "".join(str(rng.randint(0, 9)) for _ in range(length - len(first) - 1))
    check = int(luhn.calc_check_digit(body))
    digits = body + str(check if valid else (check + rng.randint(1, 9)) % 10)
    if rng.random() < 0.25:
        return _keyboard_spaced(rng, digits, [(4, 4, 4, 4)] if len(digits) == 16 else [(4, 6, 5)])
    sep = rng.choice([" ", "-", ""])
    return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))


def iban_number(rng: random.Random, valid: bool) -> str:
    while True:                # until the national part is valid too (Norway's has its own check)
        country, bban_len = rng.choice([("SE", 20), ("NO", 11), ("DK", 14), ("FI", 14)])
        bban = "".join(str(rng.randint(0, 9)) for _ in range(bban_len))
        check = iban.calc_check_digits(f"{country}00{bban}")
        if iban.is_valid(f"{country}{check}{bban}"):
            break
    if not valid:
        check = f"{(int(check) + rng.randint(1, 50)) % 97 + 2:02d}"
    number = f"{country}{check}{bban}"
    if rng.random() < 0.6:
        number = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    if rng.random() < 0.4:      # as the kiosk's keyboard types it: it has no capitals
        number = number.lower()
    return number


def norwegian_account(rng: random.Random, valid: bool) -> str:
    """A Norwegian account number (kontonummer): 11 digits, the last a mod-11 check digit, written
    4+2+5 with spaces, dots (the kiosk's keyboard has both) or nothing between."""
    while True:
        body = "".join(str(rng.randint(0, 9)) for _ in range(10))
        check = kontonr._calc_check_digit(body + "0")
        if check != "10" and not body.startswith("0000"):
            break
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    sep = rng.choice([" ", ".", ""])
    return f"{number[:4]}{sep}{number[4:6]}{sep}{number[6:]}"


def swedish_account(rng: random.Random) -> str:
    """A Swedish clearing and account number after the word that says what it is: there is no
    check digit every bank shares, so the word is what the scrubber goes by."""
    clearing, account = rng.choice([("8327 9", 10), ("6789", 9), ("5202", 7), ("1145", 7), ("3300", 10)])
    digits = "".join(str(rng.randint(0, 9)) for _ in range(account))
    number = rng.choice([digits, " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))])
    # With a possessive and a linking verb between ("mitt kontonummer är 8327 ..." was stored as typed).
    word = rng.choice(["kontonr", "kontonummer", "konto", "mitt konto", "bankkonto", "account", "mitt kontonummer är",
                       "kontonumret är:", "kontonummeret mitt er", "kontoen min er", "my account number is",
                       "account no is"])
    return f"{word} {clearing} {number}"


def phone(rng: random.Random) -> str:
    """A number in service as libphonenumber knows the Nordic numbering plans, written one of
    the ways people write it."""
    while True:
        text = _phone_text(rng)
        region = "SE" if not text.startswith("+") else None
        try:
            parsed = phonenumbers.parse(text, region if region else None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed) or any(
                phonenumbers.is_valid_number(phonenumbers.parse(text, r)) for r in ("NO", "DK", "FI")):
            return text


def _phone_text(rng: random.Random) -> str:
    kind = rng.choice(["se_mobile", "se_mobile", "se_land", "no_mobile", "no_land", "dk", "fi"])
    if kind == "se_mobile":
        n = f"7{rng.choice('02369')}{rng.randint(0, 9999999):07d}"
        return rng.choice([f"0{n[:2]}-{n[2:5]} {n[5:7]} {n[7:]}", f"0{n}", f"+46 {n[:2]} {n[2:5]} {n[5:7]} {n[7:]}",
                           f"+46{n}", f"0046 {n[:2]}-{n[2:]}", f"0{n[:2]} {n[2:5]} {n[5:]}"])
    if kind == "se_land":
        area, rest = rng.choice([("8", 7), ("31", 6), ("40", 6), ("18", 6), ("90", 6)])
        n = f"{rng.randint(2, 9)}{rng.randint(0, 10 ** (rest - 1) - 1):0{rest - 1}d}"
        return rng.choice([f"0{area}-{n}", f"(0{area}) {n[:3]} {n[3:5]} {n[5:]}", f"+46 {area} {n}", f"0{area}-{n[:3]} {n[3:]}"])
    if kind == "no_mobile":
        n = f"{rng.choice('49')}{rng.randint(0, 9999999):07d}"
        return rng.choice([f"{n[:3]} {n[3:5]} {n[5:]}", f"+47 {n[:3]} {n[3:5]} {n[5:]}", f"+47{n}", f"0047 {n}",
                           f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:]}"])
    if kind == "no_land":
        n = f"2{rng.randint(1, 9)}{rng.randint(0, 999999):06d}"
        return rng.choice([f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:]}", f"+47 {n[:2]} {n[2:4]} {n[4:6]} {n[6:]}"])
    if kind == "dk":
        n = f"{rng.choice('2345')}{rng.randint(0, 9999999):07d}"
        return f"+45 {n[:2]} {n[2:4]} {n[4:6]} {n[6:]}"
    n = f"4{rng.choice('0456')}{rng.randint(0, 9999999):07d}"
    return rng.choice([f"+358 {n[:2]} {n[2:5]} {n[5:]}", f"0{n[:2]} {n[2:5]} {n[5:]}"])


def email(rng: random.Random) -> str:
    host = rng.choice(["example.se", "firma.no", "mail.example.com", "post.dk"])
    if rng.random() < 0.4:
        # As the kiosk's keyboard types it: no @, capitals, dash or underscore. Each was stored
        # as typed ("kalle at foretag.se", "kalle at foretag dot se").
        # The dot spelled (en, sv, nb) or with spaces around it, in the name before the at too
        # ("kari punktum nordmann krøllalfa ...", "kalle at gmail . com" were stored as typed).
        user = rng.choice(["kalle", "anna.svensson", "ola72", "märta.öberg", "jørgen.b", "kari.nordmann", "lisa"])
        at = rng.choice([" at ", " at ", " snabel a ", " snabel-a ", " (at) ", " krøllalfa ", " alfakrøll "])
        if rng.random() < 0.7:
            return user + at + host
        dot = rng.choice([" dot ", " punkt ", " punktum ", " prikk ", " . "])
        return user.replace(".", dot if dot.strip().isalpha() else ".") + at + host.replace(".", dot)
    user = rng.choice(["anna.svensson", "ola", "kari_n", "j.smith", "lars-erik72"])
    return rng.choice([f"{user}@{host}", f"{user} (at) {host}", f"{user.upper()}@{host}", f"{user} (AT) {host}"])


def ean13(rng: random.Random) -> str:
    body = rng.choice(["73", "70", "40", "50", "57", "64"]) + "".join(str(rng.randint(0, 9)) for _ in range(10))
    odd, even = sum(int(c) for c in body[0::2]), sum(int(c) for c in body[1::2])
    return body + str((10 - (odd + 3 * even) % 10) % 10)


def lookalike(rng: random.Random, language: str) -> tuple[str, str]:
    kind = rng.choice(["price", "time", "date", "receipt", "order", "store", "postcode", "ean", "quantity", "account",
                       "website", "sentence", "words", "everyday"])
    kr = {"sv": "kr", "nb": "kr", "en": "SEK"}[language]
    if kind == "price":
        value = rng.choice([f"{rng.randint(5, 999)},{rng.randint(0, 99):02d} {kr}", f"{rng.randint(1, 9)} {rng.randint(100, 999)} {kr}",
                            f"{rng.randint(10, 5000)}:-", f"{rng.randint(10, 999)}.{rng.randint(0, 99):02d} {kr}"])
    elif kind == "time":
        h, mi = rng.randint(7, 21), rng.choice([0, 15, 30, 45])
        value = rng.choice([f"kl {h}:{mi:02d}", f"kl. {h}.{mi:02d}", f"{h}.{mi:02d}-{h + 1}.{mi:02d}", f"{h}:{mi:02d}",
                            f"kl {h} {mi:02d}"])
    elif kind == "date":
        y, m, d = rng.randint(2024, 2026), rng.randint(1, 12), rng.randint(1, 28)
        # The last two as the kiosk's keyboard types them (no dash, slash or colon): digits in
        # groups, which the scrubber reads across spaces.
        value = rng.choice([f"{y}-{m:02d}-{d:02d}", f"{d}/{m}", f"{d}.{m}.{y}", f"{d}/{m}/{y % 100:02d}", f"{d}.{m:02d}",
                            f"{d} {m} {y}", f"{y} {m:02d} {d:02d} kl {rng.randint(7, 21)} {rng.choice([0, 15, 30, 45]):02d}"])
    elif kind == "receipt":
        word = {"sv": rng.choice(["kvitto", "kvittonr", "kvittonummer"]), "nb": rng.choice(["kvittering", "kvitteringsnr"]),
                "en": rng.choice(["receipt", "receipt no."])}[language]
        value = f"{word} {rng.choice([f'{rng.randint(1000, 99999999)}', f'{rng.randint(1, 99)}-{rng.randint(100000, 9999999)}', f'{rng.randint(10 ** 9, 10 ** 12)}'])}"
    elif kind == "order":
        word = {"sv": rng.choice(["order", "ordernummer", "ordernr", "referens", "beställningsnummer", "beställning"]),
                "nb": rng.choice(["ordre", "ordrenummer", "refnr", "bestillingsnummer", "bestillingsnr", "bestilling"]),
                "en": rng.choice(["order", "order #", "ref"])}[language]
        value = f"{word} {rng.choice([f'{rng.randint(10 ** 6, 10 ** 9)}', f'{rng.randint(2024, 2026)}-{rng.randint(1000, 999999)}'])}"
    elif kind == "store":
        word = {"sv": rng.choice(["butik", "butik nr"]), "nb": rng.choice(["butikk", "butikk nr"]), "en": "store"}[language]
        value = f"{word} {rng.randint(1, 9999)}"
    elif kind == "postcode":
        value = {"sv": f"{rng.randint(100, 984)} {rng.randint(10, 99)}", "nb": f"{rng.randint(10, 9999):04d} Oslo",
                 "en": f"{rng.randint(100, 984)} {rng.randint(10, 99)} Stockholm"}[language]
    elif kind == "ean":
        word = {"sv": rng.choice(["EAN", "streckkod", "artikel"]), "nb": rng.choice(["EAN", "strekkode", "varenummer"]),
                "en": rng.choice(["EAN", "barcode", "item"])}[language]
        value = f"{word} {ean13(rng)}"
    elif kind == "account":     # the word for an account, and an amount or a count near it
        n = rng.choice([f"{rng.randint(100, 9999)}", f"{rng.randint(1, 9)} {rng.randint(100, 999)}", f"{rng.randint(2, 3)}"])
        value = {"sv": rng.choice([f"{n} kr från kontot", f"kontot {n} gånger", f"kontot är {n} kr kort"]),
                 "nb": rng.choice([f"{n} kr fra kontoen", f"kontoen {n} ganger", f"kontoen min er {n} kr i minus"]),
                 "en": rng.choice([f"{n} SEK from my account", f"account {n} times",
                                   f"my account is {n} SEK short"])}[language]
    elif kind == "website":     # a shop's address after "at" is a sentence, not an e-mail address
        site = rng.choice(["ica.se", "coop.se", "komplett.no", "elkjop.no", "amazon.com"])
        if rng.random() < 0.3:  # with a spaced or spelled dot, as an address may be typed
            site = site.replace(".", rng.choice([" . ", " punkt ", " prikk "]))
        # "at" (nb: that) after the words a clause or a price comes after ("jeg syns at power.no
        # er bedre", "costs less at zalando.se" were masked as addresses).
        value = {"sv": f"billigare på {site}",
                 "nb": rng.choice([f"billigere på {site}", f"synes at {site} er bedre", f"jeg syns at {site} er bedre",
                                   f"jeg håper at {site} senker prisen", f"jeg tenker at {site} har bedre service",
                                   f"jeg føler at {site} er bedre", f"det viser at {site} er billigere",
                                   f"skuffet over at {site} er billigere"]),
                 "en": rng.choice([f"cheaper at {site}", f"I looked at {site}", f"ordered at {site}",
                                   f"it costs less at {site}", f"the same deal at {site}"])}[language]
    elif kind == "sentence":    # "at" before a sentence's end and a word that is a domain
        value = {"sv": rng.choice(["det var kaos. se till att fixa det", "vi kom kl 9. nu är det bättre"]),
                 "nb": rng.choice(["han sa at kassen var stengt. se på det", "jeg mener at det var for dyrt. nu handler jeg der ikke",
                                   "synes at prisen var høy. no comment"]),
                 "en": rng.choice(["we got there at noon. no one was at the till", "the queue at ica. me and my son waited",
                                   "look at it. is this service?"])}[language]
    elif kind == "words":       # words that hold a roster name or are one letter from it
        value = rng.choice({"sv": ["annars perfekt", "en annan kassa", "martyrium", "mats sortiment", "perfekt"],
                            "nb": ["ellers perfekt", "annen kasse", "perioden", "jorden rundt", "sofistikert"],
                            "en": ["another till", "perfect", "karaoke night", "sofa department", "marts"]}[language])
    elif kind == "everyday":    # roster names that are everyday words, used as the words
        value = rng.choice({"sv": ["i dag", "20 kr per kilo", "att bo nära", "mitt liv", "hans kollega var sur",
                                   "2 st per kund", "varje dag var det kö"],
                            "nb": ["hver dag", "den andre kassen", "hans kollega", "å bo her", "de andre var stengt",
                                   "med andre ord", "i dag var det kø"],
                            "en": ["per person", "every day", "a day", "his will", "10 SEK per kilo",
                                   "the other day was better"]}[language])
    else:
        value = f"{rng.randint(2, 30)} st" if language == "sv" else f"{rng.randint(2, 30)} stk" if language == "nb" else f"{rng.randint(2, 30)} pcs"
    return kind, value


def corpus(n: int = 3000, seed: int = 2026) -> list[Sample]:
    """`n` samples of each sort (identifiers valid, identifiers with a broken check digit,
    look-alikes), spread over sv, nb and en."""
    rng = random.Random(seed)
    makers = {
        "personnummer": lambda v: personnummer(rng, v), "samordningsnummer": lambda v: personnummer(rng, v, True),
        "fodselsnummer": lambda v: fodselsnummer_no(rng, v), "d-nummer": lambda v: fodselsnummer_no(rng, v, True),
        "card": lambda v: card(rng, v), "iban": lambda v: iban_number(rng, v),
        "kontonummer": lambda v: norwegian_account(rng, v), "bankkonto": lambda v: swedish_account(rng),
        "phone": lambda v: phone(rng), "email": lambda v: email(rng),
    }
    with_check = ("personnummer", "samordningsnummer", "fodselsnummer", "d-nummer", "card", "iban", "kontonummer")
    out: list[Sample] = []
    for i in range(n):
        language = ("sv", "nb", "en")[i % 3]
        kind = rng.choice(list(makers) + ["staff"])
        if kind == "staff":
            value = rng.choice(STAFF)
            if rng.random() < 0.5:
                value = staff_as_typed(rng, value, language)
            out.append(Sample(rng.choice(_STAFF_TEMPLATES[language]).format(x=value), "staff", value, True,
                              language=language))
        else:
            value = makers[kind](True)
            out.append(Sample(rng.choice(_PERSONAL_TEMPLATES[language]).format(x=value), kind, value, True,
                              language=language))
        broken = rng.choice(with_check)
        value = makers[broken](False)
        out.append(Sample(rng.choice(_PERSONAL_TEMPLATES[language]).format(x=value), broken, value, True,
                          valid=False, language=language))
        kind, value = lookalike(rng, language)
        out.append(Sample(rng.choice(_LOOKALIKE_TEMPLATES[language]).format(x=value), kind, value, False,
                          language=language))
    return out
