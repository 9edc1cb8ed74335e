"""``python -m stocksignal.demo [run|stop|status]``: the same as ``stocksignal demo``."""

import sys

from stocksignal.demo.command import demo

if __name__ == "__main__":
    if len(sys.argv) == 1:
        sys.argv.append("run")
    demo(prog_name="python -m stocksignal.demo")
