"""The sync worker's own dead-letter topic (never the processor's inventory.dlq.v1).

One record per refused update: key = SKU, value = JSON with the payload the marketplace
refused and why, headers ``dlq.reason``, ``dlq.status``, ``dlq.error``, ``dlq.channel``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from stocksignal.adapters.marketplace.payload import Update, build_payload

REJECTED = "REJECTED"  # the marketplace answered 4xx (not 408/429) for this update alone
RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"  # STOCKSIGNAL_MARKETPLACE_MAX_ATTEMPTS reached
MAX_ERROR = 4096


class DeadLetterError(RuntimeError):
    """The broker did not take a dead letter; its update stays unresolved (not committed)."""


def dead_letter(
    channel_id: str, update: Update, reason: str, status: int | None, error: str, now_ms: int
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of one dead letter. Pure."""
    value = {
        "channel_id": channel_id,
        "reason": reason,
        "status": status,
        "error": error[:MAX_ERROR],
        "payload": build_payload(channel_id, [update], now_ms),
        "dead_lettered_at": now_ms,
    }
    headers = [
        ("dlq.reason", reason.encode()),
        ("dlq.status", b"" if status is None else str(status).encode()),
        ("dlq.error", error[:MAX_ERROR].encode()),
        ("dlq.channel", channel_id.encode()),
    ]
    return update.sku.encode(), orjson.dumps(value), headers


class DeadLetters:
    def __init__(self, producer: Any, topic: str, channel_id: str) -> None:
        self.producer = producer
        self.topic = topic
        self.channel_id = channel_id

    def send(
        self,
        updates: Sequence[Update],
        reason: str,
        status: int | None,
        error: str,
        timeout: float = 30.0,
    ) -> None:
        """Produce and wait for the broker's acknowledgement (blocking: run it off the loop)."""
        failures: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        now_ms = int(time.time() * 1000)
        for update in updates:
            key, value, headers = dead_letter(
                self.channel_id, update, reason, status, error, now_ms
            )
            self.producer.produce(
                self.topic, key=key, value=value, headers=headers, on_delivery=delivered
            )
        if self.producer.flush(timeout) > 0 or failures:
            raise DeadLetterError(
                f"dead letters to {self.topic} not acknowledged: {failures or 'timeout'}"
            )
