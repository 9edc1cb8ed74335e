"""Topics a test creates: each partition has a leader before the test produces."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from stocksignal.settings import Settings


class KafkaAdmin:
    """Creates topics and waits until every partition has a leader, so a test can produce at once.

    The broker does not create topics on first use (see deploy/local/platformctl.py), so tests
    create theirs here. ``settings``: a bootstrap address, or Settings (a secured cluster's);
    the client is built by stocksignal.bootstrap like every other.
    """

    def __init__(self, settings: str | Settings) -> None:
        from stocksignal import bootstrap as composition
        from stocksignal.settings import Settings

        if isinstance(settings, str):
            settings = Settings(kafka_bootstrap_servers=settings)
        self.client = composition.make_admin(settings)

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        config: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> str:
        from confluent_kafka.admin import NewTopic

        # replication_factor=-1: the cluster's default.replication.factor (1 on a single broker).
        topic = NewTopic(
            name, num_partitions=partitions, replication_factor=-1, config=config or {}
        )
        self.client.create_topics([topic], operation_timeout=timeout)[name].result(timeout)
        self.wait_for_topic(name, partitions, timeout)
        return name

    def wait_for_topic(self, name: str, partitions: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready(name, partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} has no leader for all {partitions} partitions")
            time.sleep(0.1)

    def _ready(self, name: str, partitions: int) -> bool:
        topic = self.client.list_topics(topic=name, timeout=5).topics.get(name)
        return (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.error is None and p.leader >= 0 for p in topic.partitions.values())
        )

    def delete_topics(self, names: list[str], timeout: float = 30.0) -> None:
        if names:
            for future in self.client.delete_topics(names, operation_timeout=timeout).values():
                future.result(timeout)
