"""Commands: what the core is asked to do, one SKU (or the channel book) at a time.

Every command carries the input event it came from (``event_id``, ``event_type``), the
event's business time (``occurred_at``) and its log time (``logged_at``). Decisions read time
only from these fields, so replaying the log replays the decisions (docs/semantics.md#ids-replay-and-repeats).

Commands are values, never changed once made; they are not ``frozen`` dataclasses only
because a frozen dataclass's ``__init__`` costs about six times as much, once per command.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError

HOLDS_EXPIRED = "HoldsExpired"


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class Command:
    command_id: str
    event_id: str
    event_type: str
    occurred_at: int
    logged_at: int
    source: str | None = None


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class SkuCommand(Command):
    sku: str


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ChannelCommand(Command):
    """Applies to a partition's channel book, not to one SKU (broadcast to every partition)."""

    channel_id: str


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class PlaceLine(SkuCommand):
    order_id: str
    channel_id: str
    qty: int
    hold_expires_at: int | None = None


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ConfirmLine(SkuCommand):
    order_id: str


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class CancelLine(SkuCommand):
    order_id: str
    qty: int | None = None  # None: release the whole unshipped reservation
    reason: str | None = None


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class PickLine(SkuCommand):
    order_id: str
    location_id: str
    qty_picked: int
    qty_short: int = 0


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ShipLine(SkuCommand):
    shipment_id: str
    order_id: str
    location_id: str
    qty: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ReceiveReturn(SkuCommand):
    return_id: str
    order_id: str | None = None
    location_id: str
    qty: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class InspectReturn(SkuCommand):
    return_id: str
    location_id: str
    qty_restock: int
    qty_damaged: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ExpectInbound(SkuCommand):
    reference: str
    location_id: str
    qty: int
    expected_at: int | None = None


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ReceiveStock(SkuCommand):
    reference: str | None = None
    location_id: str
    qty: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class AdjustStock(SkuCommand):
    location_id: str
    qty_delta: int
    reason: str


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class CountStock(SkuCommand):
    location_id: str
    counted_qty: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ChangeStockStatus(SkuCommand):
    location_id: str
    qty: int
    from_status: str
    to_status: str


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class DispatchTransfer(SkuCommand):
    transfer_id: str
    from_location_id: str
    to_location_id: str
    qty: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ReceiveTransfer(SkuCommand):
    transfer_id: str
    to_location_id: str
    qty_received: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ExpireHolds(SkuCommand):
    """Appended by the processor's timer: release holds with ``hold_expires_at <= now``."""

    now: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ConfigureChannel(ChannelCommand):
    location_ids: tuple[str, ...]
    safety_stock: int = 0
    buffer_percent: int = 0
    max_available: int | None = None
    low_stock_threshold: int = 0


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class RemoveChannel(ChannelCommand):
    pass


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class CatalogCommand(Command):
    """Applies to a partition's catalogue. The bundle's own partition decides it first
    (``accepted`` False: it may refuse it), then every other partition applies the accepted
    copy (docs/processor.md#bundles-and-all-or-nothing-orders). ``origin``: the input record
    it came from (JSON), for the DLQ copy of a refusal."""

    bundle_sku: str
    accepted: bool = False
    origin: str | None = None


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class DefineBundle(CatalogCommand):
    components: tuple[tuple[str, int], ...]  # (sku, qty), in the record's order


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class RemoveBundle(CatalogCommand):
    pass


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ObserveComponent(SkuCommand):
    """A component's availability was published; ``sku`` is a bundle containing it (so the
    command reaches the bundle's partition). ``event_*``/``occurred_at`` are the snapshot's
    cause; ``values`` its (channel_id, available) pairs."""

    component: str
    values: tuple[tuple[str, int], ...]


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class PlaceOrderLine(PlaceLine):
    """A line asked for by an order's saga (order_saga.py): decided as PlaceLine, and the
    SKU's partition tells the order's partition what it reserved (LineDecided)."""


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ReleaseOrderLine(CancelLine):
    """A reserved line of an incomplete ALL_OR_NOTHING order released by its saga: decided as
    CancelLine, and the SKU's partition tells the order's partition (LineReleased)."""


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class OrderCommand(Command):
    """A step of an order's saga, applied at the order's own command partition."""

    order_id: str


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class PlaceOrder(OrderCommand):
    """A whole OrderPlaced, for the order's saga to decide (bundle lines not yet expanded)."""

    channel_id: str
    lines: tuple[tuple[str, int], ...]
    fulfilment: str = "PER_LINE"
    hold_expires_at: int | None = None


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class LineDecided(OrderCommand):
    sku: str
    qty_reserved: int


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class LineReleased(OrderCommand):
    sku: str


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ForwardOrder(OrderCommand):
    """An order event of a saga's order (confirm, cancel), as its per-SKU commands: the order's
    partition passes them on after the lines it asked for, so they never overtake them."""

    commands: tuple[str, ...]  # each a command as JSON


def expire_holds(sku: str, now: int, *, logged_at: int) -> ExpireHolds:
    """The timer's command; its synthetic event id makes a repeated tick a duplicate."""
    event_id = f"expire:{sku}:{now}"
    return ExpireHolds(
        command_id=event_id,
        event_id=event_id,
        event_type=HOLDS_EXPIRED,
        occurred_at=now,
        logged_at=logged_at,
        sku=sku,
        now=now,
    )


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        PlaceLine,
        ConfirmLine,
        CancelLine,
        PickLine,
        ShipLine,
        ReceiveReturn,
        InspectReturn,
        ExpectInbound,
        ReceiveStock,
        AdjustStock,
        CountStock,
        ChangeStockStatus,
        DispatchTransfer,
        ReceiveTransfer,
        ExpireHolds,
        ConfigureChannel,
        RemoveChannel,
        DefineBundle,
        RemoveBundle,
        ObserveComponent,
        PlaceOrderLine,
        ReleaseOrderLine,
        PlaceOrder,
        LineDecided,
        LineReleased,
        ForwardOrder,
    )
}

_FIELDS: dict[type[Command], tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in COMMAND_TYPES.values()
}


_FIELD_SETS: dict[type[Command], frozenset[str]] = {cls: frozenset(f) for cls, f in _FIELDS.items()}
# Exactly the keys command_to_dict writes: such a dict needs no filtering (the common case).
_WRITTEN_KEYS: dict[type[Command], frozenset[str]] = {
    cls: frozenset(("type", *f)) for cls, f in _FIELDS.items()
}
# The only list-valued field: JSON has no tuples.
_TUPLE_FIELDS: dict[type[Command], tuple[str, ...]] = {
    ConfigureChannel: ("location_ids",),
    ForwardOrder: ("commands",),
}
# Tuples of pairs: lists of two-element lists in JSON.
_PAIR_FIELDS: dict[type[Command], str] = {
    DefineBundle: "components",
    ObserveComponent: "values",
    PlaceOrder: "lines",
}


# Every field's value in one C call (each command has several fields, so a tuple).
_VALUES: dict[type[Command], Callable[[Command], tuple[Any, ...]]] = {
    cls: operator.attrgetter(*f) for cls, f in _FIELDS.items()
}


def command_to_dict(cmd: Command) -> dict[str, Any]:
    """JSON-able form with a ``type`` discriminator (tuples become lists)."""
    cls = type(cmd)
    d: dict[str, Any] = {"type": cls.__name__}
    d.update(zip(_FIELDS[cls], _VALUES[cls](cmd)))  # in field order, as the record has them
    for name in _TUPLE_FIELDS.get(cls, ()):
        d[name] = list(d[name])
    nested = _PAIR_FIELDS.get(cls)
    if nested is not None:
        d[nested] = [list(c) for c in d[nested]]
    return d


def command_from_dict(d: Mapping[str, Any]) -> Command:
    """The command of :func:`command_to_dict`'s form; keys it does not know are ignored (a
    newer writer may add fields)."""
    cls = COMMAND_TYPES.get(d.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ValidationError([f"type: unknown command type {d.get('type')!r}"])
    if d.keys() == _WRITTEN_KEYS[cls]:  # a C copy instead of a Python loop over the keys
        kwargs = dict(d)
        del kwargs["type"]
    else:
        known = _FIELD_SETS[cls]
        kwargs = {k: v for k, v in d.items() if k in known}
    for name in _TUPLE_FIELDS.get(cls, ()):
        if name in kwargs:
            kwargs[name] = tuple(kwargs[name])
    nested = _PAIR_FIELDS.get(cls)
    if nested is not None and nested in kwargs:
        kwargs[nested] = tuple((a, b) for a, b in kwargs[nested])
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ValidationError([f"{cls.__name__}: {exc}"]) from None
