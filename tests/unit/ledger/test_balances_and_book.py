"""The ledger read back, without Kafka: buckets at a time, windows, the channel book at a time.

The movements come from the domain's reference model, so "the sums of the deltas up to T" is
checked against the model's own state at T.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocksignal.domain import BUCKET_FIELDS, ChannelBook, InMemoryInventory, split
from stocksignal.ledger.balances import Moved, balances_at, held_by_reference, in_window, net_change
from stocksignal.ledger.book import ChannelChange, book_at, configured_at, merge


def buckets_of(state) -> dict:
    return {
        loc: {b: getattr(p, b) for b in BUCKET_FIELDS.values()}
        for loc, p in state.positions.items()
    }


def a_day(shop: InMemoryInventory):
    """(log time after each event, the SKU's state then), and the ledger as Moved records."""
    events = [
        ("StockReceived", dict(sku="MUG", location_id="BER", qty=10)),
        ("InboundExpected", dict(sku="MUG", location_id="HAM", qty=6, reference="PO-1")),
        ("OrderPlaced", dict(order_id="W-1", channel_id="web", lines=[{"sku": "MUG", "qty": 4}])),
        (
            "PickConfirmed",
            dict(
                order_id="W-1",
                location_id="BER",
                lines=[{"sku": "MUG", "qty_picked": 2, "qty_short": 1}],
            ),
        ),
        ("StockReceived", dict(sku="MUG", location_id="HAM", qty=6, reference="PO-1")),
        ("StockCounted", dict(sku="MUG", location_id="BER", counted_qty=3)),
        (
            "StockStatusChanged",
            dict(sku="MUG", location_id="HAM", qty=1, from_status="SELLABLE", to_status="DAMAGED"),
        ),
    ]
    ledger, states, offset = [], [], 0
    for name, fields in events:
        for outcome in shop.post(name, **fields):
            for m in outcome.movements:
                ledger.append(Moved(shop.clock, offset, m.to_record()))
                offset += 1
        states.append((shop.clock, buckets_of(shop.state("MUG"))))
    return states, ledger


def test_the_buckets_at_each_time_are_the_model_state_then():
    states, ledger = a_day(InMemoryInventory())
    assert balances_at(ledger, 0) == {}
    for at, expected in states:
        assert balances_at(ledger, at) == expected
        assert balances_at(ledger, at + 999) == expected  # between two events: the earlier one's


def test_what_held_the_units_is_read_from_the_movement_references():
    states, ledger = a_day(InMemoryInventory())
    after_order = states[2][0]
    assert held_by_reference(ledger, after_order) == {
        "reserved": {"BER": {"W-1": 4}},
        "picked": {},
        "inbound": {"HAM": {"PO-1": 6}},
    }
    at_end = held_by_reference(ledger, states[-1][0])
    assert at_end["inbound"] == {} and at_end["picked"] == {"BER": {"W-1": 2}}


def test_a_window_lists_what_moved_and_its_net_change_is_the_difference():
    states, ledger = a_day(InMemoryInventory())
    (t1, before), (t2, after) = states[1], states[5]
    window = in_window(ledger, t1, t2)
    assert window and all(t1 < m.logged_at <= t2 for m in window)
    assert [m.offset for m in window] == sorted(m.offset for m in window)
    net = net_change(window)
    for loc in after:
        for bucket, units in after[loc].items():
            assert before.get(loc, {}).get(bucket, 0) + net.get(loc, {}).get(bucket, 0) == units
    assert all(n != 0 for buckets in net.values() for n in buckets.values())


def test_record_order_does_not_matter_only_each_records_own_time():
    """Writers' clocks are not ordered across offsets: the sum takes each record by its time."""
    states, ledger = a_day(InMemoryInventory())
    shuffled = ledger[:]
    random.Random(3).shuffle(shuffled)
    for at, expected in states:
        assert balances_at(shuffled, at) == expected


def test_a_truncated_ledger_starts_each_bucket_from_its_first_retained_movement():
    states, ledger = a_day(InMemoryInventory())
    cut = 6  # retention deleted the first six movements of the partition
    kept = ledger[cut:]
    current = states[-1][1]
    first_kept = kept[0].logged_at
    for at, expected in states:
        if at >= first_kept:
            assert balances_at(kept, at, complete=False, current=current) == expected, at
    # Taken as a whole ledger, the same records would be wrong: the flag matters.
    assert balances_at(kept, states[-1][0]) != current


def test_a_bucket_that_never_moved_in_a_truncated_ledger_is_as_it_is_now():
    ledger = [
        Moved(100, 7, {"location_id": "BER", "bucket": "RESERVED", "delta": 1, "balance_after": 3})
    ]
    current = {"BER": {"on_hand": 9, "reserved": 3}, "HAM": {"damaged": 2}}
    at = balances_at(ledger, 150, complete=False, current=current)
    assert at["BER"]["on_hand"] == 9 and at["BER"]["reserved"] == 3 and at["HAM"]["damaged"] == 2
    assert balances_at(ledger, 99, complete=False, current=current)["BER"]["reserved"] == 2


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["BER", "HAM"]), st.integers(1, 5), st.integers(0, 3)),
        min_size=1,
        max_size=25,
    )
)
def test_property_the_ledger_sums_to_the_model_at_every_time(steps):
    shop = InMemoryInventory()
    ledger, states = [], []
    for i, (loc, qty, kind) in enumerate(steps):
        name, fields = [
            ("StockReceived", dict(sku="S", location_id=loc, qty=qty)),
            ("StockAdjusted", dict(sku="S", location_id=loc, qty_delta=-qty, reason="r")),
            ("StockCounted", dict(sku="S", location_id=loc, counted_qty=qty)),
            (
                "OrderPlaced",
                dict(order_id=f"O-{i}", channel_id="c", lines=[{"sku": "S", "qty": qty}]),
            ),
        ][kind]
        for outcome in shop.post(name, **fields):
            ledger.extend(Moved(shop.clock, len(ledger), m.to_record()) for m in outcome.movements)
        states.append(
            (
                shop.clock,
                {
                    loc: b
                    for loc, b in buckets_of(shop.state("S")).items()
                    if any(b.values()) or any(m.location_id == loc for m in ledger)
                },
            )
        )
    for at, expected in states:
        assert balances_at(ledger, at) == expected


# --- the channel book at a time ---------------------------------------------------------------


def change(name: str, event_id: str, logged_at: int, **fields) -> ChannelChange:
    record = {"event_id": event_id, "occurred_at": logged_at, **fields}
    (command,) = split(name, record, logged_at=logged_at)
    return ChannelChange(logged_at, command)


def test_the_book_at_a_time_folds_the_changes_logged_up_to_it():
    changes = [
        change("ChannelConfigured", "e1", 100, channel_id="web", location_ids=["BER", "HAM"]),
        change(
            "ChannelConfigured", "e2", 200, channel_id="mkt", location_ids=["HAM"], safety_stock=2
        ),
        change("ChannelConfigured", "e3", 300, channel_id="web", location_ids=["HAM"]),
        change("ChannelRemoved", "e4", 400, channel_id="mkt"),
    ]
    assert book_at(changes, 99) == ChannelBook()
    assert book_at(changes, 250).configured["web"].location_ids == ("BER", "HAM")
    assert book_at(changes, 300).configured["web"].location_ids == ("HAM",)
    assert set(book_at(changes, 400).configured) == {"web"}
    assert configured_at(changes, 350) == {"mkt": 200, "web": 300} and configured_at(
        changes, 400
    ) == {"web": 300}


def test_a_repeated_event_counts_once_as_the_processor_dedupes_it():
    first = change("ChannelConfigured", "e1", 100, channel_id="web", location_ids=["BER"])
    second = change("ChannelConfigured", "e2", 200, channel_id="web", location_ids=["HAM"])
    repeat = change("ChannelConfigured", "e1", 300, channel_id="web", location_ids=["BER"])
    assert book_at([first, second, repeat], 400).configured["web"].location_ids == ("HAM",)


def test_merging_the_command_log_with_the_channels_topic_keeps_each_event_once_at_the_logs_time():
    log = [change("ChannelConfigured", "e2", 205, channel_id="web", location_ids=["HAM"])]
    topic = [
        change("ChannelConfigured", "e1", 100, channel_id="web", location_ids=["BER"]),
        change("ChannelConfigured", "e2", 200, channel_id="web", location_ids=["HAM"]),
    ]
    merged = merge(log, topic)
    assert [(c.event_id, c.logged_at) for c in merged] == [("e1", 100), ("e2", 205)]
    assert book_at(merged, 202).configured["web"].location_ids == ("BER",)


@pytest.mark.parametrize(
    "at, expected", [(150, {"default": 7, "web": 7}), (250, {"default": 7, "web": 2})]
)
def test_availability_then_is_the_books_rule_on_the_buckets_then(at, expected):
    from stocksignal.domain import Position, SkuState

    changes = [
        change("ChannelConfigured", "e1", 100, channel_id="web", location_ids=["BER", "HAM"]),
        change("ChannelConfigured", "e2", 200, channel_id="web", location_ids=["HAM"]),
    ]
    state = SkuState(
        "S", positions={"BER": Position(on_hand=5), "HAM": Position(on_hand=3, reserved=1)}
    )
    assert book_at(changes, at).ats(state) == expected
