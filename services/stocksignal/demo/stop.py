"""``python3 -m stocksignal.demo.stop``: stop the processes a demo left running.

Standard library only (``make down`` runs it with the system python, PYTHONPATH=services).
Reads the pid files in the demo's run directory (default ``.local/demo``); see :mod:`.procs`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stocksignal.demo.procs import default_run_dir, stop_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m stocksignal.demo.stop", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="the demo's run directory (default .local/demo)"
    )
    parser.add_argument("--quiet", action="store_true", help="say nothing when nothing was running")
    args = parser.parse_args(argv)
    run_dir = args.run_dir or default_run_dir()
    stopped = stop_all(run_dir)
    if stopped:
        print(f"demo: stopped {', '.join(stopped)} ({run_dir})")
    elif not args.quiet:
        print(f"demo: nothing running ({run_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
