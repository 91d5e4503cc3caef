"""Alerts and actions: read-only lists with their state, each linked to its site (acting on them
is a later workflow; the lists leave room for it: one row per item, with its id)."""

from __future__ import annotations

from server_sync.analysis import alerts as alert_store
from server_sync.analysis.actions import evaluated
from server_sync.analysis.queries import ReportFilter
from server_sync.web import filters
from server_sync.web.guard import PageResult, Visit
from server_sync.web.queries import site_names

ALERT_COLUMNS = ["id", "state", "site_id", "site_name", "question_id", "kind", "raised_at", "last_seen_at", "n",
                 "negative", "value", "p_value", "message", "acked_at", "ack_comment"]
ACTION_COLUMNS = ["id", "site_id", "site_name", "question_id", "date", "note", "verdict", "diff", "low", "high",
                  "p_value", "n_before", "n_after"]


def _sites(v: Visit) -> tuple[str, ...] | None:
    site = filters.ident(v.params, "site")
    return (v.scope.require_site(site),) if site else v.sites_or_chain()


@filters.takes("site", "state")
def alerts(v: Visit) -> PageResult:
    sites = _sites(v)
    state = filters.choice(v.params, "state", ("open", "acknowledged"))
    rows = alert_store.list_alerts(v.db, open_only=state == "open", sites=sites, limit=500)
    if state == "acknowledged":
        rows = [r for r in rows if r["acked_at"]]
    names = site_names(v.db, sites)
    for r in rows:
        r["state"] = "acknowledged" if r["acked_at"] else "open"
        r["site_name"] = names.get(r["site_id"], r["site_id"])
    data = {"alerts": rows, "state": state, "site": filters.ident(v.params, "site")}
    return PageResult("web/alerts.html", data, "title_alerts", csv=lambda d: (ALERT_COLUMNS, d["alerts"]),
                      report_filter=ReportFilter(sites or ()), context={"site_choices": _choices(names)})


@filters.takes("site",)
def actions(v: Visit) -> PageResult:
    sites = _sites(v)
    rows = evaluated(v.db, sites or ()) if sites != () else []      # () in a filter means every site
    names = site_names(v.db, sites)
    for r in rows:
        test = r.get("test") or {}
        r.update(site_name=names.get(r["site_id"], r["site_id"]), diff=test.get("diff"), low=test.get("low"),
                 high=test.get("high"), p_value=test.get("p_value"), n_before=r["previous"]["n"],
                 n_after=r["current"]["n"])
    rows.reverse()                          # newest first
    data = {"actions": rows, "site": filters.ident(v.params, "site")}
    return PageResult("web/actions.html", data, "title_actions", csv=lambda d: (ACTION_COLUMNS, d["actions"]),
                      report_filter=ReportFilter(sites or ()), context={"site_choices": _choices(names)})


def _choices(names: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(names.items(), key=lambda x: (x[1], x[0]))
