"""JSON lines -> input events: the pure part of ``stocksignal produce`` (no Kafka here).

One event per line, a JSON object whose ``type`` is the record name and whose other members
are the record's fields::

    {"type": "StockReceived", "sku": "MUG-BLUE", "location_id": "WH-BER", "qty": 10}
    {"type": "OrderPlaced", "order_id": "W-1", "channel_id": "webshop",
     "lines": [{"sku": "MUG-BLUE", "qty": 2}], "hold_expires_at": "+15m"}

- Blank lines and lines starting with ``#`` are skipped.
- ``event_id``, ``occurred_at`` and ``source`` are filled in when absent (a random UUID, the
  time the command started, and ``--source``); :attr:`Event.filled` says which were.
- Timestamp fields (``occurred_at``, ``hold_expires_at``, ``expected_at``) take epoch
  milliseconds, an ISO 8601 time with a UTC offset (``2025-06-01T09:30:00+02:00``, ``...Z``),
  ``"now"``, or an offset from now: ``"+15m"``, ``"-2h"``, ``"+30s"``, ``"+1d"``.
- Lines are UTF-8 (:func:`decode_line`): a line that is not is a :class:`BadLine`; a byte
  order mark at the start of a line is ignored and reported.
- Every line is checked with the domain's ``validate`` (docs/semantics.md#validation) and then by the
  codec, which refuses unknown fields and wrong types; a bad line is a :class:`BadLine` with
  its number and every reason, never an exception.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from stocksignal.contract import topics as catalogue
from stocksignal.contract.errors import CodecError
from stocksignal.domain import ValidationError, validate
from stocksignal.times import parse_timestamp  # noqa: F401  (part of this module's API)

#: record name -> contract topic (without prefix), for every input record.
INPUT_RECORDS: dict[str, str] = {
    r: t.name for t in catalogue.list_topics(catalogue.Role.INPUT) for r in t.records
}
OUTPUT_RECORDS: frozenset[str] = frozenset(
    r for t in catalogue.list_topics(catalogue.Role.OUTPUT) for r in t.records
)
#: fields of input records that are Avro timestamp-millis (a test checks this against the schemas).
TIMESTAMP_FIELDS: frozenset[str] = frozenset({"occurred_at", "hold_expires_at", "expected_at"})
DEFAULT_SOURCE = "stocksignal-cli"
FILLABLE = ("event_id", "occurred_at", "source")


@dataclass(frozen=True)
class Event:
    """A good line: a validated input event and where it goes."""

    line: int
    record_name: str
    record: dict[str, Any]
    filled: tuple[str, ...] = ()

    @property
    def topic(self) -> str:
        """The contract's topic (without STOCKSIGNAL_TOPIC_PREFIX)."""
        return INPUT_RECORDS[self.record_name]

    @property
    def key(self) -> str:
        return catalogue.key_for(self.topic, self.record_name, self.record)


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Defaults:
    """What fills absent common fields; ``now_ms`` is also the base of relative times."""

    now_ms: int
    source: str | None = DEFAULT_SOURCE
    new_event_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))


BOM = b"\xef\xbb\xbf"


def decode_line(raw: bytes, number: int) -> tuple[str, BadLine | None] | BadLine:
    """(text, note) of a line read as bytes, or a :class:`BadLine` when it is not UTF-8.

    A UTF-8 byte order mark (editors on Windows write one) is not part of the JSON: it is
    dropped, and the note says so, so the line is still produced.
    """
    note = None
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
        note = BadLine(
            number, "a UTF-8 byte order mark (EF BB BF) was ignored; save the file without it"
        )
    try:
        return raw.decode("utf-8"), note
    except UnicodeDecodeError as exc:
        return BadLine(
            number,
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}; "
            "save the file as UTF-8",
        )


def parse_line(text: str, number: int, defaults: Defaults) -> Event | BadLine | None:
    """One line -> an :class:`Event`, a :class:`BadLine`, or None for a blank or comment line."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    try:
        obj = json.loads(stripped)
    except json.JSONDecodeError as exc:
        return BadLine(number, f"not JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(obj, dict):
        return BadLine(number, f"expected a JSON object, got {type(obj).__name__}")
    record_name = obj.pop("type", None)
    if record_name is None:
        return BadLine(number, 'no "type": name the input event, e.g. "type": "OrderPlaced"')
    if not isinstance(record_name, str) or record_name not in INPUT_RECORDS:
        if record_name in OUTPUT_RECORDS:
            return BadLine(
                number, f"{record_name} is an output of the processor, not an input event"
            )
        return BadLine(
            number,
            f"unknown type {record_name!r}; input events are: {', '.join(sorted(INPUT_RECORDS))}",
        )
    filled = []
    if "event_id" not in obj:
        obj["event_id"] = defaults.new_event_id()
        filled.append("event_id")
    if "occurred_at" not in obj:
        obj["occurred_at"] = defaults.now_ms
        filled.append("occurred_at")
    if "source" not in obj and defaults.source is not None:
        obj["source"] = defaults.source
        filled.append("source")
    problems = []
    for name in TIMESTAMP_FIELDS & obj.keys():
        if obj[name] is None:
            continue
        try:
            obj[name] = parse_timestamp(obj[name], defaults.now_ms)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        return BadLine(number, f"{record_name}: " + "; ".join(problems))
    try:
        validate(record_name, obj)
    except ValidationError as exc:
        return BadLine(number, f"{record_name}: " + "; ".join(exc.problems))
    return Event(number, record_name, obj, tuple(filled))


def parse_lines(lines: Iterable[str], defaults: Defaults) -> Iterator[Event | BadLine]:
    """Every line, numbered from 1; blank and comment lines are skipped."""
    for number, text in enumerate(lines, start=1):
        parsed = parse_line(text, number, defaults)
        if parsed is not None:
            yield parsed


def encode(event: Event, codec: Any) -> bytes | BadLine:
    """The Avro frame of ``event``, or a :class:`BadLine` saying why the codec refuses it
    (an unknown field, a wrong type: things the domain's rules do not look at)."""
    try:
        return codec.encode(event.record_name, event.record)
    except CodecError as exc:
        return BadLine(event.line, str(exc))
