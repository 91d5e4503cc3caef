"""A small chain for the web tests, built through the product's own commands and generator, and
the web app as a real process (`python -m server_sync serve`) on a free port.

The chain: four generated sites with five weeks of history (seeds.history) and comments; regions
`north` (s001, s002) and `south` (s003, s004); one user per role (the store manager has s003, the
regional manager north); comments that try to inject markup, and one secret per site that only
people who may see the site may ever read; an open alert and an action per site.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import httpx

from server_sync.report.alert_text import alert_text

ROOT = Path(__file__).resolve().parents[2]
SITES = ("s001", "s002", "s003", "s004")
REGIONS = {"north": ("s001", "s002"), "south": ("s003", "s004")}
# name -> (role, scope options, the sites they may see, language)
PEOPLE = {
    "ada-admin": ("admin", [], SITES, "en"),
    "ana-analyst": ("analyst", [], SITES, "sv"),
    "rolf-regional": ("regional-manager", ["--region", "north"], REGIONS["north"], "nb"),
    "sara-store": ("store-manager", ["--site", "s003"], ("s003",), "sv"),
}
PASSWORD = "correct horse battery"
XSS = ['<script>window.__pwned = 1</script>hej', '"><img src=x onerror="window.__pwned=2">tack']


def secret(site: str) -> str:
    """A comment text only people who may see `site` may read."""
    return f"SECRET-OF-{site.upper()}"


def kiosk_central_process(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`python -m server_sync --db URL ARGS` as a process of its own: for a command that runs a
    service (`notify run` takes SIGTERM and SIGINT for itself) or that a test wants as a process."""
    return subprocess.run([sys.executable, "-m", "server_sync", "--db", db_url, *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def kiosk_central(db_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`kiosk-central --db URL ARGS` run in this process (its main(), as the CLI tests call it): what
    it prints and its exit code, like a finished process. A process would add ~0.5 s of start-up
    to each of the dozens of commands the chain and the web tests run; that `python -m server_sync`
    starts at all is test_entrypoints' to prove. Standard input is swapped for `stdin` (an empty
    one without it) while the command runs. Not for a command that runs a service
    (kiosk_central_process)."""
    from server_sync.cli import main
    argv = ["--db", db_url, *args]
    out, err, saved_stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:             # argparse's refusals
                code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdin = saved_stdin
    return subprocess.CompletedProcess(["kiosk-central", *argv], code, out.getvalue(), err.getvalue())


# An alert's text as long as the dip rule's (the pages' tables must hold it: kept on one line it
# pushed the alerts table's last columns off a desktop page); each site's own words end it. Stored
# before m0044, it has no detail and every page shows its message as it is: words and figures no
# language's checks look for (no decimal point, no sentence of the English catalogue).
LONG_ALERT = ("visit 25 / 77 · n 41 · p 4e-4 · queue 12 / 15 · 2026-11-20 … 2026-11-22 · window 3 · baseline 28 ·"
              " rule dip · complaint spike · questions 1 · site's own words next · ")


# The first sites' alerts are such old ones; the others' are as the dip rule stores them (their
# facts, `detail`, worded in each reader's language: what a person sees on today's pages), their
# English message ending in the site's own words.
OLD_ALERTS = ("s001", "s002")
DIP = {"v": 1, "rule": "dip", "question": "visit", "metric": "happy_index", "days": 3, "questions": 1,
       "value": 41.3, "baseline": 71.6, "drop": 30.3, "n": 41, "p_value": 4e-4,
       "complaint": {"reason": "queue", "count": 12, "mentions": 15, "usual_share": 0.25}}


def build_chain(db_url: str) -> None:
    from seeds.comments import add_comments
    from seeds.history import HistorySpec, generate
    from server_sync.central.db import connect
    db = connect(db_url)
    try:
        generate(db, HistorySpec(sites=len(SITES), days=35, end=date.today() - timedelta(days=1), seed=3),
                 progress=lambda *a: None)
        add_comments(db, share=0.5)
        _plant_comments(db)
        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        p = db.param
        from server_sync.analysis.queries import question
        facts = dict(DIP, question_text=question(db, "visit")["text"])       # as the rule stores them
        for s in SITES:
            if s in OLD_ALERTS:
                db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                               f" window_to, n, negative, message) VALUES ({p}, 'visit', 'realtime', {p}, {p}, {p},"
                               f" {p}, 8, 6, {p})",
                               (s, now, now, now, now, LONG_ALERT + f"6 of 8 negative at {s} ALERT-OF-{s.upper()}"))
            else:
                db.execute_sql("INSERT INTO alert (site_id, question_id, kind, raised_at, last_seen_at, window_from,"
                               f" window_to, n, negative, value, baseline, p_value, message, detail) VALUES ({p},"
                               f" 'visit', 'realtime', {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
                               (s, now, now, now - timedelta(days=2), now, DIP["n"], 30, DIP["value"], DIP["baseline"],
                                DIP["p_value"], alert_text({"detail": facts}, "en") + f" ALERT-OF-{s.upper()}",
                                json.dumps(facts)))
            db.execute_sql("INSERT INTO action (site_id, question_id, action_date, note, created_at) VALUES"
                           f" ({p}, 'visit', {p}, {p}, {p})",
                           (s, (date.today() - timedelta(days=10)).isoformat(), f"ACTION-OF-{s.upper()}", now))
    finally:
        db.close()
    for region, sites in REGIONS.items():
        assert kiosk_central(db_url, "region", "add", region, "--name", region.title()).returncode == 0
        assert kiosk_central(db_url, "region", "assign", region, *sites).returncode == 0
    for name, (role, scope, _sites, lang) in PEOPLE.items():
        r = kiosk_central(db_url, "user", "add", name, "--role", role, *scope, "--language", lang,
                          "--password-stdin", stdin=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr


def _plant_comments(db) -> None:
    """Per site: its secret and the two injection attempts, as follow-ups of a recent negative
    customer answer (an employee question's comments are not listed)."""
    p = db.param
    for s in SITES:
        rows = db.execute_sql(f"SELECT id, kiosk_id, recorded_at FROM response WHERE site_id = {p} AND value = 1"
                              " AND audience = 'customer'"
                              " ORDER BY recorded_at DESC LIMIT 3", (s,)).fetchall()
        for (rid, kiosk, at), text in zip(rows, [secret(s)] + XSS):
            db.execute_sql("INSERT INTO followup (id, response_id, kiosk_id, seq, reasons, comment, recorded_at,"
                           f" received_at, answered_at) VALUES ({p}, {p}, {p}, {p}, '[\"queue\"]', {p}, {p}, {p}, {p})",
                           (str(uuid.uuid4()), rid, kiosk, 10 ** 9 + len(text), text, at, at, at))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_in_process(settings) -> Iterator[str]:
    """The app (`settings`: its WebSettings) served by uvicorn in a thread of this process, so that
    a test can patch a failure into what a page calls; its base address. uvicorn's logging is left
    to the root logger, so that caplog sees what it logs too."""
    import uvicorn
    from server_sync.web.app import create_app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None,
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the in-process server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@dataclass
class WebServer:
    """`python -m server_sync serve` as a real process; `url` is its base address."""
    db_url: str
    log_path: Path
    workers: int = 2
    extra: tuple[str, ...] = ()
    port: int = 0
    proc: subprocess.Popen | None = None
    scheme: str = "http"
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "WebServer":
        self.port = self.port or free_port()
        if "--certfile" in self.extra:
            self.scheme = "https"
        self._log = open(self.log_path, "ab")
        self._offset = self.log_path.stat().st_size       # a log may hold an earlier run
        env = dict(os.environ, PYTHONPATH=str(ROOT), **self.env)
        self.proc = subprocess.Popen([sys.executable, "-m", "server_sync", "--db", self.db_url, "serve",
                                      "--port", str(self.port), "--workers", str(self.workers), *self.extra],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.log()}")
            # Uvicorn with one worker says its app has started before it binds the port (seen once
            # under load: the first request refused), so the port must take a connection too.
            if self.log().count("Application startup complete") >= self.workers and self._listening():
                return self
            time.sleep(0.1)
        raise AssertionError(f"serve did not start:\n{self.log()}")

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_bytes()[getattr(self, "_offset", 0):].decode(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def login(base: str, name: str, password: str = PASSWORD, *, ca_file: str | None = None) -> httpx.Client:
    """A client signed in as `name` (its cookie jar holds the session)."""
    verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
    c = httpx.Client(base_url=base, follow_redirects=False, verify=verify, timeout=30)
    r = c.post("/login", data={"name": name, "password": password, "csrf_token": csrf_of(c.get("/login").text),
                               "next": "/"})
    assert r.status_code == 303, (r.status_code, r.text[:500])
    return c
