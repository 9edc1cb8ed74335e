"""The projector stores each channel's stock level beside its available, with the thresholds of
the channels topic (read to its end before the first snapshot, then followed)."""

from __future__ import annotations

import pytest
from adapter_harness import wait_until
from projector_harness import InProcessProjector, ready

from stocksignal import bootstrap
from stocksignal.contract import make_codec
from stocksignal.contract.topics import CHANNELS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _configure(dep, channel_id: str, threshold: int, n: int) -> None:
    record = {
        "event_id": f"ch-{n}",
        "occurred_at": n,
        "source": "test",
        "channel_id": channel_id,
        "location_ids": ["WH-1"],
        "low_stock_threshold": threshold,
    }
    producer = bootstrap.make_producer(dep.settings())
    producer.produce(
        f"{dep.prefix}.{CHANNELS}",
        make_codec("").encode("ChannelConfigured", record),
        channel_id.encode(),
    )
    assert producer.flush(10) == 0


def test_levels_follow_the_channel_thresholds(deployment, create_topic):
    dep = deployment
    create_topic(f"{dep.prefix}.{CHANNELS}", 1, {"cleanup.policy": "compact"})
    _configure(dep, "web", 5, 1)  # configured before the projector starts
    client = dep.redis()
    key = f"{dep.redis_prefix}avail:SKU-1"
    with InProcessProjector(dep.settings()):
        wait_until(
            lambda: ready(client, dep.redis_prefix), 30, "the projector to claim the read model"
        )
        dep.producer.send("SKU-1", 1, {"default": 10, "web": 3})
        dep.producer.send("SKU-2", 1, {"default": 0, "web": 0})
        dep.producer.flush()
        wait_until(lambda: client.hget(key, "version") == "1", 30, "SKU-1 projected")
        assert (client.hget(key, "lv:web"), client.hget(key, "lv:default")) == (
            "LOW_STOCK",
            "IN_STOCK",
        )
        wait_until(
            lambda: client.hget(f"{dep.redis_prefix}avail:SKU-2", "version") == "1",
            30,
            "SKU-2 projected",
        )
        assert client.hget(f"{dep.redis_prefix}avail:SKU-2", "lv:web") == "OUT_OF_STOCK"

        _configure(dep, "web", 0, 2)  # followed while running

        def relevelled() -> bool:
            dep.producer.send(
                "SKU-1", int(client.hget(key, "version")) + 1, {"default": 10, "web": 3}
            )
            dep.producer.flush()
            return client.hget(key, "lv:web") == "IN_STOCK"

        wait_until(relevelled, 30, "the new threshold applied to the next snapshot", interval=0.5)
