"""`kiosk-central report`: the loyalty report as JSON (machines), CSV (spreadsheets) or HTML
(one self-contained file with charts), for the chain or chosen sites, questions and period."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from server_sync.cli import existing_database_url
from server_sync.commands._argtypes import DAY_FORMAT, count, day, period
from server_sync.exc import CentralConfigError
from server_sync.program.progress import progress_callback
from server_sync.protocol.vocabulary import LANGUAGES
from server_sync.program.cli import nonempty, output_file
from server_sync.program.files import write_output

FORMATS = ("json", "csv", "xlsx", "html")


def add_parser(sub, common) -> None:
    p = sub.add_parser("report", parents=[common], help="loyalty report (JSON, CSV or HTML with charts)",
                       description="Happy Index, CSAT and NPS with 95% confidence intervals; trends, heatmap, "
                                   "site ranking, drivers, actions before/after, employee pulse, alerts. "
                                   "Reads the rollups only. Keys of the JSON: docs/analysis.md.")
    p.add_argument("--format", choices=FORMATS, default="json",
                   help="output format (default json); xlsx: the CSV's rows as an Excel workbook, a sheet per section")
    p.add_argument("--site", action="append", type=nonempty, default=[], metavar="SITE",
                   help="only this site (repeat or comma-separate for several); default the whole chain")
    p.add_argument("--question", action="append", type=nonempty, default=[], metavar="QUESTION",
                   help="only this question id (repeat or comma-separate)")
    p.add_argument("--from", dest="date_from", type=day, metavar="YYYY-MM-DD",
                   help=f"first day (site-local, {DAY_FORMAT}; default: the 28 days up to --to, from the first "
                        "day with answers if that is later)")
    p.add_argument("--to", dest="date_to", type=day, metavar="YYYY-MM-DD",
                   help="last day (default: the last day with answers)")
    p.add_argument("--lang", choices=LANGUAGES, default="sv", help="language of the HTML/CSV text (default sv)")
    p.add_argument("--min-ranked-n", type=count, default=30, metavar="N",
                   help="sites with fewer answers in the period are listed, not ranked (default 30)")
    p.add_argument("--min-employee-group", type=count, default=None, metavar="N",
                   help="show employee-pulse figures only for groups of at least N answers (at least 5; "
                        "default: the centre's setting, `kiosk-central privacy`)")
    p.add_argument("--output", "-o", type=output_file, metavar="FILE",
                   help="write to FILE instead of standard output, '-' (whole or not at all: a reader never sees half of it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    p.set_defaults(func=run)


def _split(values: list[str]) -> tuple[str, ...]:
    out = []
    for v in values:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return tuple(dict.fromkeys(out))


def render(report: dict, fmt: str, lang: str) -> str | bytes:
    from server_sync.report import html, tabular
    if fmt == "html":
        return html.render(report, lang)
    if fmt == "csv":
        return tabular.render_csv(report)
    if fmt == "xlsx":
        return tabular.render_xlsx(report)
    return tabular.render_json(report)


def _empty_said(db, f, period: dict | None, now: datetime) -> str | None:
    """The warning for a report without answers in its period (of the filter's sites and
    questions), None when it has some (an employee group's figures left out for privacy are
    answers). It says where the customers' answers are, up to the centre's today, so a mistyped
    year is not read as a quiet chain; never an employee question's days (privacy)."""
    from server_sync.analysis.chain_report import centre_today
    from server_sync.analysis.queries import ReportFilter, data_range, questions
    if period is not None:
        _first, last = data_range(db, ReportFilter(f.sites, f.questions), until=period["to"])
        if last is not None and last >= period["from"]:
            return None
    catalogue = questions(db)
    customer = tuple(q for q in (f.questions or sorted(catalogue)) if catalogue[q]["audience"] == "customer")
    first, last = (data_range(db, ReportFilter(f.sites, customer), until=centre_today(db, now, f.sites))
                   if customer else (None, None))
    parts = [f"{what}{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
             for what, ids in (("site", f.sites), ("question", f.questions)) if ids]
    scope = f" ({'; '.join(parts)})" if parts else ""
    if period is None:
        return f"no answers{scope} yet"
    return (f"no answers{scope} from {period['from']} to {period['to']}"
            + (f"; the customers' answers run from {first} to {last}" if first else ""))


def _check_output(output: str) -> None:
    """Refuse an --output that is a directory, or that cannot be looked at (a directory this user
    may not enter, a name too long), before the report is built; Path.is_dir raises for these."""
    try:
        is_dir = Path(output).is_dir()
    except OSError as e:
        raise CentralConfigError(f"cannot write --output {output}: {e.strerror}") from None
    if is_dir:
        raise CentralConfigError(f"--output {output} is a directory")


def run(args: argparse.Namespace) -> int:
    from server_sync.analysis.chain_report import build
    from server_sync.analysis.queries import ReportFilter
    from server_sync.central.db import connect

    from server_sync.analysis.privacy import check_min_group
    if args.min_employee_group is not None:
        check_min_group(args.min_employee_group)
    f = ReportFilter(_split(args.site), _split(args.question), *period(args),
                     min_ranked_n=args.min_ranked_n, min_employee_group=args.min_employee_group)
    if args.output:
        _check_output(args.output)
    if args.format == "xlsx" and not args.output and sys.stdout.isatty():
        raise CentralConfigError("--format xlsx is a binary file: give --output FILE (or send it to a pipe)")
    progress = progress_callback(unit="step", desc="report", enabled=not args.no_progress, detail=str)
    db = connect(existing_database_url(args))
    try:
        now = datetime.now(timezone.utc)
        report = build(db, f, now=now, progress=progress)
        if said := _empty_said(db, f, report["period"], now):
            print(f"kiosk-central: warning: {said}", file=sys.stderr)
    finally:
        db.close()
    text = render(report, args.format, args.lang)
    if args.output:
        try:
            write_output(args.output, text)
        except OSError as e:
            raise CentralConfigError(f"cannot write --output {args.output}: {e.strerror}") from None
    elif isinstance(text, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(text)
    return 0
