"""The storefront read API over a real Redis, through real HTTP (aiohttp's test server)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from adapter_harness import Deployment, PrivateRedis, availability, response_schema, schema_errors
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from stocksignal.adapters.keys import Keys
from stocksignal.adapters.openapi import document
from stocksignal.adapters.read_model import ReadModelWriter
from stocksignal.adapters.rebuild import claim_rebuild
from stocksignal.adapters.snapshot import snapshot_of
from stocksignal.bootstrap import build_api

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
DOC = document()


def seed(
    dep: Deployment, *records: dict[str, Any], rebuilding: dict[int, int] | None = None
) -> None:
    """Write ``records`` as the projector would, and mark the read model built (or rebuilding)."""
    client = dep.redis()
    keys = Keys(dep.redis_prefix)
    ReadModelWriter(client, keys).write([snapshot_of(r) for r in records])
    claim_rebuild(client, keys, client.info("server")["run_id"], rebuilding or {})


def call(
    dep: Deployment, scenario: Callable[[ClientSession], Awaitable[Any]], **settings: str
) -> Any:
    async def run() -> Any:
        async with TestServer(build_api(dep.settings(**settings))) as server:
            async with ClientSession(base_url=str(server.make_url(""))) as client:
                return await scenario(client)

    return asyncio.run(run())


async def fetch(
    client: ClientSession, method: str, path: str, body: Any = None, raw: bytes | None = None
):
    data = raw if raw is not None else (None if body is None else orjson.dumps(body))
    async with client.request(method, path, data=data) as resp:
        return resp.status, dict(resp.headers), orjson.loads(await resp.read())


def assert_documented(path: str, method: str, status: int, body: Any) -> None:
    assert schema_errors(body, response_schema(DOC, path, method, status), DOC) == []


def test_one_sku_one_channel_or_all_channels(deployment):
    seed(deployment, availability("TSHIRT", 7, {"default": 118, "web-de": 116}))

    async def scenario(client):
        return [
            await fetch(client, "GET", "/availability/TSHIRT?channel=web-de"),
            await fetch(client, "GET", "/availability/TSHIRT"),
            await fetch(client, "GET", "/availability/TSHIRT?include=locations"),
        ]

    (s1, _, one), (s2, _, every), (s3, _, located) = call(deployment, scenario)
    # v1.1 added "level" (the written snapshots have no thresholds: IN_STOCK above 0)
    assert (s1, one) == (
        200,
        {"sku": "TSHIRT", "channel": "web-de", "available": 116, "version": 7, "level": "IN_STOCK"},
    )
    assert (
        s2 == 200 and every["channels"] == {"default": 118, "web-de": 116} and every["version"] == 7
    )
    assert every["levels"] == {"default": "IN_STOCK", "web-de": "IN_STOCK"}
    assert every["cause_event_type"] == "OrderPlaced" and "locations" not in every
    assert s3 == 200 and [loc["location_id"] for loc in located["locations"]] == [
        "WH-BER-1",
        "STORE-MUC-2",
    ]
    for body in (one, every, located):
        assert_documented("/availability/{sku}", "get", 200, body)


def test_unknown_sku_and_unknown_channel_are_404s_that_say_so(deployment):
    seed(deployment, availability("MUG", 3, {"default": 0}))

    async def scenario(client):
        return [
            await fetch(client, "GET", "/availability/NOPE"),
            await fetch(client, "GET", "/availability/NOPE?channel=default"),
            await fetch(client, "GET", "/availability/MUG?channel=web-de"),
            await fetch(client, "GET", "/availability/MUG?channel=default"),
        ]

    (s1, _, b1), (s2, _, b2), (s3, _, b3), (s4, _, b4) = call(deployment, scenario)
    assert (s1, b1["error"], b1["sku"]) == (404, "unknown_sku", "NOPE")
    assert (s2, b2["error"]) == (404, "unknown_sku")
    assert (s3, b3["error"], b3["known_channels"]) == (404, "unknown_channel", ["default"])
    assert "web-de" in b3["message"] and "MUG" in b3["message"]
    assert (s4, b4["available"]) == (200, 0), "a real zero is a 200, distinct from not knowing"
    for body in (b1, b2, b3):
        assert_documented("/availability/{sku}", "get", 404, body)


BAD_REQUESTS = [
    ("GET", "/availability/A?chanel=web", None, "unknown query parameter(s) chanel"),
    ("GET", "/availability/A?channel=", None, "channel must be 1 to 128 characters"),
    ("GET", "/availability/A?channel=a&channel=b", None, "given 2 times"),
    ("GET", "/availability/A?include=history", None, "include='history' is not supported"),
    ("GET", "/availability/A?channel=web&include=locations", None, "cannot be combined"),
    ("GET", "/availability/" + "x" * 129, None, "sku must be 1 to 128 characters, got 129"),
    ("POST", "/availability/batch", b"{not json", "body is not valid JSON"),
    ("POST", "/availability/batch", b"[]", "must be a JSON object"),
    ("POST", "/availability/batch", b"{}", 'field "skus" is required'),
    ("POST", "/availability/batch", b'{"skus": "A"}', '"skus" must be a list, got str'),
    ("POST", "/availability/batch", b'{"skus": []}', "1 to 1000 SKUs, got 0"),
    (
        "POST",
        "/availability/batch",
        orjson.dumps({"skus": ["s"] * 1001}),
        "1 to 1000 SKUs, got 1001",
    ),
    ("POST", "/availability/batch", b'{"skus": ["A", 7]}', "skus[1] must be a string, got int"),
    ("POST", "/availability/batch", b'{"skus": ["A"], "chanel": "x"}', "unknown field(s) chanel"),
    ("POST", "/availability/batch", b'{"skus": ["A\\u0000"]}', "non-printable"),
]


def test_bad_requests_are_400s_that_say_what_is_wrong(deployment):
    seed(deployment)

    async def scenario(client):
        return [await fetch(client, m, p, raw=body) for m, p, body, _ in BAD_REQUESTS]

    for (status, _, body), (method, path, _, fragment) in zip(
        call(deployment, scenario), BAD_REQUESTS
    ):
        assert status == 400, (method, path, body)
        assert body["error"] == "bad_request" and fragment in body["message"], (
            path,
            body["message"],
        )


def test_batch_answers_known_skus_and_lists_the_unknown(deployment):
    seed(
        deployment,
        availability("A", 1, {"default": 5, "web": 4}),
        availability("B", 9, {"default": 0}),
    )

    async def scenario(client):
        return [
            await fetch(
                client,
                "POST",
                "/availability/batch",
                {"skus": ["A", "B", "C", "A"], "channel": "web"},
            ),
            await fetch(client, "POST", "/availability/batch", {"skus": ["B", "A", "C"]}),
            await fetch(
                client, "POST", "/availability/batch", {"skus": [f"S{i}" for i in range(1000)]}
            ),
        ]

    (s1, _, by_channel), (s2, _, every), (s3, _, many) = call(deployment, scenario)
    assert s1 == 200 and by_channel == {
        "channel": "web",
        "items": [
            {"sku": "A", "channel": "web", "available": 4, "version": 1, "level": "IN_STOCK"}
        ],
        "unknown_skus": ["C"],
        "unknown_channel": ["B"],
    }
    assert s2 == 200 and [(i["sku"], i["channels"]) for i in every["items"]] == [
        ("B", {"default": 0}),
        ("A", {"default": 5, "web": 4}),
    ]
    assert every["unknown_skus"] == ["C"]
    assert s3 == 200 and len(many["unknown_skus"]) == 1000
    for body in (by_channel, every):
        assert_documented("/availability/batch", "post", 200, body)


def test_while_rebuilding_a_missing_sku_is_503_not_404(deployment):
    seed(deployment, availability("A", 1, {"default": 5}), rebuilding={0: 10})

    async def scenario(client):
        return [
            await fetch(client, "GET", "/availability/A"),
            await fetch(client, "GET", "/availability/B"),
            await fetch(client, "POST", "/availability/batch", {"skus": ["A", "B"]}),
            await fetch(client, "GET", "/readyz"),
        ]

    (s1, _, _), (s2, h2, b2), (s3, _, b3), (s4, _, b4) = call(deployment, scenario)
    assert s1 == 200
    assert (s2, b2["error"], h2["Retry-After"]) == (503, "rebuilding", "1")
    assert (s3, b3["error"]) == (503, "rebuilding")
    assert (s4, b4) == (200, {"status": "ready", "read_model": "rebuilding"})


def test_health_readiness_and_a_dead_redis(private_deployment, private_redis: PrivateRedis):
    dep = private_deployment
    seed(dep, availability("A", 1, {"default": 5}))

    async def scenario(client):
        answers = [await fetch(client, "GET", "/readyz")]
        private_redis.kill()
        answers += [
            await fetch(client, "GET", p) for p in ("/readyz", "/healthz", "/availability/A")
        ]
        return answers

    (s1, _, b1), (s2, _, b2), (s3, _, _), (s4, _, b4) = call(dep, scenario)
    assert (s1, b1["read_model"]) == (200, "ready")
    assert (s2, b2["error"]) == (503, "redis_unavailable")
    assert s3 == 200, "alive, even without Redis"
    assert (s4, b4["error"]) == (503, "redis_unavailable")
    # Clients learn that the read model is down, not where Redis lives.
    host, port = dep.redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    for body in (b2, b4):
        assert body["message"] == "the read model does not answer; retry shortly"
        assert host not in orjson.dumps(body).decode() and port not in orjson.dumps(body).decode()
    assert_documented("/readyz", "get", 503, b2)


def test_openapi_metrics_and_unknown_routes(deployment):
    seed(deployment, availability("A", 1, {"default": 5}))

    async def scenario(client):
        await fetch(client, "GET", "/availability/A")
        async with client.get("/metrics") as resp:
            metrics = await resp.text()
        return (
            await fetch(client, "GET", "/openapi.json"),
            await fetch(client, "GET", "/nowhere"),
            await fetch(client, "DELETE", "/availability/A"),
            metrics,
        )

    (s1, _, spec), (s2, _, missing), (s3, h3, wrong), metrics = call(deployment, scenario)
    assert s1 == 200 and spec == orjson.loads(orjson.dumps(DOC))
    assert (s2, missing["error"]) == (404, "not_found")
    assert (s3, wrong["error"]) == (405, "method_not_allowed") and "GET" in h3["Allow"]
    assert 'stocksignal_api_requests_total{route="/availability/{sku}",status="200"} 1.0' in metrics
    assert "stocksignal_api_request_seconds_bucket" in metrics


def test_with_tokens_every_path_but_the_probes_needs_one(deployment):
    from stocksignal.web.tokens import hash_token

    seed(deployment, availability("A", 1, {"default": 5}))
    old, new = "old-token-" + "x" * 40, "new-token-" + "y" * 40

    async def scenario(client):
        bearer = {"Authorization": f"Bearer {new}"}
        answers = []
        for method, path, headers in [
            ("GET", "/availability/A", {}),
            ("POST", "/availability/batch", {}),
            ("GET", "/metrics", {}),
            ("GET", "/openapi.json", {}),
            ("GET", "/availability/A", {"Authorization": "Bearer wrong"}),
            ("GET", "/availability/A", bearer),
            ("GET", "/availability/A", {"Authorization": f"Bearer {old}"}),
            ("GET", "/healthz", {}),
            ("GET", "/readyz", {}),
        ]:
            async with client.request(method, path, headers=headers) as resp:
                answers.append(
                    (resp.status, resp.headers.get("WWW-Authenticate"), await resp.read())
                )
        async with client.get("/metrics", headers=bearer) as resp:
            metrics = await resp.text()
        return answers, metrics

    digests = f"{hash_token(old)},{hash_token(new)}"
    answers, metrics = call(deployment, scenario, STOCKSIGNAL_API_TOKENS_SHA256=digests)
    for status, challenge, body in answers[:5]:
        assert status == 401 and challenge.startswith('Bearer realm="stocksignal"')
        assert orjson.loads(body)["error"] == "unauthorized"
        assert_documented("/availability/{sku}", "get", 401, orjson.loads(body))
    assert [a[0] for a in answers[5:]] == [200, 200, 200, 200], (
        "both tokens during a rotation; probes open"
    )
    assert 'stocksignal_api_requests_total{route="/availability/{sku}",status="401"} 2.0' in metrics


def test_metrics_can_move_to_a_port_of_their_own(deployment):
    async def scenario(client):
        async with client.get("/metrics") as resp:
            return resp.status, orjson.loads(await resp.read())

    status, body = call(deployment, scenario, STOCKSIGNAL_API_METRICS_PORT="9999")
    assert (status, body["error"]) == (404, "not_found"), "not on the API's port any more"
