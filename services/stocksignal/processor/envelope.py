"""What the state table keeps per SKU, per partition and per dedupe marker, and their bytes.

Keys (all in the one state table, so all in one changelog partition, in write order):

- ``sku``                      -> :class:`Envelope` (the SKU's state + what was last applied)
- ``NUL e NUL sku NUL event``  -> :class:`Marker` (dedupe: this event was applied at that position)
- ``NUL b NUL partition``      -> :class:`BookEnvelope` (the partition's channel book)
- ``NUL h NUL sku NUL slot``   -> the movements of one recent command (inspection history)

SKUs and event ids are printable (validation), so a NUL-prefixed key never collides with a SKU,
and a SKU's envelope key is exactly the command topic's key: "who owns this SKU" is the same
question for Kafka, Faust's table routing and the timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from stocksignal.domain import ChannelBook, SkuState

MARKER_PREFIX = b"\x00e\x00"
BOOK_PREFIX = b"\x00b\x00"
HISTORY_PREFIX = b"\x00h\x00"


def sku_key(sku: str) -> bytes:
    return sku.encode()


def marker_key(dedupe_key: str) -> bytes:
    return MARKER_PREFIX + dedupe_key.encode()


def book_key(partition: int) -> bytes:
    return BOOK_PREFIX + str(partition).encode()


def history_key(sku: str, slot: int) -> bytes:
    return HISTORY_PREFIX + sku.encode() + b"\x00" + str(slot).encode()


def is_sku_key(key: bytes) -> bool:
    return not key.startswith(b"\x00")


@dataclass(slots=True)
class OutboxEntry:
    """The output records of one applied command, kept until they are surely delivered."""

    pos: int
    records: list[list[Any]]  # [record_name, record dict]

    def to_list(self) -> list[Any]:
        return [self.pos, self.records]


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

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "s": self.state.to_dict(),
                "o": self.applied_pos,
                "q": [e.to_list() for e in self.outbox],
                "h": self.history_seq,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> "Envelope":
        d = orjson.loads(data)
        return cls(
            SkuState.from_dict(d["s"]),
            d["o"],
            [OutboxEntry(o, r) for o, r in d["q"]],
            d.get("h", 0),
        )


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
