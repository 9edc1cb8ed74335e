"""The ``stocksignal`` command line without services: help, usage errors, exit codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stocksignal.cli.main import main

COMMANDS = [
    [],
    ["topics"],
    ["topics", "create"],
    ["topics", "check"],
    ["run"],
    ["run", "processor"],
    ["run", "projector"],
    ["run", "api"],
    ["run", "marketplace-sync"],
    ["produce"],
    ["tail"],
    ["sku"],
    ["channels"],
    ["channels", "set"],
    ["channels", "list"],
    ["channels", "remove"],
    ["catalog"],
    ["catalog", "set"],
    ["catalog", "list"],
    ["catalog", "remove"],
    ["demo"],
    ["demo", "run"],
    ["demo", "stop"],
    ["demo", "status"],
]
# Nothing listens here: a service that does not answer.
DEAD_KAFKA = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "STOCKSIGNAL_WEB_PORT": "9"}


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "stocksignal")
def test_every_command_has_help(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 4


def test_the_top_level_help_lists_every_command_and_the_exit_codes():
    out = CliRunner().invoke(main, ["--help"]).output
    for command in ("topics", "run", "produce", "tail", "sku", "channels", "demo"):
        assert f"  {command} " in out
    assert "Exit codes" in out and "3 a service does not answer" in out


@pytest.mark.parametrize(
    "args",
    [
        ["tail", "stock"],
        ["produce"],
        ["channels", "set", "web"],
        ["sku"],
        ["tail", "movements", "--limit", "0"],
        ["channels", "set", "web", "--locations", "A", "--safety-stock", "-1"],
        ["nope"],
    ],
)
def test_usage_errors_exit_2(args):
    assert CliRunner().invoke(main, args).exit_code == 2


@pytest.mark.parametrize("locations, says", [(" , ", "names no location"), ("A,A", "listed twice")])
def test_a_channel_that_breaks_the_rules_is_a_usage_error_before_anything_connects(locations, says):
    result = CliRunner().invoke(
        main, ["channels", "set", "web", "--locations", locations], env=DEAD_KAFKA
    )
    assert result.exit_code == 2 and says in result.output


def test_a_missing_file_is_a_usage_error():
    result = CliRunner().invoke(main, ["produce", "/nonexistent/day.jsonl", "--dry-run"])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_dry_run_checks_every_line_without_kafka(tmp_path):
    f = tmp_path / "day.jsonl"
    f.write_text(
        '{"type": "StockReceived", "sku": "A", "location_id": "B", "qty": 3}\n'
        "\n"
        '{"type": "StockReceived", "sku": "A", "location_id": "B", "qty": 0}\n'
        '{"type": "OrderConfirmed", "order_id": "O-1", "event_id": "e1", "occurred_at": 1}\n'
    )
    result = CliRunner().invoke(main, ["produce", str(f), "--dry-run"], env=DEAD_KAFKA)
    assert result.exit_code == 1
    assert "checked 2 event(s)" in result.stdout
    assert "filled in event_id on 1 line(s)" in result.stdout
    assert "line 3: StockReceived: qty: 0 is not in 1..1000000" in result.stderr


def test_stdin_is_a_dash():
    result = CliRunner().invoke(
        main,
        ["produce", "-", "--dry-run"],
        input='{"type": "ChannelRemoved", "channel_id": "web"}\n',
    )
    assert result.exit_code == 0 and "checked 1 event(s) from stdin" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["topics", "create"],
        ["topics", "check"],
        ["tail", "movements"],
        ["channels", "list"],
        ["channels", "set", "web", "--locations", "A"],
    ],
)
def test_kafka_down_is_exit_3_with_a_hint(args):
    result = CliRunner().invoke(main, args, env=DEAD_KAFKA)
    assert result.exit_code == 3, result.output
    assert "Kafka" in result.output and "127.0.0.1:9" in result.output


def test_the_processor_not_answering_is_exit_3():
    result = CliRunner().invoke(main, ["sku", "MUG"], env=DEAD_KAFKA)
    assert result.exit_code == 3 and "inspection API" in result.output


def test_run_processor_with_kafka_down_is_exit_3():
    result = CliRunner().invoke(main, ["run", "processor"], env=DEAD_KAFKA)
    assert result.exit_code == 3, result.output
