"""New answers on open pages within two seconds, with any number of web workers and ingestors.

Each worker polls the database's high-water marks (marks.py: one version per site, bumped by
ingest after each commit; the kiosks' status for the fleet) every `poll_s` seconds: two small
queries, whatever the traffic. When a mark moves, every open page's Server-Sent Events stream
(`/live`) of that worker is told which of *its person's* sites changed (a stream never names a
site its person may not see), and the page fetches its own live parts again (static/app.js).

The same marks version the report cache (guard.Visit.report), so the refetch computes afresh.
Never writes; a failing poll is retried, on a new connection after a store failure (outage.py),
and logged once per outage: when the database stops answering and when it answers again. An open
stream outlives the outage (its scope read fails meanwhile: it names nothing until it reads one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import AsyncIterator, Awaitable, Callable

from peewee import Database
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server_sync.central.dialect import driver_error, in_one_line, store_failure
from server_sync.web import marks
from server_sync.web.guard import NO_STORE
from server_sync.web.outage import Connections

log = logging.getLogger(__name__)
HEARTBEAT_S = 15.0
SESSION_CHECK_S = 30.0        # how often an open stream asks whether its session still lives
# How long a stream names sites on the scope it last read: one small query a second at most per
# open page while answers arrive, not one per poll (four a second).
RESCOPE_S = 1.0


class LiveMarks:
    """The latest marks this worker has seen, and an event that fires when they move."""

    def __init__(self, db: Database, poll_s: float = 0.25, connections: Connections | None = None) -> None:
        self.db = db
        self.poll_s = poll_s
        self.connections = connections or Connections(db)
        self.answers: dict[str, int] = {}
        self.fleet: dict[str, tuple] = {}
        self.generation = 0
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.stopping = False

    def version_of(self, sites: tuple[str, ...] | None, answers: dict | None = None) -> int:
        """A number that changes whenever an answer of `sites` (None: any site) arrives; from
        this worker's last poll, or from `answers` (marks just read)."""
        answers = self.answers if answers is None else answers
        if sites is None:
            return hash(tuple(sorted(answers.items())))
        return hash(tuple(answers.get(s, 0) for s in sites))

    def fleet_version_of(self, sites: tuple[str, ...] | None, fleet: dict | None = None) -> int:
        """A number that changes whenever a kiosk of `sites` (None: any) reports."""
        fleet = self.fleet if fleet is None else fleet
        if sites is None:
            return hash(tuple(sorted(fleet.items())))
        return hash(tuple(fleet.get(s) for s in sites))

    def read(self) -> tuple[dict[str, int], dict[str, tuple]]:
        return marks.versions(self.db), marks.fleet_marks(self.db)

    def start(self) -> None:
        self.answers, self.fleet = self.read()
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        self.stopping = True
        if self._changed:
            self._changed.set()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _poll(self) -> None:
        outage = PollFailures()
        while not self.stopping:
            await asyncio.sleep(self.poll_s)
            try:
                answers, fleet = await self.connections.in_thread(self.read)
            except Exception as e:                 # the database may be restarting: try again
                outage.failed(e, time.monotonic())
                continue
            outage.answered(time.monotonic())
            if answers != self.answers or fleet != self.fleet:
                self.moved(answers, fleet)

    def moved(self, answers: dict[str, int], fleet: dict[str, tuple]) -> None:
        """Take marks that moved (new dicts: the old ones are never changed) and wake the streams."""
        self.answers, self.fleet = answers, fleet
        self.generation += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class PollFailures:
    """What the poll logs of its failures: a store failure once per outage (its driver's error
    changes as the database goes down and comes back: the connection killed, then refused), and
    the first poll that answers after it; any other error (a bug) with its traceback, again only
    when its text changes. Every failed poll (four a second) logged a line of its own."""

    def __init__(self) -> None:
        self.since: float | None = None       # when the outage under way began
        self.said: str | None = None          # the last error logged

    def failed(self, error: Exception, now: float) -> None:
        if store_failure(error) is not None:
            if self.since is None:
                self.since = now
                log.warning("live marks: the database is unavailable (%s); polling on until it answers",
                            in_one_line(driver_error(error)))
            return
        said = in_one_line(error)
        if said != self.said:
            self.said = said
            log.error("live marks: %s", said, exc_info=error)

    def answered(self, now: float) -> None:
        if self.since is not None:
            log.warning("live marks: the database answers again (after %.0f s)", now - self.since)
        self.since = self.said = None


def changed_sites(before: dict, after: dict, visible: frozenset[str]) -> list[str]:
    return sorted(s for s in visible if before.get(s) != after.get(s))


async def stream(request: Request, visible: frozenset[str], live: LiveMarks,
                 scope_now: Callable[[], Awaitable[frozenset[str] | None]]) -> Response:
    """The Server-Sent Events stream of one open page: `event: answers` / `event: fleet` with the
    visible sites whose marks moved. `scope_now()` reads the session again: the sites its person
    may see now, None once it has ended (logout, expiry, a disabled user). It is asked before
    sites are named (at most every `RESCOPE_S`) and every `SESSION_CHECK_S` when nothing moves:
    a stream kept the sites it began with, naming a site moved out of a regional manager's
    region, and went on for up to 30 s after a logout (a review)."""
    async def events() -> AsyncIterator[str]:
        nonlocal visible
        answers, fleet, seen = live.answers, live.fleet, live.generation
        checked = time.monotonic()
        yield "retry: 2000\nevent: hello\ndata: {}\n\n"
        while not live.stopping:
            # A move the poll took while this stream was sending (a send waits for a slow
            # client) woke no wait of ours: it is named now, not at the next news.
            if live.generation == seen:
                await live.wait(HEARTBEAT_S)
            if await request.is_disconnected():
                return
            moved = any(changed_sites(before, after, visible)
                        for before, after in ((answers, live.answers), (fleet, live.fleet)))
            since = time.monotonic() - checked
            if since > SESSION_CHECK_S or (moved and since > RESCOPE_S):
                # A scope is as old as its read's start: the read may wait for a thread or the
                # database, and what it saw at its start may have changed before it returned.
                started = time.monotonic()
                try:
                    now_visible = await scope_now()
                except Exception as e:
                    if store_failure(e) is None:
                        raise
                    # The database is down (the poll says so in the log): no site is named on a
                    # scope that could not be read; the next news or heartbeat asks again.
                    seen = live.generation
                    yield ": ping\n\n"
                    continue
                if now_visible is None:
                    yield "event: ended\ndata: {}\n\n"
                    return
                visible, checked = now_visible, started
            # The marks named now are the marks kept (LiveMarks.moved replaces them, never changes them).
            now_answers, now_fleet, seen = live.answers, live.fleet, live.generation
            sent = False
            for name, before, after in (("answers", answers, now_answers), ("fleet", fleet, now_fleet)):
                sites = changed_sites(before, after, visible)
                if sites:
                    yield f"event: {name}\ndata: {json.dumps({'sites': sites})}\n\n"
                    sent = True
            answers, fleet = now_answers, now_fleet
            if not sent:
                yield ": ping\n\n"
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={**NO_STORE, "X-Accel-Buffering": "no"})
