"""The marketplace payload and the dead-letter record."""

import orjson

from stocksignal.adapters.marketplace.dead_letters import REJECTED, dead_letter
from stocksignal.adapters.marketplace.payload import Update, batch_id, build_payload, encode


def test_the_payload_is_the_documented_shape():
    updates = [Update("A", 3, 10), Update("B", 0, 4)]
    payload = orjson.loads(encode(build_payload("mkt", updates, 1767225600000)))
    assert payload == {
        "channel_id": "mkt",
        "batch_id": batch_id("mkt", updates),
        "sent_at": 1767225600000,
        "updates": [
            {"sku": "A", "available": 3, "version": 10},
            {"sku": "B", "available": 0, "version": 4},
        ],
    }


def test_the_batch_id_depends_on_content_only():
    a = [Update("A", 3, 10), Update("B", 0, 4)]
    assert batch_id("mkt", a) == batch_id("mkt", list(reversed(a))), (
        "the same updates, in any order"
    )
    assert batch_id("mkt", a) != batch_id("other", a)
    assert batch_id("mkt", a) != batch_id("mkt", [Update("A", 3, 11), Update("B", 0, 4)])
    assert len(batch_id("mkt", a)) == 32


def test_a_dead_letter_carries_the_refused_payload_and_why():
    key, value, headers = dead_letter(
        "mkt", Update("A", 3, 10), REJECTED, 422, "HTTP 422: bad sku", 1000
    )
    assert key == b"A"
    body = orjson.loads(value)
    assert (
        body["reason"] == REJECTED
        and body["status"] == 422
        and body["error"] == "HTTP 422: bad sku"
    )
    assert body["payload"]["updates"] == [{"sku": "A", "available": 3, "version": 10}]
    assert dict(headers) == {
        "dlq.reason": b"REJECTED",
        "dlq.status": b"422",
        "dlq.error": b"HTTP 422: bad sku",
        "dlq.channel": b"mkt",
    }


def test_a_dead_letter_without_an_http_answer_has_an_empty_status():
    _, value, headers = dead_letter(
        "mkt", Update("A", 3, 10), "RETRIES_EXHAUSTED", None, "timeout", 1
    )
    assert dict(headers)["dlq.status"] == b"" and orjson.loads(value)["status"] is None
