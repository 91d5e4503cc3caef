"""The ingest's bounded inbox (server_sync/ingest_inbox.py): a put beyond its messages or bytes
waits for the worker's release (that is what blocks paho's thread under a flood), a message bigger
than the whole bound still gets in alone, and close() wakes a blocked put for good."""

from __future__ import annotations

import threading

import pytest

from server_sync.ingest_inbox import Inbox, KioskRates


def put_in_thread(inbox: Inbox, item, size: int) -> tuple[threading.Thread, list]:
    done: list = []
    t = threading.Thread(target=lambda: done.append(inbox.put(item, size)), daemon=True)
    t.start()
    return t, done


def test_a_put_beyond_the_bytes_waits_for_the_release():
    inbox: Inbox[str] = Inbox(max_messages=100, max_bytes=10)
    assert inbox.put("a", 6)
    t, done = put_in_thread(inbox, "b", 6)
    t.join(0.2)
    assert t.is_alive() and not done and inbox.blocked == 1
    assert inbox.get(0.1) == ("a", 6, "")
    t.join(0.2)
    assert t.is_alive()                       # taken is still held: the group is not committed yet
    inbox.release(1, 6)
    t.join(2)
    assert done == [True] and inbox.get(0.1) == ("b", 6, "") and inbox.held == (1, 6)


def test_a_put_beyond_the_messages_waits_and_a_huge_message_gets_in_alone():
    inbox: Inbox[int] = Inbox(max_messages=2, max_bytes=1000)
    assert inbox.put(1, 1) and inbox.put(2, 1)
    t, done = put_in_thread(inbox, 3, 1)
    t.join(0.2)
    assert t.is_alive()
    inbox.get_nowait(), inbox.get_nowait()
    inbox.release(2, 2)
    t.join(2)
    assert done == [True]
    inbox.get_nowait()
    inbox.release(1, 1)
    assert inbox.put(4, 5000)                 # bigger than the bound, into an empty inbox


def test_close_wakes_a_blocked_put():
    inbox: Inbox[int] = Inbox(max_messages=1, max_bytes=1000)
    inbox.put(1, 1)
    t, done = put_in_thread(inbox, 2, 1)
    t.join(0.2)
    inbox.close()
    t.join(2)
    assert done == [False]


def test_kiosks_are_served_in_turn_and_a_full_one_can_be_skipped():
    inbox: Inbox[str] = Inbox()
    for i in range(3):
        inbox.put(f"a{i}", 1, "a")
    inbox.put("b0", 1, "b")
    inbox.put("c0", 1, "c")
    inbox.put("b1", 1, "b")
    got = [inbox.get_nowait()[0] for _ in range(4)]
    assert got == ["a0", "b0", "c0", "a1"]
    assert inbox.get_nowait(skip={"b"})[0] == "a2"      # b's turn, but b's share is taken
    assert inbox.get_nowait(skip={"b"}) is None
    assert inbox.get_nowait()[0] == "b1" and inbox.get_nowait() is None


def test_latest_items_are_coalesced_per_key_and_join_the_queue_at_a_groups_start():
    """`put_latest` (statuses) keeps each key's newest two, hands the older back, counts what it
    keeps as held, and moves them behind the key's queue only when `get` starts a group."""
    inbox: Inbox[str] = Inbox(max_messages=100, max_bytes=1000)
    assert inbox.put("k1-batch", 10, "k1")
    pushed_out = [inbox.put_latest(f"k1-status{i}", 5, "k1") for i in range(4)]
    assert pushed_out == [[], [], ["k1-status0"], ["k1-status1"]]
    assert inbox.put_latest("k2-will", 3, "k2") == []
    assert inbox.held == (4, 23)
    assert inbox.get_nowait() == ("k1-batch", 10, "k1")     # not in the queue yet
    assert inbox.get_nowait() is None
    assert inbox.get(0.1) == ("k1-status2", 5, "k1")
    assert [inbox.get_nowait() for _ in range(3)] == [("k2-will", 3, "k2"), ("k1-status3", 5, "k1"), None]
    inbox.release(4, 23)
    assert inbox.held == (0, 0)


def test_a_latest_item_wakes_the_worker_and_waits_for_room_like_any_message():
    inbox: Inbox[str] = Inbox(max_messages=1, max_bytes=1000)
    got: list = []
    t = threading.Thread(target=lambda: got.append(inbox.get(5)), daemon=True)
    t.start()
    assert inbox.put_latest("will", 3, "k1") == []
    t.join(2)
    assert got == [("will", 3, "k1")]
    done: list = []
    t = threading.Thread(target=lambda: done.append(inbox.put_latest("status", 3, "k2")), daemon=True)
    t.start()
    t.join(0.2)
    assert t.is_alive() and inbox.blocked == 1               # full: paho's thread waits
    inbox.release(1, 3)
    t.join(2)
    assert done == [[]]


def test_a_kiosks_budget_is_in_bytes_and_a_message_larger_than_the_burst_still_passes():
    """Each message costs its payload plus the charge per message: one kiosk's 9,850-byte message
    leaves 50 of its 10,000, too few for even an empty message (100 charged), while another kiosk
    has its own full bucket. The bucket refills at the rate; a message larger than the burst
    passes once the bucket is full (counted as the burst), so a kiosk is delayed, never starved."""
    now = [0.0]
    rates = KioskRates(1000.0, 10_000, 100, clock=lambda: now[0])
    assert rates.allow("k1", 9_850)
    assert not rates.allow("k1", 0)
    assert rates.allow("k2", 9_900) and not rates.allow("k2", 1)
    now[0] = 0.1                                                # 100 bytes back: 150
    assert rates.allow("k1", 50) and not rates.allow("k1", 0)
    assert not rates.allow("k1", 50_000)
    now[0] = 20.0                                               # full again
    assert rates.allow("k1", 50_000) and not rates.allow("k1", 0)
    unlimited = KioskRates(float("inf"), 1, 0)
    assert all(unlimited.allow("k1", 2**20) for _ in range(100))


def test_a_kiosk_just_under_its_rate_is_held_to_its_day():
    """The day's bucket: a kiosk sending just under its rate all day (one message of 900 bytes
    and 100 charged every second, rate 1,000) has its day's 200,000 at once and then 200,000
    over 24 hours, not 86,400,000; it refills a 24th of the day an hour; 0 is no day's bucket, and
    a day smaller than the burst is refused."""
    now = [0.0]
    rates = KioskRates(1000.0, 10_000, 100, day_bytes=200_000, clock=lambda: now[0])
    taken = 0
    for second in range(86_400):
        now[0] = float(second)
        taken += rates.allow("k1", 900)
    assert taken == 399, taken                          # (200,000 + 199,998 refilled) / 1,000
    assert rates.allow("k2", 900)                       # another kiosk: its own day
    now[0] += 3_600                                     # an hour: 8,333 of the day back, 998 left
    assert sum(rates.allow("k1", 900) for _ in range(20)) == 9
    unbounded = KioskRates(1000.0, 10_000, 100, day_bytes=0, clock=lambda: now[0])
    for second in range(1000):
        now[0] += 1
        assert unbounded.allow("k1", 900)
    with pytest.raises(ValueError, match="must hold at least the burst"):
        KioskRates(1000.0, 10_000, 100, day_bytes=9_999)
