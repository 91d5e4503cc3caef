"""Smiley faces differ in shape, not only colour (colour-blind safe), on 4- and 5-point scales."""

from __future__ import annotations

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")          # Kivy must not read pytest's arguments

import pytest  # noqa: E402

from kiosk.ui.palette import smiley_colour  # noqa: E402
from kiosk.ui.smiley import face_meshes, face_shape, mouth_points  # noqa: E402


@pytest.mark.parametrize("points", [4, 5])
def test_every_face_has_its_own_shape_and_colour(points):
    shapes = [face_shape(i, points) for i in range(points)]
    assert len(set(shapes)) == points
    assert len({smiley_colour(i, points) for i in range(points)}) == points
    # Mood reads from the mouth alone: frowns, then flat (5-point), then smiles, then a grin.
    curves = [s.mouth_curve for s in shapes if not s.grin]
    assert curves == sorted(curves) and curves[0] < 0 < curves[-1]
    assert shapes[-1].grin and shapes[-1].eyes == "arc"
    assert shapes[0].brows and not any(s.brows for s in shapes[1:])


def test_mouth_corners_rise_for_a_smile_and_sink_for_a_frown():
    smile = mouth_points(0, 0, 100, 0.2)
    frown = mouth_points(0, 0, 100, -0.2)
    mid = len(smile) // 2 | 1
    assert smile[1] > smile[mid] and frown[1] < frown[mid]


def test_a_face_is_a_few_meshes_one_per_colour():
    """Few instructions per face: on llvmpipe each drawn instruction holds driver memory."""
    for points in (4, 5):
        for i in range(points):
            layers = face_meshes(100, 100, 80, face_shape(i, points), (0, 0, 0, 1), (1, 1, 1, 1))
            assert 4 <= len(layers) <= 5
            assert all(mesh.indices for _colour, mesh in layers)
    glow = face_meshes(100, 100, 80, face_shape(0, 4), (0, 0, 0, 1), (1, 1, 1, 1), glow=True)
    assert len(glow) == len(face_meshes(100, 100, 80, face_shape(0, 4), (0, 0, 0, 1), (1, 1, 1, 1))) + 1


def test_the_app_has_no_network_code():
    """The UI never waits on the network: nothing in it imports the MQTT client, the sync or the
    centre (the shared protocol vocabulary is no network code)."""
    import subprocess
    import sys
    code = ("import sys, kiosk.ui.app, kiosk.ui.screens, kiosk.ui.flow, kiosk.ui.controls;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('paho', 'urllib3', 'requests')"
            " or m.startswith(('kiosk.sync', 'kiosk.outbox', 'server_sync.central', 'server_sync.ingest'))];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_faces_are_one_row_left_to_right_in_either_orientation():
    from kiosk.ui.screens import face_rows
    for n in (4, 5):
        assert face_rows(n, landscape=True) == [n] and face_rows(n, landscape=False) == [n]


def test_a_portrait_keyboard_halves_its_rows():
    from kiosk.ui.keyboard import ROWS, layout_rows
    rows = ROWS["sv"]
    assert layout_rows(rows, split=False) == list(rows)
    halves = layout_rows(rows, split=True)
    assert "".join(halves) == "".join(rows) and len(halves) == 2 * len(rows)
    assert max(len(r) for r in halves) == 6                     # "qwerty" / "uiopå"


def test_the_app_opens_its_store_without_the_postgresql_drivers(tmp_path):
    """kiosk.lean_imports: the store works, and neither driver is loaded (16-20 MB each run
    on a machine that also has the central extra); the plain import would load them."""
    import subprocess
    import sys
    code = ("import sys; from kiosk.lean_imports import import_store; import_store();"
            "from kiosk.store import LocalStore; s = LocalStore(sys.argv[1]); s.set_meta('k', 'v');"
            "assert s.get_meta('k') == 'v'; s.close();"
            "print(','.join(m for m in ('psycopg', 'psycopg2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "k.db")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    import importlib.util
    if importlib.util.find_spec("psycopg") is not None:        # the central extra is installed here
        plain = subprocess.run([sys.executable, "-c", "import sys, kiosk.capture; print('psycopg' in sys.modules)"],
                               capture_output=True, text=True, timeout=60)
        assert plain.stdout.strip() == "True"


def test_the_app_makes_kivys_clock_without_asyncio():
    """kiosk.lean_imports.import_kivy_clock: Kivy's clock (the shipped interrupt clock) runs its
    events, asyncio (and ssl) are not loaded (~3.5 MB of the app's memory), and Kivy's async
    mode is still there for whoever asks for it as Kivy documents (init_async_lib)."""
    import os
    import subprocess
    import sys
    code = (
        "import sys\n"
        "from kiosk.lean_imports import import_kivy_clock\n"
        "import_kivy_clock()\n"
        "from kivy.clock import Clock\n"
        "left_out = [m for m in ('asyncio', 'ssl') if m in sys.modules]\n"
        "seen = []\n"
        "Clock.schedule_once(lambda dt: seen.append(dt), 0)\n"
        "Clock.tick(); Clock.tick()\n"
        "assert seen, 'the clock ran no event'\n"
        "assert Clock._async_lib is None and Clock._async_event is None\n"
        "Clock.init_async_lib('asyncio')\n"
        "import asyncio\n"
        "assert Clock._async_lib is asyncio and isinstance(Clock._async_event, asyncio.Event)\n"
        "import kivy.clock\n"
        "print(kivy.clock._clk, ','.join(left_out))\n")
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1",
               KCFG_KIVY_KIVY_CLOCK="interrupt")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["interrupt"], out.stdout
