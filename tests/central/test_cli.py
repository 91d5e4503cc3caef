"""`kiosk-central` argument mistakes end in `kiosk-central: error: …` and exit 2, never a traceback."""

from __future__ import annotations

import json

import pytest

from server_sync.central.db import connect
from server_sync.cli import main
from tests.analysis.seeding import add_question, add_site
from tests.fixtures.cli import central, said_error


def test_ingest_argument_mistakes_are_clear_errors(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    empty = tmp_path / "empty.pass"
    empty.write_text("\n")
    for argv, msg in [(["--password-file", str(tmp_path / "nope")], "cannot read --password-file"),
                      (["--password-file", str(empty)], "is empty"),
                      (["--prefix", "acme"], "--prefix must end with '/'"),
                      (["--no-tls", "--ca-file", "ca.crt"], "contradict"),
                      (["--broker-port", "70000"], "--broker-port must be 1-65535"),
                      (["--max-bytes", "10"], "--max-bytes must be at least 1024"),
                      (["--client-id", "bad id!"], "--client-id must be")]:
        assert main(["ingest", *argv, *db]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
    assert main(["ingest", "--db", "mysql://x/y"]) == 2
    assert "scheme must be sqlite or postgresql" in capsys.readouterr().err


# --- every date, id, count and site argument (a mistake there was stored, or crashed later) ---

H = "99999999999999999999999"           # overflows SQLite's and PostgreSQL's integers


@pytest.fixture
def shop(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    db = connect(url)
    add_site(db, "s1")
    add_question(db)
    db.close()
    return url


@pytest.mark.parametrize("argv", [
    ("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--date", "D"),
    ("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--due", "D"),
    ("alerts", "due", "1", "D"),
    ("alerts", "close", "1", "--outcome", "action", "--note", "x", "--date", "D"),
    ("report", "--from", "D"), ("report", "--to", "D"),
    ("erase", "--contains", "abc", "--from", "D"), ("erase", "--contains", "abc", "--to", "D")])
@pytest.mark.parametrize("bad, message", [
    ("0001-01-01", "0001-01-01 is outside 2000-01-01 … 2099-12-31"), ("9999-12-31", "9999-12-31 is outside"),
    ("20261201", "'20261201' is not a date (YYYY-MM-DD)"), ("2026-W01-1", "'2026-W01-1' is not a date"),
    ("2026-02-30", "'2026-02-30' is not a date"), ("٢٠٢٦-١٢-٠١", "'٢٠٢٦-١٢-٠١' is not a date")])
def test_a_date_is_yyyy_mm_dd_within_the_century(shop, capsys, argv, bad, message):
    """Year 1 or 9999 crashed every later `action list|show` (the effect windows overflow `date`);
    20261201 was read by date.fromisoformat but stored and compared as typed."""
    assert central("--db", shop, *[bad if a == "D" else a for a in argv]) == 2
    before = argv[argv.index("D") - 1]
    option = before if before.startswith("--") else "YYYY-MM-DD"
    assert said_error(capsys.readouterr().err, f"argument {option}: {message}")


def test_a_good_date_is_stored_as_given(shop, capsys):
    assert central("--db", shop, "action", "add", "--site", "s1", "--question", "visit", "--note", "x",
                   "--date", "2026-11-25", "--due", "2099-12-31", "--json") == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["date"] == "2026-11-25" and stored["due_date"] == "2099-12-31"


@pytest.mark.parametrize("argv, message", [
    (("alerts", "show", H), f"argument ID: {H} is not between 1 and {2 ** 63 - 1}"),
    (("alerts", "show", "0"), "argument ID: 0 is not between"),
    (("alerts", "ack", "x1"), "argument ID: 'x1' is not a whole number"),
    (("action", "show", H), "argument ID"),
    (("alerts", "assign", H, "sara"), "argument ID"),
    (("alerts", "close", "1", "--outcome", "duplicate", "--duplicate-of", H), "argument --duplicate-of"),
    (("alerts", "close", "1", "--outcome", "action", "--action", H), "argument --action"),
    (("action", "add", "--from-alert", H, "--note", "x"), "argument --from-alert"),
    (("question", "define", "visit", H, "--scale", "smiley4", "--audience", "customer"),
     f"argument VERSION: {H} is not between 1 and {2 ** 31 - 1}"),
    (("question", "define", "visit", "0", "--scale", "smiley4", "--audience", "customer"), "argument VERSION"),
    (("user", "audit", "--limit", H), "argument --limit"),
    (("report", "--min-ranked-n", H), "argument --min-ranked-n"),
    (("privacy", "set", "--comments-months", "100000"), "argument --comments-months: 100000 is not between 1 and 1200"),
    (("privacy", "set", "--audit-months", H), "argument --audit-months"),
    (("privacy", "set", "--dead-letters-days", H), "argument --dead-letters-days: "),
    (("privacy", "set", "--min-employee-group", H), "argument --min-employee-group"),
])
def test_ids_counts_and_periods_are_bounded(shop, capsys, argv, message):
    """A huge id overflowed SQLite (OverflowError, peewee.IntegrityError); a retention period of
    100000 months crashed `retention run` (a year before 1)."""
    assert central("--db", shop, *argv) == 2
    assert said_error(capsys.readouterr().err, message)


def test_the_largest_retention_period_still_runs(shop, capsys):
    assert central("--db", shop, "privacy", "set", "--comments-months", "1200", "--audit-months", "1200",
                   "--dead-letters-days", "36500") == 0
    assert central("--db", shop, "retention", "run", "--dry-run") == 0
    assert "retention would remove" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [("alerts", "check", "--no-publish"), ("alerts", "list"), ("action", "list"),
                                  ("erase", "--contains", "abc", "--dry-run")])
def test_an_unknown_site_is_an_error_as_in_report(shop, capsys, argv):
    """A typo read as 'nothing there': `0 new alert(s)`, an empty list, 'would remove 0 comments'."""
    assert central("--db", shop, *argv, "--site", "nosuch") == 2
    assert said_error(capsys.readouterr().err, "unknown site 'nosuch'")
    assert central("--db", shop, *argv, "--site", "s1") == 0


def test_erase_refuses_from_after_to(shop, capsys):
    assert central("--db", shop, "erase", "--contains", "abc", "--from", "2026-11-10", "--to", "2026-11-01") == 2
    assert said_error(capsys.readouterr().err, "--from 2026-11-10 is after --to 2026-11-01")


@pytest.mark.parametrize("argv, message", [
    (("alerts", "ack", "1", "--by", " "), "argument --by: must not be empty"),
    (("alerts", "assign", "1", ""), "argument USER: must not be empty"),
    (("action", "add", "--site", "s1", "--question", "visit", "--note", "x", "--owner", ""), "argument --owner"),
    (("site", "add", "s2", "--name", "x" * 100_000), "argument --name: is 100000 characters; at most 200"),
    (("region", "add", "r1", "--name", "  "), "argument --name: must not be empty"),
    (("digest", "send", "--dry-run", "--user", ""), "argument --user: must not be empty"),     # was: everybody's
    (("user", "audit", "--user", ""), "argument --user: must not be empty"),                  # was: all entries
    (("alerts", "list", "--owner", "nobody"), "no user 'nobody'"),
    (("alerts", "check", "--no-publish", "--webhook-timeout", "nan"), "argument --webhook-timeout: nan is not between"),
    (("alerts", "check", "--no-publish", "--webhook-timeout", "-5"), "argument --webhook-timeout")])
def test_names_are_not_blank_nor_a_book(shop, capsys, argv, message):
    assert central("--db", shop, *argv) == 2
    assert said_error(capsys.readouterr().err, message)


def test_region_assign_counts_a_site_named_twice_once(shop, capsys):
    assert central("--db", shop, "region", "add", "r1", "--name", "North") == 0
    assert central("--db", shop, "region", "assign", "r1", "s1", "s1") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 site(s) now in region r1"


def test_report_help_says_95_percent(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "95% confidence" in out and "%%" not in out
