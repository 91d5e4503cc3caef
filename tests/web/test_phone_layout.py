"""Pages on a phone as a review of the test suite's screenshots read them: a label squeezed into
a narrow column, a date broken at its hyphens. Measured in the browser (Selenium and Debian's
chromium, as tests/web/test_browser.py) at 320 px (WCAG 1.4.10's reflow width) and 390 px, on
the world.py chain in SQLite; the pages' screenshots are test_browser.py's walk's."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.web.test_browser import chromium, item_ids, sign_in, signed_out, split_across_lines  # noqa: F401

PHONES = (320, 390)

# The lines an element's text takes on the page (its text's boxes at distinct heights).
LINES_JS = r"""
return [].map.call(document.querySelectorAll(arguments[0]), function(el){
  var r = document.createRange(); r.selectNodeContents(el); var lines = {};
  [].forEach.call(r.getClientRects(), function(b){ if (b.width > 0) lines[Math.round(b.bottom)] = 1; });
  return [el.textContent.trim(), Object.keys(lines).length];
});
"""


def lines_of(driver, selector: str) -> list[tuple[str, int]]:
    """(text, lines) of each element `selector` on the page open in `driver`."""
    return [tuple(x) for x in driver.execute_script(LINES_JS, selector)]


def on_phones(web, driver, name: str, *paths: str) -> Iterator[tuple[int, str]]:
    """`name` signed in, each of `paths` open at each width of PHONES with its <details> open:
    (width, path) while it is; the window back at desktop width after."""
    signed_out(driver)
    sign_in(driver, web.url, name)
    try:
        for width in PHONES:
            driver.set_window_size(width, 900)
            for path in paths:
                driver.get(web.url + path)
                driver.execute_script("document.querySelectorAll('details').forEach(function(d){d.open=true;})")
                yield width, path
    finally:
        driver.set_window_size(1280, 900)


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_an_actions_before_and_after_rows_keep_their_label_and_dates_readable(web, chromium):
    """At 320 px the before/after table's row labels were squeezed to a 75 px column:
    "Före, 2026-10-23 – 2026-11-19" on four lines, "2026-10-" over "23". A phone shows each row
    as a card now, its label the card's title over the width of the screen."""
    action = item_ids(web.db_url, "s004")["action_id"]
    problems = []
    for width, _path in on_phones(web, chromium, "ana-analyst", f"/actions/{action}"):
        labels = lines_of(chromium, "#before-after tbody th")
        assert len(labels) >= 2, labels
        problems += [f"@{width}: {text!r} on {n} lines" for text, n in labels if n > 2]
        problems += [f"@{width}: {s}" for s in split_across_lines(chromium, "#before-after")]
    assert problems == []


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_a_weeks_days_keep_their_dates_whole_on_a_phone(web, chromium):
    """A week's card on the site page read "Dagar 2026-11-09–2026-11-" over "15" at 320 px (the
    stacked card's cells break anywhere a word does not fit)."""
    problems, weeks = [], 0
    for width, _path in on_phones(web, chromium, "ana-analyst", "/sites/s004"):
        weeks += len(chromium.find_elements("css selector", "table.stacked td[data-label]"))
        problems += [f"@{width}: {s}" for s in split_across_lines(chromium, "[id^=trend-table-]")]
    assert weeks and problems == []


# Per stacked table: the fonts of its cells' labels (drawn by ::before) and where its values start.
LABELS_JS = r"""
return [].map.call(document.querySelectorAll('table.stacked'), function(t){
  var fonts = {}, starts = {};
  t.querySelectorAll('td[data-label]').forEach(function(td){
    if (!td.getClientRects().length) return;
    var label = getComputedStyle(td, '::before'), cell = getComputedStyle(td);
    fonts[label.fontFamily + ' ' + label.fontSize + ' ' + label.fontWeight] = 1;
    starts[Math.round(td.getBoundingClientRect().left + parseFloat(cell.paddingLeft))] = 1;
  });
  return [Object.keys(fonts), Object.keys(starts)];
});
"""


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_an_audit_cards_labels_share_one_font_and_its_values_one_edge(web, chromium):
    """The audit log's card on a phone: its "Detail" label was in the detail's monospace 12 px
    and, its width in em, its value started 9 px left of the others'."""
    problems, tables = [], 0
    for width, path in on_phones(web, chromium, "ada-admin", "/admin/audit", "/admin/deliveries"):
        for fonts, starts in chromium.execute_script(LABELS_JS):
            tables += 1
            if len(fonts) != 1 or len(starts) != 1:
                problems.append(f"{path} @{width}: label fonts {fonts}, values start at {starts}")
    assert tables and problems == []


# Each table's name (its caption, or the element its aria-labelledby names) as drawn: the right
# edge of its text, and the right edge of what is seen of it (the viewport, or the box that
# scrolls it sideways).
TABLE_NAMES_JS = r"""
var W = document.documentElement.clientWidth;
return [].map.call(document.querySelectorAll(arguments[0]), function(t){
  var name = t.caption || document.getElementById(t.getAttribute('aria-labelledby'));
  var r = document.createRange(); r.selectNodeContents(name);
  var right = Math.max.apply(null, [].map.call(r.getClientRects(), function(b){ return b.right; }));
  var box = name.closest('.scroll'), seen = box ? Math.min(W, box.getBoundingClientRect().right) : W;
  return [name.textContent.trim(), Math.round(right), Math.round(seen)];
});
"""


@pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")
def test_the_heatmap_tables_name_is_seen_whole_on_a_phone(web, chromium):
    """The heatmap's table's caption was centred across the wide table inside its sideways-scrolling
    box: a phone saw "NPS per ve…" cut at the box's edge."""
    problems, names = [], 0
    for width, _path in on_phones(web, chromium, "ana-analyst", "/sites/s004"):
        for name, right, seen in chromium.execute_script(TABLE_NAMES_JS, "[id^=heatmap-table-] table"):
            names += 1
            if right > seen + 1:
                problems.append(f"@{width}: {name!r} ends at {right} px, seen to {seen}")
    assert names and problems == []
