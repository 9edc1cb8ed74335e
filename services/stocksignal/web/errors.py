"""One JSON error shape for every 4xx and 5xx of every stocksignal HTTP server.

    {"error": "not_found", "message": "no such endpoint: /nope"}

``error`` is a stable snake_case code a client can branch on, ``message`` is for people;
handlers may add fields of their own (the storefront API adds ``sku``, ``channel``...).
Bodies never carry a stack trace or an internal address: a 500 is logged here with its
traceback and answered with a fixed message (docs/adapters.md#errors).

Two places make errors: :func:`error_middleware` turns everything a handler or aiohttp's
router raises (404, 405, 413, any exception) into the shape; :class:`JsonErrorRunner`
replaces aiohttp's own plain-text answers to requests that never reach the application
(malformed HTTP: 400, header limits: 431, handler timeouts: 504).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web, web_protocol, web_server

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

INTERNAL_MESSAGE = "the server failed to answer this request; the failure is logged"
# Codes that are not simply HTTPStatus's phrase in snake_case.
CODES = {400: "bad_request", 413: "payload_too_large", 500: "internal_error"}
# Headers of aiohttp's own HTTP exceptions that a client needs: the methods a 405 allows.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def error_code(status: int) -> str:
    if status in CODES:
        return CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def error_response(
    status: int, error: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> web.Response:
    """The one error shape: ``{"error", "message", ...extra}`` as application/json."""
    body = orjson.dumps({"error": error, "message": message, **extra})
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers = {k: exc.headers[k] for k in KEPT_HEADERS if k in exc.headers}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here; allowed: {allowed}",
            headers,
        )
    if isinstance(exc, web.HTTPNotFound):
        return error_response(404, "not_found", f"no such endpoint: {request.path}", headers)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        # aiohttp's text names the limit: "Maximum request body size 1024 exceeded."
        return error_response(
            413, "payload_too_large", f"the request body is too large: {exc.text}", headers
        )
    # aiohttp's default reason is the status phrase; a custom text is what the raiser meant to say.
    return error_response(exc.status, error_code(exc.status), exc.text or exc.reason, headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: every failure leaves as the JSON error shape."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are answers, not errors
        return _from_http_exception(request, exc)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal_error", INTERNAL_MESSAGE)
    return response


class _JsonErrorHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering requests it refuses itself in the JSON shape."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own version logs the failure and raises if a response was already sent;
        # only its plain-text body is replaced (its message may quote the client's bytes).
        super().handle_error(request, status, exc, message)
        text = (
            INTERNAL_MESSAGE
            if status >= 500
            else "the request is not valid HTTP or exceeds a limit"
        )
        response = error_response(status, error_code(status), text)
        response.force_close()
        return response


class _JsonErrorServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` whose connection handler answers in the JSON shape.

    Use it instead of ``web.AppRunner`` (or ``web.run_app``) to serve a stocksignal app.
    """

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        # The runner builds aiohttp's Server; only which handler each connection gets changes.
        server.__class__ = _JsonErrorServer
        return server
