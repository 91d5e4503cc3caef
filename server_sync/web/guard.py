"""Who is asking, and what they may see: every route of the app is one of the kinds below, and the
kind decides how the request is authenticated before the route's own code runs.

- `page`: a signed-in person (session cookie); no session -> the login page. The route returns a
  `PageResult`; `?format=csv|json|report` downloads what the page shows with the same filters
  (audited). `admin_page`: the same for admins; anyone else gets 404.
- `form`: a POST from a signed-in person with the session's CSRF token (synchronizer token).
- `public`: no person needed (login page, static files, the OpenAPI description).
- `api`: `Authorization: Bearer <token>` (a user's API token); JSON only.

Each wrapper computes the person's `Scope` (scope.visible_sites) before the route runs and hands
it over in the `Visit`; routes pass it to every query. A site or region outside it is a 404,
answered the same as an unknown one. The wrapped function runs in a worker thread (the database
calls are blocking), through outage.Connections: a database that fails under it costs that
request (a 503, server_fault), not the thread's later ones. Never trusts a value from the request
beyond what filters.py checked.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import IO, Any, Callable, Iterator, Mapping
from urllib.parse import quote, urlencode

import anyio.from_thread
from peewee import Database
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from server_sync.analysis import chain_report
from server_sync.analysis.fleet import fleet as fleet_rows
from server_sync.analysis.queries import ReportFilter
from server_sync.central import questions
from server_sync.central.dialect import driver_error, in_one_line, store_failure
from server_sync.exc import CentralConfigError, FieldError, StoredSettingError
from server_sync.protocol.codec import TEXT_WHITESPACE, one_line_break
from server_sync.protocol.vocabulary import ID_RE, LANGUAGES
from server_sync.web import audit, render, sessions, sheet_build, sheet_gate
from server_sync.web.filters import BadFilter, check_known, check_text, refused, refusal
from server_sync.web.outage import Connections
from server_sync.web.people import User, user_by_token
from server_sync.web.queries import question_words
from server_sync.web.scope import NotVisible, Scope, scope_of
from server_sync.report.workbook import to_xlsx

log = logging.getLogger(__name__)

COOKIE = "kp_session"
# The session cookie's name when cookies are Secure: a `__Host-` cookie is accepted by browsers
# only when it is Secure, has Path=/ and no Domain, so a sibling subdomain (shop.example setting
# Domain=.example) can neither plant nor shadow it. Plain HTTP (local use, tests) keeps COOKIE:
# browsers refuse the prefix there.
HOST_COOKIE = "__Host-" + COOKIE
LIVE_HEADER = "x-kundpuls-live"          # a page refreshing its live parts (not a person's click)
EXPORT_FORMATS = ("csv", "xlsx", "json", "report")
SPREADSHEETS = ("csv", "xlsx")       # a table a person downloads: every row the filters find, never a page
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Where a person with a one-time password may go before choosing their own (and /session: the
# idle notice on the account page keeps their session, as on any other).
MUST_CHANGE_PATHS = ("/account", "/account/password", "/logout", "/session")
# What a cache may keep of a page, a download or an error: nothing (each carries a person's figures,
# name or CSRF token).
NO_STORE = {"Cache-Control": "no-store"}
RETRY_AFTER_S = 5            # a 503's Retry-After: a restarting PostgreSQL is back within seconds
CLIENT_GONE = 499            # the answer to a client that went away (nginx's code): nobody reads it; not audited


@dataclass
class WebState:
    """What every request of one worker shares: settings, the database, the report cache, the
    live marks (live.py)."""
    db: Database
    policy: sessions.SessionPolicy
    cache: Any
    live: Any
    secure_cookies: bool | None = None       # None: when the request came over TLS
    views: audit.ViewLedger = field(default_factory=audit.ViewLedger)
    connections: Connections | None = None   # the threads' connections to db (outage.py); made from db if None

    def __post_init__(self) -> None:
        if self.connections is None:
            self.connections = Connections(self.db)


@dataclass
class PageResult:
    """What a page shows: its template and figures; `csv` turns the figures into a table for the
    CSV download; `report_filter` is the filter of the HTML report download."""
    template: str
    data: dict
    title_key: str
    csv: Callable[[dict], tuple[list[str], list]] | None = None
    report_filter: ReportFilter | None = None
    context: dict = field(default_factory=dict)      # template-only extras (not downloaded)
    live_sites: tuple[str, ...] | None = None         # sites whose new answers refresh the page
    title: str | None = None                          # its own <title> (an item's), else title_key's text


@dataclass
class Visit:
    """One authorised request: who, what they may see, and the tools to answer."""
    request: Request
    state: WebState
    user: User
    scope: Scope
    session: sessions.Session | None
    now: datetime
    _fresh: tuple[dict, dict] | None = None
    _views_of_download: list[tuple[str, dict]] = field(default_factory=list)   # audited once it is made

    @property
    def db(self) -> Database:
        return self.state.db

    @property
    def params(self) -> QueryParams:
        return self.request.query_params

    @property
    def lang(self) -> str:
        return self.user.language

    @property
    def live(self) -> bool:
        return self.request.headers.get(LIVE_HEADER) == "1"

    @property
    def address(self) -> str:
        return client_address(self.request)

    def comments_viewed(self, **detail: Any) -> None:
        """Audit that this person was shown comments on this page, unless it is a live refresh of
        a view this worker audited already for the session (audit.ViewLedger). A download's
        (`format`) is audited by `export` once the download is made: one refused (a large
        workbook while another is built, 503) was recorded as comments viewed, once per retry."""
        url = self.request.url
        view = url.path + "?" + "&".join(sorted(f"{k}={val}" for k, val in self.params.multi_items() if k != "format"))
        if self.params.get("format") is not None:
            self._views_of_download.append((view, detail))
        else:
            self._record_view(view, detail)

    def _record_view(self, view: str, detail: dict) -> None:
        if self.state.views.audit_due(self.session.token if self.session else None, view, self.live):
            audit.record(self.db, "comments_viewed", user_name=self.user.name, address=self.address,
                         page=self.request.url.path, **detail)

    def downloaded(self) -> None:
        """Audit the comment views of a download that has been made (comments_viewed)."""
        views, self._views_of_download = self._views_of_download, []
        for view, detail in views:
            self._record_view(view, detail)

    def _marks(self) -> tuple[dict | None, dict | None]:
        """The live marks to key cached figures by. A live refresh reads them from the database:
        the worker that answers it may not have polled yet the change another worker announced,
        and would serve its stale figures again."""
        if not self.live:
            return None, None
        if self._fresh is None:
            self._fresh = self.state.live.read()
        return self._fresh

    def sites_or_chain(self, sites: tuple[str, ...] | None = None) -> tuple[str, ...] | None:
        """The sites to query: None for the whole chain (a scope that sees everything and asked
        for no subset, which lets queries use the chain-wide rollups), else a tuple (maybe empty)."""
        if sites is None and self.scope.everything:
            return None
        return tuple(sorted(sites if sites is not None else self.scope.sites))

    def report(self, sites: tuple[str, ...] | None, f: ReportFilter, brief: bool = False) -> dict | None:
        """The chain report for `sites` (None: the chain), cached per worker until the sites'
        live marks move or a question is defined; None when there is nothing the person may see. `brief`: summary,
        sites, ranking and trends only (chain_report.build)."""
        if sites is not None and not sites:
            return None
        # The centre's minimum employee group is read each time (one small query), so that
        # `kiosk-central privacy set` holds at once, not after the cached figures expire.
        f = ReportFilter(sites or (), f.questions, f.date_from, f.date_to, f.min_ranked_n,
                         min_employee_group=chain_report.employee_group(self.db, f))
        version = self.state.live.version_of(sites, self._marks()[0])
        # and until the centre defines a question (as question_names: its wording and scale are
        # the report's too; a re-worded question was shown in its old words for the cache's 30 s)
        key = ("report", f, brief, version, questions.stamp(self.db))
        report = self.state.cache.get(key, lambda: chain_report.build(self.db, f, now=self.now, brief=brief))
        if self.scope.everything or not report.get("actions"):
            return report
        # The cached report is everyone's: a copy, its actions as this person may read them.
        return dict(report, actions=[self.scope.readable_action(a) for a in report["actions"]])


    def fleet(self, sites: tuple[str, ...] | None) -> list[dict]:
        """analysis.fleet's rows for `sites` (None: every kiosk), cached until a kiosk of theirs
        reports (its silence is measured against the time they were computed, at most the
        cache's seconds ago)."""
        if sites is not None and not sites:
            return []
        key = ("fleet", sites, self.state.live.fleet_version_of(sites, self._marks()[1]))
        return self.state.cache.get(key, lambda: fleet_rows(self.db, self.now, site_ids=sites))

    def question_names(self) -> dict[str, str]:
        """The questions' wording in the person's language (queries.question_words), cached per
        worker until the centre defines a question (the register's stamp: one small query), at
        most the cache's seconds: every page shows it, and reading the register each time made
        every page slower as kiosks' answers filled it (0.45 s at 200,000 rows)."""
        key = ("question_words", self.lang, questions.stamp(self.db))
        return self.state.cache.get(key, lambda: question_words(self.db, self.lang))


def client_address(request: Request) -> str:
    # uvicorn has already put the proxy's X-Forwarded-For here if the proxy is trusted
    # (--forwarded-allow-ips); otherwise it is the peer itself.
    return (request.client.host if request.client else "") or "unknown"


def _secure(request: Request, state: WebState) -> bool:
    return state.secure_cookies if state.secure_cookies is not None else request.url.scheme == "https"


def cookie_name(request: Request, state: WebState) -> str:
    """The session cookie's name for this request: HOST_COOKIE when cookies are Secure, else COOKIE."""
    return HOST_COOKIE if _secure(request, state) else COOKIE


def session_token(request: Request, state: WebState | None = None) -> str | None:
    """The session token the request carries, under the one name its security allows: over TLS
    only the `__Host-` cookie counts (a plain-named one may have been planted by a sibling
    subdomain), over plain HTTP only the plain one. `state`: the app's (request.app.state.web)."""
    return request.cookies.get(cookie_name(request, state or request.app.state.web))


def set_session_cookie(response: Response, request: Request, state: WebState, token: str) -> None:
    secure = _secure(request, state)
    # No Domain, Path=/, Secure: what a `__Host-` cookie must have.
    response.set_cookie(cookie_name(request, state), token, httponly=True, samesite="lax", secure=secure, path="/")


def clear_session_cookie(response: Response, request: Request, state: WebState) -> None:
    response.delete_cookie(cookie_name(request, state), httponly=True, samesite="lax", secure=_secure(request, state),
                           path="/")


def error_page(request: Request, status: int, lang: str = "en", message: str | None = None) -> Response:
    """404, 400, 403, 429 … the same page whatever the cause, so a 404 for a site the person
    may not see reads exactly like one for a site that does not exist."""
    # Never stored by a cache: the page carries a signed-in person's name and CSRF token, as every page does.
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message or render.text(f"error_{status}", "en")}, status_code=status,
                            headers=NO_STORE)
    # A signed-in person keeps the navigation, the same on every error page (no item marked as
    # the current one by the address), so that a 404 reads alike whatever the cause.
    session: sessions.Session | None = getattr(request.state, "session", None)
    person = session.user if session is not None else None
    signed_in = {"user": person, "nav": nav_items(person), "csrf": session.csrf_token, "path": ""} if person else {}
    body = render.page("web/error.html", lang, status=status, message=message, title_key=f"error_{status}",
                       **signed_in)
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


# Norwegian (`no`) and nynorsk (`nn`) readers get bokmål, the Norwegian the app speaks.
_READ_AS = {"no": "nb", "nn": "nb"}


def browser_language(header: str) -> str | None:
    """The one of the app's languages a browser prefers (its Accept-Language, by q-value; the
    first of equals), or None when it asks for none of them."""
    best, best_q = None, 0.0
    for item in header.split(",")[:32]:
        tag, *params = item.split(";")
        lang = tag.strip().split("-")[0].lower()
        lang = _READ_AS.get(lang, lang)
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if lang in LANGUAGES and 0 < q <= 1 and q > best_q:
            best, best_q = lang, q
    return best


# The language of a page when nothing says which: English. The product's texts exist in sv, nb and
# en, but this is reached only by a browser that asks for none of them (a Swedish or Norwegian
# browser already got its own), whose reader is likelier to read English than Swedish; and
# docs/web.md promises English.
DEFAULT_LANGUAGE = "en"


def page_language(request: Request, person: User | None = None) -> str:
    """The one rule for the language of a page: the signed-in person's (`person`, as the caller
    knows them); else the `?lang=` the request asks for (one of the app's; any other value is
    passed over); else the browser's among the app's; else DEFAULT_LANGUAGE."""
    if person is not None:
        return person.language
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    return browser_language(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE


def visitor_language(request: Request) -> str:
    """page_language of a request that no route has looked at yet (Starlette's 404, 405, 400, the
    body limit's 413): the person is the one of the session cookie when it is valid (read without
    moving its idle clock: a mistyped address is no work). Reads the database only when there is
    a cookie."""
    person = None
    if session_token(request):
        session = _load_session(request, request.app.state.web, touch=False)
        request.state.session = session                  # error_page shows the navigation
        person = session.user if session is not None else None
    return page_language(request, person)


async def refusal_page(request: Request, status: int) -> Response:
    """error_page for a refusal made before any route ran, in visitor_language (the API's, JSON
    in English, needs no language)."""
    if request.url.path.startswith("/api/"):
        return error_page(request, status)
    lang = await request.app.state.web.connections.in_thread(visitor_language, request) if session_token(request) \
        else visitor_language(request)
    return error_page(request, status, lang)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _login_redirect(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        params = {"next": request.url.path + (("?" + request.url.query) if request.url.query else "")}
    else:
        # A form sent after the session ended: not saved, and its address takes only posts (back
        # there after signing in was a 405). Back to the page it was sent from, and say so.
        params = {"next": form_page(request), UNSAVED: "1"}
    return RedirectResponse("/login?" + urlencode(params), status_code=303)


UNSAVED = "unsaved"          # the login page's parameter: a form was sent after the session ended


def form_page(request: Request) -> str:
    """The page a form was posted from: the Referer when it is this site's, else the post's
    address one step up (/alerts/4/comment -> /alerts/4)."""
    from urllib.parse import urlsplit
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return request.url.path.rstrip("/").rsplit("/", 1)[0] or "/"


def _load_session(request: Request, state: WebState, touch: bool = True) -> sessions.Session | None:
    policy = state.policy
    if not touch:
        # A live refresh reads the session without moving its idle clock: a page left open is
        # not a person at work, so it still expires.
        from dataclasses import replace
        policy = replace(policy, touch_every=policy.idle * 1000)
    return sessions.load(state.db, session_token(request, state), policy)


def _authorise(request: Request, admin_only: bool) -> Visit | Response:
    state: WebState = request.app.state.web
    live = request.headers.get(LIVE_HEADER) == "1"
    session = _load_session(request, state, touch=not live)
    if session is None or session.user is None:
        return _login_redirect(request)
    user = session.user
    request.state.language = user.language          # what server_fault answers in, should it come to that
    request.state.session = session                 # error_page shows the person's navigation
    if user.must_change_password and request.url.path not in MUST_CHANGE_PATHS:
        return RedirectResponse("/account", status_code=303)
    if admin_only and not user.is_admin:
        return error_page(request, 404, user.language)
    return Visit(request, state, user, scope_of(state.db, user), session, _now())


def _guarded(request: Request, call: Callable[[], Response], lang: str = "en") -> Response:
    """Turn the refusals every route may meet into their pages, in `lang` (the person's). What is
    not the request's fault goes on up to server_fault."""
    try:
        return call()
    except NotVisible:
        return error_page(request, 404, lang)
    except BadFilter as e:
        return error_page(request, 400, lang, e.said_in(lang))
    except FieldError as e:               # e.g. an unknown question id in the filters (chain_report's)
        return error_page(request, 400, lang, refused(e).said_in(lang))
    except StoredSettingError:
        raise                             # the centre's, not the request's: a 500 (server_fault)
    except CentralConfigError as e:
        return error_page(request, 400, lang, str(e))


def server_fault(request: Request, exc: Exception) -> Response:
    """The one answer to an exception no route answered itself, whatever the route (app.Faults calls
    it): a 500 page in page_language (the person's once _authorise knows them), or the API's JSON
    error. The log gets the method and path, once; the page never a traceback. The database failing
    (central.dialect.store_failure: PostgreSQL restarting or out of reach, a killed connection, a
    SQLite file locked beyond its busy timeout, a full disk) is a 503, "try again in a moment",
    logged in one line with the driver's error: the thread's connection is closed already
    (outage.py), so the next request connects afresh. A setting of the centre edited by hand
    (StoredSettingError, e.g. the minimum employee group every report reads, a site's time zone or
    opening hours) is the operator's to fix: the page says how (the error's `fix`: set it again with
    its command), the log says which setting, of which site, without a traceback; anything else is
    a fault of the code, logged with its traceback."""
    lang = getattr(request.state, "language", None) or page_language(request)
    if store_failure(exc) is not None:
        log.error("%s %s: the database is unavailable, answered 503: %s", request.method, request.url.path,
                  in_one_line(driver_error(exc)))
        response = error_page(request, 503, lang, render.text("store_unavailable", lang))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    if isinstance(exc, StoredSettingError):
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_page(request, 500, lang, render.text("setting_broken", lang, fix=exc.fix))
    log.error("%s %s: unexpected error", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, lang, render.text("server_fault", lang))


def _page_endpoint(fn: Callable[[Visit], PageResult | Response], admin_only: bool) -> Callable:
    def run(request: Request) -> Response:
        visit = _authorise(request, admin_only)
        if isinstance(visit, Response):
            return visit
        return _guarded(request, lambda: _respond(visit, _call(fn, visit)), visit.lang)

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        return await request.app.state.web.connections.in_thread(run, request)
    endpoint.access = "admin" if admin_only else "user"
    endpoint.page = fn
    return endpoint


def _call(fn: Callable[[Visit], Any], visit: Visit) -> Any:
    """Run a page function after refusing query parameters it does not take (a typo or a probe
    must not be silently ignored: the person would think the filter applies)."""
    check_known(visit.params, getattr(fn, "params", ()))
    return fn(visit)


def page(fn: Callable[[Visit], PageResult | Response]) -> Callable:
    return _page_endpoint(fn, admin_only=False)


def admin_page(fn: Callable[[Visit], PageResult | Response]) -> Callable:
    return _page_endpoint(fn, admin_only=True)


def nav_items(user: User) -> list[tuple[str, str, str]]:
    """The navigation: (address, its text, the part of the site it stands for: the pages whose
    address starts with it are marked as current under it; "/" only itself)."""
    items = [("/", "nav_overview", "/"), ("/sites", "nav_sites", "/sites"), ("/comments", "nav_comments", "/comments"),
             ("/alerts", "nav_alerts", "/alerts"), ("/actions", "nav_actions", "/actions"),
             ("/fleet", "nav_fleet", "/fleet")]
    if user.is_admin:
        # Users, deliveries and the audit log are one part: Admin was marked on Users only.
        items.append(("/admin/users", "nav_admin", "/admin/"))
    return items


def _respond(visit: Visit, result: PageResult | Response) -> Response:
    if isinstance(result, Response):
        return result
    fmt = visit.params.get("format")
    if fmt is not None:
        return export(visit, result, fmt)
    query = [(k, v) for k, v in visit.params.multi_items() if k != "format"]
    # A report of no sites (a region manager whose region has none yet) is a 404: not offered.
    reportable = result.report_filter is not None and bool(result.report_filter.sites or visit.sites_or_chain() != ())
    offered = [f for f, ok in (("csv", result.csv), ("xlsx", result.csv), ("json", result.csv or result.report_filter),
                               ("report", reportable)) if ok]
    downloads = {f: visit.request.url.path + "?" + urlencode(query + [("format", f)]) for f in offered}
    report = result.data.get("report")
    body = render.page(result.template, visit.lang, report=report, data=result.data, user=visit.user,
                       nav=nav_items(visit.user), path=visit.request.url.path,
                       csrf=visit.session.csrf_token if visit.session else "", title_key=result.title_key,
                       page_title=result.title, downloads=downloads, idle_seconds=idle_seconds(visit),
                       live_sites=" ".join(result.live_sites) if result.live_sites is not None else None,
                       params=visit.params, question_names=visit.question_names(),
                       **result.context)
    return HTMLResponse(body, headers=NO_STORE)


def idle_seconds(visit: Visit) -> int | None:
    """The seconds the page's session has left without activity (body data-idle-seconds: app.js
    warns before they run out), None without a session."""
    if visit.session is None:
        return None
    return sessions.seconds_left(visit.session, visit.state.policy)


def export(visit: Visit, result: PageResult, fmt: str, event: str = "export") -> Response:
    """The page's figures as CSV, JSON or the HTML report, audited once made: a download refused
    (a large workbook while another is built, 503) was recorded as exported, once per retry."""
    filters = {k: v for k, v in visit.params.items() if k != "format"}
    response = _export(visit, result, fmt, event, filters)
    if response.status_code < 400:
        visit.downloaded()
        audit.record(visit.db, event, user_name=visit.user.name, address=visit.address,
                     page=visit.request.url.path, format=fmt, filters=filters)
    return response


def _export(visit: Visit, result: PageResult, fmt: str, event: str, filters: dict[str, str]) -> Response:
    if fmt not in EXPORT_FORMATS:
        raise refusal("bad_choice", "format", value=fmt, allowed=", ".join(EXPORT_FORMATS))
    if result.csv is None and result.report_filter is None and event == "export":
        raise refusal("no_download", value=fmt)
    name = result.title_key.removeprefix("title_")

    def named(page: str, ext: str) -> dict[str, str]:
        return _attachment(f"{file_name(page, visit.request.path_params, filters, visit.now)}.{ext}")
    if fmt == "json":
        data = {k: v for k, v in result.data.items() if k != "report"}
        return Response(render.to_json(data), media_type="application/json", headers=named(name, "json"))
    if fmt in SPREADSHEETS:
        if result.csv is None:
            raise refusal("no_download", value=fmt)
        columns, rows = result.csv(result.data)
        if fmt == "xlsx":         # the same table for Excel (workbook.py: why)
            return _workbook(visit, columns, rows, render.text(result.title_key, visit.lang), named(name, "xlsx"))
        return Response(render.to_csv(columns, rows), media_type="text/csv; charset=utf-8",
                        headers=named(name, "csv"))
    if result.report_filter is None:
        raise refusal("no_download", value=fmt)
    f = result.report_filter
    # A report filter without sites stands for the page's own: every site the person may see.
    report = visit.report(f.sites if f.sites else visit.sites_or_chain(), f)
    if report is None:
        raise NotVisible("no sites")
    from server_sync.report import html as report_html
    return HTMLResponse(report_html.render(report, visit.lang), headers=named("report", "html"))


def _workbook(visit: Visit, columns: list[str], rows: list, sheet: str, headers: dict[str, str]) -> Response:
    """The table as an Excel download. A large one (sheet_gate) is built by a child process
    (sheet_build: openpyxl would hold this worker's interpreter for seconds) and streamed from its
    file; a few at a time per worker (each child costs memory and a core), a next one a 503."""
    # The API speaks English whoever's token it is (docs/web.md), as its other refusals.
    lang = "en" if visit.request.url.path.startswith("/api/") else visit.lang
    try:
        with sheet_gate.GATE.building(len(rows)) as large:
            if not large:
                return Response(to_xlsx(columns, rows, sheet=sheet), media_type=XLSX_TYPE, headers=headers)
            book = sheet_build.build(columns, rows, sheet, cancelled=lambda: client_gone(visit.request))
    except sheet_gate.SheetBusy:
        response = error_page(visit.request, 503, lang, render.text("sheet_busy", lang))
        response.headers["Retry-After"] = str(sheet_gate.RETRY_AFTER_S)
        return response
    except sheet_build.SheetCancelled:
        log.info("%s: the client went away before its workbook was built; stopped", visit.request.url.path)
        return Response(status_code=CLIENT_GONE)
    except sheet_build.SheetTimeout as e:
        log.warning("%s: workbook of %d rows %s; stopped", visit.request.url.path, len(rows), e)
        return error_page(visit.request, 503, lang, render.text("sheet_too_slow", lang))
    return StreamingResponse(_file_chunks(book), media_type=XLSX_TYPE,
                             headers={**headers, "Content-Length": str(os.fstat(book.fileno()).st_size)})


def _file_chunks(book: IO[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    """An open file's bytes, closed at the end (or when the response is dropped: the generator's
    close)."""
    with book:
        while chunk := book.read(size):
            yield chunk


def client_gone(request: Request) -> bool:
    """Whether the client of `request` has gone away, asked from a worker thread of the event
    loop that serves it; False where there is none (a page answered in process, in a test)."""
    try:
        return anyio.from_thread.run(request.is_disconnected)
    except RuntimeError:
        return False


def file_name(page: str, path_params: dict[str, Any], filters: dict[str, str], now: datetime) -> str:
    """A download's name without its extension: the page, what it is of (its site, alert or
    action; the site or region filtered on) and when, in UTC (`Z`): two stores' downloads were
    told apart by their minute alone."""
    of = [str(v) for v in path_params.values()] + [filters[k] for k in ("site", "region") if filters.get(k)]
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%d-%H%MZ")
    return "-".join(["kundpuls", page, *(part for part in of if ID_RE.fullmatch(part)), stamp])


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{quote(filename)}\"", **NO_STORE}


# --- forms ------------------------------------------------------------------------------------

# What a form's text may hold besides printable characters: line breaks (read as LF) and tabs, as the
# command line's free text (commands._argtypes.free_text).
FORM_WHITESPACE = TEXT_WHITESPACE


NO_LABELS: Mapping[str, str] = MappingProxyType({})


async def read_form(request: Request, labels: Mapping[str, str] = NO_LABELS,
                    within: str | None = None) -> tuple[dict[str, str], BadFilter | None]:
    """A posted form's text fields, and the refusal of the first field that is not text (a file
    sent as a field: its object reached the CSRF check, a 500, and was saved as a comment's text)
    or holds a control character (filters.check_text), naming the field by the label the form
    shows (`labels`: a field -> the web's text of its label; one the form has not, as sent) and
    framed by `within` (filters.refusal). The CSRF token is checked before the
    refusal is given: a forged post is a 403 whatever its fields. A line break is one character (LF)
    whatever the browser sent: it sends a textarea's as CRLF, and a comment typed up to its
    maxlength (which counts each as one) was refused as longer than the limit the field shows."""
    fields = [(name, one_line_break(value) if isinstance(value, str) else value)
              for name, value in (await request.form()).multi_items()]
    try:
        check_text(fields, FORM_WHITESPACE, labels, within)
        problem = None
    except BadFilter as e:
        problem = e
    return {k: v for k, v in fields if isinstance(v, str)}, problem


def form(fn: Callable[[Visit, dict], Response] | None = None, *, labels: Mapping[str, str] = NO_LABELS) -> Callable:
    """A POST from a signed-in person; refused (403) without the session's CSRF token, and (400)
    with a field that is not plain text (read_form), as the forms' other refusals are: "That
    could not be saved:", the field named by its label. `@form(labels=…)`: the form's labels (a
    field -> the web's text of its label); a refusal named the field by its name in the HTML
    ('note', 'new') before (a review)."""
    if fn is None:
        return functools.partial(form, labels=labels)

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        fields, problem = await read_form(request, labels, within="form_refused")

        def run() -> Response:
            visit = _authorise(request, admin_only=False)
            if isinstance(visit, Response):
                return visit
            if not sessions.csrf_ok(visit.session, fields.get("csrf_token")):
                return error_page(request, 403, visit.lang, render.text("csrf_refused", visit.lang))
            if problem is not None:
                return error_page(request, 400, visit.lang, problem.said_in(visit.lang))
            return _guarded(request, lambda: fn(visit, fields), visit.lang)
        return await request.app.state.web.connections.in_thread(run)
    endpoint.access = "form"
    return endpoint


def public(fn: Callable) -> Callable:
    fn.access = "public"
    return fn


# --- the API ----------------------------------------------------------------------------------

def api(fn: Callable[[Visit], PageResult | dict]) -> Callable:
    """A JSON API call with a bearer token; the same figures as the page the function serves."""
    def run(request: Request) -> Response:
        state: WebState = request.app.state.web
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        user = user_by_token(state.db, token.strip()) if scheme.lower() == "bearer" and token else None
        if user is None:
            return JSONResponse({"error": "a valid API token is needed: Authorization: Bearer <token>"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if user.must_change_password:
            # A one-time password is a handed-over secret: until its owner has replaced it, someone
            # else may know it, so nothing made with it is trusted yet (add_token refuses too).
            return JSONResponse({"error": f"user {user.name!r} must change the one-time password first:"
                                          " sign in to the web app and change it"}, status_code=403)
        visit = Visit(request, state, user, scope_of(state.db, user), None, _now())

        def answer() -> Response:
            result = _call(fn, visit)
            data = result.data if isinstance(result, PageResult) else result
            fmt = request.query_params.get("format")
            if fmt is not None:           # as on the pages: an empty or unknown format is a 400, never ignored
                if not isinstance(result, PageResult):
                    raise refusal("no_download", value=fmt)
                return export(visit, result, fmt, "api_export")
            # Like every page: answers hold customers' comments, kept by no cache.
            return JSONResponse({k: v for k, v in data.items() if k != "report"} if "report" in data else data,
                                headers=NO_STORE)
        return _guarded(request, answer)

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        return await request.app.state.web.connections.in_thread(run, request)
    endpoint.access = "token"
    endpoint.page = fn
    return endpoint

