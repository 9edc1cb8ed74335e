"""docs/contract.md restates every record, field, type, default and enum symbol of schemas/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stocksignal.contract import topics as catalogue
from stocksignal.contract.schemas import load_named, schema_dir, top_level_records

DOC = (Path(__file__).resolve().parents[3] / "docs" / "contract.md").read_text()
NAMED = {name.rsplit(".", 1)[-1]: schema for name, schema in load_named(schema_dir()).items()}
COMMON = ("event_id", "occurred_at", "source")
ROW = re.compile(r"^\| `(\w+)` \|(.*)\|$", flags=re.M)


def rows() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, rest in ROW.findall(DOC):
        found.setdefault(name, rest)  # the first table row of a name is its definition
    return found


def render(avro) -> str:
    if isinstance(avro, list):
        (other,) = [b for b in avro if b != "null"]
        return render(other) + "?"
    if isinstance(avro, dict):
        if avro.get("type") == "array":
            return f"[{render(avro['items'])}]"
        if avro.get("logicalType") == "timestamp-millis":
            return "ms"
        return render(avro["type"])
    return avro.rsplit(".", 1)[-1]


def spelled(field: dict) -> str:
    text = f"{field['name']}: {render(field['type'])}"
    if "default" in field:
        text += f" = {json.dumps(field['default'])}"
    return f"`{text}`"


@pytest.mark.parametrize("name", sorted(NAMED))
def test_every_type_is_restated_with_every_field_in_order(name):
    schema = NAMED[name]
    row = rows().get(name)
    assert row is not None, f"docs/contract.md has no table row for {name}"
    if schema["type"] == "enum":
        expected = [f"`{s}`" for s in schema["symbols"]]
    else:
        expected = [
            spelled(f) for f in schema["fields"] if not (f["name"] in COMMON and name in INPUTS)
        ]
    positions = [row.find(item) for item in expected]
    assert -1 not in positions, (
        f"{name}: missing {[e for e, p in zip(expected, positions) if p < 0]}"
    )
    assert positions == sorted(positions), f"{name}: fields out of order"


INPUTS = {r for t in catalogue.list_topics(catalogue.Role.INPUT) for r in t.records}


def test_the_common_fields_of_every_input_are_stated_once():
    (schema,) = [NAMED["OrderPlaced"]]
    common = [spelled(f) for f in schema["fields"] if f["name"] in COMMON]
    sentence = DOC.split("**Every input event** also has", 1)[1].split("\n\n", 1)[0]
    assert all(c in sentence for c in common), common
    for name in INPUTS:
        assert [f["name"] for f in NAMED[name]["fields"][:3]] == list(COMMON), name


def test_each_record_row_names_its_topic_and_key():
    table = rows()
    for t in catalogue.list_topics():
        for record in t.records:
            assert f"`{t.name}` (`{t.key_field}`" in table[record], record
    assert set(top_level_records(load_named(schema_dir()))) == {
        f"stocksignal.v1.{r}" for t in catalogue.list_topics() for r in t.records
    }


def test_the_dlq_headers_are_all_described():
    for header in catalogue.DLQ_HEADERS:
        assert f"| `{header}` |" in DOC, header
    for reason in catalogue.DlqReason:
        assert f"`{reason}`" in DOC
