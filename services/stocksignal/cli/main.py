"""``stocksignal``: the command-line entry point (pyproject's ``stocksignal`` script).

Each command group lives in a module of its own; to add one, write the module and list its
group in COMMAND_GROUPS. ``python -m stocksignal.cli.main`` works too.
"""

from __future__ import annotations

import click

from stocksignal.cli.channels import channels
from stocksignal.cli.demo import demo
from stocksignal.cli.produce import produce
from stocksignal.cli.run import run
from stocksignal.cli.sku import sku
from stocksignal.cli.tail import tail
from stocksignal.cli.topics import topics

COMMAND_GROUPS: tuple[click.Command, ...] = (topics, run, channels, produce, tail, sku, demo)


class InOrder(click.Group):
    """Lists commands in the order they were added (the order a user meets them), not A-Z."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=InOrder, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="stocksignal", message="%(prog)s %(version)s")
def main() -> None:
    """stocksignal: trustworthy stock availability from inventory events.

    \b
    Getting started (local Kafka and Redis: `make up`):
      stocksignal topics create                       create every topic
      stocksignal run processor                       decide and publish (keep running)
      stocksignal channels set webshop --locations WH-BER,WH-HAM
      stocksignal produce day.jsonl                   send events from JSON lines
      stocksignal tail movements -f                   watch the ledger
      stocksignal sku MUG-BLUE                        why a SKU's number is what it is
      make demo                                       all of it, scripted (docs/demo.md)

    Settings come from environment variables (KAFKA_BOOTSTRAP_SERVERS, REDIS_URL and
    STOCKSIGNAL_*, e.g. STOCKSIGNAL_TOPIC_PREFIX or STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL;
    every one is in docs/operations.md); options override them.

    \b
    Exit codes: 0 ok, 1 failed (bad input, unknown SKU, failed check), 2 usage,
    3 a service does not answer (Kafka, Redis, the processor), 4 topics missing or
    mis-partitioned, 5 Kafka or Redis refused the credentials or certificates (the
    message names the setting; docs/cli.md).
    """


for group in COMMAND_GROUPS:
    main.add_command(group)


if __name__ == "__main__":
    main()
