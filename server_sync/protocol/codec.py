"""JSON in and out for every message: compact UTF-8 out; in, a size limit and a precise reason
for anything that is not JSON (`ProtocolError`, never another exception).
"""

from __future__ import annotations

import unicodedata
from typing import Any, TypeVar

import msgspec

from server_sync.protocol.errors import ProtocolError

T = TypeVar("T")
_encoder = msgspec.json.Encoder()


def dumps(obj: Any) -> bytes:
    """Compact JSON (structs in their declared field order)."""
    return _encoder.encode(obj)


def check_size(payload: Any, max_bytes: int | None, what: str) -> bytes | bytearray | memoryview:
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"{what} is not bytes")
    if max_bytes is not None and len(payload) > max_bytes:
        raise ProtocolError(f"oversize payload: {len(payload)} bytes > limit {max_bytes}")
    return payload


def loads(payload: Any, max_bytes: int | None = None, what: str = "payload") -> Any:
    """Any JSON value, or ProtocolError('malformed JSON: …')."""
    payload = check_size(payload, max_bytes, what)
    try:
        return msgspec.json.decode(payload)
    except msgspec.DecodeError as e:
        raise ProtocolError(malformed(payload, e)) from None
    except RecursionError:
        raise ProtocolError("malformed JSON: nested too deeply") from None


def malformed(payload: Any, error: Exception) -> str:
    """The reason for a payload that is not JSON: the byte, when the fault is the encoding."""
    try:
        bytes(payload).decode("utf-8")
    except UnicodeDecodeError as e:
        return f"malformed JSON: not UTF-8 (byte {e.start})"
    return f"malformed JSON: {str(error)[:200]}"


def jtype(v: Any) -> str:
    """What a JSON value is, in words, for a refusal reason."""
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(v), type(v).__name__)


def short(v: Any) -> str:
    """repr(v) cut to 80 characters: how every error message echoes a value it was given (a
    refused message's field, an id typed or pasted on the command line)."""
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


# Code points a terminal or a log viewer acts on, or a database refuses: C0 and C1 controls (NUL,
# ESC, BEL, newline), lone surrogates (not UTF-8 at all), line and paragraph separators, and the
# bidirectional overrides and isolates (text that reads other than it is).
_BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_UNSAFE_CATEGORIES = frozenset(("Cc", "Cs", "Zl", "Zp"))


def _unsafe(c: str) -> bool:
    return ord(c) in _BIDI_CONTROLS or unicodedata.category(c) in _UNSAFE_CATEGORIES


# What a person's longer text (a comment, a note) may hold besides printable characters, its line
# breaks read as LF (one_line_break): a web form's textarea and the command line's free text alike.
TEXT_WHITESPACE = "\t\n"


def one_line_break(text: str) -> str:
    """`text` with each CRLF, and each lone CR, as LF (browsers send a textarea's line breaks as
    CRLF: a comment typed up to its limit was counted over it)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def unsafe_character(text: str) -> str | None:
    """The first character of `text` that `printable` would escape, as "U+XXXX", or None: for
    what a person names (a site, a region, a user), which is refused rather than escaped."""
    found = next((c for c in text if _unsafe(c)), None)
    return None if found is None else f"U+{ord(found):04X}"


def _escaped(c: str) -> str:
    """One character as it is shown: itself, or `\\xNN` / `\\uNNNN` when it is unsafe."""
    o = ord(c)
    if o < 0x20 or 0x7F <= o <= 0x9F:
        return f"\\x{o:02x}"
    if _unsafe(c):
        return f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"
    return c


def unstorable(text: str) -> str | None:
    """What in `text` no database of the centre's can store, in words, or None: a NUL
    (PostgreSQL refuses it) or a lone surrogate (JSON's `\\ud800` escape decodes to one; UTF-8
    cannot hold it, so both engines' drivers refuse the row)."""
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"a lone surrogate (U+{ord(text[e.start]):04X}), which UTF-8 cannot hold"
    return None


def printable(text: Any, limit: int = 500) -> str:
    """Text from a kiosk (or about what a kiosk sent) made safe to store, log and print, in ONE
    place: control characters escaped as `\\x00`, `\\x1b` (a NUL is refused by PostgreSQL, and
    would stop the ingest; an escape sequence would act on the terminal that prints it), cut to
    `limit` characters. Ordinary text, accents and all, is returned as it is."""
    s = text if isinstance(text, str) else str(text)
    if not s.isprintable():
        # Escaping only lengthens: cut first, so a megabyte of controls costs `limit` steps.
        s = "".join(map(_escaped, s[:limit]))
    return s if len(s) <= limit else s[:limit - 3] + "..."
