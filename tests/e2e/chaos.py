"""``make chaos``: every fault case of tests/e2e/faults.py over several seeds, as a table.

    python -m tests.e2e.chaos [--cases pause,kills] [--seeds 1,2,3]

Runs against KAFKA_BOOTSTRAP_SERVERS (``make chaos`` starts the local platform); prints one
row per case and seed with the first divergence of a failing run; exit 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from stocksignal.bootstrap import settings_from_env
from tests.e2e import faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases", default=",".join(faults.CASES), help="comma-separated case names"
    )
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(faults.CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; known: {', '.join(faults.CASES)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    base = settings_from_env()
    rows = []
    print(
        f"{'case':<18} {'seed':>4}  {'result':<6} {'seconds':>7}  first divergence / facts",
        flush=True,
    )
    for case in cases:
        for seed in seeds:
            started = time.monotonic()
            workdir = Path(tempfile.mkdtemp(prefix=f"chaos-{case}-{seed}-"))
            try:
                report = faults.run_case(case, seed, base, workdir)
                ok, note = (
                    report.ok,
                    report.first().splitlines()[0] if not report.ok else str(report),
                )
            except Exception as exc:  # a case that could not even run is a failure too
                ok, note = False, f"{type(exc).__name__}: {exc}".splitlines()[0]
            seconds = time.monotonic() - started
            rows.append((case, seed, ok))
            print(
                f"{case:<18} {seed:>4}  {'pass' if ok else 'FAIL':<6} {seconds:>7.0f}  {note[:160]}",
                flush=True,
            )
            if not ok:
                print(f"{'':<32}  worker logs, report.txt and kept topics: {workdir}", flush=True)
    failed = [r for r in rows if not r[2]]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} runs passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
