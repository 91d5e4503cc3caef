"""The warning before the idle limit ends a session (WCAG 2.2.1, Timing Adjustable), in a real
browser against a server whose limit is 15 s (`serve --idle-minutes 0.25`): it stands for the
30 minutes a person may spend writing a comment. The session used to end without a word, and
the comment sent after it was lost (the login page said so only afterwards)."""

from __future__ import annotations

import sqlite3
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from server_sync.central import db as central_db
from server_sync.web import render
from server_sync.web.app import WebSettings
from tests.web.conftest import Web
from tests.web.test_browser import chromium, item_ids, sign_in, signed_out  # noqa: F401 (chromium: a fixture)
from tests.web.world import WebServer, served_in_process

IDLE_MINUTES = 0.25


@pytest.fixture(scope="module")
def short_idle(chain_url, tmp_path_factory) -> Web:
    server = WebServer(chain_url, tmp_path_factory.mktemp("serve") / "serve.log", workers=1,
                       extra=("--idle-minutes", str(IDLE_MINUTES))).start()
    try:
        yield Web("sqlite", chain_url, server)
    finally:
        server.stop()



def _notice_shown(driver) -> bool:
    return driver.find_element(By.ID, "idle-notice").is_displayed()


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_the_idle_warning_lets_the_person_stay_signed_in_and_keeps_what_they_send(short_idle, chromium):
    driver = signed_out(chromium)
    sign_in(driver, short_idle.url, "rolf-regional")
    alert = item_ids(short_idle.db_url, "s001")["alert_id"]
    driver.get(f"{short_idle.url}/alerts/{alert}")
    assert int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-idle-seconds")) <= IDLE_MINUTES * 60
    box = driver.find_element(By.ID, "f-comment")
    box.send_keys("Talked to the manager about the queue at the tills.")
    assert not _notice_shown(driver)
    WebDriverWait(driver, IDLE_MINUTES * 60).until(_notice_shown)
    notice = driver.find_element(By.ID, "idle-notice")
    assert notice.get_attribute("role") == "alertdialog"
    assert driver.find_element(By.ID, notice.get_attribute("aria-labelledby")).text
    stay = driver.find_element(By.ID, "idle-stay")
    assert driver.switch_to.active_element == stay, "the focus goes to the notice's button"
    stay.click()
    WebDriverWait(driver, 5).until(lambda d: not _notice_shown(d))
    assert driver.switch_to.active_element == box, "the focus goes back where the person was"
    time.sleep(IDLE_MINUTES * 60 * 0.8)      # past the limit the page was loaded with
    driver.find_element(By.CSS_SELECTOR, "form[action$='/comment'] button").click()
    WebDriverWait(driver, 10).until(lambda d: "queue at the tills" in d.page_source or "/login" in d.current_url)
    assert "/login" not in driver.current_url, "the session ended although the person stayed"
    assert f"/alerts/{alert}" in driver.current_url


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_past_the_limit_the_notice_says_the_session_ended(short_idle, chromium):
    driver = signed_out(chromium)
    sign_in(driver, short_idle.url, "rolf-regional")
    driver.get(f"{short_idle.url}/alerts")
    notice = driver.find_element(By.ID, "idle-notice")
    WebDriverWait(driver, IDLE_MINUTES * 60 + 5).until(
        lambda d: d.find_element(By.ID, "idle-text").text == notice.get_attribute("data-ended"))
    assert _notice_shown(driver)


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_a_database_outage_when_staying_is_no_end_of_the_session(chain_url, chromium, monkeypatch):
    """"Stay signed in" pressed while the database cannot be written (another process holds the
    SQLite write lock; a PostgreSQL restart is the same): /session answers 503, and the notice
    said the person had been signed out, hiding its button, while the session went on (a
    review). Now it says the server did not answer and keeps the button; pressed again once the
    database is back, it keeps the session. (The app in this process: a busy timeout of 0.5 s.)"""
    monkeypatch.setitem(central_db.SQLITE_PRAGMAS, "busy_timeout", 500)
    path = chain_url.removeprefix("sqlite:///")
    with served_in_process(WebSettings(chain_url, idle_minutes=IDLE_MINUTES, cache_seconds=0, threads=4)) as base:
        driver = signed_out(chromium)
        sign_in(driver, base, "rolf-regional")
        driver.get(f"{base}/alerts")
        WebDriverWait(driver, IDLE_MINUTES * 60).until(_notice_shown)
        notice = driver.find_element(By.ID, "idle-notice")
        stay = driver.find_element(By.ID, "idle-stay")
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            stay.click()
            WebDriverWait(driver, 5).until(
                lambda d: d.find_element(By.ID, "idle-text").text == notice.get_attribute("data-retry"))
            assert _notice_shown(driver) and stay.is_displayed()
            assert driver.switch_to.active_element == stay
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        stay.click()
        WebDriverWait(driver, 5).until(lambda d: not _notice_shown(d))
        # hidden, its warning's words put back for the next time
        assert driver.execute_script("return document.getElementById('idle-text').textContent") == \
            render.text("idle_warning", "nb")
        driver.get(f"{base}/alerts")
        assert "/login" not in driver.current_url, "the session ended"


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_a_tab_left_alone_does_not_warn_while_the_person_works_in_another(short_idle, chromium):
    """One session for every tab: a page loaded in another tab moves its idle clock on, but a tab
    left alone counted from its own load, warned, then said the session had ended while the
    person worked on in the other tab (a review). Tabs now share when the session ends; once
    every tab is idle the warning comes."""
    driver = signed_out(chromium)
    sign_in(driver, short_idle.url, "rolf-regional")
    driver.get(f"{short_idle.url}/alerts")
    quiet = driver.current_window_handle
    loaded = time.monotonic()
    limit = IDLE_MINUTES * 60
    lead = min(120, limit / 3)
    time.sleep(limit - lead - 4)                    # 4 s before this tab would warn
    driver.switch_to.new_window("tab")
    driver.get(f"{short_idle.url}/sites")           # the person works on here: a request
    busy_loaded, busy = time.monotonic(), driver.current_window_handle
    driver.switch_to.window(quiet)
    time.sleep(max(0.0, loaded + limit + 1 - time.monotonic()))   # past the quiet tab's own end
    assert not _notice_shown(driver), "the quiet tab warned while the other was in use"
    # Both tabs idle now: the warning comes before the other tab's load's end, not after it.
    WebDriverWait(driver, busy_loaded + limit - time.monotonic()).until(_notice_shown)
    assert driver.find_element(By.ID, "idle-text").text != driver.find_element(
        By.ID, "idle-notice").get_attribute("data-ended")
    driver.switch_to.window(busy)
    driver.close()
    driver.switch_to.window(quiet)


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_stay_pressed_after_the_session_ended_elsewhere_says_it_ended(short_idle, chromium):
    """The server's answer to "Stay signed in" is the last word: the session ended meanwhile (here
    its cookie is gone, as after a sign-out or a sign-in in another window that this tab's shared
    clock did not hear of), /session sends the page to the login page, and the notice must say
    the session ended. It hid itself instead, taking the tabs' shared clock (still ahead: the
    warning comes before it) for another tab's activity, and warned again later (a review)."""
    driver = signed_out(chromium)
    sign_in(driver, short_idle.url, "rolf-regional")
    driver.get(f"{short_idle.url}/alerts")
    WebDriverWait(driver, IDLE_MINUTES * 60).until(_notice_shown)
    notice = driver.find_element(By.ID, "idle-notice")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.find_element(By.ID, "idle-stay").click()
    # at once, from the server's answer: the page's own end is still lead seconds away (5 s)
    WebDriverWait(driver, 2.5).until(
        lambda d: d.find_element(By.ID, "idle-text").text == notice.get_attribute("data-ended"))
    assert _notice_shown(driver) and not driver.find_element(By.ID, "idle-stay").is_displayed()
