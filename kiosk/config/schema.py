"""Every key of `kiosk.toml`, declared once: name, type, default, what values it allows, and what
it means (in the manner of Datasette's SETTINGS).

Everything else about a key is derived from its declaration here: the fields and defaults of the
settings objects (`settings_class`), the generic validation (`kiosk.config.reader`),
`kiosk config keys`, the README table and the check that `firmware_config/kiosk.toml` documents
every key (both in tests). Adding a key is one `Key(...)` line below, plus its use.

The words (scales, languages, audiences, follow-up modes, weekdays, the reason catalogue and the
default question) come from `server_sync.protocol`, never spelled out here. Rules that span keys
live in `kiosk.config.rules`. Pure data: this module never reads a file.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

from kiosk.pin import FIRST_LOCK_S
from server_sync.protocol.catalogue import REASONS, default_questions
from server_sync.protocol.scales import SCALE_NAMES, SCALES
from server_sync.protocol.topics import PREFIX_RE, PREFIX_RULE
from server_sync.protocol.vocabulary import (AUDIENCES, DEFAULT_MAX_BYTES, DEFAULT_MAX_EVENTS, FOLLOWUP_MODES,
                                             ID_PATTERN, ID_RULE, LANGUAGES, MAX_COMMENT_CHARS,
                                             MAX_CONFIG_VERSION, MAX_QUESTION_VERSION, WEEKDAYS)

REASONS_OFFERED = (4, 6)            # a follow-up screen offers none, or 4 to 6 reasons


class ValueType(NamedTuple):
    """A type as the docs write it: what an error calls it, what TOML gives for it and what a
    settings object holds."""
    what: str
    toml: type | tuple[type, ...]
    held: Any
    item: str | None = None                # the type of each item of an array


TYPES: dict[str, ValueType] = {
    "int": ValueType("an integer", int, int),
    "float": ValueType("a number", (int, float), float),
    "bool": ValueType("true or false", bool, bool),
    "str": ValueType("a string", str, str),
    "path": ValueType("a string", str, str),
    "list[int]": ValueType("an array", list, tuple[int, ...], item="int"),
    "list[str]": ValueType("an array", list, tuple[str, ...], item="str"),
    "table": ValueType("a table", dict, Mapping[str, Any]),
    "array of tables": ValueType("an array of tables", list, tuple),
}


@dataclass(frozen=True)
class Pattern:
    """A shape a string must have, and how an error message and the docs describe it."""
    regex: str
    what: str

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.regex, value) is not None


IDENTIFIER = Pattern(ID_PATTERN, ID_RULE)
_TIME_OF_DAY = r"(?:[01]?\d|2[0-3]):[0-5]\d"
START_TIME = Pattern(_TIME_OF_DAY, "a time HH:MM between 00:00 and 23:59")
CLOCK_TIME = Pattern(f"{_TIME_OF_DAY}|24:00", "a time HH:MM between 00:00 and 24:00")      # 24:00: the day's end
TOPIC_PREFIX = Pattern(PREFIX_RE.pattern, PREFIX_RULE)


@dataclass(frozen=True)
class Key:
    """One configuration key and everything said about it.

    `name` is dotted (`gpio.buttons`); a key of each entry of an array of tables is written
    `questions[].id`. A `table` key whose default is a table gets the file's entries laid over
    that default. `empty_means` names the key whose value an empty string stands for.
    `shown_default` is how the docs show a default too large to print.
    """
    name: str
    type: str
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()          # of the value, or of each item of a list
    item: str = "item"                     # what an item of a list is called in an error
    unique: bool = False                   # a list may not name an item twice
    min_items: int = 0
    pattern: Pattern | None = None
    required: bool = False
    empty_means: str | None = None
    shown_default: str | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"key {self.name}: unknown type {self.type!r}")

    @property
    def field(self) -> str:
        """The key's own name in its table (`buttons` for `gpio.buttons`)."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def entry_of(self) -> str | None:
        """The array of tables this key belongs to each entry of (`questions`), or None."""
        return self.name.split("[].")[0] if "[]." in self.name else None

    @property
    def documented_default(self) -> Any:
        return self.shown_default if self.shown_default is not None else self.default

    @property
    def allowed(self) -> str:
        """The values the key takes, in words, for the docs."""
        parts = []
        if self.required:
            parts.append("required")
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"{_number(self.minimum)} to {_number(self.maximum)}")
        elif self.minimum is not None:
            parts.append(f"at least {_number(self.minimum)}")
        elif self.maximum is not None:
            parts.append(f"at most {_number(self.maximum)}")
        if self.min_items:
            parts.append(f"at least {self.min_items} {self.item}")
        if self.choices:
            parts.append(("each one of " if TYPES[self.type].item else "one of ") + ", ".join(self.choices))
        if self.unique:
            parts.append("no repeats")
        if self.pattern:
            parts.append(self.pattern.what)
        if self.empty_means:
            parts.append(f"empty: {self.empty_means}")
        return "; ".join(parts)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# What counts as negative on each scale, for the docs of followup.mode.
_NEGATIVE = ", ".join(f"{s.name} {s.lowest}-{s.negative_up_to}" for s in SCALES.values())

KEYS: tuple[Key, ...] = (
    # At most what the status message carries (the centre's 4-byte INTEGER): a larger one passed
    # here and every status of the kiosk was then refused at the centre.
    Key("config_version", "int", 0, "Version of this configuration; a config pushed by the centre must be higher to replace it.",
        minimum=0, maximum=MAX_CONFIG_VERSION),
    Key("kiosk.id", "str", "demo-kiosk-1", "Kiosk id, unique in the fleet, used in MQTT topics.", pattern=IDENTIFIER),
    Key("kiosk.site", "str", "demo-site-1", "Site (store) id the kiosk belongs to.", pattern=IDENTIFIER),
    Key("kiosk.data_dir", "path", "", "Where the database lives. Empty: /var/lib/kundpuls on a Pi, ~/.local/share/kundpuls elsewhere. "
        "A relative path is taken from the config file's directory."),
    Key("kiosk.languages", "list[str]", LANGUAGES, "UI languages offered to customers.",
        choices=LANGUAGES, item="language", unique=True, min_items=1),
    Key("kiosk.default_language", "str", "sv", "Language the kiosk returns to after idle; one of kiosk.languages (left out: sv when offered, else the first)."),
    Key("kiosk.timezone", "str", "Europe/Stockholm", "IANA time zone of the store: opening hours, 'today' and schedules use it."),
    Key("filters.repeat_window_s", "float", 5.0, "A press within this many seconds of the previous answer on this kiosk is kept but flagged 'repeat'. 0 disables.",
        minimum=0, maximum=3600),
    Key("filters.burst_per_minute", "int", 10, "More than this many answers within a minute are flagged 'burst'. 0 disables.",
        minimum=0, maximum=10000),
    Key("followup.mode", "str", "negative", f"When to ask why: after a negative answer ({_NEGATIVE}), after every answer (the others are asked what went well: praise, counted apart from the complaints), or never.",
        choices=FOLLOWUP_MODES),
    Key("followup.idle_timeout_s", "float", 10.0, "Idle seconds on the follow-up screen before returning to the question (what was chosen is kept).",
        minimum=1, maximum=600),
    Key("followup.max_comment_chars", "int", 200, "Longest comment accepted; longer is cut.",
        minimum=0, maximum=MAX_COMMENT_CHARS),
    Key("ui.thank_you_s", "float", 2.0, "How long the thank-you screen shows.", minimum=0.2, maximum=60),
    Key("ui.language_reset_s", "float", 30.0, "Idle seconds after which the language returns to default_language.",
        minimum=1, maximum=3600),
    Key("ui.fullscreen", "bool", True, "Full screen on the kiosk (the demo opens a window)."),
    Key("ui.corner_hold_s", "float", 3.0, "Seconds to hold the top-left corner to open the staff PIN pad.",
        minimum=0.5, maximum=30),
    Key("gpio.buttons", "list[int]", (5, 6, 13, 19), "BCM pins of the smiley buttons, most negative first, one per face of the questions' scale."),
    Key("gpio.leds", "list[int]", (12, 16, 20, 21), "BCM pins of the LEDs, one per button in the same order (empty: no LEDs)."),
    Key("gpio.pull_up", "bool", True, "Buttons connect the pin to ground (internal pull-up). false: to 3.3 V."),
    Key("gpio.bounce_s", "float", 0.03, "Contact bounce: edges closer than this are ignored.", minimum=0, maximum=1),
    Key("gpio.max_press_s", "float", 2.0, "A press held longer than this is not an answer (stuck button, leaning, gesture).",
        minimum=0.1, maximum=60),
    Key("gpio.staff_hold_s", "float", 3.0, "Holding the two outer buttons this long is the staff gesture.",
        minimum=0.5, maximum=60),
    Key("gpio.led_flash_s", "float", 0.8, "How long a button's LED lights after a press.", minimum=0, maximum=10),
    Key("gpio.idle_pattern", "bool", False, "Breathe the LEDs gently while idle (about 20 wake-ups a second more); off, they glow steadily."),
    Key("broker.host", "str", "localhost", "MQTT broker host name or IP address."),
    Key("broker.port", "int", 8883, "MQTT broker port (8883 for TLS).", minimum=1, maximum=65535),
    Key("broker.tls", "bool", True, "Use TLS. Only a test or a laptop demo turns it off."),
    Key("broker.ca_file", "path", "", "CA certificate that signed the broker's certificate (empty: the system's CAs)."),
    Key("broker.username", "str", "", "The kiosk's broker user name (empty: the kiosk id).", empty_means="kiosk.id"),
    Key("broker.password_file", "path", "", "File holding the kiosk's broker password (kept out of this file, mode 0600)."),
    Key("broker.topic_prefix", "str", "", "Prefix before kundpuls/v1 in every topic, e.g. 'acme/'.", pattern=TOPIC_PREFIX),
    Key("broker.keepalive_s", "int", 30, "MQTT keepalive; the broker publishes the Last Will after 1.5× this.",
        minimum=5, maximum=3600),
    Key("sync.batch_max_events", "int", 500, "Most events in one MQTT message.", minimum=1, maximum=DEFAULT_MAX_EVENTS),
    Key("sync.batch_max_bytes", "int", 262144, "Largest MQTT payload the agent builds, in bytes "
        "(the centre refuses larger ones, and the broker disconnects a client that sends them).",
        minimum=4096, maximum=DEFAULT_MAX_BYTES),
    Key("sync.ack_timeout_s", "float", 30.0, "Unacknowledged events are sent again after this long.", minimum=1, maximum=3600),
    Key("sync.backoff_min_s", "float", 1.0, "First reconnect delay; doubles on each failure.", minimum=0.05, maximum=600),
    Key("sync.backoff_max_s", "float", 60.0, "Longest reconnect delay.", minimum=0.1, maximum=3600),
    Key("sync.status_interval_s", "float", 60.0, "How often the agent republishes its status.", minimum=1, maximum=86400),
    Key("sync.clock_wait_s", "float", 300.0, "Answers recorded before the clock synced, in a boot's first this many "
        "seconds, wait for the sync before they are sent, so their batch can name the boot's clock anchor "
        "(docs/sync.md); 0: never wait (a demo, a kiosk without NTP).", minimum=0, maximum=3600),
    Key("staff.pin_hash", "str", "", "Salted hash of the staff PIN (make one with `kiosk pin hash`). Empty: the staff screen is locked."),
    Key("staff.max_tries", "int", 5, "Wrong PINs in a row before the PIN pad locks (for a while, see lockout_s).", minimum=1, maximum=100),
    Key("staff.lockout_s", "float", 300.0, "Longest PIN pad lock: each run of max_tries wrong PINs locks it, from 15 s doubling up to this.",
        minimum=FIRST_LOCK_S, maximum=86400),
    Key("staff.idle_s", "float", 60.0, "The staff screen closes after this many idle seconds.", minimum=5, maximum=3600),
    Key("privacy.staff_names", "list[str]", (), "Names of the site's staff (first names or full names): masked as [name] in a comment before it is stored (a name that is also a word, such as Dag or Per, only where it names someone: docs/privacy.md). Pushed with the config by the centre; never sent back.",
        item="name"),
    Key("privacy.keep_acked_days", "int", 90, "Answers the centre has acknowledged are removed from the kiosk after this many days (unacknowledged ones never, unless set aside with `kiosk refused set-aside`: this many days after that); the staff screen needs the last 8.",
        minimum=14, maximum=3650),
    Key("reasons", "table", REASONS, "Reason catalogue: `code = {sv = …, nb = …, en = …}`, one entry per performance area; added to (or replacing) the built-in ones.",
        shown_default="(built-in catalogue)"),
    Key("questions", "array of tables", tuple(default_questions()), "The questions this kiosk can ask; see questions[].*.",
        item="question", min_items=1, shown_default="(one smiley4 question)"),
    Key("questions[].id", "str", None, "Question id.", pattern=IDENTIFIER, required=True),
    Key("questions[].version", "int", 1, "Bump when the wording changes meaning; answers carry it.", minimum=1,
        maximum=MAX_QUESTION_VERSION),
    Key("questions[].scale", "str", "smiley4", "How it is answered: faces (one button each) or 0-10.", choices=SCALE_NAMES),
    Key("questions[].audience", "str", "customer", "Who answers: customers, or employees for a staff pulse question.",
        choices=AUDIENCES),
    Key("questions[].text", "table", None, "Wording per language: `sv = …`, `nb = …`, `en = …`; every language in kiosk.languages is required.",
        required=True),
    Key("questions[].reasons", "list[str]", (), "Reason codes (from [reasons]) offered on the follow-up screen, 0 or 4-6 of them."),
    Key("questions[].max_reasons", "int", 1, "How many reasons a customer may choose: 1, and the reason's tap sends the follow-up (the common case: one face, one reason); more, and the chips toggle and Send appears once one is chosen.",
        minimum=1, maximum=REASONS_OFFERED[1]),
    Key("questions[].comment", "bool", False, "Offer a short free-text comment on the follow-up screen."),
    Key("questions[].followup", "str", "", "Override followup.mode for this question.",
        choices=FOLLOWUP_MODES, empty_means="followup.mode"),
    Key("schedule", "array of tables", (), "Which question to ask when; the first matching entry wins, else the first question."),
    Key("schedule[].question", "str", None, "Question id.", required=True),
    Key("schedule[].days", "list[str]", WEEKDAYS, "Weekdays the entry holds on.", choices=WEEKDAYS, item="weekday"),
    Key("schedule[].from", "str", "00:00", "Start time (HH:MM, store time zone).", pattern=START_TIME),
    Key("schedule[].to", "str", "24:00", "End time (HH:MM), exclusive.", pattern=CLOCK_TIME),
)
_BY_NAME = {k.name: k for k in KEYS}


def key(name: str) -> Key:
    return _BY_NAME[name]


def children(prefix: str) -> dict[str, Key | None]:
    """What may stand directly in the table `prefix` names ('' for the top level, 'gpio.' for
    [gpio], 'questions[].' for an entry of [[questions]]): each name with its key, or None for
    a table of keys (a section such as [gpio])."""
    out: dict[str, Key | None] = {}
    for k in KEYS:
        if not k.name.startswith(prefix):
            continue
        rest = k.name[len(prefix):]
        head = re.split(r"[.\[]", rest, maxsplit=1)[0]
        if head == rest:
            out[head] = k
        else:
            out.setdefault(head, None)
    return out


def held(key: Key, value: Any) -> Any:
    """A checked TOML value as a settings object holds it (lists become tuples, ints floats)."""
    if key.type == "float":
        return float(value)
    if TYPES[key.type].item is not None or key.type == "array of tables":
        return tuple(value)
    return value


def settings_class(prefix: str, *, defaults: bool = True) -> type:
    """A frozen dataclass with one field per key directly under `prefix` ('gpio.' gives the
    fields of [gpio]), typed and (with `defaults`) defaulted from the keys. Subclass it to name
    it and add behaviour; it carries `prefix` as `keys_prefix`."""
    fields = []
    for name, k in children(prefix).items():
        if k is None:
            raise ValueError(f"{prefix}{name} is a table, not a key")
        spec = dataclasses.field(default=held(k, k.default)) if defaults else dataclasses.field()
        fields.append((name, TYPES[k.type].held, spec))
    base = dataclasses.make_dataclass(f"Keys_{prefix.strip('.[]')}", fields, frozen=True)
    base.keys_prefix = prefix
    return base
