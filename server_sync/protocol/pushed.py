"""Config push (centre -> kiosk, retained): which parts of a kiosk's `kiosk.toml` the centre may
change, the payload's shape, and how a push is laid over the kiosk's own file. Pure: whether the
result is a valid kiosk config is the kiosk's config schema's business (`kiosk.config`).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from server_sync.protocol.codec import dumps, jtype, loads, short
from server_sync.protocol.errors import ProtocolError
from server_sync.protocol.vocabulary import MAX_CONFIG_VERSION

# Never identity, broker, data dir, GPIO wiring or the staff PIN: a pushed config must not be
# able to move a kiosk to another broker or site.
PUSHABLE_TABLES = ("filters", "followup", "ui", "privacy")   # merged key by key over the file's
PUSHABLE_WHOLE = ("questions", "schedule", "reasons")  # replaced as a whole
PUSHABLE_KIOSK = ("languages", "default_language")    # top-level in the push, [kiosk] in the file
PUSHABLE = ("version",) + PUSHABLE_TABLES + PUSHABLE_WHOLE + PUSHABLE_KIOSK
# The config_version of the kiosk.toml every kiosk is provisioned with (firmware_config/kiosk.toml).
# A kiosk takes a push only above the version it runs, so the centre never pushes at or below it,
# even to a kiosk that has not reported yet: version 1 would be taken for the file's own.
SHIPPED_CONFIG_VERSION = 1
# The largest config payload a kiosk takes (the broker's max_packet_size, kundpuls.conf, is
# above it with its topic and header, so the broker never refuses a push for its size).
MAX_CONFIG_BYTES = 1024 * 1024


def encode_config(version: int, body: Mapping[str, Any]) -> bytes:
    """A config push: `{"version": N, ...}` with only pushable sections."""
    out = {"version": version}
    out.update({k: v for k, v in body.items() if k != "version"})
    decode_config(dumps(out))          # refuse to publish what a kiosk would refuse
    return dumps(out)


def decode_config(payload: bytes) -> dict[str, Any]:
    """Shape-check a pushed config (JSON object, integer version >= 1, only pushable keys)."""
    obj = loads(payload, MAX_CONFIG_BYTES, "config payload")
    if not isinstance(obj, dict):
        raise ProtocolError(f"config must be a JSON object, got {jtype(obj)}")
    if "version" not in obj:
        raise ProtocolError("config: missing field 'version'")
    v = obj["version"]
    if type(v) is not int or not 1 <= v <= MAX_CONFIG_VERSION:
        raise ProtocolError(f"config: version must be a positive integer, got {short(v)}")
    for k in obj:
        if k not in PUSHABLE:
            raise ProtocolError(f"config: key {short(k)} cannot be pushed; allowed: {', '.join(PUSHABLE[1:])}")
    for k in PUSHABLE_TABLES + ("reasons",):
        if k in obj and not isinstance(obj[k], dict):
            raise ProtocolError(f"config: {k} must be an object, got {jtype(obj[k])}")
    for k in ("questions", "schedule", "languages"):
        if k in obj and not isinstance(obj[k], list):
            raise ProtocolError(f"config: {k} must be an array, got {jtype(obj[k])}")
    return obj


def merge_pushed_config(base: Mapping[str, Any], pushed: Mapping[str, Any]) -> dict[str, Any]:
    """The kiosk.toml mapping that results from applying `pushed` over the file's `base`.

    Tables in PUSHABLE_TABLES merge key by key; questions, schedule and reasons replace the
    file's (questions without a schedule replace the file's schedule with none); languages and
    default_language go to [kiosk]; `version` becomes config_version. Neither argument is modified.
    """
    out = copy.deepcopy(dict(base))
    for k in PUSHABLE_TABLES:
        if k in pushed:
            merged = dict(out.get(k) or {})
            merged.update(copy.deepcopy(pushed[k]))
            out[k] = merged
    for k in PUSHABLE_WHOLE:
        if k in pushed:
            out[k] = copy.deepcopy(pushed[k])
    if "questions" in pushed and "schedule" not in pushed:
        # A schedule names questions: the file's may name one the push does not carry (every
        # kiosk refused a push of questions alone over a file scheduling its 'pulse'), and the
        # centre checks the push alone (`config push --dry-run`). None: the first question all day.
        out["schedule"] = []
    for k in PUSHABLE_KIOSK:
        if k in pushed:
            kiosk = dict(out.get("kiosk") or {})
            kiosk[k] = copy.deepcopy(pushed[k])
            out["kiosk"] = kiosk
    if "languages" in pushed and "default_language" not in pushed:
        langs = pushed["languages"]
        kiosk = out["kiosk"]
        if langs and kiosk.get("default_language") not in langs:
            kiosk["default_language"] = langs[0]
    if "version" in pushed:
        out["config_version"] = pushed["version"]
    return out
