"""The scripted day of a small shop: what the demo sends, and what it expects to see.

Pure data and small functions (no I/O): the demo's runner sends each step's events through
the real topics and checks the expectations against what the processor *published*; a unit
test replays the same script through the domain's in-memory reference model, so the
expected numbers here cannot drift from the rules.

The shop sells from two warehouses, Berlin (``WH-BER``) and Hamburg (``WH-HAM``), on two
channels: its own web shop (Berlin first, then Hamburg, no safety stock) and a marketplace
(Hamburg first, then Berlin, keeping 2 units of every SKU back as safety stock). Two SKUs:
``LAMP-OAK`` (five left, and everybody wants one) and ``MUG-BLUE`` (the everyday item that
meets every warehouse mishap). In the evening the marketplace gets a buffer, a cap and a
low-stock threshold (contract v1.1: stocksignal.demo.channels_part, which also holds the
back-in-stock signals the 12:20 cancellation must cause on inventory.stock-levels.v1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BER, HAM = "WH-BER", "WH-HAM"
WEBSHOP, MARKETPLACE, DEFAULT = "webshop", "marketplace", "default"
LAMP, MUG = "LAMP-OAK", "MUG-BLUE"
SKUS = (LAMP, MUG)
CHANNELS = {
    WEBSHOP: {"location_ids": [BER, HAM], "safety_stock": 0},
    MARKETPLACE: {"location_ids": [HAM, BER], "safety_stock": 2},
}
RUSH_WEB = tuple(f"W-10{i:02d}" for i in range(1, 7))  # six web shoppers
RUSH_MARKET = tuple(f"M-50{i:02d}" for i in range(1, 5))  # four marketplace shoppers
LAMP_STOCK = 5

Availability = dict[str, dict[str, int]]  # sku -> channel -> available


@dataclass(frozen=True)
class Sent:
    """One event of a step: the record name and its fields (common fields are added when sent)."""

    name: str
    fields: dict[str, Any]

    def describe(self) -> str:
        f = self.fields
        if self.name == "ChannelConfigured":
            rules = "".join(
                text
                for key, text in (
                    ("buffer_percent", f", buffer {f.get('buffer_percent')}%"),
                    ("max_available", f", cap {f.get('max_available')}"),
                    ("low_stock_threshold", f", low stock at <= {f.get('low_stock_threshold')}"),
                )
                if f.get(key) is not None
            )
            return (
                f"ChannelConfigured {f['channel_id']}: {' > '.join(f['location_ids'])}, "
                f"safety stock {f['safety_stock']}{rules}"
            )
        if self.name == "OrderPlaced":
            lines = ", ".join(f"{ln['qty']} × {ln['sku']}" for ln in f["lines"])
            whole = f" ({f['fulfilment']})" if f.get("fulfilment") else ""
            return f"OrderPlaced {f['order_id']} on {f['channel_id']}: {lines}{whole}"
        if self.name == "OrderCancelled":
            return f"OrderCancelled {f['order_id']} ({f.get('reason') or 'no reason'})"
        if self.name == "PickConfirmed":
            lines = ", ".join(
                f"{ln['sku']} picked {ln['qty_picked']}, short {ln.get('qty_short', 0)}"
                for ln in f["lines"]
            )
            return f"PickConfirmed {f['order_id']} at {f['location_id']}: {lines}"
        if self.name == "ReturnReceived":
            lines = ", ".join(f"{ln['qty']} × {ln['sku']}" for ln in f["lines"])
            return f"ReturnReceived {f['return_id']} at {f['location_id']}: {lines}"
        if self.name == "ReturnInspected":
            lines = ", ".join(
                f"{ln['sku']} restock {ln['qty_restock']}, damaged {ln['qty_damaged']}"
                for ln in f["lines"]
            )
            return f"ReturnInspected {f['return_id']} at {f['location_id']}: {lines}"
        if self.name == "InboundExpected":
            return (
                f"InboundExpected {f['qty']} × {f['sku']} at {f['location_id']} ({f['reference']})"
            )
        if self.name == "StockReceived":
            reference = f.get("reference") or "no reference"
            return f"StockReceived {f['qty']} × {f['sku']} at {f['location_id']} ({reference})"
        if self.name == "TransferDispatched":
            return (
                f"TransferDispatched {f['transfer_id']}: {f['qty']} × {f['sku']} "
                f"{f['from_location_id']} -> {f['to_location_id']}"
            )
        if self.name == "TransferReceived":
            return f"TransferReceived {f['transfer_id']}: {f['qty_received']} × {f['sku']} at {f['to_location_id']}"
        if self.name == "StockCounted":
            return f"StockCounted {f['sku']} at {f['location_id']}: {f['counted_qty']} in the bins"
        return f"{self.name} {f}"

    @property
    def skus(self) -> set[str]:
        if "sku" in self.fields:
            return {self.fields["sku"]}
        return {line["sku"] for line in self.fields.get("lines") or ()}


@dataclass
class Observed:
    """What the runner has read back from the output topics, for steps that depend on it."""

    decisions: Sequence[Mapping[str, Any]] = field(
        default_factory=list
    )  # ReservationDecided records

    def winners(self, sku: str, channel_id: str) -> list[str]:
        """Order ids whose line of ``sku`` on ``channel_id`` was RESERVED, sorted."""
        return sorted(
            {
                d["order_id"]
                for d in self.decisions
                if d["sku"] == sku and d["channel_id"] == channel_id and d["status"] == "RESERVED"
            }
        )


@dataclass(frozen=True)
class Step:
    key: str
    clock: str  # the shop's time of day: a label; the runner notes the real time after each step
    title: str
    story: str
    events: Callable[[Observed], Sequence[Sent]]
    # Availability per channel of the SKUs this step changes, as published after it.
    expect: Availability
    # Extra checks on the decisions this step caused: (description, check(decisions) -> problem or None).
    checks: tuple[tuple[str, Callable[[Sequence[Mapping[str, Any]]], str | None]], ...] = ()
    # Commands the processor applies for this step; None: one per SKU of each event.
    commands: int | None = None
    # A stock-take file: the runner imports it with `stocksignal stock import --diff` instead
    # of sending ``events`` itself (they are the same counts, for the model).
    stocktake: str | None = None
    # The StockLevelChanged records this step's events cause, all of them (None: not checked;
    # the levels of a step that coalesces several snapshots into one depend on timing).
    levels: tuple[LevelSignal, ...] | None = None


@dataclass(frozen=True)
class LevelSignal:
    """One expected StockLevelChanged: a channel's level moved, with this many available."""

    sku: str
    channel_id: str
    previous_level: str | None
    level: str
    available: int

    def describe(self) -> str:
        return (
            f"{self.sku} on {self.channel_id}: {self.previous_level or 'first seen'} -> {self.level}, "
            f"{self.available} available"
        )


def _static(*sent: Sent) -> Callable[[Observed], Sequence[Sent]]:
    return lambda _observed: sent


def _rush_orders() -> list[Sent]:
    """Web and marketplace shoppers interleaved, all sent at once."""
    orders = []
    web, market = list(RUSH_WEB), list(RUSH_MARKET)
    while web or market:
        for queue, channel in ((web, WEBSHOP), (market, MARKETPLACE)):
            if queue:
                orders.append(
                    Sent(
                        "OrderPlaced",
                        {
                            "order_id": queue.pop(0),
                            "channel_id": channel,
                            "lines": [{"sku": LAMP, "qty": 1}],
                        },
                    )
                )
    return orders


def _rush_check(decisions: Sequence[Mapping[str, Any]]) -> str | None:
    reserved = [d for d in decisions if d["status"] == "RESERVED"]
    rejected = [d for d in decisions if d["status"] == "REJECTED"]
    units = sum(a["qty"] for d in reserved for a in d["allocations"])
    if len(decisions) != len(RUSH_WEB) + len(RUSH_MARKET):
        return f"expected {len(RUSH_WEB) + len(RUSH_MARKET)} decisions, saw {len(decisions)}"
    if units != LAMP_STOCK or len(reserved) != LAMP_STOCK:
        return f"expected exactly {LAMP_STOCK} units reserved, saw {units} in {len(reserved)} decisions"
    if any(d["reason"] != "INSUFFICIENT_STOCK" for d in rejected):
        return "a rejection without reason INSUFFICIENT_STOCK"
    return None


def _cancel_first_web_winner(observed: Observed) -> Sequence[Sent]:
    winners = observed.winners(LAMP, WEBSHOP)
    if not winners:
        raise RuntimeError("no web shop order won a lamp in the rush; nothing to cancel")
    return (
        Sent(
            "OrderCancelled",
            {"order_id": winners[0], "lines": None, "reason": "customer changed their mind"},
        ),
    )


def _released(decisions: Sequence[Mapping[str, Any]]) -> str | None:
    statuses = [d["status"] for d in decisions]
    return None if statuses == ["RELEASED"] else f"expected one RELEASED decision, saw {statuses}"


def _reallocated(decisions: Sequence[Mapping[str, Any]]) -> str | None:
    if len(decisions) != 1:
        return f"expected one decision, saw {len(decisions)}"
    d = decisions[0]
    alloc = {a["location_id"]: a["qty"] for a in d["allocations"]}
    if d["status"] != "REALLOCATED" or alloc != {BER: 2, HAM: 2}:
        return f"expected REALLOCATED with {{WH-BER: 2, WH-HAM: 2}}, saw {d['status']} {alloc}"
    return None


def channel_events() -> list[Sent]:
    return [channel_config(c) for c in CHANNELS]


def channel_config(channel_id: str, **rules: Any) -> Sent:
    """A channel's ChannelConfigured: its CHANNELS entry, with v1.1 rules added."""
    return Sent("ChannelConfigured", {"channel_id": channel_id, **CHANNELS[channel_id], **rules})


def steps() -> list[Step]:
    """The day, in order. ``expect`` lists every channel of each SKU the step changes."""
    return [
        Step(
            "inbound",
            "06:00",
            "Two purchase orders are announced",
            "The supplier's advance ship notices arrive: PO-7001 brings 10 blue mugs and 2 oak lamps to "
            "Berlin, PO-7002 6 mugs and 3 lamps to Hamburg. Inbound units are on their way, not on the "
            "shelf: nothing can be sold yet.",
            _static(
                Sent(
                    "InboundExpected",
                    {"reference": "PO-7001", "location_id": BER, "sku": MUG, "qty": 10},
                ),
                Sent(
                    "InboundExpected",
                    {"reference": "PO-7002", "location_id": HAM, "sku": MUG, "qty": 6},
                ),
                Sent(
                    "InboundExpected",
                    {"reference": "PO-7001", "location_id": BER, "sku": LAMP, "qty": 2},
                ),
                Sent(
                    "InboundExpected",
                    {"reference": "PO-7002", "location_id": HAM, "sku": LAMP, "qty": 3},
                ),
            ),
            {
                MUG: {DEFAULT: 0, WEBSHOP: 0, MARKETPLACE: 0},
                LAMP: {DEFAULT: 0, WEBSHOP: 0, MARKETPLACE: 0},
            },
        ),
        Step(
            "receipts",
            "08:00",
            "Deliveries arrive at both warehouses",
            "Both trucks are unloaded: the units move from inbound to on hand and can be sold. The "
            "marketplace sees 2 fewer of each SKU: its safety stock.",
            _static(
                Sent(
                    "StockReceived",
                    {"reference": "PO-7001", "location_id": BER, "sku": MUG, "qty": 10},
                ),
                Sent(
                    "StockReceived",
                    {"reference": "PO-7002", "location_id": HAM, "sku": MUG, "qty": 6},
                ),
                Sent(
                    "StockReceived",
                    {"reference": "PO-7001", "location_id": BER, "sku": LAMP, "qty": 2},
                ),
                Sent(
                    "StockReceived",
                    {"reference": "PO-7002", "location_id": HAM, "sku": LAMP, "qty": 3},
                ),
            ),
            {
                MUG: {DEFAULT: 16, WEBSHOP: 16, MARKETPLACE: 14},
                LAMP: {DEFAULT: 5, WEBSHOP: 5, MARKETPLACE: 3},
            },
        ),
        Step(
            "rush",
            "12:00",
            "Lunchtime rush: 10 shoppers, 5 lamps",
            "A newsletter goes out. Six web shop customers and four marketplace customers order the oak "
            "lamp within the same moment. Every order for the SKU is decided one after another: exactly "
            "5 are reserved, the rest are rejected; the marketplace stops selling while 2 are still free.",
            lambda _o: _rush_orders(),
            {LAMP: {DEFAULT: 0, WEBSHOP: 0, MARKETPLACE: 0}},
            (("exactly the 5 lamps are reserved, the other 5 orders rejected", _rush_check),),
        ),
        Step(
            "cancel",
            "12:20",
            "A cancellation",
            "The first web shop customer who got a lamp cancels. The lamp is free again: the web shop "
            "shows 1, the marketplace still 0 (one lamp is inside its safety stock of 2). The lamp is "
            "back in stock on the web shop: the processor says so on inventory.stock-levels.v1 "
            "(OUT_OF_STOCK -> IN_STOCK, with the version of the snapshot that shows the 1), the feed a "
            '"notify me when it is back" e-mail would listen to. The marketplace stays OUT_OF_STOCK: '
            "no signal for it.",
            _cancel_first_web_winner,
            {LAMP: {DEFAULT: 1, WEBSHOP: 1, MARKETPLACE: 0}},
            (("the cancelled line is RELEASED", _released),),
            levels=BACK_IN_STOCK,
        ),
        Step(
            "order",
            "13:00",
            "An order for 4 mugs",
            "Order W-2001 on the web shop wants 4 blue mugs; Berlin comes first for the web shop, so "
            "all 4 are reserved there.",
            _static(
                Sent(
                    "OrderPlaced",
                    {
                        "order_id": "W-2001",
                        "channel_id": WEBSHOP,
                        "lines": [{"sku": MUG, "qty": 4}],
                    },
                )
            ),
            {MUG: {DEFAULT: 12, WEBSHOP: 12, MARKETPLACE: 10}},
        ),
        Step(
            "short-pick",
            "14:00",
            "A short pick, re-allocated to Hamburg",
            "The Berlin picker finds only 2 of the 4 mugs. The 2 missing mugs leave Berlin's books, and "
            "the order's other 2 units are re-allocated to Hamburg: the customer still gets 4.",
            _static(
                Sent(
                    "PickConfirmed",
                    {
                        "order_id": "W-2001",
                        "location_id": BER,
                        "lines": [{"sku": MUG, "qty_picked": 2, "qty_short": 2}],
                    },
                )
            ),
            {MUG: {DEFAULT: 10, WEBSHOP: 10, MARKETPLACE: 8}},
            (("W-2001 is REALLOCATED: 2 in Berlin, 2 in Hamburg", _reallocated),),
        ),
        Step(
            "return",
            "15:00",
            "A return arrives",
            "Two mugs of yesterday's order W-0917 come back to Hamburg. Returned units wait for "
            "inspection and are not sellable: availability does not move.",
            _static(
                Sent(
                    "ReturnReceived",
                    {
                        "return_id": "R-3001",
                        "order_id": "W-0917",
                        "location_id": HAM,
                        "lines": [{"sku": MUG, "qty": 2}],
                    },
                )
            ),
            {MUG: {DEFAULT: 10, WEBSHOP: 10, MARKETPLACE: 8}},
        ),
        Step(
            "inspect",
            "15:30",
            "The return is inspected: one restocked, one damaged",
            "One mug is as new and goes back on the shelf; the other is chipped and is booked as damaged, "
            "never sellable.",
            _static(
                Sent(
                    "ReturnInspected",
                    {
                        "return_id": "R-3001",
                        "location_id": HAM,
                        "lines": [{"sku": MUG, "qty_restock": 1, "qty_damaged": 1}],
                    },
                )
            ),
            {MUG: {DEFAULT: 11, WEBSHOP: 11, MARKETPLACE: 9}},
        ),
        Step(
            "dispatch",
            "16:00",
            "A transfer leaves Berlin",
            "3 mugs go from Berlin to Hamburg by truck. On the road they are inbound at Hamburg, which "
            "never counts as available.",
            _static(
                Sent(
                    "TransferDispatched",
                    {
                        "transfer_id": "T-4001",
                        "from_location_id": BER,
                        "to_location_id": HAM,
                        "sku": MUG,
                        "qty": 3,
                    },
                )
            ),
            {MUG: {DEFAULT: 8, WEBSHOP: 8, MARKETPLACE: 6}},
        ),
        Step(
            "arrive",
            "17:00",
            "The transfer arrives in Hamburg",
            "All 3 mugs arrive and are on hand in Hamburg: sellable again.",
            _static(
                Sent(
                    "TransferReceived",
                    {"transfer_id": "T-4001", "to_location_id": HAM, "sku": MUG, "qty_received": 3},
                )
            ),
            {MUG: {DEFAULT: 11, WEBSHOP: 11, MARKETPLACE: 9}},
        ),
        Step(
            "stocktake",
            "17:30",
            "The evening stock take: an import, its diff, and a repeat",
            "Both warehouses count their bins and send the sheet. The import first compares every row "
            "with the processor's books (on hand − picked): Berlin finds 2 mugs where the books "
            "expected 3 (2 more are picked, waiting for W-2001's shipment), everything else agrees. "
            "The count wins: Berlin's on hand becomes 2 counted + 2 picked = 4. Importing the same "
            "sheet again changes nothing: its event ids come from the file.",
            lambda _o: stocktake_counts(),
            {
                MUG: {DEFAULT: 10, WEBSHOP: 10, MARKETPLACE: 8},
                LAMP: {DEFAULT: 1, WEBSHOP: 1, MARKETPLACE: 0},
            },
            stocktake=STOCKTAKE,
        ),
        *_evening_steps(),
    ]


#: The evening stock take (step "stocktake"), as the warehouses send it.
STOCKTAKE = (
    "sku,location_id,counted_qty,reason\n"
    f"{MUG},{BER},2,bin B-4: one mug missing\n"
    f"{MUG},{HAM},10,\n"
    f"{LAMP},{BER},2,\n"
    f"{LAMP},{HAM},3,\n"
)
#: What `stock import --diff` says of it against the books at 17:30.
STOCKTAKE_DIFF = (
    "4 row(s): 1 change stock (+0 / −1 units), 3 agree with the books, 0 new position(s)"
)


def stocktake_counts() -> list[Sent]:
    """The stock take's rows as the StockCounted events the import produces (less the common fields)."""
    from stocksignal.cli.counts_csv import parse_counts

    counts = parse_counts(STOCKTAKE.encode())
    return [
        Sent(
            "StockCounted",
            {"location_id": r.location_id, "sku": r.sku, "counted_qty": r.counted_qty},
        )
        for r in counts.rows
    ]


@dataclass(frozen=True)
class LookBack:
    """ "What was SKU at CLOCK?": the question the demo asks the ledger after the day."""

    sku: str
    clock: str  # a step's clock label: its time is the moment after that step
    channels: dict[str, int]
    positions: dict[str, dict[str, int]]


#: After the short pick (14:00): Berlin has lost 2 mugs, W-2001 holds 2 there (picked) and 2 in Hamburg.
LOOK_BACK = LookBack(
    MUG,
    "14:00",
    {DEFAULT: 10, MARKETPLACE: 8, WEBSHOP: 10},
    {
        BER: {
            "on_hand": 8,
            "reserved": 2,
            "picked": 2,
            "damaged": 0,
            "quality_hold": 0,
            "pending_inspection": 0,
            "inbound": 0,
            "sellable": 6,
        },
        HAM: {
            "on_hand": 6,
            "reserved": 2,
            "picked": 0,
            "damaged": 0,
            "quality_hold": 0,
            "pending_inspection": 0,
            "inbound": 0,
            "sellable": 4,
        },
    },
)
#: The ledger's net change of LOOK_BACK's SKU over its step (from the step before's time to its own):
#: the short pick moves 2 reserved mugs to picked, and 2 missing ones out of Berlin's books; the
#: order's other 2 units are reserved in Hamburg.
LOOK_BACK_NET = {BER: {"on_hand": -2, "reserved": -2, "picked": 2}, HAM: {"reserved": 2}}
#: The day's counts by the processor's accuracy counters: 4 counts, 1 correction (75%).
FINAL_ACCURACY = {"agreed": 3, "corrected": 1}


#: What every channel shows at the end of the day (the marketplace's mugs: buffered and capped).
FINAL_AVAILABILITY: Availability = {
    LAMP: {DEFAULT: 1, MARKETPLACE: 0, WEBSHOP: 1},
    MUG: {DEFAULT: 10, MARKETPLACE: 5, WEBSHOP: 10},
}
#: MUG-BLUE's buckets at the end of the day (LAMP-OAK's split between the warehouses depends on
#: which shoppers won the rush, so only its totals are fixed: FINAL_LAMP_TOTALS).
FINAL_MUG_POSITIONS: dict[str, dict[str, int]] = {
    BER: {
        "on_hand": 4,
        "reserved": 2,
        "picked": 2,
        "damaged": 0,
        "quality_hold": 0,
        "pending_inspection": 0,
        "inbound": 0,
        "sellable": 2,
    },
    HAM: {
        "on_hand": 10,
        "reserved": 2,
        "picked": 0,
        "damaged": 1,
        "quality_hold": 0,
        "pending_inspection": 0,
        "inbound": 0,
        "sellable": 8,
    },
}
FINAL_LAMP_TOTALS = {"on_hand": 5, "reserved": 4, "sellable": 1}
#: What the marketplace stub must have been told last (the marketplace channel's available).
FINAL_MARKETPLACE = {sku: FINAL_AVAILABILITY[sku][MARKETPLACE] for sku in SKUS}


def total_sections() -> int:
    """The day's steps, then the closing checks, the look back and the kit story: the number
    the sections after the day count to (the day's own steps count to ``len(steps())``)."""
    return len(steps()) + 3


def expected_commands(sent: Sequence[Sent], command_partitions: int) -> int:
    """How many per-SKU commands the processor applies for ``sent`` (channel events are broadcast
    to every command partition; an order-wide cancellation reaches the order's SKUs: one here)."""
    n = 0
    for s in sent:
        if s.name.startswith("Channel"):
            n += command_partitions
        elif s.name == "OrderCancelled" and s.fields.get("lines") is None:
            n += 1
        else:
            n += len(s.skus)
    return n


def expected_decisions(sent: Sequence[Sent]) -> int:
    """How many ReservationDecided records ``sent`` causes for certain: one per placed line, one
    per cancelled line (an order-wide cancellation: one here), one per short-picked line."""
    n = 0
    for s in sent:
        if s.name == "OrderPlaced":
            n += len({line["sku"] for line in s.fields["lines"]})
        elif s.name == "OrderCancelled":
            n += (
                1
                if s.fields.get("lines") is None
                else len({line["sku"] for line in s.fields["lines"]})
            )
        elif s.name == "PickConfirmed":
            n += sum(1 for line in s.fields["lines"] if line.get("qty_short"))
    return n


# --- the evening: channel rules (docs/demo.md, "Channel rules") -------------------------------

IN, LOW, OUT = "IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"

#: The marketplace's evening rules: 25 % held back, at most 5 offered, "running low" at 3 or fewer.
MARKETPLACE_RULES = {"buffer_percent": 25, "max_available": 5, "low_stock_threshold": 3}

#: 12:20: the cancelled lamp is back on the web shop (and the default channel); the marketplace
#: keeps 0 (the lamp is inside its safety stock) and stays OUT_OF_STOCK: no record for it.
BACK_IN_STOCK = (
    LevelSignal(LAMP, DEFAULT, OUT, IN, 1),
    LevelSignal(LAMP, WEBSHOP, OUT, IN, 1),
)


def _rejected_beyond_cap(decisions: Sequence[Mapping[str, Any]]) -> str | None:
    if len(decisions) != 1:
        return f"expected one decision, saw {len(decisions)}"
    d = decisions[0]
    if d["status"] != "REJECTED" or d["reason"] != "INSUFFICIENT_STOCK" or d["qty_reserved"] != 0:
        return f"expected REJECTED INSUFFICIENT_STOCK, saw {d['status']} {d['reason']} {d['qty_reserved']}"
    return None


def _evening_steps() -> list[Step]:
    """At 18:00 the marketplace is reconfigured with a buffer, a cap and a low-stock threshold
    (contract v1.1, docs/semantics.md#channel-rules); at 18:10 a marketplace order for more than
    the cap offers is rejected, although Hamburg alone could sell it."""
    rules = MARKETPLACE_RULES
    buffer, cap, low = rules["buffer_percent"], rules["max_available"], rules["low_stock_threshold"]
    return [
        Step(
            "buffer",
            "18:00",
            "The marketplace gets a buffer and a cap",
            f"The marketplace oversold last week, so it is offered less: {buffer} % of what it could "
            f"sell is held back, it is never offered more than {cap} of a SKU, and it counts as "
            f"running low at {low} or fewer. For the mugs: raw = 10 sellable − 2 safety stock = 8, "
            f"⌊8 × {100 - buffer} / 100⌋ = 6, capped at {cap}: the marketplace now shows {cap}. "
            f"The web shop keeps 10. {cap} is above the threshold of {low}: the marketplace's mug "
            "level stays IN_STOCK, so no stock-level signal. The lamps stay at 0 there (1 sellable "
            "is inside the safety stock): nothing to publish.",
            lambda _o: (channel_config(MARKETPLACE, **rules),),
            {MUG: {DEFAULT: 10, WEBSHOP: 10, MARKETPLACE: cap}},
            levels=(),
        ),
        Step(
            "capped",
            "18:10",
            "A marketplace order beyond the cap",
            f"Marketplace order M-6001 wants 6 blue mugs. Hamburg alone has 8 to sell, but the "
            f"marketplace is offered only {cap}: orders are decided against the channel's number, "
            "so the order is rejected and nothing moves.",
            lambda _o: (
                Sent(
                    "OrderPlaced",
                    {
                        "order_id": "M-6001",
                        "channel_id": MARKETPLACE,
                        "lines": [{"sku": MUG, "qty": 6}],
                    },
                ),
            ),
            {MUG: {DEFAULT: 10, WEBSHOP: 10, MARKETPLACE: cap}},
            ((f"M-6001 (6 mugs) is REJECTED: the marketplace offers {cap}", _rejected_beyond_cap),),
            levels=(),
        ),
    ]
