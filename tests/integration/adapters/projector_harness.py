"""Running the projector inside the test process, and reading back what it projected."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry

from stocksignal.adapters.keys import Keys
from stocksignal.adapters.snapshot import availability_from_hash
from stocksignal.bootstrap import build_projector
from stocksignal.settings import Settings


class InProcessProjector:
    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry()
        self.projector = build_projector(settings, self.registry)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(
            target=self.projector.run, args=(self.stop_flag.is_set,), daemon=True
        )

    def __enter__(self) -> InProcessProjector:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop_flag.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the projector did not stop within 30 s"

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def projected(client: Any, prefix: str) -> dict[str, tuple[int, dict[str, int]]]:
    """sku -> (version, channels) of every SKU in the read model under ``prefix``."""
    keys = Keys(prefix)
    marker = keys.availability("")
    result = {}
    for key in client.scan_iter(match=keys.availability_pattern, count=1000):
        sku = key[len(marker) :]
        found = availability_from_hash(sku, client.hgetall(key))
        if found is not None:
            result[sku] = (found.version, found.channels)
    return result


def meta(client: Any, prefix: str) -> dict[str, str]:
    return client.hgetall(Keys(prefix).projector_meta)


def ready(client: Any, prefix: str) -> bool:
    """The read model was built (or its rebuild claimed) and no partition is being replayed."""
    m = meta(client, prefix)
    return "run_id" in m and not any(name.startswith("rebuild:") for name in m)
