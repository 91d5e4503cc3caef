"""`kiosk-central serve`: the central office's web app (server_sync.web) under uvicorn, with
several worker processes. Each worker connects to the central database itself; they meet only
there (sessions, live marks), so workers and ingestors can be added freely."""

from __future__ import annotations

import argparse
import os
import socket
import ssl

from server_sync.cli import connect_new_store, database_url
from server_sync.commands._argtypes import number, proxy_addresses
from server_sync.exc import CentralConfigError
from server_sync.program.files import not_a_file


def add_parser(sub, common) -> None:
    p = sub.add_parser("serve", parents=[common], help="run the web app (pages, JSON API, live updates)",
                       description="The central office's web app: overview, sites, site, comments, alerts, "
                                   "actions and fleet pages for signed-in users (kiosk-central user add), "
                                   "the JSON API under /api/v1, live updates. Until SIGTERM or Ctrl-C.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; behind a reverse "
                                                        "proxy keep it local)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--certfile", metavar="FILE", help="TLS certificate (PEM, with its chain): serve HTTPS")
    p.add_argument("--keyfile", metavar="FILE", help="TLS private key (PEM) of --certfile")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="worker processes (default 2)")
    p.add_argument("--forwarded-allow-ips", type=proxy_addresses, default="127.0.0.1", metavar="IPS",
                   help="reverse proxies whose X-Forwarded-For/-Proto are believed: comma-separated IP "
                        "addresses or CIDR networks, or * for any (default 127.0.0.1)")
    p.add_argument("--idle-minutes", type=number(0, 7 * 24 * 60, "minutes", above_low=True), default=30.0, metavar="M",
                   help="a session unused this long ends (default 30)")
    p.add_argument("--cache-seconds", type=number(0, 86400, "seconds"), default=30.0, metavar="S",
                   help="longest a worker reuses computed figures; new answers refresh them at once "
                        "(default 30; 0: never reuse)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from server_sync.central.dialect import check_lower
    from server_sync.web.app import ENV_SETTINGS, WebSettings

    if not 1 <= args.port <= 65535:
        raise CentralConfigError(f"--port must be 1-65535, got {args.port}")
    if not 1 <= args.workers <= 64:
        raise CentralConfigError(f"--workers must be 1-64, got {args.workers}")
    if bool(args.certfile) != bool(args.keyfile):
        raise CentralConfigError("--certfile and --keyfile go together")
    for option, path in (("--certfile", args.certfile), ("--keyfile", args.keyfile)):
        if path and (kind := not_a_file(path)):           # a FIFO's open waits for a writer for ever
            raise CentralConfigError(f"{option} {path} is {kind}, not a file")
        if path and not os.access(path, os.R_OK):
            raise CentralConfigError(f"{option} {path} is not a readable file")
    if args.certfile:
        check_tls_pair(args.certfile, args.keyfile)
    check_listen(args.host, args.port)
    url = database_url(args)
    db = connect_new_store(args)              # migrate once here, before the workers start
    try:
        check_lower(db)             # the comments' search: refused here, not on each search
    finally:
        db.close()
    os.environ[ENV_SETTINGS] = WebSettings(url, args.idle_minutes, args.cache_seconds).encode()
    scheme = "https" if args.certfile else "http"
    print(f"kiosk-central serve: {scheme}://{args.host}:{args.port}/ ({args.workers} worker{'s' if args.workers != 1 else ''})", flush=True)
    uvicorn.run("server_sync.web.app:create_app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, ssl_certfile=args.certfile, ssl_keyfile=args.keyfile, proxy_headers=True,
                forwarded_allow_ips=args.forwarded_allow_ips, timeout_graceful_shutdown=2,
                log_level=args.log_level, server_header=False)
    return 0


def check_tls_pair(certfile: str, keyfile: str) -> None:
    """Load the pair once here: each uvicorn worker loads it itself, and one that cannot is
    restarted for ever (a traceback a second, the command never ends)."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as e:
        raise CentralConfigError(f"--certfile/--keyfile: not a PEM certificate and matching key ({e})") from None


def check_listen(host: str, port: int) -> None:
    """Bind (and let go of) the address uvicorn will listen on, so that a bad --host or a port in
    use is a clear error rather than uvicorn's log line and exit 3. SO_REUSEADDR as uvicorn sets
    it: a port whose old connections linger in TIME_WAIT is free."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
    except OSError as e:
        raise CentralConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
