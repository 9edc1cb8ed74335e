"""Command-topic records carry a batch of commands for one partition.

An order fans out into one command per SKU; one Kafka record per command would cost a record's
produce, fetch and per-record handling each time. So the router packs the commands of a batch
of input events, per target partition and in input order, into one record. Every command still
names its SKU and every SKU still has exactly one partition (murmur2 of the SKU), so all of a
SKU's commands stay in one partition, in order.

A command's place in the log is its *position*: the record's offset and the command's index
in the record, packed into one integer so that positions compare in log order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from stocksignal.contract import partition_for
from stocksignal.domain import (
    CatalogCommand,
    ChannelCommand,
    Command,
    OrderCommand,
    SkuCommand,
    command_to_dict,
)

INDEX_BITS = 20
MAX_COMMANDS = 500  # per record: keeps records small and a replay's unit of work short


def position(offset: int, index: int) -> int:
    return (offset << INDEX_BITS) | index


def offset_of(pos: int) -> int:
    return pos >> INDEX_BITS


def decode(payload: bytes) -> list[dict[str, Any]]:
    return orjson.loads(payload)


class Batcher:
    """Collects commands per partition; ``flush`` hands out one payload per partition."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._by_partition: dict[int, list[dict[str, Any]]] = {}
        self._partition_of: dict[str, int] = {}  # murmur2 in Python costs microseconds; SKUs repeat

    def add(self, command: Command) -> None:
        d = command_to_dict(command)
        if isinstance(command, ChannelCommand):
            # Broadcast: each partition decides with the configuration in its own log.
            for each in range(self.partitions):
                self._by_partition.setdefault(each, []).append(d)
        elif isinstance(command, OrderCommand):  # the order's saga owns it (sagas.py)
            owner = partition_for(command.order_id, self.partitions)
            self._by_partition.setdefault(owner, []).append(d)
        elif isinstance(command, CatalogCommand):
            # The bundle's own partition decides it first, then tells the others (bundles.py).
            owner = partition_for(command.bundle_sku, self.partitions)
            self._by_partition.setdefault(owner, []).append(d)
        else:
            assert isinstance(command, SkuCommand)  # a command is for a channel or for a SKU
            p: int | None = self._partition_of.get(command.sku)
            if p is None:
                if len(self._partition_of) >= 200_000:
                    self._partition_of.clear()
                p = self._partition_of[command.sku] = partition_for(command.sku, self.partitions)
            self._by_partition.setdefault(p, []).append(d)

    def flush(self, send: Callable[[int, bytes], None]) -> None:
        for p, commands in sorted(self._by_partition.items()):
            for i in range(0, len(commands), MAX_COMMANDS):
                send(p, orjson.dumps(commands[i : i + MAX_COMMANDS]))
        self._by_partition.clear()
