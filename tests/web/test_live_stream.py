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


def _store_failure(text: str) -> Exception:
    """A query's error on a connection PostgreSQL cut: peewee's, psycopg's beneath."""
    import peewee
    import psycopg
    try:
        try:
            raise psycopg.OperationalError(text)
        except psycopg.OperationalError as e:
            raise peewee.OperationalError(e, *e.args)
    except peewee.OperationalError as e:
        return e


def test_an_open_stream_outlives_a_database_outage_and_names_nothing_it_cannot_check(monkeypatch):
    """The scope read of an open page failing (PostgreSQL restarting) ended the stream with a
    traceback in the log. Now the stream stays open and names no site until it has read the
    person's scope again."""
    clock = Clock()
    monkeypatch.setattr(live, "time", SimpleNamespace(monotonic=clock))
    database = {"up": True}

    async def scope_now():
        if not database["up"]:
            raise _store_failure("the connection is closed")
        return BOTH

    async def run() -> list[str]:
        m = Marks()
        events = (await live.stream(Request(), BOTH, m, scope_now)).body_iterator
        await anext(events)
        clock.now += 5
        database["up"] = False
        m.waiting.clear()
        task = asyncio.ensure_future(anext(events))
        await m.waiting.wait()
        move(m, "s001")
        got = [await asyncio.wait_for(task, 2)]                 # the read failed: a ping, no site
        database["up"] = True
        got.append(await event_after_move(events, m, "s002"))  # both moves, named once it reads again
        return got

    got = asyncio.run(run())
    assert got == [": ping\n\n", answers("s001", "s002")], got


def test_a_failing_poll_is_logged_once_an_outage_and_when_it_ends(caplog):
    """Every failed poll logged a line, four a second, for as long as PostgreSQL was down; a bug
    keeps its traceback, logged again only when it changes."""
    polls = live.PollFailures()
    for second, text in enumerate(["terminating connection due to administrator command"]
                                  + ["connection failed: Connection refused"] * 40):
        polls.failed(_store_failure(text), second / 4)
    polls.answered(10.5)
    polls.answered(10.75)
    for _ in range(3):
        polls.failed(KeyError("site_id"), 11.0)
    said = [(rec.levelname, rec.getMessage(), bool(rec.exc_info)) for rec in caplog.records]
    assert said == [("WARNING", "live marks: the database is unavailable (terminating connection due to administrator"
                                " command); polling on until it answers", False),
                    ("WARNING", "live marks: the database answers again (after 10 s)", False),
                    ("ERROR", "live marks: 'site_id'", True)], said
