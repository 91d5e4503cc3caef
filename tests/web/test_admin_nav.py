"""The navigation marks the part of the site a page is in: Admin on each of its pages (users,
deliveries, the audit log), not on the users' page alone (a review of the screenshots)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from server_sync.web.pages import admin
from server_sync.web.pages.workflow import deliveries
from tests.web import in_process

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def current(page: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page">', page)


def test_admin_is_the_current_part_on_every_admin_page_and_says_when_nothing_failed(central_db):
    for build, path in ((admin.users.page, "/admin/users"), (deliveries.page, "/admin/deliveries"),
                        (admin.audit_log.page, "/admin/audit")):
        page, _rows, _result = in_process.shown(build, central_db, NOW, path)
        assert current(page) == ["/admin/users"], (path, current(page))
    page, _rows, _result = in_process.shown(deliveries.page, central_db, NOW, "/admin/deliveries", lang="sv")
    assert "Inga misslyckade leveranser." in page and '<p class="note">Inga</p>' not in page
