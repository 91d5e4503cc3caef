"""Data for telling a staff name from the everyday word it also is (kiosk.staff_names), per language.

A roster may hold Dag, Per, Hans, Bo, Liv, Stig, André: in a comment "i dag", "20 kr per kilo",
"hans kollega", "bo gärna här", "den andre kassen" are words, not colleagues. These lists say
which names are such words, and which words around them say a person is meant or the word is.
Words are lower case and composed (NFC); a cue of two or three words is written with spaces.
A name not listed here is masked wherever it stands, as before: extend the lists rather than
guess (a name missing here is masked too often, never too seldom).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _phrases(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.split(";") if p.strip())


# First names and surnames that are also everyday words.
EVERYDAY_NAMES = {
    "sv": _words("dag dan per hans bo liv sten stig björn klara vilja love ask sol maj max karl rut ros siv "
                 "berg ek lund strand holm dal lind falk hall ström ring"),
    "nb": _words("dag per hans bo liv sten stein stig andre tor odd else ask sol vår tone rune live bjørn klara "
                 "mai berg lie dal vik bakke haug strand hagen fjell li"),
    "en": _words("will mark bill may june april august frank grace hope joy ray rob sue pat art rose jack max "
                 "guy don drew nick eve ash kit penny dawn jay bud hall hill stone bell price long young king "
                 "wood brown white green black west best page lane cross hunt bird park grant"),
}

# The word right before that makes it the everyday word: a preposition, an article, a determiner
# or a possessive before a noun ("i dag", "hver dag", "mitt liv", "den andre"), an infinitive's
# marker or an auxiliary before a verb ("att bo", "vil bo"), a price or a count before "per"
# ("20 kr per kilo"; any number does too).
EVERYDAY_BEFORE = {
    "sv": _words("i en ett varje vilken samma nästa förra denna detta den det de hela god goda mitt min mina "
                 "ditt din sitt sin hans hennes vårt vår deras att vill kan ska måste får kr kronor st styck "
                 "pris per"),
    "nb": _words("i en et ei hver hvilken samme neste forrige denne dette den det de dei hele god mitt min mine "
                 "ditt din sitt sin hans hennes vårt vår deres å vil kan skal må får kr kroner stk pris alle "
                 "noen mange per"),
    "en": _words("a an the every each this that next last same one my your his her its our their to will can "
                 "must may as sek nok eur usd pcs per"),
}

# The word or words right before that say a person is meant ("tack per", "takk til per",
# "kassören stig", "thanks to bo", "pratade med per"; "med" alone does not: "med andre ord").
PERSON_BEFORE = {
    "sv": _phrases("tack; tack till; tacka; hälsa; hälsa till; hej; fråga; kassören; kassörskan; expediten; "
                   "killen; tjejen; mannen; kvinnan; chefen; butikschefen; hjälp av; hjälpt av; pratade med; "
                   "talade med; prata med"),
    "nb": _phrases("takk; takk til; hils; hils til; hei; spør; kassereren; kasserer; ekspeditøren; gutten; "
                   "jenta; mannen; damen; sjefen; butikksjefen; hjelp av; hjelp fra; snakket med; snakke med"),
    "en": _phrases("thanks; thanks to; thank; thank you; hi; hello; ask; cashier; clerk; assistant; manager; "
                   "help from; helped by; served by; talked to; spoke to; spoke with; talked with"),
}

# The word or words right after that say a person is meant: what a person does or is, and where
# at the store ("dag var otrevlig", "per i kassan", "bo at the till", "liv som jobbar"), or whom
# a customer speaks to ("dag, du var bäst").
PERSON_AFTER = {
    "sv": _phrases("var; är; blev; sa; sade; hjälpte; svarade; log; skrek; ignorerade; jobbar; arbetar; stod; "
                   "står; kunde; gav; tog; frågade; förklarade; har; hade; som; du; ni; i kassan; i kassa; "
                   "på kassan; vid kassan; i kassorna; i kundtjänst; i chark; i disken; i infodisken"),
    "nb": _phrases("var; er; ble; sa; sier; hjalp; hjelpte; svarte; smilte; ropte; kjeftet; ignorerte; jobber; "
                   "arbeider; sto; står; kunne; ga; tok; spurte; forklarte; har; hadde; som; du; dere; i kassen; "
                   "i kassa; på kassen; ved kassen; i kundeservice; i disken"),
    "en": _phrases("was; is; said; says; helped; answered; replied; smiled; shouted; yelled; ignored; works; "
                   "worked; stood; could; gave; took; asked; explained; has; had; who; you; at the till; "
                   "at the checkout; at the counter; at the desk; on the till"),
}

# After a name in the genitive ("pers bemötande", "bo's attitude"): what of a person a customer
# judges.
PERSON_GENITIVE_AFTER = {
    "sv": _words("bemötande service hjälp attityd ton beteende"),
    "nb": _words("oppførsel service hjelp holdning tone"),
    "en": _words("service help attitude behaviour behavior manner tone"),
}


def merged(by_language: dict[str, frozenset[str]]) -> frozenset[str]:
    """One set of all languages: a customer writes in any of them at any store."""
    return frozenset().union(*by_language.values())
