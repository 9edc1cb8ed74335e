"""``stocksignal channels set`` with the v1.1 rules, and ``stocksignal sku``'s formula with them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stocksignal.cli import channels as channels_cli
from stocksignal.cli.main import main
from stocksignal.cli.sku import channel_rule

DEAD_KAFKA = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "STOCKSIGNAL_WEB_PORT": "9"}
POSITIONS = {"WH-BER": {"sellable": 2}, "WH-HAM": {"sellable": 8}}


def test_the_formula_shows_the_buffer_and_the_cap():
    ch = {
        "available": 6,
        "locations": ["WH-HAM", "WH-BER"],
        "safety_stock": 2,
        "buffer_percent": 20,
        "max_available": None,
    }
    assert channel_rule(ch, POSITIONS) == "⌊max(0, WH-HAM 8 + WH-BER 2 − 2) × 80%⌋ = 6"
    capped = {**ch, "available": 5, "max_available": 5}
    assert (
        channel_rule(capped, POSITIONS) == "min(⌊max(0, WH-HAM 8 + WH-BER 2 − 2) × 80%⌋, cap 5) = 5"
    )
    cap_only = {**ch, "buffer_percent": 0, "available": 5, "max_available": 5}
    assert channel_rule(cap_only, POSITIONS) == "min(max(0, WH-HAM 8 + WH-BER 2 − 2), cap 5) = 5"


def test_default_rules_print_the_v1_formula():
    ch = {
        "available": 8,
        "locations": ["WH-HAM", "WH-BER"],
        "safety_stock": 2,
        "buffer_percent": 0,
        "max_available": None,
        "low_stock_threshold": 0,
    }
    assert channel_rule(ch, POSITIONS) == "max(0, WH-HAM 8 + WH-BER 2 − 2) = 8"


def test_set_produces_the_rules(monkeypatch):
    sent = []
    monkeypatch.setattr(
        channels_cli, "produce_channel_event", lambda _s, name, record: sent.append((name, record))
    )
    result = CliRunner().invoke(
        main,
        [
            "channels",
            "set",
            "mkt",
            "--locations",
            "WH-HAM",
            "--buffer-percent",
            "20",
            "--max-available",
            "50",
            "--low-stock-threshold",
            "3",
        ],
        env=DEAD_KAFKA,
    )
    assert result.exit_code == 0, result.output
    [(name, record)] = sent
    assert name == "ChannelConfigured"
    assert (record["buffer_percent"], record["max_available"], record["low_stock_threshold"]) == (
        20,
        50,
        3,
    )
    assert "buffer 20%, cap 50, low stock at <= 3" in result.output


def test_set_without_rules_sends_the_defaults(monkeypatch):
    sent = []
    monkeypatch.setattr(
        channels_cli, "produce_channel_event", lambda _s, name, record: sent.append(record)
    )
    result = CliRunner().invoke(
        main, ["channels", "set", "web", "--locations", "A"], env=DEAD_KAFKA
    )
    assert result.exit_code == 0, result.output
    assert (
        sent[0]["buffer_percent"],
        sent[0]["max_available"],
        sent[0]["low_stock_threshold"],
    ) == (0, None, 0)
    assert "buffer" not in result.output and "cap" not in result.output


@pytest.mark.parametrize(
    "option, value",
    [
        ("--buffer-percent", "101"),
        ("--buffer-percent", "-1"),
        ("--max-available", "-1"),
        ("--low-stock-threshold", "1000001"),
    ],
)
def test_rules_out_of_range_are_usage_errors(option, value):
    result = CliRunner().invoke(
        main, ["channels", "set", "web", "--locations", "A", option, value], env=DEAD_KAFKA
    )
    assert result.exit_code == 2 and option in result.output


def test_tail_shows_a_level_record():
    from stocksignal.cli.formatting import format_level

    rec = {
        "sku": "MUG",
        "channel_id": "web",
        "level": "IN_STOCK",
        "previous_level": "OUT_OF_STOCK",
        "available": 5,
        "version": 9,
        "cause_event_id": "e-9",
        "occurred_at": 0,
    }
    line = format_level(rec)
    assert line.endswith("MUG  web  OUT_OF_STOCK -> IN_STOCK  available=5  v9  <- e-9")
    assert "(first seen) -> IN_STOCK" in format_level({**rec, "previous_level": None})


def test_tail_knows_the_stock_levels_topic():
    out = CliRunner().invoke(main, ["tail", "--help"]).output
    assert "stock-levels" in out
