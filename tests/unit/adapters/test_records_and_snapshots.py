"""AvailabilityChanged records to the read model's fields, and to one channel's value."""

import orjson

from stocksignal.adapters.marketplace.records import channel_change
from stocksignal.adapters.snapshot import availability_from_hash, snapshot_of
from stocksignal.contract.examples import example


def test_a_record_becomes_one_field_per_channel_plus_locations_and_provenance():
    record = example("AvailabilityChanged")
    snap = snapshot_of(record)
    assert (snap.sku, snap.version) == ("TSHIRT-BLK-M", 1042)
    assert snap.fields["ch:default"] == "118" and snap.fields["ch:web-de"] == "116"
    assert orjson.loads(snap.fields["locations"]) == record["locations"]
    assert snap.fields["cause_event_type"] == "OrderPlaced"


def test_the_hash_reads_back_as_what_was_written():
    record = example("AvailabilityChanged")
    snap = snapshot_of(record)
    found = availability_from_hash(snap.sku, {"version": str(snap.version), **snap.fields})
    assert found.channels == {"default": 118, "web-de": 116}
    assert found.locations == record["locations"]
    assert found.provenance["occurred_at"] == record["occurred_at"]


def test_no_hash_is_an_unknown_sku_not_a_zero():
    assert availability_from_hash("X", {}) is None


def test_one_channels_value_or_its_withdrawal():
    record = example("AvailabilityChanged")
    listed = channel_change(record, "web-de")
    assert (listed.available, listed.withdrawn, listed.version) == (116, False, 1042)
    gone = channel_change(record, "marketplace-x")
    assert (gone.available, gone.withdrawn) == (0, True)
