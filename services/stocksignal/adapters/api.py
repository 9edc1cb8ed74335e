"""The storefront read API (aiohttp), served from the Redis read model only.

Never a silent zero: an unknown SKU or channel is a 404 that says so, and while the read model
is being rebuilt a missing SKU is a 503 (it may simply not be loaded yet), not a 404. Errors
have the one JSON shape of :mod:`stocksignal.web.errors`; with token digests every path but
the probes needs a bearer token (:mod:`stocksignal.web.auth`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from redis.exceptions import RedisError

from stocksignal.adapters.api_requests import BadRequest, parse_batch, parse_get
from stocksignal.adapters.availability_reader import AvailabilityReader, ChannelValue
from stocksignal.adapters.openapi import document
from stocksignal.adapters.snapshot import Availability
from stocksignal.web.auth import bearer_middleware
from stocksignal.web.errors import error_middleware, error_response

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REBUILD_RETRY_AFTER_S = "1"
# Clients learn that the read model is down, not where it lives (the log says that).
REDIS_DOWN = "the read model does not answer; retry shortly"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(message)
        self.status, self.error, self.message, self.headers, self.extra = (
            status,
            error,
            message,
            headers,
            extra,
        )

    def response(self) -> web.Response:
        return error_response(self.status, self.error, self.message, self.headers, **self.extra)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "stocksignal_api_requests_total",
            "Requests by route and status",
            ["route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "stocksignal_api_request_seconds",
            "Time to answer, by route",
            ["route"],
            registry=registry,
            buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.5),
        )


def channel_item(value: ChannelValue) -> dict[str, Any]:
    # ``level`` was added in v1.1 beside the v1 fields (clients that do not know it ignore it).
    return {
        "sku": value.sku,
        "channel": value.channel,
        "available": value.available,
        "version": value.version,
        "level": value.level,
    }


def sku_item(found: Availability, include_locations: bool = False) -> dict[str, Any]:
    item = {
        "sku": found.sku,
        "version": found.version,
        "channels": found.channels,
        **found.provenance,
    }
    item["levels"] = (
        found.levels
    )  # v1.1: channel_id -> stock level (null before the projector stored them)
    if include_locations:
        item["locations"] = found.locations
    return item


class AvailabilityApi:
    def __init__(self, reader: AvailabilityReader) -> None:
        self.reader = reader

    async def get_one(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"]
        query = parse_get(sku, {name: request.query.getall(name) for name in request.query.keys()})
        if query.channel is None:
            found = await self.reader.everything(sku)
            if found is None:
                await self._unknown_sku(sku)
            return json_response(sku_item(found, query.include_locations))
        if query.include_locations:
            raise BadRequest("include=locations cannot be combined with channel")
        value = await self.reader.channel_value(sku, query.channel)
        if value.version is None:
            await self._unknown_sku(sku)
        if value.available is None:
            known = await self.reader.known_channels(sku)
            raise ApiError(
                404,
                "unknown_channel",
                f"sku {sku!r} has no availability for channel {query.channel!r}; "
                f"its channels are: {', '.join(known) or 'none'}",
                sku=sku,
                channel=query.channel,
                known_channels=known,
            )
        return json_response(channel_item(value))

    async def batch(self, request: web.Request) -> web.Response:
        query = parse_batch(await request.read())
        if query.channel is None:
            found = await self.reader.everythings(query.skus)
            items = [sku_item(f) for f in found if f is not None]
            unknown = [sku for sku, f in zip(query.skus, found) if f is None]
            unknown_channel: list[str] = []
        else:
            values = await self.reader.channel_values(query.skus, query.channel)
            items = [channel_item(v) for v in values if v.available is not None]
            unknown = [v.sku for v in values if v.version is None]
            unknown_channel = [
                v.sku for v in values if v.version is not None and v.available is None
            ]
        if unknown and await self.reader.rebuilding():
            raise self._rebuilding(f"{len(unknown)} of the SKUs are not in the read model yet")
        return json_response(
            {
                "channel": query.channel,
                "items": items,
                "unknown_skus": unknown,
                "unknown_channel": unknown_channel,
            }
        )

    async def _unknown_sku(self, sku: str) -> None:
        if await self.reader.rebuilding():
            raise self._rebuilding(f"sku {sku!r} is not in the read model yet")
        raise ApiError(404, "unknown_sku", f"no availability is known for sku {sku!r}", sku=sku)

    @staticmethod
    def _rebuilding(what: str) -> ApiError:
        return ApiError(
            503,
            "rebuilding",
            f"the read model is being rebuilt and {what}; retry shortly",
            headers={"Retry-After": REBUILD_RETRY_AFTER_S},
        )

    async def healthz(self, request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            await self.reader.ping()
            rebuilding = await self.reader.rebuilding()
        except RedisError as exc:
            log.warning("readiness: Redis does not answer: %s", exc)
            return error_response(503, "redis_unavailable", REDIS_DOWN)
        return json_response(
            {"status": "ready", "read_model": "rebuilding" if rebuilding else "ready"}
        )


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The API's own refusals; everything else is left to the shared error middleware."""
    try:
        return await handler(request)
    except BadRequest as exc:
        return ApiError(400, "bad_request", str(exc)).response()
    except ApiError as exc:
        return exc.response()
    except RedisError as exc:
        log.warning("%s %s: Redis does not answer: %s", request.method, request.path, exc)
        return ApiError(503, "redis_unavailable", REDIS_DOWN).response()


def middlewares(metrics: ApiMetrics, digests: Iterable[str] = ()) -> list[Any]:
    """Outermost first: measured sees every answer (401s, 404s and 500s included)."""

    @web.middleware
    async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        route = _route_label(request)
        metrics.latency.labels(route).observe(time.perf_counter() - started)
        metrics.requests.labels(route, str(response.status)).inc()
        return response

    auth = [bearer_middleware(digests)] if digests else []
    return [measured, error_middleware, *auth, api_errors]


def make_app(
    reader: AvailabilityReader,
    registry: CollectorRegistry | None = None,
    digests: Iterable[str] = (),
    serve_metrics: bool = True,
) -> web.Application:
    """``digests``: bearer-token SHA-256 digests (none: open); ``serve_metrics``: /metrics here
    (False when it has a port of its own)."""
    metrics = ApiMetrics(registry or CollectorRegistry())
    api = AvailabilityApi(reader)
    openapi_body = orjson.dumps(document())

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=openapi_body, content_type="application/json")

    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def close_redis(app: web.Application) -> None:
        await reader.redis.aclose()

    app = web.Application(middlewares=middlewares(metrics, tuple(digests)))
    # The batch route first: GET /availability/batch is the SKU "batch", POST is the batch.
    app.router.add_post("/availability/batch", api.batch)
    app.router.add_get("/availability/{sku}", api.get_one)
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/readyz", api.readyz)
    if serve_metrics:
        app.router.add_get("/metrics", prometheus)
    app.router.add_get("/openapi.json", openapi)
    app.on_cleanup.append(close_redis)
    return app
