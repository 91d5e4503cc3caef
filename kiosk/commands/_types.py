"""Argument types shared by the subcommands (a leading `_`: not a subcommand itself)."""

from __future__ import annotations

import argparse
from typing import Callable, TypeVar

T = TypeVar("T")


def argument_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` as an argparse type: its ValueError's message becomes
    `kiosk: error: argument --x: message` (argparse would say only `invalid value`)."""
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = parse.__name__
    return convert
