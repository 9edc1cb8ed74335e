"""Dead-letter queue headers and reasons (docs/contract.md#bad-input-and-the-dlq).

A record that cannot be decoded, has an unknown schema, or breaks a rule is copied to
``inventory.dlq.v1`` with its original key, value and headers, plus the headers below.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

DLQ_REASON = "dlq.reason"
DLQ_ERROR = "dlq.error"
DLQ_TOPIC = "dlq.topic"
DLQ_PARTITION = "dlq.partition"
DLQ_OFFSET = "dlq.offset"
DLQ_HEADERS = (DLQ_REASON, DLQ_ERROR, DLQ_TOPIC, DLQ_PARTITION, DLQ_OFFSET)

# Messages are for people; a cap keeps one pathological error from bloating the record.
MAX_ERROR_BYTES = 4096

Header = tuple[str, bytes]


class DlqReason(StrEnum):
    DECODE_ERROR = "DECODE_ERROR"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
    VALIDATION_ERROR = "VALIDATION_ERROR"


def dlq_headers(
    reason: DlqReason | str,
    error: str,
    *,
    topic: str,
    partition: int,
    offset: int,
    original: Iterable[tuple[str, bytes | None]] = (),
) -> list[tuple[str, bytes | None]]:
    """The headers of a DLQ copy: the original ones, then ours (all UTF-8 text).

    ``dlq.*`` headers already on the record (a DLQ record re-driven and rejected again) are
    dropped so that each name appears once and says why it failed *this* time.
    """
    kept = [(k, v) for k, v in original if k not in DLQ_HEADERS]
    ours = [
        (DLQ_REASON, str(DlqReason(reason)).encode()),
        (DLQ_ERROR, _truncate(error)),
        (DLQ_TOPIC, topic.encode()),
        (DLQ_PARTITION, str(partition).encode()),
        (DLQ_OFFSET, str(offset).encode()),
    ]
    return kept + ours


def _truncate(text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_ERROR_BYTES:
        return data
    # Cut on a character boundary so the header stays valid UTF-8.
    return data[: MAX_ERROR_BYTES - 3].decode("utf-8", "ignore").encode() + b"..."
