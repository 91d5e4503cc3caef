"""The rules of a kiosk config that one key's declaration cannot say: those that span keys (the
wording in every language offered, buttons wired for each question's scale, a schedule naming a
question that exists, a reconnect delay within its longest) and the few checks a type, bound or
pattern cannot express (a time zone this system knows, a host name or IP address, a PIN hash).
Each is a small named function, said once; `RULES` runs them in order after the generic pass
(`kiosk.config.reader`), on values it has already checked.

A rule raises ConfigError through `doc.fail(keypath, message)`, naming the key and its line. Only
`default_language_is_offered` fills in a value (a default that depends on kiosk.languages).
"""

from __future__ import annotations

from typing import Callable

from kiosk.config.reader import Document
from kiosk.config.schema import IDENTIFIER, REASONS_OFFERED, key
from kiosk.config.settings import ScheduleEntry
from kiosk.pin import pin_hash_problem
from server_sync.program.hosts import host_problem
from server_sync.program.zones import iana_zone
from server_sync.protocol.scales import SCALES
from server_sync.protocol.vocabulary import LANGUAGES, RESERVED_KIOSK_IDS

# BCM pins of the 40-pin header, and those a button panel must not use: ID EEPROM (0, 1), I2C
# with fixed pull-ups (2, 3), UART console (14, 15).
BCM_PINS = range(0, 28)
RESERVED_PINS = frozenset({0, 1, 2, 3, 14, 15})
# One label of a DNS host name (RFC 1123): letters, digits and inner hyphens, at most 63.
# Each button is one face of a smiley scale; a 0-10 question is answered on the screen only.
BUTTON_COUNTS = tuple(sorted({s.points for s in SCALES.values() if s.smiley}))


def default_language_is_offered(doc: Document) -> None:
    kiosk = doc.values["kiosk"]
    languages = kiosk["languages"]
    if not doc.given("kiosk", "default_language"):
        default = key("kiosk.default_language").default
        kiosk["default_language"] = default if default in languages else languages[0]
    elif kiosk["default_language"] not in languages:
        raise doc.fail(("kiosk", "default_language"), f"must be one of kiosk.languages "
                       f"({', '.join(languages)}), got {kiosk['default_language']!r}")


def kiosk_id_is_not_reserved(doc: Document) -> None:
    """Not the central ingest's broker user: `config check` passed an id the centre and
    provision.sh refuse, and the kiosk would then sync as the ingest's user."""
    kiosk_id = doc.values["kiosk"]["id"]
    if kiosk_id in RESERVED_KIOSK_IDS:
        raise doc.fail(("kiosk", "id"), f"{kiosk_id!r} is reserved for the central ingest's broker user; "
                                        "give the kiosk its own id")


def timezone_is_known(doc: Document) -> None:
    tz = doc.values["kiosk"]["timezone"]
    if iana_zone(tz) is None:                   # the rule of a site's zone at the centre too
        raise doc.fail(("kiosk", "timezone"), f"unknown time zone {tz!r} (use an IANA name like Europe/Stockholm)")


def broker_host_is_a_host(doc: Document) -> None:
    """A host name or an IP address: paho takes anything, and `kiosk sync` would then retry an
    empty or mistyped host for ever ("Invalid host.", a failed name lookup)."""
    host = doc.values["broker"]["host"]
    if host_problem(host):                      # the rule the centre's --broker-host options share
        raise doc.fail(("broker", "host"), f"must be a host name (like broker.example.com) or an IP address, "
                                           f"got {host!r}")


def backoff_within_its_longest(doc: Document) -> None:
    sync = doc.values["sync"]
    if sync["backoff_min_s"] > sync["backoff_max_s"]:
        where = ("sync", "backoff_min_s") if doc.given("sync", "backoff_min_s") else ("sync", "backoff_max_s")
        raise doc.fail(where, f"sync.backoff_min_s ({sync['backoff_min_s']:g}) is more than sync.backoff_max_s "
                              f"({sync['backoff_max_s']:g}): the first reconnect delay cannot be longer than the longest")


def reasons_are_labelled(doc: Document) -> None:
    """Every reason has a code the wire accepts and a label in every language offered."""
    for code, labels in doc.values["reasons"].items():
        if not IDENTIFIER.matches(code):
            raise doc.fail(("reasons", code), f"reason codes are {IDENTIFIER.what}")
        if not isinstance(labels, dict):
            raise doc.fail(("reasons", code), f"must be a table of labels per language, got {labels!r}")
        for lang in doc.values["kiosk"]["languages"]:
            if not _text(labels.get(lang)):
                raise doc.fail(("reasons", code), f"needs a label in {lang!r}")


def question_ids_are_unique(doc: Document) -> None:
    seen: set[str] = set()
    for i, q in enumerate(doc.values["questions"]):
        if q["id"] in seen:
            raise doc.fail(("questions", i, "id"), f"duplicate question id {q['id']!r}")
        seen.add(q["id"])


def wording_in_every_language(doc: Document) -> None:
    for i, q in enumerate(doc.values["questions"]):
        for lang in doc.values["kiosk"]["languages"]:
            if not _text(q["text"].get(lang)):
                raise doc.fail(("questions", i, "text"), f"needs wording in {lang!r}")
        # Wording no kiosk can show is a typo ("se" for sv, "no" for nb) or text lost on the way.
        for lang in q["text"]:
            if lang not in LANGUAGES:
                raise doc.fail(("questions", i, "text"), f"has wording in {lang!r}, a language the kiosk does not "
                                                         f"show (it shows {', '.join(LANGUAGES)})")


def reasons_come_from_the_catalogue(doc: Document) -> None:
    known = doc.values["reasons"]
    for i, q in enumerate(doc.values["questions"]):
        for code in q["reasons"]:
            if code not in known:
                raise doc.fail(("questions", i, "reasons"),
                               f"unknown reason code {code!r}; known: {', '.join(sorted(known))}")


def none_or_four_to_six_reasons(doc: Document) -> None:
    low, high = REASONS_OFFERED
    for i, q in enumerate(doc.values["questions"]):
        if q["reasons"] and not low <= len(q["reasons"]) <= high:
            raise doc.fail(("questions", i, "reasons"),
                           f"offer {low} to {high} reasons (or none), got {len(q['reasons'])}")


def max_reasons_within_the_offer(doc: Document) -> None:
    for i, q in enumerate(doc.values["questions"]):
        if q["max_reasons"] > max(1, len(q["reasons"])):
            raise doc.fail(("questions", i, "max_reasons"),
                           f"is {q['max_reasons']} but the question offers {len(q['reasons'])} reasons")


def schedule_names_a_question(doc: Document) -> None:
    ids = {q["id"] for q in doc.values["questions"]}
    for i, entry in enumerate(doc.values["schedule"]):
        if entry["question"] not in ids:
            raise doc.fail(("schedule", i, "question"), f"no question with id {entry['question']!r}")


def schedule_ends_after_it_starts(doc: Document) -> None:
    for i, values in enumerate(doc.values["schedule"]):
        entry = ScheduleEntry.from_values(values)
        if entry.end is not None and entry.end <= entry.start:
            over_midnight = f" (over midnight it is two entries: {values['from']}-24:00 and 00:00-{values['to']})" \
                if entry.end < entry.start else ""
            raise doc.fail(("schedule", i, "to"), f"must be later than 'from'{over_midnight}")


def buttons_fit_a_smiley_scale(doc: Document) -> None:
    buttons = doc.values["gpio"]["buttons"]
    if len(buttons) not in BUTTON_COUNTS:
        counts = " or ".join(str(n) for n in BUTTON_COUNTS)
        raise doc.fail(("gpio", "buttons"), f"needs {counts} pins, got {len(buttons)}")


def one_led_per_button(doc: Document) -> None:
    gpio = doc.values["gpio"]
    if gpio["leds"] and len(gpio["leds"]) != len(gpio["buttons"]):
        if not doc.given("gpio", "leds"):
            # The file wired the buttons only: it is the default LEDs that do not fit them.
            raise doc.fail(("gpio", "buttons"), f"{len(gpio['buttons'])} buttons need as many LEDs, and gpio.leds is"
                           f" not set (its default has {len(gpio['leds'])}): set gpio.leds, one pin per button,"
                           " or [] for none")
        raise doc.fail(("gpio", "leds"),
                       f"needs one LED per button ({len(gpio['buttons'])}), got {len(gpio['leds'])}")


def comments_have_room(doc: Document) -> None:
    """A question that offers a comment needs room for one: with 0 characters its keyboard
    opens and takes nothing."""
    if doc.values["followup"]["max_comment_chars"] > 0:
        return
    offering = [q["id"] for q in doc.values["questions"] if q["comment"]]
    if offering:
        raise doc.fail(("followup", "max_comment_chars"), f"is 0, but question {offering[0]!r} offers a comment"
                       " (its comment = true): allow at least 1 character, or offer no comment")


def pins_exist_and_are_free(doc: Document) -> None:
    """Every pin is on the header, not reserved, and wired to one thing only."""
    seen: set[int] = set()
    for name in ("buttons", "leds"):
        for pin in doc.values["gpio"][name]:
            if pin not in BCM_PINS:
                raise doc.fail(("gpio", name), f"BCM pin {pin} does not exist ({BCM_PINS[0]}-{BCM_PINS[-1]})")
            if pin in RESERVED_PINS:
                raise doc.fail(("gpio", name), f"BCM pin {pin} is reserved (ID EEPROM, I2C or UART); pick another")
            if pin in seen:
                raise doc.fail(("gpio", name), f"BCM pin {pin} is used twice")
            seen.add(pin)


def buttons_answer_every_smiley_question(doc: Document) -> None:
    buttons = doc.values["gpio"]["buttons"]
    for i, q in enumerate(doc.values["questions"]):
        scale = SCALES[q["scale"]]
        if scale.smiley and scale.points != len(buttons):
            # Blame what the file says: the wiring when it names it, else the question's scale.
            where = ("gpio", "buttons") if doc.given("gpio", "buttons") else ("questions", i, "scale")
            raise doc.fail(where, f"question {q['id']!r} has {scale.points} answers but "
                                  f"{len(buttons)} buttons are wired (gpio.buttons)")


def pin_hash_is_a_hash(doc: Document) -> None:
    pin_hash = doc.values["staff"]["pin_hash"]
    problem = pin_hash_problem(pin_hash) if pin_hash else None
    if problem:
        raise doc.fail(("staff", "pin_hash"), f"{problem}: make one with `kiosk pin hash`")


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


RULES: tuple[Callable[[Document], None], ...] = (
    default_language_is_offered,
    kiosk_id_is_not_reserved,
    timezone_is_known,
    broker_host_is_a_host,
    backoff_within_its_longest,
    reasons_are_labelled,
    question_ids_are_unique,
    wording_in_every_language,
    reasons_come_from_the_catalogue,
    none_or_four_to_six_reasons,
    max_reasons_within_the_offer,
    schedule_names_a_question,
    schedule_ends_after_it_starts,
    buttons_fit_a_smiley_scale,
    one_led_per_button,
    comments_have_room,
    pins_exist_and_are_free,
    buttons_answer_every_smiley_question,
    pin_hash_is_a_hash,
)

# The rules that need the device's own wiring, which a config pushed by the centre never carries
# (gpio is not pushable): the centre checks a push without them, and the kiosk that receives it
# checks it with them (and refuses it, saying why, when its buttons do not fit).
DEVICE_RULES = frozenset({buttons_answer_every_smiley_question})
