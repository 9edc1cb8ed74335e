"""stocksignal.web on a small aiohttp app of its own: the JSON error shape and bearer tokens,
through real HTTP on loopback (and raw sockets for what no HTTP client sends)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession, web

from stocksignal.web.server import secure, start_site
from stocksignal.web.tokens import hash_token

TOKENS = ("token-one-" + "a" * 32, "token-two-" + "b" * 32)
DIGESTS = tuple(hash_token(t) for t in TOKENS)


def small_app(digests=(), max_body: int = 1024) -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals at 10.1.2.3:6379")

    async def refuse(request: web.Request) -> web.Response:
        raise web.HTTPConflict(text="already there")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=max_body)
    app.router.add_get("/hello", hello)
    app.router.add_post("/echo", echo)
    app.router.add_get("/boom", boom)
    app.router.add_get("/refuse", refuse)
    app.router.add_get("/healthz", healthz)
    return secure(app, digests)


def serve(app: web.Application, free_port, scenario: Callable[[str, int], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        port = free_port()
        runner = await start_site(app, "127.0.0.1", port)
        try:
            return await scenario(f"http://127.0.0.1:{port}", port)
        finally:
            await runner.cleanup()

    return asyncio.run(run())


async def call(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
):
    async with ClientSession() as client:
        async with client.request(method, base + path, headers=headers, data=data) as resp:
            return resp.status, dict(resp.headers), await resp.read()


async def raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


def assert_error_shape(
    status: int, headers: dict[str, str], body: bytes, expected_status: int, code: str
) -> dict:
    assert status == expected_status, body
    assert headers["Content-Type"].startswith("application/json")
    data = orjson.loads(body)
    assert data["error"] == code and isinstance(data["message"], str) and data["message"]
    assert b"Traceback" not in body
    return data


def test_aiohttps_own_errors_have_the_json_shape(free_port):
    async def scenario(base, port):
        return (
            await call(base, "GET", "/nowhere"),
            await call(base, "DELETE", "/hello"),
            await call(base, "POST", "/echo", data=b"x" * 5000),
            await call(base, "GET", "/refuse"),
        )

    missing, wrong_method, too_big, conflict = serve(small_app(), free_port, scenario)
    assert "/nowhere" in assert_error_shape(*missing, 404, "not_found")["message"]
    data = assert_error_shape(*wrong_method, 405, "method_not_allowed")
    assert "GET" in wrong_method[1]["Allow"] and "DELETE is not allowed" in data["message"]
    assert "size 1024 exceeded" in assert_error_shape(*too_big, 413, "payload_too_large")["message"]
    assert assert_error_shape(*conflict, 409, "conflict")["message"] == "already there"


def test_a_failing_handler_is_a_500_without_traceback_or_address(free_port, caplog):
    async def scenario(base, port):
        return await call(base, "GET", "/boom")

    status, headers, body = serve(small_app(), free_port, scenario)
    data = assert_error_shape(status, headers, body, 500, "internal_error")
    assert "10.1.2.3" not in body.decode() and "secret" not in body.decode()
    assert data == {
        "error": "internal_error",
        "message": "the server failed to answer this request; the failure is logged",
    }
    assert any("RuntimeError" in (r.exc_text or "") for r in caplog.records), (
        "the traceback is logged"
    )


@pytest.mark.parametrize(
    "request_bytes, status, code",
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "bad_request"),
        (b"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400, "bad_request"),
        (
            b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n",
            400,
            "bad_request",
        ),  # a header over the limit
    ],
)
def test_malformed_http_gets_the_json_shape_too(free_port, request_bytes, status, code):
    async def scenario(base, port):
        return await raw(port, request_bytes)

    answer = serve(small_app(), free_port, scenario)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert re.match(rf"HTTP/1\.[01] {status} ".encode(), head), answer[:200]
    assert b"application/json" in head
    assert orjson.loads(body)["error"] == code


def test_without_digests_there_is_no_authentication(free_port):
    async def scenario(base, port):
        return await call(base, "GET", "/hello")

    assert serve(small_app(), free_port, scenario)[0] == 200


def test_tokens_are_required_and_each_configured_one_works(free_port):
    async def scenario(base, port):
        bearer = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
        return [
            await call(base, "GET", "/hello"),
            await call(base, "GET", "/hello", {"Authorization": "Basic dXNlcjpwYXNz"}),
            await call(base, "GET", "/hello", bearer("token-three")),
            await call(base, "GET", "/hello", {"Authorization": "Bearer"}),
            await call(base, "GET", "/hello", bearer(TOKENS[0])),
            await call(base, "GET", "/hello", bearer(TOKENS[1])),
            await call(base, "GET", "/hello", {"Authorization": f"bearer {TOKENS[1]}"}),
            await call(base, "GET", "/healthz"),
            await call(base, "GET", "/nowhere"),
            await call(base, "GET", "/nowhere", bearer(TOKENS[0])),
            await call(base, "GET", "/hello", bearer(DIGESTS[0])),
        ]

    answers = serve(small_app(DIGESTS), free_port, scenario)
    none, basic, wrong, empty, first, second, lower, health, probe, found404, digest_as_token = (
        answers
    )
    assert_error_shape(*none, 401, "unauthorized")
    assert none[1]["WWW-Authenticate"] == 'Bearer realm="stocksignal"'
    for refused in (basic, wrong, empty, digest_as_token):
        assert_error_shape(*refused, 401, "unauthorized")
        assert refused[1]["WWW-Authenticate"] == 'Bearer realm="stocksignal", error="invalid_token"'
    assert first[0] == second[0] == lower[0] == 200, (
        "either token while both are configured (rotation)"
    )
    assert health[0] == 200, "probes need no token"
    assert_error_shape(*probe, 401, "unauthorized")  # no way to tell which paths exist
    assert_error_shape(*found404, 404, "not_found")


def test_an_error_shape_is_the_same_on_every_server(free_port):
    """The metrics server answers its errors in the same shape."""
    from prometheus_client import CollectorRegistry, Counter

    from stocksignal.web.metrics_server import MetricsServer

    registry = CollectorRegistry()
    Counter("stocksignal_test_things_total", "things", registry=registry).inc(3)
    port = free_port()
    server = MetricsServer("127.0.0.1", port, registry).start()
    try:

        async def scenario():
            base = f"http://127.0.0.1:{port}"
            return (
                await call(base, "GET", "/metrics"),
                await call(base, "GET", "/"),
                await call(base, "POST", "/metrics"),
                await raw(port, b"BLAH\r\n\r\n"),
            )

        ok, root, post, garbage = asyncio.run(scenario())
    finally:
        server.stop()
    assert ok[0] == 200 and b"stocksignal_test_things_total 3.0" in ok[2]
    assert ok[1]["Content-Type"].startswith("text/plain")
    assert_error_shape(*root, 404, "not_found")
    assert_error_shape(*post, 405, "method_not_allowed")
    assert re.match(rb"HTTP/1\.[01] 400 ", garbage) and b'"error":"bad_request"' in garbage


def test_a_metrics_server_on_a_taken_port_raises_in_the_caller(free_port):
    from prometheus_client import CollectorRegistry

    from stocksignal.web.metrics_server import MetricsServer
    from stocksignal.web.server import PortInUse

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(PortInUse, match="cannot be served"):
            MetricsServer("127.0.0.1", holder.getsockname()[1], CollectorRegistry()).start()
