"""The rules of docs/semantics.md#validation, checked before anything is split or applied.

``validate`` collects every problem of a record, each naming its path, so the DLQ message
says everything that is wrong at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .catalog import MAX_COMPONENT_QTY, MAX_COMPONENTS
from .errors import ValidationError
from .symbols import Fulfilment, StockStatus

MAX_QTY = 1_000_000
MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 1024
MAX_TIMESTAMP = 2**63 - 1  # Avro long
MAX_AVRO_INT = 2**31 - 1  # a cap has no bound of its own beyond what its Avro int holds
FROM_STATUSES = (StockStatus.SELLABLE, StockStatus.DAMAGED, StockStatus.QUALITY_HOLD)
TO_STATUSES = (*FROM_STATUSES, StockStatus.WRITTEN_OFF)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Checker:
    """Accumulates problems for one record."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def _present(self, path: str, value: Any) -> bool:
        if value is None:
            self.fail(path, "is required")
            return False
        return True

    def id(self, path: str, value: Any, *, optional: bool = False) -> bool:
        if value is None and optional:
            return True
        if not self._present(path, value):
            return False
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_type_name(value)}")
        elif not 1 <= len(value) <= MAX_ID_LENGTH:
            self.fail(path, f"length {len(value)} is not in 1..{MAX_ID_LENGTH}")
        elif not value.isprintable():
            self.fail(path, "contains a non-printable character")
        elif value != value.strip():
            self.fail(path, "has leading or trailing whitespace")
        else:
            return True
        return False

    def text(self, path: str, value: Any, *, optional: bool = False) -> None:
        """Free text; a required one must say something, an optional one may be empty."""
        if value is None and optional:
            return
        if not self._present(path, value):
            return
        shortest = 0 if optional else 1
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_type_name(value)}")
        elif not shortest <= len(value) <= MAX_TEXT_LENGTH:
            self.fail(path, f"length {len(value)} is not in {shortest}..{MAX_TEXT_LENGTH}")

    def integer(self, path: str, value: Any, lo: int, hi: int, *, optional: bool = False) -> bool:
        if value is None and optional:
            return True
        if not self._present(path, value):
            return False
        # bool is an int subclass; True is not a quantity.
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"expected an integer, got {_type_name(value)}")
        elif not lo <= value <= hi:
            self.fail(path, f"{value} is not in {lo}..{hi}")
        else:
            return True
        return False

    def qty(self, path: str, value: Any, *, zero_ok: bool = False) -> bool:
        return self.integer(path, value, 0 if zero_ok else 1, MAX_QTY)

    def timestamp(self, path: str, value: Any, *, optional: bool = False) -> None:
        self.integer(path, value, 0, MAX_TIMESTAMP, optional=optional)

    def field(self, name: str) -> Any:
        return self.record.get(name)

    def lines(
        self,
        value: Any,
        line_check: Callable[[str, Mapping[str, Any]], bool],
        totals: tuple[str, ...],
    ) -> None:
        """A non-empty list of line records; per SKU, merged quantities must still fit."""
        if not self._present("lines", value):
            return
        if not isinstance(value, list):
            self.fail("lines", f"expected a list, got {_type_name(value)}")
            return
        if not value:
            self.fail("lines", "must not be empty")
            return
        merged: dict[str, dict[str, int]] = {}
        for i, line in enumerate(value):
            path = f"lines[{i}]"
            if not isinstance(line, Mapping):
                self.fail(path, f"expected a record, got {_type_name(line)}")
                continue
            sku_ok = self.id(f"{path}.sku", line.get("sku"))
            if line_check(path, line) and sku_ok:
                sums = merged.setdefault(line["sku"], {})
                for name in totals:
                    sums[name] = sums.get(name, 0) + line.get(name, 0)
        for sku, sums in merged.items():
            for name, total in sums.items():
                if total > MAX_QTY:
                    self.fail("lines", f"{name} of sku {sku!r} totals {total}, more than {MAX_QTY}")


# --- per-record checks ---------------------------------------------------------------------


def _order_line(c: _Checker, path: str, line: Mapping[str, Any]) -> bool:
    return c.qty(f"{path}.qty", line.get("qty"))


def _pick_line(c: _Checker, path: str, line: Mapping[str, Any]) -> bool:
    # qty_picked may be 0 when the whole line was short: "a line must move at least one unit".
    ok = c.qty(f"{path}.qty_picked", line.get("qty_picked"), zero_ok=True)
    ok = c.qty(f"{path}.qty_short", line.get("qty_short", 0), zero_ok=True) and ok
    if ok and line.get("qty_picked") + line.get("qty_short", 0) == 0:
        c.fail(path, "moves no unit (qty_picked and qty_short are both 0)")
        return False
    return ok


def _inspection_line(c: _Checker, path: str, line: Mapping[str, Any]) -> bool:
    ok = c.qty(f"{path}.qty_restock", line.get("qty_restock"), zero_ok=True)
    ok = c.qty(f"{path}.qty_damaged", line.get("qty_damaged"), zero_ok=True) and ok
    if ok and line["qty_restock"] + line["qty_damaged"] == 0:
        c.fail(path, "moves no unit (qty_restock and qty_damaged are both 0)")
        return False
    return ok


def _order_lines(c: _Checker, value: Any) -> None:
    c.lines(value, lambda p, line: _order_line(c, p, line), ("qty",))


def _order_placed(c: _Checker) -> None:
    c.id("order_id", c.field("order_id"))
    c.id("channel_id", c.field("channel_id"))
    _order_lines(c, c.field("lines"))
    c.timestamp("hold_expires_at", c.field("hold_expires_at"), optional=True)
    fulfilment = c.record.get("fulfilment", Fulfilment.PER_LINE)  # v1.1; absent: the Avro default
    if fulfilment not in tuple(Fulfilment):
        c.fail("fulfilment", f"{fulfilment!r} is not one of {', '.join(Fulfilment)}")


def _order_confirmed(c: _Checker) -> None:
    c.id("order_id", c.field("order_id"))


def _order_cancelled(c: _Checker) -> None:
    c.id("order_id", c.field("order_id"))
    if c.field("lines") is not None:  # null: the whole order
        _order_lines(c, c.field("lines"))
    c.text("reason", c.field("reason"), optional=True)


def _pick_confirmed(c: _Checker) -> None:
    c.id("order_id", c.field("order_id"))
    c.id("location_id", c.field("location_id"))
    c.lines(c.field("lines"), lambda p, line: _pick_line(c, p, line), ("qty_picked", "qty_short"))


def _shipment_confirmed(c: _Checker) -> None:
    c.id("shipment_id", c.field("shipment_id"))
    c.id("order_id", c.field("order_id"))
    c.id("location_id", c.field("location_id"))
    _order_lines(c, c.field("lines"))


def _return_received(c: _Checker) -> None:
    c.id("return_id", c.field("return_id"))
    c.id("order_id", c.field("order_id"), optional=True)
    c.id("location_id", c.field("location_id"))
    _order_lines(c, c.field("lines"))


def _return_inspected(c: _Checker) -> None:
    c.id("return_id", c.field("return_id"))
    c.id("location_id", c.field("location_id"))
    c.lines(
        c.field("lines"),
        lambda p, line: _inspection_line(c, p, line),
        ("qty_restock", "qty_damaged"),
    )


def _sku_at(c: _Checker) -> None:
    c.id("location_id", c.field("location_id"))
    c.id("sku", c.field("sku"))


def _inbound_expected(c: _Checker) -> None:
    c.id("reference", c.field("reference"))
    _sku_at(c)
    c.qty("qty", c.field("qty"))
    c.timestamp("expected_at", c.field("expected_at"), optional=True)


def _stock_received(c: _Checker) -> None:
    c.id("reference", c.field("reference"), optional=True)
    _sku_at(c)
    c.qty("qty", c.field("qty"))


def _stock_adjusted(c: _Checker) -> None:
    _sku_at(c)
    if c.integer("qty_delta", c.field("qty_delta"), -MAX_QTY, MAX_QTY) and not c.field("qty_delta"):
        c.fail("qty_delta", "must not be 0")
    c.text("reason", c.field("reason"))


def _stock_counted(c: _Checker) -> None:
    _sku_at(c)
    c.qty("counted_qty", c.field("counted_qty"), zero_ok=True)


def _status(c: _Checker, name: str, allowed: tuple[StockStatus, ...]) -> bool:
    value = c.field(name)
    if not c._present(name, value):
        return False
    if value == StockStatus.WRITTEN_OFF and StockStatus.WRITTEN_OFF not in allowed:
        c.fail(name, "WRITTEN_OFF is not a valid from_status (written-off units are gone)")
        return False
    if value not in allowed:
        c.fail(name, f"{value!r} is not one of {', '.join(allowed)}")
        return False
    return True


def _stock_status_changed(c: _Checker) -> None:
    _sku_at(c)
    c.qty("qty", c.field("qty"))
    ok = _status(c, "from_status", FROM_STATUSES)
    ok = _status(c, "to_status", TO_STATUSES) and ok
    if ok and c.field("from_status") == c.field("to_status"):
        c.fail("to_status", f"equals from_status ({c.field('from_status')})")


def _transfer_dispatched(c: _Checker) -> None:
    c.id("transfer_id", c.field("transfer_id"))
    ok = c.id("from_location_id", c.field("from_location_id"))
    ok = c.id("to_location_id", c.field("to_location_id")) and ok
    c.id("sku", c.field("sku"))
    c.qty("qty", c.field("qty"))
    if ok and c.field("from_location_id") == c.field("to_location_id"):
        c.fail("to_location_id", f"equals from_location_id {c.field('from_location_id')!r}")


def _transfer_received(c: _Checker) -> None:
    c.id("transfer_id", c.field("transfer_id"))
    c.id("to_location_id", c.field("to_location_id"))
    c.id("sku", c.field("sku"))
    c.qty("qty_received", c.field("qty_received"))


def _channel_configured(c: _Checker) -> None:
    c.id("channel_id", c.field("channel_id"))
    c.integer("safety_stock", c.record.get("safety_stock", 0), 0, MAX_QTY)  # Avro default 0
    # v1.1 channel rules (docs/semantics.md#channel-rules); absent means the Avro default.
    c.integer("buffer_percent", c.record.get("buffer_percent", 0), 0, 100)
    c.integer("max_available", c.record.get("max_available"), 0, MAX_AVRO_INT, optional=True)
    c.integer("low_stock_threshold", c.record.get("low_stock_threshold", 0), 0, MAX_QTY)
    locations = c.field("location_ids")
    if not c._present("location_ids", locations):
        return
    if not isinstance(locations, list):
        c.fail("location_ids", f"expected a list, got {_type_name(locations)}")
        return
    seen: set[str] = set()
    for i, loc in enumerate(locations):
        if c.id(f"location_ids[{i}]", loc):
            if loc in seen:
                c.fail(f"location_ids[{i}]", f"{loc!r} is listed twice")
            seen.add(loc)


def _channel_removed(c: _Checker) -> None:
    c.id("channel_id", c.field("channel_id"))


def _bundle_defined(c: _Checker) -> None:
    """Contract 11.1: 1..20 components with distinct SKUs, each qty in 1..1000, none the
    bundle itself (the rules that need the catalogue or the stock are catalog.refusal's)."""
    bundle_ok = c.id("bundle_sku", c.field("bundle_sku"))
    components = c.field("components")
    if not c._present("components", components):
        return
    if not isinstance(components, list):
        c.fail("components", f"expected a list, got {_type_name(components)}")
        return
    if not 1 <= len(components) <= MAX_COMPONENTS:
        c.fail("components", f"has {len(components)} components, not 1..{MAX_COMPONENTS}")
    seen: set[str] = set()
    for i, comp in enumerate(components):
        path = f"components[{i}]"
        if not isinstance(comp, Mapping):
            c.fail(path, f"expected a record, got {_type_name(comp)}")
            continue
        c.integer(f"{path}.qty", comp.get("qty"), 1, MAX_COMPONENT_QTY)
        sku = comp.get("sku")
        if not c.id(f"{path}.sku", sku):
            continue
        if sku in seen:
            c.fail(f"{path}.sku", f"{sku!r} is listed twice")
        if bundle_ok and sku == c.field("bundle_sku"):
            c.fail(f"{path}.sku", f"{sku!r} is the bundle itself")
        seen.add(str(sku))


def _bundle_removed(c: _Checker) -> None:
    c.id("bundle_sku", c.field("bundle_sku"))


RECORD_CHECKS: dict[str, Callable[[_Checker], None]] = {
    "OrderPlaced": _order_placed,
    "OrderConfirmed": _order_confirmed,
    "OrderCancelled": _order_cancelled,
    "PickConfirmed": _pick_confirmed,
    "ShipmentConfirmed": _shipment_confirmed,
    "ReturnReceived": _return_received,
    "ReturnInspected": _return_inspected,
    "InboundExpected": _inbound_expected,
    "StockReceived": _stock_received,
    "StockAdjusted": _stock_adjusted,
    "StockCounted": _stock_counted,
    "StockStatusChanged": _stock_status_changed,
    "TransferDispatched": _transfer_dispatched,
    "TransferReceived": _transfer_received,
    "ChannelConfigured": _channel_configured,
    "ChannelRemoved": _channel_removed,
    "BundleDefined": _bundle_defined,
    "BundleRemoved": _bundle_removed,
}


def validate(record_name: str, record: Mapping[str, Any]) -> None:
    """Raise :class:`ValidationError` listing every rule ``record`` breaks."""
    check = RECORD_CHECKS.get(record_name)
    if check is None:
        raise ValidationError([f"record: unknown record name {record_name!r}"])
    if not isinstance(record, Mapping):
        raise ValidationError([f"record: expected a record, got {_type_name(record)}"])
    c = _Checker(record)
    c.id("event_id", record.get("event_id"))
    c.timestamp("occurred_at", record.get("occurred_at"))
    c.text("source", record.get("source"), optional=True)
    check(c)
    if c.problems:
        raise ValidationError(c.problems)
