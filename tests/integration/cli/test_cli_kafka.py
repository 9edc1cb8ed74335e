"""Every ``stocksignal`` command against the real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from stocksignal import bootstrap
from stocksignal.cli.kafka_read import read_all
from stocksignal.contract import partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.contract.examples import example
from stocksignal.processor.topology import plan

pytestmark = pytest.mark.integration


def _decoded(settings, base):
    codec = bootstrap.make_codec(settings)
    return [
        (r.partition, r.key.decode(), *codec.decode(r.value))
        for r in read_all(settings, settings.topic_prefix + base)
    ]


# --- topics ----------------------------------------------------------------------------------


def test_topics_create_is_idempotent_and_refuses_a_partition_mismatch(cli_settings, cli):
    first = cli("topics", "create", "--json")
    assert first.exit_code == 0, first.output
    rows = [json.loads(line) for line in first.output.splitlines()]
    assert [r["topic"] for r in rows] == [p.name for p in plan(cli_settings)]
    assert {r["action"] for r in rows} == {"created"}
    again = cli("topics", "create")
    assert (
        again.exit_code == 0
        and "created" not in again.output
        and again.output.count("exists") == len(rows)
    )
    assert cli("topics", "check").exit_code == 0
    mismatch = cli("topics", "create", env={"STOCKSIGNAL_COMMAND_PARTITIONS": "5"})
    assert mismatch.exit_code == 4
    assert "mismatch" in mismatch.output and "needs 5" in mismatch.output


def test_topics_check_names_missing_topics(cli):
    result = cli("topics", "check")
    assert result.exit_code == 4 and result.output.count("missing") >= len(catalogue.TOPICS)


def test_run_processor_without_topics_exits_4_and_says_what_to_do(cli_settings, tmp_path):
    env = {**os.environ, **replace(cli_settings, state_dir=str(tmp_path / "s")).to_env()}
    result = subprocess.run(
        [sys.executable, "-m", "stocksignal.cli.main", "run", "processor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 4, result.stderr
    assert (
        "inventory.orders.v1: missing" in result.stderr
        and "stocksignal topics create" in result.stderr
    )


# --- produce -----------------------------------------------------------------------------------


DAY = """\
# receipts
{"type": "StockReceived", "sku": "MUG", "location_id": "WH-BER", "qty": 10, "reference": "PO-1"}
{"type": "OrderPlaced", "order_id": "W-1", "channel_id": "web", "lines": [{"sku": "MUG", "qty": 2}], "event_id": "evt-w1"}
{"type": "OrderPlaced", "order_id": "W-2", "channel_id": "web", "lines": [{"sku": "MUG", "qty": 0}]}

{"type": "ChannelConfigured", "channel_id": "web", "location_ids": ["WH-BER"], "safety_stock": 1}
this is not json
{"type": "ReturnReceived", "return_id": "R-1", "location_id": "WH-BER", "lines": [{"sku": "MUG", "qty": 1}], "colour": "red"}
{"type": "PickConfirmed", "order_id": "W-1", "location_id": "WH-BER", "lines": [{"sku": "MUG", "qty_picked": 2}]}
"""


def test_produce_sends_every_good_line_to_its_topic_and_lists_the_bad_ones(
    with_topics, cli, tmp_path
):
    s = with_topics
    f = tmp_path / "day.jsonl"
    f.write_text(DAY)
    result = cli("produce", str(f), "--source", "it-test")
    assert result.exit_code == 1
    assert "produced 4 event(s)" in result.stdout
    assert f"OrderPlaced          -> {s.topic_prefix}inventory.orders.v1" in result.stdout
    assert "filled in event_id on 3 line(s)" in result.stdout
    assert "filled in occurred_at on 4 line(s)" in result.stdout
    bad = result.stderr.splitlines()
    assert bad[0].startswith("line 4: OrderPlaced: lines[0].qty: 0 is not in")
    assert bad[1].startswith("line 7: not JSON")
    assert bad[2].startswith("line 8: ") and "colour" in bad[2]
    assert "3 bad line(s)" in result.stderr

    orders = _decoded(s, catalogue.ORDERS)
    assert [(key, name) for _p, key, name, _r in orders] == [("W-1", "OrderPlaced")]
    p, _, _, record = orders[0]
    assert p == partition_for("W-1", s.input_partitions)
    assert record["event_id"] == "evt-w1" and record["source"] == "it-test"
    stock = _decoded(s, catalogue.STOCK)
    assert [(k, n, r["qty"], r["reference"]) for _p, k, n, r in stock] == [
        ("MUG", "StockReceived", 10, "PO-1")
    ]
    assert [(k, n) for _p, k, n, _r in _decoded(s, catalogue.CHANNELS)] == [
        ("web", "ChannelConfigured")
    ]
    assert [(k, n) for _p, k, n, _r in _decoded(s, catalogue.PICKS)] == [("W-1", "PickConfirmed")]
    assert _decoded(s, catalogue.RETURNS) == []


def test_produce_reads_stdin_and_exits_0_when_every_line_is_good(with_topics, cli):
    lines = "".join(
        json.dumps(
            {
                "type": "StockAdjusted",
                "sku": f"S-{i}",
                "location_id": "L",
                "qty_delta": 1,
                "reason": "x",
            }
        )
        + "\n"
        for i in range(50)
    )
    result = cli("produce", "-", input=lines)
    assert result.exit_code == 0, result.output
    assert "produced 50 event(s) from stdin" in result.output
    stock = _decoded(with_topics, catalogue.STOCK)
    assert sorted(k for _p, k, _n, _r in stock) == sorted(f"S-{i}" for i in range(50))
    for p, key, _n, _r in stock:
        assert p == partition_for(key, with_topics.input_partitions)


def test_produce_without_topics_exits_4(cli, tmp_path):
    f = tmp_path / "one.jsonl"
    f.write_text('{"type": "ChannelRemoved", "channel_id": "web"}\n')
    result = cli("produce", str(f))
    assert result.exit_code == 4 and "stocksignal topics create" in result.output


# --- tail --------------------------------------------------------------------------------------


def _movement(i: int, sku: str) -> dict:
    m = example("StockMoved")
    m.update(
        movement_id=f"m-{i}",
        sku=sku,
        delta=i,
        balance_after=i,
        occurred_at=1_767_261_600_000 + i,
        cause_event_id=f"evt-{i}",
    )
    return m


def _send_outputs(settings, base: str, records: list[tuple[str, str, dict]], headers=None) -> None:
    codec = bootstrap.make_codec(settings)
    producer = bootstrap.make_producer(settings)
    for key, name, record in records:
        producer.produce(
            settings.topic_prefix + base, codec.encode(name, record), key.encode(), headers=headers
        )
        producer.flush(10)  # one by one: distinct log times, a stable order across partitions
        time.sleep(0.002)


def test_tail_shows_the_last_records_then_filters_by_sku(with_topics, cli):
    s = with_topics
    _send_outputs(
        s,
        catalogue.MOVEMENTS,
        [
            (sku, "StockMoved", _movement(i, sku))
            for i, sku in enumerate(["A", "B", "C"] * 5, start=1)
        ],
    )
    last = cli("tail", "movements", "-n", "4")
    assert last.exit_code == 0, last.output
    lines = last.output.splitlines()
    assert len(lines) == 4
    assert [line.split("  ")[1].split("@")[0] for line in lines] == ["C", "A", "B", "C"]
    assert lines[-1].endswith("<- PickConfirmed evt-15")
    everything = cli("tail", "movements", "--from-beginning")
    assert len(everything.output.splitlines()) == 15
    first = cli("tail", "movements", "--from-beginning", "--limit", "2", "--json")
    rows = [json.loads(line) for line in first.output.splitlines()]
    assert [r["record"]["movement_id"] for r in rows] == ["m-1", "m-2"]
    assert (
        rows[0]["type"] == "StockMoved"
        and rows[0]["key"] == "A"
        and rows[0]["topic"].startswith(s.topic_prefix)
    )
    only_b = cli("tail", "movements", "--sku", "B", "-n", "2")
    assert [line.split("  ")[1] for line in only_b.output.splitlines()] == [
        "B@WH-BER-1",
        "B@WH-BER-1",
    ]
    assert "evt-14" in only_b.output.splitlines()[-1]


def test_tail_follow_prints_new_records_until_the_limit(with_topics, cli):
    s = with_topics
    _send_outputs(
        s, catalogue.RESERVATIONS, [("O-0", "ReservationDecided", example("ReservationDecided"))]
    )

    def later():
        time.sleep(3)
        d = example("ReservationDecided")
        d.update(order_id="O-NEW", decision_id="new")
        _send_outputs(s, catalogue.RESERVATIONS, [("O-NEW", "ReservationDecided", d)])

    t = threading.Thread(target=later)
    t.start()
    result = cli("tail", "reservations", "-n", "0", "-f", "--limit", "1")
    t.join()
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 1 and "  O-NEW  " in result.output


def test_tail_dlq_shows_the_dlq_headers(with_topics, cli):
    s = with_topics
    headers = [
        ("dlq.reason", b"VALIDATION_ERROR"),
        ("dlq.error", b"lines[0].qty: 0 is not in 1..1000000"),
        ("dlq.topic", b"inventory.orders.v1"),
        ("dlq.partition", b"1"),
        ("dlq.offset", b"42"),
    ]
    placed = example("OrderPlaced")
    _send_outputs(s, catalogue.DLQ, [(placed["order_id"], "OrderPlaced", placed)], headers=headers)
    text = cli("tail", "dlq")
    assert text.exit_code == 0
    assert (
        "VALIDATION_ERROR  inventory.orders.v1[1]@42" in text.output
        and "lines[0].qty: 0" in text.output
    )
    row = json.loads(cli("tail", "dlq", "--json").output)
    assert row["headers"]["dlq.offset"] == "42" and row["type"] == "OrderPlaced"


def test_tail_of_a_missing_topic_exits_4(cli):
    result = cli("tail", "availability")
    assert result.exit_code == 4 and "does not exist" in result.output


# --- channels ----------------------------------------------------------------------------------


def test_channels_set_list_remove(with_topics, cli):
    assert cli("channels", "list").output.startswith("No channels are configured.")
    assert cli("channels", "set", "web", "--locations", "WH-A").exit_code == 0
    assert (
        cli("channels", "set", "mkt", "--locations", "WH-B,WH-A", "--safety-stock", "2").exit_code
        == 0
    )
    result = cli("channels", "set", "web", "--locations", "WH-A, WH-B", "--safety-stock", "1")
    assert result.exit_code == 0 and "configured channel web: locations WH-A, WH-B" in result.output
    listed = json.loads(cli("channels", "list", "--json").output)
    assert {c: (r["location_ids"], r["safety_stock"]) for c, r in listed.items()} == {
        "mkt": (["WH-B", "WH-A"], 2),
        "web": (["WH-A", "WH-B"], 1),
    }
    removed = cli("channels", "remove", "mkt")
    assert removed.exit_code == 0 and "(it was not configured)" not in removed.output
    assert "not configured" in cli("channels", "remove", "nope").output
    table = cli("channels", "list").output
    assert "web" in table and "WH-A, WH-B" in table and "mkt" not in table
    assert "default (built-in)" in table
    records = _decoded(with_topics, catalogue.CHANNELS)
    assert [(k, n) for _p, k, n, _r in records if k == "mkt"] == [
        ("mkt", "ChannelConfigured"),
        ("mkt", "ChannelRemoved"),
    ]


# --- sku -----------------------------------------------------------------------------------------


def test_sku_explains_the_number_from_a_running_processor(processor, cli):
    s = processor.settings
    env = {"STOCKSIGNAL_WEB_PORT": str(s.web_port)}
    assert cli("channels", "set", "web", "--locations", "WH-A,WH-B").exit_code == 0
    assert (
        cli("channels", "set", "mkt", "--locations", "WH-B", "--safety-stock", "1").exit_code == 0
    )
    day = "\n".join(
        json.dumps(e)
        for e in [
            {"type": "StockReceived", "sku": "MUG", "location_id": "WH-A", "qty": 3},
            {"type": "StockReceived", "sku": "MUG", "location_id": "WH-B", "qty": 5},
        ]
    )
    assert cli("produce", "-", input=day).exit_code == 0
    deadline = time.monotonic() + 60
    while processor.metric("stocksignal_commands_applied_total") < 2 * s.command_partitions + 2:
        assert time.monotonic() < deadline, processor.tail()
        time.sleep(0.2)
    order = json.dumps(
        {
            "type": "OrderPlaced",
            "order_id": "W-1",
            "channel_id": "web",
            "lines": [{"sku": "MUG", "qty": 4}],
            "hold_expires_at": "+1h",
        }
    )
    assert cli("produce", "-", input=order).exit_code == 0
    while processor.metric("stocksignal_commands_applied_total") < 2 * s.command_partitions + 3:
        assert time.monotonic() < deadline, processor.tail()
        time.sleep(0.2)

    answer = json.loads(cli("sku", "MUG", "--json", env=env).output)
    assert {c: ch["available"] for c, ch in answer["channels"].items()} == {
        "default": 4,
        "web": 4,
        "mkt": 3,
    }
    assert (
        answer["positions"]["WH-A"]["reserved"] == 3
        and answer["positions"]["WH-B"]["reserved"] == 1
    )
    assert [r["order_id"] for r in answer["open_reservations"]] == ["W-1"]
    assert answer["open_reservations"][0]["hold"] is True
    assert {m["reason"] for m in answer["movements"]} == {"RECEIPT", "RESERVATION"}

    text = cli("sku", "MUG", env={**env, "COLUMNS": "200"}).output
    assert "max(0, WH-B 4 − 1) = 3" in text
    assert "max(0, WH-A 0 + WH-B 4 − 0) = 4" in text
    assert "W-1" in text and "hold until" in text
    assert "RESERVATION" in text and "RECEIPT" in text

    unknown = cli("sku", "NOPE", env=env)
    assert unknown.exit_code == 1 and "knows no SKU 'NOPE'" in unknown.output
