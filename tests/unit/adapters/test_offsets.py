"""The commit position: the lowest offset not yet resolved."""

from stocksignal.adapters.marketplace.offsets import OffsetTracker


def test_nothing_resolved_commits_nothing_past_the_first_record():
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.seen(0, offset)
    assert tracker.committable() == {0: 10}
    assert tracker.unresolved() == 3


def test_a_gap_holds_the_commit_back_until_it_resolves():
    tracker = OffsetTracker()
    for offset in range(5):
        tracker.seen(0, offset)
    tracker.resolve([(0, 0), (0, 2), (0, 3), (0, 4)])
    assert tracker.committable() == {0: 1}
    tracker.resolve([(0, 1)])
    assert tracker.committable() == {0: 5}
    assert tracker.unresolved() == 0


def test_partitions_are_independent_and_forgotten_on_revoke():
    tracker = OffsetTracker()
    tracker.seen(0, 0)
    tracker.seen(1, 7)
    tracker.resolve([(1, 7)])
    assert tracker.committable() == {0: 0, 1: 8}
    tracker.forget([0])
    tracker.resolve([(0, 0)])  # a late resolution of a revoked partition is ignored
    assert tracker.committable() == {1: 8}
