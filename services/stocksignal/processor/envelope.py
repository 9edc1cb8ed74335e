"""What the state table keeps per SKU, per partition and per dedupe marker, and their bytes.

Keys (all in the one state table, so all in one changelog partition, in write order):

- ``sku``                      -> :class:`Envelope` (the SKU's state + what was last applied)
- ``NUL e NUL sku NUL event``  -> :class:`Marker` (dedupe: this event was applied at that position)
- ``NUL e NUL NUL p NUL event`` -> :class:`Marker` of a channel command in partition ``p``
- ``NUL b NUL partition``      -> :class:`BookEnvelope` (the partition's channel book)
- ``NUL h NUL sku NUL slot``   -> the movements of one recent command (inspection history)

SKUs and event ids are printable (validation), so a NUL-prefixed key never collides with a SKU,
and a SKU's envelope key is exactly the command topic's key: "who owns this SKU" is the same
question for Kafka, Faust's table routing and the timers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import orjson

from stocksignal.domain import ChannelBook, SkuState
from stocksignal.processor.publisher import Encoded

MARKER_PREFIX = b"\x00e\x00"
BOOK_PREFIX = b"\x00b\x00"
HISTORY_PREFIX = b"\x00h\x00"


_HEAD = struct.Struct(">BqII")
_COUNT = struct.Struct(">H")
_ENTRY = struct.Struct(">qH")
_REC = struct.Struct(">BqqH")
_LEN = struct.Struct(">I")


def sku_key(sku: str) -> bytes:
    return sku.encode()


def marker_key(dedupe_key: str) -> bytes:
    return MARKER_PREFIX + dedupe_key.encode()


def channel_marker_key(partition: int, dedupe_key: str) -> bytes:
    """A broadcast channel command has one marker per partition: the partition is in the key,
    so stores that keep all partitions in one map (the memory store) keep them apart too."""
    return MARKER_PREFIX + b"\x00" + str(partition).encode() + dedupe_key.encode()


def book_key(partition: int) -> bytes:
    return BOOK_PREFIX + str(partition).encode()


def history_key(sku: str, slot: int) -> bytes:
    return HISTORY_PREFIX + sku.encode() + b"\x00" + str(slot).encode()


def is_sku_key(key: bytes) -> bool:
    return not key.startswith(b"\x00")


@dataclass(slots=True)
class OutboxEntry:
    """The encoded output records of one applied command, kept until surely delivered."""

    pos: int
    records: list[Encoded]


@dataclass(slots=True)
class Envelope:
    state: SkuState
    applied_pos: int = -1  # command-log position of the last command applied to this SKU
    outbox: list[OutboxEntry] = field(default_factory=list)
    history_seq: int = 0  # commands with movements so far (slot = seq % history size)

    def entry(self, pos: int) -> OutboxEntry | None:
        for e in self.outbox:
            if e.pos == pos:
                return e
        return None

    # Binary layout (version 1):
    #   B version | q applied_pos | I history_seq | I len | state JSON | H entries
    #   entry:  q pos | H records
    #   record: B kind | q version | q occurred_at | H len | key | I len | Avro value
    def to_bytes(self) -> bytes:
        state = orjson.dumps(self.state.to_dict())
        parts = [_HEAD.pack(1, self.applied_pos, self.history_seq, len(state)), state, _COUNT.pack(len(self.outbox))]
        for e in self.outbox:
            parts.append(_ENTRY.pack(e.pos, len(e.records)))
            for r in e.records:
                parts.append(_REC.pack(r.kind, r.version, r.occurred_at, len(r.key)))
                parts.append(r.key)
                parts.append(_LEN.pack(len(r.value)))
                parts.append(r.value)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Envelope":
        version, applied_pos, history_seq, n = _HEAD.unpack_from(data, 0)
        if version != 1:
            raise ValueError(f"unknown envelope version {version}")
        at = _HEAD.size
        state = SkuState.from_dict(orjson.loads(data[at : at + n]))
        at += n
        (entries,) = _COUNT.unpack_from(data, at)
        at += _COUNT.size
        outbox = []
        for _ in range(entries):
            pos, count = _ENTRY.unpack_from(data, at)
            at += _ENTRY.size
            records = []
            for _ in range(count):
                kind, rversion, occurred_at, klen = _REC.unpack_from(data, at)
                at += _REC.size
                key = data[at : at + klen]
                at += klen
                (vlen,) = _LEN.unpack_from(data, at)
                at += _LEN.size
                records.append(Encoded(kind, key, data[at : at + vlen], rversion, occurred_at))
                at += vlen
            outbox.append(OutboxEntry(pos, records))
        return cls(state, applied_pos, outbox, history_seq)


@dataclass(slots=True)
class BookEnvelope:
    book: ChannelBook
    applied_pos: int = -1

    def to_bytes(self) -> bytes:
        return orjson.dumps({"b": self.book.to_dict(), "o": self.applied_pos})

    @classmethod
    def from_bytes(cls, data: bytes) -> "BookEnvelope":
        d = orjson.loads(data)
        return cls(ChannelBook.from_dict(d["b"]), d["o"])


@dataclass(frozen=True, slots=True)
class Marker:
    logged_at: int
    pos: int

    def to_bytes(self) -> bytes:
        return b"%d,%d" % (self.logged_at, self.pos)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Marker":
        logged_at, pos = data.split(b",")
        return cls(int(logged_at), int(pos))
