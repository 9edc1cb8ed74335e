"""Properties of the core over random multi-location, multi-channel event sequences.

Few SKUs, locations, orders, shipments and transfers, so that events collide: lines race for
the last units, shipments repeat, transfers arrive before they leave, channels change under
open lines, holds expire, and input events are delivered more than once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocksignal.domain import (
    BUCKET_FIELDS,
    InMemoryInventory,
    Outcome,
    ReservationStatus,
    SkuState,
    ValidationError,
)

SKUS = ["S1", "S2"]
LOCS = ["A", "B", "C"]
CHANNELS = ["web", "mkt", "default"]
ORDERS = ["o1", "o2", "o3", "o4", "o5"]
SHIPMENTS = ["sh1", "sh2", "sh3"]
TRANSFERS = ["t1", "t2"]
REFS = ["po1", "po2"]

PROPERTY_SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    database=None,  # keep runs independent of earlier ones, and the work tree clean
    suppress_health_check=[HealthCheck.too_slow],
)

sku = st.sampled_from(SKUS)
loc = st.sampled_from(LOCS)
small = st.integers(1, 4)
order = st.sampled_from(ORDERS)


def _lines(line: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(line, min_size=1, max_size=2)


order_line = st.fixed_dictionaries({"sku": sku, "qty": small})
pick_line = st.fixed_dictionaries(
    {"sku": sku, "qty_picked": st.integers(0, 3), "qty_short": st.integers(0, 2)}
).filter(lambda d: d["qty_picked"] + d["qty_short"] > 0)
inspection_line = st.fixed_dictionaries(
    {"sku": sku, "qty_restock": st.integers(0, 2), "qty_damaged": st.integers(0, 2)}
).filter(lambda d: d["qty_restock"] + d["qty_damaged"] > 0)
locations = st.permutations(LOCS).flatmap(lambda p: st.integers(0, 3).map(lambda n: list(p[:n])))
STATUSES = ["SELLABLE", "DAMAGED", "QUALITY_HOLD", "WRITTEN_OFF"]


def _event(name: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, dict]]:
    return st.tuples(st.just(name), st.fixed_dictionaries(fields))


RECEIPT = _event(
    "StockReceived",
    sku=sku,
    location_id=loc,
    qty=st.integers(1, 6),
    reference=st.none() | st.sampled_from(REFS),
)
PLACE = _event(
    "OrderPlaced",
    order_id=order,
    channel_id=st.sampled_from([*CHANNELS, "pos"]),
    lines=_lines(order_line),
    hold_expires_at=st.none() | st.sampled_from([4_000, 9_000, 15_000]),
)
PICK = _event("PickConfirmed", order_id=order, location_id=loc, lines=_lines(pick_line))
SHIP = _event(
    "ShipmentConfirmed",
    shipment_id=st.sampled_from(SHIPMENTS),
    order_id=order,
    location_id=loc,
    lines=_lines(order_line),
)
# Weighted by repetition: orders and their warehouse events are what collide most.
EVENTS = st.one_of(
    RECEIPT,
    RECEIPT,
    PLACE,
    PLACE,
    PLACE,
    PICK,
    PICK,
    SHIP,
    SHIP,
    _event("OrderConfirmed", order_id=order),
    _event("OrderCancelled", order_id=order, lines=st.none() | _lines(order_line)),
    _event(
        "ReturnReceived",
        return_id=st.sampled_from(["r1", "r2"]),
        location_id=loc,
        lines=_lines(order_line),
    ),
    _event(
        "ReturnInspected",
        return_id=st.sampled_from(["r1", "r2"]),
        location_id=loc,
        lines=_lines(inspection_line),
    ),
    _event("InboundExpected", reference=st.sampled_from(REFS), sku=sku, location_id=loc, qty=small),
    _event(
        "StockAdjusted",
        sku=sku,
        location_id=loc,
        qty_delta=st.integers(-5, 5).filter(bool),
        reason=st.just("audit"),
    ),
    _event("StockCounted", sku=sku, location_id=loc, counted_qty=st.integers(0, 5)),
    _event(
        "StockStatusChanged",
        sku=sku,
        location_id=loc,
        qty=small,
        from_status=st.sampled_from(STATUSES[:3]),
        to_status=st.sampled_from(STATUSES),
    ).filter(lambda e: e[1]["from_status"] != e[1]["to_status"]),
    _event(
        "TransferDispatched",
        transfer_id=st.sampled_from(TRANSFERS),
        sku=sku,
        from_location_id=loc,
        to_location_id=loc,
        qty=small,
    ).filter(lambda e: e[1]["from_location_id"] != e[1]["to_location_id"]),
    _event(
        "TransferReceived",
        transfer_id=st.sampled_from(TRANSFERS),
        sku=sku,
        to_location_id=loc,
        qty_received=small,
    ),
    _event(
        "ChannelConfigured",
        channel_id=st.sampled_from(CHANNELS),
        location_ids=locations,
        safety_stock=st.integers(0, 2),
    ),
    _event("ChannelRemoved", channel_id=st.sampled_from(CHANNELS)),
)

# A follow-up is a warehouse or order event about an order placed earlier in the sequence,
# resolved when the sequence runs (see ``follow_up``) so that it usually hits an open line.
FOLLOW_UP = st.tuples(
    st.sampled_from(["pick", "short", "ship", "ship", "cancel", "confirm"]),
    st.integers(0, 1000),  # which earlier OrderPlaced
    st.none() | loc,  # None: where the line is allocated
    st.integers(-1, 1),  # quantity adjustment around the line's quantity
)
# A step is a new event, a follow-up, a repeat of an earlier event (same event_id), or a
# timer tick. (Tuples, not ``.map``: one_of would flatten a mapped one_of into its branches
# and drown the other kinds.)
STEP = st.one_of(
    st.tuples(st.just("event"), EVENTS),
    st.tuples(st.just("event"), EVENTS),
    st.tuples(st.just("event"), PLACE),
    st.tuples(st.just("event"), PLACE),
    st.tuples(st.just("event"), RECEIPT),
    st.tuples(st.just("follow"), FOLLOW_UP),
    st.tuples(st.just("follow"), FOLLOW_UP),
    st.tuples(st.just("follow"), FOLLOW_UP),
    st.tuples(st.just("repeat"), st.integers(0, 1000)),
    st.tuples(st.just("expire"), st.none()),
)
# Every sequence starts with some stock so that orders are decided both ways.
SETUP = st.lists(
    st.tuples(
        st.just("event"), _event("StockReceived", sku=sku, location_id=loc, qty=st.integers(2, 8))
    ),
    min_size=2,
    max_size=4,
)
SEQUENCES = st.tuples(SETUP, st.lists(STEP, min_size=6, max_size=24)).map(lambda t: t[0] + t[1])


@dataclass
class Run:
    """Everything a run published, plus per-command observations for the checks."""

    outcomes: list[Outcome] = field(default_factory=list)
    dlq: int = 0
    # (sku, state before, state after, ats before per channel, config before)
    steps: list[tuple[str, SkuState, Outcome, dict[str, tuple[tuple[str, ...], int]]]] = field(
        default_factory=list
    )


def follow_up(
    inv: InMemoryInventory, placed: list[dict[str, Any]], step: tuple[str, int, str | None, int]
) -> tuple[str, dict[str, Any]] | None:
    kind, k, location, adjust = step
    if not placed:
        return None
    placed_order = placed[k % len(placed)]
    order_id = placed_order["order_id"]
    qty: dict[str, int] = defaultdict(int)
    for line in placed_order["lines"]:
        qty[line["sku"]] += line["qty"]
    if location is None:
        first = placed_order["lines"][0]["sku"]
        line = inv.state(first).lines.get(order_id)
        location = min(line.alloc) if line is not None else "A"
    if kind == "confirm":
        return "OrderConfirmed", {"order_id": order_id}
    if kind == "cancel":
        lines = None if adjust else [{"sku": s, "qty": q} for s, q in qty.items()]
        return "OrderCancelled", {"order_id": order_id, "lines": lines}
    if kind in ("pick", "short"):
        short = 1 + adjust % 2 if kind == "short" else 0
        lines = [
            {"sku": s, "qty_picked": max(0, q + adjust - short), "qty_short": short}
            for s, q in qty.items()
        ]
        lines = [line for line in lines if line["qty_picked"] + line["qty_short"]]
        return "PickConfirmed", {"order_id": order_id, "location_id": location, "lines": lines}
    lines = [{"sku": s, "qty": max(1, q + adjust)} for s, q in qty.items()]
    return "ShipmentConfirmed", {
        "shipment_id": f"sh{adjust + 1}",
        "order_id": order_id,
        "location_id": location,
        "lines": lines,
    }


def drive(
    steps: list[tuple[str, Any]], *, skip_repeats: bool = False, partitions: int = 2
) -> tuple[InMemoryInventory, Run]:
    inv = InMemoryInventory(partitions=partitions)
    run = Run()
    sent: list[tuple[str, dict[str, Any]]] = []
    config: dict[str, tuple[tuple[str, ...], int]] = {}  # independent mirror of the channels
    applied_channel_events: set[str] = set()
    placed: list[dict[str, Any]] = []
    for i, (kind, payload) in enumerate(steps):
        clock = (i + 1) * 1000
        if kind == "follow":
            payload = follow_up(inv, placed, payload)
            if payload is None:
                continue
            kind = "event"
        if kind == "event":
            name, fields = payload
            record = {**fields, "event_id": f"ev{i}", "occurred_at": clock}
            if name == "OrderPlaced":
                placed.append(record)
        elif kind == "repeat":
            if not sent or skip_repeats:
                continue
            name, record = sent[payload % len(sent)]
        else:
            before = {s: inv.state(s) for s in SKUS}
            for outcome in inv.expire(clock):
                run.steps.append(
                    (outcome.state.sku, before[outcome.state.sku], outcome, dict(config))
                )
                run.outcomes.append(outcome)
            continue
        before = {s: inv.state(s) for s in SKUS}
        config_before = dict(config)
        try:
            outcomes = inv.handle_event(name, record, clock)
        except ValidationError:
            # Went to the DLQ: never applied, so a later delivery is not a repeat (e.g. a
            # confirmation that arrives again once its order is known).
            run.dlq += 1
            continue
        if kind == "event":
            sent.append((name, record))
        if name.startswith("Channel") and record["event_id"] not in applied_channel_events:
            applied_channel_events.add(record["event_id"])
            if name == "ChannelConfigured":
                config[record["channel_id"]] = (
                    tuple(record["location_ids"]),
                    record["safety_stock"],
                )
            else:
                config.pop(record["channel_id"], None)
        for outcome in outcomes:
            run.steps.append((outcome.state.sku, before[outcome.state.sku], outcome, config_before))
            run.outcomes.append(outcome)
    return inv, run


def independent_ats(
    state: SkuState, config: dict[str, tuple[tuple[str, ...], int]], channel_id: str
) -> int:
    """ATS computed from the formula of docs/semantics.md, without the core's Channel/ChannelBook code."""
    if channel_id in config:
        locs, safety = config[channel_id]
    elif "default" in config:
        locs, safety = config["default"]
    else:
        locs, safety = tuple(sorted(state.positions)), 0
    total = 0
    for loc_id in locs:
        pos = state.positions.get(loc_id)
        if pos is not None:
            total += max(0, pos.on_hand - pos.reserved)
    return max(0, total - safety)


def check_state_invariants(state: SkuState) -> None:
    reserved: dict[str, int] = defaultdict(int)
    picked: dict[str, int] = defaultdict(int)
    for line in state.lines.values():
        assert line.alloc, f"open line {line.order_id} holds nothing"
        for loc_id, n in line.alloc.items():
            assert n > 0
            reserved[loc_id] += n
        for loc_id, n in line.picked.items():
            assert 0 < n <= line.alloc.get(loc_id, 0)
            picked[loc_id] += n
    inbound: dict[str, int] = defaultdict(int)
    for loc_id, refs in state.inbound.items():
        for n in refs.values():
            assert n > 0
            inbound[loc_id] += n
    for transfer in state.transfers.values():
        inbound[transfer.to_location_id] += transfer.qty
    for loc_id, pos in state.positions.items():
        for attr in BUCKET_FIELDS.values():
            assert getattr(pos, attr) >= 0, (loc_id, attr, pos)
        assert pos.reserved <= pos.on_hand, (loc_id, pos)
        assert pos.picked <= pos.reserved, (loc_id, pos)
        assert pos.reserved == reserved[loc_id], (loc_id, pos, state.lines)
        assert pos.picked == picked[loc_id]
        assert pos.inbound == inbound[loc_id]


def published(run: Run) -> list[dict[str, Any]]:
    out = []
    for o in run.outcomes:
        out.extend(d.to_record() for d in o.decisions)
        out.extend(m.to_record() for m in o.movements)
        if o.availability is not None:
            out.append(o.availability.to_record())
    return out


@PROPERTY_SETTINGS
@given(SEQUENCES)
def test_ledger_sums_to_every_balance(steps):
    inv, run = drive(steps)
    sums: dict[tuple[str, str, str], int] = defaultdict(int)
    for outcome in run.outcomes:
        for m in outcome.movements:
            key = (m.sku, m.location_id, BUCKET_FIELDS[m.bucket])
            sums[key] += m.delta
            assert m.delta != 0
            assert m.balance_after == sums[key] >= 0, m
    for s in SKUS:
        for loc_id, pos in inv.state(s).positions.items():
            for attr in BUCKET_FIELDS.values():
                assert sums[(s, loc_id, attr)] == getattr(pos, attr), (s, loc_id, attr)


@PROPERTY_SETTINGS
@given(SEQUENCES)
def test_every_command_leaves_buckets_non_negative_and_reserved_within_on_hand(steps):
    _, run = drive(steps)
    last_version: dict[str, int] = defaultdict(int)
    for s, before, outcome, _config in run.steps:
        check_state_invariants(outcome.state)
        buckets_changed = {
            k: v
            for k, v in outcome.state.positions.items()
            if v != before.positions.get(k, v.__class__())
        }
        if outcome.availability is not None:
            assert outcome.availability.version == outcome.state.version > last_version[s]
            last_version[s] = outcome.state.version
            published_positions = {
                x.location_id: [
                    x.on_hand,
                    x.reserved,
                    x.picked,
                    x.damaged,
                    x.quality_hold,
                    x.pending_inspection,
                    x.inbound,
                    x.sellable,
                ]
                for x in outcome.availability.locations
            }
            assert published_positions == {
                loc_id: [*pos.to_list(), pos.sellable]
                for loc_id, pos in outcome.state.positions.items()
            }
        elif outcome.movements or outcome.decisions:
            assert not buckets_changed, "a bucket changed without an availability snapshot"


@PROPERTY_SETTINGS
@given(SEQUENCES)
def test_every_reservation_fits_the_channels_ats_before_the_command(steps):
    _, run = drive(steps)
    for _s, before, outcome, config in run.steps:
        for d in outcome.decisions:
            if d.status == ReservationStatus.RESERVED:
                ats = independent_ats(before, config, d.channel_id)
                assert d.qty_reserved == d.qty_requested <= ats, (d, ats)
                assert sum(a.qty for a in d.allocations) == d.qty_reserved
                for a in d.allocations:
                    pos = before.positions[a.location_id]
                    assert a.qty <= pos.on_hand - pos.reserved
            elif d.status == ReservationStatus.REJECTED:
                assert d.qty_requested > independent_ats(before, config, d.channel_id)
                assert d.qty_reserved == 0 and d.allocations == []


@PROPERTY_SETTINGS
@given(SEQUENCES)
def test_delivering_an_event_twice_equals_delivering_it_once(steps):
    with_repeats, run_twice = drive(steps)
    once, run_once = drive(steps, skip_repeats=True)
    assert published(run_twice) == published(run_once)
    for s in SKUS:
        assert with_repeats.state(s) == once.state(s)


@PROPERTY_SETTINGS
@given(SEQUENCES)
def test_replaying_from_empty_state_gives_identical_state_outputs_and_ids(steps):
    first, run1 = drive(steps)
    second, run2 = drive(steps)
    assert published(run1) == published(run2)
    for s in SKUS:
        state = first.state(s)
        assert state == second.state(s)
        assert SkuState.from_dict(state.to_dict()) == state
