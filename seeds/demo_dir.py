"""The directory `python -m seeds.demo_chain` makes afresh on each run, and which one it may.

The demo empties its directory before it starts (a run's broker files, certificates and central
store never mix with an earlier run's). So it deletes only what is its own: a directory it made
(it leaves MARKER there first thing), an empty one, or one missing. Anything else given as
`--dir` (`.`, the clone with its .git, say) is refused, not deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MARKER = ".kundpuls-demo-dir"

# What demos from before the marker left in their directory (some of it, after one stopped
# early). Such a directory is accepted without the marker only at the default place
# (.kundpuls-demo/ in the clone, git-ignored and named by the README), so an earlier demo's
# leftovers do not stop `make demo`; the same names elsewhere could be anyone's.
EARLIER_LAYOUT = frozenset({
    "central.db", "central.db-wal", "central.db-shm", "central.db-journal", "central.password",
    "certs", "kiosk", "kiosk.password", "kiosk.toml", "logs", "mosquitto",
})


def refusal(d: Path, default: Path) -> str | None:
    """Why `d` must not be emptied and made afresh, or None when it may be."""
    if not d.exists():
        return None
    if not d.is_dir():
        return f"{d} is not a directory"
    names = {p.name for p in d.iterdir()}
    if not names or MARKER in names:
        return None
    if d == default and names <= EARLIER_LAYOUT:
        return None
    odd = sorted(names - EARLIER_LAYOUT) or sorted(names)
    shown = ", ".join(odd[:3]) + (", …" if len(odd) > 3 else "")
    return (f"{d} was not made by the demo (it has no {MARKER}) and is not empty ({shown}); "
            "the demo empties its directory on every run, so give a new or empty one")


def make_afresh(d: Path) -> None:
    """Empty `d` (which `refusal` allowed) and make it again, marked as the demo's."""
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    (d / MARKER).write_text("Made by `python -m seeds.demo_chain`, which empties this directory on its next run.\n",
                            encoding="utf-8")
