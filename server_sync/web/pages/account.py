"""Signing in and out, and one's own account (language, password).

The login form is CSRF-protected like every form: the visitor first gets a session without a
user that carries its token. A wrong name and a wrong password get the same answer; a locked
account or address is told to wait (throttling: sessions.py). Signing in, changing the password
and signing out each start from a fresh session token.
"""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.web import audit, filters, render, sessions
from server_sync.web.guard import (NO_STORE, UNSAVED, PageResult, Visit, WebState, clear_session_cookie, client_address,
                                   error_page, form, idle_seconds, page, page_language, public, read_form,
                                   session_token, set_session_cookie)
from server_sync.web.people import PASSWORD_PROBLEMS, password_problem, set_language, set_password
from server_sync.web.queries import scope_names

ACCOUNT_ERRORS = ("password_wrong", "password_mismatch", "password_same",
                  *(f"password_{problem}" for problem in PASSWORD_PROBLEMS))
ACCOUNT_DONE = ("password", "language")
# The forms' fields → the web's text of each one's label (a refused field is named by it).
LOGIN_LABELS = {"name": "login_name", "password": "login_password"}
PASSWORD_LABELS = {"current": "password_current", "new": "password_new", "again": "password_again"}
LANGUAGE_LABELS = {"language": "account_language"}


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    u = urlparse(target)
    return "/" if u.scheme or u.netloc else target


def _login_form(request: Request, session: sessions.Session, status: int = 200, error_key: str | None = None,
                name: str = "", target: str | None = None) -> Response:
    """The login page in guard.page_language; its form posts to `/login?lang=` that language, so
    that what the post answers (a wrong password, a lock-out, a refused token) is said in it too."""
    lang = page_language(request, session.user)
    body = render.page("web/login.html", lang, user=None, nav=(), csrf=session.csrf_token,
                       error=render.text(error_key, lang) if error_key else None, languages=LANGUAGES,
                       next=_safe_next(target or request.query_params.get("next")), name=name, title_key="title_login")
    response = HTMLResponse(body, status_code=status, headers=NO_STORE)
    set_session_cookie(response, request, request.app.state.web, session.token)
    return response


LOCKED = "locked"        # the login page's parameter: signed out after too many wrong passwords


def _login_notice(request: Request) -> str | None:
    """What the login page tells a person sent to it: why they must sign in (again)."""
    if request.query_params.get(LOCKED) == "1":
        return "login_signed_out_locked"
    return "login_unsaved" if request.query_params.get(UNSAVED) == "1" else None


@public
async def login_page(request: Request) -> Response:
    state: WebState = request.app.state.web

    def run() -> Response:
        session = sessions.load(state.db, session_token(request, state), state.policy)
        if session is not None and session.user is not None:
            return RedirectResponse("/", status_code=303)
        if session is None:
            sessions.purge(state.db, state.policy)
            session = sessions.create(state.db, None, address=client_address(request),
                                      user_agent=request.headers.get("user-agent"))
        return _login_form(request, session, error_key=_login_notice(request))
    return await state.connections.in_thread(run)


@public
async def login_submit(request: Request) -> Response:
    state: WebState = request.app.state.web
    fields, problem = await read_form(request, LOGIN_LABELS)

    def run() -> Response:
        pre = sessions.load(state.db, session_token(request, state), state.policy)
        if not sessions.csrf_ok(pre, fields.get("csrf_token")):
            lang = page_language(request, pre.user if pre is not None else None)
            return error_page(request, 403, lang, render.text("csrf_refused", lang))
        if problem is not None:
            lang = page_language(request, pre.user)
            return error_page(request, 400, lang, problem.said_in(lang))
        name = str(fields.get("name", ""))[:64]
        try:
            session = sessions.login(state.db, name, str(fields.get("password", "")), address=client_address(request),
                                     user_agent=request.headers.get("user-agent"), policy=state.policy)
        except sessions.LockedOut:
            return _login_form(request, pre, 429, "login_locked", name, str(fields.get("next", "")))
        if session is None:
            return _login_form(request, pre, 401, "login_failed", name, str(fields.get("next", "")))
        sessions.end(state.db, pre.token)
        target = "/account" if session.user.must_change_password else _safe_next(str(fields.get("next", "/")))
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, request, state, session.token)
        return response
    return await state.connections.in_thread(run)


@form
def logout(v: Visit, fields: dict) -> Response:
    sessions.end(v.db, v.session.token)
    audit.record(v.db, "logout", user_name=v.user.name, address=v.address)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, v.request, v.state)
    return response


@form
def keep_alive(v: Visit, fields: dict) -> Response:
    """"Stay signed in" of the warning before the idle limit (static/app.js): the request itself
    counted as activity (guard's _authorise); says the seconds the session now has left."""
    return JSONResponse({"seconds_left": idle_seconds(v)}, headers=NO_STORE)


@page
@filters.takes("done", "error")
def account(v: Visit) -> PageResult:
    done, error = v.params.get("done"), v.params.get("error")
    # Only what the account's own forms send back: anything else is a 400 like any other filter.
    for name, value, offered in (("done", done, ACCOUNT_DONE), ("error", error, ACCOUNT_ERRORS)):
        if value is not None and value not in offered:
            raise filters.refusal("not_offered", name, value=value)
    return PageResult("web/account.html", {"user": v.user.as_dict()}, "title_account",
                      context={"languages": LANGUAGES, "message": done, "error": error,
                               "scope_names": scope_names(v.db)})


@form(labels=PASSWORD_LABELS)
def change_password(v: Visit, fields: dict) -> Response:
    current, new, again = (str(fields.get(k, "")) for k in ("current", "new", "again"))
    if not _current_password_right(v, current):
        if sessions.failures_left(v.db, v.user.name, v.address, v.state.policy) <= 0:
            return _signed_out_for_guessing(v)
        return RedirectResponse("/account?error=password_wrong", status_code=303)
    problem = None
    if new != again:
        problem = "password_mismatch"
    elif new == current:
        problem = "password_same"
    elif why := password_problem(new, v.user.name):
        problem = f"password_{why}"               # what is wrong with it: every refusal read "too short"
    else:
        set_password(v.db, v.user.name, new, one_time=False)      # ends every session of the user
    if problem:
        return RedirectResponse(f"/account?error={problem}", status_code=303)
    audit.record(v.db, "password_changed", user_name=v.user.name, address=v.address)
    fresh = sessions.create(v.db, v.user, address=v.address, user_agent=v.request.headers.get("user-agent"))
    response = RedirectResponse("/account?done=password", status_code=303)
    set_session_cookie(response, v.request, v.state, fresh.token)
    return response


def _current_password_right(v: Visit, current: str) -> bool:
    """Whether `current` is the person's password, counted and locked out as sign-in is: a session
    left open (or stolen) must not become a way to guess the password without limit."""
    try:
        right = sessions.check_password(v.db, v.user.name, current, address=v.address, policy=v.state.policy)
    except sessions.LockedOut:
        right = None
    if right is None:
        audit.record(v.db, "password_change_failed", user_name=v.user.name, address=v.address)
    return right is not None


def _signed_out_for_guessing(v: Visit) -> Response:
    """The account's limit of wrong passwords is reached: the session ends, and signing in again
    is throttled like any other."""
    sessions.end(v.db, v.session.token)
    response = RedirectResponse(f"/login?{LOCKED}=1", status_code=303)
    clear_session_cookie(response, v.request, v.state)
    return response


@form(labels=LANGUAGE_LABELS)
def change_language(v: Visit, fields: dict) -> Response:
    language = str(fields.get("language", ""))
    if language not in LANGUAGES:
        return error_page(v.request, 400, v.lang, render.text("error_400", v.lang))
    set_language(v.db, v.user.id, language)
    return RedirectResponse("/account?done=language", status_code=303)
