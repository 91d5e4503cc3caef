"""The generic pass over a parsed `kiosk.toml`: every key checked against its declaration in
`kiosk.config.schema` (known, of its type, within its bounds, choices or pattern, present when
required) and given its default when left out.

What is wrong raises ConfigError naming the key, the line (found by `kiosk.config.tomlpos`) and
what is wrong. This module knows no key by name: rules that span keys run after it
(`kiosk.config.rules`) on the `Document` it returns. It never modifies the mapping it reads.
"""

from __future__ import annotations

import copy
import math
import os
from datetime import date, datetime
from datetime import time as dtime
from typing import Any, Mapping

from kiosk.config.schema import KEYS, TYPES, Key, children, held
from kiosk.config.tomlpos import line_of
from kiosk.exc import ConfigError

KeyPath = tuple[str | int, ...]       # ("questions", 0, "scale")


def key_name(keypath: KeyPath) -> str:
    """How an error names a key: `gpio.buttons`, `questions[0].scale`."""
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in keypath).replace(".[", "[")


class Document:
    """A parsed kiosk.toml mapping (and its text, for line numbers) with the checked values the
    generic pass made of it: `values` has every key, nested as in the file, lists as tuples."""

    def __init__(self, data: Mapping[str, Any], text: str | None = None, path: Any = None) -> None:
        self.data = data
        self.text = text
        self.path = str(path) if path else None
        self.values: dict[str, Any] = {}

    def fail(self, keypath: KeyPath, message: str) -> ConfigError:
        """The error to raise about `keypath`, naming it and its line."""
        return ConfigError(message, key=key_name(keypath), line=line_of(self.text, keypath), path=self.path)

    def given(self, *keypath: str | int) -> bool:
        """Whether the file sets the key (rather than leaving it to its default)."""
        node: Any = self.data
        for part in keypath:
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return False
            elif not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True


def read(data: Mapping[str, Any], text: str | None = None, path: Any = None) -> Document:
    """Check every key of `data` against the schema; the Document holds the values."""
    doc = Document(data, text, path)
    doc.values = _table(doc, (), data, "")
    _fill_empty(doc)
    return doc


def _table(doc: Document, keypath: KeyPath, node: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise doc.fail(keypath, _wrong_type("a table", node))
    known = children(prefix)
    for name in node:
        if name not in known:
            raise doc.fail(keypath + (name,), f"unknown key; known keys here: {', '.join(sorted(known))}")
    out: dict[str, Any] = {}
    for name, key in known.items():
        here = keypath + (name,)
        if key is None:                                   # a section: [gpio]
            out[name] = _table(doc, here, node.get(name, {}), f"{prefix}{name}.")
        elif key.type == "array of tables":               # [[questions]]
            entries = _value(doc, here, key, node)
            out[name] = [_table(doc, here + (i,), entry, f"{prefix}{name}[].")
                         for i, entry in enumerate(entries)]
        else:
            out[name] = _value(doc, here, key, node)
    return out


def _value(doc: Document, keypath: KeyPath, key: Key, node: Mapping[str, Any]) -> Any:
    if key.field not in node:
        if key.required:
            raise doc.fail(keypath, "is required")
        return held(key, copy.deepcopy(key.default))
    value = node[key.field]
    _check_type(doc, keypath, key, value)
    _check_values(doc, keypath, key, value)
    if key.type == "path":
        value = _path(doc, keypath, value)
    if key.type == "table" and isinstance(key.default, dict):
        value = {**copy.deepcopy(key.default), **value}   # the file's entries over the built-in ones
    return held(key, value)


def _path(doc: Document, keypath: KeyPath, text: str) -> str:
    """A path as the file means it: `~` is the home directory, and a relative path is taken from
    the config file's directory, not from wherever the command runs (a config that is no file,
    such as the demo's, leaves it relative). Empty stays empty: the key's default. A NUL
    character is refused: no file name can hold one (the first open failed with a traceback)."""
    if "\0" in text:
        raise doc.fail(keypath, f"must be a path, got {text!r} (a NUL character cannot be in a file name)")
    if not text:
        return text
    path = os.path.expanduser(text)
    if doc.path and not os.path.isabs(path):
        path = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(doc.path)), path))
    return path


def _check_type(doc: Document, keypath: KeyPath, key: Key, value: Any) -> None:
    vtype = TYPES[key.type]
    if not _is(vtype.toml, key.type == "bool", value):
        raise doc.fail(keypath, _wrong_type(vtype.what, value))
    if isinstance(value, float) and not math.isfinite(value):
        # TOML allows nan and inf; no setting means them, and nan slips past every bound check.
        raise doc.fail(keypath, f"must be a finite number, got {value}")
    if vtype.item is not None:
        itype = TYPES[vtype.item]
        for i, item in enumerate(value):
            if not _is(itype.toml, False, item):
                raise doc.fail(keypath, f"item {i + 1} must be {itype.what}, got {_toml_name(item)}")


def _is(toml: type | tuple[type, ...], is_bool: bool, value: Any) -> bool:
    # TOML's true is a Python int too: a boolean is only ever a boolean.
    if isinstance(value, bool):
        return is_bool
    return isinstance(value, toml)


def _check_values(doc: Document, keypath: KeyPath, key: Key, value: Any) -> None:
    if key.minimum is not None and value < key.minimum:
        raise doc.fail(keypath, f"must be at least {key.minimum}, got {value}")
    if key.maximum is not None and value > key.maximum:
        raise doc.fail(keypath, f"must be at most {key.maximum}, got {value}")
    if key.min_items and len(value) < key.min_items:
        raise doc.fail(keypath, "must not be empty")
    if key.choices:
        _check_choices(doc, keypath, key, value)
    if key.unique:
        seen: set[Any] = set()
        for item in value:
            if item in seen:
                raise doc.fail(keypath, f"lists {key.item} {item!r} twice")
            seen.add(item)
    if key.pattern and not (value == "" and key.empty_means) and not key.pattern.matches(value):
        raise doc.fail(keypath, f"must be {key.pattern.what}, got {value!r}")


def _check_choices(doc: Document, keypath: KeyPath, key: Key, value: Any) -> None:
    if TYPES[key.type].item is None:
        if value not in key.choices and not (value == "" and key.empty_means):
            raise doc.fail(keypath, f"must be one of {', '.join(key.choices)}, got {value!r}")
        return
    for item in value:
        if item not in key.choices:
            raise doc.fail(keypath, f"unknown {key.item} {item!r}; use {', '.join(key.choices)}")


def _fill_empty(doc: Document) -> None:
    """An empty value of a key with `empty_means` takes the named key's value."""
    for key in KEYS:
        if key.empty_means is None:
            continue
        section, field = key.empty_means.split(".")
        fallback = doc.values[section][field]
        for table in _tables_of(doc.values, key):
            if table[key.field] == "":
                table[key.field] = fallback


def _tables_of(values: dict[str, Any], key: Key) -> list[dict[str, Any]]:
    """The checked tables `key` stands in: its section, or every entry of its array."""
    if key.entry_of:
        return list(values[key.entry_of])
    node = values
    for part in key.name.split(".")[:-1]:
        node = node[part]
    return [node]


def _wrong_type(what: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"must be {what}, got a boolean"
    if isinstance(value, (date, dtime)):
        # `from = 07:00` is a TOML time, not the text "07:00": shown as written, not as Python's
        # datetime.time(7, 0), with the fix.
        shown = value.isoformat("minutes") if isinstance(value, dtime) and not (value.second or value.microsecond) \
            else value.isoformat()
        quoted = "" if what != "a string" else f' (a TOML {_toml_name(value)[2:]}: write it in quotes, "{shown}")'
        return f"must be {what}, got {_toml_name(value)} {shown}{quoted}"
    return f"must be {what}, got {_toml_name(value)} {value!r}"


def _toml_name(value: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
            list: "an array", dict: "a table", date: "a date", dtime: "a time",
            datetime: "a date-time"}.get(type(value), type(value).__name__)
