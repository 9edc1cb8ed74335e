"""docs/architecture.md's layer table is exactly what import-linter enforces (pyproject.toml)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["type"]: c for c in config["contracts"]}


def _documented_layers() -> list[set[str]]:
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("## Packages", 1)[1].split("\n## ", 1)[0]
    layers: dict[int, set[str]] = {}
    for number, cell in re.findall(r"^\| (\d+) \| ([^|]+) \|", section, re.M):
        layers.setdefault(int(number), set()).update(re.findall(r"`(stocksignal\.[a-z_.]+)`", cell))
    return [layers[n] for n in sorted(layers)]


def test_the_table_lists_the_enforced_layers_in_order():
    enforced = [{p.strip() for p in layer.split("|")} for layer in _contracts()["layers"]["layers"]]
    assert _documented_layers() == enforced


def test_every_ignored_import_is_listed_as_an_exception():
    text = (REPO / "docs" / "architecture.md").read_text()
    exceptions = text.split("Exceptions, each an import the contracts ignore by name", 1)[1].split(
        "\n## ", 1
    )[0]
    for ignored in _contracts()["layers"]["ignore_imports"]:
        importer, imported = (side.strip() for side in ignored.split("->"))
        assert f"`{importer}`" in exceptions or f"`{importer.rsplit('.', 1)[0]}.*`" in exceptions, (
            ignored
        )
        assert imported.rsplit(".", 1)[-1] in exceptions, ignored


def test_the_cycle_contract_ignores_no_more_than_the_layers_do():
    contracts = _contracts()
    assert set(contracts["acyclic_siblings"]["ignore_imports"]) <= set(
        contracts["layers"]["ignore_imports"]
    )
