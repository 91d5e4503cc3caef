"""What a kiosk demo says when it starts (`kiosk run --demo`, in the window or `--headless`):
which kiosk, where its data is, the keys, and the staff PIN. One text for both, so the window
demo is not the silent one."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.demo import DEMO_PIN, DEMO_PIN_HASH


def staff_pin_notice(cfg: KioskConfig) -> str:
    """What the demo banner says about the staff PIN of the touchscreen app.

    The demo's PIN is announced only when the demo's own config is in use (its hash, made with
    the demo's fixed salt); with a real config (`--config` / KUNDPULS_CONFIG) its PIN applies
    and is never printed: it is not known here, and must not be.
    """
    if not cfg.staff.pin_hash:
        return "no staff PIN is configured (staff.pin_hash): the staff screen is locked"
    if cfg.staff.pin_hash == DEMO_PIN_HASH:
        return f"PIN {DEMO_PIN} (the demo config's) opens the staff screen (touchscreen app)"
    return "the staff PIN of the config in use (staff.pin_hash) opens the staff screen"


def demo_banner(cfg: KioskConfig, *, window: bool) -> str:
    """The lines a demo kiosk prints as it starts; `window`: the touchscreen app's demo."""
    n = len(cfg.gpio.buttons)
    lines = [f"Kundpuls {'window' if window else 'headless'} demo: kiosk {cfg.kiosk_id} (site {cfg.site_id})",
             f"  data dir  {cfg.data_dir}",
             f"  database  {cfg.db_path}",
             f"  keys      1-{n} press a smiley button (1 = most negative), g = staff gesture "
             f"(outer buttons {cfg.gpio.staff_hold_s:g} s), q = quit",
             f"  staff     {staff_pin_notice(cfg)}"]
    if window:
        lines.append(f"            (or hold the top-left corner {cfg.ui.corner_hold_s:g} s; at the PIN pad the keyboard "
                     "types the PIN, Enter checks it, Escape closes the pad)")
    return "\n".join(lines)
