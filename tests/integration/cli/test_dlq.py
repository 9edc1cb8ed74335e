"""``stocksignal dlq`` against a real broker and real processor workers: a record dead-lettered,
the cause fixed, the record replayed twice, and its stock change applied once.

The story (docs/operations.md, StocksignalDlqRateHigh): a WMS upgraded its StockReceived
schema (a new optional field) before the processor. The running processor does not know the
new fingerprint: UNKNOWN_SCHEMA. The fix is a processor that knows it — here a copy of this
package whose schemas archive that writer schema (docs/contract.md#evolving-a-schema) — and
then ``dlq replay``, run twice as an operator might.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_writer

import stocksignal
from stocksignal import bootstrap
from stocksignal.bench import harness
from stocksignal.cli.kafka_read import read_all
from stocksignal.contract import topics as catalogue
from stocksignal.contract.schemas import (
    default_schema_set,
    schema_dir,
    strip_logical_types,
    writer_schema,
)

pytestmark = pytest.mark.integration

SKU = "MUG-DLQ"


def _newer_stock_received() -> dict:
    """StockReceived as a producer that upgraded first writes it: one more optional field."""
    schema = json.loads(json.dumps(default_schema_set().current("StockReceived").schema))
    schema["fields"].append(
        {
            "name": "pallet_id",
            "type": ["null", "string"],
            "default": None,
            "doc": "Pallet the units came on.",
        }
    )
    return schema


def _frame(schema: dict, record: dict) -> bytes:
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(strip_logical_types(schema)), record)
    return b"\xc3\x01" + writer_schema(schema).fingerprint + body.getvalue()


def _fixed_package(tmp_path: Path, schema: dict) -> Path:
    """A copy of this package whose schemas archive the newer writer schema: the fix."""
    root = tmp_path / "fixed"
    package = root / "stocksignal"
    shutil.copytree(
        Path(stocksignal.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    avsc = package / "contract" / "avsc"
    shutil.copytree(schema_dir(), avsc, dirs_exist_ok=True)
    (avsc / "history").mkdir(exist_ok=True)
    (avsc / "history" / f"StockReceived.{writer_schema(schema).fingerprint_hex}.avsc").write_text(
        json.dumps(schema)
    )
    return root


def _start(settings, log: Path, pythonpath: Path | None = None) -> harness.Worker:
    env = (
        {}
        if pythonpath is None
        else {"PYTHONPATH": f"{pythonpath}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    )
    command = ("-m", "stocksignal.cli.main", "run", "processor")
    worker = harness.Worker(settings, log, command=command, env=env).start()
    worker.wait_ready()
    return worker


def _cli_in(package: Path, settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **settings.to_env(),
        "PYTHONPATH": f"{package}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    return subprocess.run(
        [sys.executable, "-m", "stocksignal.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _on_hand(worker: harness.Worker) -> int:
    status, body = worker.get(f"/skus/{SKU}")
    assert status == 200, body
    return json.loads(body)["positions"]["WH-A"]["on_hand"]


def test_a_dead_lettered_record_is_replayed_after_the_fix_and_applied_once(
    processor, cli, tmp_path
):
    s = processor.settings
    schema = _newer_stock_received()
    record = {
        "event_id": "wms-1",
        "occurred_at": 1_767_225_600_000,
        "source": "wms",
        "reference": None,
        "location_id": "WH-A",
        "sku": SKU,
        "qty": 7,
        "pallet_id": "P-9",
    }
    producer = bootstrap.make_producer(s)
    producer.produce(
        s.topic_prefix + catalogue.STOCK,
        _frame(schema, record),
        SKU.encode(),
        headers=[("traceparent", b"00-abc-01")],
    )
    assert producer.flush(10) == 0
    processor.wait_metric("stocksignal_dlq_records_total", 1)
    _, metrics = processor.get("/metrics")
    assert (
        'stocksignal_dlq_records_total{reason="UNKNOWN_SCHEMA",topic="inventory.stock.v1"} 1.0'
        in metrics.decode()
    )
    assert f"dead-lettered {s.topic_prefix}inventory.stock.v1[" in processor.log_path.read_text()

    listed = cli(
        "dlq",
        "list",
        "--reason",
        "UNKNOWN_SCHEMA",
        "--topic",
        "inventory.stock.v1",
        "--since",
        "-1h",
    )
    assert listed.exit_code == 0, listed.output
    (line,) = [
        ln for ln in listed.stdout.splitlines() if "UNKNOWN_SCHEMA" in ln and "@" in ln.split()[0]
    ]
    ref = line.split()[0]
    assert f"key='{SKU}'" in line and "(undecodable)" in line
    assert "1 of 1 record(s)" in listed.stdout and "1 UNKNOWN_SCHEMA" in listed.stdout
    assert "0 of 1" in cli("dlq", "list", "--reason", "DECODE_ERROR").stdout

    shown = cli("dlq", "show", ref)
    assert shown.exit_code == 0, shown.output
    assert "traceparent: 00-abc-01" in shown.stdout and "dlq.reason: UNKNOWN_SCHEMA" in shown.stdout
    assert (
        "body: does not decode" in shown.stdout and "would be dead-lettered again" in shown.stdout
    )

    # Before the fix, this CLI's rules refuse it too: nothing is sent.
    early = cli("dlq", "replay", "--offsets", ref)
    assert early.exit_code == 1 and "would be dead-lettered again" in early.stderr
    assert len(read_all(s, s.topic_prefix + catalogue.STOCK)) == 1

    # The fix: a processor (and CLI) that knows the newer schema.
    processor.stop()
    fixed = _fixed_package(tmp_path, schema)
    worker = _start(replace(s), tmp_path / "fixed-processor.log", fixed)
    try:
        shown = _cli_in(fixed, s, "dlq", "show", ref)
        assert (
            "body: StockReceived" in shown.stdout and "today's rules accept it" in shown.stdout
        ), shown.stderr
        for _ in range(2):  # as an operator might: twice
            replayed = _cli_in(fixed, s, "dlq", "replay", "--reason", "UNKNOWN_SCHEMA")
            assert replayed.returncode == 0, replayed.stdout + replayed.stderr
            assert "replayed 1 record(s)" in replayed.stdout
        worker.wait_metric("stocksignal_commands_applied_total", 1)
        worker.wait_metric("stocksignal_duplicates_dropped_total", 1)
        assert _on_hand(worker) == 7  # applied once, not 14
        assert worker.metric("stocksignal_commands_applied_total") == 1
        assert worker.metric("stocksignal_dlq_records_total") == 0  # nothing went back to the DLQ
    finally:
        worker.stop()

    stock = read_all(s, s.topic_prefix + catalogue.STOCK)
    assert len(stock) == 3
    original, *replays = sorted(stock, key=lambda r: r.offset)  # one key: one partition
    for r in replays:  # the original key, value and headers, no dlq.* headers
        assert (r.key, r.value, r.headers) == (original.key, original.value, original.headers)
        assert r.partition == original.partition
    codec = bootstrap.make_codec(s)
    movements = [
        codec.decode(m.value).record for m in read_all(s, s.topic_prefix + catalogue.MOVEMENTS)
    ]
    assert [(m["bucket"], m["delta"]) for m in movements] == [("ON_HAND", 7)]


def test_replay_needs_a_selection_and_never_writes_an_output_topic(with_topics, cli):
    s = with_topics
    assert cli("dlq", "replay").exit_code == 2
    nothing = cli("dlq", "replay", "--reason", "DECODE_ERROR")
    assert nothing.exit_code == 1 and "matches" in nothing.output
    # A DLQ record that claims to come from an output topic (a hand-written one, a bug).
    from stocksignal.contract import dlq_headers

    producer = bootstrap.make_producer(s)
    headers = dlq_headers(
        "DECODE_ERROR", "bad", topic=s.topic_prefix + catalogue.AVAILABILITY, partition=0, offset=1
    )
    producer.produce(s.topic_prefix + catalogue.DLQ, b"junk", b"K", partition=0, headers=headers)
    assert producer.flush(10) == 0
    listed = cli("dlq", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (record,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert record["ref"] == "0@0" and record["reason"] == "DECODE_ERROR" and record["key"] == "K"
    assert record["value_hex"] == b"junk".hex() and record["type"] is None
    assert ["dlq.reason", "DECODE_ERROR"] in record[
        "headers"
    ] and "1 of 1 record(s)" in listed.stderr
    shown = json.loads(cli("dlq", "show", "0@0", "--json").stdout)
    assert shown["source"] == f"{s.topic_prefix}inventory.availability.v1[0]@1"
    assert "not replayable" in shown["replay"]
    refused = cli("dlq", "replay", "--all", "--force")
    assert refused.exit_code == 1 and "never to the processor's outputs" in refused.stderr
    assert read_all(s, s.topic_prefix + catalogue.AVAILABILITY) == []
    assert cli("dlq", "show", "0@99").exit_code == 1
