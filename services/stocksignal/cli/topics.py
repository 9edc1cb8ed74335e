"""``stocksignal topics create|check``: the topics the processor reads and writes."""

from __future__ import annotations

import json
from typing import Any

import click

from stocksignal.cli.common import (
    EXIT_TOPICS,
    Unavailable,
    existing_topics,
    make_console,
    tool_settings,
    wait_for_leaders,
)


@click.group(short_help="Create or check the topics.")
def topics() -> None:
    """Create or check every topic stocksignal needs (inputs, the internal command topic,
    outputs, the DLQ), with STOCKSIGNAL_TOPIC_PREFIX in front of each name.

    Partition counts come from STOCKSIGNAL_INPUT_PARTITIONS, _COMMAND_PARTITIONS and
    _OUTPUT_PARTITIONS; the replication factor from STOCKSIGNAL_REPLICATION_FACTOR.
    """


@topics.command(short_help="Create every missing topic (idempotent).")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per topic instead of a table."
)
def create(as_json: bool) -> None:
    """Create every missing topic; leave existing ones alone (idempotent).

    Prints each topic as created, exists or mismatch. A mismatch (an existing topic with a
    partition count the processor cannot use) is never "fixed": repartitioning would move
    SKUs between partitions. Exit 4 when any topic mismatches, 3 when Kafka does not answer.

    \b
    Example:
      stocksignal topics create
      STOCKSIGNAL_TOPIC_PREFIX=staging. stocksignal topics create
    """
    from confluent_kafka import KafkaException

    from stocksignal.processor.runner import create_topics
    from stocksignal.processor.topology import plan

    settings = tool_settings()
    existing_topics(settings)  # exit 3 at once when Kafka is down
    try:
        reports = create_topics(settings)
    except KafkaException as exc:
        raise Unavailable(f"creating topics failed: {exc}") from exc
    partitions = {p.name: p.partitions for p in plan(settings)}
    wait_for_leaders(settings, [r.name for r in reports if r.action == "created"])
    _show(reports, partitions, as_json)
    if any(r.action == "mismatch" for r in reports):
        click.echo(
            "Error: some topics exist with a partition count the processor cannot use (see above)",
            err=True,
        )
        raise SystemExit(EXIT_TOPICS)


@topics.command(short_help="Check every topic, create nothing.")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per topic instead of a table."
)
def check(as_json: bool) -> None:
    """Check, without creating anything, that every topic exists with the right partitions.

    Exit 0 when all are ready, 4 when any is missing or mismatched.
    """
    from stocksignal.processor.topic_admin import TopicReport
    from stocksignal.processor.topology import plan

    settings = tool_settings()
    existing = existing_topics(settings)
    reports = []
    for p in plan(settings):
        if p.name not in existing:
            reports.append(TopicReport(p.name, "missing", "run `stocksignal topics create`"))
        elif p.strict_partitions and existing[p.name] != p.partitions:
            reports.append(
                TopicReport(
                    p.name, "mismatch", f"has {existing[p.name]} partitions, needs {p.partitions}"
                )
            )
        else:
            reports.append(TopicReport(p.name, "exists", f"{existing[p.name]} partitions"))
    _show(reports, {p.name: p.partitions for p in plan(settings)}, as_json)
    if any(r.action != "exists" for r in reports):
        raise SystemExit(EXIT_TOPICS)


def _show(reports: list[Any], partitions: dict[str, int], as_json: bool) -> None:
    if as_json:
        for r in reports:
            click.echo(
                json.dumps(
                    {
                        "topic": r.name,
                        "partitions": partitions.get(r.name),
                        "action": r.action,
                        "detail": r.detail,
                    }
                )
            )
        return
    from rich import box
    from rich.table import Table

    styles = {"created": "green", "exists": "", "mismatch": "bold red", "missing": "bold red"}
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("status")
    table.add_column("detail")
    for r in reports:
        style = styles.get(r.action, "")
        table.add_row(
            r.name,
            str(partitions.get(r.name, "")),
            f"[{style}]{r.action}[/]" if style else r.action,
            r.detail,
        )
    make_console().print(table)
