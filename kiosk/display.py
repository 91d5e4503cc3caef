"""Whether a window could be shown here at all: the laptop demo's check before it starts.

Without a display SDL falls back to its offscreen driver and Kivy runs happily into nothing: `make
demo` on a machine reached over SSH printed "press 1-4 in the kiosk window" about a window that
did not exist (a review). A Pi's service names its driver (SDL_VIDEODRIVER=kmsdrm), so an
explicit driver is taken as meant; only a laptop with none of the three is refused."""

from __future__ import annotations

from typing import Mapping

DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")


def no_display(environ: Mapping[str, str]) -> str | None:
    """Why no window can be shown with `environ`, or None when one may be."""
    if any(environ.get(name) for name in DISPLAY_VARIABLES):
        return None
    return ("no display to show the kiosk window on (DISPLAY, WAYLAND_DISPLAY and SDL_VIDEODRIVER are unset): "
            "run the buttons-only kiosk in this terminal instead (make demo-headless, "
            "or kiosk run --demo --headless)")
