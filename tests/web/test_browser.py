"""The web app in a real browser (Debian's chromium through chromium-driver and Selenium, headless),
against the real server on SQLite and PostgreSQL: each role signs in through the login form and
visits every page of the route table it may see, at 1280 px and at 390 px (a phone), with:

- no console errors (the browser's own log: CSP violations, script errors, failed loads);
- no horizontal scroll on the phones (390 px, and 320 px: WCAG 1.4.10's reflow width);
- no date, time with its zone or p statement split over two lines (UNBROKEN);
- every form control labelled, text contrast at least WCAG AA (the SVG charts' text too, on the
  shape under it), a skip link first in tab order;
- a live update keeps the keyboard focus where it was, and the aria-live "today" node;
- injected markup in comments inert (no script ran);
- a screenshot of every page per role and width in tests/artifacts/web/<engine>/<role>/.
One browser for the module (starting one is ~2 s), signed out between tests (its cookies
cleared), so each role signs in through the form and walks its pages in it. Each role walks on
one engine, two roles on each (the pages are the same templates over either; what each engine
returns to every role on every route is tests/web/test_security.py's walk, on both): the walks
were a sixth of the suite's time.
"""

from __future__ import annotations

import base64
import re
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from starlette.routing import Route

from server_sync.report.svg import contrast
from server_sync.web.app import route_table
from tests.web.conftest import ENGINES
from tests.web.world import PASSWORD, PEOPLE, ROOT


ARTIFACTS = ROOT / "tests" / "artifacts" / "web"
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WIDTHS = (1280, 390, 320)
PHONE = 600                  # narrower than this a page must not scroll sideways
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,900", "--lang=en")

# Contrast (WCAG 2.x relative luminance) of every visible text element against the first opaque
# background behind it; returns those below AA (4.5:1, or 3:1 for large text).
CONTRAST_JS = r"""
function rgba(s){var m=s.match(/rgba?\(([^)]+)\)/); if(!m) return [255,255,255,1];
  var p=m[1].split(',').map(parseFloat); return [p[0],p[1],p[2],p.length>3?p[3]:1];}
function lum(c){var a=c.slice(0,3).map(function(v){v/=255;return v<=0.03928?v/12.92:Math.pow((v+0.055)/1.055,2.4);});
  return 0.2126*a[0]+0.7152*a[1]+0.0722*a[2];}
function bg(el){for(var e=el;e;e=e.parentElement){var c=rgba(getComputedStyle(e).backgroundColor); if(c[3]>0.5) return c;}
  return [255,255,255,1];}
function ratio(f,b){var L1=lum(f), L2=lum(b); return (Math.max(L1,L2)+0.05)/(Math.min(L1,L2)+0.05);}
// An SVG text's background: the first opaque filled shape of its chart under its middle, else
// what is behind the chart. Chart text is held to 4.5:1 whatever its size. elementsFromPoint
// sees only the viewport: a text outside it is scrolled to first (else a white label on a red
// heatmap cell below the fold read as white on the page).
function svgBg(el){var r=el.getBoundingClientRect(), svg=el.closest('svg');
  if(r.top<0||r.left<0||r.bottom>window.innerHeight||r.right>window.innerWidth){
    el.scrollIntoView({block:'center',inline:'center'}); r=el.getBoundingClientRect();}
  var under=document.elementsFromPoint(r.left+r.width/2, r.top+r.height/2);
  for(var i=0;i<under.length;i++){var e=under[i];
    if(e===el||!svg.contains(e)||e.tagName==='text'||e.tagName==='svg') continue;
    var st=getComputedStyle(e), c=rgba(st.fill);
    if(st.fill.indexOf('rgb')===0&&parseFloat(st.opacity)>=0.99&&parseFloat(st.fillOpacity)>=0.99) return c;}
  return bg(svg);}
var bad=[];
document.querySelectorAll('svg text').forEach(function(el){
  if(!el.textContent.trim()||!el.getClientRects().length) return;
  var r=el.getBoundingClientRect();
  if(r.right+window.scrollX<0||r.bottom+window.scrollY<0||r.width===0) return;      // off the page
  var q=ratio(rgba(getComputedStyle(el).fill), svgBg(el));
  if(q<4.5) bad.push(['svg text', el.textContent.trim().slice(0,40), q.toFixed(2), getComputedStyle(el).fill]);
});
window.scrollTo(0, 0);
document.querySelectorAll('body *').forEach(function(el){
  if(el.closest('svg')) return;
  var own=Array.prototype.some.call(el.childNodes,function(n){return n.nodeType===3&&n.textContent.trim();});
  if(!own||!el.getClientRects().length) return;
  var st=getComputedStyle(el); if(st.visibility==='hidden') return;
  var r=el.getBoundingClientRect(); if(r.right<0||r.bottom<0) return;
  var q=ratio(rgba(st.color), bg(el));
  var size=parseFloat(st.fontSize), large=size>=24||(size>=18.66&&parseInt(st.fontWeight)>=700);
  if(q<(large?3:4.5)) bad.push([el.tagName, el.textContent.trim().slice(0,40), q.toFixed(2), st.color]);
});
return bad;
"""

# The key columns of a page's tables on a phone (tables.stacked in report.css): for every table
# column whose header is one of arguments[0] (exactly, or followed by " " or "("), each non-empty
# body cell must lie inside the viewport (getBoundingClientRect) and say what it is: its header in
# view, or its data-label drawn by the cell's ::before. Returns [cells checked, problems].
PHONE_COLUMNS_JS = r"""
var want=arguments[0], bad=[], seen=0, W=document.documentElement.clientWidth;
function inside(r){return r.width>0&&r.height>0&&r.left>=0&&r.right<=W+0.5;}
document.querySelectorAll('table').forEach(function(t){
  var head=t.tHead?t.tHead.rows[0]:t.rows[0]; if(!head||!t.getClientRects().length) return;
  [].forEach.call(head.cells,function(th,i){
    var name=th.textContent.trim();
    if(!want.some(function(w){return name===w||name.indexOf(w+' ')===0||name.indexOf(w+'(')===0;})) return;
    var headShown=inside(th.getBoundingClientRect())&&th.getBoundingClientRect().width>2;
    [].forEach.call(t.tBodies.length?t.tBodies[0].rows:[].slice.call(t.rows,1),function(tr){
      var td=tr.cells[i]; if(!td||!td.textContent.trim()) return; seen++;
      var label=getComputedStyle(td,'::before').content;
      var labelled=headShown||(td.dataset.label&&label.indexOf(td.dataset.label)>=0);
      if(!inside(td.getBoundingClientRect())||!labelled)
        bad.push([(t.closest('section')||{}).id||'', name, td.textContent.trim().slice(0,30),
                  Math.round(td.getBoundingClientRect().right), W, labelled]);});});});
return [seen, bad.slice(0,20)];
"""


def key_columns_on_a_phone(driver, headers: list[str]) -> tuple[int, list]:
    """PHONE_COLUMNS_JS on the page open in `driver`: (cells checked, cells hidden or unnamed)."""
    seen, bad = driver.execute_script(PHONE_COLUMNS_JS, headers)
    return seen, bad


# Tables on a desktop screen that need a sideways scroll to be read (the alerts' text kept on one
# line pushed the owner and due date off the page at 1280 px).
WIDE_TABLES_JS = r"""
return Array.prototype.filter.call(document.querySelectorAll('.scroll > table'), function(t){
  return t.scrollWidth > t.parentElement.clientWidth + 1;
}).map(function(t){
  var s = t.closest('section'); var h = t.querySelector('thead');
  return (s ? s.id : '') + ' ' + t.scrollWidth + ' > ' + t.parentElement.clientWidth + ' ' + (h ? h.textContent.slice(0, 60) : '');
});
"""


# Chart text as drawn: an SVG chart shrinks to its box, its labels with it (laid out 480 wide, a
# ranking's labels read 8 px on a 390 px phone). Each text's size in px: its font size times
# the chart's scale; what is under `least` is listed (a chart that keeps its width scrolls).
SMALL_CHART_TEXT_JS = r"""
var least = arguments[0], out = [];
document.querySelectorAll('svg.chart').forEach(function(svg){
  var vb = svg.viewBox.baseVal, box = svg.getBoundingClientRect();
  if (!vb || !vb.width || !box.width) return;
  var scale = box.width / vb.width, worst = null;
  svg.querySelectorAll('text').forEach(function(t){
    var px = parseFloat(getComputedStyle(t).fontSize) * scale;
    if (px < least && (worst === null || px < worst[0])) worst = [px, t.textContent.slice(0, 30)];
  });
  if (worst) out.push(svg.getAttribute('data-chart') + ': ' + worst[0].toFixed(1) + ' px "' + worst[1] + '"');
});
return out;
"""
LEGIBLE_PX = 10             # chart text at least this on a 390 px phone and wider


# Text a line break must not split, each match measured as drawn in its text node: on more than one
# line it is split. A review of the screenshots found "2026-10-" over "23" in an action's
# before/after row, "2026-11-09–2026-11-" over "15" in a week's card, "p-" over "värde", "p" over
# "< 0,001", and a site's time with its zone "CET" alone on the next line.
UNBROKEN = (r"\d{4}-\d{2}-\d{2}", r"\d{1,2}:\d{2}[ \u00a0][A-Z]{2,5}\b", r"\bp[ \u00a0]?[<=][ \u00a0]?[\d.,]+",
            r"\bp[-\u2011]\w+")
SPLIT_JS = r"""
var re = new RegExp(arguments[0].join('|'), 'g'), out = [];
var roots = document.querySelectorAll(arguments[1]);
for (var k = 0; k < roots.length; k++) {
var walk = document.createTreeWalker(roots[k], NodeFilter.SHOW_TEXT);
for (var n = walk.nextNode(); n; n = walk.nextNode()) {
  var el = n.parentElement;
  if (!el || el.closest('svg,script,style,title') || !el.getClientRects().length) continue;
  re.lastIndex = 0;
  for (var m = re.exec(n.data); m; m = re.exec(n.data)) {
    var r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
    var lines = {};
    [].forEach.call(r.getClientRects(), function(b){ if (b.width > 0) lines[Math.round(b.bottom)] = 1; });
    if (Object.keys(lines).length > 1) out.push('"' + m[0] + '" in "' + n.data.trim().slice(0, 70) + '"');
  }
}}
return out;
"""


def split_across_lines(driver, within: str = "body") -> list[str]:
    """The matches of UNBROKEN in the elements `within` (a CSS selector) of the page open in
    `driver` that a line break splits."""
    return driver.execute_script(SPLIT_JS, list(UNBROKEN), within)


UNLABELLED_JS = r"""
return Array.prototype.filter.call(document.querySelectorAll('input,select,textarea'), function(el){
  return el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
         && !el.getAttribute('aria-labelledby');
}).map(function(el){return el.outerHTML.slice(0,80);});
"""


# Every browser's profile lives under one directory that goes when the test process ends.
PROFILES = tempfile.TemporaryDirectory(prefix="kundpuls-chromium-")


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=PROFILES.name)}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


@pytest.fixture(scope="module")
def chromium() -> webdriver.Chrome:
    driver = browser()
    try:
        yield driver
    finally:
        driver.quit()


def signed_out(driver: webdriver.Chrome) -> webdriver.Chrome:
    """The module's browser as a new one starts: no cookies (no session of an earlier test), an
    empty page of the usual size, nothing in its console log."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get("about:blank")
    driver.set_window_size(1280, 900)
    driver.get_log("browser")
    return driver


def item_ids(db_url: str, site: str) -> dict[str, int]:
    """The ids of the alert and the action world.py plants at `site`, for the item pages."""
    from server_sync.central.db import connect
    db = connect(db_url)
    try:
        return {param: int(db.execute_sql(f"SELECT MIN(id) FROM {table} WHERE site_id = {db.param}", (site,))
                           .fetchone()[0]) for param, table in (("alert_id", "alert"), ("action_id", "action"))}
    finally:
        db.close()


def pages_for(role: str, visible: tuple[str, ...], ids: dict[str, int] | None = None) -> list[tuple[str, str]]:
    """(name, path) of every page of the route table this role may open (`ids`: the alert and
    action of its last visible site)."""
    out = []
    for route in route_table():
        if not isinstance(route, Route) or "GET" not in (route.methods or ()) or route.path == "/live":
            continue
        access = getattr(route.endpoint, "access", None)
        if access == "user" or (access == "admin" and role == "admin"):
            path = re.sub(r"{site_id(?::\w+)?}", visible[-1], route.path)
            for param, value in (ids or {}).items():
                path = re.sub(r"{%s(?::\w+)?}" % param, str(value), path)
            out.append((route.name, path))
    return out


def sign_in(driver, base: str, name: str) -> None:
    driver.get(base + "/login")
    driver.find_element(By.ID, "login-name").send_keys(name)
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    try:    # a click does not always wait for the navigation it starts
        WebDriverWait(driver, 15).until(lambda d: d.current_url.rstrip("/") == base)
    except TimeoutException:
        raise AssertionError(f"{name} not signed in: {driver.current_url}\n"
                             f"{driver.find_element(By.TAG_NAME, 'main').text}") from None


def screenshot(driver, path: Path, width: int) -> None:
    # The contrast check scrolls what it measures into view, a wide heatmap's box sideways with it:
    # the screenshot showed its weekdays cut off, which a person opening the page never sees.
    driver.execute_script("document.querySelectorAll('.scroll').forEach(function(b){b.scrollLeft=0;});")
    # The whole page through the DevTools' capture beyond the viewport: resizing the window to the
    # page's height and back (as before) took 40 % of the browser walk's time.
    # The window's width, not the document's client width: the capture beyond the viewport lays
    # the page out without its scrollbar, and a tall page's shot lost its right 15 px (a review).
    inner, height = driver.execute_script("return [window.innerWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True,
        "clip": {"x": 0, "y": 0, "width": inner, "height": min(max(height, 700), 7000), "scale": 1}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


# The engine each role's walk runs on: the widest scopes (admin pages, a region) on PostgreSQL.
WALK_ENGINE = {"ana-analyst": "sqlite", "sara-store": "sqlite", "ada-admin": "postgresql",
               "rolf-regional": "postgresql"}
assert set(WALK_ENGINE) == set(PEOPLE)
WALKS = [pytest.param(engine, name, marks=[pytest.mark.postgres] if engine == "postgresql" else [])
         for name, engine in WALK_ENGINE.items()]


@pytest.mark.parametrize(("chain_url", "name"), WALKS, indirect=["chain_url"], scope="module")
def test_every_page_as_every_role_at_desktop_and_phone(web, chromium, name):
    role, _scope, visible, _lang = PEOPLE[name]
    driver = signed_out(chromium)
    problems: list[str] = []
    sign_in(driver, web.url, name)
    driver.get_log("browser")                                   # only what the pages say from here
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        for page, path in pages_for(role, visible, item_ids(web.db_url, visible[-1])):
            driver.get(web.url + path)
            where = f"{role} {path} @{width}"
            assert "/login" not in driver.current_url, where
            if width < PHONE:
                scroll, inner = driver.execute_script(
                    "return [document.documentElement.scrollWidth, window.innerWidth]")
                if scroll > inner:
                    problems.append(f"{where}: scrolls sideways ({scroll} > {inner} px)")
            driver.execute_script("document.querySelectorAll('details').forEach(function(d){d.open=true;})")
            if width >= PHONE:
                problems += [f"{where}: a table wider than its box: {t}" for t in driver.execute_script(WIDE_TABLES_JS)]
            if width >= 390:
                problems += [f"{where}: chart text too small: {c}"
                             for c in driver.execute_script(SMALL_CHART_TEXT_JS, LEGIBLE_PX)]
            problems += [f"{where}: split across lines: {c}" for c in split_across_lines(driver)]
            problems += [f"{where}: unlabelled {c}" for c in driver.execute_script(UNLABELLED_JS)]
            problems += [f"{where}: contrast {c}" for c in driver.execute_script(CONTRAST_JS)]
            if driver.execute_script("return window.__pwned"):
                problems.append(f"{where}: injected script ran")
            for entry in driver.get_log("browser"):
                if entry["level"] in ("SEVERE", "ERROR"):
                    problems.append(f"{where}: console: {entry['message']}")
            screenshot(driver, ARTIFACTS / web.engine / role / f"{page}-{width}.png", width)
    # Keyboard: the first Tab reaches the skip link, which takes the focus to the page.
    driver.set_window_size(1280, 900)
    driver.get(web.url + "/")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("class") == "skip"
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    assert driver.execute_script("return location.hash") == "#main"
    assert problems == []


@pytest.mark.parametrize("chain_url", ENGINES, indirect=True, scope="module")
def test_the_comments_page_shows_scrubbed_data_as_removed(web, chromium):
    driver = signed_out(chromium)
    sign_in(driver, web.url, "ana-analyst")
    driver.get(web.url + "/comments?q=%5Bphone%5D")              # the mark itself, searched for
    badges = driver.find_elements(By.CSS_SELECTOR, "blockquote .scrubbed")
    assert badges and all(b.text == "telefonnummer borttaget" for b in badges)
    assert "[phone]" not in driver.find_element(By.CSS_SELECTOR, "ul.comments").text
    screenshot(driver, ARTIFACTS / web.engine / "scrubbed-comments-1280.png", 1280)


# Before a live update: the focused link's text and the "today" count are made to differ from the
# server's page (so the update has something to change around and in them), the "today" node is
# remembered, and in the second round a sibling of the focused link's row is removed (so the
# rows are replaced and the link's counterpart must take the focus).
PREPARE_JS = r"""
var link=document.querySelector(arguments[0]); link.focus(); link.textContent='stale';
var today=document.getElementById('today'); window.__today=today;
var big=today && today.querySelector('.bignum'); if(big){big.textContent='-1';}
if(arguments[1]){var row=link.closest('li,tr'), other=row && (row.nextElementSibling||row.previousElementSibling);
  if(other){other.remove();}}
return [link.getAttribute('href'), document.body.getAttribute('data-live-updated')];
"""
AFTER_JS = r"""
var a=document.activeElement, today=document.getElementById('today');
return [a.tagName, a.getAttribute('href'), a.textContent.trim() !== 'stale', !!today && today===window.__today,
        today ? today.querySelector('.bignum').textContent : null];
"""


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_a_live_update_keeps_the_focus_and_the_live_region(web, chromium):
    """Every kiosk's answers refresh the live parts of a page; they held most of its links, and a
    keyboard or screen-reader user was thrown to <body> each time, and "today" was a new node."""
    from server_sync.central.db import connect
    from server_sync.web import marks
    driver = signed_out(chromium)
    sign_in(driver, web.url, "ana-analyst")
    cases = [("/", "#open-alerts li a[href^='/alerts/']", False), ("/", "#open-alerts li a[href^='/alerts/']", True),
             ("/sites/s001", "#recent-comments a", False), ("/sites", "[data-live] a[href^='/sites/']", False),
             ("/fleet", "[data-live] a", False)]
    checked = []
    for path, selector, reshaped in cases:
        driver.get(web.url + path)
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "live-state").text
                                        == d.find_element(By.ID, "live-state").get_attribute("data-on"))
        if not driver.find_elements(By.CSS_SELECTOR, selector):
            continue                                        # nothing of that kind on the page
        href, stamp = driver.execute_script(PREPARE_JS, selector, reshaped)
        db = connect(web.db_url)
        try:
            marks.bump(db, {"s001"}, datetime.now(timezone.utc))
        finally:
            db.close()
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live-updated") not in (None, stamp))
        tag, focused, fresh, same_today, count = driver.execute_script(AFTER_JS)
        where = f"{path} {selector}{' (rows replaced)' if reshaped else ''}"
        assert (tag, focused) == ("A", href), f"{where}: focus went to {tag} {focused}"
        assert fresh, f"{where}: the focused link was not updated"
        if path == "/":
            assert same_today and count != "-1", f"{where}: 'today' replaced ({same_today}) or not updated ({count})"
        checked.append(where)
    assert len(checked) == len(cases), checked


FOCUS_RING = re.compile(r"([^{}]*):focus-visible\{([^}]*)\}")


def _colour(text: str) -> str:
    """The first "#rgb" or "#rrggbb" in a declaration, as "#rrggbb"."""
    hex_ = re.search(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", text).group(1).lower()
    return "#" + (hex_ if len(hex_) == 6 else "".join(c * 2 for c in hex_))


def test_the_focus_ring_reads_at_3_to_1_on_every_background_it_is_drawn_on():
    """WCAG 1.4.11: the ring (#f59e0b was 2.15:1 on white) against the page, the cards and
    sections, and, inside the header, the header's blue; read from the stylesheets themselves."""
    static = ROOT / "server_sync" / "web" / "static" / "app.css"
    report = ROOT / "server_sync" / "report" / "templates" / "report" / "report.css"
    app_css, report_css = (re.sub(r"/\*.*?\*/", "", f.read_text(), flags=re.S) for f in (static, report))
    rules = {selector.strip(): body for selector, body in FOCUS_RING.findall(app_css)}
    ring = _colour(rules[""])
    page = _colour(re.search(r"(?m)^body\{[^}]*background:([^;}]+)", report_css).group(1))
    card = _colour(re.search(r"(?m)^section\{[^}]*background:([^;}]+)", report_css).group(1))
    header = _colour(re.search(r"(?m)^header\{[^}]*background:([^;}]+)", report_css).group(1))
    assert contrast(ring, page) >= 3 and contrast(ring, card) >= 3 and contrast(ring, "#ffffff") >= 3, ring
    header_ring = _colour(rules["header.top"]) if "header.top" in rules else ring
    assert contrast(header_ring, header) >= 3, header_ring


# The pages whose tables hold the figures a reader came for, and those tables' key columns.
KEY_COLUMNS = {"/actions": ("note", "verdict", "effect", "interval_at"), "/alerts": ("message", "state"),
               "/sites": ("raw", "vs_leader_heading", "interval"), "/fleet": ("last_seen", "outbox", "flag"),
               "/sites/s001": ("message", "last_seen", "outbox")}
ADMIN_KEY_COLUMNS = {"/admin/audit": ("event", "user", "detail"), "/admin/users": ("role", "scope", "state")}


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_the_key_columns_of_every_list_are_on_a_phone_screen(web, chromium):
    """"On a phone the Δ and p columns are visible": the lists' tables were wider than a 390 px
    screen, their change, interval and message columns beyond its edge in a box with no hint that
    it scrolls. Now each row is a card there, every cell named by its column."""
    from server_sync.report.figures import percent
    from server_sync.web.render import text
    driver = signed_out(chromium)
    sign_in(driver, web.url, "ana-analyst")
    lang = PEOPLE["ana-analyst"][3]
    driver.set_window_size(390, 900)
    problems = []
    for path, keys in KEY_COLUMNS.items():
        driver.get(web.url + path)
        # The effect's interval names its level (effects.ALPHA: 99 %).
        headers = [text(k, lang, level=percent(99, lang, 0)) if k == "interval_at" else text(k, lang)
                   for k in keys] + (["Δ"] if "effect" in keys else [])
        seen, bad = key_columns_on_a_phone(driver, headers)
        problems += [f"{path}: no cell of {headers}"] if not seen else []
        problems += [f"{path}: {b}" for b in bad]
        screenshot(driver, ARTIFACTS / web.engine / "phone-columns" / f"{path.strip('/').replace('/', '-')}-390.png", 390)
    # The admin's lists too (the audit log's rows were 140 px of blank, its user, address and
    # detail beyond the edge: a review of the screenshots).
    driver = signed_out(chromium)
    sign_in(driver, web.url, "ada-admin")
    lang = PEOPLE["ada-admin"][3]
    driver.set_window_size(390, 900)
    for path, keys in ADMIN_KEY_COLUMNS.items():
        driver.get(web.url + path)
        seen, bad = key_columns_on_a_phone(driver, [text(k, lang) for k in keys])
        problems += [f"{path}: no cell of {keys}"] if not seen else []
        problems += [f"{path}: {b}" for b in bad]
        screenshot(driver, ARTIFACTS / web.engine / "phone-columns" / f"{path.strip('/').replace('/', '-')}-390.png", 390)
    driver.set_window_size(1280, 900)
    assert problems == []


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_live_updates_can_be_paused_and_the_choice_is_kept(web, chromium):
    """WCAG 2.2.2 (Pause, Stop, Hide): a page's live parts changed whenever a kiosk sent answers,
    with no way to stop them. A toggle beside the live state pauses them, on every page after."""
    from server_sync.central.db import connect
    from server_sync.web import marks
    driver = signed_out(chromium)
    sign_in(driver, web.url, "ana-analyst")
    driver.get(web.url + "/sites/s001")
    driver.execute_script("localStorage.clear()")

    def live(d):
        return d.find_element(By.ID, "live-state").get_attribute("data-on") in d.find_element(By.ID, "live-state").text

    def bump():
        db = connect(web.db_url)
        try:
            marks.bump(db, {"s001"}, datetime.now(timezone.utc))
        finally:
            db.close()

    def stamp(d):
        return d.find_element(By.TAG_NAME, "body").get_attribute("data-live-updated")
    driver.get(web.url + "/sites/s001")
    WebDriverWait(driver, 10).until(live)
    toggle = driver.find_element(By.ID, "live-pause")
    assert toggle.is_displayed() and toggle.tag_name == "button" and toggle.get_attribute("aria-pressed") == "false"
    assert toggle.text
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    bump()
    time.sleep(3)
    assert stamp(driver) is None, "a paused page was updated"
    driver.get(web.url + "/sites/s001")                  # the choice is kept
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "live-state").text)
    toggle = driver.find_element(By.ID, "live-pause")
    assert toggle.get_attribute("aria-pressed") == "true"
    bump()
    time.sleep(3)
    assert stamp(driver) is None, "a paused page was updated after a reload"
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false"
    WebDriverWait(driver, 10).until(live)
    bump()
    WebDriverWait(driver, 10).until(lambda d: stamp(d) is not None)
    driver.execute_script("localStorage.clear()")
