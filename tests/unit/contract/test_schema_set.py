"""SchemaSet: finding the schemas, archived writer schemas, and reading old data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastavro import schemaless_writer

from stocksignal.contract import SchemaError, SchemaSet, UnknownSchemaError
from stocksignal.contract.schemas import _find_schema_dir, repo_root, writer_schema
from stocksignal.contract.single_object import SingleObjectCodec


def _older_order_confirmed(schemas: SchemaSet) -> dict:
    """OrderConfirmed as it might have been: no ``source`` yet, and a ``note`` since dropped."""
    schema = json.loads(json.dumps(schemas.current("OrderConfirmed").schema))
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "source"]
    schema["fields"].append({"name": "note", "type": "string", "doc": "Dropped in v1."})
    return schema


def _frame(schema: dict, record: dict) -> bytes:
    ws = writer_schema(schema)
    body = io.BytesIO()
    schemaless_writer(body, ws.parsed, record)
    return b"\xc3\x01" + ws.fingerprint + body.getvalue()


def _archive(schema_copy: Path, schema: dict) -> Path:
    ws = writer_schema(schema)
    path = schema_copy / "history" / f"{ws.record_name}.{ws.fingerprint_hex}.avsc"
    path.write_text(json.dumps(schema))
    return path


OLD_RECORD = {"event_id": "e-old", "occurred_at": 1_600_000_000_000, "order_id": "o-1", "note": "x"}


def test_data_of_an_archived_writer_schema_decodes_to_the_current_shape(
    schemas: SchemaSet, schema_copy: Path
) -> None:
    older = _older_order_confirmed(schemas)
    frame = _frame(older, OLD_RECORD)
    with pytest.raises(UnknownSchemaError):  # not archived: unknown
        SingleObjectCodec(SchemaSet.load(schema_copy)).decode(frame)

    _archive(schema_copy, older)
    loaded = SchemaSet.load(schema_copy)
    # ChannelConfigured's and OrderPlaced's v1 schemas are archived in the repository (v1.1,
    # docs/contract.md#v11-additions).
    assert sorted(ws.record_name for ws in loaded.history) == [
        "ChannelConfigured",
        "OrderConfirmed",
        "OrderPlaced",
    ]
    name, record = SingleObjectCodec(loaded).decode(frame)
    assert name == "OrderConfirmed"
    assert record == {"event_id": "e-old", "occurred_at": 1_600_000_000_000, "source": None,
                      "order_id": "o-1"}  # fmt: skip
    assert type(record["occurred_at"]) is int


def test_current_data_still_decodes_next_to_archived_schemas(
    schemas: SchemaSet, schema_copy: Path
) -> None:
    _archive(schema_copy, _older_order_confirmed(schemas))
    codec = SingleObjectCodec(SchemaSet.load(schema_copy))
    record = {"event_id": "e", "occurred_at": 5, "source": "pos", "order_id": "o"}
    assert codec.decode(codec.encode("OrderConfirmed", record)).record == record


def test_an_archived_schema_that_was_edited_is_refused(
    schemas: SchemaSet, schema_copy: Path
) -> None:
    path = _archive(schema_copy, _older_order_confirmed(schemas))
    edited = json.loads(path.read_text())
    edited["fields"].append({"name": "extra", "type": "int", "doc": "sneaked in"})
    path.write_text(json.dumps(edited))
    with pytest.raises(SchemaError, match="an archived schema is never edited"):
        SchemaSet.load(schema_copy)


def test_an_archived_schema_of_an_unknown_record_is_refused(
    schemas: SchemaSet, schema_copy: Path
) -> None:
    stray = {**_older_order_confirmed(schemas), "name": "OrderAbandoned"}
    _archive(schema_copy, stray)
    with pytest.raises(SchemaError, match="names no current record"):
        SchemaSet.load(schema_copy)


def test_a_file_must_be_named_after_its_type(schema_copy: Path) -> None:
    (schema_copy / "OrderLine.avsc").rename(schema_copy / "Line.avsc")
    with pytest.raises(SchemaError, match="declares 'OrderLine'"):
        SchemaSet.load(schema_copy)


def test_a_missing_named_type_is_reported(schema_copy: Path) -> None:
    (schema_copy / "PickLine.avsc").unlink()
    with pytest.raises(SchemaError, match="unknown type 'stocksignal.v1.PickLine'"):
        SchemaSet.load(schema_copy)


def test_lookup_by_short_and_full_name(schemas: SchemaSet) -> None:
    assert schemas.current("StockMoved") is schemas.current("stocksignal.v1.StockMoved")
    assert "StockMoved" in schemas and "OrderLine" not in schemas


# --- where the schemas are found -------------------------------------------------------------


def test_packaged_schemas_win_over_the_checkout(tmp_path: Path) -> None:
    packaged = tmp_path / "pkg" / "avsc"
    packaged.mkdir(parents=True)
    (packaged / "A.avsc").write_text("{}")
    checkout = tmp_path / "repo" / "schemas"
    checkout.mkdir(parents=True)
    (checkout / "A.avsc").write_text("{}")
    start = tmp_path / "repo" / "services" / "pkg"
    start.mkdir(parents=True)
    assert _find_schema_dir(packaged, start) == packaged
    (packaged / "A.avsc").unlink()
    assert _find_schema_dir(packaged, start) == checkout


def test_no_schemas_anywhere_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="no schemas"):
        _find_schema_dir(tmp_path / "nothing", tmp_path)


def test_repo_root_is_the_checkout() -> None:
    root = repo_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert root == Path(__file__).resolve().parents[3]
