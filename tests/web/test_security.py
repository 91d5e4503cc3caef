"""Security of the web app, against the real server process on SQLite and PostgreSQL:

- scoping: every route of the app's route table (walked, not listed by hand), as every role, with
  every site id in its path and in its filters, as a page and as each download and API call: a
  site the person may not see is a 404 that reads exactly like a site that does not exist, and
  no page, download or API answer carries a word of it;
- forms without the CSRF token are refused; brute force locks the account (and the address) out,
  logged; comments that try to inject markup are inert; filters with SQL metacharacters are
  harmless; the session cookie's flags; logout and idle expiry end the session; a one-time
  password must be changed first; the API needs a token and its OpenAPI names every route.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import ssl
import time
import zipfile
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from starlette.routing import Mount, Route

from server_sync.central.db import connect
from server_sync.web.app import route_table
from server_sync.web.people import set_password, token_hash
from tests.web.conftest import ENGINES
from tests.web.world import (PASSWORD, PEOPLE, REGIONS, SITES, WebServer, csrf_of, kiosk_central, login,
                             secret)

pytestmark = pytest.mark.parametrize("chain_url", ENGINES, indirect=True, scope="module")

FORMATS = (None, "json", "csv", "xlsx", "report")
QUERY_SCOPED = ("site", "region")           # filters that name a site or region


def markers_of(site: str) -> tuple[str, ...]:
    return (secret(site), f"ALERT-OF-{site.upper()}", f"ACTION-OF-{site.upper()}")


@pytest.fixture(scope="module")
def clients(web):
    return {name: login(web.url, name) for name in PEOPLE}


@pytest.fixture(scope="module")
def tokens(web):
    out = {}
    for name in PEOPLE:
        r = kiosk_central(web.db_url, "user", "token", name, "--label", "test")
        assert r.returncode == 0, r.stderr
        out[name] = r.stdout.strip()
    return out


# Path parameters naming an item of a site: filled with the id of that site's alert or action
# (world.py plants one of each per site); an unknown site gets an id nothing has.
ITEMS = {"alert_id": "alert", "action_id": "action"}
NO_SUCH_ID = 999999


@pytest.fixture(scope="module")
def item_ids(web) -> dict[str, dict[str, int]]:
    db = connect(web.db_url)
    try:
        return {param: {s: int(i) for s, i in db.execute_sql(f"SELECT site_id, MIN(id) FROM {table} GROUP BY site_id")}
                for param, table in ITEMS.items()}
    finally:
        db.close()


def _fill(path: str, site: str, ids: dict[str, dict[str, int]] | None = None) -> str:
    params = re.findall(r"{(\w+)(?::\w+)?}", path)
    unknown = [p for p in params if p != "site_id" and p not in ITEMS]
    assert not unknown, f"the walk does not know how to fill {unknown} in {path}: teach it"
    for param in ITEMS:
        item = (ids or {}).get(param, {}).get(site, NO_SUCH_ID if ids else 1)
        path = re.sub(r"{%s(?::\w+)?}" % param, str(item), path)
    return re.sub(r"{site_id(?::\w+)?}", site, path)


def _names_a_site(path: str) -> bool:
    return "{site_id" in path or any("{" + p in path for p in ITEMS)


def _url(path: str, fmt: str | None, **query: str) -> str:
    q = dict(query, **({"format": fmt} if fmt else {}))
    return path + ("?" + "&".join(f"{k}={v}" for k, v in q.items()) if q else "")


def _readable(r: httpx.Response) -> str:
    """The response's text; of an Excel download, the XML its cells are in."""
    if not r.headers.get("content-type", "").startswith("application/vnd.openxmlformats"):
        return r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as book:
        return "".join(book.read(n).decode("utf-8") for n in book.namelist() if n.endswith(".xml"))


def _no_leak(body: str, visible: tuple[str, ...], where: str) -> None:
    for s in SITES:
        if s not in visible:
            for m in markers_of(s):
                assert m not in body, f"{where} shows {m}"


def test_every_route_as_every_role_sees_only_its_sites(web, clients, tokens, item_ids):
    walked = set()
    # Each person's own: the page speaks their language.
    not_found = {name: clients[name].get("/sites/no-such-site").text for name in PEOPLE}
    for route in route_table():
        if isinstance(route, Mount):
            walked.add(route.path)
            continue
        assert isinstance(route, Route)
        access = getattr(route.endpoint, "access", None)
        assert access in ("public", "user", "admin", "form", "token"), f"{route.path}: no access kind"
        walked.add((route.path, tuple(sorted(route.methods or ()))))
        if access in ("public", "form") or route.path == "/live":
            continue        # forms: test_forms_need_the_csrf_token; /live: test_live_stream_is_scoped
        has_site = _names_a_site(route.path)
        for name, (role, _scope, visible, _lang) in PEOPLE.items():
            if access == "token":
                client = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {tokens[name]}"},
                                      timeout=30)
            else:
                client = clients[name]
            # Downloads cannot leak to people who see every site (and the HTML report is slow to
            # render), so CSV and the report are walked for the scoped roles.
            formats = ("json",) if access == "token" else FORMATS if len(visible) < len(SITES) else FORMATS[:2]
            for site in (SITES + ("no-such-site",) if has_site else (None,)):
                path = _fill(route.path, site, item_ids) if site else route.path
                offers = {}                          # the downloads the page itself links to
                for fmt in formats:
                    r = client.get(_url(path, fmt))
                    where = f"{role} GET {_url(path, fmt)}"
                    if access == "admin" and role != "admin":
                        assert r.status_code == 404, where
                    elif site and site not in visible:
                        assert r.status_code == 404, f"{where}: {r.status_code}"
                        if fmt is None:
                            assert r.text == not_found[name], f"{where}: the 404 tells the site exists"
                    elif fmt and access != "token" and f"format={fmt}" not in offers.get(None, ""):
                        assert r.status_code == 400, f"{where}: a download the page does not offer"
                    else:
                        assert r.status_code == 200, f"{where}: {r.status_code} {r.text[:300]}"
                        _no_leak(_readable(r), visible, where)
                    offers.setdefault(fmt, r.text)
            # Filters that name a site or region: another's is a 404, one's own is fine.
            if not has_site and access != "admin":
                for s in SITES:
                    r = client.get(_url(route.path, "json", site=s))
                    if r.status_code == 400:
                        continue        # the route takes no site filter (it says so, nothing shown)
                    assert r.status_code == (200 if s in visible else 404), f"{role} {route.path}?site={s}"
                    if r.status_code == 200:
                        _no_leak(r.text, visible, f"{role} {route.path}?site={s}")
                for region, sites in REGIONS.items():
                    r = client.get(_url(route.path, "json", region=region))
                    if r.status_code == 400:
                        continue
                    sees = any(s in visible for s in sites)
                    assert r.status_code == (200 if sees else 404), f"{role} {route.path}?region={region}"
                    if r.status_code == 200:
                        _no_leak(r.text, visible, f"{role} {route.path}?region={region}")
        if route.path == "/comments":
            # The positive side: each person finds exactly the secrets of the sites they may see.
            for name, (_role, _scope, visible, _lang) in PEOPLE.items():
                found = {c["site_id"] for c in clients[name].get("/comments", params={
                    "q": "SECRET-OF", "format": "json"}).json()["comments"]}
                assert found == set(visible), name
    # The walk covered the whole table: a route added later is walked too (or fails above).
    assert walked == {r.path if isinstance(r, Mount) else (r.path, tuple(sorted(r.methods or ())))
                      for r in route_table()}


def test_pages_without_a_session_send_to_login_and_api_without_token_is_401(web):
    anon = httpx.Client(base_url=web.url, timeout=30)
    for route in route_table():
        access = getattr(getattr(route, "endpoint", None), "access", None)
        if access in ("user", "admin") and route.path != "/live":
            r = anon.get(_fill(route.path, "s001"))
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), route.path
        if access == "token":
            assert anon.get(_fill(route.path, "s001")).status_code == 401, route.path
    assert anon.get("/live").status_code == 404


def test_the_rest_of_the_chains_figures_are_shown_only_to_who_sees_the_whole_chain(web, clients, tokens, item_ids):
    """An action is judged against the rest of the chain (its `control`): its n, negative answers
    and metrics went to every role, on the site's page and its downloads, the actions list and the
    API; a regional manager, less his own sites, read the other region's exact totals, and in a
    chain of two stores a store manager the other's. The effect and verdict are the site's."""
    action = item_ids["action_id"]["s003"]
    ada, sara = clients["ada-admin"], clients["sara-store"]
    api = httpx.Client(base_url=web.url, headers={"authorization": f"Bearer {tokens['sara-store']}"})
    try:
        whole = ada.get("/actions?format=json").json()["actions"]
        assert any(a["control"] for a in whole), "the world's actions are judged against the chain"
        seen = {"list": sara.get("/actions?format=json").json()["actions"],
                "site": sara.get("/sites/s003?format=json").json()["actions"],
                "api": api.get("/api/v1/actions").json()["actions"]}
    finally:
        api.close()
    for where, acts in seen.items():
        assert acts and all(a["control"] is None for a in acts), where
        assert all(a["method"] == "difference-in-differences" for a in acts if a["verdict"] != "too_little_data"), where
    rows = list(csv.DictReader(io.StringIO(sara.get("/sites/s003?format=csv").text)))
    assert {r["section"] for r in rows} >= {"action", "action_before"}
    assert not {r["section"] for r in rows} & {"control_before", "control_after"}
    # The action's page: which days each row is of, the rest of the chain's rows for the admin only.
    mine, all_of_it = (html.unescape(c.get(f"/actions/{action}").text) for c in (sara, ada))
    assert 'id="row-control-before"' in all_of_it and 'id="row-control-before"' not in mine
    assert "Before, 20" in re.sub(r"<[^>]+>", "", all_of_it) and "Rest of the chain, after" in all_of_it
    assert "Resten av kedjans egna siffror visas för den som ser hela kedjan." in mine


def test_a_region_beside_a_site_is_checked_and_must_hold_the_site(web, clients):
    """/comments with both a site and a region read the site alone: the region was neither checked
    against the person's scope nor applied (a filter silently ignored)."""
    sara, ana = clients["sara-store"], clients["ana-analyst"]
    unknown = sara.get("/sites/no-such-site")
    r = sara.get("/comments", params={"site": "s003", "region": "north"})        # a region she cannot see
    assert (r.status_code, r.text) == (404, unknown.text)
    r = ana.get("/comments", params={"site": "s001", "region": "south"})          # s001 is in north
    assert r.status_code == 400 and "'Butik' ligger inte i den valda regionen: 's001'" in html.unescape(r.text)
    assert ana.get("/comments", params={"site": "s001", "region": "north"}).status_code == 200
    assert sara.get("/comments", params={"site": "s003", "region": "south"}).status_code == 200


def test_the_access_log_keeps_no_search_words(web, clients):
    """uvicorn's access log wrote `/comments?q=…`: the words an office user searched for (a
    customer's name or number) went into the journal, where no erasure reaches them."""
    assert clients["ada-admin"].get("/comments", params={"q": "quokka 0701234567"}).status_code == 200
    log = web.server.log()
    assert '"GET /comments?… HTTP/1.1" 200' in log and "quokka" not in log and "0701234567" not in log


def test_live_stream_is_scoped(web, clients):
    """The store manager's stream names her site's new answers and never another site's."""
    from server_sync.web.marks import bump
    db = connect(web.db_url)
    try:
        with clients["sara-store"].stream("GET", "/live", timeout=20) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            assert next(lines).startswith("retry:")
            bump(db, {"s001", "s002"}, datetime.now(timezone.utc))     # not hers
            bump(db, {"s003"}, datetime.now(timezone.utc))             # hers
            seen = []
            for line in lines:
                seen.append(line)
                if line.startswith("data:") and "s003" in line:
                    break
            text = "\n".join(seen)
            assert '"sites": ["s003"]' in text and "s001" not in text and "s002" not in text
    finally:
        db.close()


def _next_event(lines) -> str:
    """The stream's next event (its `event:` and `data:` lines), pings skipped."""
    got = []
    for line in lines:
        if line.startswith(("event:", "data:")):
            got.append(line)
        elif not line and got:
            return "\n".join(got)
    return "\n".join(got)


def _event_naming(lines, site: str) -> str:
    """The stream's next event that names `site` (the ones before it skipped)."""
    while f'"{site}"' not in (event := _next_event(lines)):
        assert event, "the stream ended"
    return event


def test_live_stream_follows_the_scope_and_ends_with_the_session(web):
    """A stream kept the sites it began with: s002 moved out of the regional manager's region was
    still named in it (his page of s002 a 404); and it went on naming sites for up to 30 s after
    he signed out. Now the scope is read again before sites are named."""
    from server_sync.web.marks import bump
    rolf = login(web.url, "rolf-regional")
    db = connect(web.db_url)
    try:
        with rolf.stream("GET", "/live", timeout=20) as r:
            lines = r.iter_lines()
            assert next(lines).startswith("retry:") and _next_event(lines) == "event: hello\ndata: {}"
            # A stream begins at the marks its worker last polled, so news from before it (the
            # test before's bumps, if this worker had not polled since) may come first, naming
            # s002 while it is still his: the news of this test's bumps must be the one read.
            # Whatever event names s001 comes from a poll after the stream began, so holds all
            # earlier news; the first event naming s002 after it is the s002 bump's, after which
            # nothing is left unsent and the stream is quiet until the bumps below.
            bump(db, {"s001"}, datetime.now(timezone.utc))
            _event_naming(lines, "s001")
            bump(db, {"s002"}, datetime.now(timezone.utc))
            _event_naming(lines, "s002")
            assert kiosk_central(web.db_url, "region", "assign", "south", "s002").returncode == 0
            assert rolf.get("/sites/s002").status_code == 404
            # The stream names sites on a scope read at most live.RESCOPE_S before (docs/web.md),
            # and its last read began before the event just read.
            time.sleep(1.2)
            bump(db, {"s002"}, datetime.now(timezone.utc))
            bump(db, {"s001"}, datetime.now(timezone.utc))
            event = _next_event(lines)
            assert '"sites": ["s001"]' in event and "s002" not in event, event
            token = csrf_of(rolf.get("/account").text)
            assert rolf.post("/logout", data={"csrf_token": token}).status_code in (200, 303)
            time.sleep(1.2)
            bump(db, {"s001"}, datetime.now(timezone.utc))
            assert _next_event(lines) == "event: ended\ndata: {}"
    finally:
        assert kiosk_central(web.db_url, "region", "assign", "north", "s002").returncode == 0
        db.close()
        rolf.close()


def test_forms_need_the_csrf_token(web):
    c = login(web.url, "ana-analyst")
    for route in route_table():
        if getattr(getattr(route, "endpoint", None), "access", None) == "form":
            for token in (None, "forged-token"):
                data = {"language": "en", "current": PASSWORD, "new": "x7-long-secret", "again": "x7-long-secret"}
                if token:
                    data["csrf_token"] = token
                r = c.post(_fill(route.path, "s001"), data=data)
                assert r.status_code == 403, f"{route.path} without a valid CSRF token: {r.status_code}"
    assert c.get("/").status_code == 200            # still signed in: logout was refused too
    fresh = httpx.Client(base_url=web.url)
    fresh.get("/login")
    r = fresh.post("/login", data={"name": "ana-analyst", "password": PASSWORD})
    assert r.status_code == 403                     # the login form too


def test_a_field_that_is_a_file_or_holds_a_control_character_is_a_400_not_a_500(web, tokens):
    """A file sent as the CSRF token reached its check (a 500, before signing in too) and one
    sent as a comment was saved as its object's text; a NUL, which no PostgreSQL text holds, was a
    500 at sign-in, in a search and in every form (a review). Now: 403 for a token that is not
    text, 400 naming the field for the rest, and nothing done. A form's refusal names the field by
    the label the form shows it with, "could not save:" as the form's other refusals do; a field
    the form has not is named as sent."""
    c = login(web.url, "sara-store")                 # her pages are in Swedish
    token = csrf_of(c.get("/account").text)
    forms = [r for r in route_table() if getattr(getattr(r, "endpoint", None), "access", None) == "form"]
    for route in forms:
        path = _fill(route.path, "s003")
        comment = "Kommentar" if route.path.startswith(("/alerts", "/sites")) else "comment"
        r = c.post(path, data={"csrf_token": token}, files={"comment": ("note.txt", b"hello")})
        assert r.status_code == 400, path
        assert f"Det gick inte att spara: '{comment}' måste vara text, inte en fil" in html.unescape(r.text), path
        r = c.post(path, data={"csrf_token": token, "comment": "a\x00b", "note": "ok"})
        assert r.status_code == 400, path
        assert f"Det gick inte att spara: '{comment}' innehåller ett styrtecken (U+0000)" in html.unescape(r.text), path
        r = c.post(path, data={"comment": "x"}, files={"csrf_token": ("t.txt", token.encode())})
        assert r.status_code == 403, path
    for path, field, label in (("/sites/s003/actions", "note", "Vad som ändrades"),
                               ("/alerts/1/close", "note", "Ny åtgärd: Vad som ändrades"),
                               ("/account/password", "new", "Nytt lösenord (minst 10 tecken)")):
        r = c.post(path, data={"csrf_token": token, field: "a\x01b"})
        assert r.status_code == 400, path
        assert f"Det gick inte att spara: '{label}' innehåller ett styrtecken (U+0001)" in html.unescape(r.text), path
    assert c.get("/").status_code == 200            # still signed in: logout did nothing either
    fresh = httpx.Client(base_url=web.url)
    login_token = csrf_of(fresh.get("/login").text)
    r = fresh.post("/login", data={"name": "sara-store\x00", "password": PASSWORD, "csrf_token": login_token})
    assert r.status_code == 400 and "U+0000" in html.unescape(r.text)
    r = fresh.post("/login", data={"name": "sara-store", "password": PASSWORD},
                   files={"csrf_token": ("t.txt", login_token.encode())})
    assert r.status_code == 403
    assert c.get("/comments", params={"q": "a\x00b"}).status_code == 400
    api = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {tokens['sara-store']}"})
    r = api.get("/api/v1/comments", params={"q": "\x1b[2J"})
    assert r.status_code == 400 and r.json()["error"] == "'Search' contains a control character (U+001B)", r.text


def test_brute_force_locks_the_account_and_the_address_out(web):
    assert kiosk_central(web.db_url, "user", "add", "bruno", "--role", "analyst", "--password-stdin",
                         stdin=PASSWORD + "\n").returncode == 0
    c = httpx.Client(base_url=web.url)

    def attempt(name: str, password: str) -> httpx.Response:
        return c.post("/login", data={"name": name, "password": password, "csrf_token": csrf_of(c.get("/login").text)})

    for i in range(5):
        assert attempt("bruno", f"wrong-{i}").status_code == 401
    r = attempt("bruno", PASSWORD)
    assert r.status_code == 429, "the right password still gets in after 5 failures"
    assert "kp_session" not in (r.headers.get("set-cookie") or "") or "/login" in r.text
    audit = json.loads(kiosk_central(web.db_url, "user", "audit", "--user", "bruno", "--json").stdout)
    assert [e["event"] for e in audit][:2] == ["login_locked", "login_failed"]
    # Another account from the same address is not locked by that …
    assert login(web.url, "ana-analyst")
    # … but twenty failures from one address lock it out for every account, the six above
    # included (ana's success between does not start the address's count afresh). Five are tried
    # here; the rest up to nineteen are copies of the last one in the attempts table (each tried
    # one costs an argon2 verification at the product's cost, ~0.7 s of this test on the 2-core
    # machine; the counting of tried ones is what the account's lock-out above proves), then the
    # twentieth is tried: still checked (401), and the one after it is refused.
    for i in range(5):
        assert attempt(f"nobody-{i}", "guess").status_code == 401
    db = connect(web.db_url)
    try:
        failed = db.execute_sql(f"SELECT COUNT(*) FROM web_login_attempt WHERE success = {db.param}",
                                (False,)).fetchone()[0]
        for _ in range(19 - failed):
            db.execute_sql("INSERT INTO web_login_attempt (at, account, address, success) SELECT at, account,"
                           " address, success FROM web_login_attempt WHERE id = (SELECT MAX(id) FROM web_login_attempt)")
        assert attempt("nobody-19", "guess").status_code == 401, "locked out before the twentieth failure"
        assert attempt("ana-analyst", PASSWORD).status_code == 429
        db.execute_sql("DELETE FROM web_login_attempt")       # unlock for the other tests
    finally:
        db.close()


def test_injected_markup_in_comments_is_inert(web, clients):
    c = clients["sara-store"]
    for path in ("/comments?site=s003", "/sites/s003"):
        body = c.get(path).text
        assert "<script>window.__pwned" not in body and "<img src=x onerror" not in body, path
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;hej" in body, path
        assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;tack" in body, path
    # The CSV download does not hand a spreadsheet a formula either.
    assert "=cmd" not in c.get("/comments?site=s003&format=csv").text


def test_filters_with_sql_metacharacters_are_harmless(web, clients):
    c = clients["ana-analyst"]
    all_comments = c.get("/comments?format=json").json()["comments"]
    assert all_comments
    for q in ("' OR '1'='1", "%", "%_%", "\\", "x'); DROP TABLE response; --", '"; SELECT * FROM web_user; --'):
        r = c.get("/comments", params={"q": q, "format": "json"})
        assert r.status_code == 200, q
        assert r.json()["comments"] == [], f"search {q!r} matched something: it was not taken literally"
    # `_` is a LIKE wildcard; searched for, it means itself: the two planted comments per site with "__".
    found = c.get("/comments", params={"q": "w.__p", "format": "json"}).json()["comments"]
    assert sorted(x["site_id"] for x in found) == sorted(SITES * 2)
    for key, value in (("site", "s001' OR '1'='1"), ("from", "2026-01-01'; DROP TABLE response;--"),
                       ("score", "1 OR 1=1"), ("question", "visit' --"), ("region", "north\"; --"),
                       ("page", "-1"), ("to", "2026-13-45")):
        r = c.get("/comments", params={key: value})
        assert r.status_code == 400, f"{key}={value!r}: {r.status_code}"
        assert value not in r.text or "&#39;" in r.text or "&#34;" in r.text     # echoed only escaped
    db = connect(web.db_url)
    try:
        assert db.execute_sql("SELECT COUNT(*) FROM response").fetchone()[0] > 1000
        assert db.execute_sql("SELECT COUNT(*) FROM web_user").fetchone()[0] >= 4
    finally:
        db.close()


def test_session_cookie_flags_and_headers(web, clients):
    c = httpx.Client(base_url=web.url)
    cookie = c.get("/login").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie                   # plain HTTP here; see the TLS test
    r = clients["ana-analyst"].get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    # An error page too: a signed-in person's carries their name and CSRF token, as every page
    # does (a 404 may be kept by a shared cache by default: RFC 9111), and the API's errors.
    missing = clients["ana-analyst"].get("/alerts/999999")
    assert missing.status_code == 404 and csrf_of(missing.text) and missing.headers["cache-control"] == "no-store"
    refused = clients["ana-analyst"].get("/comments", params={"page": "0"})
    assert refused.status_code == 400 and refused.headers["cache-control"] == "no-store"
    token = kiosk_central(web.db_url, "user", "token", "ana-analyst", "--label", "errors").stdout.strip()
    api = httpx.get(web.url + "/api/v1/alerts/999999", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 404 and api.headers["cache-control"] == "no-store"


def test_over_tls_the_cookie_is_secure(web, broker_ca, tmp_path):
    """`--certfile/--keyfile`: HTTPS, the session cookie Secure and `__Host-` prefixed, HSTS (TLS is the server's, not
    the database's: one engine is enough)."""
    if web.engine != "sqlite":
        pytest.skip("checked against the SQLite store")
    server = WebServer(web.db_url, tmp_path / "tls.log", workers=1,
                       extra=("--certfile", str(broker_ca.cert_file), "--keyfile", str(broker_ca.key_file))).start()
    try:
        c = login(server.url, "ana-analyst", ca_file=str(broker_ca.ca_file))
        r = c.get("/")
        assert r.status_code == 200 and r.headers["strict-transport-security"].startswith("max-age=")
        fresh = httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(broker_ca.ca_file)))
        cookie = fresh.get("/login").headers["set-cookie"]
        # `__Host-`: Secure, Path=/, no Domain; a sibling subdomain cannot plant or shadow it.
        assert cookie.startswith("__Host-kp_session=") and "; Secure" in cookie and "domain" not in cookie.lower()
        assert "__Host-kp_session" in c.cookies and "kp_session" not in c.cookies    # signed in with it
    finally:
        server.stop()


def test_logout_and_idle_expiry_end_the_session(web):
    c = login(web.url, "ana-analyst")
    stolen = c.cookies["kp_session"]
    r = c.post("/logout", data={"csrf_token": csrf_of(c.get("/").text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = httpx.Client(base_url=web.url, cookies={"kp_session": stolen})
    assert replay.get("/").status_code == 303, "the old cookie still works after logout"
    # Idle: a session unused for longer than the idle limit (30 minutes) is gone. Only this one is
    # aged: the module's other sessions (`clients`) go on serving the tests after this one.
    c = login(web.url, "ana-analyst")
    db = connect(web.db_url)
    try:
        old = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) - timedelta(minutes=31)
        db.execute_sql(f"UPDATE web_session SET last_seen_at = {db.param} WHERE token_hash = {db.param}",
                       (old, token_hash(c.cookies["kp_session"])))
    finally:
        db.close()
    token = "from the page before expiry"      # never checked: the session is gone first
    # A form sent after expiry is not saved, and the person is told so and sent back to its page
    # (its own address takes only posts: after signing in that was a 405 and the text was lost).
    r = c.post("/alerts/1/comment", data={"csrf_token": token, "comment": "x"},
               headers={"referer": f"{web.url}/alerts/1?lang=sv"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Falerts%2F1%3Flang%3Dsv&unsaved=1"
    r = c.post("/alerts/1/comment", data={"csrf_token": token, "comment": "x"})
    assert r.headers["location"] == "/login?next=%2Falerts%2F1&unsaved=1"
    page = html.unescape(c.get(r.headers["location"]).text)
    assert "Your session had ended, so what you sent was not saved." in page
    assert 'name="next" value="/alerts/1"' in page
    assert c.get("/").status_code == 303


def test_a_one_time_password_must_be_changed_first(web):
    r = kiosk_central(web.db_url, "user", "add", "olle", "--role", "store-manager", "--site", "s004", "--json")
    one_time = json.loads(r.stdout)["one_time_password"]
    c = httpx.Client(base_url=web.url)
    r = c.post("/login", data={"name": "olle", "password": one_time, "csrf_token": csrf_of(c.get("/login").text)})
    assert r.headers["location"] == "/account"
    assert c.get("/").headers["location"] == "/account"
    assert c.get("/live").status_code == 404          # no page's live news either (it streamed)
    token = csrf_of(c.get("/account").text)
    # The idle notice's "Stay signed in" works on the account page too: a redirect there read as
    # the session's end in app.js, and the person was told so while it went on (a review).
    r = c.post("/session", data={"csrf_token": token})
    assert r.status_code == 200 and r.json()["seconds_left"] > 0, (r.status_code, r.headers.get("location"))
    r = c.post("/account/password", data={"csrf_token": token, "current": one_time, "new": "short", "again": "short"})
    assert r.headers["location"] == "/account?error=password_short"
    # Each refusal says its own reason: every one read "too short" (a 22-character password with
    # the user name in it, too; a review).
    from server_sync.web import render
    for new, why in (("olle-rocks-2026!", "has_name"), ("x" * 1025, "long"), ("aaaaaaaaaaaa", "trivial"),
                     ("tab\tinside-the-password", "control"), ("Password123!", "common")):
        r = c.post("/account/password", data={"csrf_token": token, "current": one_time, "new": new, "again": new})
        assert r.headers["location"] == f"/account?error=password_{why}", new
        assert render.text(f"password_{why}", "sv") in html.unescape(c.get(r.headers["location"]).text)
    r = c.post("/account/password", data={"csrf_token": token, "current": one_time, "new": PASSWORD,
                                          "again": PASSWORD})
    assert r.headers["location"] == "/account?done=password"
    assert c.get("/").status_code == 200
    assert login(web.url, "olle")


def _employee_figures(doc, employee: set[str]):
    """Every dict of an API answer that is a figure of an employee question, with its n."""
    if isinstance(doc, dict):
        if doc.get("question_id") in employee and isinstance(doc.get("n"), int):
            yield doc["question_id"], doc["n"]
        for v in doc.values():
            yield from _employee_figures(v, employee)
    elif isinstance(doc, list):
        for v in doc:
            yield from _employee_figures(v, employee)


@pytest.mark.parametrize("minimum", [5, 40])
def test_no_api_answer_shows_an_employee_group_under_the_minimum(web, tokens, minimum):
    """The minimum employee group (issue 16) holds in the web app too: every API route, for
    every role, at the default 5 and at a minimum the centre raised to 40 (applied at once,
    cached figures included: every day's pulse of a site is smaller than that)."""
    from server_sync.web.api import ENDPOINTS
    employee, seen = {"pulse"}, 0
    set_min = ("privacy", "set", "--min-employee-group")
    r = kiosk_central(web.db_url, *set_min, str(minimum))
    assert r.returncode == 0, r.stderr
    try:
        seen = _employee_figures_of_every_route(web, tokens, ENDPOINTS, employee, minimum)
    finally:
        kiosk_central(web.db_url, *set_min, "5")
    assert seen, "the chain has employee figures large enough to show"


def _employee_figures_of_every_route(web, tokens, endpoints, employee, minimum) -> int:
    seen = 0
    for name, (_role, _opts, sites, _lang) in PEOPLE.items():
        api = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {tokens[name]}"})
        for path, _fn, _summary in endpoints:
            for site in (sites if "{site_id}" in path else sites[:1]):
                r = api.get("/api/v1" + path.replace("{site_id}", site))
                assert r.status_code == 200, (name, path, r.status_code)
                figures = list(_employee_figures(r.json(), employee))
                seen += len(figures)
                assert all(n >= minimum for _q, n in figures), (name, path, site, minimum, figures)
    return seen


def test_api_tokens_and_openapi(web, tokens):
    anon = httpx.Client(base_url=web.url)
    spec = anon.get("/api/v1/openapi.json").json()
    api_paths = {r.path for r in route_table() if getattr(getattr(r, "endpoint", None), "access", None) == "token"}
    assert set(spec["paths"]) == api_paths and len(api_paths) >= 7
    assert {p["name"] for p in spec["paths"]["/api/v1/sites/{site_id}"]["get"]["parameters"]} >= {"site_id", "from"}
    api = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {tokens['sara-store']}"})
    assert [r["site_id"] for r in api.get("/api/v1/fleet").json()["kiosks"]] and \
        {r["site_id"] for r in api.get("/api/v1/fleet").json()["kiosks"]} == {"s003"}
    assert api.get("/api/v1/sites/s001").status_code == 404
    assert api.get("/api/v1/comments", params={"format": "csv"}).text.startswith("recorded_at,")
    # An empty or unknown format is a 400, as on the pages (the API answered JSON as if none were asked).
    assert [api.get("/api/v1/fleet", params={"format": f}).status_code for f in ("", "pdf")] == [400, 400]
    bad = httpx.Client(base_url=web.url, headers={"Authorization": "Bearer kp_not-a-token"})
    assert bad.get("/api/v1/overview").status_code == 401
    kiosk_central(web.db_url, "user", "token", "sara-store", "--revoke")
    assert api.get("/api/v1/overview").status_code == 401


def test_the_live_header_never_skips_the_audit_of_a_comment_view(web, clients, tokens):
    """`X-Kundpuls-Live: 1` is what a page sends when it refreshes itself; sent by hand it skipped
    the audit of every comment view, pages and API alike (a review). A view not audited before
    in the session is audited whatever the header says; the API is audited always."""
    c = clients["rolf-regional"]
    api = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {tokens['rolf-regional']}",
                                                  "X-Kundpuls-Live": "1"})

    def views(q: str) -> int:
        entries = json.loads(kiosk_central(web.db_url, "user", "audit", "--user", "rolf-regional", "--limit",
                                           "5000", "--json").stdout)
        return sum(1 for e in entries if e["event"] == "comments_viewed" and e["detail"].get("filters", {}).get("q") == q)
    assert c.get("/comments", params={"q": "live-first"}, headers={"X-Kundpuls-Live": "1"}).status_code == 200
    assert api.get("/api/v1/comments", params={"q": "live-api"}).status_code == 200
    assert api.get("/api/v1/comments", params={"q": "live-api"}).status_code == 200
    assert (views("live-first"), views("live-api")) == (1, 2)


def test_exports_and_comment_views_are_audited(web, clients):
    c = clients["rolf-regional"]
    c.get("/sites?format=csv")
    c.get("/comments", params={"q": "kö"})
    entries = json.loads(kiosk_central(web.db_url, "user", "audit", "--user", "rolf-regional", "--limit", "5000", "--json").stdout)
    events = [(e["event"], e["detail"].get("format")) for e in entries]
    assert ("export", "csv") in events and ("comments_viewed", None) in events
    assert any(e["event"] == "login" for e in entries)


def test_the_workflow_forms_are_scoped_like_the_pages(web, clients, item_ids):
    """Every form on an alert or a site, as every role, on every site: another site's is a 404 (as
    an unknown one), a reader (the analyst) is refused, the others act (or are told what is missing)."""
    forms = [r for r in route_table() if getattr(getattr(r, "endpoint", None), "access", None) == "form"
             and _names_a_site(r.path)]
    assert {r.path.rsplit("/", 1)[1] for r in forms} == {"assign", "due", "comment", "ack", "close", "actions"}
    tokens = {name: csrf_of(c.get("/account").text) for name, c in clients.items()}
    for route in forms:
        for name, (role, _scope, visible, _lang) in PEOPLE.items():
            client, token = clients[name], tokens[name]
            for site in SITES + ("no-such-site",):
                r = client.post(_fill(route.path, site, item_ids), data={"csrf_token": token})
                where = f"{role} POST {_fill(route.path, site, item_ids)}"
                if site not in visible:
                    assert r.status_code == 404, f"{where}: {r.status_code}"
                    _no_leak(r.text, (), where)
                elif role == "analyst":
                    assert r.status_code == 403, f"{where}: {r.status_code}"
                else:
                    assert r.status_code in (303, 400), f"{where}: {r.status_code} {r.text[:200]}"
                    _no_leak(r.text, visible, where)


def test_a_new_action_sent_twice_is_logged_once(web, clients):
    """A double click (or a reload) on "New action" logged two identical actions, both counted
    in every before/after figure and digest afterwards."""
    c = clients["sara-store"]
    form = {"csrf_token": csrf_of(c.get("/account").text), "question": "visit", "date": "2026-11-02",
            "note": "Second checkout open at lunch"}
    first, again = (c.post("/sites/s003/actions", data=form) for _ in range(2))
    other = c.post("/sites/s003/actions", data={**form, "note": "Second checkout open all day"})
    made = [int(r.headers["location"].rsplit("/", 1)[1]) for r in (first, other)]
    db = connect(web.db_url)
    try:                            # the chain is shared with the other web tests: leave it as it was
        db.execute_sql(f"DELETE FROM action WHERE id IN ({db.param}, {db.param})", made)
    finally:
        db.close()
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert other.headers["location"] != first.headers["location"]       # another note is another action


def _sent_at_once(web, send, tables: tuple[str, ...]) -> list[httpx.Response]:
    """`send` twice at once (a double click) while another connection holds `tables` against
    writes (SQLite: its one write lock): both requests read what they read before either writes,
    then write one after the other once it lets go."""
    import threading
    holder = connect(web.db_url)
    if web.engine == "sqlite":
        holder.execute_sql("BEGIN IMMEDIATE")
    else:
        holder.execute_sql("BEGIN")
        holder.execute_sql(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")     # reads go on, writes wait
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(send())) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)                   # both have read and wait to write
    finally:
        holder.execute_sql("COMMIT")
        holder.close()
    for t in threads:
        t.join(30)
    return answers


def test_a_new_action_sent_twice_at_once_is_logged_once(web):
    """A double click sent the second request before the first had stored its action: each
    looked for the same action just logged, found none and logged one, both engines (a review)."""
    c = login(web.url, "sara-store")
    form = {"csrf_token": csrf_of(c.get("/account").text), "question": "visit", "date": "2026-11-03",
            "note": "Two at the till at once"}
    answers = _sent_at_once(web, lambda: c.post("/sites/s003/actions", data=form), ("action",))
    db = connect(web.db_url)
    try:
        made = [r[0] for r in db.execute_sql(f"SELECT id FROM action WHERE note = {db.param}", (form["note"],))]
        db.execute_sql(f"DELETE FROM action WHERE note = {db.param}", (form["note"],))     # the chain is shared
    finally:
        db.close()
    assert [r.status_code for r in answers] == [303, 303]
    assert len(made) == 1, made
    assert {r.headers["location"] for r in answers} == {f"/actions/{made[0]}"}


def test_a_comment_sent_twice_at_once_is_kept_once(web, item_ids):
    """A double click on "Comment" kept two identical rows in the alert's history (a review)."""
    c = login(web.url, "sara-store")
    alert = item_ids["alert_id"]["s003"]
    form = {"csrf_token": csrf_of(c.get("/account").text), "comment": "Checked the queue twice"}
    answers = _sent_at_once(web, lambda: c.post(f"/alerts/{alert}/comment", data=form), ("alert_event",))
    again = c.post(f"/alerts/{alert}/comment", data=form)                          # a reload
    db = connect(web.db_url)
    try:
        kept = db.execute_sql(f"SELECT COUNT(*) FROM alert_event WHERE detail = {db.param}",
                              (form["comment"],)).fetchone()[0]
        db.execute_sql(f"DELETE FROM alert_event WHERE detail = {db.param}", (form["comment"],))
    finally:
        db.close()
    assert [r.status_code for r in answers + [again]] == [303, 303, 303]
    assert kept == 1


def _forget_login_attempts(web) -> None:
    """Unlock the test server's one address (every client here is 127.0.0.1) for the other tests."""
    db = connect(web.db_url)
    try:
        db.execute_sql("DELETE FROM web_login_attempt")
    finally:
        db.close()


def test_guessing_the_current_password_is_throttled_audited_and_signs_out(web):
    """A live session was a way round the sign-in's lockout: /account/password checked the current
    password without counting, so a borrowed session could guess it without limit, unaudited."""
    _forget_login_attempts(web)
    assert kiosk_central(web.db_url, "user", "add", "pia", "--role", "analyst", "--language", "en",
                         "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    c = login(web.url, "pia")
    token = csrf_of(c.get("/account").text)
    try:
        answers = [c.post("/account/password", data={"csrf_token": token, "current": f"guess-{i:04d}",
                                                     "new": "a new password 1", "again": "a new password 1"})
                   for i in range(5)]
        assert [r.headers["location"] for r in answers[:4]] == ["/account?error=password_wrong"] * 4
        assert answers[4].headers["location"] == "/login?locked=1", "the fifth wrong password left the session on"
        assert "Too many wrong passwords: you have been signed out." in html.unescape(
            c.get(answers[4].headers["location"]).text)
        assert c.get("/").status_code == 303                    # the session is gone
        r = c.post("/login", data={"name": "pia", "password": PASSWORD, "csrf_token": csrf_of(c.get("/login").text)})
        assert r.status_code == 429, "signing in again is not locked after guessing at the password change"
        audit = json.loads(kiosk_central(web.db_url, "user", "audit", "--user", "pia", "--json").stdout)
        assert [e["event"] for e in audit][:6] == ["login_locked"] + ["password_change_failed"] * 5
        assert "wrong password at password change" in login(web.url, "ada-admin").get(
            "/admin/audit", params={"event": "password_change_failed"}).text
    finally:
        _forget_login_attempts(web)


def test_signing_into_ones_own_account_does_not_reset_the_address_count(web):
    """An insider sprayed passwords at other names and signed into their own account now and then:
    each success started the address's count afresh, so the address never locked."""
    from server_sync.web.people import now_utc
    _forget_login_attempts(web)
    db = connect(web.db_url)
    try:
        # Nineteen sprayed failures from this address (copies: each tried one costs an argon2 check).
        for i in range(19):
            db.execute_sql(f"INSERT INTO web_login_attempt (at, account, address, success) VALUES"
                           f" ({db.param}, {db.param}, {db.param}, {db.param})",
                           (now_utc(), f"spray-{i}", "127.0.0.1", False))
        assert login(web.url, "ana-analyst")                  # one's own, right
        c = httpx.Client(base_url=web.url)

        def spray(name: str) -> int:
            return c.post("/login", data={"name": name, "password": "Winter2026!",
                                          "csrf_token": csrf_of(c.get("/login").text)}).status_code

        assert spray("spray-19") == 401                       # the twentieth failure is still checked
        assert spray("spray-20") == 429, "a success from the address reset its count of failures"
    finally:
        db.close()
        _forget_login_attempts(web)


def test_parallel_guesses_at_one_account_check_no_more_than_the_limit(web):
    """The count was read before the (slow) argon2 check and the attempt written after it: guesses
    sent together all read a count of 0 and were all checked. Here twelve threads call
    `sessions.login` at the same moment on the real database, each from its own address."""
    import threading

    from server_sync.web import sessions
    _forget_login_attempts(web)
    assert kiosk_central(web.db_url, "user", "add", "rita", "--role", "analyst",
                         "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    db = connect(web.db_url)
    policy = sessions.SessionPolicy()
    start, outcomes = threading.Barrier(12), []

    def guess(i: int) -> None:
        start.wait()
        try:
            outcomes.append(sessions.login(db, "rita", f"wrong-{i}", address=f"10.8.{i}.1", user_agent=None,
                                           policy=policy))
        except sessions.LockedOut:
            outcomes.append("locked")
        finally:
            db.close()                                        # this thread's connection

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(outcomes) == 12
        checked = outcomes.count(None)
        assert checked <= policy.max_failures_per_account, f"{checked} parallel guesses were checked"
        assert outcomes.count("locked") == 12 - checked
    finally:
        db.close()
        _forget_login_attempts(web)


def test_a_name_that_is_no_user_is_not_recorded(web):
    """A password typed into the name field ended up on /admin/audit and in the server's log."""
    _forget_login_attempts(web)
    typed = "MyS3cretPassw0rd!"
    c = httpx.Client(base_url=web.url)
    try:
        r = c.post("/login", data={"name": typed, "password": "x", "csrf_token": csrf_of(c.get("/login").text)})
        assert r.status_code == 401
        audit = json.loads(kiosk_central(web.db_url, "user", "audit", "--json", "--limit", "5000").stdout)
        assert typed not in json.dumps(audit), "the name as typed is in the audit log"
        assert audit[0]["event"] == "login_unknown_name" and audit[0]["user"] is None
        assert typed not in web.server.log()
        db = connect(web.db_url)
        try:                                                  # counted, but under a hash of the name
            accounts = [r[0] for r in db.execute_sql("SELECT account FROM web_login_attempt")]
        finally:
            db.close()
        assert len(accounts) == 1 and typed not in accounts[0]
        page = login(web.url, "ada-admin").get("/admin/audit").text
        assert typed not in page and "failed sign-in, unknown name" in page
    finally:
        _forget_login_attempts(web)


def test_no_api_token_before_the_one_time_password_is_changed_and_a_reset_revokes_them(web):
    """A token worked for a user who had not yet changed the one-time password handed to them; and
    one made before an admin's reset worked again once the new password was set (a security review:
    a reset is for an account someone else may have used)."""
    assert kiosk_central(web.db_url, "user", "add", "tove", "--role", "analyst",
                         "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    token = kiosk_central(web.db_url, "user", "token", "tove").stdout.strip()
    api = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/alerts").status_code == 200
    r = kiosk_central(web.db_url, "user", "password", "tove")                     # a one-time one now
    assert r.returncode == 0 and "1 API token(s) revoked (new ones once they have changed it" in r.stderr
    for params in ({}, {"format": "csv"}):
        assert api.get("/api/v1/alerts", params=params).status_code == 401, params
    r = kiosk_central(web.db_url, "user", "token", "tove")
    assert r.returncode == 2 and "must change the one-time password first" in r.stderr and "kp_" not in r.stdout
    r = kiosk_central(web.db_url, "user", "password", "tove", "--password-stdin", stdin=PASSWORD + "x\n")
    assert r.returncode == 0 and "sessions ended, 0 API token(s) revoked" in r.stdout
    assert api.get("/api/v1/alerts").status_code == 401                        # not back with the new password
    fresh = httpx.Client(base_url=web.url, headers={
        "Authorization": f"Bearer {kiosk_central(web.db_url, 'user', 'token', 'tove').stdout.strip()}"})
    assert fresh.get("/api/v1/alerts").status_code == 200
    r = kiosk_central(web.db_url, "user", "password", "tove", "--password-stdin", stdin=PASSWORD + "y\n")
    assert "1 API token(s) revoked (make new ones" in r.stdout and fresh.get("/api/v1/alerts").status_code == 401
    # A token made before resets revoked them (or by a centre before this one) is still refused
    # while its user's password is a one-time one.
    older = kiosk_central(web.db_url, "user", "token", "tove").stdout.strip()
    db = connect(web.db_url)
    try:
        set_password(db, "tove", None, one_time=True)
    finally:
        db.close()
    r = httpx.get(f"{web.url}/api/v1/alerts", headers={"Authorization": f"Bearer {older}"})
    assert r.status_code == 403 and "must change the one-time password first" in r.json()["error"]


def test_an_employee_questions_comments_are_not_listed_and_api_answers_are_not_cached(web, clients):
    """The comments page, its downloads and the API listed an employee question's comments one by
    one, with the score and the minute (the report leaves groups under the minimum out): with a
    shift roster, one named employee's answer. And the API's JSON had no Cache-Control."""
    db = connect(web.db_url)
    try:
        employee = db.execute_sql(
            "SELECT COUNT(*) FROM followup f JOIN response r ON r.id = f.response_id"
            " WHERE f.comment IS NOT NULL AND r.audience = 'employee' AND r.site_id = 's003'").fetchone()[0]
    finally:
        db.close()
    assert employee > 0                                   # the chain has them: the test can fail
    pulse = {"pulse"}                                     # the chain's employee question
    # Asked for by name, it is refused, saying why (test_page_filters: in each language).
    r = clients["sara-store"].get("/comments", params={"question": "pulse", "format": "json"})
    assert r.status_code == 400 and "pulse" in r.text and '"comments"' not in r.text
    every = clients["ada-admin"].get("/comments", params={"format": "json"}).json()["comments"]
    assert every and not [c for c in every if c["question_id"] in pulse]
    token = kiosk_central(web.db_url, "user", "token", "sara-store", "--label", "employee-comments").stdout.strip()
    api = httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"})
    r = api.get("/api/v1/comments")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert not [c for c in r.json()["comments"] if c["question_id"] in pulse]


def test_a_manager_of_a_region_without_sites_is_offered_no_report_that_would_be_a_404(web):
    """The pages offered the HTML report download, which answered 404 (a review)."""
    assert kiosk_central(web.db_url, "region", "add", "far-north", "--name", "Långt norrut").returncode == 0
    assert kiosk_central(web.db_url, "user", "add", "frida-far", "--role", "regional-manager", "--region", "far-north",
                         "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    c = login(web.url, "frida-far")
    for path in ("/", "/sites", "/comments"):
        page = c.get(path)
        assert page.status_code == 200 and "format=report" not in page.text, path
        assert "format=csv" in page.text or "format=json" in page.text, path
    assert c.get("/?format=report").status_code == 404
    assert "format=report" in login(web.url, "ana-analyst").get("/").text        # what the others are offered
