"""The inspection API: why a SKU's number is what it is, plus health, readiness and metrics.

Served by every worker, from a thread of its own (aiohttp), reading committed state only:
what the worker's stores hold after their last commit. Any worker answers for any SKU: a
request for a SKU whose command partition another worker owns is forwarded to that worker,
found in the consumer group's description (each worker's client id carries its advertised
URL, see ownership.py). The operator's page (``/ui``, operator_page.py) renders the same
answers as HTML.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson

from stocksignal.contract import partition_for
from stocksignal.domain import BundleView, ChannelBook
from stocksignal.processor.applier import history
from stocksignal.processor.envelope import BookEnvelope, Envelope, book_key, sku_key
from stocksignal.processor.explain import explain, positions_of
from stocksignal.processor.inspection_history import (
    MAX_WINDOW_MOVEMENTS,
    BadTime,
    stock_at_json,
    time_param,
    window_json,
)
from stocksignal.processor.inspection_http import FORWARDED, MAX_MOVEMENTS, OWNER

if TYPE_CHECKING:
    from stocksignal.ledger.history import LedgerHistory
    from stocksignal.processor.dlq_view import DeadLetters
    from stocksignal.processor.metrics import ProcessorMetrics
    from stocksignal.processor.ownership import Owners
    from stocksignal.processor.runtime import Runtime

log = logging.getLogger(__name__)


class Inspection:
    """What the handlers ask; reads the runtime's ``serving`` stores (committed values)."""

    def __init__(
        self,
        runtime: Runtime,
        owners: Owners,
        partitions: int,
        history_size: int,
        self_url: str,
        ledger: LedgerHistory | None = None,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.runtime = runtime
        self.owners = owners
        self.partitions = partitions
        self.history_size = history_size
        self.self_url = self_url
        self.ledger = ledger  # answers for the past (?at=, ?since=), read from Kafka
        self.dead_letters = dead_letters  # the operator page's DLQ view, read from Kafka

    def local(self, sku: str):
        """(envelope, book, partition, store) when this worker serves the SKU, else None."""
        partition = partition_for(sku, self.partitions)
        store = self.runtime.serving.get(partition)
        if store is None:
            return None
        raw = store.committed(sku_key(sku))
        book_raw = store.committed(book_key(partition))
        book = BookEnvelope.from_bytes(book_raw) if book_raw else BookEnvelope(ChannelBook())
        env = Envelope.from_bytes(raw) if raw is not None else None
        return env, book, partition, store

    def owner_url(self, sku: str) -> str | None:
        url = self.owners.url_of(partition_for(sku, self.partitions))
        return None if url == self.self_url else url


def make_app(
    inspection: Inspection,
    metrics: ProcessorMetrics,
    healthy: Callable[[], str | None],
    token_digests: tuple[str, ...] = (),
):
    """The inspection app: the JSON error shape of every stocksignal server and, with token
    digests, bearer authentication (``/healthz`` and ``/readyz`` stay open for probes)."""
    from aiohttp import ClientSession, ClientTimeout, web
    from prometheus_client import CONTENT_TYPE_LATEST

    from stocksignal.web.auth import TOKEN
    from stocksignal.web.errors import error_response as error
    from stocksignal.web.server import secure

    routes = web.RouteTableDef()

    async def forward(request: web.Request, sku: str, path_qs: str) -> web.Response | None:
        """The owner's answer to ``path_qs`` (an API path: a page asks for the JSON it renders)."""
        if request.headers.get(FORWARDED):
            return None  # one hop only: the owner we were sent to does not own it (moving)
        url = await asyncio.get_running_loop().run_in_executor(None, inspection.owner_url, sku)
        if url is None:
            return None
        try:
            headers = {FORWARDED: "1"}
            if TOKEN in request:  # the owner checks the same tokens (a page's came in its cookie)
                headers["Authorization"] = f"Bearer {request[TOKEN]}"
            async with ClientSession(timeout=ClientTimeout(total=5)) as session:
                async with session.get(url + path_qs, headers=headers) as r:
                    return web.Response(
                        body=await r.read(),
                        status=r.status,
                        content_type="application/json",
                        headers={OWNER: url},
                    )
        except (TimeoutError, OSError) as exc:
            log.warning("forwarding %s to its owner failed: %s", path_qs, exc)
            return None

    async def owned(request: web.Request, sku: str, path_qs: str):
        try:
            found = inspection.local(sku)
        except Exception as exc:  # the store is being closed or wiped by a rebalance
            log.info("reading %s: %s", sku, exc)
            found = None
        if found is not None:
            return found, None
        forwarded = await forward(request, sku, path_qs)
        if forwarded is not None:
            return None, forwarded
        return None, error(
            503, "not_ready", "the SKU's partition is moving between workers or restoring; retry"
        )

    def not_found(sku: str) -> web.Response:
        return error(404, "unknown_sku", f"no event has touched SKU {sku!r}")

    async def sku_answer(request: web.Request, sku: str, query: Mapping[str, str]) -> web.Response:
        """``GET /skus/{sku}`` with ``query``: for the route and for the operator's page."""
        try:
            at = time_param(query, "at")
        except BadTime as exc:
            return error(400, "bad_request", str(exc))
        found, response = await owned(request, sku, api_path(sku, "", query))
        if response is not None:
            return response
        env, book, partition, store = found
        if env is None:
            from stocksignal.processor.bundles import bundle_json, view_key

            raw = store.committed(view_key(sku))  # a bundle holds no stock: its view explains it
            if raw is not None and at is None:
                return web.json_response(
                    bundle_json(BundleView.from_dict(orjson.loads(raw)["view"]), partition)
                )
            return not_found(sku)
        if at is not None:
            return await from_ledger(
                lambda r: stock_at_json(r, partition), "stock_at", sku, at, positions_of(env.state)
            )
        return web.json_response(explain(env.state, book.book, env, partition))

    async def from_ledger(render: Callable[[Any], dict], method: str, *args: Any) -> web.Response:
        """A ledger read in the history's own executor: the loop keeps serving meanwhile."""
        from stocksignal.ledger.history import NotRetained
        from stocksignal.ledger.kafka import LedgerUnavailable

        if inspection.ledger is None:
            return error(503, "not_ready", "this worker does not read the ledger")
        call = getattr(inspection.ledger, method)
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                inspection.ledger.executor, call, *args
            )
        except NotRetained as exc:
            return error(422, "not_retained", str(exc))
        except LedgerUnavailable as exc:
            return error(503, "ledger_unavailable", str(exc))
        return web.json_response(render(result))

    async def movements_answer(
        request: web.Request, sku: str, query: Mapping[str, str]
    ) -> web.Response:
        """``GET /skus/{sku}/movements`` with ``query``: for the route and the operator's page."""
        try:
            since = time_param(query, "since")
            until = time_param(query, "until", default=int(time.time() * 1000))
        except BadTime as exc:
            return error(400, "bad_request", str(exc))
        most = MAX_MOVEMENTS if since is None else MAX_WINDOW_MOVEMENTS
        try:
            limit = int(query.get("limit", "50" if since is None else str(MAX_MOVEMENTS)))
        except ValueError:
            return error(400, "bad_request", "limit must be an integer")
        if not 1 <= limit <= most:
            return error(400, "bad_request", f"limit must be in 1..{most}")
        if since is not None and until is not None and until < since:
            return error(400, "bad_request", "until is before since")
        found, response = await owned(request, sku, api_path(sku, "/movements", query))
        if response is not None:
            return response
        env, _, _, store = found
        if env is None:
            return not_found(sku)
        if since is not None:
            return await from_ledger(window_json, "window", sku, since, until, limit)
        movements = _Committed(store).history(env, sku, inspection.history_size, limit)
        return web.json_response({"sku": sku, "movements": movements, "newest_first": True})

    @routes.get("/skus/{sku}")
    async def get_sku(request: web.Request) -> web.Response:
        return await sku_answer(request, request.match_info["sku"], request.query)

    @routes.get("/skus/{sku}/movements")
    async def get_movements(request: web.Request) -> web.Response:
        return await movements_answer(request, request.match_info["sku"], request.query)

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.Response:
        problem = healthy()
        if problem is not None:
            return error(500, "failing", problem)
        return web.json_response({"status": "ok"})

    @routes.get("/readyz")
    async def readyz(request: web.Request) -> web.Response:
        if inspection.runtime.ready():
            return web.json_response({"status": "ready"})
        remaining = inspection.runtime.restorer.remaining()
        return error(
            503,
            "not_ready",
            "joining the consumer group or restoring stores",
            restore_remaining_records=remaining,
        )

    @routes.get("/metrics")
    async def metrics_view(request: web.Request) -> web.Response:
        # The full type (with the exposition format version) goes in a header: aiohttp refuses
        # parameters in its content_type argument.
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    from stocksignal.processor.operator_page import PAGES, Answers, add_page_routes

    add_page_routes(routes, Answers(sku_answer, movements_answer, inspection), token_digests)
    app = web.Application()
    app.add_routes(routes)
    return secure(app, token_digests, pages=PAGES)


def api_path(sku: str, suffix: str, query: Mapping[str, str]) -> str:
    """The inspection API's path for ``sku`` (what a worker forwards to the SKU's owner)."""
    path = f"/skus/{quote(sku, safe='')}{suffix}"
    return path + ("?" + urlencode(dict(query)) if query else "")


class _Committed:
    """A store seen through its committed values only (history reads several keys)."""

    def __init__(self, store) -> None:
        self._store = store

    def get(self, key: bytes):
        return self._store.committed(key)

    def history(self, env: Envelope, sku: str, history_size: int, limit: int):
        return history(self, env, sku, history_size, limit)  # type: ignore[arg-type]


class WebServer:
    """Runs an aiohttp app on a thread of its own until :meth:`stop`."""

    def __init__(self, app, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="inspection-api", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        from stocksignal.web.server import start_site

        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            runner = loop.run_until_complete(start_site(self.app, self.host, self.port))
        except BaseException as exc:  # a busy port: reported to start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
