"""Which worker owns a command partition, from the consumer group's own description.

Each worker's group member uses the client id ``stocksignal-processor <advertised URL>``;
the admin API's group description lists every member with its client id and its assigned
partitions, so any worker can find the owner of any SKU (the partition of its command-topic
key, the same partitioner everywhere) without a registry of its own. Answers are cached for a
couple of seconds: ownership changes only with a rebalance, and a stale answer costs one
forwarded request that the other worker answers with 503.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

CLIENT_ID_PREFIX = "stocksignal-processor "


def client_id(advertised_url: str) -> str:
    return CLIENT_ID_PREFIX + advertised_url


def url_from_client_id(value: str) -> str | None:
    return value[len(CLIENT_ID_PREFIX) :] if value.startswith(CLIENT_ID_PREFIX) else None


class Owners:
    def __init__(self, admin, group_id: str, command_topic: str, ttl_s: float = 2.0) -> None:
        self._admin = admin
        self._group = group_id
        self._topic = command_topic
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._owners: dict[int, str] = {}
        self._fetched = 0.0

    def url_of(self, partition: int) -> str | None:
        with self._lock:
            if time.monotonic() - self._fetched > self._ttl:
                self._owners = self._describe()
                self._fetched = time.monotonic()
            return self._owners.get(partition)

    def _describe(self) -> dict[int, str]:
        try:
            futures = self._admin.describe_consumer_groups([self._group], request_timeout=5)
            description = futures[self._group].result(timeout=5)
        except Exception as exc:  # the coordinator is moving, the broker restarting: unknown
            log.info("describing group %s: %s", self._group, exc)
            return {}
        owners: dict[int, str] = {}
        for member in description.members:
            url = url_from_client_id(member.client_id or "")
            if url is None or member.assignment is None:
                continue
            for tp in member.assignment.topic_partitions:
                if tp.topic == self._topic:
                    owners[tp.partition] = url
        return owners
