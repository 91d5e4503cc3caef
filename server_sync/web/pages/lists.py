"""Alerts and actions: lists with their state, owner and due date (overdue marked), each linked to
its own page (pages/workflow.py: where they are acted on) and its site."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from server_sync.analysis.actions import evaluated
from server_sync.analysis.chain_report import local_time
from server_sync.analysis.effects import ALPHA
from server_sync.analysis.queries import ReportFilter
from server_sync.report.alert_text import alert_text
from server_sync.web import filters
from server_sync.web.guard import SPREADSHEETS, PageResult, Visit
from server_sync.web.queries import site_names, with_zones
from server_sync.web.scope import site_choices
from server_sync.workflow import actions as workflow_actions
from server_sync.workflow import alerts as workflow_alerts

# `raised_at` and the other times are UTC; `raised_local` the site's clock with its zone's
# abbreviation (`timezone`: the IANA name), as the page shows it.
ALERT_COLUMNS = ["id", "state", "site_id", "site_name", "question_id", "kind", "raised_at", "raised_local", "timezone",
                 "last_seen_at", "n",
                 "negative", "value", "p_value", "message", "text", "owner", "due_date", "overdue", "outcome",
                 "outcome_reason", "action_id", "duplicate_of", "closed_at", "acked_at", "ack_comment"]
# `confidence`: the level of the effect's interval (0.99), which the page's heading states.
ACTION_COLUMNS = ["id", "site_id", "site_name", "question_id", "date", "note", "verdict", "method", "metric", "diff",
                  "low", "high", "confidence", "p_value", "n_before", "n_after", "owner", "action_type", "alert_id",
                  "due_date", "overdue", "closed_at", "closing_verdict"]
ALERT_STATES = ("active", "open", "acknowledged", "closed", "overdue")       # active: open or acknowledged
# The newest alerts the page lists; its downloads hold every one the filters find, and the page
# says when it shows fewer.
ALERTS_LISTED = 500
ACTION_STATES = ("open", "closed", "overdue")


def in_readers_words(alert: dict, lang: str) -> dict:
    """An alert row (with its `timezone`) given `text` in the reader's language (`message` is
    English) and `raised_local`, its time on the site's clock, for the pages and their downloads."""
    alert["text"] = alert_text(alert, lang)
    alert["raised_local"] = local_time(alert["raised_at"], ZoneInfo(alert["timezone"]))
    return alert


def _sites(v: Visit) -> tuple[str, ...] | None:
    site = filters.ident(v.params, "site")
    return (v.scope.require_site(site),) if site else v.sites_or_chain()


@filters.takes("site", "state")
def alerts(v: Visit) -> PageResult:
    sites = _sites(v)
    state = filters.choice(v.params, "state", ALERT_STATES)
    visible = sorted(v.scope.sites) if sites is None else sites
    which = {"state": None if state == "overdue" else state, "sites": visible}
    # The page reads the newest ALERTS_LISTED and counts the rest; a download reads every one.
    # Overdue is each site's own date: those are read whole (they are the few still open).
    whole = v.params.get("format") in (*SPREADSHEETS, "json") or state == "overdue"
    rows = workflow_alerts.list_alerts(v.db, **which, overdue=state == "overdue", now=v.now,
                                       limit=None if whole else ALERTS_LISTED)
    total = len(rows) if whole or len(rows) < ALERTS_LISTED else workflow_alerts.count_alerts(v.db, **which)
    names = site_names(v.db, sites)
    for r in with_zones(v.db, rows):
        r["site_name"] = names.get(r["site_id"], r["site_id"])
        in_readers_words(r, v.lang)
    data = {"alerts": rows, "total": total, "listed": ALERTS_LISTED, "state": state,
            "site": filters.ident(v.params, "site")}
    return PageResult("web/alerts.html", data, "title_alerts", csv=lambda d: (ALERT_COLUMNS, d["alerts"]),
                      report_filter=ReportFilter(sites or ()),
                      context={"site_choices": site_choices(v.db, v.scope, v.lang)})


@filters.takes("site", "state")
def actions(v: Visit) -> PageResult:
    sites = _sites(v)
    state = filters.choice(v.params, "state", ACTION_STATES)
    visible = sorted(v.scope.sites) if sites is None else sites
    workflow = {a["id"]: a for a in workflow_actions.list_actions(
        v.db, sites=visible, state=None if state == "overdue" else state, overdue=state == "overdue", now=v.now)}
    rows = [v.scope.readable_action(r) for r in (evaluated(v.db, sites or (), now=v.now) if sites != () else [])
            if int(r["id"]) in workflow]
    names = site_names(v.db, sites)
    for r in rows:
        w = workflow[int(r["id"])]
        test = r.get("test") or {}
        r.update(site_name=names.get(r["site_id"], r["site_id"]), diff=test.get("diff"), low=test.get("low"),
                 high=test.get("high"), p_value=test.get("p_value"), n_before=(r.get("previous") or {}).get("n"),
                 n_after=(r.get("current") or {}).get("n"), owner=w["owner"], action_type=w["action_type"],
                 alert_id=w["alert_id"], due_date=w["due_date"], overdue=w["overdue"], closed_at=w["closed_at"],
                 closing_verdict=w["verdict"], created_by=w["created_by"])
    rows.reverse()                          # newest first
    # The effect's interval is the verdict's (effects.ALPHA), not the 95 % of the other figures.
    data = {"actions": rows, "site": filters.ident(v.params, "site"), "state": state, "confidence": 1 - ALPHA}
    return PageResult("web/actions.html", data, "title_actions", csv=lambda d: (ACTION_COLUMNS, d["actions"]),
                      report_filter=ReportFilter(sites or ()),
                      context={"site_choices": site_choices(v.db, v.scope, v.lang)})

