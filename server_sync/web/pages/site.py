"""One site: its figures and trend, weekday × hour heatmap, reasons (Pareto and uplift), recent
comments, its kiosks and their health, its actions and alerts, and what worked at other sites
with the same main complaint. A site the person may not see is
a 404, like one that does not exist."""

from __future__ import annotations

from server_sync.analysis.queries import ReportFilter
from server_sync.central.registry import site as site_row
from server_sync.report.tabular import CSV_COLUMNS, rows_of
from server_sync.web import filters
from server_sync.web.guard import PageResult, Visit
from server_sync.web.queries import CommentFilter, comments, with_zones
from server_sync.workflow import actions as workflow_actions
from server_sync.workflow import alerts as workflow_alerts
from server_sync.workflow.people import may_act

RECENT_COMMENTS = 10
# The parts of the report the page shows (site.html includes their sections; the summary's change
# is the trend's; `sites` is the site's own figures, the summary's): its CSV has every row of these
# that `kiosk-central report --site` writes (tabular.PART_SECTIONS). A list of CSV sections kept
# here by hand left out the kiosks, the weekly changes, the actions' windows and more.
PARTS = ("summary", "sites", "trends", "heatmap", "drivers", "kiosks", "actions")


@filters.takes("from", "to", "question")
def build(v: Visit) -> PageResult:
    site_id = v.scope.require_site(v.request.path_params["site_id"])
    period = filters.period(v.params)
    f = ReportFilter((site_id,), (period.question,) if period.question else (), period.date_from, period.date_to)
    report = v.report((site_id,), f)
    # The period's and question's, as the figures beside them (and the link to the rest of them).
    recent, _more = comments(v.db, CommentFilter(sites=(site_id,), question=period.question,
                                                 date_from=period.date_from, date_to=period.date_to, page=1))
    recent = recent[:RECENT_COMMENTS]
    if recent:
        v.comments_viewed(site=site_id, shown=len(recent))
    data = {"site": site_row(v.db, site_id), "period": report["period"], "summary": report["summary"],
            "trends": report["trends"], "heatmap": report["heatmap"], "drivers": report["drivers"],
            "actions": report["actions"], "alerts": with_zones(v.db, workflow_alerts.list_alerts(v.db, sites=(site_id,), now=v.now,
                                                                  limit=50)),
            "suggestions": workflow_actions.suggestions(v.db, site_id, v.now, visible=v.scope.sites),
            "kiosks": v.fleet((site_id,)), "kiosk_figures": report["kiosks"],
            "comments": recent, "report": report}
    return PageResult("web/site.html", data, "title_site", csv=table, report_filter=f, live_sites=(site_id,),
                      title=data["site"]["name"], context={"may_act": may_act(v.db, v.user, site_id), "types": workflow_actions.TYPES})


def table(data: dict) -> tuple[list[str], list]:
    return list(CSV_COLUMNS), rows_of(data["report"], PARTS)
