"""Every UI string exists in Swedish, Norwegian Bokmål and English with the same placeholders,
and every string the app asks for exists (a missing translation fails here, not on a kiosk)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.ui.texts import LOCALE_DIR, UI_LANGUAGES, UI_TEXTS, age_text, catalogue, placeholders, tr

UI_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "ui"
# tr('key', ...) in Python and app.tr('key', ...) in kv; also keys chosen by a conditional.
_USE = re.compile(r"""\btr\(\s*['"]([a-z0-9_]+)['"]""")
_COND = re.compile(r"""['"]([a-z0-9_]+)['"]\s+if\s+.+?\s+else\s+['"]([a-z0-9_]+)['"]""")


def _keys_used() -> set[str]:
    keys: set[str] = set()
    for path in list(UI_DIR.glob("*.py")) + list(UI_DIR.glob("*.kv")):
        text = path.read_text(encoding="utf-8")
        keys |= set(_USE.findall(text))
        for a, b in _COND.findall(text):
            keys |= {k for k in (a, b) if k in catalogue("en") or "_" in k}
    return keys


def test_every_language_has_a_locale_file():
    assert sorted(p.stem for p in LOCALE_DIR.glob("*.toml")) == sorted(UI_LANGUAGES)


def test_same_keys_and_placeholders_in_every_language():
    # The check of the one translation scheme (server_sync.program.i18n), as for the report's words.
    assert UI_TEXTS.problems() == []
    assert placeholders("Back in {s} s, {n:,} left") == {"s", "n"}


def test_every_string_the_app_uses_is_translated():
    used = _keys_used()
    assert len(used) > 30, used
    for lang in UI_LANGUAGES:
        missing = sorted(k for k in used if k not in catalogue(lang))
        assert not missing, f"{lang} lacks {missing}"


def test_missing_key_is_an_error_naming_key_and_language():
    with pytest.raises(KeyError, match="no_such_key.*'nb'"):
        tr("no_such_key", "nb")


def test_languages_name_themselves():
    assert [tr("language_name", l) for l in ("sv", "nb", "en")] == ["Svenska", "Norsk", "English"]


def test_age_text():
    # A no-break space: the staff screen broke "9 / tim" over two lines.
    assert age_text(None, "en") == "never"
    assert age_text(42, "sv") == "42\u00a0s"
    assert age_text(125, "en") == "2\u00a0min"
    assert age_text(3 * 3600 + 5, "sv") == "3\u00a0tim"
    assert age_text(3 * 3600 + 5, "nb") == "3\u00a0t"
    assert age_text(2 * 86400, "en") == "2\u00a0d"
    assert "version\u00a0{version}" in tr("staff_kiosk", "sv", id="{id}", ip="{ip}", version="{version}")


def test_alert_text_names_the_kind_in_the_language_and_the_local_time():
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from kiosk.ui.texts import ALERT_KINDS, alert_text
    tz = ZoneInfo("Europe/Oslo")
    now = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    trend = {"kind": "trend", "raised_at": "2026-11-23T09:05:00Z", "message": "'visit' down 12 points"}
    assert alert_text(trend, "nb", tz, now) == "Resultatet faller kl. 10:05: 'visit' down 12 points"
    assert alert_text(trend, "sv", tz, now).startswith("Resultatet sjunker kl. 10:05")
    old = dict(trend, kind="realtime", raised_at="2026-11-20T22:30:00+00:00", message="")
    assert alert_text(old, "en", tz, now) == "Many unhappy answers 20/11 at 23:30"
    assert alert_text(dict(old, raised_at="2026-11-20T23:30:00+00:00"), "nb", tz, now) == \
        "Mange misfornøyde svar 21.11. kl. 00:30"
    # A kind this kiosk does not know, or a time it cannot read: still a translated line.
    odd = {"kind": "something-new", "raised_at": "yesterday", "message": "details"}
    assert alert_text(odd, "sv", tz, now) == "Larm från kontoret: details"
    # The centre's wording in the kiosk's language when it sent it (protocol.ALERT_TEXT_SINCE);
    # a language it lacks, or a malformed `text`, falls back to the English message.
    worded = dict(trend, text={"sv": "”visit” Nöjdindex ned 12,0 poäng", "nb": "«visit» ned 12,0 poeng"})
    assert alert_text(worded, "sv", tz, now) == "Resultatet sjunker kl. 10:05: ”visit” Nöjdindex ned 12,0 poäng"
    assert alert_text(worded, "nb", tz, now).endswith(": «visit» ned 12,0 poeng")
    assert alert_text(worded, "en", tz, now).endswith(": 'visit' down 12 points")
    for broken in ("sv text", ["sv"], {"sv": None}):
        assert alert_text(dict(trend, text=broken), "sv", tz, now).endswith(": 'visit' down 12 points")
    for kind, key in ALERT_KINDS.items():
        assert all(tr(key, lang) for lang in UI_LANGUAGES), kind


def test_words_as_each_language_writes_them():
    """From a read of every screen: Swedish writes "i dag" (Språkrådet), as the rest of its
    strings did; two keys side by side have two words ("Slett" was both Delete and Clear in
    Norwegian); the staff view quotes a comment in the language's quotation marks and says its
    hour as the language does."""
    from server_sync.protocol.catalogue import QUESTIONS
    shipped = (Path(__file__).resolve().parents[2] / "firmware_config" / "kiosk.toml").read_text(encoding="utf-8")
    swedish = [*catalogue("sv").values(), *(q["text"]["sv"] for q in QUESTIONS.values()), shipped]
    assert not any(re.search(r"\bidag\b", text, re.I) for text in swedish)      # the questions asked too
    for lang in UI_LANGUAGES:
        assert tr("clear", lang) != tr("key_backspace", lang), lang
    assert [(tr("quote_open", lang), tr("quote_close", lang)) for lang in ("sv", "nb", "en")] == [
        ("”", "”"), ("«", "»"), ("“", "”")]
    # A percentage as the office's pages write it ("74 %" with a no-break space; English "74%").
    assert [tr("percent_suffix", lang) for lang in ("sv", "nb", "en")] == ["\u00a0%", "\u00a0%", "%"]
    # A change of a percentage is in percentage points, each language's abbreviation (a bare "−21"
    # beside "53 %" and "74 %" read as a count).
    assert [tr("points_suffix", lang) for lang in ("sv", "nb", "en")] == ["\u00a0p.e.", "\u00a0p.p.", "\u00a0pp"]
    assert tr("staff_comment_when", "en", day="Mon", hour="17") == "Mon 17:00"
    assert tr("staff_comment_when", "sv", day="mån", hour="17") == "mån kl. 17"
    assert tr("nps_low", "nb") == "Svært lite sannsynlig"                  # as sv and en: not at all
    assert "velger det gladeste fjeset" in tr("staff_score_explain", "nb")
    assert tr("followup_hint_several", "nb", n=2) == "Velg opptil 2 og trykk Send"
