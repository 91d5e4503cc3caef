"""The web app: its route table, the headers every answer carries, and the life of one worker
(database connection, live marks, report cache). `kiosk-central serve` runs it under uvicorn,
one app per worker process (`create_app_from_env`).

Every route's endpoint carries `access` (public, user, admin, form, token; see guard.py): the
tests walk this table and check each route as every role. Assets are served from the package
(no CDN, nothing fetched at run time).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from typing import AsyncIterator

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server_sync.central.db import connect
from server_sync.central.dialect import POSTGRES, SQLITE, dialect_of
from server_sync.web import api, audit, live, people, render, sessions
from server_sync.web.cache import FiguresCache
from server_sync.web.guard import WebState, error_page, page, public, refusal_page, server_fault, session_token
from server_sync.web.outage import Connections
from server_sync.web.pages import account, admin, comments, fleet, lists, overview, site, sites, workflow
from server_sync.web.scope import scope_of

ENV_SETTINGS = "KUNDPULS_WEB_SETTINGS"        # how `serve` hands settings to its worker processes
MAX_BODY = 64 * 1024                          # bytes of a request body (the forms are small)

# No inline script anywhere; inline style only as SVG attributes of the report's charts.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:;"
       " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@dataclass(frozen=True)
class WebSettings:
    database_url: str
    idle_minutes: float = 30.0
    cache_seconds: float = 30.0
    live_poll_s: float = 0.25
    threads: int = 8                        # database threads per worker (connections, on PostgreSQL)

    def encode(self) -> str:
        return "\t".join(str(getattr(self, f)) for f in self.__dataclass_fields__)

    @classmethod
    def decode(cls, text: str) -> "WebSettings":
        url, idle, cache, poll, threads = text.split("\t")
        return cls(url, float(idle), float(cache), float(poll), int(threads))


@public
async def report_css(request: Request) -> Response:
    return Response(_REPORT_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


_REPORT_CSS = render.report_css()


async def live_stream(request: Request) -> Response:
    """The Server-Sent Events of one open page (live.py), for the sites its person may see; it
    ends when the session does (logout, idle expiry, a disabled user)."""
    state: WebState = request.app.state.web
    # Reading the session here is not activity: an open page must not keep it alive.
    policy = dataclasses.replace(state.policy, touch_every=state.policy.idle * 1000)
    token = session_token(request, state)

    def who():
        s = sessions.load(state.db, token, policy)
        # One who must still change a one-time password sees no page but /account: no page's news.
        return None if s is None or s.user is None or s.user.must_change_password else scope_of(state.db, s.user)
    scope = await state.connections.in_thread(who)
    if scope is None:
        return error_page(request, 404)
    return await live.stream(request, scope.sites, state.live, scope_now=lambda: state.connections.in_thread(
        lambda: None if (now := who()) is None else now.sites))
live_stream.access = "user"


def route_table() -> list:
    return [
        Route("/", page(overview.build), name="overview"),
        Route("/sites", page(sites.build), name="sites"),
        Route("/sites/{site_id}", page(site.build), name="site"),
        Route("/sites/{site_id}/actions", workflow.action_add, methods=["POST"], name="action_add"),
        Route("/comments", page(comments.build), name="comments"),
        Route("/alerts", page(lists.alerts), name="alerts"),
        Route("/alerts/{alert_id:int}", workflow.alert_page, name="alert"),
        Route("/alerts/{alert_id:int}/assign", workflow.alert_assign, methods=["POST"], name="alert_assign"),
        Route("/alerts/{alert_id:int}/due", workflow.alert_due, methods=["POST"], name="alert_due"),
        Route("/alerts/{alert_id:int}/comment", workflow.alert_comment, methods=["POST"], name="alert_comment"),
        Route("/alerts/{alert_id:int}/ack", workflow.alert_ack, methods=["POST"], name="alert_ack"),
        Route("/alerts/{alert_id:int}/close", workflow.alert_close, methods=["POST"], name="alert_close"),
        Route("/actions", page(lists.actions), name="actions"),
        Route("/actions/{action_id:int}", workflow.action_page, name="action"),
        Route("/fleet", page(fleet.build), name="fleet"),
        Route("/live", live_stream, name="live"),
        Route("/login", account.login_page, methods=["GET"], name="login"),
        Route("/login", account.login_submit, methods=["POST"], name="login_submit"),
        Route("/logout", account.logout, methods=["POST"], name="logout"),
        Route("/session", account.keep_alive, methods=["POST"], name="keep_alive"),
        Route("/account", account.account, name="account"),
        Route("/account/password", account.change_password, methods=["POST"], name="account_password"),
        Route("/account/language", account.change_language, methods=["POST"], name="account_language"),
        Route("/admin/users", admin.users, name="admin_users"),
        Route("/admin/audit", admin.audit_log, name="admin_audit"),
        Route("/admin/deliveries", workflow.deliveries, name="admin_deliveries"),
        *api.routes(),
        Route("/static/report.css", report_css, name="report_css"),
        Mount("/static", StaticFiles(directory=str(files("server_sync.web") / "static")), name="static"),
    ]


class _HttpMiddleware:
    """An ASGI middleware that acts on HTTP requests (`http`); anything else (the lifespan)
    passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(_HttpMiddleware):
    """Headers every answer carries: CSP (no inline script), no framing, no sniffing, no
    referrer leaving the site; HSTS over TLS; and `Server-Timing: app;dur=…` (milliseconds from
    the request to the answer's first byte: what the benchmark reads)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        tls = scope.get("scheme") == "https"
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                            (b"cross-origin-opener-policy", b"same-origin")]
                if tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                took = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message["headers"] = headers
            await send(message)
        await self.app(scope, receive, send_with_headers)


class Faults(_HttpMiddleware):
    """An exception no route answered itself becomes guard.server_fault's 500 page (503 when the
    database failed; or the API's JSON error), logged once. Starlette's own handler would answer in
    plain English and raise on, and uvicorn would then log the traceback again and close the
    connection (a browser's keep-alive one, or a BI script's). Once an answer has begun (the live
    stream) nothing can be said any more: the exception goes on to uvicorn."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)
        try:
            await self.app(scope, receive, watched)
        except Exception as e:
            if started:
                raise
            await server_fault(Request(scope), e)(scope, receive, send)


class BodyLimit(_HttpMiddleware):
    """A request body over `most` bytes is refused with the 413 page before any route reads it:
    at once when its Content-Length says so, else (a chunked body) as soon as what a route reads
    grows past it, an HTTPException answered by _http_error. Starlette's own limit answered in
    plain English text, outside SecurityHeaders."""

    def __init__(self, app: ASGIApp, most: int) -> None:
        super().__init__(app)
        self.most = most

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.most:
            await (await refusal_page(Request(scope), 413))(scope, receive, send)
            return
        read = 0

        async def limited() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.most:
                raise HTTPException(413)
            return message
        await self.app(scope, limited, send)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own refusals: no such route (404), a method the route does not take (405, with
    its Allow header), a form it cannot read (400), a body over the limit (413, BodyLimit); made
    before any route knew the person, so in guard.visitor_language."""
    response = await refusal_page(request, exc.status_code)
    headers = dict(exc.headers or {})
    allowed = allowed_methods(request.app.router.routes, request.scope) if exc.status_code == 405 else []
    if allowed:
        headers["Allow"] = ", ".join(allowed)
    response.headers.update(headers)
    return response


def allowed_methods(routes: list, scope: Scope) -> list[str]:
    """Every method the routes matching the request's path take, sorted. Starlette's 405 names
    only the first matching route's: an address declared in two routes (/login: the page, GET,
    and its form, POST) was said to take only the first's."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def _connect(url: str):
    """The worker's database. On PostgreSQL its connections (one per thread) plan no parallel
    workers: a page's queries are short, and on a few cores the workers' start-up and CPU cost
    more than they save (a store manager's comments: 87 ms with two workers, 27 ms without, on
    the 10 M-answer benchmark chain; more under 50 users, whose queries the workers compete with)."""
    db = connect(url)
    if dialect_of(db) is POSTGRES:
        options = db.connect_params.get("options", "")
        db.connect_params["options"] = f"{options} -c max_parallel_workers_per_gather=0".strip()
        db.close()                  # this thread's connection, opened before the option
        db.connect()
    return db


def create_app(settings: WebSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        if said := people.cheap_hashes_said():
            logging.getLogger(__name__).warning(said)
        db = await anyio.to_thread.run_sync(lambda: _connect(settings.database_url))
        await anyio.to_thread.run_sync(render.compile_templates)
        if dialect_of(db) is SQLITE:
            # The centre's 64 MB page cache suits ingest's random inserts; a web worker opens one
            # connection per thread and reads rollups: 16 MB each (measured: 516 MB a worker).
            db.pragma("cache_size", -16384, permanent=True)
        # Every thread's work goes through `connections`: a store failure met by any of them
        # closes the connections of all (outage.py).
        connections = Connections(db)
        writer = audit.GroupWriter(db, connections=connections)
        marks = live.LiveMarks(db, settings.live_poll_s, connections)
        marks.start()
        app.state.web = WebState(db=db, policy=sessions.policy_for(timedelta(minutes=settings.idle_minutes)),
                                 cache=FiguresCache(settings.cache_seconds), live=marks, connections=connections)
        try:
            yield
        finally:
            await marks.stop()
            await anyio.to_thread.run_sync(writer.close)
            db.close()

    app = Starlette(routes=route_table(), lifespan=lifespan, exception_handlers={HTTPException: _http_error})
    app.add_middleware(BodyLimit, most=MAX_BODY)
    app.add_middleware(Faults)
    app.add_middleware(SecurityHeaders)              # added last: outermost, so a 500 page carries them too
    return app


class QueryHidden(logging.Filter):
    """uvicorn's access log without the query: `/comments?q=…` wrote the words searched (a
    customer's name or number, when an office user looks for the comment they asked to have
    removed) into the journal, which no erasure reaches (a privacy review). The path stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?…", *args[3:])
        return True


def hide_queries_in_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryHidden) for f in access.filters):
        access.addFilter(QueryHidden())


def create_app_from_env() -> Starlette:
    """uvicorn's factory in each worker process: the settings come from `serve` via the environment."""
    hide_queries_in_access_log()
    return create_app(WebSettings.decode(os.environ[ENV_SETTINGS]))
