"""What the web app answers when a request is wrong, against the real server process on SQLite
and PostgreSQL: a bad day in any page's from/to is a 400 in the person's language that names the
field by its label (never a 500, never the command line's `--from`).
"""

from __future__ import annotations

import html

import httpx
import pytest
from starlette.routing import Route

from server_sync.web.app import route_table
from tests.web.conftest import ENGINES
from tests.web.world import PEOPLE, kiosk_central, login

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
ONE_OF_EACH_LANGUAGE = ("ada-admin", "ana-analyst", "rolf-regional")      # en, sv, nb


@pytest.fixture(scope="module")
def clients(web):
    return {name: login(web.url, name) for name in ONE_OF_EACH_LANGUAGE}


@pytest.fixture(scope="module")
def api(web) -> httpx.Client:
    r = kiosk_central(web.db_url, "user", "token", "ada-admin", "--label", "errors")
    assert r.returncode == 0, r.stderr
    return httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {r.stdout.strip()}"}, timeout=30)


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

