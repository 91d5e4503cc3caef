"""`kiosk config check [PATH]` and `kiosk config keys`: validate a config, list every key (from
the schema, `kiosk.config.KEYS`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kiosk.config import KEYS, load_file
from kiosk.exc import ConfigError
from kiosk.loading import effective_data_dir, load_config
from server_sync.program.cli import nonempty


def add_parser(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="check a kiosk.toml or list its keys")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c = csub.add_parser("check", parents=[common], help="validate a config file (exit 2 when broken)")
    # Not empty: `config check ""` (an unset $CFG) checked the built-in defaults and said ok.
    c.add_argument("path", nargs="?", type=nonempty, help="file to check (default: the effective config)")
    c.add_argument("--json", action="store_true", help="print the effective config as JSON")
    c.set_defaults(func=check)
    k = csub.add_parser("keys", parents=[common], help="list every config key with its default")
    k.add_argument("--json", action="store_true")
    k.set_defaults(func=keys)


def check(args: argparse.Namespace) -> int:
    named = getattr(args, "config", None)
    if args.path and named and Path(named) != Path(args.path):
        # One of the two was silently left unchecked (the path), and "ok" said of the other.
        raise ConfigError(f"--config {named} and the path {args.path} name two files: check one at a time")
    if args.path:
        # The data directory the kiosk would really use: --data-dir, else $KUNDPULS_DATA_DIR.
        cfg = effective_data_dir(load_file(args.path), args.data_dir)
    else:
        cfg = load_config(args)
    if args.json:
        print(json.dumps({
            "kiosk_id": cfg.kiosk_id, "site_id": cfg.site_id, "data_dir": str(cfg.data_dir),
            "config_version": cfg.config_version, "languages": list(cfg.languages),
            "questions": [q.id for q in cfg.questions], "source": str(cfg.source or ""),
        }, indent=2))
    else:
        where = cfg.source or "built-in defaults"
        print(f"{where}: ok (kiosk {cfg.kiosk_id}, site {cfg.site_id}, "
              f"{len(cfg.questions)} question(s), data in {cfg.data_dir})")
    return 0


def keys(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([{"key": k.name, "type": k.type, "default": k.documented_default,
                           "allowed": k.allowed, "doc": k.doc} for k in KEYS],
                         indent=2, ensure_ascii=False))
    else:
        for k in KEYS:
            default = json.dumps(k.documented_default, ensure_ascii=False)
            allowed = f"\n    allowed: {k.allowed}" if k.allowed else ""
            print(f"{k.name:28} {k.type:16} {default}\n    {k.doc}{allowed}")
    return 0
