"""Whose window and input settings Kivy runs with: the device's, or the app's laptop defaults.

A kiosk's display settings live in its Kivy `config.ini` (firmware_config/kivy, installed as
`$KIVY_HOME/config.ini` by provision.sh): rotation, touch provider, frame-rate ceiling. Such a
file carries a `[kundpuls]` section naming the device, and then the app sets nothing over it:
no mouse provider next to the touch panel's (every tap would arrive twice), no other frame rate.
Only where there is no device file (a laptop demo, a test, a benchmark: Kivy's own generated
config) does the app choose its window: 800x480 like the official 7" panel, a mouse that does
not simulate multitouch, no multisampling.

Pure apart from the Kivy `Config` object handed in; must run before Kivy creates the window.
"""

from __future__ import annotations

from typing import Any, Protocol

DEVICE_SECTION = "kundpuls"
DEFAULT_WINDOW = (800, 480)   # the official 7" Raspberry Pi display


class KivyConfig(Protocol):
    def has_section(self, section: str) -> bool: ...
    def get(self, section: str, option: str, **kw: Any) -> str: ...
    def set(self, section: str, option: str, value: Any) -> None: ...


def device_name(config: KivyConfig) -> str | None:
    """The device the loaded config.ini was written for, or None when it is not a device file."""
    if not config.has_section(DEVICE_SECTION):
        return None
    try:
        return config.get(DEVICE_SECTION, "device") or "unnamed"
    except Exception:                         # a [kundpuls] section without the name
        return "unnamed"


def laptop_settings(*, fullscreen: bool, demo: bool,
                    size: tuple[int, int] | None) -> dict[tuple[str, str], str]:
    """The app's own window settings, for a machine without a device file."""
    fullscreen = fullscreen and not demo and size is None
    w, h = size or DEFAULT_WINDOW
    return {
        ("graphics", "fullscreen"): "auto" if fullscreen else "0",
        ("graphics", "width"): str(w),
        ("graphics", "height"): str(h),
        ("graphics", "resizable"): "1" if demo else "0",
        ("graphics", "show_cursor"): "0" if fullscreen else "1",
        ("graphics", "maxfps"): "60",
        # No multisampling: on Mesa's software renderer the multisample buffers cost ~12 MB
        # resident; shapes are antialiased by their own feathered edges (kiosk.ui.shapes).
        ("graphics", "multisamples"): "0",
        ("kivy", "exit_on_escape"): "1" if demo else "0",
        # Another thread may wake the sleeping app (kiosk.ui.sleep); takes effect when Kivy's
        # clock is made after this (as in `kiosk run`).
        ("kivy", "kivy_clock"): "interrupt",
        # A mouse right-click must not leave multitouch simulation dots on the screen.
        ("input", "mouse"): "mouse,disable_multitouch",
    }


def apply(config: KivyConfig, *, fullscreen: bool, demo: bool,
          size: tuple[int, int] | None) -> str | None:
    """Lay the laptop settings over `config` unless it is a device file; returns the device
    name when it is one (nothing was changed)."""
    device = device_name(config)
    if device is not None:
        return device
    for (section, option), value in laptop_settings(fullscreen=fullscreen, demo=demo, size=size).items():
        config.set(section, option, value)
    return None
