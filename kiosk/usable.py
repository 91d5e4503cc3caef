"""Whether the kiosk running here can use a config: the one rule for "can this kiosk use this
merged config", applied by the sync agent when a push arrives and by every start path (the
touchscreen app, the buttons-only kiosk) to a saved push.

`parse_config` checks what every kiosk needs. What depends on the kind of kiosk is said here:
the buttons-only kiosk (`kiosk run --headless`) has no screen, so it can ask only a smiley
question with one button per answer (an NPS question needs eleven). The touchscreen app can ask
any valid question.

The sync agent is its own process and cannot see which kiosk runs beside it, so the kiosk says
it: each start path records its kind in the store's meta (`kiosk.kind`). Until a kiosk has
started once (kind unknown) the agent checks only what every kiosk needs; the start paths check
the rest again, so a push the kiosk cannot use never stops it.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Protocol

from kiosk.config import KioskConfig, Question
from kiosk.exc import ConfigError, KioskError

log = logging.getLogger(__name__)

APP = "app"
HEADLESS = "headless"
KINDS = (APP, HEADLESS)
KIND_META = "kiosk.kind"


class MetaStore(Protocol):
    def get_meta(self, key: str, default: str | None = None) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


def fits_buttons(q: Question, buttons: int) -> bool:
    """The buttons can answer `q`: a smiley scale with one button per answer."""
    return q.scale != "nps11" and len(q.values) == buttons


def check_usable(cfg: KioskConfig, kind: str | None) -> None:
    """Raise ConfigError when a kiosk of `kind` (None: not known) could not run with `cfg`."""
    if kind == HEADLESS:
        buttons = len(cfg.gpio.buttons)
        if not any(fits_buttons(q, buttons) for q in cfg.questions):
            raise ConfigError(f"no question can be answered with {buttons} buttons "
                              f"(a smiley{buttons} question is needed for a headless kiosk)", key="questions")


def record_kind(store: MetaStore, kind: str) -> None:
    """Tell the sync agent which kind of kiosk runs on this data directory. Best effort: a card
    that cannot take the write must not stop the kiosk (the start paths check pushes anyway)."""
    # Here, not at the top: kiosk.loading imports this module for every command, even `--help`,
    # and peewee looks for PostgreSQL drivers as it loads. A store is open here, so it is loaded.
    import peewee
    try:
        if store.get_meta(KIND_META) != kind:
            store.set_meta(KIND_META, kind)
    except (KioskError, peewee.PeeweeException, sqlite3.Error, OSError) as e:
        log.warning("could not record the kiosk kind (%s) for the sync agent: %s", kind, e)


def recorded_kind(store: MetaStore) -> str | None:
    """The kind the last kiosk started here recorded, or None when none has (or it is unknown)."""
    kind = store.get_meta(KIND_META)
    return kind if kind in KINDS else None
