"""Commands: what the core is asked to do, one SKU (or the channel book) at a time.

Every command carries the input event it came from (``event_id``, ``event_type``), the
event's business time (``occurred_at``) and its log time (``logged_at``). Decisions read time
only from these fields, so replaying the log replays the decisions (docs/semantics.md#ids-replay-and-repeats).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError

HOLDS_EXPIRED = "HoldsExpired"


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    command_id: str
    event_id: str
    event_type: str
    occurred_at: int
    logged_at: int
    source: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SkuCommand(Command):
    sku: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCommand(Command):
    """Applies to a partition's channel book, not to one SKU (broadcast to every partition)."""

    channel_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceLine(SkuCommand):
    order_id: str
    channel_id: str
    qty: int
    hold_expires_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmLine(SkuCommand):
    order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelLine(SkuCommand):
    order_id: str
    qty: int | None = None  # None: release the whole unshipped reservation
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PickLine(SkuCommand):
    order_id: str
    location_id: str
    qty_picked: int
    qty_short: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipLine(SkuCommand):
    shipment_id: str
    order_id: str
    location_id: str
    qty: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveReturn(SkuCommand):
    return_id: str
    order_id: str | None = None
    location_id: str
    qty: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectReturn(SkuCommand):
    return_id: str
    location_id: str
    qty_restock: int
    qty_damaged: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectInbound(SkuCommand):
    reference: str
    location_id: str
    qty: int
    expected_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveStock(SkuCommand):
    reference: str | None = None
    location_id: str
    qty: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjustStock(SkuCommand):
    location_id: str
    qty_delta: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CountStock(SkuCommand):
    location_id: str
    counted_qty: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeStockStatus(SkuCommand):
    location_id: str
    qty: int
    from_status: str
    to_status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchTransfer(SkuCommand):
    transfer_id: str
    from_location_id: str
    to_location_id: str
    qty: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveTransfer(SkuCommand):
    transfer_id: str
    to_location_id: str
    qty_received: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireHolds(SkuCommand):
    """Appended by the processor's timer: release holds with ``hold_expires_at <= now``."""

    now: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigureChannel(ChannelCommand):
    location_ids: tuple[str, ...]
    safety_stock: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveChannel(ChannelCommand):
    pass


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
    )
}

_FIELDS: dict[type[Command], tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in COMMAND_TYPES.values()
}


def command_to_dict(cmd: Command) -> dict[str, Any]:
    """JSON-able form with a ``type`` discriminator (tuples become lists)."""
    d: dict[str, Any] = {"type": type(cmd).__name__}
    for name in _FIELDS[type(cmd)]:
        value = getattr(cmd, name)
        d[name] = list(value) if isinstance(value, tuple) else value
    return d


def command_from_dict(d: Mapping[str, Any]) -> Command:
    cls = COMMAND_TYPES.get(d.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ValidationError([f"type: unknown command type {d.get('type')!r}"])
    kwargs: dict[str, Any] = {}
    for name in _FIELDS[cls]:
        if name in d:
            value = d[name]
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise ValidationError([f"{cls.__name__}: {exc}"]) from None
