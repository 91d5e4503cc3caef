"""UI strings in Swedish, Norwegian Bokmål and English, loaded from `kiosk/locale/<lang>.toml`
through the one translation scheme of Kundpuls (server_sync.program.i18n).

Every string the app shows comes from here; a missing key is an error at look-up (and a test
checks that every language has every key with the same placeholders). Never imports Kivy.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any, Mapping

from server_sync.program.i18n import Catalogues, placeholders
from server_sync.protocol.rounding import rounded
from server_sync.protocol.vocabulary import LANGUAGES, SCRUB_MARKS

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
UI_LANGUAGES = LANGUAGES
# The kinds of site alert the centre raises (server_sync.analysis.alerts), as UI strings.
ALERT_KINDS = {"realtime": "alert_realtime", "trend": "alert_trend"}
UI_TEXTS = Catalogues(LOCALE_DIR, UI_LANGUAGES, what="UI")
# Each mark the kiosk scrubs a comment with (kiosk.scrub), as the staff screen says it: written
# out, so that the catalogue's test sees each key asked for.
SCRUBBED = {SCRUB_MARKS["e-mail"]: "scrubbed_e_mail", SCRUB_MARKS["phone"]: "scrubbed_phone",
            SCRUB_MARKS["id-number"]: "scrubbed_id_number", SCRUB_MARKS["card"]: "scrubbed_card",
            SCRUB_MARKS["iban"]: "scrubbed_iban", SCRUB_MARKS["name"]: "scrubbed_name"}
assert set(SCRUBBED) == set(SCRUB_MARKS.values())
MINUS = "\u2212"

__all__ = ["ALERT_KINDS", "LOCALE_DIR", "MINUS", "SCRUBBED", "UI_LANGUAGES", "UI_TEXTS", "age_text", "alert_text",
           "catalogue", "comment_text", "placeholders", "shown_change", "tr", "whole", "whole_number"]


def catalogue(language: str) -> Mapping[str, str]:
    """All strings of one language."""
    return UI_TEXTS.strings(language)


def tr(key: str, language: str, **values: object) -> str:
    """The string `key` in `language`, with {placeholders} filled from `values`."""
    return UI_TEXTS.text(key, language, **values)


def whole_number(x: float) -> int:
    """A figure as the staff screen shows it: whole, a half away from zero as everywhere
    (`protocol.rounding`: 28.5 is 29; Python's round made it 28); -0.3 is 0, not −0."""
    return int(rounded(x, 0))


def shown_change(now: float | None, before: float | None) -> int | None:
    """The change between two figures of the staff screen: the difference of the whole numbers
    shown, so the three read true together (29 and 76 show −47, not the −46 of 28.6 − 75.4)."""
    return None if now is None or before is None else whole_number(now) - whole_number(before)


def whole(x: float | None, suffix: str = "", signed: bool = False) -> str:
    """A figure of the staff screen: whole, "–" when there is none, a negative one with a true
    minus sign ("−23", as the office's report writes it; a hyphen read as a dash), `signed` with
    "+" too (a zero without one)."""
    if x is None:
        return "–"
    n = whole_number(x)
    return (f"{n:+d}" if signed and n else f"{n:d}").replace("-", MINUS) + suffix   # no change: "0"


def comment_text(text: str, language: str) -> str:
    """A stored comment as staff read it: each scrub mark ("[phone]") in `language`'s words
    ("[telefonnummer borttaget]"), not an English code inside a Swedish sentence."""
    for mark, key in SCRUBBED.items():
        if mark in text:
            text = text.replace(mark, "[" + tr(key, language) + "]")
    return text


def age_text(seconds: float | None, language: str) -> str:
    """A short human duration: 45 s, 12 min, 3 h, 2 d (units per language)."""
    if seconds is None:
        return tr("staff_never", language)
    s = max(0, int(seconds))
    if s < 60:
        return tr("age_s", language, n=s)
    if s < 3600:
        return tr("age_min", language, n=s // 60)
    if s < 86400:
        return tr("age_h", language, n=s // 3600)
    return tr("age_d", language, n=s // 86400)


def alert_text(alert: Mapping[str, Any], language: str, tz: tzinfo, now: datetime) -> str:
    """One site alert for the staff screen: its kind in `language`, when it was raised (store
    time; the date too when not today) and what the centre found, in `language` when the centre
    sent its wording (`text`, protocol.ALERT_TEXT_SINCE), else its English `message`."""
    text = tr(ALERT_KINDS.get(str(alert.get("kind", "")), "alert_other"), language)
    try:
        raised = datetime.fromisoformat(str(alert.get("raised_at", "")).replace("Z", "+00:00"))
    except ValueError:
        raised = None
    if raised is not None:
        if raised.tzinfo is None:
            raised = raised.replace(tzinfo=timezone.utc)
        local = raised.astimezone(tz)
        when = {"time": f"{local:%H:%M}", "day": str(local.day), "month": str(local.month)}
        today = local.date() == now.astimezone(tz).date()
        text += " " + tr("alert_at_today" if today else "alert_at_day", language, **when)
    wording = alert.get("text")
    worded = wording.get(language) if isinstance(wording, Mapping) else None
    message = (worded if isinstance(worded, str) else str(alert.get("message") or "")).strip()
    return f"{text}: {message}" if message else text
