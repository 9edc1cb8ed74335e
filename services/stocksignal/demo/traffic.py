"""The demo's traffic: events produced to the input topics, and what they caused read back.

After each step the story waits (:meth:`Traffic.settle`) until the processor has applied the
step's commands (its metrics) and until the records they caused are read back from the output
topics; :meth:`Traffic.show_outputs` shows them, in the order the processor applied them.
"""

from __future__ import annotations

import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from stocksignal import bootstrap
from stocksignal.bench.probes import http_get, metric_sum
from stocksignal.demo import channels_part, script, supervisor
from stocksignal.demo.outputs import OutputReader
from stocksignal.demo.supervisor import DemoError, Supervisor
from stocksignal.demo.view import (
    PlainView,
    availability_line,
    decision_line,
    movement_line,
    order_line,
)

APPLIED = ("stocksignal_commands_applied_total", "stocksignal_duplicates_dropped_total")
STEP_TIMEOUT_S = 60.0


class Traffic:
    """The run's producer, codec and output reader."""

    def __init__(self, services: Supervisor, view: PlainView) -> None:
        self.services, self.view = services, view
        self.settings, self.run_id = services.settings, services.run_id
        self.codec = bootstrap.make_codec(self.settings)
        self.reader = OutputReader(self.settings)
        self._producer: Any = None  # confluent-kafka's Producer, made at the first send

    def close(self) -> None:
        self.reader.close()

    def send(self, step_key: str, sent: list[script.Sent]) -> list[str]:
        """Produce ``sent`` (validated, with common fields); returns their event ids."""
        from stocksignal.cli.common import kafka_client_overrides
        from stocksignal.contract import key_for, topic_for_record
        from stocksignal.domain import validate

        if self._producer is None:
            self._producer = bootstrap.make_producer(self.settings, **kafka_client_overrides())
        codec, producer = self.codec, self._producer
        ids = []
        now = int(time.time() * 1000)
        for i, event in enumerate(sent, start=1):
            record = {
                "event_id": f"demo-{self.run_id}-{step_key}-{i}",
                "occurred_at": now,
                "source": "stocksignal-demo",
                **event.fields,
            }
            validate(event.name, record)
            topic = topic_for_record(event.name)
            key = key_for(topic, event.name, record)
            producer.produce(
                self.settings.topic_prefix + topic, codec.encode(event.name, record), key.encode()
            )
            ids.append(record["event_id"])
        if producer.flush(30):
            raise DemoError(
                "events not delivered to Kafka within 30 s", supervisor.EXIT_UNAVAILABLE
            )
        return ids

    def handled(self) -> float:
        """Commands the processor applied (or dropped as repeats) so far; -1 when it is busy."""
        status, body = http_get(self.services.urls()["processor"] + "/metrics")
        if status != 200 or not isinstance(body, str):
            self.services.check_alive("processor")
            return -1.0
        return metric_sum(body, APPLIED)

    def wait_until(
        self, what: str, done: Callable[[], bool], timeout: float = STEP_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise DemoError(
                    f"timed out after {timeout:.0f}s waiting for {what}\nprocessor log:\n"
                    f"{self.services.log_tail('processor')}"
                )
            self.reader.pump(0.05)

    def settle(
        self,
        before: float,
        commands: int,
        skus: set[str],
        ids: list[str] | None = None,
        decisions: int = 0,
    ) -> None:
        """Until the processor applied ``commands`` more commands and their outputs are read:
        the SKUs' newest snapshots, the ``decisions`` the events ``ids`` cause, and everything
        acknowledged on the reservations and movements topics."""
        self.wait_until(
            f"the processor to apply {commands} command(s)",
            lambda: self.handled() >= before + commands,
        )
        wanted = set(ids or ())
        self.wait_until(
            f"{decisions} reservation decision(s)",
            lambda: (
                sum(o.cause in wanted for o in self.reader.records["reservations"]) >= decisions
            ),
        )
        for sku in sorted(skus):
            status, state = http_get(
                f"{self.services.urls()['processor']}/skus/{urllib.parse.quote(sku, safe='')}"
            )
            version = state["version"] if status == 200 else 0
            self.wait_until(
                f"{sku}'s availability version {version}", self._has_version(sku, version)
            )
        self.wait_until("the output topics to be read to their end", self.reader.caught_up)

    def _has_version(self, sku: str, version: int) -> Callable[[], bool]:
        return lambda: self.reader.version(sku) >= version

    def show_outputs(self, events: list[script.Sent], ids: list[str], orders: bool = False) -> None:
        """Each event sent, with the records it caused, in the order the processor applied them
        (by the records' log time, then by the ledger's offsets: a SKU's movements are in one
        partition, in the order they were decided). ``orders``: with each placement's
        OrderDecided too (the kit story; the day's one-line orders say it all in their line)."""
        lines = {
            "reservations": ("decided", decision_line),
            "movements": ("ledger", movement_line),
            "availability": ("available", availability_line),
            "levels": ("level", channels_part.level_line),
        }
        if orders:
            lines["orders"] = ("order", order_line)
        caused = {
            cause: [o for o in outputs if o.kind in lines]
            for cause, outputs in self.reader.caused_by(ids).items()
        }

        def applied_order(item: tuple[int, str]) -> tuple[int, int, int]:
            index, event_id = item
            outputs = caused.get(event_id, [])
            first = min((o.timestamp for o in outputs), default=sys.maxsize)
            ledger = min((o.offset for o in outputs if o.kind == "movements"), default=sys.maxsize)
            return (first, ledger, index)

        for index, event_id in sorted(enumerate(ids), key=applied_order):
            self.view.sent(events[index].describe())
            outputs = caused.get(event_id, [])
            if not outputs:
                self.view.output("", "(nothing published: no bucket changed)")
            for kind, (label, line) in lines.items():
                for o in outputs:
                    if o.kind == kind:
                        self.view.output(label, line(o.record or {}))
            kinds = {o.kind for o in outputs}
            if "movements" in kinds and "availability" not in kinds:
                self.view.output(
                    "available", "(in the next snapshot of the SKU: coalesced within one commit)"
                )
