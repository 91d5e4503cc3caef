"""Comments: what customers wrote, newest first; search, and filters by site, question, reason,
score and date. Personal data the kiosk scrubbed shows as removed. Every view is audited."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from server_sync.analysis.queries import ReportFilter, questions
from server_sync.report.collation import sorted_choices
from server_sync.protocol.catalogue import EMPLOYEE_REASONS, QUESTIONS, REASONS
from server_sync.protocol.scales import SCALES
from server_sync.report.html import question_text
from server_sync.web import filters
from server_sync.web.guard import SPREADSHEETS, PageResult, Visit
from server_sync.web.queries import CommentFilter, comments, comments_beyond
from server_sync.web.render import marks_named
from server_sync.web.scope import region_choices, site_choices, sites_of_region

if TYPE_CHECKING:
    from peewee import Database

COLUMNS = ["recorded_at", "local_time", "zone", "site_id", "site_name", "question_id", "scale", "value", "reasons",
           "language", "comment"]
# The reasons only an employee question cites (workload, …): the page lists customers' comments
# only (docs/privacy.md), so it neither offers them nor finds anything under them.
EMPLOYEE_ONLY_REASONS = frozenset(EMPLOYEE_REASONS) - {r for q in QUESTIONS.values() if q["audience"] == "customer"
                                                      for r in q["reasons"]}
# The CSV download holds every comment the filters find, not the page's 50 (a spreadsheet has no
# "next page"); more than this is refused, naming how many, rather than cut without a word.
CSV_MOST = 100_000


@filters.takes("from", "to", "question", "site", "region", "reason", "score", "q", "page")
def build(v: Visit) -> PageResult:
    period = filters.period(v.params)
    site = filters.ident(v.params, "site")
    region = filters.ident(v.params, "region")
    # A region is checked against the person's scope whether or not a site is chosen too, and a
    # site outside it is refused: the region was ignored beside a site, unchecked (a review).
    in_region = sites_of_region(v.db, v.scope, region) if region else None
    if site:
        sites = (v.scope.require_site(site),)
        if in_region is not None and site not in in_region:
            raise filters.refusal("site_not_in_region", "site", value=site)
    else:
        sites = in_region if in_region is not None else v.sites_or_chain()
    catalogue = questions(v.db)
    if period.question and period.question not in catalogue:
        raise filters.refusal("not_offered", "question", value=period.question)
    # An employee question's comments are never listed: said so, not "no comments" as if there were none.
    if period.question and catalogue[period.question]["audience"] != "customer":
        raise filters.refusal("employee_comments_not_listed", "question", value=period.question)
    reason = filters.ident(v.params, "reason")
    if reason and reason not in REASONS:
        raise filters.refusal("not_offered", "reason", value=reason)
    if reason in EMPLOYEE_ONLY_REASONS:
        raise filters.refusal("employee_comments_not_listed", "reason", value=reason)
    # A score the question's scale does not have would list nothing, as if nobody gave it.
    scale = SCALES.get(catalogue[period.question]["scale"]) if period.question else None
    low, high = (scale.lowest, scale.highest) if scale else (0, 10)
    score = filters.integer(v.params, "score", low, high)
    # With a question, a score is a face of its current scale, the one it was checked against:
    # its series (question, scale), as every figure keeps one. On an earlier scale the same
    # number is another face (4 is the top of smiley4, the second of smiley5): not matched.
    download = v.params.get("format") in SPREADSHEETS          # every one found, not the page
    search = filters.search(v.params)
    f = CommentFilter(sites=sites, question=period.question, reason=reason, score=score,
                      scale=scale.name if scale and score is not None else None, date_from=period.date_from,
                      date_to=period.date_to, search=search, also_marks=marks_named(search, v.lang),
                      page=filters.integer(v.params, "page", 1, 100_000) or 1)
    rows, more = download_rows(v.db, f) if download else comments(v.db, f)
    v.comments_viewed(filters={k: val for k, val in v.params.items() if k != "format"}, shown=len(rows))
    data = {"comments": rows, "page": f.page, "more": more,
            "filters": {"site": site, "region": region, "question": f.question, "reason": f.reason,
                        "score": f.score, "scale": f.scale, "from": f.date_from, "to": f.date_to, "q": f.search}}
    return PageResult("web/comments.html", data, "title_comments", csv=lambda d: (COLUMNS, d["comments"]),
                      report_filter=ReportFilter(sites or (), (), period.date_from, period.date_to),
                      context={"region_choices": region_choices(v.db, v.scope, v.lang),
                               "site_choices": site_choices(v.db, v.scope, v.lang),
                               "question_choices": question_choices(
                                   {q: c for q, c in catalogue.items() if c["audience"] == "customer"}, v.lang),
                               "reason_choices": sorted_choices(((r, labels.get(v.lang, r))
                                                                 for r, labels in REASONS.items()
                                                                 if r not in EMPLOYEE_ONLY_REASONS), v.lang),
                               "score_choices": [(n, n) for n in range(low, high + 1)],
                               "page_links": _pages(v, f.page)})


def download_rows(db: Database, f: CommentFilter, most: int = CSV_MOST) -> tuple[list[dict], bool]:
    """Every comment `f` finds, whatever its page, for the CSV download; more than `most` is
    refused (BadFilter), saying so."""
    refused = filters.refusal("too_many_comments", most=f"{most:,}".replace(",", " "))
    # Asked first by id alone: a download to be refused read its `most` + 1 comments whole first
    # (a review: a chain's, 3 s and 175 MB of the worker's memory for a 400).
    if comments_beyond(db, f, most):
        raise refused
    # Then one read of `most` + 1, its own check: one ingested since the question could
    # otherwise cut the download without a word.
    rows, more = comments(db, replace(f, page=1, per_page=most))
    if more:
        raise refused
    return rows, more


def question_choices(catalogue: dict[str, dict], lang: str) -> list[tuple[str, str]]:
    """The question filter's (id, label) pairs, by label: each question in the report's words
    (`report.html.question_text`: one the centre never defined, only seen in answers, says so,
    as everywhere else, or its id would read as a question of the chain's)."""
    return sorted_choices(((q, question_text(c, lang)) for q, c in catalogue.items()), lang)


def _pages(v: Visit, page: int) -> dict[str, str]:
    rest = [(k, val) for k, val in v.params.multi_items() if k not in ("page", "format")]
    return {name: "/comments?" + urlencode(rest + [("page", str(n))])
            for name, n in (("prev", max(1, page - 1)), ("next", page + 1))}
