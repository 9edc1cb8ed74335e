"""The Lua version guards in a real Redis: exact for any long, atomic, surviving SCRIPT FLUSH."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio
from adapter_harness import Deployment, availability

from stocksignal.adapters.keys import Keys
from stocksignal.adapters.marketplace.acked_store import AckedStore
from stocksignal.adapters.marketplace.coalescer import Known
from stocksignal.adapters.marketplace.payload import Update
from stocksignal.adapters.read_model import ReadModelWriter
from stocksignal.adapters.snapshot import snapshot_of

pytestmark = pytest.mark.integration
MAX_LONG = 2**63 - 1


def write(dep: Deployment, version: int, available: int):
    writer = ReadModelWriter(dep.redis(), Keys(dep.redis_prefix))
    return writer.write([snapshot_of(availability("A", version, {"default": available}))])


@pytest.mark.parametrize(
    "stored, offered, written",
    [
        (5, 6, True),
        (6, 5, False),
        (5, 5, False),
        (9, 10, True),
        (10, 9, False),
        (-2, -1, True),
        (-1, -2, False),
        (-1, 0, True),
        # Lua numbers are doubles: these differ below their precision, the guard must not care.
        (MAX_LONG - 1, MAX_LONG, True),
        (MAX_LONG, MAX_LONG - 1, False),
        (2**53, 2**53 + 1, True),
    ],
)
def test_the_read_model_takes_only_newer_versions(deployment, stored, offered, written):
    assert write(deployment, stored, 1).written == 1
    result = write(deployment, offered, 2)
    assert (result.written, result.stale) == ((1, 0) if written else (0, 1))
    assert deployment.redis().hget(f"{deployment.redis_prefix}avail:A", "version") == str(
        max(stored, offered)
    )


def test_the_writer_reloads_its_script_after_a_flush(deployment):
    write(deployment, 1, 1)
    deployment.redis().script_flush()
    assert write(deployment, 2, 2).written == 1


def test_the_acked_store_keeps_the_newest_acknowledgement(deployment):
    async def scenario():
        client = redis.asyncio.Redis.from_url(deployment.redis_url, decode_responses=True)
        store = AckedStore(client, Keys(deployment.redis_prefix), "mkt")
        try:
            first = await store.remember([Update("A", 5, MAX_LONG - 1), Update("B", 0, 3)])
            late = await store.remember([Update("A", 9, MAX_LONG - 2), Update("B", 4, 3)])
            newer = await store.remember([Update("A", 1, MAX_LONG)])
            return first, late, newer, await store.load(["A", "B", "C"])
        finally:
            await client.aclose()

    first, late, newer, loaded = asyncio.run(scenario())
    assert (first, late, newer) == (2, 0, 1)
    assert loaded == {"A": Known(1, MAX_LONG), "B": Known(0, 3), "C": None}
