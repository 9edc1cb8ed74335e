"""``python -m stocksignal.bench [processor|api|all] [--quick]``: the benchmarks, with targets.

Figures go to stdout and to ``.local/bench/``; docs/performance.md explains them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from stocksignal.bootstrap import settings_from_env

FLOOR_EVENTS_PER_S = 3000
CEILING_P99_MS = 500


def processor(quick: bool) -> bool:
    from stocksignal.bench import processor as bench

    settings = settings_from_env()
    r = bench.run(
        settings,
        events=20_000 if quick else 60_000,
        seconds=10 if quick else 30,
        baseline_n=30_000 if quick else 100_000,
    )
    ok_rate = r.events_per_s >= FLOOR_EVENTS_PER_S
    ok_p99 = r.latency_ms["p99"] <= CEILING_P99_MS
    print()
    print("processor benchmark (one worker)")
    print(f"  baseline passthrough     {r.baseline_rps:10,.0f} records/s")
    print(f"  sustained throughput     {r.events_per_s:10,.0f} input events/s  "
          f"({r.commands / r.seconds:,.0f} commands/s)  floor {FLOOR_EVENTS_PER_S:,}: {'ok' if ok_rate else 'BELOW'}")
    print(f"  ratio to baseline        {r.ratio:10.3f}")
    print(f"  latency @1000 events/s   p50 {r.latency_ms['p50']:.0f} ms  p99 {r.latency_ms['p99']:.0f} ms  "
          f"max {r.latency_ms['max']:.0f} ms  ceiling p99 {CEILING_P99_MS} ms: {'ok' if ok_p99 else 'ABOVE'}")
    out = Path(".local/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"processor-{int(time.time())}.json").write_text(json.dumps({
        "baseline_records_per_s": r.baseline_rps, "events": r.events, "commands": r.commands,
        "seconds": r.seconds, "events_per_s": r.events_per_s, "ratio": r.ratio, "latency_ms": r.latency_ms,
    }, indent=2))
    return ok_rate and ok_p99


def api(quick: bool) -> bool:
    from stocksignal.bench import api as bench_api

    return bench_api.main(["--duration", "5"] if quick else []) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stocksignal.bench")
    parser.add_argument("which", nargs="?", default="all", choices=["all", "processor", "api"])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke check, not figures)")
    args = parser.parse_args(argv)
    ok = True
    if args.which in ("all", "processor"):
        ok &= processor(args.quick)
    if args.which in ("all", "api"):
        ok &= api(args.quick)
    print("\nreproduce with: make bench   (or: python -m stocksignal.bench " + args.which + ")")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
