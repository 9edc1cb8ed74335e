"""Stock-level signals in the core (contract 10.2, docs/semantics.md#stock-level-signals)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocksignal.domain import (
    Channel,
    ChannelBook,
    InMemoryInventory,
    Position,
    SkuState,
    StockLevel,
    StockLevelChanged,
    level_changes,
    level_of,
)

IN, LOW, OUT = StockLevel.IN_STOCK, StockLevel.LOW_STOCK, StockLevel.OUT_OF_STOCK


def test_level_boundaries():
    assert level_of(0, 0) == OUT and level_of(0, 5) == OUT
    assert level_of(1, 0) == IN
    assert level_of(1, 1) == LOW and level_of(5, 5) == LOW and level_of(6, 5) == IN


def _levels(outcomes) -> list[tuple[str, str, str | None, int, int]]:
    return [
        (lv.channel_id, lv.level, lv.previous_level, lv.available, lv.version)
        for o in outcomes
        for lv in o.levels
    ]


def test_first_snapshot_names_every_channel_with_no_previous_level():
    inv = InMemoryInventory()
    inv.post("ChannelConfigured", channel_id="web", location_ids=["A"], low_stock_threshold=3)
    out = inv.post("StockReceived", sku="MUG", location_id="A", qty=2)
    assert _levels(out) == [("default", IN, None, 2, 1), ("web", LOW, None, 2, 1)]
    assert inv.state("MUG").levels == {"default": IN, "web": LOW}


def test_back_in_stock_and_running_low_sequence():
    inv = InMemoryInventory()
    inv.post("ChannelConfigured", channel_id="web", location_ids=["A"], low_stock_threshold=2)
    inv.post("StockReceived", sku="MUG", location_id="A", qty=5)  # v1: IN both
    sold = inv.post(
        "OrderPlaced", order_id="o1", channel_id="web", lines=[{"sku": "MUG", "qty": 3}]
    )  # v2: 2 left
    out = inv.post(
        "OrderPlaced", order_id="o2", channel_id="web", lines=[{"sku": "MUG", "qty": 2}]
    )  # v3: 0
    same = inv.post(
        "StockAdjusted", sku="MUG", location_id="A", qty_delta=-1, reason="x"
    )  # v4: still 0
    back = inv.post("StockReceived", sku="MUG", location_id="A", qty=10)  # v5

    assert _levels(sold) == [("web", LOW, IN, 2, 2)]  # default has no threshold: still IN
    assert _levels(out) == [("default", OUT, IN, 0, 3), ("web", OUT, LOW, 0, 3)]
    assert _levels(same) == []  # availability changed (a bucket), no level did
    assert _levels(back) == [
        ("default", IN, OUT, 10, 5),
        ("web", IN, OUT, 10, 5),
    ]  # the count shorted o2 by 1


def test_a_record_carries_the_snapshot_it_goes_with():
    inv = InMemoryInventory()
    [o] = inv.post("StockReceived", sku="MUG", location_id="A", qty=1, event_id="rcv-1")
    [lv] = o.levels
    assert lv == StockLevelChanged(
        "MUG", "default", IN, None, 1, o.availability.version, "rcv-1", o.availability.occurred_at
    )
    assert lv.to_record()["previous_level"] is None and lv.to_record()["level"] == "IN_STOCK"


def test_a_buffer_can_put_a_channel_out_of_stock_while_default_is_in_stock():
    inv = InMemoryInventory()
    inv.post("ChannelConfigured", channel_id="mkt", location_ids=["A"], buffer_percent=50)
    out = inv.post("StockReceived", sku="MUG", location_id="A", qty=1)  # floor(1 * 50%) = 0
    assert _levels(out) == [("default", IN, None, 1, 1), ("mkt", OUT, None, 0, 1)]


def test_a_new_channel_is_seen_for_the_first_time_by_its_reconcile_snapshot():
    inv = InMemoryInventory()
    inv.post("StockReceived", sku="MUG", location_id="A", qty=4)
    out = inv.post("ChannelConfigured", channel_id="mkt", location_ids=["A"], max_available=0)
    assert _levels(out) == [("mkt", OUT, None, 0, 2)]


def test_a_removed_channel_is_forgotten_and_first_seen_again_when_configured_again():
    inv = InMemoryInventory()
    inv.post("ChannelConfigured", channel_id="mkt", location_ids=["A"])
    inv.post("StockReceived", sku="MUG", location_id="A", qty=4)
    removed = inv.post("ChannelRemoved", channel_id="mkt")
    assert _levels(removed) == [] and inv.state("MUG").levels == {"default": IN}
    again = inv.post("ChannelConfigured", channel_id="mkt", location_ids=["A"])
    assert _levels(again) == [("mkt", IN, None, 4, 3)]


def test_a_threshold_change_alone_signals_with_the_next_availability_change():
    """A level change is published with an availability change (contract 10.2): a new
    threshold that changes no channel's number publishes no snapshot, hence no level; the
    next snapshot carries the change (docs/semantics.md#stock-level-signals)."""
    inv = InMemoryInventory()
    inv.post("ChannelConfigured", channel_id="web", location_ids=["A"])
    inv.post("StockReceived", sku="MUG", location_id="A", qty=5)
    rule = inv.post(
        "ChannelConfigured", channel_id="web", location_ids=["A"], low_stock_threshold=10
    )
    assert rule == []
    nxt = inv.post("StockReceived", sku="MUG", location_id="A", qty=1)
    assert _levels(nxt) == [("web", LOW, IN, 6, 2)]


def test_levels_survive_the_stored_form_and_v1_states_load_without_levels():
    state = SkuState(
        "MUG", 3, positions={"A": Position(on_hand=1)}, levels={"default": IN, "web": LOW}
    )
    d = state.to_dict()
    assert d["lv"] == {"default": "I", "web": "L"}
    assert SkuState.from_dict(d) == state
    v1 = {k: v for k, v in d.items() if k != "lv"}
    assert SkuState.from_dict(v1).levels == {}
    assert "lv" not in SkuState("MUG").to_dict()


def test_level_changes_compare_with_the_published_levels_only():
    """Coalescing: a processor publishes only some snapshots; the comparison is with the
    levels the state says were published, whatever came in between."""
    book = ChannelBook().with_channel(Channel("web", ("A",), low_stock_threshold=1))
    state = SkuState("MUG", 7, levels={"default": OUT, "web": OUT})
    snapshot = {
        "sku": "MUG",
        "version": 7,
        "cause_event_id": "e",
        "occurred_at": 5,
        "channels": [
            {"channel_id": "default", "available": 0},
            {"channel_id": "web", "available": 1},
        ],
    }
    levels, changes = level_changes(state, book, snapshot)
    assert levels == {"default": OUT, "web": LOW}
    assert [(c.channel_id, c.previous_level, c.level) for c in changes] == [("web", OUT, LOW)]


steps = st.lists(
    st.one_of(
        st.tuples(st.just("StockReceived"), st.integers(1, 6)),
        st.tuples(st.just("StockAdjusted"), st.integers(-6, -1)),
        st.tuples(st.just("OrderPlaced"), st.integers(1, 6)),
    ),
    max_size=30,
)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.integers(0, 5), st.integers(0, 60), steps)
def test_the_feed_chains_and_ends_at_the_current_level_and_replays_identically(
    threshold, buffer, events
):
    def run() -> tuple[InMemoryInventory, list[StockLevelChanged]]:
        inv = InMemoryInventory()
        inv.post(
            "ChannelConfigured",
            channel_id="web",
            location_ids=["A"],
            low_stock_threshold=threshold,
            buffer_percent=buffer,
        )
        feed = []
        for i, (name, n) in enumerate(events):
            if name == "StockReceived":
                fields = {"sku": "MUG", "location_id": "A", "qty": n}
            elif name == "StockAdjusted":
                fields = {"sku": "MUG", "location_id": "A", "qty_delta": n, "reason": "count"}
            else:
                fields = {
                    "order_id": f"o{i}",
                    "channel_id": "web",
                    "lines": [{"sku": "MUG", "qty": n}],
                }
            for o in inv.post(name, **fields):
                feed.extend(o.levels)
                assert all(lv.version == o.availability.version for lv in o.levels)
        return inv, feed

    inv, feed = run()
    last: dict[str, str] = {}
    for lv in feed:
        assert lv.previous_level == last.get(lv.channel_id) and lv.level != lv.previous_level
        last[lv.channel_id] = lv.level
    if inv.state("MUG").version:
        ats = inv.ats("MUG")
        assert last == {
            "default": level_of(ats["default"], 0),
            "web": level_of(ats["web"], threshold),
        }
    assert run()[1] == feed  # the same inputs give the same records
