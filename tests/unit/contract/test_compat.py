"""The compatibility guard passes today and catches each kind of breaking schema change."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stocksignal.contract.compat import Report, check, incompatibilities, main
from stocksignal.contract.examples import example
from stocksignal.contract.golden import WRITER_DIR, write_samples
from stocksignal.contract.schemas import SchemaSet

Edit = Callable[[str, Callable[[dict], Any]], None]


def _field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def _messages(report: Report, kind: str) -> list[str]:
    return [f"{p.subject}: {p.message}" for p in report.problems if p.kind == kind]


def test_the_current_schemas_pass(golden_dir: Path) -> None:
    report = check(golden_dir)
    assert report.ok, report.render()
    # v1.1 evolved ChannelConfigured (its v1 writer schema is archived, both have a sample)
    # and added StockLevelChanged.
    assert (report.records, report.samples, report.archived) == (23, 25, 2)


def test_command_line_passes_today(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("schemas-check (full): 23 records, 25 golden samples, 2 archived")
    assert out.rstrip().endswith("all compatible")


# --- each breaking change is caught ----------------------------------------------------------


def test_renamed_field(golden_dir: Path, schema_copy: Path, edit_schema: Edit) -> None:
    edit_schema("OrderPlaced", lambda s: _field(s, "channel_id").update(name="sales_channel_id"))
    report = check(golden_dir, schema_copy)
    assert any(
        "OrderPlaced.sales_channel_id: the reader needs this field (no default)" in m
        for m in _messages(report, "backward")
    ), report.render()
    forward = _messages(report, "forward")
    assert any("OrderPlaced.channel_id: the reader needs this field" in m for m in forward)


def test_removed_field_without_default(
    golden_dir: Path, schema_copy: Path, edit_schema: Edit
) -> None:
    edit_schema("StockAdjusted", lambda s: s["fields"].remove(_field(s, "reason")))
    report = check(golden_dir, schema_copy)
    # New readers simply skip it; readers still on the old schema cannot do without it.
    assert _messages(report, "backward") == []
    expected = "StockAdjusted.reason: the reader needs this field (no default) and the writer"
    assert any(expected in m for m in _messages(report, "forward")), report.render()
    assert not check(golden_dir, schema_copy, mode="backward").kinds() & {"backward", "forward"}


def test_changed_type(golden_dir: Path, schema_copy: Path, edit_schema: Edit) -> None:
    edit_schema("OrderLine", lambda s: _field(s, "qty").update(type="string"))
    report = check(golden_dir, schema_copy)
    backward = _messages(report, "backward")
    for record in ("OrderPlaced", "OrderCancelled", "ShipmentConfirmed", "ReturnReceived"):
        assert any(
            m.startswith(f"{record}@") and "type changed from int to string" in m for m in backward
        ), record
    assert any("OrderPlaced.lines[].qty: type changed from int to string" in m for m in backward)


def test_removed_enum_symbol_even_if_no_sample_uses_it(
    golden_dir: Path, schema_copy: Path, edit_schema: Edit
) -> None:
    edit_schema("StockStatus", lambda s: s["symbols"].remove("WRITTEN_OFF"))
    report = check(golden_dir, schema_copy)
    assert any(
        "StockStatusChanged.from_status: symbol(s) WRITTEN_OFF unknown to the reader" in m
        for m in _messages(report, "backward")
    ), report.render()


def test_added_enum_symbol_breaks_old_readers_only(
    golden_dir: Path, schema_copy: Path, edit_schema: Edit
) -> None:
    edit_schema("ReservationStatus", lambda s: s["symbols"].append("ON_BACKORDER"))
    report = check(golden_dir, schema_copy)
    assert _messages(report, "backward") == []
    forward = _messages(report, "forward")
    assert any("ReservationDecided.status: symbol(s) ON_BACKORDER unknown" in m for m in forward)


def test_promotion_breaks_old_readers_only(
    golden_dir: Path, schema_copy: Path, edit_schema: Edit
) -> None:
    edit_schema("StockAdjusted", lambda s: _field(s, "qty_delta").update(type="long"))
    report = check(golden_dir, schema_copy)
    assert _messages(report, "backward") == []
    forward = _messages(report, "forward")
    assert any("StockAdjusted.qty_delta: type changed from long to int" in m for m in forward)


def test_changed_logical_type(golden_dir: Path, schema_copy: Path, edit_schema: Edit) -> None:
    micros = {"type": "long", "logicalType": "timestamp-micros"}
    edit_schema("StockMoved", lambda s: _field(s, "occurred_at").update(type=micros))
    report = check(golden_dir, schema_copy)
    expected = (
        "StockMoved.occurred_at: logical type changed from timestamp-millis to timestamp-micros"
    )
    assert any(expected in m for m in _messages(report, "backward")), report.render()


def test_renamed_record(golden_dir: Path, schema_copy: Path) -> None:
    old = schema_copy / "ChannelRemoved.avsc"
    text = old.read_text().replace('"ChannelRemoved"', '"ChannelDeleted"')
    (schema_copy / "ChannelDeleted.avsc").write_text(text)
    old.unlink()
    report = check(golden_dir, schema_copy)
    assert any("record ChannelRemoved no longer exists" in m for m in _messages(report, "backward"))


def test_command_line_fails_with_a_readable_report(
    golden_dir: Path, schema_copy: Path, edit_schema: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_schema("OrderLine", lambda s: _field(s, "qty").update(type="string"))
    assert main(["--golden", str(golden_dir), "--schemas", str(schema_copy)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  backward   OrderPlaced@" in out
    assert "problem(s); see docs/contract.md" in out


# --- a safe evolution, start to finish -------------------------------------------------------


def test_safe_evolution_needs_only_archiving_and_a_new_sample(
    golden_dir: Path, schema_copy: Path, edit_schema: Edit, tmp_path: Path
) -> None:
    old_fingerprint = SchemaSet.load(schema_copy).current("OrderPlaced").fingerprint_hex
    before = check(golden_dir, schema_copy)
    edit_schema(
        "OrderPlaced",
        lambda s: s["fields"].append(
            {"name": "note", "type": ["null", "string"], "default": None, "doc": "Gift note."}
        ),
    )
    # OrderCancelled.reason had a default: removing it is safe.
    edit_schema("OrderCancelled", lambda s: s["fields"].remove(_field(s, "reason")))

    golden = tmp_path / "golden"
    shutil.copytree(golden_dir, golden)
    report = check(golden, schema_copy)
    assert report.kinds() == {"unarchived", "no-golden"}, report.render()
    advice = f"cp tests/golden/{WRITER_DIR}/OrderPlaced.{old_fingerprint}.avsc schemas/history/"
    assert any(advice in m for m in _messages(report, "unarchived"))

    # Follow the report: archive the previous writer schemas, add samples for the new ones.
    for record in ("OrderPlaced", "OrderCancelled"):
        for path in (golden / WRITER_DIR).glob(f"{record}.*.avsc"):
            shutil.copy(path, schema_copy / "history")
    evolved = SchemaSet.load(schema_copy)
    written, _ = write_samples(golden, evolved, examples=lambda n: _fit(example(n), evolved, n))
    assert sorted(w.split(".")[0] for w in written) == ["OrderCancelled", "OrderPlaced"]
    report = check(golden, schema_copy)
    assert report.ok, report.render()
    assert report.archived == before.archived + 2 and report.samples == before.samples + 2


def _fit(record: dict, schemas: SchemaSet, name: str) -> dict:
    """The example as the evolved schema has it (what a developer would edit in examples.py)."""
    fields = [f["name"] for f in schemas.current(name).schema["fields"]]
    return {k: record.get(k) for k in fields}


# --- the resolution rules themselves ---------------------------------------------------------


def _record(*fields: dict, name: str = "R", **extra: Any) -> dict:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields), **extra}


def test_rules_unions() -> None:
    nullable = _record({"name": "a", "type": ["null", "string"]})
    plain = _record({"name": "a", "type": "string"})
    assert incompatibilities(plain, nullable) == []  # string data reads as [null, string]
    assert incompatibilities(nullable, plain) == ["R.a: type changed from null to string"]
    widened = _record({"name": "a", "type": ["null", "string", "long"]})
    assert incompatibilities(nullable, widened) == []
    assert incompatibilities(widened, nullable) == ["R.a: long is not among [null, string]"]


def test_rules_aliases_make_renames_safe() -> None:
    old = _record({"name": "a", "type": "int"})
    new = _record({"name": "b", "type": "int", "aliases": ["a"]}, name="S", aliases=["t.R"])
    assert incompatibilities(old, new) == []


def test_rules_field_added_with_default_is_safe_both_ways() -> None:
    old = _record({"name": "a", "type": "int"})
    new = _record({"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0})
    assert incompatibilities(old, new) == incompatibilities(new, old) == []


# --- the golden files themselves -------------------------------------------------------------


def test_a_damaged_golden_frame_fails_the_real_decode(golden_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    shutil.copytree(golden_dir, golden)
    frame = next(golden.glob("StockCounted.*.bin"))
    frame.write_bytes(frame.read_bytes()[:-2])
    report = check(golden)
    assert report.kinds() == {"backward"}
    [message] = _messages(report, "backward")
    assert "fastavro cannot read the golden frame with the current schema" in message
    assert "truncated" in message


def test_edited_golden_files_are_reported(golden_dir: Path, tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    shutil.copytree(golden_dir, golden)
    canonical = next((golden / WRITER_DIR).glob("ChannelRemoved.*.canonical"))
    canonical.write_text(canonical.read_text().replace("channel_id", "channel"))
    report = check(golden)
    assert report.kinds() == {"golden"}
    assert "stored canonical form is not that of the archived writer schema" in report.render()


def test_an_archived_schema_the_current_one_cannot_read_is_reported(
    golden_dir: Path, schema_copy: Path, schemas: SchemaSet
) -> None:
    import json

    from stocksignal.contract.schemas import writer_schema

    older = json.loads(json.dumps(schemas.current("OrderConfirmed").schema))
    _field(older, "order_id")["type"] = "long"
    ws = writer_schema(older)
    (schema_copy / "history" / f"OrderConfirmed.{ws.fingerprint_hex}.avsc").write_text(
        json.dumps(older)
    )
    report = check(golden_dir, schema_copy)
    assert report.kinds() == {"history"}
    assert [p.message for p in report.problems] == [
        "OrderConfirmed.order_id: type changed from long to string"
    ]
