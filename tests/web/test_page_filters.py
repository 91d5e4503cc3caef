"""The analysis pages keep what a person chose, against the real server process on SQLite and
PostgreSQL: a filter form shows the filters the page was asked for (so that pressing "Visa" again
keeps them), its choices are every one the person may pick, and a link from one page to another
carries the period and question it was read for.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import httpx
import pytest

from server_sync.central.db import connect
from tests.web.conftest import ENGINES
from tests.web.world import kiosk_central, login

pytestmark = pytest.mark.parametrize("chain_url", ENGINES, indirect=True, scope="module")


@pytest.fixture(scope="module")
def clients(web):
    """Signed in once for the module: sara-store (sv, s003), rolf-regional (nb, north: s001, s002)
    and ada-admin (en, the chain)."""
    return {name: login(web.url, name) for name in ("sara-store", "rolf-regional", "ada-admin")}


def form_of(page: str, action: str) -> str:
    m = re.search(rf'<form method="get" action="{re.escape(action)}".*?</form>', page, re.S)
    assert m, f"no filter form for {action}"
    return m.group(0)


def submitted(form: str) -> dict[str, str]:
    """What a browser sends when the form is submitted as shown: each input's value, each select's
    selected option (the first, "all", when none is)."""
    fields = {m.group(1): html.unescape(m.group(2))
              for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)}
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', m.group(2))
        fields[m.group(1)] = html.unescape(chosen.group(1)) if chosen else ""
    return fields


def options(form: str, name: str) -> list[str]:
    """The values a select of the form offers, "all" ("") left out."""
    m = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', form, re.S)
    assert m, f"no select {name}"
    return [v for v in re.findall(r'<option value="([^"]*)"', m.group(1)) if v]


def test_the_comments_page_keeps_the_score_chosen_when_the_form_is_sent_again(web, clients):
    """/comments?question=visit&score=1 showed "Alla betyg" chosen (the macro compared the number
    1 with the text "1"): pressing "Visa" again sent score= and listed every score."""
    c = clients["sara-store"]
    form = form_of(c.get("/comments", params={"question": "visit", "score": "1"}).text, "/comments")
    fields = submitted(form)
    assert fields["score"] == "1" and fields["question"] == "visit", fields
    again = c.get("/comments", params={**{k: v for k, v in fields.items() if v}, "reason": "queue",
                                       "format": "json"}).json()
    assert again["filters"]["score"] == 1
    assert again["comments"] and {x["value"] for x in again["comments"]} == {1}


def test_the_overview_names_a_store_without_answers_in_the_period_in_its_alerts_and_actions(web, clients):
    """Asked for a period without answers, the overview named the store of its open alert, and of
    its overdue alert and action, by id ("#3 · s003"): the names came from the period's report."""
    db = connect(web.db_url)
    try:
        name = db.execute_sql("SELECT name FROM site WHERE id = 's003'").fetchone()[0]
        with db.atomic():
            for table in ("alert", "action"):
                db.execute_sql(f"UPDATE {table} SET due_date = '2026-01-05' WHERE site_id = 's003'")
    finally:
        db.close()
    page = clients["sara-store"].get("/", params={"from": "2025-01-01", "to": "2025-01-31"}).text
    lines = re.findall(r"<li>(.*?)</li>", section(page, "open-alerts") + section(page, "overdue"), re.S)
    assert len(lines) == 3, lines                   # the open alert, the overdue alert and action
    for line in lines:
        assert name in line and not re.search(r"(>|· )s003\b", line), line


def site_ids(web) -> list[str]:
    """Every site of the module's chain (a test may add one)."""
    db = connect(web.db_url)
    try:
        return sorted(r[0] for r in db.execute_sql("SELECT id FROM site"))
    finally:
        db.close()


def section(page: str, id_: str) -> str:
    m = re.search(rf'<section id="{id_}".*?</section>', page, re.S)
    assert m, f"no section {id_}"
    return m.group(0)


@pytest.mark.parametrize("path", ["/alerts", "/actions"])
def test_the_alerts_and_actions_filtered_to_a_store_offer_every_store_to_choose(web, clients, path):
    """/alerts?site=s001 offered s001 alone in its store list (the choices were the sites listed):
    choosing another store meant "Alla butiker" first."""
    form = form_of(clients["rolf-regional"].get(path, params={"site": "s001"}).text, path)
    assert sorted(options(form, "site")) == ["s001", "s002"]
    assert submitted(form)["site"] == "s001"
    form = form_of(clients["ada-admin"].get(path, params={"site": "s004"}).text, path)
    assert sorted(options(form, "site")) == site_ids(web)


def test_the_site_pages_recent_comments_are_of_its_period_and_question(web, clients):
    """/sites/s001?from=…&to=…&question=… listed the store's newest comments of any day and
    question, and its "all comments" link dropped the period and question."""
    c = clients["ada-admin"]
    first, last = (date.today() - timedelta(days=20)).isoformat(), (date.today() - timedelta(days=10)).isoformat()
    asked = {"from": first, "to": last, "question": "visit"}
    recent = c.get("/sites/s001", params={**asked, "format": "json"}).json()["comments"]
    listed = c.get("/comments", params={"site": "s001", **asked, "format": "json"}).json()["comments"]
    assert recent and [x["id"] for x in recent] == [x["id"] for x in listed[:len(recent)]]
    assert all(x["question_id"] == "visit" and first <= x["local_time"][:10] <= last for x in recent), recent
    page = html.unescape(section(c.get("/sites/s001", params=asked).text, "recent-comments"))
    assert f'href="/comments?site=s001&from={first}&to={last}&question=visit"' in page, page[-500:]
    # Without a period, the newest of all, and the link to every comment of the store.
    page = html.unescape(section(c.get("/sites/s001").text, "recent-comments"))
    assert 'href="/comments?site=s001"' in page


@pytest.mark.parametrize("path", ["/sites", "/", "/comments"])
def test_a_store_link_keeps_the_period_and_question_the_page_was_read_for(web, clients, path):
    """The ranking's, the overview's and the comments' links to a store were plain /sites/s001:
    the store's page opened on its default period and every question."""
    c = clients["rolf-regional"]
    first, last = (date.today() - timedelta(days=20)).isoformat(), (date.today() - timedelta(days=10)).isoformat()
    asked = {"from": first, "to": last, "question": "visit"}
    page = c.get(path, params=asked).text
    links = set(html.unescape(h) for h in re.findall(r'href="(/sites/s0[^"]*)"', page))
    assert links and links <= {f"/sites/{s}?from={first}&to={last}&question=visit" for s in ("s001", "s002")}, links
    store = c.get(sorted(links)[0] + "&format=json").json()
    assert (store["period"]["from"], store["period"]["to"]) == (first, last)
    # Only what the page was asked for: a region is the ranking's own, not the store page's.
    page = c.get(path, params={"from": first, **({"region": "north"} if path == "/sites" else {})}).text
    links = set(html.unescape(h) for h in re.findall(r'href="(/sites/s0[^"]*)"', page))
    assert links and links <= {f"/sites/{s}?from={first}" for s in ("s001", "s002")}, links


# What a comments filter naming an employee question or reason says, in sv, nb and en.
EMPLOYEE_REFUSED = {
    "sv": "'{name}': kommentarer på en fråga till medarbetare visas inte (var och en skulle visa en kollegas svar)"
          ": '{value}'",
    "nb": "'{name}': kommentarer på et spørsmål til medarbeidere vises ikke (hver av dem ville vise svaret til én"
          " kollega): '{value}'",
    "en": "'{name}': comments on a question to employees are not listed (each would show one colleague's answer)"
          ": '{value}'",
}
LABELS = {"question": {"sv": "Fråga", "nb": "Spørsmål", "en": "Question"},
          "reason": {"sv": "Skäl", "nb": "Årsak", "en": "Reason"}}


def test_the_comments_page_offers_no_employee_question_or_reason_and_says_why_when_named(web, clients):
    """/comments offered the employee pulse and its reasons (workload, …), then said "Inga
    kommentarer": an employee question's comments are never listed (docs/privacy.md)."""
    for name, lang in (("sara-store", "sv"), ("rolf-regional", "nb"), ("ada-admin", "en")):
        c = clients[name]
        form = form_of(c.get("/comments").text, "/comments")
        assert "pulse" not in options(form, "question") and "visit" in options(form, "question")
        assert sorted(options(form, "reason")) == sorted(
            ["queue", "staff", "availability", "price", "cleanliness", "checkout", "other"])
        for field, value in (("question", "pulse"), ("reason", "workload")):
            r = c.get("/comments", params={field: value})
            assert r.status_code == 400, (name, field, r.status_code)
            said = EMPLOYEE_REFUSED[lang].format(name=LABELS[field][lang], value=value)
            assert said in html.unescape(r.text), html.unescape(r.text)[-800:]
    token = kiosk_central(web.db_url, "user", "token", "ada-admin", "--label", "page-filters").stdout.strip()
    r = httpx.get(web.url + "/api/v1/comments", params={"question": "pulse"},
                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and r.json() == {"error": EMPLOYEE_REFUSED["en"].format(name="Question",
                                                                                         value="pulse")}


# A section without anything to draw says why, in the reader's language: the summary's words for a
# period without answers, or that the weekday × hour chart is the customer questions'.
NOTHING = {"sv": "Inga svar i perioden", "nb": "Ingen svar i perioden", "en": "No answers in the period"}
CUSTOMERS_ONLY = {"sv": "Visas bara för kundfrågorna.", "nb": "Vises bare for kundespørsmålene.",
                  "en": "Shown for the customer questions only."}


def test_a_trend_or_heatmap_with_nothing_to_draw_says_why_not_a_bare_heading(web, clients):
    """A new store without answers (/sites/s005) showed the "Trend" heading and the weekday × hour
    caption with nothing under them, and so did the HTML report; with question=pulse the heatmap
    (drawn for customer questions only) did."""
    assert kiosk_central(web.db_url, "site", "add", "s005", "--name", "Nybutik").returncode == 0
    for name, lang in (("ada-admin", "en"), ("rolf-regional", "nb")):
        c = clients[name]
        for asked, store in (({"format": "report"}, "s005"), ({}, "s005"),
                             ({"question": "pulse"}, "s001"), ({"question": "pulse", "format": "report"}, "s001")):
            if store == "s005" and name == "rolf-regional":
                continue                                    # not in his region
            page = c.get(f"/sites/{store}", params=asked)
            assert page.status_code == 200, (name, store, asked, page.text[-500:])
            for id_, said in (("trends", NOTHING), ("heatmap", CUSTOMERS_ONLY if store == "s001" else NOTHING)):
                if id_ == "trends" and store == "s001":
                    continue                                # the pulse has a trend
                part = html.unescape(section(page.text, id_))
                assert f'<p class="note">{said[lang]}</p>' in part, (name, store, asked, part)
                assert "<h3>" not in part and "Local time" not in part and "Lokal tid" not in part, part
