"""Scrub personal data out of free-text comments before they are stored.

Kundpuls collects no personal data: an e-mail address or phone number a customer types into a
comment is replaced on the kiosk, before the commit, so it never reaches the disk or the wire.
"""

from __future__ import annotations

import re

EMAIL_MARK = "[e-mail]"
PHONE_MARK = "[phone]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+\s*(?:@|\(at\)|\[at\])\s*[A-Za-z0-9\-]+(?:\s*\.\s*[A-Za-z0-9\-]+)+")
# Seven or more digits, allowing the separators people type: +46 70-123 45 67, (08) 123 45 67.
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\(?\d(?:[\s\-./()]{0,2}\d){6,}\)?(?![\w])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def scrub_comment(text: str, max_chars: int = 200) -> str:
    """The comment as stored: no e-mail addresses, no phone numbers, no control characters."""
    text = _CONTROL.sub(" ", text)
    text = _EMAIL.sub(EMAIL_MARK, text)
    # A date looks like a phone number to the pattern; people do write dates in complaints.
    text = _PHONE.sub(lambda m: m.group(0) if _DATE.fullmatch(m.group(0).strip()) else PHONE_MARK, text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:max_chars]
