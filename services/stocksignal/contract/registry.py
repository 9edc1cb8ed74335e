"""Confluent Schema Registry framing, used when a registry URL is configured (docs/contract.md#framing).

    00 | 4-byte big-endian schema id | Avro body

Subjects follow the *record name* strategy (subject = ``stocksignal.v1.OrderPlaced``): our
topics carry several record types, which the default topic-name strategy cannot express.
Registered schemas are self-contained (no registry references).

Decoding also accepts single-object frames (they start with ``C3 01``, never with ``00``), so a
topic can switch framings without a flag day and producers of either kind can coexist.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from stocksignal.contract.codec import (
    AvroBodies,
    Decoded,
    ReadPlan,
    bound_encoder,
    describe_length,
    read_body,
)
from stocksignal.contract.errors import DecodeError, SchemaError, UnknownSchemaError
from stocksignal.contract.schemas import SchemaSet, default_schema_set, writer_schema
from stocksignal.contract.single_object import MAGIC as SINGLE_OBJECT_MAGIC
from stocksignal.contract.single_object import SingleObjectCodec

MAGIC_BYTE = 0
HEADER_SIZE = 5


class RegistryCodec:
    """Encodes with ids of the current schemas; decodes any registered schema of our records."""

    def __init__(
        self,
        client: SchemaRegistryClient,
        schemas: SchemaSet | None = None,
        *,
        auto_register: bool = True,
    ):
        self.client = client
        self.schemas = schemas if schemas is not None else default_schema_set()
        self.auto_register = auto_register
        self._bodies = AvroBodies(self.schemas)
        self._single = SingleObjectCodec(self.schemas)
        self._headers: dict[str, bytes] = {}
        self._plans: dict[int, ReadPlan] = {}

    @classmethod
    def from_url(
        cls, url: str, schemas: SchemaSet | None = None, config: Mapping[str, Any] | None = None
    ) -> RegistryCodec:
        """``config``: the client's other properties (basic.auth.user.info, bearer.auth.*,
        ssl.*), as stocksignal.security.registry builds them. new_client() returns the
        in-memory mock for mock:// URLs."""
        return cls(SchemaRegistryClient.new_client({**(config or {}), "url": url}), schemas)

    @staticmethod
    def subject(full_name: str) -> str:
        return full_name  # record name strategy

    def schema_id(self, record_name: str) -> int:
        """The registry id of the current schema of ``record_name`` (registered if allowed)."""
        return int.from_bytes(self._header(record_name)[1:], "big")

    def encode(self, record_name: str, record: Mapping[str, Any], *, check: bool = True) -> bytes:
        _, body = self._bodies.write(record_name, record, check)  # rejects unknown names
        return self._header(record_name) + body

    def encoder(self, record_name: str) -> Callable[[Mapping[str, Any]], bytes]:
        self._bodies.writer(record_name)  # rejects unknown names before asking the registry
        return bound_encoder(
            self._header(record_name),
            self._bodies.compiled(record_name),
            lambda record: self.encode(record_name, record, check=False),
        )

    def decode(self, data: bytes) -> Decoded:
        if data is None:
            raise DecodeError("no value (a null or tombstone record): nothing to decode")
        if data[:2] == SINGLE_OBJECT_MAGIC:
            return self._single.decode(data)
        if len(data) < HEADER_SIZE:
            raise DecodeError(
                f"{describe_length(data)}, a Schema Registry frame needs at least {HEADER_SIZE}"
            )
        if data[0] != MAGIC_BYTE:
            raise DecodeError(
                f"bad magic byte 0x{data[0]:02x}: expected 0x00 (Schema Registry) "
                "or 0xc301 (single-object)"
            )
        schema_id = int.from_bytes(data[1:HEADER_SIZE], "big")
        plan = self._plans.get(schema_id) or self._plan(schema_id)
        return read_body(data, HEADER_SIZE, plan)

    def _header(self, record_name: str) -> bytes:
        header = self._headers.get(record_name)
        if header is None:
            ws, _ = self._bodies.writer(record_name)
            schema = Schema(json.dumps(ws.schema), "AVRO")
            subject = self.subject(ws.full_name)
            try:
                if self.auto_register:
                    schema_id: int | None = self.client.register_schema(subject, schema)
                else:
                    schema_id = self.client.lookup_schema(subject, schema).schema_id
            except SchemaRegistryError as exc:
                raise SchemaError(
                    f"{subject}: cannot get a schema id from the registry: {exc}"
                ) from exc
            if schema_id is None:
                raise SchemaError(f"{subject}: the registry answered without a schema id")
            header = bytes([MAGIC_BYTE]) + schema_id.to_bytes(4, "big")
            self._headers[ws.record_name] = self._headers[ws.full_name] = header
        return header

    def _plan(self, schema_id: int) -> ReadPlan:
        registered = self._fetch(schema_id)
        if registered.schema_type not in (None, "AVRO"):
            raise UnknownSchemaError(f"schema id {schema_id} is a {registered.schema_type} schema")
        try:
            ws = writer_schema(json.loads(registered.schema_str or ""))
        except (ValueError, SchemaError) as exc:
            raise UnknownSchemaError(
                f"schema id {schema_id} is not a usable Avro record: {exc}"
            ) from exc
        if ws.full_name not in self.schemas:
            raise UnknownSchemaError(
                f"schema id {schema_id} is {ws.full_name}, not a record of this contract"
            )
        # A registered copy of a schema we hold reads without resolution.
        known = self.schemas.by_fingerprint(ws.fingerprint)
        label = f"registry frame, schema id {schema_id}"
        plan = self._plans[schema_id] = self._bodies.plan(known or ws, label)
        return plan

    def _fetch(self, schema_id: int) -> Schema:
        try:
            return self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise UnknownSchemaError(f"schema id {schema_id} is not in the registry") from exc
            raise  # the registry is unreachable or failing: not this record's fault, no DLQ
