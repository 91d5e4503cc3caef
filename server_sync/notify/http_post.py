"""How the centre POSTs JSON to a receiver (webhooks, `alerts check --webhook`), and how it shows
a receiver's address.

- Never following a redirect. urllib follows a 302/303 by turning the POST into a GET to wherever
  it points, any internal address included, with the signature headers, and the receiver's "200"
  then reads as a delivered notice that never arrived. A 3xx is the receiver's failure, kept and
  tried again.
- Within a total deadline (`deadline.bounded`): connecting, sending and the answer's status and
  headers, not each read; and given up at once when the worker is told to stop.
- A user and password in the address (`https://user:password@host/…`) go as HTTP Basic
  authentication, never to urllib in the address (it read "password@host" as the port).
- An address is shown redacted (`redacted`): it may carry a password or a token, in its user
  part, its query or its path (Slack's, Teams' and Discord's incoming webhooks are a secret path
  on a public host: `/services/T…/B…/<token>`).
"""

from __future__ import annotations

import base64
import re
import threading
import urllib.request
from typing import Any, Callable
from urllib.parse import unquote

from server_sync.notify.deadline import Sockets, bounded

# [scheme:]//userinfo@ : the userinfo runs to the last '@' before the path, query or fragment,
# as urlsplit reads it. Text, not urlsplit: an address it refuses (stored before check_url) is
# redacted too.
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)([^/?#]*)@")
# [scheme:]//authority: what a loose userinfo is looked for in (`_userinfo`).
_AUTHORITY = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)([^/?#]*)")
_QUERY_ITEM = re.compile(r"([?&;])([^&;#=]*)(=?)([^&;#]*)")
# [scheme:]//authority/first-segment, then the rest of the path (up to the query or fragment).
_PATH = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]*/[^/?#]*/)([^?#]+)")
SHOWN_TAIL = 4            # characters of a masked path's end still shown: enough to tell two apart
MIN_HIDDEN = 4            # the shortest part of an address `hide_address` hides on its own


def _masked_path(rest: str) -> str:
    """The path after its first segment as shown: `***` and its last SHOWN_TAIL characters."""
    return "***" + (rest[-SHOWN_TAIL:] if len(rest) > 2 * SHOWN_TAIL else "")


def redacted(url: str) -> str:
    """The address as it may be printed or logged: a user and password as `***`; the path after
    its first segment as `***` and its last `SHOWN_TAIL` characters (when there are more than
    twice that many; the host and the first segment say which service it is, the tail which of
    its addresses); every value of the query string as `***` (an item without a value, all of
    it: it may be a token)."""
    userinfo = _userinfo(url)
    if userinfo:
        url = f"{userinfo[0]}***@{url[userinfo[2]:]}"
    url = _PATH.sub(lambda m: m.group(1) + _masked_path(m.group(2)), url, count=1)
    base, query_mark, rest = url.partition("?")
    if not query_mark:
        return url
    query, hash_mark, fragment = rest.partition("#")

    def masked(m: re.Match[str]) -> str:
        sep, key, eq, value = m.groups()
        if not eq:
            return f"{sep}***" if key else sep
        return f"{sep}{key}={'***' if value else ''}"
    return base + _QUERY_ITEM.sub(masked, "?" + query) + hash_mark + fragment


def _userinfo(url: str) -> tuple[str, str, int] | None:
    """(the address's `[scheme:]//`, its user and password, where the host begins), if it has
    them. A password with '/', '?' or '#' in it, not percent-encoded, ends the authority where
    urlsplit reads it ("https://u:Pa55/word@h.example": host "u", port "Pa55"), and was shown as
    a port: an authority whose "port" is not a number, with an '@' further on, has its user and
    password up to the last '@' of all."""
    m = _USERINFO.match(url)
    if m:
        return m.group(1), m.group(2), m.end()
    a = _AUTHORITY.match(url)
    if a and ":" in a.group(2) and not a.group(2).rpartition(":")[2].isdigit() and "@" in url[a.end():]:
        end = url.rindex("@")
        return a.group(1), url[a.end(1):end], end + 1
    return None


def password_unencoded(url: str) -> bool:
    """Whether the address has a user and password that urlsplit cannot read (`_userinfo`)."""
    return _USERINFO.match(url) is None and _userinfo(url) is not None


def _secrets(url: str) -> dict[str, str]:
    """The parts of the address `redacted` hides, each with what is shown instead: the user and
    password, the password, the path after its first segment, each query value (an item without
    one, all of it)."""
    found: dict[str, str] = {}
    userinfo = _userinfo(url)
    if userinfo:
        found[userinfo[1]] = "***"
        found[userinfo[1].partition(":")[2]] = "***"
    path = _PATH.match(without_credentials(url)[0])
    if path:
        found[path.group(2)] = _masked_path(path.group(2))
    _base, query_mark, rest = url.partition("?")
    for _sep, key, eq, value in _QUERY_ITEM.findall("?" + rest.partition("#")[0]) if query_mark else ():
        found[value if eq else key] = "***"
    return found


def hide_address(text: str, url: str) -> str:
    """`text` (an error, a traceback) with the address redacted, in whatever form it quotes it:
    as given, as sent (without its user and password), or a part alone, as it is or as repr()
    writes it (http.client's error for a path it refuses quotes the path: the Slack token was
    in `notify deliveries` and the log). A part shorter than MIN_HIDDEN characters is left
    wherever it is not in the whole address: it is no secret, and would garble the text."""
    for address in {url, without_credentials(url)[0]} - {""}:
        text = text.replace(address, redacted(address))
    for part, shown in sorted(_secrets(url).items(), key=lambda item: -len(item[0])):
        for form in {part, repr(part)[1:-1]}:
            if len(form) >= MIN_HIDDEN:
                text = text.replace(form, shown)
    return text


def without_credentials(url: str) -> tuple[str, dict[str, str]]:
    """(the address without its user and password, the Authorization header they make, if any)."""
    userinfo = _userinfo(url)
    if not userinfo:
        return url, {}
    user, _, password = userinfo[1].partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode("utf-8")).decode("ascii")
    return userinfo[0] + url[userinfo[2]:], {"Authorization": f"Basic {token}"}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):     # noqa: ANN001 - urllib's signature
        return None          # urllib then raises HTTPError(3xx) for the answer as it came


class _KeepsSockets:
    """A urllib handler whose connections open their sockets through `sockets` (so the deadline
    can shut them down)."""

    def __init__(self, sockets: Sockets) -> None:
        super().__init__()
        self.sockets = sockets

    def do_open(self, http_class: Callable[..., Any], req: urllib.request.Request, **kw: Any) -> Any:
        def connection(*args: Any, **kwargs: Any) -> Any:
            conn = http_class(*args, **kwargs)
            conn._create_connection = self.sockets.connect      # how http.client opens its socket
            return conn
        return super().do_open(connection, req, **kw)


class _Http(_KeepsSockets, urllib.request.HTTPHandler):
    pass


class _Https(_KeepsSockets, urllib.request.HTTPSHandler):
    pass


def post_json(url: str, body: bytes, headers: dict[str, str], timeout_s: float,
              stop: threading.Event | None = None) -> int:
    """POST `body` as JSON to `url`: the answer's status (1xx, 2xx). urllib's HTTPError for a
    3xx-5xx, URLError or OSError for a receiver that cannot be reached, TimeoutError when the
    whole exchange took longer than `timeout_s`, `deadline.Stopped` when `stop` was set meanwhile;
    ValueError or http.client's errors for an address stored before `check_url`."""
    address, auth = without_credentials(url)
    request = urllib.request.Request(address, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "kundpuls-central", **headers, **auth})
    with Sockets() as sockets:
        opener = urllib.request.build_opener(_NoRedirects(), _Http(sockets), _Https(sockets))

        def exchange() -> int:
            with opener.open(request, timeout=timeout_s) as response:
                return response.status
        return bounded(exchange, timeout_s, sockets, stop)
