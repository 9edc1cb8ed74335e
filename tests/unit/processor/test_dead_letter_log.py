"""A dead-lettered record is counted by reason and topic, and logged at a bounded rate."""

from __future__ import annotations

import logging

from stocksignal.contract import make_codec
from stocksignal.contract.keys import key_error
from stocksignal.processor.batches import Batcher
from stocksignal.processor.dlq_log import DeadLetterLog
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.router import Router, RouterConfig
from tests.unit.processor.fakes import FakeMessage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_beyond_the_burst_are_counted_and_the_next_line_says_how_many(caplog):
    clock = Clock()
    log = DeadLetterLog(burst=2, interval_s=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="stocksignal.processor.dlq"):
        for offset in range(5):
            log.dead_lettered("DECODE_ERROR", "inventory.stock.v1", 1, offset, b"MUG", "bad magic")
        assert [r.getMessage() for r in caplog.records] == [
            "dead-lettered inventory.stock.v1[1]@0 key='MUG': DECODE_ERROR: bad magic",
            "dead-lettered inventory.stock.v1[1]@1 key='MUG': DECODE_ERROR: bad magic",
        ]
        assert log.suppressed == 3
        clock.now = 10.0  # a new window
        log.dead_lettered("VALIDATION_ERROR", "inventory.orders.v1", 0, 9, None, "x" * 500)
    last = caplog.records[-1].getMessage()
    assert last.startswith(
        "dead-lettered inventory.orders.v1[0]@9 key=(none): VALIDATION_ERROR: " + "x" * 300 + "..."
    )
    assert last.endswith("(3 more dead-lettered record(s) not logged before this one)")
    assert log.suppressed == 0


def test_the_router_counts_by_reason_and_input_topic_and_logs_the_record(caplog):
    metrics = ProcessorMetrics()
    router = Router(RouterConfig("cmd", 4, "dlq", 3), make_codec(""), metrics, key_error)
    sent = []
    msg = FakeMessage(
        "pfx.inventory.stock.v1", 2, 41, key=b"MUG", value=b"not avro", headers=[("trace", b"t-1")]
    )
    with caplog.at_level(logging.WARNING, logger="stocksignal.processor.dlq"):
        router.route(msg, "inventory.stock.v1", None, Batcher(4), lambda *args: sent.append(args))
    metrics.flush_counts()
    value = metrics.registry.get_sample_value(
        "stocksignal_dlq_records_total", {"reason": "DECODE_ERROR", "topic": "inventory.stock.v1"}
    )
    assert value == 1.0
    ((topic, _partition, key, payload, headers),) = sent
    assert (topic, key, payload) == ("dlq", b"MUG", b"not avro") and ("trace", b"t-1") in headers
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("dead-lettered pfx.inventory.stock.v1[2]@41 key='MUG': DECODE_ERROR: ")
