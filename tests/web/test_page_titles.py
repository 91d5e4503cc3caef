"""Each item page's <title> names its item (WCAG 2.4.2 Page Titled): an alert's, an action's and a
store's page were all titled by their kind ("Larm · Kundpuls", "Butik · Kundpuls"), so tabs,
history and a screen reader's list of windows could not tell two of them apart."""

from __future__ import annotations

import html
import re

import pytest

from server_sync.central.db import connect
from tests.web.test_browser import item_ids
from tests.web.world import login

pytestmark = pytest.mark.parametrize("chain_url", ["sqlite"], indirect=True, scope="module")


def _title(page: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page, flags=re.S).group(1))


def test_an_item_pages_title_names_its_item(web):
    ids = item_ids(web.db_url, "s001")
    db = connect(web.db_url)
    try:
        name = db.execute_sql("SELECT name FROM site WHERE id = ?", ("s001",)).fetchone()[0]
    finally:
        db.close()
    c = login(web.url, "ana-analyst")                       # Swedish
    try:
        assert _title(c.get(f"/alerts/{ids['alert_id']}").text) == f"Larm #{ids['alert_id']} · {name} · Kundpuls"
        assert _title(c.get(f"/actions/{ids['action_id']}").text) == f"Åtgärd #{ids['action_id']} · {name} · Kundpuls"
        assert _title(c.get("/sites/s001").text) == f"{name} · Kundpuls"
        assert _title(c.get("/alerts").text) == "Larm · Kundpuls"          # a list keeps its kind
    finally:
        c.close()
