"""Comments on generated follow-ups, for demos, tests and benchmarks: the history generator
(seeds.history) makes follow-ups with reasons but no text; `add_comments` gives a share of them
a short comment in the answer's language, some with the marks the kiosk leaves where it removed
personal data (`[phone]`, `[name]`, …), as real ones have.
"""

from __future__ import annotations

import random

from peewee import Database

from server_sync.protocol.vocabulary import SCRUB_MARKS

PHRASES = {
    "sv": ["Lång kö vid kassan igen.", "Personalen var trevlig men det tog tid.", "Mjölken var slut.",
           "Smutsigt vid frukten.", "Ring mig på {phone} om ni vill veta mer.", "{name} var otrevlig i kassan.",
           "Bra priser men för få kassor öppna.", "Hittade inte det jag sökte."],
    "nb": ["Lang kø i kassen igjen.", "Hyggelig personale, men det tok tid.", "Melken var utsolgt.",
           "Skittent ved frukten.", "Ring meg på {phone}.", "{name} var uhøflig i kassen.",
           "Gode priser, men for få kasser åpne."],
    "en": ["Long queue at the checkout again.", "Friendly staff but slow.", "Out of milk.",
           "Send the receipt to {email} please.", "My card {card} was charged twice."],
}


def add_comments(db: Database, share: float = 0.4, seed: int = 11) -> int:
    """Give about `share` of the stored follow-ups without a comment a comment; returns how many."""
    rng = random.Random(seed)
    rows = db.execute_sql("SELECT f.id, r.language FROM followup f JOIN response r ON r.id = f.response_id"
                          " WHERE f.comment IS NULL ORDER BY f.id").fetchall()
    marks = {"phone": SCRUB_MARKS["phone"], "name": SCRUB_MARKS["name"], "email": SCRUB_MARKS["e-mail"],
             "card": SCRUB_MARKS["card"]}
    updates = [(rng.choice(PHRASES.get(lang, PHRASES["en"])).format(**marks), fid)
               for fid, lang in rows if rng.random() < share]
    p = db.param
    with db.atomic():
        for i in range(0, len(updates), 5000):
            db.cursor().executemany(f"UPDATE followup SET comment = {p} WHERE id = {p}", updates[i:i + 5000])
    return len(updates)
