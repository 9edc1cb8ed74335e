"""A ``/metrics`` server of its own, on its own thread (projector, sync worker, API option).

prometheus_client's ``start_http_server`` answers any path and method with the metrics and
malformed requests with HTML; this one serves ``GET /metrics`` only, with the JSON error shape
for everything else (:mod:`stocksignal.web.errors`). It runs its own event loop on a daemon
thread, so synchronous processes (the projector) can use it as well as asyncio ones.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from stocksignal.web.server import secure, start_site

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0


def metrics_app(registry: CollectorRegistry) -> web.Application:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return secure(app)


class MetricsServer:
    """``GET http://host:port/metrics`` until :meth:`stop` (or the process ends)."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry) -> None:
        self.host, self.port, self.registry = host, port, registry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="metrics-server", daemon=True)

    def start(self) -> MetricsServer:
        """Returns once the port is served; raises what binding it raised."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise TimeoutError(f"the metrics server on {self.host}:{self.port} did not start")
        if self._error is not None:
            raise self._error
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(START_TIMEOUT_S)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        try:
            runner = await start_site(metrics_app(self.registry), self.host, self.port)
        except BaseException as exc:  # handed to start(), which raises it in the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await runner.cleanup()
