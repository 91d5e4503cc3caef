"""The audit log's page and downloads (/admin/audit): a site named by its name on the page, as
every page names it (docs/web.md), and each entry's detail written as JSON in CSV and Excel."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime, timezone

import pytest
from openpyxl import load_workbook

from server_sync.web import audit, filters, guard
from server_sync.web.pages import admin
from tests.analysis.seeding import add_site
from tests.web import in_process

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def _logged(db) -> None:
    add_site(db, "s003")
    db.execute_sql(f"UPDATE site SET name = {db.param} WHERE id = 's003'", ("Göteborg Centrum",))
    audit.record(db, "comments_viewed", user_name="sara-store", address="127.0.0.1", page="/sites/s003",
                 site="s003", shown=3)
    audit.record(db, "export", user_name="sara-store", address="127.0.0.1", page="/comments", format="csv",
                 filters={"q": "kö", "site": "s003"})


def test_the_audit_page_names_a_site_by_its_name(central_db):
    """It said `butik: s003` where every other page says the store's name (a review)."""
    _logged(central_db)
    page, _rows, _result = in_process.shown(admin.audit_log.page, central_db, NOW, "/admin/audit", lang="sv")
    words = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "butik: Göteborg Centrum" in words and "butik: s003" not in words


def test_the_audit_downloads_write_each_detail_as_json(central_db):
    """CSV and Excel wrote the detail as Python wrote the dict ({'page': '/comments', …}), which
    no other program reads (a review). JSON, its letters as they are."""
    _logged(central_db)
    _page, rows, result = in_process.shown(admin.audit_log.page, central_db, NOW, "/admin/audit")
    expected = [{"page": "/comments", "format": "csv", "filters": {"q": "kö", "site": "s003"}},
                {"page": "/sites/s003", "site": "s003", "shown": 3}]
    assert [json.loads(r["detail"]) for r in rows] == expected
    assert '"kö"' in rows[0]["detail"]
    v = in_process.visit(central_db, NOW, "/admin/audit", "format=xlsx")
    sheet = load_workbook(io.BytesIO(guard.export(v, result, "xlsx").body)).active
    header, *cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [json.loads(row[header.index("detail")]) for row in cells] == expected


def test_a_long_audit_log_says_it_is_cut_and_its_downloads_hold_every_entry(central_db):
    """The page and its CSV, Excel and JSON downloads stopped at the newest 500 entries without a
    word (a review: 565 entries, 500 shown and downloaded). The page lists the newest 500 and
    says how many there are; the downloads hold them all, an event's filter kept."""
    db, p = central_db, central_db.param
    with db.atomic():
        for n in range(503):
            db.execute_sql(audit.INSERT.format(p=p), (NOW, "ada-admin", "login", "127.0.0.1", json.dumps({"n": n})))
        db.execute_sql(audit.INSERT.format(p=p), (NOW, "ada-admin", "logout", "127.0.0.1", "{}"))
    page, _rows, _result = in_process.shown(admin.audit_log.page, db, NOW, "/admin/audit", "event=login")
    assert page.count('<td data-label="Time (UTC)">') == 500
    assert "Showing the newest 500 of 503; the downloads hold them all." in page
    for fmt in ("csv", "xlsx", "json"):
        v = in_process.visit(db, NOW, "/admin/audit", f"event=login&format={fmt}")
        body = guard.export(v, admin.audit_log.page(v), fmt).body
        assert (len(list(csv.DictReader(io.StringIO(body.decode())))) if fmt == "csv"
                else load_workbook(io.BytesIO(body)).active.max_row - 1 if fmt == "xlsx"
                else len(json.loads(body)["entries"])) == 503, fmt
    page, _rows, _result = in_process.shown(admin.audit_log.page, db, NOW, "/admin/audit", "event=logout")
    assert "Showing the newest" not in page


def test_an_audit_download_too_large_to_hold_is_refused_before_any_entry_is_read(central_db, monkeypatch):
    """A download is built whole in memory (300,000 entries as JSON took a worker 1 GB: a review):
    one of more than AUDIT_DOWNLOADED entries is refused, counted first, nothing read."""
    db, p = central_db, central_db.param
    with db.atomic():
        for n in range(4):
            db.execute_sql(audit.INSERT.format(p=p), (NOW, "ada-admin", "login", "127.0.0.1", json.dumps({"n": n})))
        db.execute_sql(audit.INSERT.format(p=p), (NOW, "ada-admin", "logout", "127.0.0.1", "{}"))
    monkeypatch.setattr(admin, "AUDIT_DOWNLOADED", 3)
    read = []
    monkeypatch.setattr(audit, "entries", lambda *a, **k: read.append(k) or [])
    for fmt in ("csv", "xlsx", "json"):
        v = in_process.visit(db, NOW, "/admin/audit", f"event=login&format={fmt}")
        with pytest.raises(filters.BadFilter) as refused:
            admin.audit_log.page(v)
        assert str(refused.value).startswith("More than 3 entries match: a download holds at most 3."), fmt
        assert refused.value.words("sv").startswith("Fler än 3 poster matchar")
    assert read == []
    v = in_process.visit(db, NOW, "/admin/audit", "event=logout&format=csv")
    admin.audit_log.page(v)                                   # 1 entry: read
    assert read
