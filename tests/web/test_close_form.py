"""The alert's close form as a person fills it (WCAG 3.3.2 Labels or Instructions, 3.3.3 Error
Suggestion): the field the chosen outcome needs is marked required, so the browser says what is
missing before sending; the duplicate's id says what it takes, and "#12", as alerts are written
everywhere ("Alert #12"), is read as 12 (it was refused as "not a number")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from server_sync.analysis import alerts as alert_store
from server_sync.central.db import connect
from tests.web.test_browser import chromium, sign_in, signed_out  # noqa: F401 (chromium: a fixture)
from tests.web.world import csrf_of, login

pytestmark = pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def two_alerts(web) -> tuple[int, int]:
    """Two open alerts at s001: one to close as a duplicate of the other."""
    db = connect(web.db_url)
    try:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        ids = [alert_store.raise_or_extend(db, {
            "site_id": "s001", "question_id": question, "kind": "realtime", "window_from": now - timedelta(days=2),
            "window_to": now, "n": 41, "negative": 30, "value": 25.0, "baseline": 77.3, "p_value": 2e-06,
            "message": "dip", "detail": None}, now, cooldown_min=0)["id"] for question in ("visit", "staff")]
        return ids[0], ids[1]
    finally:
        db.close()


def test_a_duplicates_id_may_be_written_with_its_hash(web, two_alerts):
    first, second = two_alerts
    c = login(web.url, "rolf-regional")
    try:
        token = csrf_of(c.get(f"/alerts/{second}").text)
        r = c.post(f"/alerts/{second}/close", data={"csrf_token": token, "outcome": "duplicate",
                                                    "duplicate_of": f" #{first}"})
        assert r.status_code == 303, r.text[:400]
    finally:
        c.close()
    db = connect(web.db_url)
    try:
        row = db.execute_sql("SELECT state, duplicate_of FROM alert WHERE id = ?", (second,)).fetchone()
    finally:
        db.close()
    assert (row[0], int(row[1])) == ("closed", first)



def test_the_chosen_outcomes_field_is_required_and_the_id_says_what_it_takes(web, two_alerts, chromium):
    driver = signed_out(chromium)
    sign_in(driver, web.url, "rolf-regional")
    driver.get(f"{web.url}/alerts/{two_alerts[0]}")
    outcome = Select(driver.find_element(By.ID, "f-outcome"))
    required = "return [document.getElementById('f-reason').required, document.getElementById('f-duplicate').required]"
    for choice, wanted in (("none", [True, False]), ("duplicate", [False, True]), ("action", [False, False])):
        outcome.select_by_value(choice)
        assert driver.execute_script(required) == wanted, choice
    outcome.select_by_value("duplicate")
    duplicate = driver.find_element(By.ID, "f-duplicate")
    hint = driver.find_element(By.ID, duplicate.get_attribute("aria-describedby").split()[0])
    assert "12" in hint.text and duplicate.get_attribute("title") == hint.text
    duplicate.send_keys("#12")
    assert driver.execute_script("return document.getElementById('f-duplicate').validity.valid")
    outcome.select_by_value("none")
    driver.find_element(By.ID, "close").click()          # the browser stops it: the reason is empty
    assert driver.execute_script("return document.getElementById('f-reason').validity.valueMissing")
    assert driver.current_url.endswith(f"/alerts/{two_alerts[0]}")
