"""A page answered in this process, without a server: the page function, then guard's own
rendering and CSV export, for an admin (who sees the whole chain) at a fixed time."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from types import SimpleNamespace
from typing import Callable

from starlette.requests import Request

from server_sync.web import guard
from server_sync.web.audit import ViewLedger
from server_sync.web.cache import FiguresCache
from server_sync.web.people import User
from server_sync.web.scope import Scope


def visit(db, now: datetime, path: str, query: str = "", lang: str = "en", **path_params: str) -> guard.Visit:
    """A request for `path?query`, as guard makes it for a page."""
    request = Request({"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
                       "headers": [], "path_params": path_params, "client": ("127.0.0.1", 50000),
                       "scheme": "http", "server": ("testserver", 80)})
    live = SimpleNamespace(version_of=lambda sites, marks=None: 0, fleet_version_of=lambda sites, marks=None: 0)
    user = User(1, "ada-admin", "admin", lang)
    everything = frozenset(r[0] for r in db.execute_sql("SELECT id FROM site"))
    return guard.Visit(request, SimpleNamespace(db=db, cache=FiguresCache(seconds=300), live=live, views=ViewLedger()), user,
                       Scope(user, everything, True), None, now)


def shown(build: Callable[[guard.Visit], guard.PageResult], db, now: datetime, path: str, query: str = "",
          lang: str = "en", **path_params: str) -> tuple[str, list[dict], guard.PageResult]:
    """The page as guard renders it, its CSV download read back, and the page's figures."""
    v = visit(db, now, path, query, lang, **path_params)
    result = build(v)
    page = guard._respond(v, result).body.decode()
    with_format = "&".join(q for q in (query, "format=csv") if q)
    download = guard.export(visit(db, now, path, with_format, lang, **path_params), result, "csv").body.decode()
    return page, list(csv.DictReader(io.StringIO(download))), result
