"""JSON in and out for every message: compact UTF-8 out; in, a size limit and a precise reason
for anything that is not JSON (`ProtocolError`, never another exception).
"""

from __future__ import annotations

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
