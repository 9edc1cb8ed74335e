"""The projector's channel feed starts on a cluster that is still electing a new topic's
leader (the first seconds after `make up`): it asks again instead of ending the projector."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from stocksignal.adapters.channel_levels import ChannelFeed


class _Meta:
    def __init__(self, topic: str) -> None:
        self.topics = {topic: type("T", (), {"partitions": {0: None}})()}


class NewTopicConsumer:
    """list_topics answers; the end offset is refused ``refusals`` times, then 0 (empty)."""

    def __init__(self, refusals: int, code: int = KafkaError.NOT_LEADER_FOR_PARTITION) -> None:
        self.refusals, self.code, self.asked, self.assigned = refusals, code, 0, None

    def list_topics(self, topic, timeout):
        return _Meta(topic)

    def get_watermark_offsets(self, tp, timeout):
        self.asked += 1
        if self.refusals:
            self.refusals -= 1
            raise KafkaException(KafkaError(self.code, "not yet"))
        return (0, 0)

    def assign(self, partitions):
        self.assigned = partitions

    def consume(self, n, timeout):
        return []


def test_a_leader_not_elected_yet_is_asked_again(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    consumer = NewTopicConsumer(refusals=3)
    feed = ChannelFeed(consumer, "inventory.channels.v1", codec=None)
    feed.start(timeout_s=5)
    assert feed.started and consumer.asked == 4 and consumer.assigned


def test_an_error_that_is_not_transient_still_ends_the_start(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    consumer = NewTopicConsumer(refusals=1, code=KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        ChannelFeed(consumer, "inventory.channels.v1", codec=None).start(timeout_s=5)
