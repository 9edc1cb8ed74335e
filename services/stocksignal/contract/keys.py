"""Does an input record's Kafka key match its key field? (docs/contract.md#keys)

Every input topic is keyed by one field of its records (``order_id``, ``return_id``, ``sku``,
``channel_id``: the catalogue in :mod:`.topics`). A record whose key is missing or differs
from that field sits on the wrong partition: its order with the other events of the same
order, SKU or channel is lost, so the router refuses it as a ``VALIDATION_ERROR`` instead of
deciding on it. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stocksignal.contract import topics as catalogue

# Keys in messages are shown, not dumped: a 1 MiB key must not make a 1 MiB DLQ header.
MAX_SHOWN = 80


def key_error(
    base_topic: str, record_name: str, record: Mapping[str, Any], key: bytes | None
) -> str | None:
    """None when ``key`` is the UTF-8 of the topic's key field, else the problem, as a message.

    ``base_topic`` is the contract's name (no ``STOCKSIGNAL_TOPIC_PREFIX``). Raises
    :class:`~stocksignal.contract.topics.CatalogueError` for a topic that is not an input
    topic: that is the caller's mistake, not the record's.
    """
    field = _key_field(base_topic)
    where = f"{base_topic} is keyed by {field}"
    if record_name not in catalogue.topic(base_topic).records:
        return f"key: {record_name} does not belong on {base_topic}, so its key cannot be checked"
    expected = record.get(field)
    if not isinstance(expected, str):
        return f"key: the record has no {field} to compare the key with ({where})"
    if key is None:
        return f"key: missing; {where}: expected {_show(expected)}"
    if key == expected.encode("utf-8"):
        return None
    if not key:
        return f"key: empty; {where}: expected {_show(expected)}"
    return f"key: {_show_bytes(key)} differs from {field} {_show(expected)}; {where}"


def _key_field(base_topic: str) -> str:
    t = catalogue.topic(base_topic)
    if t.role is not catalogue.Role.INPUT or t.key_field is None:
        raise catalogue.CatalogueError(
            f"{base_topic} is not an input topic; only input keys are checked"
        )
    return t.key_field


def _show(text: str) -> str:
    return repr(text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "...")


def _show_bytes(key: bytes) -> str:
    try:
        return _show(key.decode("utf-8"))
    except UnicodeDecodeError:
        shown = key[: MAX_SHOWN // 2].hex()
        return f"(not UTF-8) 0x{shown}{'...' if len(key) > MAX_SHOWN // 2 else ''}"
