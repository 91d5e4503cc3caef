"""Comments lose e-mail addresses and phone numbers before they are stored; ordinary text stays."""

from __future__ import annotations

import pytest

from kiosk.scrub import EMAIL_MARK, PHONE_MARK, scrub_comment


@pytest.mark.parametrize("text, expected", [
    ("mail anna.svensson@example.se tack", f"mail {EMAIL_MARK} tack"),
    ("ANNA+kiosk@Mail.Example.COM", EMAIL_MARK),
    ("ola (at) firma . no", EMAIL_MARK),
    ("ola[at]firma.no", EMAIL_MARK),
    ("ring +46 70-123 45 67", f"ring {PHONE_MARK}"),
    ("ring 070-1234567 nu", f"ring {PHONE_MARK} nu"),
    ("(08) 123 45 67", PHONE_MARK),
    ("0047 22 33 44 55", PHONE_MARK),
    ("tlf 22334455", f"tlf {PHONE_MARK}"),
])
def test_personal_data_is_replaced(text, expected):
    assert scrub_comment(text) == expected


@pytest.mark.parametrize("text", [
    "Kön var 10 minuter lång",
    "Kassa 3 och 4 var stängda",
    "Besökte er 2026-11-23",
    "Köpte 2 st för 149,90 kr",
    "Öppet 08-21?",
    "",
])
def test_ordinary_text_is_kept(text):
    assert scrub_comment(text) == text


def test_whitespace_control_and_length():
    assert scrub_comment("a\x00b\x1b  c\n\nd") == "a b c d"
    assert scrub_comment("x" * 300, max_chars=200) == "x" * 200
    assert len(scrub_comment("ring 0701234567 " * 40, max_chars=50)) == 50
