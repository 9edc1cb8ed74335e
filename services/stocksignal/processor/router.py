"""Route one input record: decode, check, split into per-SKU commands, or send it to the DLQ.

All of a SKU's commands go to one partition of the command topic (murmur2 of the SKU, the
same partitioner Faust and every producer use), packed per partition (batches.py). Channel
commands are broadcast: one copy to every partition, so each partition decides with the
configuration in its own log (design note 1). A bad record goes to the DLQ with its original key, value and headers plus the
spec's ``dlq.*`` headers, and nothing else happens for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from stocksignal.contract import Codec, CodecError, DlqReason, dlq_headers, partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.domain import (
    Command,
    OrderRef,
    ValidationError,
    needs_order,
    remember_fan_out,
    remember_order,
    split,
    validate,
)
from stocksignal.processor.batches import Batcher
from stocksignal.processor.delivery import Record, Ticket
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.orders import OrderMemory


@dataclass(frozen=True)
class InputRecord:
    topic: str  # the real topic name (with any prefix)
    base_topic: str  # the contract's name of it
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class RouterConfig:
    command_topic: str
    command_partitions: int
    dlq_topic: str
    dlq_partitions: int


class Router:
    def __init__(
        self,
        config: RouterConfig,
        codec: Codec,
        orders: OrderMemory,
        metrics: ProcessorMetrics,
    ) -> None:
        self.config = config
        self.codec = codec
        self.orders = orders
        self.metrics = metrics
        self.log_time: dict[int, int] = {}  # orders partition -> newest log time seen

    def handle_batch(self, records: Sequence[InputRecord], ticket: Ticket) -> None:
        """Route input records in order; their commands leave as one record per partition."""
        batcher = Batcher(self.config.command_partitions)
        for rec in records:
            if rec.base_topic == catalogue.ORDERS and rec.timestamp_ms > self.log_time.get(rec.partition, 0):
                self.log_time[rec.partition] = rec.timestamp_ms
            for command in self._route(rec, ticket):
                batcher.add(command)
        batcher.flush(lambda partition, payload: self._send(partition, payload, ticket))

    def _route(self, rec: InputRecord, ticket: Ticket) -> list[Command]:
        try:
            name, record = self._decode(rec)
            self.metrics.bump(self.metrics.events_in, name)
            validate(name, record)
            order = self._order(rec, name, record, ticket)
            commands = split(name, record, logged_at=rec.timestamp_ms, order=order)
            if order is not None and needs_order(name, record):
                self._remember_fan_out(rec, order, record["event_id"], ticket)
            return commands
        except CodecError as exc:
            self._dead_letter(rec, exc.dlq_reason, str(exc), ticket)
        except ValidationError as exc:
            self._dead_letter(rec, DlqReason.VALIDATION_ERROR, str(exc), ticket)
        return []

    def _decode(self, rec: InputRecord) -> tuple[str, dict]:
        if rec.value is None:
            raise _NoValue()
        name, record = self.codec.decode(rec.value)
        carried = catalogue.topic(rec.base_topic).records
        if name not in carried:
            raise ValidationError([f"record: {name} does not belong on {rec.base_topic} (it carries {', '.join(carried)})"])
        return name, record

    def _order(self, rec: InputRecord, name: str, record: Mapping, ticket: Ticket) -> OrderRef | None:
        """Remember each placed order's SKUs; look them up for events that name only the order."""
        if rec.base_topic != catalogue.ORDERS:
            return None
        known = self.orders.get(record["order_id"], rec.partition)
        if name == "OrderPlaced":
            ref = remember_order(record, known)
            if ref != known:
                self.orders.put(ref, rec.partition, rec.timestamp_ms)
            return ref
        return known if needs_order(name, record) else None

    def _remember_fan_out(self, rec: InputRecord, order: OrderRef, event_id: str, ticket: Ticket) -> None:
        """A replay of this order-level event must reach the same SKUs, even if the order
        was placed again with more SKUs in between (domain.split explains)."""
        ref = remember_fan_out(order, event_id)
        if ref is not order:
            self.orders.put(ref, rec.partition, rec.timestamp_ms)

    def _send(self, partition: int, payload: bytes, ticket: Ticket) -> None:
        ticket.add(Record(self.config.command_topic, partition, None, payload))

    def _dead_letter(self, rec: InputRecord, reason: str, error: str, ticket: Ticket) -> None:
        self.metrics.bump(self.metrics.dlq, str(reason))
        headers = dlq_headers(
            reason, error, topic=rec.topic, partition=rec.partition, offset=rec.offset, original=rec.headers
        )
        # The DLQ is keyed by the original key; a keyless record goes to partition 0.
        partition = partition_for(rec.key, self.config.dlq_partitions) if rec.key else 0
        ticket.add(Record(self.config.dlq_topic, partition, rec.key, rec.value, headers))


class _NoValue(CodecError):
    """A record without a value (a tombstone) on an input topic."""

    dlq_reason = DlqReason.DECODE_ERROR

    def __init__(self) -> None:
        super().__init__("record has no value (null/tombstone); an input event is required")
