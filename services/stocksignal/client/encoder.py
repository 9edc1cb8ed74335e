"""An input event -> its topic, key and framed bytes, checked by the processor's own rules.

No Kafka here: :class:`EventEncoder` is what :class:`~stocksignal.client.EventProducer` sends
with, and what a dry run (``stocksignal produce --dry-run``) checks with. The steps, in the
order the processor would judge the record (docs/contract.md#rules-of-an-input-record):

1. the record must be an input event (an output of the processor is refused);
2. ``event_id`` (a random UUID), ``occurred_at`` (now) and ``source`` are filled when absent;
3. the domain's ``validate`` (the router's rules: quantities, ids, lines, statuses);
4. topic and key from the contract's catalogue (the key is the record's key field);
5. the codec (single-object or Schema Registry framing), which refuses unknown fields and
   wrong types.

>>> from stocksignal.client import EventEncoder, StockReceived
>>> from stocksignal.contract import make_codec
>>> encoder = EventEncoder(make_codec(""), source="wms", new_event_id=lambda: "e-1", clock=lambda: 1.5)
>>> ready = encoder.prepare(StockReceived(sku="MUG", location_id="WH-BER", qty=3))
>>> ready.topic, ready.key, ready.filled
('inventory.stock.v1', 'MUG', ('event_id', 'occurred_at', 'source'))
>>> ready.record["event_id"], ready.record["occurred_at"], ready.value[:2]
('e-1', 1500, b'\\xc3\\x01')
>>> encoder.prepare(StockReceived(sku="MUG", location_id="WH-BER", qty=0))
Traceback (most recent call last):
...
stocksignal.client.errors.InvalidEvent: StockReceived: qty: 0 is not in 1..1000000
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stocksignal.client.errors import InvalidEvent
from stocksignal.client.events import TIMESTAMP_FIELDS, InputEvent, epoch_ms
from stocksignal.contract import topics as catalogue
from stocksignal.contract.errors import CodecError
from stocksignal.domain import ValidationError, validate

#: record name -> contract topic (without prefix), for every input record.
INPUT_RECORDS: dict[str, str] = {
    r: t.name for t in catalogue.list_topics(catalogue.Role.INPUT) for r in t.records
}
OUTPUT_RECORDS: frozenset[str] = frozenset(
    r for t in catalogue.list_topics(catalogue.Role.OUTPUT) for r in t.records
)


@dataclass(frozen=True)
class Prepared:
    """An event ready to send: validated, encoded, with its topic and key."""

    record_name: str
    record: dict[str, Any]
    base_topic: str  # the contract's name
    topic: str  # with STOCKSIGNAL_TOPIC_PREFIX
    key: str
    value: bytes
    filled: tuple[str, ...]  # which common fields were filled in

    @property
    def event_id(self) -> str:
        return self.record["event_id"]


class EventEncoder:
    def __init__(
        self,
        codec: Any,
        *,
        topic_prefix: str = "",
        source: str | None = None,
        clock: Callable[[], float] = time.time,
        new_event_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.codec = codec
        self.topic_prefix = topic_prefix
        self.source = source
        self.clock = clock
        self.new_event_id = new_event_id

    def prepare(self, event: InputEvent | str, record: Mapping[str, Any] | None = None) -> Prepared:
        """``prepare(OrderPlaced(...))`` or ``prepare("OrderPlaced", {...})``; raises
        :class:`InvalidEvent` naming every problem."""
        record_name, fields = _split(event, record)
        base_topic = _input_topic(record_name)
        fields, filled = self._fill(fields)
        for name in TIMESTAMP_FIELDS & fields.keys():
            fields[name] = epoch_ms(name, fields[name])
        try:
            validate(record_name, fields)
        except ValidationError as exc:
            raise InvalidEvent(
                f"{record_name}: " + "; ".join(exc.problems),
                record_name=record_name,
                problems=exc.problems,
            ) from None
        key = catalogue.key_for(base_topic, record_name, fields)
        try:
            value = self.codec.encode(record_name, fields)
        except CodecError as exc:  # an unknown field, a wrong type: what the rules do not look at
            raise InvalidEvent(str(exc), record_name=record_name) from None
        return Prepared(
            record_name, fields, base_topic, self.topic_prefix + base_topic, key, value, filled
        )

    def _fill(self, fields: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        filled = []
        if "event_id" not in fields:
            fields["event_id"] = self.new_event_id()
            filled.append("event_id")
        if "occurred_at" not in fields:
            fields["occurred_at"] = int(self.clock() * 1000)
            filled.append("occurred_at")
        if "source" not in fields and self.source is not None:
            fields["source"] = self.source
            filled.append("source")
        return fields, tuple(filled)


def _split(event: InputEvent | str, record: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    if isinstance(event, InputEvent):
        if record is not None:
            raise TypeError("give an event object, or a record name and its fields, not both")
        return event.record_name, event.to_record()
    if not isinstance(event, str):
        raise InvalidEvent(
            f"expected an input event (OrderPlaced(...), ...) or a record name, "
            f"got {type(event).__name__}"
        )
    if not isinstance(record, Mapping):
        raise InvalidEvent(
            f"{event}: expected the record's fields as a mapping, got {type(record).__name__}",
            record_name=event,
        )
    return event, dict(record)


def _input_topic(record_name: str) -> str:
    topic = INPUT_RECORDS.get(record_name)
    if topic is not None:
        return topic
    if record_name in OUTPUT_RECORDS:
        raise InvalidEvent(
            f"{record_name} is an output of the processor, not an input event: only the "
            "processor writes it (docs/architecture.md)",
            record_name=record_name,
        )
    raise InvalidEvent(
        f"unknown input event {record_name!r}; input events are: {', '.join(sorted(INPUT_RECORDS))}",
        record_name=record_name,
    )
