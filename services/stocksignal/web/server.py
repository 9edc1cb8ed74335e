"""Serving a stocksignal aiohttp application: errors, authentication, the port, the loop.

What every server does (docs/operations.md#http-security):

- :func:`secure` puts :func:`~stocksignal.web.errors.error_middleware` outermost and, with
  token digests, :func:`~stocksignal.web.auth.bearer_middleware` next.
- :func:`start_site` serves an app with :class:`~stocksignal.web.errors.JsonErrorRunner`
  (JSON even for malformed HTTP) on ``host:port``.
- :func:`check_port_free` says, before anything starts, that a port is taken.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

from aiohttp import web

from stocksignal.web.auth import PUBLIC_PATHS, bearer_middleware
from stocksignal.web.errors import JsonErrorRunner, error_middleware


class PortInUse(OSError):
    """The address a server should listen on is taken, or cannot be bound at all."""


def secure(
    app: web.Application, digests: Iterable[str] = (), public_paths: Iterable[str] = PUBLIC_PATHS
) -> web.Application:
    """Add the JSON error shape and, when ``digests`` is not empty, bearer authentication.

    Call before the app starts (aiohttp freezes its middlewares then). The error middleware
    becomes the outermost, authentication comes right after it: an unauthenticated request
    reaches neither a handler nor the router's 404, so paths cannot be probed.
    """
    digests = tuple(digests)
    front = [error_middleware] + ([bearer_middleware(digests, public_paths)] if digests else [])
    app.middlewares[:0] = front
    return app


def check_port_free(host: str, port: int, what: str) -> None:
    """:class:`PortInUse` when ``host:port`` cannot be bound now (another process has it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As servers bind: a port in TIME_WAIT after a restart is free, one being listened on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host or "0.0.0.0", port))
        except OSError as exc:
            reason = (
                "is in use by another process"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be used ({exc.strerror})"
            )
            raise PortInUse(exc.errno, f"{what}: {host or '0.0.0.0'}:{port} {reason}") from None


async def start_site(
    app: web.Application, host: str, port: int, **runner_kwargs
) -> JsonErrorRunner:
    """Start serving ``app`` on ``host:port``; ``await runner.cleanup()`` stops it."""
    runner = JsonErrorRunner(app, access_log=None, **runner_kwargs)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise PortInUse(exc.errno, f"{host}:{port} cannot be served: {exc.strerror}") from None
    return runner
