"""Bundles, shared stock and all-or-nothing orders (docs/semantics.md#bundles-and-shared-stock).

Unit cases for the catalogue's rules, bundle availability and the order saga's steps, and
hypothesis properties over random shops: a bundle's ATS is never above any component's ATS
divided by its qty (and equals the scarcest one's), and an ALL_OR_NOTHING order never ends
partly reserved, also when many orders' saga steps interleave.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocksignal.domain import (
    Bundle,
    BundleView,
    CancelLine,
    Catalogue,
    Cause,
    ChannelBook,
    Fulfilment,
    InMemoryInventory,
    OrderStatus,
    PartitionModel,
    PlaceLine,
    ReservationStatus,
    ValidationError,
    bundle_ats,
    limits,
    observe,
    order_saga,
    redefine,
    refusal,
    validate,
)

CAUSE = Cause("e1", "StockReceived", 1)
GIFT = [{"sku": "MUG", "qty": 1}, {"sku": "LAMP", "qty": 1}]


def shop(partitions: int = 3, mugs: int = 3, lamps: int = 1) -> InMemoryInventory:
    inv = InMemoryInventory(partitions=partitions)
    inv.post("ChannelConfigured", channel_id="web", location_ids=["WH"])
    inv.post("StockReceived", location_id="WH", sku="MUG", qty=mugs)
    inv.post("StockReceived", location_id="WH", sku="LAMP", qty=lamps)
    inv.post("BundleDefined", bundle_sku="GIFT", components=GIFT)
    return inv


# --- the catalogue's rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("components", "problem"),
    [
        ([], "components: has 0 components, not 1..20"),
        (
            [{"sku": f"C{i}", "qty": 1} for i in range(21)],
            "components: has 21 components, not 1..20",
        ),
        (
            [{"sku": "A", "qty": 1}, {"sku": "A", "qty": 2}],
            "components[1].sku: 'A' is listed twice",
        ),
        ([{"sku": "A", "qty": 0}], "components[0].qty: 0 is not in 1..1000"),
        ([{"sku": "A", "qty": 1001}], "components[0].qty: 1001 is not in 1..1000"),
        ([{"sku": "KIT", "qty": 1}], "components[0].sku: 'KIT' is the bundle itself"),
        ([{"sku": " A", "qty": 1}], "components[0].sku: has leading or trailing whitespace"),
    ],
)
def test_a_malformed_bundle_is_refused_naming_the_rule(components, problem):
    with pytest.raises(ValidationError) as err:
        validate(
            "BundleDefined",
            {"event_id": "e", "occurred_at": 1, "bundle_sku": "KIT", "components": components},
        )
    assert problem in str(err.value)


def test_a_well_formed_bundle_and_an_alias_pass_validation():
    validate(
        "BundleDefined",
        {
            "event_id": "e",
            "occurred_at": 1,
            "bundle_sku": "KIT",
            "components": [{"sku": "A", "qty": 1000}],
        },
    )
    validate("BundleRemoved", {"event_id": "e", "occurred_at": 1, "bundle_sku": "KIT"})


def test_an_unknown_fulfilment_is_refused():
    record = {
        "event_id": "e",
        "occurred_at": 1,
        "order_id": "o",
        "channel_id": "web",
        "lines": [{"sku": "A", "qty": 1}],
        "fulfilment": "SOME",
    }
    with pytest.raises(
        ValidationError, match="fulfilment: 'SOME' is not one of PER_LINE, ALL_OR_NOTHING"
    ):
        validate("OrderPlaced", record)


def test_refusal_rules_that_need_the_catalogue_or_the_stock():
    catalogue = Catalogue().with_bundle(Bundle.of("GIFT", [("MUG", 1), ("LAMP", 1)]))
    assert "holds stock positions" in refusal(
        catalogue, Bundle.of("MUG2", [("MUG", 1)]), stocked=True
    )
    assert "'GIFT' is a bundle" in refusal(
        catalogue, Bundle.of("BIG", [("GIFT", 2)]), stocked=False
    )
    assert "'MUG' is a component of 'GIFT'" in refusal(
        catalogue, Bundle.of("MUG", [("X", 1)]), stocked=False
    )
    assert (
        refusal(catalogue, Bundle.of("GIFT", [("MUG", 2)]), stocked=False) is None
    )  # a redefinition


def test_a_stocked_sku_cannot_become_a_bundle_and_a_bundle_takes_no_stock():
    inv = shop()
    with pytest.raises(ValidationError, match="holds stock positions"):
        inv.post("BundleDefined", bundle_sku="MUG", components=[{"sku": "LAMP", "qty": 1}])
    with pytest.raises(ValidationError, match="'GIFT' is a bundle; a bundle holds no stock"):
        inv.post("StockReceived", location_id="WH", sku="GIFT", qty=1)
    with pytest.raises(ValidationError, match="is a bundle"):  # one bad line refuses the record
        inv.post(
            "ShipmentConfirmed",
            shipment_id="s",
            order_id="o",
            location_id="WH",
            lines=[{"sku": "MUG", "qty": 1}, {"sku": "GIFT", "qty": 1}],
        )
    assert inv.state("MUG").positions["WH"].on_hand == 3  # nothing else happened
    assert inv.state("GIFT").positions == {}


# --- bundle availability ---------------------------------------------------------------------


def test_bundle_ats_is_the_scarcest_component_per_channel():
    six_pack = Bundle.of("SIX", [("CAN", 6)])
    assert bundle_ats(six_pack, {"CAN": {"default": 13, "web": 5}}) == {"default": 2, "web": 0}
    kit = Bundle.of("KIT", [("A", 1), ("B", 2)])
    values = {"A": {"default": 4, "web": 1}, "B": {"default": 5}}
    assert bundle_ats(kit, values) == {"default": 2, "web": 0}  # B not on web: counts as 0
    (first, second) = limits(kit, values, "default")
    assert (first.sku, first.bundles, second.sku, second.bundles) == ("B", 2, "A", 4)
    assert first.line == "B: 5 available / 2 per bundle = 2"


def test_a_bundle_publishes_only_when_a_channel_value_changes():
    kit = Bundle.of("KIT", [("A", 2)])
    view, snap = redefine(BundleView("KIT"), kit, CAUSE)
    assert snap is not None and snap.version == 1 and snap.locations == []
    assert [(c.channel_id, c.available) for c in snap.channels] == [("default", 0)]
    view, snap = observe(view, "A", {"default": 5}, Cause("e2", "StockReceived", 2))
    assert snap.version == 2 and snap.available("default") == 2 and snap.cause_event_id == "e2"
    view, snap = observe(view, "A", {"default": 4}, CAUSE)  # still 2 kits: nothing published
    assert snap is None and view.version == 2
    view, snap = observe(view, "B", {"default": 0}, CAUSE)  # not a component: ignored
    assert snap is None
    view, snap = redefine(view, None, CAUSE)  # removed: 0 where it was offered
    assert snap.version == 3 and snap.available("default") == 0
    assert BundleView.from_dict(view.to_dict()) == view


def test_bundle_availability_follows_its_components_in_the_model():
    inv = shop()
    assert inv.bundle_view("GIFT").published == {"default": 1, "web": 1}
    out = inv.post("StockAdjusted", location_id="WH", sku="LAMP", qty_delta=4, reason="found")
    (gift,) = [o.availability for o in out if o.state.sku == "GIFT"]
    assert gift.available("web") == 3 and gift.cause_event_type == "StockAdjusted"
    out = inv.post("StockAdjusted", location_id="WH", sku="LAMP", qty_delta=1, reason="found")
    assert [o.state.sku for o in out] == ["LAMP"]  # MUG is scarcer now: GIFT stays at 3


# --- orders ----------------------------------------------------------------------------------


def test_a_bundle_line_reserves_every_component_or_none():
    inv = shop()
    inv.post("OrderPlaced", order_id="O1", channel_id="web", lines=[{"sku": "GIFT", "qty": 1}])
    d1 = inv.order_decision("O1")
    assert (d1.status, d1.fulfilment) == (OrderStatus.ACCEPTED, Fulfilment.ALL_OR_NOTHING)
    assert [(x.sku, x.qty_requested, x.qty_reserved) for x in d1.lines] == [
        ("MUG", 1, 1),
        ("LAMP", 1, 1),
        ("GIFT", 1, 1),
    ]
    inv.post("OrderPlaced", order_id="O2", channel_id="web", lines=[{"sku": "GIFT", "qty": 1}])
    d2 = inv.order_decision("O2")
    assert d2.status == OrderStatus.REJECTED
    assert d2.reason == "ORDER_INCOMPLETE: INSUFFICIENT_STOCK for LAMP"
    assert "O2" not in inv.state("MUG").lines and "O2" not in inv.state("LAMP").lines
    assert inv.ats("MUG")["web"] == 2


def test_a_bundle_line_merges_with_a_direct_line_of_its_component():
    inv = shop(mugs=5)
    inv.post(
        "OrderPlaced",
        order_id="O1",
        channel_id="web",
        lines=[{"sku": "MUG", "qty": 2}, {"sku": "GIFT", "qty": 1}],
    )
    d = inv.order_decision("O1")
    assert [(x.sku, x.qty_requested) for x in d.lines] == [("MUG", 3), ("LAMP", 1), ("GIFT", 1)]
    assert inv.state("MUG").lines["O1"].reserved == 3


def test_per_line_orders_may_be_partial_and_are_decided_like_section_3():
    inv = shop()
    inv.post(
        "OrderPlaced",
        order_id="O1",
        channel_id="web",
        lines=[{"sku": "MUG", "qty": 1}, {"sku": "LAMP", "qty": 2}],
    )
    d = inv.order_decision("O1")
    assert (d.status, d.fulfilment, d.reason) == (
        OrderStatus.PARTIAL,
        Fulfilment.PER_LINE,
        "INSUFFICIENT_STOCK for LAMP",
    )
    assert inv.state("MUG").lines["O1"].reserved == 1


def test_cancelling_a_kit_line_releases_its_components():
    inv = shop(mugs=4, lamps=4)
    inv.post(
        "BundleDefined",
        bundle_sku="GIFT",
        components=[{"sku": "MUG", "qty": 2}, {"sku": "LAMP", "qty": 1}],
    )
    inv.post("OrderPlaced", order_id="O1", channel_id="web", lines=[{"sku": "GIFT", "qty": 2}])
    assert inv.state("MUG").lines["O1"].reserved == 4
    inv.post(
        "BundleDefined",
        bundle_sku="GIFT",
        components=[{"sku": "MUG", "qty": 1}, {"sku": "LAMP", "qty": 1}],
    )
    out = inv.post("OrderCancelled", order_id="O1", lines=[{"sku": "GIFT", "qty": 1}])
    # The order's own components (2 mugs a set when it was placed), not today's definition.
    released = {
        d.sku: d.qty_reserved
        for o in out
        for d in o.decisions
        if d.status == ReservationStatus.RELEASED
    }
    assert released == {"MUG": 2, "LAMP": 1}


def test_a_repeated_order_event_is_decided_once():
    inv = shop()
    record = {
        "event_id": "dup",
        "occurred_at": 5,
        "order_id": "O1",
        "channel_id": "web",
        "lines": [{"sku": "GIFT", "qty": 1}],
    }
    inv.handle_event("OrderPlaced", record, 100)
    assert inv.handle_event("OrderPlaced", record, 200) == []
    assert [d.order_id for d in inv.order_decisions] == ["O1"]


def test_saga_steps_ignore_replies_read_twice():
    expanded = order_saga.expand(
        [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}], Catalogue(), Fulfilment.ALL_OR_NOTHING
    )
    saga, steps = order_saga.start(
        "o", "web", expanded, command_id="c", cause_event_id="e", decided_at=1
    )
    assert steps == [order_saga.Place("A", 1), order_saga.Place("B", 1)]
    saga, steps = order_saga.line_decided(saga, "A", 1, 2)
    assert steps == [] and order_saga.line_decided(saga, "A", 1, 2) == (saga, [])
    saga, steps = order_saga.line_decided(saga, "B", 0, 3)
    assert steps == [order_saga.Release("A", 1)] and saga.phase == order_saga.Phase.RELEASING
    assert order_saga.OrderSaga.from_dict(saga.to_dict()) == saga
    saga, (decide,) = order_saga.line_released(saga, "A", 4)
    assert decide.decision.status == OrderStatus.REJECTED and decide.decision.decided_at == 4
    assert order_saga.line_released(saga, "A", 5) == (saga, [])


def test_a_line_beyond_any_quantity_is_rejected_unasked():
    catalogue = Catalogue().with_bundle(Bundle.of("PALLET", [("CAN", 1000)]))
    expanded = order_saga.expand([{"sku": "PALLET", "qty": 1001}], catalogue)
    saga, (decide,) = order_saga.start(
        "o", "web", expanded, command_id="c", cause_event_id="e", decided_at=1
    )
    assert decide.decision.status == OrderStatus.REJECTED


# --- properties ------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
COMPONENTS = ["A", "B", "C"]
BUNDLES = ["K1", "K2"]
LOCS = ["L1", "L2"]

bundle_def = st.lists(
    st.tuples(st.sampled_from(COMPONENTS), st.integers(1, 3)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)
event = st.one_of(
    st.tuples(
        st.just("stock"), st.sampled_from(COMPONENTS), st.sampled_from(LOCS), st.integers(-3, 6)
    ),
    st.tuples(
        st.just("order"),
        st.lists(
            st.tuples(st.sampled_from(COMPONENTS + BUNDLES), st.integers(1, 3)),
            min_size=1,
            max_size=3,
        ),
        st.sampled_from(list(Fulfilment)),
        st.sampled_from(["web", "mkt"]),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("define"), st.sampled_from(BUNDLES), bundle_def),
    st.tuples(
        st.just("channel"),
        st.sampled_from(["web", "mkt"]),
        st.permutations(LOCS),
        st.integers(0, 2),
    ),
)


def _run(inv: InMemoryInventory, events, check) -> None:
    orders = 0
    for ev in events:
        try:
            if ev[0] == "stock":
                _, sku, loc, delta = ev
                if delta > 0:
                    inv.post("StockReceived", location_id=loc, sku=sku, qty=delta)
                elif delta < 0:
                    inv.post("StockAdjusted", location_id=loc, sku=sku, qty_delta=delta, reason="x")
            elif ev[0] == "order":
                _, lines, fulfilment, channel = ev
                orders += 1
                inv.post(
                    "OrderPlaced",
                    order_id=f"o{orders}",
                    channel_id=channel,
                    fulfilment=fulfilment,
                    lines=[{"sku": s, "qty": q} for s, q in lines],
                )
            elif ev[0] == "cancel" and orders:
                inv.post("OrderCancelled", order_id=f"o{ev[1] % orders + 1}", lines=None)
            elif ev[0] == "define":
                _, sku, comps = ev
                inv.post(
                    "BundleDefined",
                    bundle_sku=sku,
                    components=[{"sku": s, "qty": q} for s, q in comps],
                )
            elif ev[0] == "channel":
                _, ch, locs, safety = ev
                inv.post(
                    "ChannelConfigured", channel_id=ch, location_ids=list(locs), safety_stock=safety
                )
        except ValidationError:
            pass  # a refused record: nothing happened (checked below all the same)
        check(inv)


def _bundle_never_above_components(inv: InMemoryInventory) -> None:
    for b in BUNDLES:
        view = inv.bundle_view(b)
        if view is None or view.bundle is None:
            continue
        for ch, n in view.published.items():
            for comp in view.bundle.components:
                ats = inv.ats(comp.sku).get(ch, 0)
                assert n <= ats // comp.qty, (b, ch, comp, ats)
            # ...and equal to the scarcest: the published number is the current one.
            assert n == min(inv.ats(c.sku).get(ch, 0) // c.qty for c in view.bundle.components)


@PROPERTY_SETTINGS
@given(st.lists(event, max_size=25))
def test_property_a_bundles_ats_is_never_above_any_components_ats_div_its_qty(events):
    _run(InMemoryInventory(partitions=3), events, _bundle_never_above_components)


def _never_partly_reserved(inv: InMemoryInventory) -> None:
    for d in inv.order_decisions:
        if d.fulfilment != Fulfilment.ALL_OR_NOTHING:
            continue
        held = [
            inv.state(x.sku).lines.get(d.order_id)
            for x in d.lines
            if not inv.partition_for(x.sku).catalogue.is_bundle(x.sku)
        ]
        if d.status == OrderStatus.REJECTED:
            assert all(x.qty_reserved == 0 for x in d.lines)
        else:
            assert d.status == OrderStatus.ACCEPTED
            assert all(x.qty_reserved == x.qty_requested for x in d.lines)
        saga = inv.partition_for(d.order_id).sagas[d.order_id]
        if d.status == OrderStatus.REJECTED and saga.cause_event_id == d.cause_event_id:
            # A rejected order holds nothing anywhere (later events cannot reserve for it).
            assert all(line is None for line in held), d


@PROPERTY_SETTINGS
@given(st.lists(event, max_size=25))
def test_property_an_all_or_nothing_order_never_ends_partly_reserved(events):
    _run(InMemoryInventory(partitions=3), events, _never_partly_reserved)


# --- the saga under interleaving: steps of many orders delivered in any order ----------------


class Cluster:
    """Partitions that exchange saga steps as messages, one FIFO queue per partition (as the
    command topic's partitions are), delivered in an order the test draws."""

    def __init__(self, partitions: int, rng: random.Random) -> None:
        self.parts = [PartitionModel() for _ in range(partitions)]
        self.queues: list[list] = [[] for _ in range(partitions)]
        self.rng = rng
        self.sagas: dict[str, order_saga.OrderSaga] = {}
        self.decided: dict[str, object] = {}
        self.t = 0

    def p(self, key: str) -> int:
        return sum(key.encode()) % len(self.parts)

    def send(self, key: str, msg) -> None:
        self.queues[self.p(key)].append(msg)

    def run(self) -> None:
        while any(self.queues):
            q = self.rng.choice([q for q in self.queues if q])
            self.deliver(q.pop(0))

    def deliver(self, msg) -> None:
        self.t += 1
        kind = msg[0]
        if kind == "place":  # at the order's partition: the saga starts
            _, oid, lines = msg
            expanded = order_saga.expand(lines, Catalogue(), Fulfilment.ALL_OR_NOTHING)
            saga, steps = order_saga.start(
                oid, "web", expanded, command_id=oid, cause_event_id=oid, decided_at=self.t
            )
            self.sagas[oid] = saga
            self.steps(oid, steps)
        elif kind == "line":  # at a SKU's partition: decide, reply to the order's partition
            _, oid, sku, qty = msg
            cmd = PlaceLine(
                command_id=f"{oid}:{sku}",
                event_id=oid,
                event_type="OrderPlaced",
                occurred_at=self.t,
                logged_at=self.t,
                sku=sku,
                order_id=oid,
                channel_id="web",
                qty=qty,
            )
            (out,) = self.parts[self.p(sku)].handle(cmd)
            self.send(oid, ("decided", oid, sku, out.decisions[0].qty_reserved))
        elif kind == "release":
            _, oid, sku = msg
            cmd = CancelLine(
                command_id=f"{oid}/x:{sku}",
                event_id=f"{oid}/x",
                event_type="OrderPlaced",
                occurred_at=self.t,
                logged_at=self.t,
                sku=sku,
                order_id=oid,
                reason="ORDER_INCOMPLETE",
            )
            self.parts[self.p(sku)].handle(cmd)
            self.send(oid, ("released", oid, sku))
        elif kind == "decided":
            _, oid, sku, n = msg
            self.sagas[oid], steps = order_saga.line_decided(self.sagas[oid], sku, n, self.t)
            self.steps(oid, steps)
        elif kind == "released":
            _, oid, sku = msg
            self.sagas[oid], steps = order_saga.line_released(self.sagas[oid], sku, self.t)
            self.steps(oid, steps)

    def steps(self, oid: str, steps) -> None:
        for s in steps:
            if isinstance(s, order_saga.Place):
                self.send(s.sku, ("line", oid, s.sku, s.qty))
            elif isinstance(s, order_saga.Release):
                self.send(s.sku, ("release", oid, s.sku))
            else:
                assert oid not in self.decided  # exactly one OrderDecided per order
                self.decided[oid] = s.decision


@PROPERTY_SETTINGS
@given(
    stock=st.dictionaries(st.sampled_from(COMPONENTS), st.integers(0, 4), min_size=3),
    orders=st.lists(
        st.lists(st.tuples(st.sampled_from(COMPONENTS), st.integers(1, 2)), min_size=1, max_size=3),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(0, 2**32),
)
def test_property_interleaved_sagas_never_leave_an_order_partly_reserved(stock, orders, seed):
    cluster = Cluster(3, random.Random(seed))
    for sku, n in stock.items():
        if n:
            cluster.parts[cluster.p(sku)].handle(_receive(sku, n))
    for i, lines in enumerate(orders):
        cluster.send(f"o{i}", ("place", f"o{i}", [{"sku": s, "qty": q} for s, q in lines]))
    cluster.run()
    assert set(cluster.decided) == {f"o{i}" for i in range(len(orders))}
    accepted_units = {sku: 0 for sku in COMPONENTS}
    for oid, d in cluster.decided.items():
        for x in d.lines:
            line = (
                cluster.parts[cluster.p(x.sku)].states.get(x.sku).lines.get(oid)
                if cluster.parts[cluster.p(x.sku)].states.get(x.sku)
                else None
            )
            if d.status == OrderStatus.ACCEPTED:
                assert line is not None and line.reserved == x.qty_requested
                accepted_units[x.sku] += x.qty_requested
            else:
                assert d.status == OrderStatus.REJECTED and line is None
    for sku, n in accepted_units.items():  # nothing oversold, nothing reserved for a rejected order
        state = cluster.parts[cluster.p(sku)].states.get(sku)
        reserved = sum(p.reserved for p in state.positions.values()) if state else 0
        assert reserved == n <= stock.get(sku, 0)


def _receive(sku: str, n: int):
    from stocksignal.domain import ReceiveStock

    return ReceiveStock(
        command_id=f"r:{sku}",
        event_id=f"r:{sku}",
        event_type="StockReceived",
        occurred_at=0,
        logged_at=0,
        sku=sku,
        location_id="WH",
        qty=n,
    )


def test_channel_book_is_unchanged_by_catalogue_commands():
    # A catalogue command never touches the channel book: they are separate books.
    inv = shop()
    assert inv.book("MUG") == inv.book("GIFT") and isinstance(inv.book("MUG"), ChannelBook)
