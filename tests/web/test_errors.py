"""What the web app answers when a request or the centre is wrong, against the real server process
on SQLite and PostgreSQL: a bad day in any page's from/to is a 400 in the person's language that
names the field by its label (never a 500, never the command line's `--from`); a setting of the
centre edited by hand is an error page and a line in the log (never a traceback), and the worker
goes on serving once the setting is right again. A fault of the code (patched in, against the app
served by uvicorn in this process) is a 500 page in the person's language, logged once with its
traceback, on a connection that goes on serving.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import httpx
import pytest
from starlette.routing import Route

from server_sync.analysis.actions import MAX_DAYS_AHEAD
from server_sync.analysis.opening import HOURS_FIX
from server_sync.central.db import connect
from server_sync.central.registry import ZONE_FIX
from server_sync.central.setting import set_setting
from server_sync.web.app import WebSettings, route_table
from server_sync.workflow import alerts as workflow_alerts
from tests.web.conftest import ENGINES
from tests.web.world import PEOPLE, csrf_of, kiosk_central, login, served_in_process

pytestmark = pytest.mark.parametrize("chain_url", ENGINES, indirect=True, scope="module")

# Not YYYY-MM-DD, no such day, outside 2000-2099 (year 1 overflowed `date`: a 500 on /comments).
BAD_DAYS = ("0001-01-01", "9999-12-31", "2026-W01-1", "20261201", "2026-02-30", "2026-1-05", "tomorrow")
# Each language's words: the fields' labels, a bad day, a swapped pair, the title of a 400.
WORDS = {
    "en": {"from": "From", "to": "To", "title": "That request is not valid",
           "bad": "'{name}' is not a day between 2000-01-01 and 2099-12-31 (YYYY-MM-DD): '{value}'",
           "order": "'From' 2026-02-01 is after 'To' 2026-01-31"},
    "sv": {"from": "Från", "to": "Till", "title": "Förfrågan är inte giltig",
           "bad": "'{name}' är inte en dag mellan 2000-01-01 och 2099-12-31 (ÅÅÅÅ-MM-DD): '{value}'",
           "order": "'Från' 2026-02-01 är efter 'Till' 2026-01-31"},
    "nb": {"from": "Fra", "to": "Til", "title": "Forespørselen er ikke gyldig",
           "bad": "'{name}' er ikke en dag mellom 2000-01-01 og 2099-12-31 (ÅÅÅÅ-MM-DD): '{value}'",
           "order": "'Fra' 2026-02-01 er etter 'Til' 2026-01-31"},
}
# What a page says when a setting of the centre is wrong, with its fix, the command that sets it
# again (the setting itself, and its site, are in the log).
SETTING_BROKEN = {
    "en": "A setting stored with kiosk-central is not valid: an administrator must set it again with {fix} "
          "(the server's log names it).",
    "sv": "En inställning som sparats med kiosk-central är ogiltig: en administratör måste ställa in den igen med "
          "{fix} (serverns logg säger vilken).",
    "nb": "En innstilling som er lagret med kiosk-central, er ugyldig: en administrator må sette den på nytt med "
          "{fix} (serverens logg sier hvilken).",
}
GROUP_FIX = "kiosk-central privacy set --min-employee-group N"
# What a page says when the server meets an error it did not expect (the traceback is in the log).
SERVER_FAULT = {
    "en": "The server met an error it did not expect. It is in the server's log; try again, or tell an "
          "administrator if it happens again.",
    "sv": "Servern råkade ut för ett fel den inte väntade sig. Det finns i serverns logg; försök igen, eller säg "
          "till en administratör om det händer igen.",
    "nb": "Serveren fikk en feil den ikke ventet. Den står i serverens logg; prøv igjen, eller si fra til en "
          "administrator om det skjer igjen.",
}
TITLE_500 = {"en": "Something is wrong on the server", "sv": "Något är fel på servern",
             "nb": "Noe er galt på serveren"}
ONE_OF_EACH_LANGUAGE = ("ada-admin", "ana-analyst", "rolf-regional")      # en, sv, nb
# The alert and action forms: per language, a person who may act at the site; each field's label
# (by the library's name of the value). How a refusal of a form's field or a filter reads, in en,
# sv, nb (LANGUAGE_AT).
ACTING = {"en": ("ada-admin", "s001"), "sv": ("sara-store", "s003"), "nb": ("rolf-regional", "s002")}
FORM_LABELS = {
    "due_date": ("Due", "Klart senast", "Frist"), "comment": ("Comment", "Kommentar", "Kommentar"),
    "owner": ("Assign to", "Tilldela", "Tildel til"), "outcome": ("Outcome", "Utfall", "Utfall"),
    "reason": ("Reason (no action needed)", "Skäl (ingen åtgärd behövs)", "Begrunnelse (ingen tiltak trengs)"),
    "duplicate_of": ("Duplicate of alert (id)", "Dubblett av larm (id)", "Duplikat av varsel (id)"),
    "action_id": ("Or an action already logged (id)", "Eller en redan loggad åtgärd (id)",
                  "Eller et tiltak som alt er logget (id)"),
    "note": ("What changed", "Vad som ändrades", "Hva som ble endret"), "action_type": ("Type", "Typ", "Type"),
    "date": ("From", "Från", "Fra"), "question": ("Question", "Fråga", "Spørsmål"),
}
# A form's own label where it differs: the close form's note is the new action's.
FORM_OWN_LABELS = {"close": {"note": ("New action: What changed", "Ny åtgärd: Vad som ändrades",
                                      "Nytt tiltak: Hva som ble endret")}}


def a_year_ahead() -> str:
    """The latest first day of an action the app takes, read when the refusal is checked: a
    constant read at import was a day short for a run that crossed midnight UTC."""
    return (datetime.now(timezone.utc).date() + timedelta(days=MAX_DAYS_AHEAD)).isoformat()


REFUSALS = {
    "saved": ("That could not be saved: ", "Det gick inte att spara: ", "Det kunne ikke lagres: "),
    "bad_day": (WORDS["en"]["bad"], WORDS["sv"]["bad"], WORDS["nb"]["bad"]),
    "empty": ("'{name}' must be filled in", "'{name}' måste fyllas i", "'{name}' må fylles ut"),
    "too_long": ("'{name}' has {length} characters; at most {most}", "'{name}' har {length} tecken; högst {most}",
                 "'{name}' har {length} tegn; høyst {most}"),
    "not_offered": ("'{name}' is not one of the choices offered: '{value}'",
                    "'{name}' är inte ett av de val som finns: '{value}'",
                    "'{name}' er ikke et av valgene som finnes: '{value}'"),
    "not_a_number": ("'{name}' is not a number: '{value}'", "'{name}' är inte ett tal: '{value}'",
                     "'{name}' er ikke et tall: '{value}'"),
    "not_at_site": ("'{name}': {value} is not one of this site's", "'{name}': {value} hör inte till den här butiken",
                    "'{name}': {value} hører ikke til denne butikken"),
    "closed": ("This alert is closed already.", "Larmet är redan stängt.", "Varselet er allerede lukket."),
    "itself": ("'{name}': an alert cannot be a duplicate of itself", "'{name}': ett larm kan inte vara en dubblett "
               "av sig självt", "'{name}': et varsel kan ikke være et duplikat av seg selv"),
    # the action form's day is 2026-01-05 (good["actions"]); a year ahead is the latest first day
    "before": ("'{name}' cannot be before 2026-01-05: '{value}'", "'{name}' kan inte vara före 2026-01-05: '{value}'",
               "'{name}' kan ikke være før 2026-01-05: '{value}'"),
    "after": ("'{name}' cannot be after {latest}: '{value}'", "'{name}' kan inte vara efter {latest}: '{value}'",
              "'{name}' kan ikke være etter {latest}: '{value}'"),
    # the filters in the query string
    "param_unknown": ("This page takes no '{value}' (it takes: {allowed})",
                      "Sidan tar inte emot '{value}' (den tar: {allowed})",
                      "Siden tar ikke imot '{value}' (den tar: {allowed})"),
    "param_repeated": ("'{name}' is given more than once; it takes one value",
                       "'{name}' anges mer än en gång; den tar ett värde", "'{name}' er gitt mer enn én gang; den tar én verdi"),
    "param_none": ("This page takes no '{value}' (it takes no parameters)",
                   "Sidan tar inte emot '{value}' (den tar inga parametrar)",
                   "Siden tar ikke imot '{value}' (den tar ingen parametre)"),
    "bad_value": ("'{name}' is not valid: '{value}'", "'{name}' är inte giltigt: '{value}'",
                  "'{name}' er ikke gyldig: '{value}'"),
    "bad_number": ("'{name}' is not a whole number from {low} to {high}: '{value}'",
                   "'{name}' är inte ett heltal från {low} till {high}: '{value}'",
                   "'{name}' er ikke et heltall fra {low} til {high}: '{value}'"),
    "bad_choice": ("'{name}' is not one of {allowed}: '{value}'", "'{name}' är inte ett av {allowed}: '{value}'",
                   "'{name}' er ikke en av {allowed}: '{value}'"),
    "no_download": ("This page has no '{value}' download", "Sidan har ingen nedladdning i formatet '{value}'",
                    "Siden har ingen nedlasting i formatet '{value}'"),
}
# The filters' labels (a parameter without one is named as it is in the address).
FILTER_LABELS = {"from": ("From", "Från", "Fra"), "site": ("Site", "Butik", "Butikk"), "region": ("Region", "Region", "Region"),
                 "score": ("Score", "Betyg", "Karakter"), "q": ("Search", "Sök", "Søk"),
                 "question": ("Question", "Fråga", "Spørsmål"), "reason": ("Reason", "Skäl", "Årsak"),
                 "state": ("State", "Status", "Status")}
LANGUAGE_AT = {"en": 0, "sv": 1, "nb": 2}
LONG = "x" * 2001
# (form, what it posts, the field refused, what is wrong); the message echoes the value posted
FORM_CASES = [
    ("due", {"due_date": "tomorrow"}, "due_date", "bad_day"),
    ("due", {"due_date": "2026-02-30"}, "due_date", "bad_day"),
    ("due", {"due_date": "0001-01-01"}, "due_date", "bad_day"),
    ("comment", {"comment": "  "}, "comment", "empty"),
    ("comment", {"comment": LONG}, "comment", "too_long"),
    ("assign", {"owner": "nobody"}, "owner", "not_offered"),
    # A person with an account who may not act there reads as any name not offered: told apart, a
    # store manager learnt which names have an account (the sign-in page does not tell).
    ("assign", {"owner": "ana-analyst"}, "owner", "not_offered"),
    ("close", {"outcome": "maybe"}, "outcome", "not_offered"),
    ("close", {"outcome": "none"}, "reason", "empty"),
    ("close", {"outcome": "none", "reason": LONG}, "reason", "too_long"),
    ("close", {"outcome": "duplicate"}, "duplicate_of", "empty"),
    ("close", {"outcome": "duplicate", "duplicate_of": "abc"}, "duplicate_of", "not_a_number"),
    ("close", {"outcome": "duplicate", "duplicate_of": "²"}, "duplicate_of", "not_a_number"),
    ("close", {"outcome": "duplicate", "duplicate_of": "999999"}, "duplicate_of", "not_at_site"),
    ("close", {"outcome": "duplicate", "duplicate_of": "9" * 30}, "duplicate_of", "not_at_site"),
    ("close", {"outcome": "duplicate", "duplicate_of": "{alert}"}, "duplicate_of", "itself"),
    ("close", {"outcome": "action", "action_id": "abc"}, "action_id", "not_a_number"),
    ("close", {"outcome": "action", "action_id": "999999"}, "action_id", "not_at_site"),
    ("close", {"outcome": "action", "note": " "}, "note", "empty"),
    ("close", {"outcome": "action", "note": LONG}, "note", "too_long"),
    ("close", {"outcome": "action", "note": "x", "action_type": "magic"}, "action_type", "not_offered"),
    ("close", {"outcome": "action", "note": "x", "date": "2026-1-05"}, "date", "bad_day"),
    ("actions", {"question": "nope"}, "question", "not_offered"),
    ("actions", {"date": "tomorrow"}, "date", "bad_day"),
    ("actions", {"date": "9999-12-31"}, "date", "bad_day"),
    ("actions", {"note": ""}, "note", "empty"),
    ("actions", {"note": LONG}, "note", "too_long"),
    ("actions", {"action_type": "magic"}, "action_type", "not_offered"),
    ("actions", {"due_date": "20261201"}, "due_date", "bad_day"),
    ("actions", {"due_date": "2026-01-01"}, "due_date", "before"),
    ("actions", {"date": "2090-01-01"}, "date", "after"),
]


@pytest.fixture(scope="module")
def clients(web):
    """Signed in to the served app once for the module: one person of each language, and
    sara-store (who acts at s003: ACTING)."""
    return {name: login(web.url, name) for name in ONE_OF_EACH_LANGUAGE + ("sara-store",)}


@pytest.fixture(scope="module")
def api(web) -> httpx.Client:
    r = kiosk_central(web.db_url, "user", "token", "ada-admin", "--label", "errors")
    assert r.returncode == 0, r.stderr
    return httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {r.stdout.strip()}"}, timeout=30)


@pytest.fixture(scope="module")
def in_process(chain_url):
    """The app served by uvicorn in a thread of this process (world.served_in_process). Figures
    are never reused (cache 0): each request computes them."""
    with served_in_process(WebSettings(chain_url, cache_seconds=0, threads=4)) as base:
        yield base


@pytest.fixture(scope="module")
def in_process_people(in_process, chain_url) -> tuple[dict[str, httpx.Client], httpx.Client]:
    """The in-process app's people, signed in once for the module's tests that use it (each login
    is an argon2 verification at the product's cost, and none of these tests ends a session): one
    person of each language and sara-store, who sees s003 only; and the API with a token of
    ada-admin's."""
    clients = {name: login(in_process, name) for name in ONE_OF_EACH_LANGUAGE + ("sara-store",)}
    r = kiosk_central(chain_url, "user", "token", "ada-admin", "--label", "in-process")
    assert r.returncode == 0, r.stderr
    api = httpx.Client(base_url=in_process, headers={"Authorization": f"Bearer {r.stdout.strip()}"}, timeout=30)
    return clients, api


def _connection(r: httpx.Response) -> tuple:
    """The client's end of the TCP connection the answer came on."""
    return r.extensions["network_stream"].get_extra_info("client_addr")


def _day_routes() -> list[Route]:
    """Every route whose page reads from/to (filters.takes), walked from the route table."""
    return [r for r in route_table() if isinstance(r, Route)
            and {"from", "to"} <= set(getattr(getattr(r.endpoint, "page", None), "params", ()))]


def _said(r: httpx.Response, is_api: bool) -> str:
    return r.json()["error"] if is_api else html.unescape(r.text)


def test_a_bad_day_on_any_page_is_a_400_in_the_persons_language_naming_the_field(web, clients, api):
    """filters.day had its own rule (any 10 characters date.fromisoformat read): 2026-W01-1 was
    taken, /comments?from=0001-01-01 was a 500 (and reset the connection it came on), and the
    report pages said `--from 0001-01-01 is outside …`, the command line's words, in English."""
    routes = _day_routes()
    assert {r.path for r in routes} == {"/", "/sites", "/sites/{site_id}", "/comments", "/api/v1/overview",
                                        "/api/v1/sites", "/api/v1/sites/{site_id}", "/api/v1/comments"}
    for route in routes:
        is_api = route.endpoint.access == "token"
        for name in ("ada-admin",) if is_api else ONE_OF_EACH_LANGUAGE:
            _role, _scope, visible, lang = PEOPLE[name]
            client, words = (api, WORDS["en"]) if is_api else (clients[name], WORDS[lang])
            path = route.path.replace("{site_id}", visible[0])
            for key in ("from", "to"):
                for bad in BAD_DAYS:
                    for fmt in (None,) if is_api else (None, "csv"):
                        r = client.get(path, params={key: bad, **({"format": fmt} if fmt else {})})
                        where = f"{name} {path}?{key}={bad} format={fmt}"
                        assert r.status_code == 400, f"{where}: {r.status_code} {r.text[:300]}"
                        said = _said(r, is_api)
                        assert words["bad"].format(name=words[key], value=bad) in said, f"{where}: {said[:2000]}"
                        assert "--from" not in said and "--to" not in said, where
                        if not is_api:
                            assert words["title"] in said, where
            r = client.get(path, params={"from": "2026-02-01", "to": "2026-01-31"})
            assert r.status_code == 400 and words["order"] in _said(r, is_api), f"{name} {path}: {r.text[:300]}"
            # The connection the refusals came on still serves, and a good period is taken.
            assert client.get(path, params={"from": "2026-01-01", "to": "2026-01-31"}).status_code == 200, path
    assert "Traceback" not in web.server.log()


@pytest.mark.parametrize("value", ["abc", "4", "9" * 5000])
def test_a_minimum_employee_group_edited_by_hand_is_an_error_page_and_a_log_line(web, clients, api, value):
    """The pages read the centre's minimum employee group each time with a bare int(): 'abc' or
    5000 digits was a 500 with int()'s traceback, 4 a 400 that blamed the person's request."""
    db = connect(web.db_url)
    logged = len(web.server.log())
    try:
        with db.atomic():
            set_setting(db, "min_employee_group", value)
        for name in ONE_OF_EACH_LANGUAGE:
            lang, site = PEOPLE[name][3], PEOPLE[name][2][0]
            for path in ("/", "/sites", f"/sites/{site}", "/comments?format=report"):
                r = clients[name].get(path)
                assert r.status_code == 500, f"{name} {path}: {r.status_code} {r.text[:300]}"
                said = html.unescape(r.text)
                assert SETTING_BROKEN[lang].format(fix=GROUP_FIX) in said, f"{name} {path}: {said[:2000]}"
                assert "min_employee_group" not in said, f"{name} {path}: the log's detail, not the page's"
        r = api.get("/api/v1/overview")
        assert r.status_code == 500 and r.json() == {"error": SETTING_BROKEN["en"].format(fix=GROUP_FIX)}
        assert clients["ada-admin"].get("/comments").status_code == 200      # reads no such setting
    finally:
        with db.atomic():
            set_setting(db, "min_employee_group", "5")
        db.close()
    for name in ONE_OF_EACH_LANGUAGE:                   # set right again: served at once, same connection
        assert clients[name].get("/").status_code == 200, name
    assert api.get("/api/v1/overview").status_code == 200
    log = web.server.log()[logged:]
    assert f"the stored privacy setting min_employee_group is {value[:20]}" in log.replace("'", ""), log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def _boom(*_args, **_kwargs):
    raise RuntimeError("injected fault")


def test_an_unexpected_error_is_a_500_page_in_the_persons_language_logged_once(in_process, in_process_people,
                                                                                   monkeypatch, caplog):
    """Any exception a route did not expect was Starlette's plain-text "Internal Server Error", in
    English; uvicorn then logged the traceback and closed the (keep-alive) connection it came on."""
    clients, api = in_process_people
    anonymous = httpx.Client(base_url=in_process, timeout=30)
    caplog.set_level(logging.INFO)
    # Failures patched into what the routes call: the fleet page's (and its API call's) summary; a
    # person's scope, read before any page runs; the login page's sessions.
    monkeypatch.setattr("server_sync.web.pages.fleet.summary", _boom)
    asked = []
    for name in ONE_OF_EACH_LANGUAGE:
        lang = PEOPLE[name][3]
        for path in ("/fleet", "/fleet?format=csv"):
            before = clients[name].get("/alerts")
            assert before.status_code == 200, path
            r = clients[name].get(path)
            asked.append(path.split("?")[0])
            said = html.unescape(r.text)
            assert r.status_code == 500 and r.headers["content-type"].startswith("text/html"), f"{name} {path}"
            assert SERVER_FAULT[lang] in said and TITLE_500[lang] in said, f"{name} {path}: {said[:2000]}"
            assert "injected" not in said and "Traceback" not in said, f"{name} {path}"
            assert r.headers["content-security-policy"], "the 500 page carries the headers every answer does"
            after = clients[name].get("/alerts")
            assert after.status_code == 200, f"{name}: served again"
            assert _connection(before) == _connection(r) == _connection(after), f"{name} {path}: a new connection"
    r = api.get("/api/v1/fleet")
    asked.append("/api/v1/fleet")
    assert r.status_code == 500 and r.json() == {"error": SERVER_FAULT["en"]}, r.text
    assert api.get("/api/v1/alerts").status_code == 200
    monkeypatch.setattr("server_sync.web.guard.scope_of", _boom)
    r = clients["rolf-regional"].get("/sites")
    asked.append("/sites")
    assert r.status_code == 500 and SERVER_FAULT["nb"] in html.unescape(r.text), r.text[:2000]
    monkeypatch.setattr("server_sync.web.sessions.purge", _boom)
    r = anonymous.get("/login")
    asked.append("/login")
    assert r.status_code == 500 and SERVER_FAULT["en"] in html.unescape(r.text), r.text[:2000]

    logged = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    faults = [rec for rec in logged if rec.exc_info and "injected fault" in str(rec.exc_info[1])]
    assert [rec.getMessage() for rec in faults] == [f"GET {path}: unexpected error" for path in asked], \
        [rec.getMessage() for rec in logged]
    assert len(faults) == len(logged), "each fault logged once, by the app, not again by uvicorn"


def _refusal(lang: str, form: str, field: str | None, problem: str, value: str | None) -> str:
    at = LANGUAGE_AT[lang]
    name = {**FORM_LABELS, **FORM_OWN_LABELS.get(form, {})}[field][at] if field else ""
    return REFUSALS["saved"][at] + REFUSALS[problem][at].format(name=name, value=value, length=len(LONG),
                                                                     most=2000, latest=a_year_ahead())


def test_the_alert_and_action_forms_name_their_own_fields_in_the_persons_language(web, clients):
    """The forms called the command line's functions and showed their messages: "--due …",
    "--note must say …", "--outcome must be one of …", "--type …", in English for everyone. And
    the close form's note, labelled "New action: What changed", was refused as 'What changed', the
    action form's label."""
    db = connect(web.db_url)
    try:
        alert = {s: int(i) for s, i in db.execute_sql("SELECT site_id, MIN(id) FROM alert GROUP BY site_id")}
        question = db.execute_sql("SELECT MIN(id) FROM question").fetchone()[0]
        closed = {}
        for _name, site in ACTING.values():          # a closed alert per site: acknowledged or closed again
            row = workflow_alerts.get(db, alert[site], history=False)
            db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                           f" window_to, n, negative, message, state) VALUES ({db.param}, {db.param}, 'realtime',"
                           f" {db.param}, {db.param}, {db.param}, {db.param}, 8, 6, 'closed one', 'closed')",
                           (site, row["question_id"], row["raised_at"], row["raised_at"], row["raised_at"],
                            row["raised_at"]))
            closed[site] = db.execute_sql("SELECT MAX(id) FROM alert").fetchone()[0]
    finally:
        db.close()
    for lang, (name, site) in ACTING.items():
        client = clients[name]
        forms = "".join(html.unescape(client.get(path).text) for path in (f"/alerts/{alert[site]}", f"/sites/{site}"))
        for labels in [*FORM_LABELS.values(), *(v for own in FORM_OWN_LABELS.values() for v in own.values())]:
            assert labels[LANGUAGE_AT[lang]] in forms, f"{lang}: no field labelled {labels[LANGUAGE_AT[lang]]!r}"
        token = csrf_of(client.get("/account").text)
        good = {"actions": {"question": question, "date": "2026-01-05", "note": "Extra cashier"}}
        for form, data, field, problem in FORM_CASES + [("ack", {}, None, "closed"),
                                                        ("close", {"outcome": "none", "reason": "x"}, None, "closed")]:
            item = closed[site] if problem == "closed" else alert[site]
            data = {k: v.format(alert=item) for k, v in data.items()}          # "{alert}": the alert itself
            path = f"/sites/{site}/actions" if form == "actions" else f"/alerts/{item}/{form}"
            r = client.post(path, data={"csrf_token": token, **good.get(form, {}), **data})
            where = f"{name} POST {path} {data}"[:200]
            assert r.status_code == 400, f"{where}: {r.status_code} {r.text[:300]}"
            said = html.unescape(r.text)
            assert _refusal(lang, form, field, problem, data.get(field)) in said, f"{where}: {said[-1500:]}"
            assert WORDS[lang]["title"] in said and "--" not in said.split("<main", 1)[-1], where
    assert "Traceback" not in web.server.log()


# (path, query, what is wrong, the field named, what the message shows besides the field's value)
FILTER_CASES = [
    ("/comments", {"nope": "1"}, "param_unknown", None,
     {"value": "nope", "allowed": "from, to, question, site, region, reason, score, q, page"}),
    ("/alerts/{alert}", {"x": "1"}, "param_none", None, {"value": "x"}),
    ("/comments", {"site": "bad!"}, "bad_value", "site", {}),
    ("/account", {"done": "1"}, "not_offered", "done", {}),
    ("/account", {"error": "x"}, "not_offered", "error", {}),
    ("/", [("from", "2026-11-01"), ("from", "2026-11-02")], "param_repeated", "from", {}),
    ("/comments", [("site", "s001"), ("site", "s002")], "param_repeated", "site", {}),
    ("/sites", [("format", "csv"), ("format", "json")], "param_repeated", "format", {}),
    ("/sites", {"region": "no such"}, "bad_value", "region", {}),
    ("/comments", {"score": "abc"}, "bad_number", "score", {"low": 0, "high": 10}),
    ("/comments", {"score": "11"}, "bad_number", "score", {"low": 0, "high": 10}),
    ("/comments", {"score": "10", "question": "visit"}, "bad_number", "score", {"low": 1, "high": 4}),
    ("/comments", {"page": "0"}, "bad_number", "page", {"low": 1, "high": 100000}),
    ("/comments", {"q": "x" * 201}, "too_long", "q", {"length": 201, "most": 200}),
    ("/comments", {"question": "nope"}, "not_offered", "question", {}),
    ("/", {"question": "nope"}, "not_offered", "question", {}),
    ("/sites/s001", {"question": "nope"}, "not_offered", "question", {}),
    ("/comments", {"reason": "nope"}, "not_offered", "reason", {}),
    ("/alerts", {"state": "maybe"}, "bad_choice", "state", {"allowed": "active, open, acknowledged, closed, overdue"}),
    ("/fleet", {"flagged": "2"}, "bad_choice", "flagged", {"allowed": "1, 0"}),
    ("/comments", {"format": "pdf"}, "bad_choice", "format", {"allowed": "csv, xlsx, json, report"}),
    ("/alerts/{alert}", {"format": "report"}, "no_download", None, {"value": "report"}),
    ("/actions/{action}", {"format": "csv"}, "no_download", None, {"value": "csv"}),
]
API_OF = {"/": "/api/v1/overview", "/sites": "/api/v1/sites", "/sites/s001": "/api/v1/sites/s001",
          "/comments": "/api/v1/comments", "/alerts": "/api/v1/alerts", "/fleet": "/api/v1/fleet"}


def test_a_bad_filter_is_said_in_the_persons_language_naming_the_field(web, clients, api):
    """filters.py said all but a bad day in English under the translated title: "this page takes no
    'x'", "'score' is not valid", "unknown question 'nope'", "'format' must be one of …"."""
    db = connect(web.db_url)
    try:
        ids = {what: db.execute_sql(f"SELECT MIN(id) FROM {what} WHERE site_id = 's001'").fetchone()[0]
               for what in ("alert", "action")}
    finally:
        db.close()
    for path, query, problem, field, values in FILTER_CASES:
        path = path.format(**ids)
        values = {"value": dict(query).get(field), **values}
        for name in ONE_OF_EACH_LANGUAGE + ("api",):
            if name == "api" and path not in API_OF:
                continue
            at = 0 if name == "api" else LANGUAGE_AT[PEOPLE[name][3]]
            label = FILTER_LABELS[field][at] if field in FILTER_LABELS else field
            expected = REFUSALS[problem][at].format(name=label, **values)
            r = api.get(API_OF[path], params=query) if name == "api" else clients[name].get(path, params=query)
            where = f"{name} {path} {query}"[:200]
            assert r.status_code == 400, f"{where}: {r.status_code} {r.text[:300]}"
            said = r.json()["error"] if name == "api" else html.unescape(r.text)
            assert expected in said, f"{where}: {said[-1500:]}"


def _a_site_setting_edited_by_hand(people: tuple[dict[str, httpx.Client], httpx.Client], db_url: str, caplog,
                                   column: str, value: str, restore: str, paths: tuple[str, ...],
                                   fix: str, hidden: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Site s001's `column` set to `value` by hand: each of `paths` ({site}: the site in the path) is,
    for each person who sees s001, the stored-setting 500 page with its fix (`fix`), naming neither
    the site nor the value, and so is the API's fleet (JSON); sara-store, who sees s003
    only, is served her pages, and each of `hidden` ({alert}, {action}: s001's) exactly as an
    unknown id; `restore` serves them all again. Returns (the path asked, the line logged at
    ERROR) for each refusal, having checked that none logged a traceback."""
    clients, api = people
    db = connect(db_url)
    caplog.set_level(logging.INFO)
    asked = []
    ids = {table: db.execute_sql(f"SELECT MIN(id) FROM {table} WHERE site_id = 's001'").fetchone()[0]
           for table in ("alert", "action")}
    try:
        with db.atomic():
            db.execute_sql(f"UPDATE site SET {column} = {db.param} WHERE id = 's001'", (value,))
        for name in ONE_OF_EACH_LANGUAGE:                       # each of them sees s001
            lang = PEOPLE[name][3]
            for path in (p.format(site="s001") for p in paths):
                r = clients[name].get(path)
                asked.append(path.split("?")[0])
                assert r.status_code == 500, f"{name} {path}: {r.status_code} {r.text[:300]}"
                said = html.unescape(r.text)
                assert SETTING_BROKEN[lang].format(fix=fix) in said, f"{name} {path}: {said[:2000]}"
                assert "s001" not in said and (not value or value not in said), f"{name} {path}: the log's detail"
        r = api.get("/api/v1/fleet")
        asked.append("/api/v1/fleet")
        assert r.status_code == 500 and r.json() == {"error": SETTING_BROKEN["en"].format(fix=fix)}, r.text
        for path in (p.format(site="s003") for p in paths):
            assert clients["sara-store"].get(path).status_code == 200, f"sara-store {path}: hurt by another site"
        unknown = clients["sara-store"].get("/alerts/999999").text
        for path in (p.format(**ids) for p in hidden):
            r = clients["sara-store"].get(path)
            assert (r.status_code, r.text) == (404, unknown), f"sara-store {path}: {r.status_code}, not as unknown"
    finally:
        with db.atomic():
            db.execute_sql(f"UPDATE site SET {column} = {restore} WHERE id = 's001'")
        db.close()
    for name in ONE_OF_EACH_LANGUAGE:
        for path in (p.format(site="s001") for p in paths):
            assert clients[name].get(path).status_code == 200, f"{name} {path}"
    logged = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert not any(rec.exc_info for rec in logged), "one line each, no traceback"
    return list(zip(asked, (rec.getMessage() for rec in logged), strict=True))


@pytest.mark.parametrize("hours", ["nonsense", '{"0": [18, 9]}', '{"9": [8, 21]}', '{"0": [1e400, 21]}'])
def test_opening_hours_edited_by_hand_are_an_error_page_and_a_log_line(in_process_people, chain_url, caplog, hours):
    """A site's opening hours no rule would take were a CentralConfigError: a 400 that blamed the
    person's request ("bad opening_hours …", in English), on every page that shows the fleet. Now
    the stored-setting page with its fix, `kiosk-central site update --hours` (a column to correct
    by hand before there was one), and one log line naming the site and the value."""
    logged = _a_site_setting_edited_by_hand(in_process_people, chain_url, caplog, "opening_hours", hours, "NULL",
                                            ("/", "/fleet", "/sites/{site}", "/fleet?format=csv"), HOURS_FIX)
    assert all(f"GET {path}: the stored opening_hours of site s001 is {hours!r}" in line
               and line.endswith(f"(set it again: {HOURS_FIX})") for path, line in logged), logged


@pytest.mark.parametrize("zone", ["Mars/Olympus", ""])
def test_a_sites_time_zone_edited_by_hand_is_an_error_page_and_a_log_line(in_process_people, chain_url, caplog,
                                                                           zone):
    """ZoneInfo raised on a zone no IANA name has: the general 500 with a traceback in the log, on the
    pages that read local days; '' was read as Stockholm by some pages and as UTC by the report's
    alerts. An alert or action of the site was a 500 for a person who may not see it (so told from
    an unknown id's 404): it was read before its site's scope was checked. Now every reader takes registry.stored_zone's rule: the stored-setting page with the
    fix that fits, one log line naming the site and the value; a person who cannot see the site
    is not hurt by it. The fix is `kiosk-central site update`, which recounts the site's rollups in
    the zone it sets (a column to correct by hand before there was one)."""
    logged = _a_site_setting_edited_by_hand(in_process_people, chain_url, caplog, "timezone", zone,
                                            "'Europe/Stockholm'",
                                            ("/", "/sites", "/sites/{site}", "/comments?from=2026-01-01", "/fleet"),
                                            ZONE_FIX, hidden=("/alerts/{alert}", "/actions/{action}"))
    line = (f"the stored timezone of site s001 is {zone!r}, not an IANA time zone such as Europe/Stockholm, which the "
            f"site's answers are counted in (set it again: {ZONE_FIX})")
    assert [said for _path, said in logged] == [f"GET {path}: {line}" for path, _said in logged], logged


def test_an_id_beyond_the_databases_integers_is_a_404_like_any_unknown_one(web, clients):
    """/alerts/<id> and /actions/<id> take any digits: on SQLite one beyond 2^63-1 overflowed the
    query's parameter (a 500)."""
    client = clients["ada-admin"]
    token = csrf_of(client.get("/account").text)
    for path in ("/alerts/{}", "/actions/{}", "/alerts/{}/comment"):
        for item in (2 ** 63, 10 ** 30):
            url = path.format(item)
            r = client.post(url, data={"csrf_token": token, "comment": "x"}) if "comment" in url else client.get(url)
            assert r.status_code == 404, f"{url}: {r.status_code} {r.text[:300]}"
            assert r.text == client.get("/alerts/999999").text, f"{url}: read like an unknown id"
    assert "Traceback" not in web.server.log()


def test_a_comment_typed_up_to_the_textareas_limit_with_line_breaks_is_kept(web, clients):
    """The browser sends a textarea's line breaks as CRLF: a comment typed up to its maxlength of
    2000 was refused as 2027 characters long (a review). Kept, with its line breaks as typed."""
    client = clients["sara-store"]
    db = connect(web.db_url)
    try:
        alert = db.execute_sql("SELECT MIN(id) FROM alert WHERE site_id = 's003'").fetchone()[0]
        typed = "\n".join(["Kön var lång vid lunch"] * 90)[:workflow_alerts.MAX_TEXT]
        r = client.post(f"/alerts/{alert}/comment", data={"csrf_token": csrf_of(client.get("/account").text),
                                                          "comment": typed.replace("\n", "\r\n")})
        kept = [row[0] for row in db.execute_sql(f"SELECT detail FROM alert_event WHERE alert_id = {db.param}"
                                                 " AND event = 'comment'", (alert,))]
        db.execute_sql(f"DELETE FROM alert_event WHERE detail = {db.param}", (typed,))      # the chain is shared
    finally:
        db.close()
    assert r.status_code == 303, html.unescape(r.text)[-600:]
    assert typed in kept


def test_a_method_a_route_does_not_take_or_a_body_over_the_limit_is_its_own_error(web, clients):
    """Starlette's 405 (GET /logout, a form's address opened as a page) and 413 (a form over 64 KiB)
    went to an error page that had no text for them: a KeyError, a 500 with a traceback in the log."""
    logged = len(web.server.log())
    client = clients["ada-admin"]
    for path in ("/logout", "/alerts/1/comment", "/sites/s001/actions"):
        r = client.get(path)
        assert r.status_code == 405 and r.headers["allow"] == "POST", f"{path}: {r.status_code} {r.text[:300]}"
        assert "Not possible at this address" in r.text, path
    # An address two routes share (the login page and its form) takes what either takes: its 405
    # said `allow: HEAD, GET` (the first route's alone), though the form posts there.
    for method in ("PUT", "DELETE"):
        r = client.request(method, "/login")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST", f"{method}: {r.headers}"
    token = csrf_of(client.get("/account").text)
    r = client.post("/alerts/1/comment", data={"csrf_token": token, "comment": LONG * 40})      # 80 kB
    assert r.status_code == 413, r.text[:300]
    assert client.get("/").status_code == 200
    log = web.server.log()[logged:]
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]


# The titles of the refusals made before any route runs, per language.
REFUSAL_TITLES = {404: {"en": "Not found", "sv": "Hittades inte", "nb": "Ikke funnet"},
                  405: {"en": "Not possible at this address", "sv": "Inte möjligt på den här adressen",
                        "nb": "Ikke mulig på denne adressen"},
                  413: {"en": "Too much sent at once", "sv": "För mycket skickat på en gång",
                        "nb": "For mye sendt på én gang"}}


def _chunked(body: bytes):
    """A request body without a Content-Length (sent in chunks): only reading it shows its size."""
    for i in range(0, len(body), 8192):
        yield body[i:i + 8192]


def test_refusals_before_any_route_speak_the_persons_or_the_browsers_language(web, clients, api):
    """404 (no such address), 405 and 413 were made before the person was known: in English for
    everyone, and the 413 was Starlette's plain text "Content Too Large", sent from outside the
    middleware that adds the security headers. Now: the signed-in person's language (a valid
    session cookie), else the browser's among sv/nb/en, else English; the 413 the same page as the
    others (JSON for the API), also when the body's size shows only as it is read."""
    logged = len(web.server.log())
    big = urlencode({"comment": LONG * 40}).encode()            # 80 kB; the limit is 64 KiB
    anonymous = [("nb-NO,nb;q=0.9,en;q=0.5", "nb"), ("en-GB,sv;q=0.8", "en"), ("sv-SE", "sv"), ("de-DE,de;q=0.9", "en"),
                 ("fr;q=1,nb;q=0.2", "nb"), (None, "en")]
    cases = [(clients[name], "de", PEOPLE[name][3]) for name in ONE_OF_EACH_LANGUAGE]    # theirs, not the browser's
    cases += [(httpx.Client(base_url=web.url, timeout=30), accept, lang) for accept, lang in anonymous]
    stale = httpx.Client(base_url=web.url, timeout=30, cookies={"kp_session": "no-such-session"})
    cases.append((stale, "sv", "sv"))
    for client, accept, lang in cases:
        headers = {"Accept-Language": accept} if accept else {}
        form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        answers = [(client.get("/no/such/page", headers=headers), 404),
                   (client.get("/logout", headers=headers), 405),
                   (client.post("/alerts/1/comment", content=big, headers=form), 413),
                   (client.post("/login", content=_chunked(big), headers=form), 413)]
        for r, status in answers:
            where = f"{accept} {lang} {r.request.method} {r.request.url.path}"
            assert r.status_code == status, f"{where}: {r.status_code} {r.text[:300]}"
            assert r.headers["content-type"].startswith("text/html"), f"{where}: {r.headers['content-type']}"
            said = html.unescape(r.text)
            assert REFUSAL_TITLES[status][lang] in said and f'<html lang="{lang}">' in said, f"{where}: {said[:1500]}"
            assert r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY", where
            if status == 405:
                assert r.headers["allow"] == "POST", where
    r = api.get("/api/v1/no-such-call")
    assert r.status_code == 404 and r.json() == {"error": "Not found"}
    r = api.post("/api/v1/overview", content=big)
    assert r.status_code == 413 and r.json() == {"error": "Too much sent at once"}, r.text[:300]
    assert r.headers["content-security-policy"], "the API's refusal carries the headers too"
    log = web.server.log()[logged:]
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]


# The login page's title and its wrong-password and refused-token answers, per language.
LOGIN_WORDS = {"sv": ("Logga in", "Fel användarnamn eller lösenord.", "Formuläret var inaktuellt"),
               "nb": ("Logg inn", "Feil brukernavn eller passord.", "Skjemaet var utdatert"),
               "en": ("Sign in", "Wrong user name or password.", "The form was out of date")}


def test_the_login_page_and_its_answers_follow_the_one_language_rule(web):
    """The login page was in its ?lang= else Swedish, what its form answered (a wrong password, a
    refused token) always in Swedish, while the error pages took the browser's language, else
    English, and ignored ?lang=. Now one rule for both: the signed-in person's; else a valid
    ?lang= (any other value passed over); else the browser's; else English. The form posts back
    in the language the page was shown in, whatever the browser says."""
    c = httpx.Client(base_url=web.url, timeout=30)
    cases = [("", "de-DE", "en"), ("", "nb-NO", "nb"), ("?lang=sv", "nb-NO", "sv"), ("?lang=en", None, "en"),
             ("?lang=xx", "nb", "nb"), ("?lang=", None, "en")]
    for query, accept, lang in cases:
        headers = {"Accept-Language": accept} if accept else {}
        for path, status, words in (("/login", 200, LOGIN_WORDS[lang][0]),
                                    ("/no/such/page", 404, REFUSAL_TITLES[404][lang])):
            r = c.get(path + query, headers=headers)
            where = f"{path}{query} {accept}"
            assert r.status_code == status and f'<html lang="{lang}">' in r.text, f"{where}: {r.text[:500]}"
            assert words in html.unescape(r.text), where
    english = {"Accept-Language": "en"}
    shown = c.get("/login?lang=nb&next=/sites", headers=english).text
    assert all(f'href="/login?lang={lang}&amp;next=' in shown for lang in LOGIN_WORDS), "a link to each language"
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', shown).group(1))
    fields = {"csrf_token": csrf_of(shown), "name": "nobody-at-all", "password": "wrong", "next": "/sites"}
    r = c.post(action, data=fields, headers=english)
    said = html.unescape(r.text)
    assert r.status_code == 401 and LOGIN_WORDS["nb"][1] in said and '<html lang="nb">' in said, said[:1500]
    assert 'name="next" value="/sites"' in said and f'action="{action}"' in said, "the form keeps both"
    r = c.post(action, data={**fields, "csrf_token": "forged"}, headers=english)
    assert r.status_code == 403 and LOGIN_WORDS["nb"][2] in html.unescape(r.text), r.text[:1500]


def test_the_audit_log_says_its_events_in_words_and_refuses_one_it_does_not_have(web, clients):
    """It showed the codes (`login`, `comments_viewed`) and raw JSON `{}`, and `?event=nope`
    listed every event as if the filter applied."""
    admin = clients["ada-admin"]
    # Each cell named for a phone's cards (data-label): the cells as they read.
    page = re.sub(r' data-label="[^"]*"', "", html.unescape(admin.get("/admin/audit").text))
    assert "<td>signed in</td>" in page and "<td>login</td>" not in page and "<td class=\"detail\">{}</td>" not in page
    r = admin.get("/admin/audit", params={"event": "nope"})
    assert r.status_code == 400 and "'Event' is not one of the choices offered: 'nope'" in html.unescape(r.text)
    assert admin.get("/admin/audit", params={"event": "login"}).status_code == 200


def test_the_audit_log_says_its_details_in_words(web, clients):
    """/admin/audit showed its detail's keys as stored and its filters as escaped JSON
    (`filters: {"q": "k\\u00f6"}`)."""
    admin = clients["ada-admin"]
    csrf = csrf_of(admin.get("/account").text)
    assert admin.get("/comments", params={"q": "kö"}).status_code == 200
    english = admin.get("/admin/audit").text
    assert "filters: q=kö · page: /comments · shown: " in html.unescape(english)
    assert "\\u00f6" not in english and "{&#34;q&#34;" not in english and '{"q"' not in html.unescape(english)
    assert admin.post("/account/language", data={"csrf_token": csrf, "language": "sv"}).status_code == 303
    try:
        swedish = html.unescape(admin.get("/admin/audit").text)
    finally:
        assert admin.post("/account/language", data={"csrf_token": csrf, "language": "en"}).status_code == 303
    assert "filter: q=kö · sida: /comments · visade: " in swedish


def test_a_long_search_keeps_the_audit_log_readable_and_whole(web, clients):
    """A search of "kassa" and 4,500 spaces (which the search strips: a 200) was stored cut at
    4,000 characters, JSON no reader could parse: /admin/audit and its CSV were 500s, `user
    audit` a traceback, and what was read (`shown`) was lost. Now every text is cut, never the
    JSON; an entry an earlier version stored cut is shown as it is, not a failure of the log."""
    admin = clients["ada-admin"]
    cut_short = '{"filters": {"q": "kassa   '       # as an earlier version stored it
    assert admin.get("/comments", params={"q": "kassa" + " " * 4500}).status_code == 200
    db = connect(web.db_url)
    try:
        (stored,), = db.execute_sql("SELECT detail FROM audit_log WHERE event = 'comments_viewed'"
                                    " ORDER BY id DESC LIMIT 1").fetchall()
        db.execute_sql("INSERT INTO audit_log (at, user_name, event, address, detail) VALUES"
                       f" ({db.param}, 'ada-admin', 'export', NULL, {db.param})",
                       (datetime.now(timezone.utc).replace(tzinfo=None), cut_short))
    finally:
        db.close()
    detail = json.loads(stored)
    assert detail["page"] == "/comments" and "shown" in detail and detail["filters"]["q"].endswith("…")
    try:
        for url in ("/admin/audit", "/admin/audit?format=csv", "/admin/audit?event=comments_viewed"):
            assert admin.get(url).status_code == 200, url
        assert 'stored cut short: {"filters": {"q": "kassa' in html.unescape(admin.get("/admin/audit").text)
        r = kiosk_central(web.db_url, "user", "audit", "--event", "export")
        assert r.returncode == 0 and '"unreadable"' in r.stdout and "Traceback" not in r.stderr, r.stderr
    finally:
        db = connect(web.db_url)
        try:
            db.execute_sql("DELETE FROM audit_log WHERE detail LIKE '{\"filters\": {\"q\": \"kassa   '"
                           " AND event = 'export'")
        finally:
            db.close()


def test_the_users_page_says_scopes_languages_and_states_in_words(web, clients):
    """/admin/users showed the language codes, "*" and region and site ids for scopes, and
    nothing for an active user."""
    admin = clients["ada-admin"]
    db = connect(web.db_url)
    try:
        regions = dict(db.execute_sql("SELECT id, name FROM region").fetchall())
        (s003,), = db.execute_sql("SELECT name FROM site WHERE id = 's003'").fetchall()
    finally:
        db.close()
    users = re.sub(r' data-label="[^"]*"', "", admin.get("/admin/users").text)
    rows = dict(re.findall(r"<tr><td>([\w-]+)</td><td>[^<]*</td>(.*?)</tr>", users))
    assert rows["ada-admin"] == "<td>all</td><td>English</td><td>active</td>"
    assert rows["rolf-regional"] == f"<td>{html.escape(regions['north'])}</td><td>Norsk bokmål</td><td>active</td>"
    assert rows["sara-store"] == f"<td>{html.escape(s003)}</td><td>Svenska</td><td>active</td>"


def test_a_refused_kiosk_config_is_said_in_text_with_the_kiosks_message(web, clients):
    """It was a red "!" with the message in a `title`: no name for a screen reader, nothing a
    keyboard or a finger could reach."""
    message = "question visit: wording for language se refused"
    db = connect(web.db_url)
    try:
        (kiosk,), = db.execute_sql("SELECT id FROM kiosk WHERE site_id = 's003' ORDER BY id").fetchall()[:1]
        # The outbox moves too: the fleet's figures are cached until a kiosk's status does.
        db.execute_sql(f"UPDATE kiosk_status SET config_error = {db.param}, outbox_depth = outbox_depth + 1"
                       f" WHERE kiosk_id = {db.param}", (message, kiosk))
    finally:
        db.close()
    c = clients["sara-store"]                                  # sv, s003
    deadline = time.monotonic() + 15
    while "konfiguration avvisad" not in (page := html.unescape(c.get("/fleet").text)):
        assert time.monotonic() < deadline, "the fleet never showed the refused config"
        time.sleep(0.3)
    assert f'title="{message}"' not in page and ">!</span>" not in page
    assert re.search(r"<details[^>]*><summary>.*konfiguration avvisad.*</summary>\s*<p>Kioskens meddelande "
                     rf"\(på engelska\): <span lang=\"en\">{message}</span></p></details>", page)


def test_error_pages_keep_the_navigation_and_only_pages_with_figures_note_the_intervals(web, clients):
    """A signed-in person's error page had no navigation (nothing but "Overview" to go on); the
    footer's note on intervals was on the login and error pages; the login page's autofocus put
    the first Tab past the skip link that docs/web.md promises first."""
    c = clients["rolf-regional"]                               # nb
    note = "intervallene er 95"
    for path in ("/nope", "/alerts/999999", "/sites?from=tomorrow"):
        r = c.get(path)
        assert r.status_code in (400, 404), path
        assert '<nav aria-label="Hovedmeny">' in r.text and 'action="/logout"' in r.text, path
        assert note not in r.text, path
    assert note in c.get("/").text
    anonymous = httpx.get(f"{web.url}/login", params={"lang": "nb"})
    assert "autofocus" not in anonymous.text and note not in anonymous.text
    assert '<nav aria-label="Hovedmeny">' not in httpx.get(f"{web.url}/nope", params={"lang": "nb"}).text
