"""Turning one validated input event into per-SKU commands (and remembering orders' SKUs).

``split`` is pure: the router keeps the :class:`OrderRef` of each order (docs/processor.md#stages) and
passes it in for the events that name only the order. The router must also be replay-safe:
an ``OrderConfirmed`` replayed after the order was placed again with a new SKU must fan out
to the SKUs it reached the first time, no more. So the OrderRef remembers, per such event,
how many of the order's SKUs it fanned out to (:func:`remember_fan_out`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import commands as c
from .errors import UnknownOrderError, ValidationError

Record = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What the router remembers of a placed order: enough to fan out SKU-less events.

    ``skus`` only ever grows, in order of first placement; ``fanned_out`` maps the event id of
    each OrderConfirmed / whole-order OrderCancelled already split to how many of ``skus`` it
    reached, so that splitting it again (a replay) reaches exactly the same SKUs.
    """

    order_id: str
    channel_id: str
    skus: tuple[str, ...]
    fanned_out: Mapping[str, int] = field(default_factory=dict)

    def skus_for(self, event_id: str) -> tuple[str, ...]:
        """The SKUs an order-level event fans out to: as the first time, else all known now."""
        n = self.fanned_out.get(event_id)
        return self.skus if n is None else self.skus[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "channel_id": self.channel_id,
            "skus": list(self.skus),
            "fanned_out": dict(self.fanned_out),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OrderRef:
        return cls(d["order_id"], d["channel_id"], tuple(d["skus"]), dict(d.get("fanned_out", {})))


def remember_order(record: Record, known: OrderRef | None = None) -> OrderRef:
    """The OrderRef after an OrderPlaced; placing an order again adds its new SKUs.

    Idempotent: remembering the same OrderPlaced twice gives the same OrderRef.
    """
    skus = list(known.skus) if known is not None else []
    for line in record["lines"]:
        if line["sku"] not in skus:
            skus.append(line["sku"])
    fanned_out = known.fanned_out if known is not None else {}
    return OrderRef(record["order_id"], record["channel_id"], tuple(skus), fanned_out)


def remember_fan_out(order: OrderRef, event_id: str) -> OrderRef:
    """Record how far an order-level event fanned out (keep the first answer on a replay)."""
    if event_id in order.fanned_out:
        return order
    return OrderRef(
        order.order_id,
        order.channel_id,
        order.skus,
        {**order.fanned_out, event_id: len(order.skus)},
    )


def needs_order(record_name: str, record: Record) -> bool:
    """Whether ``split`` needs the order's OrderRef for this record."""
    if record_name == "OrderConfirmed":
        return True
    return record_name == "OrderCancelled" and record.get("lines") is None


def _merge(lines: Iterable[Record], *fields: str) -> dict[str, tuple[int, ...]]:
    """Per SKU, in order of first appearance, the sums of ``fields`` (repeated SKUs merge)."""
    merged: dict[str, list[int]] = {}
    for line in lines:
        sums = merged.setdefault(line["sku"], [0] * len(fields))
        for i, name in enumerate(fields):
            sums[i] += line.get(name, 0)
    return {sku: tuple(sums) for sku, sums in merged.items()}


def split(
    record_name: str, record: Record, *, logged_at: int, order: OrderRef | None = None
) -> list[c.Command]:
    """Per-SKU commands of one validated input event, ``command_id = f"{event_id}:{sku}@{logged_at}"``.

    The log time is part of the id because an event repeated *after* the dedupe window is
    applied again, as a new event: its outputs must not reuse the first application's ids,
    or a consumer dropping repeats by id would drop them. A replay of the same input record
    has the same log time, so the same ids.

    Channel and catalogue events give one command each (the processor broadcasts channel
    commands to every partition; catalogue commands reach every partition too).
    Raises :class:`UnknownOrderError` when an event that names only its order arrives for an
    order the router never saw placed.
    """
    splitter = _SPLITTERS.get(record_name)
    if splitter is None:
        raise ValidationError([f"record: unknown record name {record_name!r}"])
    if needs_order(record_name, record):
        if order is None:
            raise UnknownOrderError(record["order_id"])
        if order.order_id != record["order_id"]:
            raise ValueError(f"OrderRef of {order.order_id!r} given for {record['order_id']!r}")
    common = {
        "event_id": record["event_id"],
        "event_type": record_name,
        "occurred_at": record["occurred_at"],
        "logged_at": logged_at,
        "source": record.get("source"),
    }
    return splitter(record, common, order)


def _per_sku(
    cls: type[c.SkuCommand], common: dict[str, Any], skus: Iterable[tuple[str, dict[str, Any]]]
) -> list[c.Command]:
    prefix = f"{common['event_id']}:"
    suffix = f"@{common['logged_at']}"
    return [
        cls(command_id=prefix + sku + suffix, sku=sku, **common, **fields) for sku, fields in skus
    ]


def _order_placed(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    base = {
        "order_id": r["order_id"],
        "channel_id": r["channel_id"],
        "hold_expires_at": r.get("hold_expires_at"),
    }
    merged = _merge(r["lines"], "qty")
    return _per_sku(c.PlaceLine, common, ((s, {**base, "qty": q}) for s, (q,) in merged.items()))


def _order_confirmed(r: Record, common: dict[str, Any], order: OrderRef | None) -> list[c.Command]:
    assert order is not None
    skus = order.skus_for(common["event_id"])
    return _per_sku(c.ConfirmLine, common, ((s, {"order_id": r["order_id"]}) for s in skus))


def _order_cancelled(r: Record, common: dict[str, Any], order: OrderRef | None) -> list[c.Command]:
    base = {"order_id": r["order_id"], "reason": r.get("reason")}
    if r.get("lines") is None:
        assert order is not None
        skus = order.skus_for(common["event_id"])
        return _per_sku(c.CancelLine, common, ((s, {**base, "qty": None}) for s in skus))
    merged = _merge(r["lines"], "qty")
    return _per_sku(c.CancelLine, common, ((s, {**base, "qty": q}) for s, (q,) in merged.items()))


def _pick_confirmed(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    base = {"order_id": r["order_id"], "location_id": r["location_id"]}
    merged = _merge(r["lines"], "qty_picked", "qty_short")
    return _per_sku(
        c.PickLine,
        common,
        ((s, {**base, "qty_picked": p, "qty_short": q}) for s, (p, q) in merged.items()),
    )


def _shipment_confirmed(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    base = {
        "shipment_id": r["shipment_id"],
        "order_id": r["order_id"],
        "location_id": r["location_id"],
    }
    merged = _merge(r["lines"], "qty")
    return _per_sku(c.ShipLine, common, ((s, {**base, "qty": q}) for s, (q,) in merged.items()))


def _return_received(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    base = {
        "return_id": r["return_id"],
        "order_id": r.get("order_id"),
        "location_id": r["location_id"],
    }
    merged = _merge(r["lines"], "qty")
    return _per_sku(
        c.ReceiveReturn, common, ((s, {**base, "qty": q}) for s, (q,) in merged.items())
    )


def _return_inspected(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    base = {"return_id": r["return_id"], "location_id": r["location_id"]}
    merged = _merge(r["lines"], "qty_restock", "qty_damaged")
    return _per_sku(
        c.InspectReturn,
        common,
        ((s, {**base, "qty_restock": a, "qty_damaged": b}) for s, (a, b) in merged.items()),
    )


def _single(cls: type[c.SkuCommand], *names: str) -> Callable[..., list[c.Command]]:
    """Stock events name one SKU: copy the named fields (absent optional ones become None)."""

    def splitter(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
        return _per_sku(cls, common, [(r["sku"], {n: r.get(n) for n in names})])

    return splitter


def _channel_configured(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    return [
        c.ConfigureChannel(
            command_id=common["event_id"],
            **common,
            channel_id=r["channel_id"],
            location_ids=tuple(r["location_ids"]),
            safety_stock=r.get("safety_stock", 0),
            # v1 writers do not have these: the Avro defaults, also for a dict without them.
            buffer_percent=r.get("buffer_percent", 0),
            max_available=r.get("max_available"),
            low_stock_threshold=r.get("low_stock_threshold", 0),
        )
    ]


def _channel_removed(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    return [c.RemoveChannel(command_id=common["event_id"], **common, channel_id=r["channel_id"])]


def _bundle_defined(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    components = tuple((x["sku"], x["qty"]) for x in r["components"])
    return [
        c.DefineBundle(
            command_id=common["event_id"],
            **common,
            bundle_sku=r["bundle_sku"],
            components=components,
        )
    ]


def _bundle_removed(r: Record, common: dict[str, Any], _: OrderRef | None) -> list[c.Command]:
    return [c.RemoveBundle(command_id=common["event_id"], **common, bundle_sku=r["bundle_sku"])]


_SPLITTERS: dict[str, Callable[[Record, dict[str, Any], OrderRef | None], list[c.Command]]] = {
    "OrderPlaced": _order_placed,
    "OrderConfirmed": _order_confirmed,
    "OrderCancelled": _order_cancelled,
    "PickConfirmed": _pick_confirmed,
    "ShipmentConfirmed": _shipment_confirmed,
    "ReturnReceived": _return_received,
    "ReturnInspected": _return_inspected,
    "InboundExpected": _single(c.ExpectInbound, "reference", "location_id", "qty", "expected_at"),
    "StockReceived": _single(c.ReceiveStock, "reference", "location_id", "qty"),
    "StockAdjusted": _single(c.AdjustStock, "location_id", "qty_delta", "reason"),
    "StockCounted": _single(c.CountStock, "location_id", "counted_qty"),
    "StockStatusChanged": _single(
        c.ChangeStockStatus, "location_id", "qty", "from_status", "to_status"
    ),
    "TransferDispatched": _single(
        c.DispatchTransfer, "transfer_id", "from_location_id", "to_location_id", "qty"
    ),
    "TransferReceived": _single(c.ReceiveTransfer, "transfer_id", "to_location_id", "qty_received"),
    "ChannelConfigured": _channel_configured,
    "ChannelRemoved": _channel_removed,
    "BundleDefined": _bundle_defined,
    "BundleRemoved": _bundle_removed,
}
