"""The contract's exceptions.

Decoding errors carry the DLQ reason of docs/contract.md#bad-input-and-the-dlq, so the processor can route
a bad record with ``except CodecError as exc: ... exc.dlq_reason`` and nothing else.
"""

from __future__ import annotations

from stocksignal.contract.dlq import DlqReason


class SchemaError(Exception):
    """A schema file (or an archived writer schema) is unusable. A deployment bug, not bad input."""


class CodecError(ValueError):
    """A value could not be encoded or decoded. ``dlq_reason`` says which DLQ reason applies."""

    dlq_reason: DlqReason = DlqReason.DECODE_ERROR


class DecodeError(CodecError):
    """The bytes are not a well-formed frame, or the body does not decode with its writer schema."""

    dlq_reason = DlqReason.DECODE_ERROR


class UnknownSchemaError(CodecError):
    """A well-formed frame names a writer schema (fingerprint or registry id) we do not know."""

    dlq_reason = DlqReason.UNKNOWN_SCHEMA


class EncodeError(CodecError):
    """A record does not match its schema; the message names the field.

    Raised on our own writes, so it is a bug rather than bad input; the reason is still set in
    case a tool re-encodes input records.
    """

    dlq_reason = DlqReason.VALIDATION_ERROR
