"""Overview: per question the headline metric with interval and n, CSAT, the change against the
previous period with its verdict and a sparkline; today's answers so far; open alerts; overdue
alerts and actions; fleet health in one line. All of it for the sites the person may see."""

from __future__ import annotations

from server_sync.analysis import chain_report
from server_sync.analysis.fleet import summary
from server_sync.analysis.queries import ReportFilter
from server_sync.report.tabular import CSV_COLUMNS, PART_SECTIONS, csv_rows
from server_sync.web import filters
from server_sync.web.guard import PageResult, Visit
from server_sync.web.queries import answers_today, site_names, with_zones
from server_sync.workflow import actions as workflow_actions
from server_sync.workflow import alerts as workflow_alerts

OPEN_ALERTS_SHOWN = 5


@filters.takes("from", "to", "question")
def build(v: Visit) -> PageResult:
    period = filters.period(v.params)
    sites = v.sites_or_chain()
    f = ReportFilter((), (period.question,) if period.question else (), period.date_from, period.date_to)
    report = v.report(sites, f, brief=True)
    # Counted whole (a count that stopped at 1,000 said 1,000): the open ones by a COUNT, the
    # overdue ones (each site's date) read, being the few of them past their due date.
    open_alerts = workflow_alerts.list_alerts(v.db, state="active", sites=sites, now=v.now, limit=OPEN_ALERTS_SHOWN)
    open_count = workflow_alerts.count_alerts(v.db, state="active", sites=sites)
    overdue_alerts = workflow_alerts.list_alerts(v.db, overdue=True, sites=sites, now=v.now)
    overdue_actions = workflow_actions.list_actions(v.db, overdue=True, sites=sites, now=v.now)
    kiosks = v.fleet(sites)
    # The sparklines end with the last day over at every site: today's few answers so far were
    # their end value (n = 2, NPS 100 beside a series around 65).
    whole = chain_report.last_whole_day(v.db, v.now, sites or ()) if sites != () else None
    shown = report["period"] if report else None
    data = {
        "period": shown,
        "summary": report["summary"] if report else [],
        "trends": [{"question_id": t["question_id"], "metric": t["metric"], "daily": t["daily"],
                    "change": t["change"]} for t in report["trends"]] if report else [],
        "sparkline_until": min(shown["to"], whole) if shown and whole else None,
        # None (not shown) when the period asked for holds no site's today.
        "today": answers_today(v.db, sites, v.now, report, period.question, period.date_from, period.date_to)
        if sites != () else {"total": 0, "by_question": {}},
        "open_alerts": {"count": open_count, "newest": with_zones(v.db, open_alerts)},
        "overdue": {"alerts": overdue_alerts[:OPEN_ALERTS_SHOWN], "alert_count": len(overdue_alerts),
                    "actions": overdue_actions[:OPEN_ALERTS_SHOWN], "action_count": len(overdue_actions)},
        "fleet": summary(kiosks),
        "report": report,
    }
    return PageResult("web/overview.html", data, "title_overview", csv=table,
                      report_filter=f, live_sites=sites if sites is not None else ("*",),
                      context={"site_names": _names(v, open_alerts, overdue_alerts, overdue_actions)})


def _names(v: Visit, *lists: list[dict]) -> dict[str, str]:
    """id -> name of the sites of the alerts and actions listed. Read from the register, not the
    period's report: a site without answers in the period is not in it, and was named by its id."""
    return site_names(v.db, sorted({row["site_id"] for rows in lists for row in rows}))


# The report's CSV sections the overview shows: its period and the one compared with, the summary
# cards (with the change of each, from the two periods' figures) and the sparklines' days (the trend's weekly figures are not shown).
SECTIONS = PART_SECTIONS["period"] + PART_SECTIONS["summary"] + tuple(
    s for s in PART_SECTIONS["trends"] if s not in ("weekly", "weekly_change"))


def table(data: dict) -> tuple[list[str], list]:
    """The report's CSV rows of what the overview shows, then the overview's own counts in the
    same columns: today's answers so far (per question, and in all), the open and overdue
    alerts and actions, and the fleet line's kiosks (the download once lacked them)."""
    report = data["report"]
    rows = [r for r in csv_rows(report) if r["section"] in SECTIONS] if report else []

    def count(section: str, metric: str, value: int, question: str = "") -> None:
        rows.append({"section": section, "question_id": question, "metric": metric, "value": value})
    if data["today"] is not None:                # None: the period holds no site's today
        for q, n in data["today"]["by_question"].items():
            count("today", "answers", n, q)
        count("today", "answers", data["today"]["total"])
    count("open_alerts", "alerts", data["open_alerts"]["count"])
    count("overdue", "alerts", data["overdue"]["alert_count"])
    count("overdue", "actions", data["overdue"]["action_count"])
    for metric in ("kiosks", "online", "flagged", "awaited"):
        count("fleet", metric, data["fleet"][metric])
    return list(CSV_COLUMNS), rows
