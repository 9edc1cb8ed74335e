"""Whole-order decisions: bundle lines and ALL_OR_NOTHING orders (docs/semantics.md#all-or-nothing-orders).

An order's lines live on different SKUs, so on different command partitions; the order itself
is decided by a *saga* owned by one partition (the order's), whose state is an
:class:`OrderSaga`. The functions here are its pure steps; each returns the new saga and the
steps to take next:

1. :func:`start` (the order placed): expand bundle lines with the catalogue, merge lines of
   one SKU, and ask each SKU to decide its line (:class:`Place`).
2. :func:`line_decided`, once per line: record what the SKU reserved. When every line is
   decided: an ``ALL_OR_NOTHING`` order with a line short releases every reserved line
   (:class:`Release`, reason ``ORDER_INCOMPLETE``); otherwise the order is decided.
3. :func:`line_released`, once per released line; after the last one the order is decided.

The last step of every saga is exactly one :class:`Decide` with the ``OrderDecided``. A step
for a line already recorded (a reply read twice) changes nothing and asks for nothing, so a
saga replayed over its own log reaches the same state and the same steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from .catalog import Catalogue
from .ids import uuid5
from .outputs import OrderDecided, OrderLineOutcome
from .symbols import DecisionReason, Fulfilment, OrderStatus
from .validation import MAX_QTY


@dataclass(frozen=True, slots=True)
class BundleLine:
    """A bundle line of an order, with the components it had when the order was placed."""

    bundle_sku: str
    qty: int
    components: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ExpandedOrder:
    lines: tuple[tuple[str, int], ...]  # (sku, qty), bundle lines expanded and merged
    bundle_lines: tuple[BundleLine, ...]
    fulfilment: str  # ALL_OR_NOTHING whenever there is a bundle line


def expand(
    lines: Iterable[Mapping[str, Any]], catalogue: Catalogue, fulfilment: str = Fulfilment.PER_LINE
) -> ExpandedOrder:
    """An order's lines as the SKUs see them: a bundle line becomes its components
    (``qty`` × component ``qty``), merged with the order's other lines of the same SKU, in
    order of first appearance; repeated bundle lines merge too."""
    merged: dict[str, int] = {}
    bundles: dict[str, int] = {}
    for line in lines:
        sku, qty = line["sku"], line["qty"]
        bundle = catalogue.get(sku)
        if bundle is None:
            merged[sku] = merged.get(sku, 0) + qty
            continue
        bundles[sku] = bundles.get(sku, 0) + qty
        for c in bundle.components:
            merged[c.sku] = merged.get(c.sku, 0) + qty * c.qty
    bundle_lines = tuple(
        BundleLine(sku, qty, tuple((c.sku, c.qty) for c in catalogue.bundles[sku].components))
        for sku, qty in bundles.items()
    )
    mode = Fulfilment.ALL_OR_NOTHING if bundle_lines else Fulfilment(fulfilment)
    return ExpandedOrder(tuple(merged.items()), bundle_lines, mode)


class Phase(StrEnum):
    DECIDING = "deciding"  # lines asked, not all decided
    RELEASING = "releasing"  # ALL_OR_NOTHING with a line short: reserved lines being released
    DECIDED = "decided"  # OrderDecided made


@dataclass(frozen=True, slots=True)
class Place:
    """Ask the SKU's partition to decide the order's line (as section 3, PlaceLine)."""

    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Release:
    """Ask the SKU's partition to release the order's line (CancelLine, ORDER_INCOMPLETE)."""

    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Decide:
    """Publish the order's OrderDecided: the saga's last step."""

    decision: OrderDecided


Step = Place | Release | Decide


@dataclass(frozen=True, slots=True)
class OrderSaga:
    order_id: str
    channel_id: str
    fulfilment: str
    command_id: str  # of the order's placement: ids derive from it
    cause_event_id: str
    lines: tuple[tuple[str, int], ...]
    bundle_lines: tuple[BundleLine, ...] = ()
    reserved: Mapping[str, int] = field(default_factory=dict)  # decided lines: sku -> reserved
    releasing: frozenset[str] = frozenset()
    short: tuple[str, ...] = ()  # lines not reserved in full, in line order
    phase: str = Phase.DECIDING

    @property
    def requested(self) -> dict[str, int]:
        return dict(self.lines)

    def skus(self) -> tuple[str, ...]:
        return tuple(sku for sku, _ in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "channel_id": self.channel_id,
            "f": str(self.fulfilment),
            "cmd": self.command_id,
            "cause": self.cause_event_id,
            "lines": [list(x) for x in self.lines],
            "bundles": [
                [b.bundle_sku, b.qty, [list(c) for c in b.components]] for b in self.bundle_lines
            ],
            "res": dict(self.reserved),
            "rel": sorted(self.releasing),
            "short": list(self.short),
            "phase": str(self.phase),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OrderSaga:
        return cls(
            d["order_id"],
            d["channel_id"],
            d["f"],
            d["cmd"],
            d["cause"],
            tuple((s, q) for s, q in d["lines"]),
            tuple(
                BundleLine(b, q, tuple((s, n) for s, n in comps)) for b, q, comps in d["bundles"]
            ),
            dict(d["res"]),
            frozenset(d["rel"]),
            tuple(d["short"]),
            d["phase"],
        )


def start(
    order_id: str,
    channel_id: str,
    order: ExpandedOrder,
    *,
    command_id: str,
    cause_event_id: str,
    decided_at: int,
) -> tuple[OrderSaga, list[Step]]:
    """Begin deciding an order: one Place per line. A line whose merged quantity is beyond
    any quantity an event may carry (a bundle multiplies) is rejected here, unasked."""
    saga = OrderSaga(
        order_id,
        channel_id,
        order.fulfilment,
        command_id,
        cause_event_id,
        order.lines,
        order.bundle_lines,
    )
    steps: list[Step] = []
    for sku, qty in order.lines:
        if qty > MAX_QTY:
            saga = _record(saga, sku, 0)
        else:
            steps.append(Place(sku, qty))
    if not steps:
        return _all_decided(saga, decided_at)
    return saga, steps


def line_decided(
    saga: OrderSaga, sku: str, qty_reserved: int, decided_at: int
) -> tuple[OrderSaga, list[Step]]:
    """The SKU decided the order's line: ``qty_reserved`` is the line's reservation after it."""
    if saga.phase != Phase.DECIDING or sku in saga.reserved or sku not in saga.requested:
        return saga, []  # a reply read again, or one for a line the order does not have
    saga = _record(saga, sku, qty_reserved)
    if len(saga.reserved) < len(saga.lines):
        return saga, []
    return _all_decided(saga, decided_at)


def line_released(saga: OrderSaga, sku: str, decided_at: int) -> tuple[OrderSaga, list[Step]]:
    """The SKU released the order's line (step 3)."""
    if saga.phase != Phase.RELEASING or sku not in saga.releasing:
        return saga, []
    saga = replace(saga, releasing=saga.releasing - {sku}, reserved={**saga.reserved, sku: 0})
    if saga.releasing:
        return saga, []
    return _decide(saga, decided_at)


def _record(saga: OrderSaga, sku: str, qty_reserved: int) -> OrderSaga:
    short = saga.short
    if qty_reserved < saga.requested[sku]:
        short = tuple(s for s in saga.skus() if s in (*short, sku))
    return replace(saga, reserved={**saga.reserved, sku: qty_reserved}, short=short)


def _all_decided(saga: OrderSaga, decided_at: int) -> tuple[OrderSaga, list[Step]]:
    if saga.fulfilment == Fulfilment.ALL_OR_NOTHING and saga.short:
        held = [(s, saga.reserved[s]) for s in saga.skus() if saga.reserved.get(s)]
        if held:
            saga = replace(saga, phase=Phase.RELEASING, releasing=frozenset(s for s, _ in held))
            return saga, [Release(s, n) for s, n in held]
    return _decide(saga, decided_at)


def _decide(saga: OrderSaga, decided_at: int) -> tuple[OrderSaga, list[Step]]:
    saga = replace(saga, phase=Phase.DECIDED)
    return saga, [Decide(order_decided(saga, decided_at))]


def order_decided(saga: OrderSaga, decided_at: int) -> OrderDecided:
    """The OrderDecided of a saga whose lines are all decided (and released, if need be)."""
    requested = saga.requested
    reserved = {s: saga.reserved.get(s, 0) for s in requested}
    full = [s for s in requested if reserved[s] >= requested[s]]
    if len(full) == len(requested):
        status = OrderStatus.ACCEPTED
    elif not any(reserved.values()):
        status = OrderStatus.REJECTED
    else:
        status = OrderStatus.PARTIAL
    lines = [OrderLineOutcome(s, q, reserved[s]) for s, q in saga.lines]
    for b in saga.bundle_lines:
        whole = min(reserved.get(s, 0) // n for s, n in b.components)
        lines.append(OrderLineOutcome(b.bundle_sku, b.qty, min(b.qty, whole)))
    return OrderDecided(
        uuid5(f"{saga.command_id}|order"),
        saga.order_id,
        saga.channel_id,
        status,
        saga.fulfilment,
        lines,
        _reason(saga, status),
        saga.cause_event_id,
        decided_at,
    )


def _reason(saga: OrderSaga, status: str) -> str | None:
    if status == OrderStatus.ACCEPTED:
        return None
    short = ", ".join(saga.short)
    if saga.fulfilment == Fulfilment.ALL_OR_NOTHING and len(saga.short) < len(saga.lines):
        # Some lines were reserved: they were released because the others could not be.
        return f"{DecisionReason.ORDER_INCOMPLETE}: {DecisionReason.INSUFFICIENT_STOCK} for {short}"
    return f"{DecisionReason.INSUFFICIENT_STOCK} for {short}"


def cancel_lines(
    saga: OrderSaga | None, lines: Iterable[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """An OrderCancelled's lines as SKU lines: a bundle line of the order cancels its
    components' quantities (with the components the order was placed with), merged by SKU."""
    bundles = {b.bundle_sku: b for b in saga.bundle_lines} if saga is not None else {}
    merged: dict[str, int] = {}
    for line in lines:
        b = bundles.get(line["sku"])
        if b is None:
            merged[line["sku"]] = merged.get(line["sku"], 0) + line["qty"]
            continue
        for sku, n in b.components:
            merged[sku] = merged.get(sku, 0) + line["qty"] * n
    return list(merged.items())
