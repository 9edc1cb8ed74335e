"""``stocksignal``: the command-line entry point (pyproject's ``stocksignal`` script).

Each command group lives in a module of its own; to add one, write the module and list its
group in COMMAND_GROUPS. ``python -m stocksignal.cli.main`` works too. ``stocksignal demo`` is
the demo package's (it sits on top of the cli, docs/architecture.md#packages): it is mounted
by name (MOUNTED), so that the cli never imports the demo.
"""

from __future__ import annotations

import importlib
import logging

import click

from stocksignal.cli.accuracy import accuracy_command
from stocksignal.cli.catalog import catalog
from stocksignal.cli.channels import channels
from stocksignal.cli.dlq import dlq
from stocksignal.cli.produce import produce
from stocksignal.cli.run import run
from stocksignal.cli.sku import sku
from stocksignal.cli.stock import stock
from stocksignal.cli.tail import tail
from stocksignal.cli.token import token
from stocksignal.cli.topics import topics

COMMAND_GROUPS: tuple[click.Command, ...] = (
    topics,
    run,
    channels,
    catalog,
    produce,
    stock,
    tail,
    dlq,
    sku,
    accuracy_command,
    token,
)
# name -> "module:attribute" of a command group of a package above the cli, imported when used.
MOUNTED = {"demo": "stocksignal.demo.command:demo"}
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, not the user's input or environment


class InternalError(click.ClickException):
    exit_code = EXIT_INTERNAL


class InOrder(click.Group):
    """Lists commands in the order they were added (the order a user meets them), not A-Z,
    and turns an unexpected exception into one line on stderr instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in MOUNTED if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in MOUNTED:
            module, attribute = MOUNTED[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            # Every expected failure has its own exit code (docs/cli.md#exit-codes); this is a
            # bug. The traceback goes to the log, shown with STOCKSIGNAL_LOG_LEVEL=DEBUG.
            logging.getLogger("stocksignal.cli").debug("unexpected failure", exc_info=True)
            raise InternalError(
                f"unexpected {type(exc).__name__}: {exc} (a bug; STOCKSIGNAL_LOG_LEVEL=DEBUG shows where)"
            ) from None


@click.group(
    cls=InOrder, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(package_name="stocksignal", message="%(prog)s %(version)s")
def main() -> None:
    """stocksignal: trustworthy stock availability from inventory events.

    \b
    Getting started (local Kafka and Redis: `make up`):
      stocksignal topics create                       create every topic
      stocksignal run processor                       decide and publish (keep running)
      stocksignal channels set webshop --locations WH-BER,WH-HAM
      stocksignal produce day.jsonl                   send events from JSON lines
      stocksignal stock import stocktake.csv --diff   a stock take: what it changes
      stocksignal tail movements -f                   watch the ledger
      stocksignal dlq list --since -1d                what the processor refused, and why
      stocksignal sku MUG-BLUE                        why a SKU's number is what it is
      stocksignal sku MUG-BLUE --at -2h               ... and what it was two hours ago
      stocksignal accuracy --since -7d                how often counts found the books right
      make demo                                       all of it, scripted (docs/demo.md)

    Settings come from environment variables (KAFKA_BOOTSTRAP_SERVERS, REDIS_URL and
    STOCKSIGNAL_*, e.g. STOCKSIGNAL_TOPIC_PREFIX or STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL; every
    one is in docs/operations.md, "Configuration reference"); options override them. The
    event contract is docs/contract.md.

    \b
    Exit codes: 0 ok, 1 failed (bad input, unknown SKU, failed check), 2 usage (a bad
    option, argument or setting, a port in use), 3 a service does not answer (Kafka,
    Redis, the processor), 4 topics missing or mis-partitioned, 5 Kafka or Redis refused
    the credentials or certificates (the message names the setting; docs/cli.md), 70 an
    internal error.
    """


for group in COMMAND_GROUPS:
    main.add_command(group)


if __name__ == "__main__":
    main()
