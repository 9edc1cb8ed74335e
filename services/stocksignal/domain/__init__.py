"""The pure domain core of stocksignal: positions, channels, order lines, every stock rule,
validation, deterministic ids and the split of input events into per-SKU commands.

Standard library only, synchronous, deterministic: no clock, no randomness, no I/O (a test
walks every module and enforces the imports). The behaviour is described in docs/semantics.md.
"""

from .channels import DEFAULT_CHANNEL, Channel, ChannelBook, default_channel
from .commands import (
    COMMAND_TYPES,
    HOLDS_EXPIRED,
    AdjustStock,
    CancelLine,
    ChangeStockStatus,
    ChannelCommand,
    Command,
    ConfigureChannel,
    ConfirmLine,
    CountStock,
    DispatchTransfer,
    ExpectInbound,
    ExpireHolds,
    InspectReturn,
    PickLine,
    PlaceLine,
    ReceiveReturn,
    ReceiveStock,
    ReceiveTransfer,
    RemoveChannel,
    ShipLine,
    SkuCommand,
    command_from_dict,
    command_to_dict,
    expire_holds,
)
from .dedupe import DEFAULT_DEDUPE_WINDOW_MS, dedupe_key, within_window
from .engine import apply, apply_channel_command, reconcile
from .errors import UnknownOrderError, ValidationError
from .ids import decision_id, movement_id
from .levels import level_changes, level_of, publish_levels
from .lines import Line
from .model import InMemoryInventory, PartitionModel, partition_of
from .outputs import (
    Allocation,
    AvailabilityChanged,
    ChannelAvailability,
    LocationStock,
    Outcome,
    ReservationDecided,
    StockLevelChanged,
    StockMoved,
)
from .positions import BUCKET_FIELDS, Position
from .split import OrderRef, needs_order, remember_fan_out, remember_order, split
from .state import SkuState, Transfer
from .symbols import (
    Bucket,
    DecisionReason,
    MovementReason,
    Note,
    ReservationStatus,
    StockLevel,
    StockStatus,
)
from .validation import validate

__all__ = [
    "BUCKET_FIELDS",
    "COMMAND_TYPES",
    "DEFAULT_CHANNEL",
    "DEFAULT_DEDUPE_WINDOW_MS",
    "HOLDS_EXPIRED",
    "AdjustStock",
    "Allocation",
    "AvailabilityChanged",
    "Bucket",
    "CancelLine",
    "ChangeStockStatus",
    "Channel",
    "ChannelAvailability",
    "ChannelBook",
    "ChannelCommand",
    "Command",
    "ConfigureChannel",
    "ConfirmLine",
    "CountStock",
    "DecisionReason",
    "DispatchTransfer",
    "ExpectInbound",
    "ExpireHolds",
    "InMemoryInventory",
    "InspectReturn",
    "Line",
    "LocationStock",
    "MovementReason",
    "Note",
    "OrderRef",
    "Outcome",
    "PartitionModel",
    "PickLine",
    "PlaceLine",
    "Position",
    "ReceiveReturn",
    "ReceiveStock",
    "ReceiveTransfer",
    "RemoveChannel",
    "ReservationDecided",
    "ReservationStatus",
    "ShipLine",
    "SkuCommand",
    "SkuState",
    "StockLevel",
    "StockLevelChanged",
    "StockMoved",
    "StockStatus",
    "Transfer",
    "UnknownOrderError",
    "ValidationError",
    "apply",
    "apply_channel_command",
    "command_from_dict",
    "command_to_dict",
    "decision_id",
    "dedupe_key",
    "default_channel",
    "expire_holds",
    "level_changes",
    "level_of",
    "movement_id",
    "needs_order",
    "partition_of",
    "publish_levels",
    "reconcile",
    "remember_fan_out",
    "remember_order",
    "split",
    "validate",
    "within_window",
]
