"""Fleet: every kiosk the person may see: online, last seen, outbox depth, clock state, config
version, events refused for good; kiosks silent during opening hours flagged (the same rule as
`kiosk-central fleet`)."""

from __future__ import annotations

from server_sync.analysis.fleet import summary
from server_sync.analysis.queries import ReportFilter
from server_sync.web import filters
from server_sync.web.guard import PageResult, Visit

# `silent` beside `online`: the page shows a kiosk whose last status says online but that has not
# been heard for hours of opening time as "not heard since …", and does not count it as reporting.
COLUMNS = ["kiosk_id", "site_id", "site_name", "active", "awaited", "installs_on", "online", "silent", "last_seen",
           "outbox_depth", "oldest_unacked_s", "clock_synced", "disk_free_mb", "config_version", "config_error",
           "version", "rejected", "silent_open_hours", "flagged", "flag_kind", "flag"]


@filters.takes("site", "flagged")
def build(v: Visit) -> PageResult:
    site = filters.ident(v.params, "site")
    sites = (v.scope.require_site(site),) if site else v.sites_or_chain()
    rows = [dict(r) for r in v.fleet(sites)]
    total = summary(rows)
    if filters.choice(v.params, "flagged", ("1", "0")) == "1":
        rows = [r for r in rows if r["flagged"]]
    data = {"summary": total, "kiosks": rows}
    return PageResult("web/fleet.html", data, "title_fleet", csv=lambda d: (COLUMNS, d["kiosks"]),
                      report_filter=ReportFilter(sites or ()), live_sites=sites if sites is not None else ("*",))
