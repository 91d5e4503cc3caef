"""The kiosk's configuration (`kiosk.toml`): schema, defaults, validation and where files live.

Precedence, for every command: command-line option (`--config`, `--data-dir`) over environment
(`KUNDPULS_CONFIG`, `KUNDPULS_DATA_DIR`) over the file over built-in defaults.

Every key is declared once in `KEYS` with its documentation; the README and
`firmware_config/kiosk.toml` must document each (a test checks). A broken file raises
`ConfigError` naming the key, the line and what is wrong; this module never prints.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import time as dtime
from pathlib import Path
from typing import Any, Mapping

from kiosk.exc import ConfigError
from kiosk.tomlpos import line_of

SCALES: dict[str, tuple[int, ...]] = {
    "smiley4": (1, 2, 3, 4),        # 1 = very unhappy … 4 = very happy
    "smiley5": (1, 2, 3, 4, 5),
    "nps11": tuple(range(0, 11)),   # 0 … 10
}
AUDIENCES = ("customer", "employee")
LANGUAGES = ("sv", "nb", "en")
FOLLOWUP_MODES = ("negative", "every", "never")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# BCM pins a button panel must not use: ID EEPROM (0, 1), I2C with fixed pull-ups (2, 3),
# UART console (14, 15).
RESERVED_PINS = frozenset({0, 1, 2, 3, 14, 15})
VALID_PINS = frozenset(range(0, 28))

ENV_CONFIG = "KUNDPULS_CONFIG"
ENV_DATA_DIR = "KUNDPULS_DATA_DIR"


@dataclass(frozen=True)
class Key:
    """One documented configuration key."""
    name: str          # dotted; `questions[].id` for keys inside an array of tables
    type: str
    default: Any
    doc: str


KEYS: tuple[Key, ...] = (
    Key("config_version", "int", 0, "Version of this configuration; a config pushed by the centre must be higher to replace it."),
    Key("kiosk.id", "str", "demo-kiosk-1", "Kiosk id: letters, digits, '-' and '_', at most 64; unique in the fleet, used in MQTT topics."),
    Key("kiosk.site", "str", "demo-site-1", "Site (store) id the kiosk belongs to."),
    Key("kiosk.data_dir", "path", "", "Where the database lives. Empty: /var/lib/kundpuls on a Pi, ~/.local/share/kundpuls elsewhere."),
    Key("kiosk.languages", "list[str]", list(LANGUAGES), "UI languages offered, from sv, nb, en; the first is shown after idle unless default_language says otherwise."),
    Key("kiosk.default_language", "str", "sv", "Language the kiosk returns to after idle."),
    Key("kiosk.timezone", "str", "Europe/Stockholm", "IANA time zone of the store: opening hours, 'today' and schedules use it."),
    Key("filters.repeat_window_s", "float", 5.0, "A press within this many seconds of the previous answer on this kiosk is kept but flagged 'repeat'. 0 disables."),
    Key("filters.burst_per_minute", "int", 10, "More than this many answers within a minute are flagged 'burst'. 0 disables."),
    Key("followup.mode", "str", "negative", "When to ask why: negative (the two lowest smileys, NPS 0-6), every, never."),
    Key("followup.idle_timeout_s", "float", 10.0, "Idle seconds on the follow-up screen before returning to the question (what was chosen is kept)."),
    Key("followup.max_comment_chars", "int", 200, "Longest comment accepted; longer is cut."),
    Key("ui.thank_you_s", "float", 2.0, "How long the thank-you screen shows."),
    Key("ui.language_reset_s", "float", 30.0, "Idle seconds after which the language returns to default_language."),
    Key("ui.fullscreen", "bool", True, "Full screen on the kiosk (the demo opens a window)."),
    Key("ui.corner_hold_s", "float", 3.0, "Seconds to hold the top-left corner to open the staff PIN pad."),
    Key("gpio.buttons", "list[int]", [5, 6, 13, 19], "BCM pins of the smiley buttons, most negative first (4 or 5 entries, matching the scale)."),
    Key("gpio.leds", "list[int]", [12, 16, 20, 21], "BCM pins of the LEDs, one per button in the same order (empty: no LEDs)."),
    Key("gpio.pull_up", "bool", True, "Buttons connect the pin to ground (internal pull-up). false: to 3.3 V."),
    Key("gpio.bounce_s", "float", 0.03, "Contact bounce: edges closer than this are ignored."),
    Key("gpio.max_press_s", "float", 2.0, "A press held longer than this is not an answer (stuck button, leaning, gesture)."),
    Key("gpio.staff_hold_s", "float", 3.0, "Holding the two outer buttons this long is the staff gesture."),
    Key("gpio.led_flash_s", "float", 0.8, "How long a button's LED lights after a press."),
    Key("gpio.idle_pattern", "bool", True, "Breathe the LEDs gently while idle."),
    Key("broker.host", "str", "localhost", "MQTT broker host name."),
    Key("broker.port", "int", 8883, "MQTT broker port (8883 for TLS)."),
    Key("broker.tls", "bool", True, "Use TLS. Only a test or a laptop demo turns it off."),
    Key("broker.ca_file", "path", "", "CA certificate that signed the broker's certificate (empty: the system's CAs)."),
    Key("broker.username", "str", "", "The kiosk's broker user name (empty: the kiosk id)."),
    Key("broker.password_file", "path", "", "File holding the kiosk's broker password (kept out of this file, mode 0600)."),
    Key("broker.topic_prefix", "str", "", "Prefix before kundpuls/v1 in every topic, e.g. 'acme/'."),
    Key("broker.keepalive_s", "int", 30, "MQTT keepalive; the broker publishes the Last Will after 1.5× this."),
    Key("sync.batch_max_events", "int", 500, "Most events in one MQTT message."),
    Key("sync.batch_max_bytes", "int", 262144, "Largest MQTT payload the agent builds, in bytes."),
    Key("sync.ack_timeout_s", "float", 30.0, "Unacknowledged events are sent again after this long."),
    Key("sync.backoff_min_s", "float", 1.0, "First reconnect delay; doubles on each failure."),
    Key("sync.backoff_max_s", "float", 60.0, "Longest reconnect delay."),
    Key("sync.status_interval_s", "float", 60.0, "How often the agent republishes its status."),
    Key("staff.pin_hash", "str", "", "Salted hash of the staff PIN (make one with `kiosk pin hash`). Empty: the staff screen is locked."),
    Key("staff.max_tries", "int", 5, "Wrong PINs in a row before the PIN pad locks (for a while, see lockout_s)."),
    Key("staff.lockout_s", "float", 300.0, "Longest PIN pad lock: each run of max_tries wrong PINs locks it, from 15 s doubling up to this."),
    Key("staff.idle_s", "float", 60.0, "The staff screen closes after this many idle seconds."),
    Key("reasons", "table", "(built-in catalogue)", "Reason catalogue: `code = {sv = …, nb = …, en = …}`, one entry per performance area."),
    Key("questions", "array of tables", "(one smiley4 question)", "The questions this kiosk can ask; see questions[].*."),
    Key("questions[].id", "str", None, "Question id (letters, digits, '-', '_')."),
    Key("questions[].version", "int", 1, "Bump when the wording changes meaning; answers carry it."),
    Key("questions[].scale", "str", "smiley4", "smiley4, smiley5 or nps11."),
    Key("questions[].audience", "str", "customer", "customer, or employee for a staff pulse question."),
    Key("questions[].text", "table", None, "Wording per language: `sv = …`, `nb = …`, `en = …`; every language in kiosk.languages is required."),
    Key("questions[].reasons", "list[str]", [], "Reason codes (from [reasons]) offered on the follow-up screen, 0 or 4-6 of them."),
    Key("questions[].comment", "bool", False, "Offer a short free-text comment on the follow-up screen."),
    Key("questions[].followup", "str", "", "Override followup.mode for this question (negative, every, never)."),
    Key("schedule", "array of tables", [], "Which question to ask when; the first matching entry wins, else the first question."),
    Key("schedule[].question", "str", None, "Question id."),
    Key("schedule[].days", "list[str]", list(WEEKDAYS), "Weekdays: mon … sun."),
    Key("schedule[].from", "str", "00:00", "Start time (HH:MM, store time zone)."),
    Key("schedule[].to", "str", "24:00", "End time (HH:MM), exclusive."),
)
KEY_NAMES = frozenset(k.name for k in KEYS)
_DEFAULTS = {k.name: k.default for k in KEYS}


def _children(prefix: str) -> set[str]:
    """Names directly below `prefix` in KEYS ('' for the top level, 'kiosk.' for [kiosk])."""
    out = set()
    for n in KEY_NAMES:
        if n.startswith(prefix):
            rest = n[len(prefix):]
            out.add(re.split(r"[.\[]", rest, maxsplit=1)[0])
    return out


_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Question:
    id: str
    version: int
    scale: str
    audience: str
    text: Mapping[str, str]
    reasons: tuple[str, ...] = ()
    comment: bool = False
    followup: str = "negative"

    @property
    def values(self) -> tuple[int, ...]:
        return SCALES[self.scale]

    def is_negative(self, value: int) -> bool:
        """The answers that trigger a follow-up in `negative` mode."""
        if self.scale == "nps11":
            return value <= 6
        return value <= 2

    def wants_followup(self, value: int) -> bool:
        if self.followup == "never":
            return False
        if self.followup == "every":
            return True
        return self.is_negative(value)


@dataclass(frozen=True)
class ScheduleEntry:
    question: str
    days: tuple[int, ...]          # 0 = Monday
    start: dtime
    end: dtime | None              # None = midnight (24:00)

    def matches(self, weekday: int, at: dtime) -> bool:
        if weekday not in self.days:
            return False
        return at >= self.start and (self.end is None or at < self.end)


@dataclass(frozen=True)
class Filters:
    repeat_window_s: float = 5.0
    burst_per_minute: int = 10


@dataclass(frozen=True)
class FollowupSettings:
    mode: str = "negative"
    idle_timeout_s: float = 10.0
    max_comment_chars: int = 200


@dataclass(frozen=True)
class UiSettings:
    thank_you_s: float = 2.0
    language_reset_s: float = 30.0
    fullscreen: bool = True
    corner_hold_s: float = 3.0


@dataclass(frozen=True)
class GpioSettings:
    buttons: tuple[int, ...] = (5, 6, 13, 19)
    leds: tuple[int, ...] = (12, 16, 20, 21)
    pull_up: bool = True
    bounce_s: float = 0.03
    max_press_s: float = 2.0
    staff_hold_s: float = 3.0
    led_flash_s: float = 0.8
    idle_pattern: bool = True


@dataclass(frozen=True)
class BrokerSettings:
    host: str = "localhost"
    port: int = 8883
    tls: bool = True
    ca_file: str = ""
    username: str = ""
    password_file: str = ""
    topic_prefix: str = ""
    keepalive_s: int = 30


@dataclass(frozen=True)
class SyncSettings:
    batch_max_events: int = 500
    batch_max_bytes: int = 262144
    ack_timeout_s: float = 30.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    status_interval_s: float = 60.0


@dataclass(frozen=True)
class StaffSettings:
    pin_hash: str = ""
    max_tries: int = 5
    lockout_s: float = 300.0
    idle_s: float = 60.0


@dataclass(frozen=True)
class KioskConfig:
    kiosk_id: str
    site_id: str
    data_dir: Path
    languages: tuple[str, ...]
    default_language: str
    timezone: str
    questions: tuple[Question, ...]
    reasons: Mapping[str, Mapping[str, str]]
    schedule: tuple[ScheduleEntry, ...] = ()
    filters: Filters = field(default_factory=Filters)
    followup: FollowupSettings = field(default_factory=FollowupSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    gpio: GpioSettings = field(default_factory=GpioSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    config_version: int = 0
    source: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "kiosk.db"

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def with_data_dir(self, data_dir: Path) -> "KioskConfig":
        return replace(self, data_dir=Path(data_dir))


# ---------------------------------------------------------------------------------------------
# Where things live

def running_on_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="ignore")
    except OSError:
        return False


PI_DATA_DIR = "/var/lib/kundpuls"


def default_data_dir() -> Path:
    if running_on_pi():
        return Path(PI_DATA_DIR)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kundpuls"


def default_config_path() -> Path:
    if running_on_pi():
        return Path("/etc/kundpuls/kiosk.toml")
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kundpuls" / "kiosk.toml"


def resolve_config_path(cli_config: str | None, env: Mapping[str, str] | None = None) -> tuple[Path | None, bool]:
    """The config file to read and whether the user named it explicitly (then it must exist)."""
    env = os.environ if env is None else env
    if cli_config:
        return Path(cli_config), True
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]), True
    path = default_config_path()
    return (path if path.exists() else None), False


def load(cli_config: str | None = None, cli_data_dir: str | None = None,
         env: Mapping[str, str] | None = None, demo: bool = False) -> KioskConfig:
    """Load the effective configuration with the documented precedence."""
    env = os.environ if env is None else env
    path, explicit = resolve_config_path(cli_config, env)
    if demo and not explicit:
        from seeds.demo import demo_config_mapping
        cfg = parse_config(demo_config_mapping())
        if not (cli_data_dir or env.get(ENV_DATA_DIR)):
            cfg = cfg.with_data_dir(default_data_dir() / "demo")
    elif path is not None:
        cfg = load_file(path)
    else:
        cfg = parse_config({})
    if cli_data_dir:
        cfg = cfg.with_data_dir(Path(cli_data_dir))
    elif env.get(ENV_DATA_DIR):
        cfg = cfg.with_data_dir(Path(env[ENV_DATA_DIR]))
    from kiosk.pushed import overlay       # a config the centre pushed (kept in the data dir)
    return overlay(cfg, demo=demo and not explicit)


def load_file(path: Path | str) -> KioskConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path)) from None
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", path=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})", path=str(path)) from None
    return parse_text(text, path)


def parse_text(text: str, path: Path | str | None = None) -> KioskConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise ConfigError(f"TOML syntax error: {e}", line=int(m.group(1)) if m else None,
                          path=str(path) if path else None) from None
    return parse_config(data, text=text, path=path)


# ---------------------------------------------------------------------------------------------
# Validation

class _Reader:
    """Reads typed values out of the parsed mapping, raising ConfigError with key and line."""

    def __init__(self, data: Mapping[str, Any], text: str | None, path: Path | str | None) -> None:
        self.data = data
        self.text = text
        self.path = str(path) if path else None

    def fail(self, keypath: tuple, message: str) -> ConfigError:
        name = ".".join(f"[{p}]" if isinstance(p, int) else p for p in keypath).replace(".[", "[")
        return ConfigError(message, key=name, line=line_of(self.text, keypath), path=self.path)

    def table(self, keypath: tuple, node: Any) -> Mapping[str, Any]:
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise self.fail(keypath, f"must be a table, got {_tname(node)}")
        return node

    def check_known(self, keypath: tuple, node: Mapping[str, Any], schema_prefix: str) -> None:
        known = _children(schema_prefix)
        for k in node:
            if k not in known:
                raise self.fail(keypath + (k,), f"unknown key; known keys here: {', '.join(sorted(known))}")

    def get(self, node: Mapping[str, Any], keypath: tuple, schema: str, kind: type | tuple,
            default: Any = None, required: bool = False) -> Any:
        key = keypath[-1]
        if key not in node:
            if required:
                raise self.fail(keypath, "is required")
            return _DEFAULTS.get(schema) if default is None else default
        v = node[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if isinstance(v, bool) and bool not in kinds:
            raise self.fail(keypath, f"must be {_kname(kinds)}, got a boolean")
        if not isinstance(v, kinds):
            raise self.fail(keypath, f"must be {_kname(kinds)}, got {_tname(v)} {v!r}")
        return v

    def number(self, node, keypath, schema, kind=float, minimum=None, maximum=None):
        v = self.get(node, keypath, schema, kind)
        if minimum is not None and v < minimum:
            raise self.fail(keypath, f"must be at least {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise self.fail(keypath, f"must be at most {maximum}, got {v}")
        return v

    def choice(self, node, keypath, schema, choices, default=None):
        v = self.get(node, keypath, schema, str, default=default)
        if v not in choices:
            raise self.fail(keypath, f"must be one of {', '.join(choices)}, got {v!r}")
        return v

    def str_list(self, node, keypath, schema):
        v = self.get(node, keypath, schema, list)
        for i, item in enumerate(v):
            if not isinstance(item, str):
                raise self.fail(keypath, f"item {i + 1} must be a string, got {_tname(item)}")
        return list(v)

    def int_list(self, node, keypath, schema):
        v = self.get(node, keypath, schema, list)
        for i, item in enumerate(v):
            if not isinstance(item, int) or isinstance(item, bool):
                raise self.fail(keypath, f"item {i + 1} must be an integer, got {_tname(item)}")
        return list(v)


def _tname(v: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
            list: "an array", dict: "a table"}.get(type(v), type(v).__name__)


def _kname(kinds: tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "an array", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds if not (k is int and float in kinds))


def _parse_hhmm(r: _Reader, keypath: tuple, s: str) -> dtime | None:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", s)
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59 or (int(m.group(1)) == 24 and int(m.group(2))):
        raise r.fail(keypath, f"must be a time HH:MM between 00:00 and 24:00, got {s!r}")
    if int(m.group(1)) == 24:
        return None
    return dtime(int(m.group(1)), int(m.group(2)))


def parse_config(data: Mapping[str, Any], text: str | None = None,
                 path: Path | str | None = None) -> KioskConfig:
    """Validate a parsed TOML mapping (a file, or a config pushed by the centre)."""
    from seeds.catalogue import REASONS, default_questions

    r = _Reader(data, text, path)
    r.check_known((), data, "")
    version = r.number(data, ("config_version",), "config_version", int, minimum=0)

    k = r.table(("kiosk",), data.get("kiosk"))
    r.check_known(("kiosk",), k, "kiosk.")
    kiosk_id = r.get(k, ("kiosk", "id"), "kiosk.id", str)
    if not _ID_RE.match(kiosk_id):
        raise r.fail(("kiosk", "id"), f"must be 1-64 letters, digits, '-' or '_', got {kiosk_id!r}")
    site_id = r.get(k, ("kiosk", "site"), "kiosk.site", str)
    if not _ID_RE.match(site_id):
        raise r.fail(("kiosk", "site"), f"must be 1-64 letters, digits, '-' or '_', got {site_id!r}")
    data_dir_s = r.get(k, ("kiosk", "data_dir"), "kiosk.data_dir", str)
    data_dir = Path(data_dir_s).expanduser() if data_dir_s else default_data_dir()
    languages = r.str_list(k, ("kiosk", "languages"), "kiosk.languages")
    if not languages:
        raise r.fail(("kiosk", "languages"), "must name at least one language")
    for lang in languages:
        if lang not in LANGUAGES:
            raise r.fail(("kiosk", "languages"), f"unsupported language {lang!r}; supported: {', '.join(LANGUAGES)}")
    if len(set(languages)) != len(languages):
        raise r.fail(("kiosk", "languages"), "lists a language twice")
    default_language = r.get(k, ("kiosk", "default_language"), "kiosk.default_language", str,
                             default="sv" if "sv" in languages else languages[0])
    if default_language not in languages:
        raise r.fail(("kiosk", "default_language"), f"must be one of kiosk.languages ({', '.join(languages)}), got {default_language!r}")
    tz = r.get(k, ("kiosk", "timezone"), "kiosk.timezone", str)
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(tz)
    except Exception:
        raise r.fail(("kiosk", "timezone"), f"unknown time zone {tz!r} (use an IANA name like Europe/Stockholm)") from None

    f = r.table(("filters",), data.get("filters"))
    r.check_known(("filters",), f, "filters.")
    filters = Filters(
        repeat_window_s=r.number(f, ("filters", "repeat_window_s"), "filters.repeat_window_s", float, 0, 3600),
        burst_per_minute=r.number(f, ("filters", "burst_per_minute"), "filters.burst_per_minute", int, 0, 10000),
    )

    fu = r.table(("followup",), data.get("followup"))
    r.check_known(("followup",), fu, "followup.")
    followup = FollowupSettings(
        mode=r.choice(fu, ("followup", "mode"), "followup.mode", FOLLOWUP_MODES),
        idle_timeout_s=r.number(fu, ("followup", "idle_timeout_s"), "followup.idle_timeout_s", float, 1, 600),
        max_comment_chars=r.number(fu, ("followup", "max_comment_chars"), "followup.max_comment_chars", int, 0, 2000),
    )

    u = r.table(("ui",), data.get("ui"))
    r.check_known(("ui",), u, "ui.")
    ui = UiSettings(
        thank_you_s=r.number(u, ("ui", "thank_you_s"), "ui.thank_you_s", float, 0.2, 60),
        language_reset_s=r.number(u, ("ui", "language_reset_s"), "ui.language_reset_s", float, 1, 3600),
        fullscreen=r.get(u, ("ui", "fullscreen"), "ui.fullscreen", bool),
        corner_hold_s=r.number(u, ("ui", "corner_hold_s"), "ui.corner_hold_s", float, 0.5, 30),
    )

    rs = r.table(("reasons",), data.get("reasons"))
    reasons: dict[str, dict[str, str]] = {c: dict(v) for c, v in REASONS.items()}
    for code, labels in rs.items():
        if not _ID_RE.match(code):
            raise r.fail(("reasons", code), "reason codes are letters, digits, '-' or '_'")
        labels = r.table(("reasons", code), labels)
        for lang in languages:
            if not isinstance(labels.get(lang), str) or not labels.get(lang).strip():
                raise r.fail(("reasons", code), f"needs a label in {lang!r}")
        reasons[code] = dict(labels)

    qs_raw = data.get("questions")
    if qs_raw is None:
        qs_raw = default_questions()
    elif not isinstance(qs_raw, list) or not qs_raw:
        raise r.fail(("questions",), "must be a non-empty array of tables ([[questions]])")
    questions: list[Question] = []
    for i, q in enumerate(qs_raw):
        kp = ("questions", i)
        q = r.table(kp, q)
        r.check_known(kp, q, "questions[].")
        qid = r.get(q, kp + ("id",), "questions[].id", str, required=True)
        if not _ID_RE.match(qid):
            raise r.fail(kp + ("id",), f"must be 1-64 letters, digits, '-' or '_', got {qid!r}")
        if any(x.id == qid for x in questions):
            raise r.fail(kp + ("id",), f"duplicate question id {qid!r}")
        qv = r.number(q, kp + ("version",), "questions[].version", int, 1)
        scale = r.choice(q, kp + ("scale",), "questions[].scale", tuple(SCALES))
        audience = r.choice(q, kp + ("audience",), "questions[].audience", AUDIENCES)
        if "text" not in q:
            raise r.fail(kp + ("text",), "is required (wording per language)")
        text_t = r.table(kp + ("text",), q["text"])
        for lang in languages:
            t = text_t.get(lang)
            if not isinstance(t, str) or not t.strip():
                raise r.fail(kp + ("text",), f"needs wording in {lang!r}")
        qreasons = r.str_list(q, kp + ("reasons",), "questions[].reasons")
        for code in qreasons:
            if code not in reasons:
                raise r.fail(kp + ("reasons",), f"unknown reason code {code!r}; known: {', '.join(sorted(reasons))}")
        if qreasons and not 4 <= len(qreasons) <= 6:
            raise r.fail(kp + ("reasons",), f"offer 4 to 6 reasons (or none), got {len(qreasons)}")
        fmode = r.get(q, kp + ("followup",), "questions[].followup", str, default="") or followup.mode
        if fmode not in FOLLOWUP_MODES:
            raise r.fail(kp + ("followup",), f"must be one of {', '.join(FOLLOWUP_MODES)}, got {fmode!r}")
        questions.append(Question(
            id=qid, version=qv, scale=scale, audience=audience,
            text={lang: text_t[lang] for lang in text_t if isinstance(text_t[lang], str)},
            reasons=tuple(qreasons),
            comment=r.get(q, kp + ("comment",), "questions[].comment", bool),
            followup=fmode,
        ))

    sched_raw = data.get("schedule", [])
    if not isinstance(sched_raw, list):
        raise r.fail(("schedule",), "must be an array of tables ([[schedule]])")
    schedule: list[ScheduleEntry] = []
    for i, s in enumerate(sched_raw):
        kp = ("schedule", i)
        s = r.table(kp, s)
        r.check_known(kp, s, "schedule[].")
        qid = r.get(s, kp + ("question",), "schedule[].question", str, required=True)
        if qid not in {q.id for q in questions}:
            raise r.fail(kp + ("question",), f"no question with id {qid!r}")
        days = r.str_list(s, kp + ("days",), "schedule[].days")
        for d in days:
            if d not in WEEKDAYS:
                raise r.fail(kp + ("days",), f"unknown weekday {d!r}; use {', '.join(WEEKDAYS)}")
        start = _parse_hhmm(r, kp + ("from",), r.get(s, kp + ("from",), "schedule[].from", str)) or dtime(0, 0)
        end = _parse_hhmm(r, kp + ("to",), r.get(s, kp + ("to",), "schedule[].to", str))
        if end is not None and end <= start:
            raise r.fail(kp + ("to",), "must be later than 'from'")
        schedule.append(ScheduleEntry(qid, tuple(WEEKDAYS.index(d) for d in days), start, end))

    g = r.table(("gpio",), data.get("gpio"))
    r.check_known(("gpio",), g, "gpio.")
    buttons = r.int_list(g, ("gpio", "buttons"), "gpio.buttons")
    leds = r.int_list(g, ("gpio", "leds"), "gpio.leds")
    if len(buttons) not in (4, 5):
        raise r.fail(("gpio", "buttons"), f"needs 4 or 5 pins, got {len(buttons)}")
    if leds and len(leds) != len(buttons):
        raise r.fail(("gpio", "leds"), f"needs one LED per button ({len(buttons)}), got {len(leds)}")
    seen: set[int] = set()
    for name, pins in (("buttons", buttons), ("leds", leds)):
        for p in pins:
            if p not in VALID_PINS:
                raise r.fail(("gpio", name), f"BCM pin {p} does not exist (0-27)")
            if p in RESERVED_PINS:
                raise r.fail(("gpio", name), f"BCM pin {p} is reserved (ID EEPROM, I2C or UART); pick another")
            if p in seen:
                raise r.fail(("gpio", name), f"BCM pin {p} is used twice")
            seen.add(p)
    gpio = GpioSettings(
        buttons=tuple(buttons), leds=tuple(leds),
        pull_up=r.get(g, ("gpio", "pull_up"), "gpio.pull_up", bool),
        bounce_s=r.number(g, ("gpio", "bounce_s"), "gpio.bounce_s", float, 0, 1),
        max_press_s=r.number(g, ("gpio", "max_press_s"), "gpio.max_press_s", float, 0.1, 60),
        staff_hold_s=r.number(g, ("gpio", "staff_hold_s"), "gpio.staff_hold_s", float, 0.5, 60),
        led_flash_s=r.number(g, ("gpio", "led_flash_s"), "gpio.led_flash_s", float, 0, 10),
        idle_pattern=r.get(g, ("gpio", "idle_pattern"), "gpio.idle_pattern", bool),
    )
    for i, q in enumerate(questions):
        if q.scale != "nps11" and len(q.values) != len(buttons):
            where = ("gpio", "buttons") if "buttons" in g else ("questions", i, "scale")
            raise r.fail(where, f"question {q.id!r} has {len(q.values)} answers but {len(buttons)} buttons are wired (gpio.buttons)")

    b = r.table(("broker",), data.get("broker"))
    r.check_known(("broker",), b, "broker.")
    broker = BrokerSettings(
        host=r.get(b, ("broker", "host"), "broker.host", str),
        port=r.number(b, ("broker", "port"), "broker.port", int, 1, 65535),
        tls=r.get(b, ("broker", "tls"), "broker.tls", bool),
        ca_file=r.get(b, ("broker", "ca_file"), "broker.ca_file", str),
        username=r.get(b, ("broker", "username"), "broker.username", str) or kiosk_id,
        password_file=r.get(b, ("broker", "password_file"), "broker.password_file", str),
        topic_prefix=r.get(b, ("broker", "topic_prefix"), "broker.topic_prefix", str),
        keepalive_s=r.number(b, ("broker", "keepalive_s"), "broker.keepalive_s", int, 5, 3600),
    )
    if broker.topic_prefix and (not broker.topic_prefix.endswith("/") or any(c in broker.topic_prefix for c in "+#")):
        raise r.fail(("broker", "topic_prefix"), "must end with '/' and contain no '+' or '#'")

    sy = r.table(("sync",), data.get("sync"))
    r.check_known(("sync",), sy, "sync.")
    sync = SyncSettings(
        batch_max_events=r.number(sy, ("sync", "batch_max_events"), "sync.batch_max_events", int, 1, 5000),
        batch_max_bytes=r.number(sy, ("sync", "batch_max_bytes"), "sync.batch_max_bytes", int, 4096, 16 * 1024 * 1024),
        ack_timeout_s=r.number(sy, ("sync", "ack_timeout_s"), "sync.ack_timeout_s", float, 1, 3600),
        backoff_min_s=r.number(sy, ("sync", "backoff_min_s"), "sync.backoff_min_s", float, 0.05, 600),
        backoff_max_s=r.number(sy, ("sync", "backoff_max_s"), "sync.backoff_max_s", float, 0.1, 3600),
        status_interval_s=r.number(sy, ("sync", "status_interval_s"), "sync.status_interval_s", float, 1, 86400),
    )

    st = r.table(("staff",), data.get("staff"))
    r.check_known(("staff",), st, "staff.")
    pin_hash = r.get(st, ("staff", "pin_hash"), "staff.pin_hash", str)
    if pin_hash:
        from kiosk.pin import is_valid_hash
        if not is_valid_hash(pin_hash):
            raise r.fail(("staff", "pin_hash"), "is not a PIN hash made by `kiosk pin hash` (never put the PIN itself here)")
    staff = StaffSettings(
        pin_hash=pin_hash,
        max_tries=r.number(st, ("staff", "max_tries"), "staff.max_tries", int, 1, 100),
        lockout_s=r.number(st, ("staff", "lockout_s"), "staff.lockout_s", float, 0, 86400),
        idle_s=r.number(st, ("staff", "idle_s"), "staff.idle_s", float, 5, 3600),
    )

    return KioskConfig(
        kiosk_id=kiosk_id, site_id=site_id, data_dir=data_dir, languages=tuple(languages),
        default_language=default_language, timezone=tz, questions=tuple(questions),
        reasons=reasons, schedule=tuple(schedule), filters=filters, followup=followup, ui=ui,
        gpio=gpio, broker=broker, sync=sync, staff=staff, config_version=version,
        source=Path(path) if path else None,
    )


def active_question(cfg: KioskConfig, weekday: int, at: dtime) -> Question:
    """The question to ask at a store-local weekday and time, per the schedule."""
    for entry in cfg.schedule:
        if entry.matches(weekday, at):
            return cfg.question(entry.question)
    return cfg.questions[0]
