"""Process, Python runtime and build metrics, added to each process's own registry.

Every stocksignal process keeps its metrics in a ``CollectorRegistry`` of its own (so several
workers can share a process in tests and the demo). prometheus-client registers its process,
platform and garbage-collector collectors only on its global ``REGISTRY``, which nothing here
serves: that is why ``/metrics`` had no ``process_*`` or ``python_*`` series. This module adds
them, and ``stocksignal_build_info``, to a registry (docs/operations.md#metrics-dashboard-and-alerts).
"""

from __future__ import annotations

import platform
import weakref

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)

from stocksignal import __version__

# Registries that have them already: a collector registered twice is an error.
_DONE: weakref.WeakSet[CollectorRegistry] = weakref.WeakSet()


def register_process_metrics(registry: CollectorRegistry, commit: str = "") -> CollectorRegistry:
    """Add ``process_*``, ``python_info``, ``python_gc_*`` and ``stocksignal_build_info`` to
    ``registry`` once (a second call is a no-op, so every builder may call it); returns it."""
    if registry in _DONE:
        return registry
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    info = Gauge(
        "stocksignal_build_info",
        "Always 1: the stocksignal version, Python version and source commit (empty: unknown) of this process",
        ["version", "python", "commit"],
        registry=registry,
    )
    info.labels(__version__, platform.python_version(), commit).set(1)
    _DONE.add(registry)
    return registry
