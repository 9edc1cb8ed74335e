"""``stocksignal catalog``: the components option and usage errors, before any service is asked."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from stocksignal.cli.catalog import fold_catalog, parse_components
from stocksignal.cli.channels import ChannelRecord
from stocksignal.cli.main import main

DEAD_KAFKA = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "STOCKSIGNAL_WEB_PORT": "9"}


def test_components_are_sku_colon_units_and_one_unit_by_default():
    assert parse_components("MUG:1, LAMP:2,CAN") == [
        {"sku": "MUG", "qty": 1},
        {"sku": "LAMP", "qty": 2},
        {"sku": "CAN", "qty": 1},
    ]
    with pytest.raises(click.BadParameter, match="whole number"):
        parse_components("MUG:two")
    with pytest.raises(click.BadParameter, match="names no component"):
        parse_components(" , ")


@pytest.mark.parametrize(
    ("components", "problem"),
    [
        ("MUG:1,MUG:2", "components[1].sku: 'MUG' is listed twice"),
        ("MUG:0", "components[0].qty: 0 is not in 1..1000"),
        ("GIFT:1", "components[0].sku: 'GIFT' is the bundle itself"),
    ],
)
def test_a_bundle_breaking_a_rule_is_refused_before_kafka_is_asked(components, problem):
    result = CliRunner().invoke(
        main, ["catalog", "set", "GIFT", "--components", components], env=DEAD_KAFKA
    )
    assert result.exit_code == 2, result.output
    assert problem in result.output


def test_the_newest_record_of_a_bundle_is_its_definition():
    def define(n, comps):
        return ChannelRecord(
            0, n, "GIFT", "BundleDefined", {"bundle_sku": "GIFT", "components": comps}
        )

    records = [define(0, [{"sku": "A", "qty": 1}]), define(1, [{"sku": "B", "qty": 1}])]
    assert fold_catalog(records)["GIFT"]["components"] == [{"sku": "B", "qty": 1}]
    removed = ChannelRecord(0, 2, "GIFT", "BundleRemoved", {"bundle_sku": "GIFT"})
    assert fold_catalog([*records, removed]) == {}
    assert fold_catalog([*records, ChannelRecord(0, 3, "GIFT", None, None)]) == {}


def test_an_order_decision_reads_in_one_line():
    from stocksignal.cli.formatting import format_order_decision
    from stocksignal.contract.examples import example

    line = format_order_decision(example("OrderDecided"))
    assert "ORD-2026-000124  REJECTED  ALL_OR_NOTHING  MUG-WHT-350 0/1" in line
    assert "reason=ORDER_INCOMPLETE: INSUFFICIENT_STOCK for LAMP-DESK-GRN" in line
