"""The ingest's bounded inbox (server_sync/ingest_inbox.py): a put beyond its messages or bytes
waits for the worker's release (that is what blocks paho's thread under a flood), a message bigger
than the whole bound still gets in alone, and close() wakes a blocked put for good."""

from __future__ import annotations

import threading

from server_sync.ingest_inbox import Inbox


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
