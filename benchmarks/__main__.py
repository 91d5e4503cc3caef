"""Run benchmarks: `python -m benchmarks` runs every module in benchmarks/ with `run() -> dict`;
`python -m benchmarks tap_commit stats_1m` runs only those. Results go to
benchmarks/results/<name>.json together with the machine info. `python -m benchmarks summary`
prints the README's summary table, made from those results (benchmarks/summary.py)."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

from benchmarks.machine import machine_info

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
_NOT_BENCHMARKS = {"machine", "summary"}


def discover() -> list[str]:
    names = []
    for m in pkgutil.iter_modules([str(HERE)]):
        if m.name.startswith("_") or m.name in _NOT_BENCHMARKS or m.ispkg:
            continue
        names.append(m.name)
    return sorted(names)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["summary"]:
        from benchmarks.summary import main as summary
        return summary(argv[1:])
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--no-save", action="store_true", help="print results, do not write results/")
    args = p.parse_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [n for n in args.names if n not in available]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
    failed = 0
    for name in args.names or available:
        module = importlib.import_module(f"benchmarks.{name}")
        if not callable(getattr(module, "run", None)):
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        # Taken before the run: the code measured is the code at its start (a file edited while
        # a long benchmark runs must not make its result look measured on the edit).
        machine = machine_info()
        t0 = time.monotonic()
        try:
            result = module.run()
        except Exception as e:              # one broken benchmark must not hide the others
            print(f"   failed: {type(e).__name__}: {e}", file=sys.stderr)
            failed += 1
            continue
        record = {"benchmark": name, "machine": machine,
                  "duration_s": round(time.monotonic() - t0, 2), "result": result}
        print(json.dumps(record, indent=2))
        if not args.no_save:
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
