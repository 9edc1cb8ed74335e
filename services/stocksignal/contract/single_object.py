"""Avro single-object encoding, the default framing (docs/contract.md#framing).

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema | Avro body

The fingerprint both names the record type and pins the exact writer schema; archived
fingerprints (``schemas/history/``) are read and resolved to the current schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stocksignal.contract.codec import (
    AvroBodies,
    Decoded,
    ReadPlan,
    bound_encoder,
    describe_length,
    read_body,
)
from stocksignal.contract.errors import DecodeError, UnknownSchemaError
from stocksignal.contract.schemas import SchemaSet, default_schema_set

MAGIC = b"\xc3\x01"
FINGERPRINT_SIZE = 8
HEADER_SIZE = len(MAGIC) + FINGERPRINT_SIZE


class SingleObjectCodec:
    """Encodes with the current schemas; decodes any known fingerprint."""

    def __init__(self, schemas: SchemaSet | None = None):
        self.schemas = schemas if schemas is not None else default_schema_set()
        self._bodies = AvroBodies(self.schemas)
        self._plans: dict[bytes, ReadPlan] = {}

    def encode(self, record_name: str, record: Mapping[str, Any], *, check: bool = True) -> bytes:
        ws, body = self._bodies.write(record_name, record, check)
        return MAGIC + ws.fingerprint + body

    def encoder(self, record_name: str) -> Callable[[Mapping[str, Any]], bytes]:
        ws, _ = self._bodies.writer(record_name)  # rejects unknown names now
        return bound_encoder(
            MAGIC + ws.fingerprint,
            self._bodies.compiled(record_name),
            lambda record: self.encode(record_name, record, check=False),
        )

    def decode(self, data: bytes) -> Decoded:
        if data is None:
            raise DecodeError("no value (a null or tombstone record): nothing to decode")
        if len(data) < HEADER_SIZE:
            raise DecodeError(
                f"{describe_length(data)}, a single-object frame needs at least {HEADER_SIZE}"
            )
        if data[:2] != MAGIC:
            raise DecodeError(_bad_magic(bytes(data[:2])))
        fp = bytes(data[2:HEADER_SIZE])
        plan = self._plans.get(fp) or self._plan(fp)
        return read_body(data, HEADER_SIZE, plan)

    def _plan(self, fp: bytes) -> ReadPlan:
        ws = self.schemas.by_fingerprint(fp)
        if ws is None:
            raise UnknownSchemaError(
                f"fingerprint 0x{fp.hex()} matches no known schema "
                "(neither a current one nor one archived in schemas/history/)"
            )
        plan = self._plans[fp] = self._bodies.plan(ws, f"single-object frame 0x{fp.hex()}")
        return plan


def _bad_magic(head: bytes) -> str:
    message = f"bad magic 0x{head.hex()}: a single-object frame starts with 0xc301"
    if head[:1] == b"\x00":
        message += " (this looks like Schema Registry framing, but no registry is configured)"
    return message
