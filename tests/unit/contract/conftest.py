"""Fixtures shared by the contract tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stocksignal.contract.schemas import SchemaSet, default_schema_set, schema_dir

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "tests" / "golden"

# Every record of docs/contract.md#records (inputs, then outputs).
INPUT_RECORDS = (
    "OrderPlaced", "OrderConfirmed", "OrderCancelled", "PickConfirmed", "ShipmentConfirmed",
    "ReturnReceived", "ReturnInspected", "InboundExpected", "StockReceived", "StockAdjusted",
    "StockCounted", "StockStatusChanged", "TransferDispatched", "TransferReceived",
    "ChannelConfigured", "ChannelRemoved", "BundleDefined", "BundleRemoved",
)  # fmt: skip
OUTPUT_RECORDS = (
    "AvailabilityChanged",
    "ReservationDecided",
    "StockMoved",
    "StockLevelChanged",
    "OrderDecided",
)
TOP_LEVEL_RECORDS = INPUT_RECORDS + OUTPUT_RECORDS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking ``record_name`` runs once per top-level record of the contract."""
    explicit = any(
        "record_name" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize")
    )
    if "record_name" in metafunc.fixturenames and not explicit:
        metafunc.parametrize("record_name", TOP_LEVEL_RECORDS)


@pytest.fixture(scope="session")
def spec_records() -> dict[str, tuple[str, ...]]:
    return {"input": INPUT_RECORDS, "output": OUTPUT_RECORDS}


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def schemas() -> SchemaSet:
    return default_schema_set()


@pytest.fixture()
def schema_copy(tmp_path: Path) -> Path:
    """A private copy of schemas/ to mutate."""
    target = tmp_path / "schemas"
    shutil.copytree(schema_dir(), target)
    return target


@pytest.fixture()
def edit_schema(schema_copy: Path) -> Callable[[str, Callable[[dict], Any]], None]:
    """Apply ``change`` to the JSON of ``schema_copy/<name>.avsc`` in place."""

    def edit(name: str, change: Callable[[dict], Any]) -> None:
        path = schema_copy / f"{name}.avsc"
        schema = json.loads(path.read_text())
        change(schema)
        path.write_text(json.dumps(schema, indent=2))

    return edit
