"""The session cookie's name (server_sync.web.guard): `__Host-kp_session` when cookies are Secure
(over TLS, or `secure_cookies` set), so a sibling subdomain can neither plant nor shadow it, and the
plain `kp_session` over plain HTTP (local use, tests), where browsers refuse the prefix. Reading
takes only the name the request's security allows. In-process: no server, no database.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from starlette.requests import Request
from starlette.responses import Response

from server_sync.web.guard import (COOKIE, HOST_COOKIE, WebState, clear_session_cookie, session_token,
                                   set_session_cookie)


def _request(scheme: str, cookies: dict[str, str] | None = None) -> Request:
    header = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
    return Request({"type": "http", "method": "GET", "scheme": scheme, "path": "/", "query_string": b"",
                    "server": ("kundpuls.example", 443 if scheme == "https" else 80),
                    "headers": [(b"host", b"kundpuls.example"), (b"cookie", header.encode())]})


def _state(secure_cookies: bool | None = None) -> WebState:
    return WebState(db=None, policy=None, cache=None, live=None, secure_cookies=secure_cookies)


def _set_cookie(response: Response) -> tuple[str, str]:
    """(the cookie's name, its whole Set-Cookie header)."""
    header = response.headers["set-cookie"]
    return next(iter(SimpleCookie(header))), header


@pytest.mark.parametrize("scheme, secure_cookies", [("https", None), ("http", True)])
def test_a_secure_session_cookie_is_a_host_cookie(scheme, secure_cookies):
    request, state = _request(scheme), _state(secure_cookies)
    response = Response()
    set_session_cookie(response, request, state, "tok")
    name, header = _set_cookie(response)
    assert name == HOST_COOKIE == "__Host-kp_session"
    # What browsers demand of the prefix: Secure, Path=/, no Domain.
    assert "; Secure" in header and "Path=/" in header and "domain" not in header.lower()
    cleared = Response()
    clear_session_cookie(cleared, request, state)
    assert _set_cookie(cleared)[0] == HOST_COOKIE


@pytest.mark.parametrize("scheme, secure_cookies", [("http", None), ("https", False)])
def test_over_plain_http_the_plain_name_keeps_working(scheme, secure_cookies):
    request, state = _request(scheme, {COOKIE: "tok"}), _state(secure_cookies)
    response = Response()
    set_session_cookie(response, request, state, "tok")
    name, header = _set_cookie(response)
    assert name == COOKIE and "Secure" not in header
    assert session_token(request, state) == "tok"
    cleared = Response()
    clear_session_cookie(cleared, request, state)
    assert _set_cookie(cleared)[0] == COOKIE


def test_over_tls_only_the_host_cookie_is_read():
    """A plain-named cookie over TLS may be a sibling subdomain's plant (Domain=.example): not read,
    and not preferred over the `__Host-` one either."""
    state = _state()
    assert session_token(_request("https", {COOKIE: "planted"}), state) is None
    assert session_token(_request("https", {COOKIE: "planted", HOST_COOKIE: "mine"}), state) == "mine"
    assert session_token(_request("http", {HOST_COOKIE: "mine"}), state) is None
