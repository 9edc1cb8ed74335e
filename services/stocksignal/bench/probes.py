"""Ports, HTTP probes, metric sums and waits: what every harness of running services needs.

One copy for the benchmarks, the demo (stocksignal.demo.supervisor) and the tests
(tests/support re-exports it). Standard library only.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; another process may take it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports, held open together while they are picked."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (with SO_REUSEADDR, as our servers do: a
    port whose last connections are in TIME_WAIT after a previous run is free)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def http_get(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    """(status, JSON body or text); (0, None) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


def metric_sum(text: str, names: Iterable[str]) -> float:
    """The sum of every sample of the metrics ``names`` (all label sets) in a Prometheus text
    page; 0 when none is there."""
    total = 0.0
    wanted = tuple(names)
    for line in text.splitlines():
        for name in wanted:
            m = re.match(rf"{re.escape(name)}(?:\{{.*\}})? (\S+)$", line)
            if m:
                total += float(m.group(1))
    return total


def wait_until(
    check: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.05,
    alive: Callable[[], None] | None = None,
) -> T:
    """``check()``'s first true value, asked every ``interval`` s; TimeoutError naming ``what``
    after ``timeout`` s. ``alive`` raises when what is waited for can no longer come (a process
    died), so that a wait does not last its whole timeout for nothing."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
