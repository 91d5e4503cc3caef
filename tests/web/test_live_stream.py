"""The live stream (server_sync/web/live.py `stream`) driven in-process with a fake clock and a
LiveMarks moved by hand: which sites it names, on which scope, without a server, a database or
waiting."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import AsyncIterator

from server_sync.web import live

BOTH = frozenset({"s001", "s002"})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Request:
    async def is_disconnected(self) -> bool:
        return False


class Marks(live.LiveMarks):
    """A worker's marks of s001 and s002 that the test moves by hand (`move`), and that say when
    a stream waits for news."""

    def __init__(self) -> None:
        super().__init__(db=None)
        self.answers, self._changed = {"s001": 1, "s002": 1}, asyncio.Event()
        self.waiting = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        self.waiting.set()
        await super().wait(timeout)


def move(m: Marks, *sites: str) -> None:
    """What the worker's poll does when it sees these sites' marks move."""
    m.moved({**m.answers, **{s: m.answers[s] + 1 for s in sites}}, m.fleet)


async def next_event(events: AsyncIterator[str]) -> str:
    """The stream's next event, pings skipped; fails rather than wait for a heartbeat."""
    while (chunk := await asyncio.wait_for(anext(events), 2)).startswith(":"):
        pass
    return chunk


async def event_after_move(events: AsyncIterator[str], m: Marks, *sites: str) -> str:
    """The event of a move the poll makes while the stream waits for one (as it mostly does)."""
    m.waiting.clear()
    task = asyncio.ensure_future(next_event(events))
    await m.waiting.wait()
    move(m, *sites)
    return await task


def answers(*sites: str) -> str:
    return 'event: answers\ndata: {"sites": [%s]}\n\n' % ", ".join(f'"{s}"' for s in sites)


def test_a_scope_is_as_old_as_its_read_began_not_as_when_it_returned(monkeypatch):
    """A scope read that waited (a busy thread pool, a busy database) counted its age from its
    end: a site that left the region while the read was under way was still named more than
    RESCOPE_S after the read had seen it in the region. Now the age counts from the read's start."""
    clock = Clock()
    monkeypatch.setattr(live, "time", SimpleNamespace(monotonic=clock))     # not asyncio's clock
    region = {"now": BOTH}
    reads = []

    async def scope_now():
        reads.append(clock.now)
        seen = region["now"]                     # the read sees the region as it begins …
        region["now"] = frozenset({"s001"})      # … s002 leaves it while the read waits …
        clock.now += 0.9                         # … and the read returns 0.9 s later
        return seen

    async def run() -> list[str]:
        m = Marks()
        events = (await live.stream(Request(), BOTH, m, scope_now)).body_iterator
        await anext(events)                                      # retry and hello
        clock.now += 5
        got = [await event_after_move(events, m, "s001")]        # read at t, returned at t+0.9
        clock.now += 0.3                                         # t+1.2: past RESCOPE_S since the read began
        got.append(await event_after_move(events, m, "s001", "s002"))
        return got

    got = asyncio.run(run())
    assert got[0] == answers("s001") and len(reads) == 2, (got, reads)
    assert got[1] == answers("s001"), got[1]


def test_a_move_while_the_stream_sends_is_named_too():
    """The stream took its marks for the next round after it had sent its events: a move the poll
    took while a send waited (a client reading slowly) went into them unnamed, and the page missed
    that news until the next. Now the marks the events were computed from are the ones kept, and
    a move taken in between is named at once."""
    async def scope_now():
        return BOTH

    async def run() -> list[str]:
        m = Marks()
        events = (await live.stream(Request(), BOTH, m, scope_now)).body_iterator
        await anext(events)
        got = [await event_after_move(events, m, "s001")]
        move(m, "s002")                          # the stream is at its `yield`: the send waits
        got.append(await next_event(events))
        return got

    got = asyncio.run(run())
    assert got == [answers("s001"), answers("s002")], got
