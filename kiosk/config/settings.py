"""The kiosk's settings objects, what the rest of the kiosk reads: `cfg.gpio.buttons`,
`cfg.question("visit").wants_followup(2)`, `asked_question(cfg, now, clock_synced)`.

Their fields and defaults come from the keys (`kiosk.config.schema`); a question's answers and
when it asks why come from its scale's rules (`server_sync.protocol.scales`). They are built by
`kiosk.config.parse` only, are immutable and never read a file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from kiosk.config.schema import settings_class
from server_sync.protocol.scales import SCALES, Scale
from server_sync.protocol.vocabulary import WEEKDAYS


class Filters(settings_class("filters.")):
    """[filters]: which presses are flagged (kept, never counted)."""


class FollowupSettings(settings_class("followup.")):
    """[followup]: when and how long the kiosk asks why."""


class UiSettings(settings_class("ui.")):
    """[ui]: the touchscreen's timings."""


class GpioSettings(settings_class("gpio.")):
    """[gpio]: the button panel's wiring and timings."""


class BrokerSettings(settings_class("broker.")):
    """[broker]: where and as whom the sync agent connects."""


class SyncSettings(settings_class("sync.")):
    """[sync]: batch sizes and retry timings of the sync agent."""


class StaffSettings(settings_class("staff.")):
    """[staff]: the staff screen's PIN and lockout."""


class PrivacySettings(settings_class("privacy.")):
    """[privacy]: what comments are scrubbed of besides identifiers (kiosk.scrub)."""


# Each section of kiosk.toml by name; KioskConfig has a field of that name for each.
SECTIONS: dict[str, type] = {cls.keys_prefix.rstrip("."): cls for cls in (
    Filters, FollowupSettings, UiSettings, GpioSettings, BrokerSettings, SyncSettings, StaffSettings,
    PrivacySettings)}


class Question(settings_class("questions[].", defaults=False)):
    """One [[questions]] entry; `followup` is resolved (never empty)."""

    @property
    def scale_rules(self) -> Scale:
        return SCALES[self.scale]

    @property
    def values(self) -> tuple[int, ...]:
        return self.scale_rules.values

    def is_negative(self, value: int) -> bool:
        """The answers that trigger a follow-up in `negative` mode."""
        return self.scale_rules.is_negative(value)

    def wants_followup(self, value: int) -> bool:
        if self.followup == "never":
            return False
        if self.followup == "every":
            return True
        return self.is_negative(value)


def clock_time(text: str) -> dtime | None:
    """An HH:MM the schema accepted as a time of day; None for 24:00 (midnight at the end)."""
    hours, minutes = (int(part) for part in text.split(":"))
    return None if hours == 24 else dtime(hours, minutes)


@dataclass(frozen=True)
class ScheduleEntry:
    question: str
    days: tuple[int, ...]          # 0 = Monday
    start: dtime
    end: dtime | None              # None = midnight (24:00)

    @classmethod
    def from_values(cls, entry: Mapping[str, Any]) -> "ScheduleEntry":
        """From a checked [[schedule]] entry (weekday names, HH:MM texts)."""
        return cls(question=entry["question"], days=tuple(WEEKDAYS.index(d) for d in entry["days"]),
                   start=clock_time(entry["from"]) or dtime(0, 0), end=clock_time(entry["to"]))

    def matches(self, weekday: int, at: dtime) -> bool:
        if weekday not in self.days:
            return False
        return at >= self.start and (self.end is None or at < self.end)


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
    schedule: tuple[ScheduleEntry, ...]
    filters: Filters
    followup: FollowupSettings
    ui: UiSettings
    gpio: GpioSettings
    broker: BrokerSettings
    sync: SyncSettings
    staff: StaffSettings
    privacy: PrivacySettings
    config_version: int
    source: Path | None

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


def active_question(cfg: KioskConfig, weekday: int, at: dtime) -> Question:
    """The question to ask at a store-local weekday and time, per the schedule."""
    for entry in cfg.schedule:
        if entry.matches(weekday, at):
            return cfg.question(entry.question)
    return cfg.questions[0]


def unsynced_question(cfg: KioskConfig) -> Question:
    """What is asked while the clock is not synced: the first customer question (the first
    question, on a kiosk that asks only employees)."""
    return next((q for q in cfg.questions if q.audience == "customer"), cfg.questions[0])


def asked_question(cfg: KioskConfig, now: datetime, clock_synced: bool) -> Question:
    """The question to ask now, the one rule of the screen and the buttons: the schedule's at
    the store-local weekday and time of `now`. While the clock is not synced that weekday and
    time say nothing (a Pi without RTC boots on fake-hwclock's time of its last shutdown:
    Tuesday 08:55 reads as Monday 20:47, the closing-time employee pulse's hour), so there is
    no scheduled switch: `unsynced_question`, never an employee question of the schedule."""
    if not clock_synced:
        return unsynced_question(cfg)
    local = now.astimezone(ZoneInfo(cfg.timezone))
    return active_question(cfg, local.weekday(), local.time())
