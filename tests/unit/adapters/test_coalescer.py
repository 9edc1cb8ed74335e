"""Coalescing, priority and the life of a change, with the offsets it holds back."""

import pytest

from stocksignal.adapters.marketplace.coalescer import Coalescer, Known, is_zero_crossing
from stocksignal.adapters.marketplace.offsets import OffsetTracker

LINGER = 0.2


def offer(
    c: Coalescer, sku, available, version, offset, acked=None, now=0.0, withdrawn=False, partition=0
):
    return c.offer(sku, available, version, withdrawn, (partition, offset), acked, now)


def skus(changes):
    return [(ch.sku, ch.available) for ch in changes]


def test_only_the_newest_value_per_sku_is_pushed_and_stands_for_every_record():
    c = Coalescer(batch_size=10, linger_s=LINGER)
    assert offer(c, "A", 3, 1, offset=0) == []
    assert offer(c, "A", 4, 2, offset=1) == []
    assert offer(c, "A", 9, 1, offset=2) == [(0, 2)], "older than what waits: resolved at once"
    assert offer(c, "A", 4, 2, offset=3) == [(0, 3)], "a repeat: resolved at once"
    taken = c.take(now=1.0)
    assert skus(taken.batch) == [("A", 4)]
    assert sorted(c.complete(taken.batch)) == [(0, 0), (0, 1)]


def test_a_record_older_than_the_acknowledged_value_is_resolved_at_once():
    c = Coalescer(10, LINGER)
    assert offer(c, "A", 1, 5, offset=9, acked=Known(2, 6)) == [(0, 9)]
    assert c.waiting == 0


def test_changes_to_and_from_zero_go_first_and_do_not_linger():
    c = Coalescer(batch_size=10, linger_s=LINGER)
    offer(c, "ordinary-1", 5, 2, 0, acked=Known(4, 1))
    offer(c, "ordinary-2", 6, 2, 1, acked=Known(4, 1))
    offer(c, "to-zero", 0, 2, 2, acked=Known(4, 1))
    offer(c, "from-zero", 3, 2, 3, acked=Known(0, 1))
    assert c.ready_in(now=0.0) == 0.0, "a zero-crossing is due at once"
    assert skus(c.take(now=0.0).batch) == [
        ("to-zero", 0),
        ("from-zero", 3),
        ("ordinary-1", 5),
        ("ordinary-2", 6),
    ]


def test_ordinary_changes_linger_unless_a_batch_is_full():
    c = Coalescer(batch_size=2, linger_s=LINGER)
    offer(c, "A", 5, 2, 0, acked=Known(4, 1), now=10.0)
    assert c.ready_in(now=10.05) == pytest.approx(LINGER - 0.05)
    assert c.take(now=10.05).batch == []
    offer(c, "B", 5, 2, 1, acked=Known(4, 1), now=10.06)
    assert c.ready_in(now=10.06) == 0.0, "a full batch goes at once"
    assert skus(c.take(now=10.06).batch) == [("A", 5), ("B", 5)]
    assert c.ready_in(now=11) is None


def test_a_sku_is_in_one_request_at_a_time_and_the_next_change_compares_with_it():
    c = Coalescer(10, LINGER)
    offer(c, "A", 0, 2, 0, acked=Known(10, 1))
    first = c.take(now=0.0).batch
    assert skus(first) == [("A", 0)]
    # While 0 is in flight, the value goes back to 10: equal to the *acknowledged* value, but
    # not to what the marketplace will show once 0 lands, so it must be pushed.
    offer(c, "A", 10, 3, 1)
    assert c.take(now=5.0).batch == [], "A waits for its request in flight"
    c.complete(first)
    second = c.take(now=5.0)
    assert skus(second.batch) == [("A", 10)] and second.batch[0].priority


def test_a_value_equal_to_the_marketplaces_is_resolved_without_a_push():
    c = Coalescer(10, LINGER)
    offer(c, "A", 4, 2, 0, acked=Known(4, 1))
    taken = c.take(now=1.0)
    assert taken.batch == [] and skus(taken.unchanged) == [("A", 4)]


def test_a_removed_channel_withdraws_a_pushed_value_and_ignores_a_never_pushed_one():
    c = Coalescer(10, LINGER)
    offer(c, "pushed", 0, 2, 0, acked=Known(5, 1), withdrawn=True)
    offer(c, "never", 0, 2, 1, acked=None, withdrawn=True)
    taken = c.take(now=0.0)
    assert skus(taken.batch) == [("pushed", 0)] and taken.batch[0].priority
    assert skus(taken.unchanged) == [("never", 0)]


def test_a_failed_batch_comes_back_merged_with_newer_values_in_its_old_place():
    c = Coalescer(10, LINGER)
    offer(c, "A", 5, 2, 0, acked=Known(4, 1), now=0.0)
    offer(c, "B", 5, 2, 1, acked=Known(4, 1), now=0.0)
    batch = c.take(now=1.0).batch
    offer(c, "C", 5, 2, 2, acked=Known(4, 1), now=1.0)
    offer(c, "A", 6, 3, 3, now=1.0)  # newer A while the batch is in flight
    c.release(batch)
    retry = c.take(now=5.0).batch
    assert skus(retry) == [("A", 6), ("B", 5), ("C", 5)], "A and B keep their place before C"
    assert [ch.attempts for ch in retry] == [1, 1, 0]
    assert sorted(c.complete(retry)) == [(0, 0), (0, 1), (0, 2), (0, 3)]


def test_after_a_dead_letter_the_next_change_compares_with_what_was_there_before():
    c = Coalescer(10, LINGER)
    offer(c, "A", 7, 2, 0, acked=Known(4, 1))
    refused = c.take(now=1.0).batch
    offer(c, "A", 4, 3, 1)  # equal to the acknowledged 4, not to the refused 7
    assert c.dead(refused) == [(0, 0)]
    taken = c.take(now=5.0)
    assert taken.batch == [] and skus(taken.unchanged) == [("A", 4)]


def test_revoked_partitions_are_dropped():
    c = Coalescer(10, LINGER)
    offer(c, "A", 1, 1, 0, partition=0)
    offer(c, "B", 1, 1, 0, partition=1)
    c.drop_partitions({0})
    assert skus(c.take(now=5.0).batch) == [("B", 1)]


def test_offsets_of_coalesced_records_wait_for_the_change_that_replaced_them():
    c, tracker = Coalescer(10, LINGER), OffsetTracker()
    for offset, (sku, available, version) in enumerate([("A", 1, 1), ("B", 1, 1), ("A", 2, 2)]):
        tracker.seen(0, offset)
        tracker.resolve(offer(c, sku, available, version, offset))
    batch = c.take(now=1.0).batch
    a = [ch for ch in batch if ch.sku == "A"]
    b = [ch for ch in batch if ch.sku == "B"]
    tracker.resolve(c.complete(b))
    assert tracker.committable() == {0: 0}, "offset 0 (A v1) waits for A v2"
    tracker.resolve(c.complete(a))
    assert tracker.committable() == {0: 3}


def test_zero_crossing_rule():
    assert is_zero_crossing(Known(5, 1), 0)
    assert is_zero_crossing(Known(0, 1), 2)
    assert not is_zero_crossing(Known(5, 1), 3)
    assert not is_zero_crossing(Known(0, 1), 0)
    assert is_zero_crossing(None, 0), "nothing known: a 0 may stop an oversell"
    assert not is_zero_crossing(None, 3)
    assert not is_zero_crossing(None, 0, withdrawn=True)
