"""Route one input record: decode, check, split into per-SKU commands, or send it to the DLQ.

All of a SKU's commands go to one partition of the command topic (murmur2 of the SKU, the
partitioner every producer and the inspection API use), packed per partition (batches.py).
Channel commands are broadcast: one copy to every partition, so each partition decides with
the configuration in its own log (docs/processor.md, "Stages"). A bad record goes to the DLQ
with its original key, value and headers plus the ``dlq.*`` headers of docs/contract.md, and
nothing else happens for it.

Everything the router writes (commands, DLQ copies, order memory) goes into the worker's open
transaction, together with the input offset: a record is routed exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stocksignal.contract import Codec, CodecError, DlqReason, dlq_headers, partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.domain import (
    OrderRef,
    ValidationError,
    needs_order,
    remember_fan_out,
    remember_order,
    split,
    validate,
)
from stocksignal.processor.batches import Batcher
from stocksignal.processor.bundles import CATALOG_RECORDS, with_origin
from stocksignal.processor.dlq_log import DeadLetterLog
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.orders import OrderMemory

Send = Callable[[str, int, bytes | None, bytes | None, list | None], None]


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
        metrics: ProcessorMetrics,
        key_error: Callable[[str, str, Mapping, bytes | None], str | None] | None = None,
        dead_letter_log: DeadLetterLog | None = None,
    ) -> None:
        self.config = config
        self.dead_letter_log = dead_letter_log or DeadLetterLog()
        self.codec = codec
        self.metrics = metrics
        self._key_error = key_error
        self._carried = {t.name: t.records for t in catalogue.list_topics(catalogue.Role.INPUT)}
        self.sagas = None  # sagas.install: orders decided whole (docs/processor.md)

    def route(
        self, msg, base_topic: str, orders: OrderMemory | None, batcher: Batcher, send: Send
    ) -> int:
        """Route one record; its commands join ``batcher``. Returns the record's log time."""
        logged_at = msg.timestamp()[1]
        try:
            name, record = self._decode(msg, base_topic)
            self.metrics.bump(self.metrics.events_in, name)
            validate(name, record)
            if self._key_error is not None:
                problem = self._key_error(base_topic, name, record, msg.key())
                if problem is not None:
                    raise ValidationError([problem])
            order = self._order(orders, name, record, logged_at)
            commands = split(name, record, logged_at=logged_at, order=order)
            if name in CATALOG_RECORDS:  # a refusal's DLQ copy is the input record itself
                with_origin(commands, msg)
            elif self.sagas is not None and base_topic == catalogue.ORDERS:
                commands = self.sagas.route(name, record, commands, orders, logged_at)
            if orders is not None and order is not None and needs_order(name, record):
                self._remember_fan_out(orders, order, record["event_id"], logged_at)
            for command in commands:
                batcher.add(command)
        except CodecError as exc:
            self._dead_letter(msg, base_topic, exc.dlq_reason, str(exc), send)
        except ValidationError as exc:
            self._dead_letter(msg, base_topic, DlqReason.VALIDATION_ERROR, str(exc), send)
        return logged_at

    def _decode(self, msg, base_topic: str) -> tuple[str, dict]:
        value = msg.value()
        if value is None:
            raise _NoValue()
        name, record = self.codec.decode(value)
        carried = self._carried[base_topic]
        if name not in carried:
            raise ValidationError(
                [
                    f"record: {name} does not belong on {base_topic} (it carries {', '.join(carried)})"
                ]
            )
        return name, record

    @staticmethod
    def _order(
        orders: OrderMemory | None, name: str, record: Mapping, logged_at: int
    ) -> OrderRef | None:
        """Remember each placed order's SKUs; look them up for events that name only the order."""
        if orders is None:
            return None
        known = orders.get(record["order_id"])
        if name == "OrderPlaced":
            ref = remember_order(record, known)
            if ref != known:
                orders.put(ref, logged_at)
            return ref
        return known if needs_order(name, record) else None

    @staticmethod
    def _remember_fan_out(
        orders: OrderMemory, order: OrderRef, event_id: str, logged_at: int
    ) -> None:
        """A replay of this order-level event must reach the same SKUs, even if the order
        was placed again with more SKUs in between (domain.split explains)."""
        ref = remember_fan_out(order, event_id)
        if ref is not order:
            orders.put(ref, logged_at)

    def flush(self, batcher: Batcher, send: Send) -> None:
        """Send the batched commands: one record per command partition (at most 500 commands)."""
        topic = self.config.command_topic
        batcher.flush(lambda partition, payload: send(topic, partition, None, payload, None))

    def _dead_letter(self, msg, base_topic: str, reason: str, error: str, send: Send) -> None:
        self.metrics.dead_lettered(str(reason), base_topic)
        headers = dlq_headers(
            reason,
            error,
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            original=msg.headers() or (),
        )
        key = msg.key()
        self.dead_letter_log.dead_lettered(
            str(reason), msg.topic(), msg.partition(), msg.offset(), key, error
        )
        # The DLQ is keyed by the original key; a keyless record goes to partition 0.
        partition = partition_for(key, self.config.dlq_partitions) if key else 0
        send(self.config.dlq_topic, partition, key, msg.value(), headers)


class _NoValue(CodecError):
    """A record without a value (a tombstone) on an input topic."""

    dlq_reason = DlqReason.DECODE_ERROR

    def __init__(self) -> None:
        super().__init__("record has no value (null/tombstone); an input event is required")
