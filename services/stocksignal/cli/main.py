"""``stocksignal``: the command-line entry point (pyproject's ``stocksignal`` script).

Each command group lives in a module of its own; to add one, write the module and list its
group in COMMAND_GROUPS. ``python -m stocksignal.cli.main`` works too.
"""

from __future__ import annotations

import click

from stocksignal.cli.run import run

COMMAND_GROUPS: tuple[click.Command, ...] = (run,)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """stocksignal: trustworthy stock availability from inventory events.

    Settings come from environment variables (KAFKA_BOOTSTRAP_SERVERS, REDIS_URL and
    STOCKSIGNAL_*; see stocksignal.settings); options override them.
    """


for group in COMMAND_GROUPS:
    main.add_command(group)


if __name__ == "__main__":
    main()
