"""What every codec offers and the Avro body work they share.

A codec turns ``(record_name, dict)`` into framed bytes and back. Two framings exist
(docs/contract.md#framing): Avro single-object encoding (the default, :mod:`.single_object`) and Confluent
Schema Registry framing (:mod:`.registry`). Both write the same Avro binary body, validate
records before writing, and hand out timestamps as int milliseconds. Which of the two a
deployment uses is chosen by :func:`stocksignal.contract.framing.make_codec`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, cast

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from stocksignal.contract.avro_writer import compile_writer
from stocksignal.contract.errors import DecodeError, EncodeError, UnknownSchemaError
from stocksignal.contract.schemas import SchemaSet, WriterSchema
from stocksignal.contract.validation import compile_validator


class Decoded(NamedTuple):
    record_name: str  # short name, e.g. "OrderPlaced"
    record: dict[str, Any]


class Codec(Protocol):
    def encode(self, record_name: str, record: Mapping[str, Any], *, check: bool = True) -> bytes:
        """Frame and encode ``record``; :class:`EncodeError` names the offending field.

        ``check=False`` skips the field-by-field check for records built by our own code
        from typed domain objects (the processor's hot path); fastavro still refuses records
        it cannot write at all.
        """
        ...

    def decode(self, data: bytes) -> Decoded:
        """Decode a framed value; raises :class:`DecodeError` or :class:`UnknownSchemaError`."""
        ...

    def encoder(self, record_name: str) -> Callable[[Mapping[str, Any]], bytes]:
        """``encode(record_name, record, check=False)`` as a function of the record, bound once:
        the same bytes (and errors), without the per-record lookups (the processor's hot path)."""
        ...


class ReadPlan(NamedTuple):
    """How to read one writer schema: resolved to the current reader when it is older."""

    record_name: str
    writer: dict[str, Any]
    reader: dict[str, Any] | None  # None: the writer is the current schema, no resolution needed
    label: str  # names the frame kind and schema in error messages, built once


def _not_compiled(record: Mapping[str, Any]) -> bytes:  # a schema avro_writer does not cover
    raise NotImplementedError


_NOT_COMPILED = _not_compiled


class AvroBodies:
    """Avro binary bodies (no framing) for the records of one :class:`SchemaSet`."""

    def __init__(self, schemas: SchemaSet):
        self.schemas = schemas
        self._writers: dict[str, tuple[WriterSchema, Callable[[Any], None]]] = {}
        # Per record: the writer compiled from its schema (avro_writer.py), same bytes, faster.
        self._compiled: dict[str, Callable[[Mapping[str, Any]], bytes]] = {}

    def writer(self, record_name: str) -> tuple[WriterSchema, Callable[[Any], None]]:
        """The current schema of ``record_name`` and its validator, compiled once."""
        found = self._writers.get(record_name)
        if found is None:
            if record_name not in self.schemas:
                known = ", ".join(self.schemas.record_names)
                raise EncodeError(f"unknown record {record_name!r}; known records: {known}")
            ws = self.schemas.current(record_name)
            found = self._writers[record_name] = (ws, compile_validator(ws.parsed))
        return found

    def compiled(self, record_name: str) -> Callable[[Mapping[str, Any]], bytes]:
        """The body writer compiled for ``record_name``'s current schema; one that raises when
        the schema is not covered (the caller then writes with :meth:`write`)."""
        fast = self._compiled.get(record_name)
        if fast is None:
            ws, _ = self.writer(record_name)
            fast = self._compiled[record_name] = compile_writer(ws.parsed) or _NOT_COMPILED
        return fast

    def write(
        self, record_name: str, record: Mapping[str, Any], check: bool = True
    ) -> tuple[WriterSchema, bytes]:
        ws, validate = self.writer(record_name)
        if check:
            validate(record)
        fast = self.compiled(record_name)
        if fast is not _NOT_COMPILED:
            try:
                return ws, fast(record)
            except Exception:  # noqa: BLE001 - fastavro below writes it or says precisely why not
                pass
        buf = io.BytesIO()
        try:
            schemaless_writer(buf, ws.parsed, record)
        except Exception as exc:  # e.g. a lone surrogate in a string: not valid UTF-8
            raise EncodeError(f"{ws.record_name}: {type(exc).__name__}: {exc}") from exc
        return ws, buf.getvalue()

    def plan(self, ws: WriterSchema, label: str) -> ReadPlan:
        if self.schemas.is_current(ws):
            return ReadPlan(ws.record_name, ws.parsed, None, label)
        current = self.schemas.current(ws.full_name).parsed
        return ReadPlan(ws.record_name, ws.parsed, current, label)


def read_body(data: bytes, offset: int, plan: ReadPlan) -> Decoded:
    """Read the body at ``data[offset:]``; every byte must belong to the record."""
    fo = io.BytesIO(data)
    fo.seek(offset)
    try:
        record = schemaless_reader(fo, plan.writer, plan.reader)
    except SchemaResolutionError as exc:
        raise UnknownSchemaError(
            f"{plan.label} ({plan.record_name}): the writer schema does not resolve to the "
            f"reader schema: {exc}"
        ) from exc
    except Exception as exc:  # fastavro raises EOFError, IndexError, UnicodeDecodeError...
        why = _why(exc, ran_out=fo.tell() >= len(data))
        raise DecodeError(f"{plan.label}: {plan.record_name} body does not decode: {why}") from exc
    end = fo.tell()
    if end != len(data):
        raise DecodeError(
            f"{plan.label}: {len(data) - end} trailing byte(s) after the {plan.record_name} record "
            f"(frame is {len(data)} bytes, the record ends at byte {end})"
        )
    return Decoded(plan.record_name, cast(dict[str, Any], record))  # a record schema's value


def _why(exc: Exception, ran_out: bool) -> str:
    if isinstance(exc, EOFError) or ran_out:
        return "truncated (the frame ends inside the record)"
    if isinstance(exc, UnicodeDecodeError):
        return f"a string is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    if isinstance(exc, IndexError):
        return "garbage (an enum or union index out of range, or a malformed varint)"
    return f"{type(exc).__name__}: {exc}"


def describe_length(data: bytes) -> str:
    return "frame is empty (0 bytes)" if not data else f"frame is {len(data)} bytes"


def bound_encoder(
    head: bytes,
    fast: Callable[[Mapping[str, Any]], bytes],
    slow: Callable[[Mapping[str, Any]], bytes],
) -> Callable[[Mapping[str, Any]], bytes]:
    """``head + fast(record)``; a record ``fast`` cannot write goes to ``slow``, the codec's
    own ``encode``, which writes it with fastavro or says precisely why not."""

    def encode(record: Mapping[str, Any]) -> bytes:
        try:
            return head + fast(record)
        except Exception:  # noqa: BLE001 - slow() gives fastavro's bytes or its error
            return slow(record)

    return encode
