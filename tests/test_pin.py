"""Staff PIN hashes: `kiosk config check` names a damaged staff.pin_hash and what is wrong with
it, and checking a PIN against one never raises (it ran on the PIN pad's worker thread)."""

from __future__ import annotations

import base64

import pytest

from kiosk.cli import main as kiosk_main
from kiosk import pin
from kiosk.pin import PinGuard, hash_pin, verify_pin

SALT = base64.b64encode(bytes(16)).decode()
DK = base64.b64encode(bytes(32)).decode()
GOOD = hash_pin("5829", iterations=200_000)
MOST = 2_000_000                 # pin.MAX_ITERATIONS (a literal: the module is checked against it)


@pytest.mark.parametrize("encoded, why", [
    (GOOD[:-2], "hash that is not whole base64"),                 # cut short when copied
    (GOOD[:-4], "hash of 30 bytes, not 32"),                      # cut short, still base64
    (f"pbkdf2_sha256$200000${SALT[:-3]}${DK}", "salt that is not whole base64"),
    (f"pbkdf2_sha256$200000$c2FsdA==${DK}", "salt of 4 bytes (8 to 64)"),
    (f"pbkdf2_sha256$200000${SALT}$aGFzaA==", "hash of 4 bytes, not 32"),
    (f"pbkdf2_sha256$200000${SALT}$={DK}", "not whole base64"),   # padding first: not base64
    (f"pbkdf2_sha256${MOST + 1}${SALT}${DK}", f"at most {MOST}"),
    (f"pbkdf2_sha256$0${SALT}${DK}", "0 iterations"),
    (f"pbkdf2_sha256$99999${SALT}${DK}", "weak hash (99999 iterations, at least 100000)"),
    ("1234", "never put the PIN itself here"),
], ids=lambda value: value if "$" not in value else "hash")    # GOOD is salted at random: ids by reason
def test_a_damaged_pin_hash_is_named_by_config_check(tmp_path, capsys, encoded, why):
    conf = tmp_path / "kiosk.toml"
    conf.write_text(f'[staff]\npin_hash = "{encoded}"\n')
    assert kiosk_main(["config", "check", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "staff.pin_hash" in err and why in err and "kiosk pin hash" in err
    assert why in pin.pin_hash_problem(encoded)


def test_a_whole_hash_passes_and_verifies():
    assert pin.MAX_ITERATIONS == MOST
    assert pin.pin_hash_problem(GOOD) is None
    assert pin.pin_hash_problem(f"pbkdf2_sha256${MOST}${SALT}${DK}") is None
    assert verify_pin("5829", GOOD) and not verify_pin("5828", GOOD)


def test_a_damaged_hash_is_no_match_and_no_error():
    """Past the config (an older kiosk's file): a wrong PIN, never an exception."""
    assert not verify_pin("5829", GOOD[:-2])
    assert not PinGuard(GOOD[:-2]).check("5829")


def test_a_restart_after_a_long_lock_does_not_forgive_it(store):
    """The quiet that starts the count again is counted from the end of the last lock, across a
    restart too (monotonic time starts again; the lock is kept in wall-clock time)."""
    from kiosk.pin import FIRST_LOCK_S, StoredPinLock

    class Clock:
        t = 1_000_000.0

        def __call__(self) -> float:
            return self.t

    wall, mono = Clock(), Clock()
    encoded = hash_pin("2468", iterations=1000)

    def boot() -> PinGuard:
        mono.t = 20.0                                # a fresh boot's monotonic clock
        return PinGuard(encoded, max_tries=3, lockout_s=300, monotonic=mono,
                        lock=StoredPinLock(store, wall=wall))

    def a_run(guard: PinGuard) -> float:
        for _ in range(3):
            assert not guard.check("1111")
        return guard.locked_for()

    guard = boot()
    for want in (FIRST_LOCK_S, 30, 60, 120, 240, 300):
        assert a_run(guard) == want
        wall.t += want
        mono.t += want
    wall.t += 10                                     # the lock ended 10 s ago: plug pulled
    assert a_run(boot()) == 300                      # not forgiven: 300 s of quiet after the lock
    wall.t += 300 + 300
    assert a_run(boot()) == FIRST_LOCK_S             # now it is
