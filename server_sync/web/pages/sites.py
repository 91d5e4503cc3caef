"""Sites: the shrunk ranking with n and intervals per customer question (the report's ranking
chart and the full list), filtered by region, question and period."""

from __future__ import annotations

from server_sync.analysis.queries import ReportFilter
from server_sync.report.tabular import CSV_COLUMNS, rows_of
from server_sync.web import filters
from server_sync.web.guard import PageResult, Visit
from server_sync.web.scope import region_choices, sites_of_region


@filters.takes("from", "to", "question", "region")
def build(v: Visit) -> PageResult:
    period = filters.period(v.params)
    region = filters.ident(v.params, "region")
    sites = v.sites_or_chain(sites_of_region(v.db, v.scope, region) if region else None)
    f = ReportFilter((), (period.question,) if period.question else (), period.date_from, period.date_to)
    report = customers_only(v.report(sites, f, brief=True))
    data = {"period": report["period"] if report else None, "region": region,
            "ranking": report["ranking"] if report else [], "sites": report["sites"] if report else [],
            "report": report}
    return PageResult("web/sites.html", data, "title_sites", csv=table,
                      report_filter=ReportFilter(sites or (), f.questions, f.date_from, f.date_to),
                      context={"region_choices": region_choices(v.db, v.scope, v.lang)},
                      live_sites=sites if sites is not None else ("*",))


def customers_only(report: dict | None) -> dict | None:
    """The report as the page shows it: its ranking and sites of the customer questions only. The
    downloads held a ranking of the employee pulse the page never draws ("as it is shown")."""
    if report is None:
        return None
    customer = {q["id"] for q in report["questions"] if q["audience"] == "customer"}
    return dict(report, **{part: [r for r in report[part] if r["question_id"] in customer] for part in PARTS})


PARTS = ("ranking", "sites")         # the report's parts the page shows (its list: the ranking's rows)


def table(data: dict) -> tuple[list[str], list]:
    return list(CSV_COLUMNS), rows_of(data["report"], PARTS)
