"""What the state table keeps per SKU, per partition and per dedupe marker, and their bytes.

Keys (all in the one state table, so all in one changelog partition, in write order):

- ``sku``                      -> :class:`Envelope` (the SKU's state + what was last applied)
- ``NUL e NUL sku NUL event``  -> :class:`Marker` (dedupe: this event was applied at that position)
- ``NUL e NUL NUL p NUL event`` -> :class:`Marker` of a channel command in partition ``p``
- ``NUL b NUL partition``      -> :class:`BookEnvelope` (the partition's channel book)
- ``NUL h NUL sku NUL slot``   -> the movements of one recent command (inspection history)
- ``NUL H NUL sku``            -> the SKU's next hold expiry (only while it has open holds), so a
  newly assigned partition indexes its holds without reading every SKU

SKUs and event ids are printable (validation), so a NUL-prefixed key never collides with a SKU,
and a SKU's envelope key is exactly the command topic's key: "who owns this SKU" is the same
question for Kafka, the inspection API and the timers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import orjson

from stocksignal.domain import ChannelBook, SkuState

MARKER_PREFIX = b"\x00e\x00"
BOOK_PREFIX = b"\x00b\x00"
HISTORY_PREFIX = b"\x00h\x00"
HOLD_PREFIX = b"\x00H\x00"


_HEAD = struct.Struct(">BqII")  # version 1
_HEAD2 = struct.Struct(">BqI")


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


def hold_key(sku: str) -> bytes:
    return HOLD_PREFIX + sku.encode()


def is_sku_key(key: bytes) -> bool:
    return not key.startswith(b"\x00")


@dataclass(slots=True)
class Envelope:
    """A SKU's state and the command-log position of the last command applied to it.

    The position lets a command record be resumed part-way: a channel change reconciles a
    partition's SKUs over several transactions, and a command record whose offset is not yet
    committed is read again after a failure; commands at or below ``applied_pos`` are skipped.
    """

    state: SkuState
    applied_pos: int = -1
    history_seq: int = 0  # commands with movements so far (slot = seq % history size)

    # Binary layout (version 2):  B version | q applied_pos | I history_seq | state JSON
    # Version 1 (the Faust runtime's) had an outbox after the state; it is read and dropped.
    def to_bytes(self) -> bytes:
        return _HEAD2.pack(2, self.applied_pos, self.history_seq) + orjson.dumps(
            self.state.to_dict()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        version = data[0]
        if version == 2:
            _, applied_pos, history_seq = _HEAD2.unpack_from(data, 0)
            return cls(
                SkuState.from_dict(orjson.loads(data[_HEAD2.size :])), applied_pos, history_seq
            )
        if version == 1:
            _, applied_pos, history_seq, n = _HEAD.unpack_from(data, 0)
            state = orjson.loads(data[_HEAD.size : _HEAD.size + n])
            return cls(SkuState.from_dict(state), applied_pos, history_seq)
        raise ValueError(f"unknown envelope version {version}")

    @staticmethod
    def applied_pos_of(data: bytes) -> int:
        """The applied position without decoding the state (a reconcile skips done SKUs)."""
        return _HEAD2.unpack_from(data, 0)[1] if data[0] == 2 else _HEAD.unpack_from(data, 0)[1]


@dataclass(slots=True)
class BookEnvelope:
    book: ChannelBook
    applied_pos: int = -1

    def to_bytes(self) -> bytes:
        return orjson.dumps({"b": self.book.to_dict(), "o": self.applied_pos})

    @classmethod
    def from_bytes(cls, data: bytes) -> BookEnvelope:
        d = orjson.loads(data)
        return cls(ChannelBook.from_dict(d["b"]), d["o"])


@dataclass(frozen=True, slots=True)
class Marker:
    logged_at: int
    pos: int

    def to_bytes(self) -> bytes:
        return b"%d,%d" % (self.logged_at, self.pos)

    @classmethod
    def from_bytes(cls, data: bytes) -> Marker:
        logged_at, pos = data.split(b",")
        return cls(int(logged_at), int(pos))
