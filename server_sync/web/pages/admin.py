"""Admin pages: the users (role, scope, state) and the audit log. Admins only: anyone else gets
404. Users are managed with `kiosk-central user …`; these pages show them."""

from __future__ import annotations

import json
from typing import Any

from server_sync.report.collation import sorted_names
from server_sync.web import audit, filters
from server_sync.web.guard import SPREADSHEETS, PageResult, Visit, admin_page
from server_sync.web.people import users as all_users
from server_sync.web.queries import scope_names, site_names

USER_COLUMNS = ["name", "role", "language", "regions", "sites", "disabled", "must_change_password"]
AUDIT_COLUMNS = ["at", "user", "event", "address", "detail"]
# The newest entries the audit page lists; its downloads hold every one the filter finds (a
# spreadsheet has no next page), and the page says when it shows fewer.
AUDIT_LISTED = 500
AUDIT_DOWNLOADED = 100_000    # entries a download holds at most (300,000 as JSON took a worker 1 GB)


@admin_page
@filters.takes()
def users(v: Visit) -> PageResult:
    rows = [u.as_dict() for u in sorted_names(all_users(v.db), v.lang, lambda u: u.name)]
    return PageResult("web/admin_users.html", {"users": rows}, "title_users", csv=lambda d: (USER_COLUMNS, d["users"]),
                      context={"scope_names": scope_names(v.db)})


def _audit_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit log's rows for CSV and Excel: each detail as JSON (written as Python writes a
    dict, it was read by no other program), its letters as they are."""
    return [dict(e, detail=json.dumps(e["detail"], ensure_ascii=False)) for e in entries]


@admin_page
@filters.takes("event")
def audit_log(v: Visit) -> PageResult:
    event = filters.ident(v.params, "event")
    if event is not None and event not in audit.EVENTS:       # a typo would show every event
        raise filters.refusal("not_offered", "event", value=event)
    # The page reads the newest AUDIT_LISTED and counts the rest; a download reads every one:
    # both stopped at 500 without a word (a review), where `user audit` printed them all.
    # A download is built whole in memory: one that would hold more than AUDIT_DOWNLOADED is
    # refused, counted first, before any entry is read (as a comments download is).
    whole = v.params.get("format") in (*SPREADSHEETS, "json")
    if whole and audit.count(v.db, event=event) > AUDIT_DOWNLOADED:
        raise filters.refusal("too_many_audit", most=f"{AUDIT_DOWNLOADED:,}".replace(",", " "))
    rows = audit.entries(v.db, limit=None if whole else AUDIT_LISTED, event=event)
    total = len(rows) if whole or len(rows) < AUDIT_LISTED else audit.count(v.db, event=event)
    # The page names a site by its name, as every page does (render._audit_detail); the downloads keep the id.
    named = site_names(v.db, sorted({str(e["detail"]["site"]) for e in rows if e["detail"].get("site")}))
    return PageResult("web/admin_audit.html", {"entries": rows, "total": total},
                      "title_audit",
                      csv=lambda d: (AUDIT_COLUMNS, _audit_rows(d["entries"])),
                      context={"events": audit.EVENTS, "site_names": named})
