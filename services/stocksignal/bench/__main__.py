"""``python -m stocksignal.bench [processor|drain|api|all] [--quick]``: the benchmarks, with targets.

``drain`` is the processor bench's backlog drain alone (CPU per input event, one worker).

Figures go to stdout and to ``.local/bench/``; docs/performance.md explains them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from stocksignal.bootstrap import settings_from_env

# The floors of docs/performance.md (one worker, the bench mix).
CEILING_CPU_US_PER_EVENT = 165
FLOOR_EVENTS_PER_S = 5000
CEILING_P99_MS = 300
FLOOR_SPEEDUP_TWO_WORKERS = 1.4


def _verdict(ok: bool, good: str = "ok", bad: str = "MISSED") -> str:
    return good if ok else bad


def processor(quick: bool, rss_skus: tuple[int, ...]) -> bool:
    from stocksignal.bench import processor as bench

    settings = settings_from_env()
    r = bench.run(
        settings,
        events=20_000 if quick else 60_000,
        seconds=10 if quick else 30,
        baseline_n=30_000 if quick else 100_000,
        rss_skus=() if quick else rss_skus,
    )
    checks = {
        "cpu": r.one.cpu_us_per_event <= CEILING_CPU_US_PER_EVENT,
        "rate": r.one.events_per_s >= FLOOR_EVENTS_PER_S,
        "p99": r.latency_ms["p99"] <= CEILING_P99_MS,
        "speedup": r.two is None or r.speedup >= FLOOR_SPEEDUP_TWO_WORKERS,
    }
    # Reserved, rejected and fulfilled always (a zero says something too), then the rest.
    named = {"RESERVED": 0.0, "REJECTED": 0.0, "FULFILLED": 0.0}
    others = {k: v for k, v in r.one.decisions.items() if k not in named and v}
    named.update({k: v for k, v in r.one.decisions.items() if k in named})
    mix = ", ".join(
        f"{k.lower()} {v:,.0f}"
        for k, v in [*named.items(), *sorted(others.items(), key=lambda kv: -kv[1])]
    )
    print()
    print("processor benchmark")
    print(
        f"  baseline passthrough        {r.baseline_rps:10,.0f} records/s, {r.baseline_cpu_us:6.1f} µs CPU per record"
    )
    print(
        f"  CPU per input event         {r.one.cpu_us_per_event:10.0f} µs (worker process, /proc)   "
        f"ceiling {CEILING_CPU_US_PER_EVENT} µs: {_verdict(checks['cpu'])}   x{r.cpu_ratio:.1f} the baseline's"
    )
    commands_per_s = r.one.commands / r.one.seconds
    print(
        f"  one worker, backlog drain   {r.one.events_per_s:10,.0f} input events/s "
        f"({commands_per_s:,.0f} commands/s)   floor {FLOOR_EVENTS_PER_S:,}: {_verdict(checks['rate'])}   "
        f"ratio to baseline {r.ratio:.4f}"
    )
    print(f"  decision mix of the drain   {mix}")
    if r.two is not None:
        print(
            f"  two workers, same backlog   {r.two.events_per_s:10,.0f} input events/s, x{r.speedup:.2f} one worker   "
            f"floor x{FLOOR_SPEEDUP_TWO_WORKERS}: {_verdict(checks['speedup'])}   "
            f"({r.two.cpu_us_per_event:.0f} µs CPU per event)"
        )
    print(
        f"  latency @1000 events/s      p50 {r.latency_ms['p50']:.0f} ms  p99 {r.latency_ms['p99']:.0f} ms  "
        f"max {r.latency_ms['max']:.0f} ms (read_committed)   "
        f"ceiling p99 {CEILING_P99_MS} ms: {_verdict(checks['p99'])}"
    )
    if r.latency_half_ms is not None:
        h = r.latency_half_ms
        print(
            f"  latency @{r.half_rate:,} events/s       p50 {h['p50']:.0f} ms  p99 {h['p99']:.0f} ms  "
            f"max {h['max']:.0f} ms (half this run's capacity: the figure above is queueing behind "
            "a worker slower than 1,000/s)"
        )
    for skus, mib in r.rss_mib.items():
        print(f"  RSS, {skus:,} SKUs x 3 loc   {mib:10,.0f} MiB (one worker, RocksDB)")
    out = Path(".local/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"processor-{int(time.time())}.json").write_text(
        json.dumps(
            {
                "baseline_records_per_s": r.baseline_rps,
                "baseline_cpu_us_per_record": r.baseline_cpu_us,
                "one": vars(r.one),
                "two": vars(r.two) if r.two else None,
                "speedup": r.speedup,
                "latency_ms": r.latency_ms,
                "latency_half_ms": r.latency_half_ms,
                "half_rate": r.half_rate,
                "rss_mib": r.rss_mib,
                "checks": checks,
            },
            indent=2,
        )
    )
    return all(checks.values())


def drain(quick: bool) -> bool:
    from stocksignal.bench import processor as bench

    d = bench.drain_only(settings_from_env(), events=20_000 if quick else 60_000)
    ok = d.cpu_us_per_event <= CEILING_CPU_US_PER_EVENT
    print()
    print("processor backlog drain (one worker)")
    print(
        f"  CPU per input event         {d.cpu_us_per_event:10.0f} µs (worker process, /proc)   "
        f"ceiling {CEILING_CPU_US_PER_EVENT} µs: {_verdict(ok)}"
    )
    print(f"  backlog drain               {d.events_per_s:10,.0f} input events/s")
    return ok


def api(quick: bool) -> bool:
    from stocksignal.bench import api as bench_api

    return bench_api.main(["--duration", "5"] if quick else []) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stocksignal.bench")
    parser.add_argument(
        "which", nargs="?", default="all", choices=["all", "processor", "drain", "api"]
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller runs (a smoke check, not figures)"
    )
    parser.add_argument(
        "--rss-skus",
        default="100000",
        help="comma-separated SKU counts whose worker RSS is measured (e.g. 100000,1000000)",
    )
    args = parser.parse_args(argv)
    ok = True
    if args.which in ("all", "processor"):
        ok &= processor(args.quick, tuple(int(n) for n in args.rss_skus.split(",") if n))
    if args.which == "drain":
        ok &= drain(args.quick)
    if args.which in ("all", "api"):
        ok &= api(args.quick)
    print("\nreproduce with: make bench   (or: python -m stocksignal.bench " + args.which + ")")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
