"""``stocksignal stock import`` against a real broker and a processor run as ``stocksignal run processor``."""

from __future__ import annotations

import json

import pytest

from stocksignal.cli.kafka_read import read_all
from stocksignal.contract import topics as catalogue
from tests.integration.cli.waits import wait_metric

pytestmark = pytest.mark.integration


def _stock_records(settings) -> int:
    return len(read_all(settings, settings.topic_prefix + catalogue.STOCK))


def test_import_with_a_diff_then_once_only_however_often_it_runs(processor, cli, tmp_path):
    s = processor.settings
    env = {"STOCKSIGNAL_WEB_PORT": str(s.web_port), "COLUMNS": "200"}
    # One at a time, each once the one before is applied: the receipt and the order are on
    # different topics, which are not ordered relative to each other (docs/processor.md#ordering).
    for applied, event in enumerate(
        [
            {"type": "StockReceived", "sku": "MUG", "location_id": "WH-A", "qty": 10},
            {
                "type": "OrderPlaced",
                "order_id": "W-1",
                "channel_id": "web",
                "lines": [{"sku": "MUG", "qty": 4}],
            },
        ],
        start=1,
    ):
        assert cli("produce", "-", input=json.dumps(event)).exit_code == 0
        wait_metric(processor, "stocksignal_commands_applied_total", applied)
    pick = json.dumps(
        {
            "type": "PickConfirmed",
            "order_id": "W-1",
            "location_id": "WH-A",
            "lines": [{"sku": "MUG", "qty_picked": 4}],
        }
    )
    assert cli("produce", "-", input=pick).exit_code == 0
    wait_metric(processor, "stocksignal_commands_applied_total", 3)

    take = tmp_path / "take.csv"
    take.write_text(
        "sku,location_id,counted_qty,reason\nMUG,WH-A,5,shelf 3 short\nMUG,WH-B,3,\nLAMP,WH-A,0,\n"
    )
    preview = cli("stock", "import", str(take), "--diff", env=env)
    assert preview.exit_code == 0, preview.output
    out = preview.stdout
    assert "10 − 4 = 6" in out and "-1" in out and "10 -> 9" in out and "shelf 3 short" in out
    assert (
        "3 row(s): 2 change stock (+3 / −1 units), 1 agree with the books, 2 new position(s)" in out
    )
    assert "nothing produced" in out
    assert _stock_records(s) == 1  # only the receipt: the diff produced nothing
    applied = cli("stock", "import", str(take), "--diff", "--yes", env=env)
    assert applied.exit_code == 0, applied.output
    assert "imported 3 count(s)" in applied.stdout
    wait_metric(processor, "stocksignal_commands_applied_total", 6)
    state = json.loads(cli("sku", "MUG", "--json", env=env).output)
    assert state["positions"]["WH-A"]["on_hand"] == 9 and state["positions"]["WH-B"]["on_hand"] == 3
    movements = [m for m in state["movements"] if m["reason"] == "CYCLE_COUNT"]
    assert len(movements) == 2

    again = cli("stock", "import", str(take), env=env)
    assert again.exit_code == 0, again.output
    wait_metric(processor, "stocksignal_duplicates_dropped_total", 3)
    state = json.loads(cli("sku", "MUG", "--json", env=env).output)
    assert state["positions"]["WH-A"]["on_hand"] == 9
    assert len([m for m in state["movements"] if m["reason"] == "CYCLE_COUNT"]) == 2
    diff = cli("stock", "import", str(take), "--diff", env=env)
    assert "0 change stock" in diff.stdout and "3 agree with the books" in diff.stdout


def test_a_bad_row_stops_the_import_unless_partial(with_topics, cli, tmp_path):
    s = with_topics
    take = tmp_path / "take.csv"
    take.write_text("sku,location_id,counted_qty\nA,L,1\nB,L,-3\nC,L,2\n")
    before = _stock_records(s)
    refused = cli("stock", "import", str(take))
    assert refused.exit_code == 1
    assert (
        "line 3: counted_qty: -3 is not in 0..1000000" in refused.stderr
        and "nothing was produced" in refused.stderr
    )
    assert _stock_records(s) == before
    partial = cli("stock", "import", str(take), "--partial")
    assert partial.exit_code == 1 and "imported 2 count(s)" in partial.stdout
    assert "every other row was produced" in partial.stderr
    assert _stock_records(s) == before + 2


def test_import_without_topics_exits_4(cli, tmp_path):
    take = tmp_path / "take.csv"
    take.write_text("sku,location_id,counted_qty\nA,L,1\n")
    result = cli("stock", "import", str(take))
    assert result.exit_code == 4 and "stocksignal topics create" in result.output
