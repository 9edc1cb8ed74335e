"""``stocksignal accuracy`` and the processor's accuracy counters, against a real processor."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.cli.waits import wait_metric

pytestmark = pytest.mark.integration


def test_accuracy_per_location_with_the_largest_corrections_and_their_reasons(
    processor, cli, tmp_path
):
    s = processor.settings
    receipts = "\n".join(
        json.dumps({"type": "StockReceived", "sku": sku, "location_id": loc, "qty": qty})
        for sku, loc, qty in [("MUG", "WH-A", 10), ("LAMP", "WH-A", 4), ("MUG", "WH-B", 6)]
    )
    assert cli("produce", "-", input=receipts).exit_code == 0
    wait_metric(processor, "stocksignal_commands_applied_total", 3)
    before = int(time.time() * 1000)
    take = tmp_path / "take.csv"
    take.write_text(
        "sku,location_id,counted_qty,reason\n"
        "MUG,WH-A,7,bin 4 short\n"  # -3
        "LAMP,WH-A,4,\n"  # agrees
        "MUG,WH-B,6,\n"  # agrees
        "LAMP,WH-B,2,found on a pallet\n"
    )  # +2, a new position
    assert cli("stock", "import", str(take)).exit_code == 0
    wait_metric(processor, "stocksignal_cycle_counts_total", 4)

    answer = json.loads(cli("accuracy", "--json").output)
    by_location = {t["location_id"]: t for t in answer["locations"]}
    assert by_location["WH-A"] == {
        "location_id": "WH-A",
        "counts": 2,
        "positions": 2,
        "agreed": 1,
        "corrected": 1,
        "units_up": 0,
        "units_down": 3,
        "accuracy": 0.5,
    }
    assert by_location["WH-B"]["units_up"] == 2 and by_location["WH-B"]["accuracy"] == 0.5
    assert (
        answer["all"]["counts"] == 4 and answer["all"]["accuracy"] == 0.5 and answer["pending"] == 0
    )
    largest = answer["largest_corrections"]
    assert [(c["sku"], c["location_id"], c["correction"]) for c in largest] == [
        ("MUG", "WH-A", -3),
        ("LAMP", "WH-B", 2),
    ]
    assert (
        largest[0]["source"] == "stock-import: bin 4 short"
        and "books said 10" in largest[0]["detail"]
    )

    only_b = json.loads(cli("accuracy", "--location", "WH-B", "--json").output)
    assert [t["location_id"] for t in only_b["locations"]] == ["WH-B"] and only_b["all"][
        "counts"
    ] == 2
    later = json.loads(cli("accuracy", "--since", str(int(time.time() * 1000)), "--json").output)
    assert later["all"]["counts"] == 0
    window = json.loads(cli("accuracy", "--since", str(before), "--json").output)
    assert window["all"]["counts"] == 4

    text = cli("accuracy", env={"COLUMNS": "200"}).output
    assert (
        "50.0 %" in text
        and "Largest corrections" in text
        and "stock-import: found on a pallet" in text
    )

    # The processor counts the same, per location and outcome.
    metrics = processor.get("/metrics")[1].decode()
    assert 'stocksignal_cycle_counts_total{location="WH-A",outcome="corrected"} 1.0' in metrics
    assert 'stocksignal_cycle_counts_total{location="WH-A",outcome="agreed"} 1.0' in metrics
    assert (
        'stocksignal_count_correction_units_total{direction="down",location="WH-A"} 3.0' in metrics
    )
    assert 'stocksignal_count_correction_units_total{direction="up",location="WH-B"} 2.0' in metrics


def test_accuracy_without_topics_exits_4(cli):
    assert cli("accuracy").exit_code == 4
