"""Parsing API requests (the HTTP-level behaviour is in tests/integration/adapters/test_api.py)."""

import pytest

from stocksignal.adapters.api_requests import BadRequest, parse_batch, parse_get


def test_get_without_parameters_means_every_channel():
    assert parse_get("A", {}) == parse_get("A", {"include": []})
    query = parse_get("A", {"channel": ["web"]})
    assert (query.channel, query.include_locations) == ("web", False)
    assert parse_get("A", {"include": ["locations"]}).include_locations


@pytest.mark.parametrize(
    "sku, query, message",
    [
        ("", {}, "sku must be 1 to 128 characters, got 0"),
        ("A\tB", {}, "non-printable"),
        ("A", {"channels": ["x"]}, "unknown query parameter(s) channels"),
        ("A", {"channel": ["x", "y"]}, "given 2 times"),
    ],
)
def test_bad_gets(sku, query, message):
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_get(sku, query)


def test_batch_keeps_the_first_order_and_drops_repeats():
    query = parse_batch(b'{"skus": ["B", "A", "B"], "channel": "web"}')
    assert (query.skus, query.channel) == (["B", "A"], "web")
    assert parse_batch(b'{"skus": ["A"], "channel": null}').channel is None


def test_batch_of_exactly_the_limit_is_fine():
    body = ('{"skus": [' + ",".join(f'"S{i}"' for i in range(1000)) + "]}").encode()
    assert len(parse_batch(body).skus) == 1000


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "not valid JSON"),
        (b'"A"', "must be a JSON object"),
        (b'{"skus": null}', "must be a list, got NoneType"),
        (b'{"skus": ["A"], "channel": 5}', "channel must be a string, got int"),
        (b'{"skus": [""]}', r"skus\[0\] must be 1 to 128 characters"),
    ],
)
def test_bad_batches(body, message):
    with pytest.raises(BadRequest, match=message):
        parse_batch(body)
