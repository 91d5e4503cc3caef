"""`make demo` / `make demo-headless`: the whole Kundpuls chain on one laptop.

1. a demo certificate authority and a broker certificate for localhost, made with openssl;
2. a central store (SQLite) with generated history (seeds.history) and comments, regions, a demo
   admin and a store manager, and the demo kiosk registered through `kiosk-central kiosk add`
   (its broker password and ACL block written into the broker's files, as in production);
3. mosquitto with the shipped configuration (firmware_config/mosquitto/kundpuls.conf: TLS on both
   listeners, per-listener password files and ACLs, the per-kiosk rate limit plugin built from
   firmware_config/mosquitto/ratelimit/), its paths and ports pointed at this run;
4. `kiosk-central ingest` on the centre's listener, `kiosk-central serve` (two workers);
5. the kiosk's sync agent (`kiosk sync`) and the kiosk (`kiosk run --demo`, or `--headless`) on
   the kiosk listener, with a kiosk.toml made from the demo config.

It prints the dashboard's address, the demo logins, a ready line of the centre's CLI on the demo's
store, and (with the window) the kiosk's keys, staff PIN and data. A key press on the kiosk is on the
dashboard within two seconds. Ctrl-C, or the kiosk quitting (`q`), stops everything it started.
Everything lives in .kundpuls-demo/ (made afresh on each run; `--dir` elsewhere: a new or empty
directory, or one an earlier run made: seeds/demo_dir.py). Outside the product: it uses the
product's commands and never the other way round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kiosk.display import no_display
from seeds.broker_plugin import with_built_plugin
from seeds.demo_dir import MARKER, make_afresh, refusal

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "firmware_config" / "mosquitto"
KIOSK_ID = "demo-kiosk-1"
DEMO_SITE = "s001"                 # the generated chain's first site (Stockholm)
DEFAULT_DIR = ROOT / ".kundpuls-demo"
REGIONS = {"Europe/Stockholm": ("se", "Sverige"), "Europe/Oslo": ("no", "Norge")}


def free_port(preferred: int = 0) -> int:
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def run(*cmd: str, stdin: str | None = None, cwd: Path = ROOT) -> str:
    proc = subprocess.run(list(cmd), input=stdin, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{proc.stderr or proc.stdout}")
    return proc.stdout


def make_ca(d: Path) -> None:
    """A CA and a broker certificate for localhost and 127.0.0.1, valid for this demo."""
    d.mkdir(parents=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
        "-subj", "/CN=Kundpuls Demo CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "server.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                                  "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "30", "-extfile", "server.ext", cwd=d)
    os.chmod(d / "server.key", 0o644)       # mosquitto may drop privileges before reading it


def broker_config(d: Path, certs: Path, kiosk_port: int, centre_port: int) -> Path:
    """The shipped kundpuls.conf with this run's files and ports (loopback only); everything else
    (TLS on both listeners, per-listener users and ACLs, queue limits) as shipped."""
    text = with_built_plugin((SHIPPED / "kundpuls.conf").read_text(encoding="utf-8"))
    text = text.replace("/etc/mosquitto/certs/", f"{certs}/").replace("/etc/mosquitto/", f"{d}/")
    text = re.sub(r"^listener 8883$", f"listener {kiosk_port} 127.0.0.1", text, flags=re.M)
    text = re.sub(r"^listener 8884$", f"listener {centre_port} 127.0.0.1", text, flags=re.M)
    # What Debian's mosquitto.conf sets around the shipped drop-in.
    text += f"\npersistence_location {d}/\nlog_dest file {d}/mosquitto.log\n"
    if os.geteuid() == 0:
        text += "user root\n"                # else mosquitto drops to `mosquitto`, who cannot read this dir
    conf = d / "mosquitto.conf"
    conf.write_text(text, encoding="utf-8")
    for acl in ("kundpuls.acl", "kundpuls-central.acl"):
        shutil.copy(SHIPPED / acl, d / acl)
    for passwd in ("kundpuls.passwd", "kundpuls-central.passwd"):
        (d / passwd).touch(mode=0o600)
    return conf


def toml_text(mapping: dict[str, Any]) -> str:
    """A kiosk.toml for the demo mapping (tables, arrays of tables, plain values)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(type(v))
    lines = [f"{k} = {value(v)}" for k, v in mapping.items() if not isinstance(v, (dict, list))
             or (isinstance(v, list) and not any(isinstance(x, dict) for x in v))]
    for k, v in mapping.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {value(vv)}" for kk, vv in v.items()]
        elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
            for item in v:
                lines += ["", f"[[{k}]]"] + [f"{kk} = {value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def history_spec(sites: int, days: int, now: datetime):
    """The demo's generated chain: history up to yesterday, every kiosk's last status at `now`."""
    from seeds.history import HistorySpec
    return HistorySpec(sites=sites, days=days, end=now.astimezone().date() - timedelta(days=1),
                       status_at=now)


def prepare(d: Path, sites: int, days: int, kiosk_port: int, centre_port: int) -> dict:
    """Everything on disk before the first process starts; returns what `start` needs."""
    from kiosk.demo import demo_config_mapping
    from seeds.comments import add_comments
    from seeds.history import generate
    from server_sync.central.db import connect

    make_afresh(d)                          # `main` checked it is the demo's to empty
    (d / "logs").mkdir()
    make_ca(d / "certs")
    broker_dir = d / "mosquitto"
    broker_dir.mkdir()
    conf = broker_config(broker_dir, d / "certs", kiosk_port, centre_port)
    url = f"sqlite:///{d / 'central.db'}"
    print(f"demo: generating {sites} sites × {days} days of history …", flush=True)
    db = connect(url)
    try:
        generate(db, history_spec(sites, days, datetime.now(timezone.utc)), progress=lambda *a: None)
        add_comments(db, share=0.5)
        zones = dict(db.execute_sql("SELECT id, timezone FROM site").fetchall())
    finally:
        db.close()
    central = [sys.executable, "-m", "server_sync", "--db", url]
    for zone, (region, name) in REGIONS.items():
        members = sorted(s for s, z in zones.items() if z == zone)
        if members:
            run(*central, "region", "add", region, "--name", name)
            run(*central, "region", "assign", region, *members)
    logins = {"demo": secrets.token_urlsafe(9), "butik": secrets.token_urlsafe(9)}
    run(*central, "user", "add", "demo", "--role", "admin", "--language", "sv", "--password-stdin",
        stdin=logins["demo"] + "\n")
    run(*central, "user", "add", "butik", "--role", "store-manager", "--site", DEMO_SITE, "--password-stdin",
        stdin=logins["butik"] + "\n")
    # The kiosk, provisioned as in production: its broker user and ACL block go into the broker's files.
    added = json.loads(run(*central, "kiosk", "add", KIOSK_ID, "--site", DEMO_SITE, "--password-file",
                           str(broker_dir / "kundpuls.passwd"), "--acl-file", str(broker_dir / "kundpuls.acl"),
                           "--broker-host", "localhost", "--broker-port", str(kiosk_port), "--json"))
    central_password = secrets.token_urlsafe(18)
    run("mosquitto_passwd", "-b", str(broker_dir / "kundpuls-central.passwd"), "central", central_password)
    (d / "central.password").write_text(central_password + "\n")
    (d / "kiosk.password").write_text(added["password"] + "\n")
    for f in ("central.password", "kiosk.password"):
        os.chmod(d / f, 0o600)
    mapping = demo_config_mapping(KIOSK_ID, DEMO_SITE)
    mapping["broker"] = {"host": "localhost", "port": kiosk_port, "tls": True, "ca_file": str(d / "certs" / "ca.crt"),
                         "username": KIOSK_ID, "password_file": str(d / "kiosk.password"), "keepalive_s": 10}
    # A laptop's clock may never say it synced: the demo's answers go at once (docs/sync.md).
    mapping["sync"] = {"status_interval_s": 10.0, "clock_wait_s": 0.0}
    (d / "kiosk.toml").write_text(toml_text(mapping), encoding="utf-8")
    return {"url": url, "conf": conf, "logins": logins}


class Stopping(Exception):
    """Ctrl-C (or SIGTERM) while the chain was starting."""


class Chain:
    """The processes of the demo; all of them stop when one does, or on Ctrl-C."""

    def __init__(self, d: Path) -> None:
        self.d = d
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.stopping = False

    def start(self, name: str, cmd: list[str], *, log: bool = True) -> subprocess.Popen:
        out = open(self.d / "logs" / f"{name}.log", "ab") if log else None
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT if log else None,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1"))
        self.procs.append((name, proc))
        return proc

    def wait_for(self, name: str, ready, timeout: float = 60) -> None:
        """Until `ready()`; Stopping when a signal came meanwhile (the children got Ctrl-C too,
        and their ending is no failure to report)."""
        deadline = time.monotonic() + timeout
        proc = dict(self.procs)[name]
        while time.monotonic() < deadline:
            if self.stopping:
                raise Stopping
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}); see {self.d / 'logs' / (name + '.log')}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready; see {self.d / 'logs' / (name + '.log')}")

    def log(self, name: str) -> str:
        try:
            return (self.d / "logs" / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def watch(self) -> str:
        """Until one process ends (or a signal): its name."""
        while not self.stopping:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    return name
            time.sleep(0.2)
        return "signal"

    def stop(self) -> None:
        """SIGTERM to each (kiosk first, broker last), then SIGKILL what is still running."""
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def central_cli(url: str) -> str:
    """A ready command line of the centre's CLI on the demo's store (this venv's, when it has one)."""
    exe = Path(sys.executable).parent / "kiosk-central"
    return f"{exe if exe.exists() else 'kiosk-central'} --db {url}"


def banner(d: Path, setup: dict, web_port: int, *, window: bool) -> str:
    """What the running demo says: the dashboard, its logins, the centre's CLI, the files; with
    the window, the kiosk's own banner too (the window kiosk's output goes to its log; the
    headless kiosk prints it in this terminal itself)."""
    text = (f"\nKundpuls demo is running.\n"
            f"  dashboard   http://127.0.0.1:{web_port}/\n"
            f"  login       demo / {setup['logins']['demo']}   (admin, every site)\n"
            f"              butik / {setup['logins']['butik']}   (store manager, {DEMO_SITE} only)\n"
            f"  centre CLI  {central_cli(setup['url'])} fleet\n"
            f"              (or report, alerts list, …: kiosk-central --help)\n"
            f"  files, logs {d}\n"
            f"              (made afresh on every run; delete it to remove the demo)\n"
            f"Ctrl-C stops everything.\n")
    if window:
        from kiosk.demo_banner import demo_banner
        from kiosk.loading import load
        text += "\n" + demo_banner(load(str(d / "kiosk.toml"), str(d / "kiosk"), env={}), window=True) + "\n"
    return text


def whole_number(low: int, high: int | None = None):
    """An argparse type: a whole number from `low` (to `high`); else a usage error saying so
    (`--sites 0` was a RuntimeError, `--web-port 99999` an OverflowError, `--days -1` a ValueError)."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < low or (high is not None and n > high):
            raise argparse.ArgumentTypeError(f"{n}: must be at least {low}" if high is None
                                             else f"{n}: must be {low} to {high}")
        return n
    return parse


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m seeds.demo_chain", description=__doc__.split("\n\n")[0])
    p.add_argument("--headless", action="store_true", help="the buttons-only kiosk in this terminal, no window")
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                   help=f"where the demo's files go, emptied on each run: a new or empty directory, or one "
                        f"the demo made (it holds {MARKER}); default .kundpuls-demo/ in the clone")
    p.add_argument("--sites", type=whole_number(1), default=12, help="sites of the generated chain (default 12)")
    p.add_argument("--days", type=whole_number(0), default=120, help="days of history (default 120)")
    p.add_argument("--web-port", type=whole_number(0, 65535), default=8080, help="dashboard port (default 8080, else a free one)")
    args = p.parse_args(argv)
    if not args.headless and (why := no_display(os.environ)):
        p.error(why)
    d = args.dir.resolve()
    if why := refusal(d, DEFAULT_DIR):
        p.error(f"--dir: {why}")
    kiosk_port, centre_port, web_port = free_port(8883), free_port(8884), free_port(args.web_port)
    try:
        setup = prepare(d, args.sites, args.days, kiosk_port, centre_port)
    except KeyboardInterrupt:
        print("demo: stopped before it started.", file=sys.stderr, flush=True)
        return 130
    except RuntimeError as e:               # openssl or a `kiosk-central` step that failed: which, and why
        print(f"demo: {e}", file=sys.stderr, flush=True)
        return 1
    chain = Chain(d)

    def on_signal(signum, frame) -> None:
        chain.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    central = [sys.executable, "-m", "server_sync", "--db", setup["url"]]
    kiosk = [sys.executable, "-m", "kiosk", "--config", str(d / "kiosk.toml"), "--data-dir", str(d / "kiosk")]
    try:
        chain.start("mosquitto", ["mosquitto", "-c", str(setup["conf"])])
        chain.wait_for("mosquitto", lambda: port_open(kiosk_port) and port_open(centre_port))
        chain.start("ingest", central + ["ingest", "--broker-host", "localhost", "--broker-port", str(centre_port),
                                         "--ca-file", str(d / "certs" / "ca.crt"), "--username", "central",
                                         "--password-file", str(d / "central.password"),
                                         "--client-id", "demo-ingest"])
        chain.wait_for("ingest", lambda: "subscribed to" in chain.log("ingest"))
        chain.start("web", central + ["serve", "--port", str(web_port), "--workers", "2"])
        chain.wait_for("web", lambda: chain.log("web").count("Application startup complete") >= 2)
        chain.start("sync", kiosk + ["sync"])
        print(banner(d, setup, web_port, window=not args.headless), flush=True)
        chain.start("kiosk", kiosk + ["run", "--demo"] + (["--headless"] if args.headless else []),
                    log=not args.headless)
        ended = chain.watch()
        if ended not in ("signal", "kiosk"):
            print(f"demo: {ended} stopped unexpectedly; see {d / 'logs' / (ended + '.log')}", file=sys.stderr)
    except Stopping:
        pass                                # Ctrl-C while starting: stopped below, as after the banner
    except RuntimeError as e:               # a part that did not start: which, and its log
        print(f"demo: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        chain.stop()
        print("demo: everything stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
