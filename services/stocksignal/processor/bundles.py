"""Bundles in the processor: each command partition's catalogue, bundle availability, and the
refusal of stock events that name a bundle (docs/processor.md#bundles-and-all-or-nothing-orders).

Three kinds of command, all applied by :class:`Bundles` in their partition's log order and in
the worker's open transaction (so every step commits with the offsets it consumed):

- ``DefineBundle`` / ``RemoveBundle`` *from the router* go to the bundle SKU's own partition
  only: it alone knows whether the SKU holds stock, so it alone decides. A refusal goes to the
  DLQ as the original input record (its key, value and headers, carried in ``origin``). An
  accepted change is applied to the partition's catalogue and appended, ``accepted``, to every
  other partition, which applies it in its own log order (as a channel change is).
- Every partition that applies a change tells the bundle's partition the current availability
  of the components it owns (``ObserveComponent``), and from then on after every snapshot of
  such a component it produces (the publisher's ``on_snapshot``).
- ``ObserveComponent`` at the bundle's partition updates the bundle's view (domain.bundles)
  and publishes the bundle's ``AvailabilityChanged`` when a channel's value changed: keyed by
  the bundle SKU, no locations, its own version. It trails the component by one commit.

Store keys (in the command partition's ``stock`` store, so in its changelog):
``NUL c NUL partition`` -> the catalogue and the position of the last catalogue command;
``NUL v NUL bundle_sku`` -> the bundle's view and the position of the last command applied to it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from stocksignal.contract import Codec, DlqReason, dlq_headers, partition_for
from stocksignal.domain import (
    Bundle,
    BundleView,
    CancelLine,
    CatalogCommand,
    Catalogue,
    Cause,
    ConfirmLine,
    DefineBundle,
    ExpireHolds,
    ObserveComponent,
    PlaceLine,
    SkuCommand,
    apply_catalog_command,
    command_to_dict,
    dedupe_key,
    observe,
    redefine,
    refusal,
    stock_refusal,
    within_window,
)
from stocksignal.processor import batches
from stocksignal.processor.envelope import Marker, channel_marker_key
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.publisher import ANY_PARTITION

log = logging.getLogger(__name__)

CATALOG_PREFIX = b"\x00c\x00"
VIEW_PREFIX = b"\x00v\x00"
CATALOG_RECORDS = ("BundleDefined", "BundleRemoved")
# Commands of order events: every other SKU command names physical stock.
_ORDER_COMMANDS = (PlaceLine, ConfirmLine, CancelLine, ExpireHolds)

Send = Callable[[str, int, bytes | None, bytes | None, list | None], None]


def catalog_key(partition: int) -> bytes:
    return CATALOG_PREFIX + str(partition).encode()


def view_key(bundle_sku: str) -> bytes:
    return VIEW_PREFIX + bundle_sku.encode()


@dataclass(slots=True)
class CatalogEnvelope:
    catalogue: Catalogue
    applied_pos: int = -1

    def to_bytes(self) -> bytes:
        return orjson.dumps({"c": self.catalogue.to_dict(), "o": self.applied_pos})

    @classmethod
    def from_bytes(cls, data: bytes) -> CatalogEnvelope:
        d = orjson.loads(data)
        return cls(Catalogue.from_dict(d["c"]), d["o"])


def read_view(store, bundle_sku: str) -> tuple[BundleView | None, int]:
    """A bundle's view and the position it reflects (None, -1: never defined here)."""
    raw = store.get(view_key(bundle_sku))
    if raw is None:
        return None, -1
    d = orjson.loads(raw)
    return BundleView.from_dict(d["view"]), d["o"]


def origin_of(msg) -> str:
    """The input record a catalogue command came from, as its DLQ copy needs it."""

    def b64(b: bytes | None) -> str | None:
        return None if b is None else base64.b64encode(b).decode()

    return orjson.dumps(
        {
            "t": msg.topic(),
            "p": msg.partition(),
            "o": msg.offset(),
            "k": b64(msg.key()),
            "v": b64(msg.value()),
            "h": [[k, b64(v)] for k, v in (msg.headers() or ())],
        }
    ).decode()


def with_origin(commands: list, msg) -> list:
    origin = origin_of(msg)
    for command in commands:
        if isinstance(command, CatalogCommand):
            command.origin = origin
    return commands


@dataclass(frozen=True)
class BundlesConfig:
    command_topic: str
    command_partitions: int
    dlq_topic: str
    dlq_partitions: int
    availability_topic: str
    dedupe_window_ms: int


class Bundles:
    def __init__(
        self,
        config: BundlesConfig,
        codec: Codec,
        metrics: ProcessorMetrics,
        send: Callable[[], Send],
        envelope: Callable,
        clock_ms: Callable[[], int],
    ) -> None:
        self.config = config
        self.codec = codec
        self.metrics = metrics
        self._send = send  # the runtime binds the publisher's send late: look it up per call
        self._envelope = envelope  # the applier's SKU envelope loader (open transaction included)
        self._clock_ms = clock_ms
        # The newest catalogue this worker read or wrote on any partition: the router's view
        # of which SKUs are bundles (an order with a bundle line goes to its saga).
        self.view: Catalogue | None = None

    # --- the partition's catalogue -----------------------------------------------------------

    def catalogue(self, ps) -> CatalogEnvelope:
        """The partition's catalogue, read once per partition state and kept on it."""
        env = ps.catalog
        if env is None:
            raw = ps.store.get(catalog_key(ps.store.partition))
            env = ps.catalog = (
                CatalogEnvelope.from_bytes(raw) if raw is not None else CatalogEnvelope(Catalogue())
            )
            if env.catalogue.bundles or self.view is None:
                self.view = env.catalogue
        return env

    @staticmethod
    def handles(command) -> bool:
        return isinstance(command, (CatalogCommand, ObserveComponent))

    def apply(self, ps, pos: int, command) -> None:
        if isinstance(command, ObserveComponent):
            self._observe(ps, pos, command)
        elif command.accepted:
            self._apply_accepted(ps, pos, command)
        else:
            self._decide(ps, pos, command)

    def refuses(self, ps, pos: int, command: SkuCommand) -> bool:
        """A stock, pick, shipment, return or transfer command naming a bundle: refused, with a
        DLQ copy of the command (the input record it came from has been split already)."""
        if isinstance(command, _ORDER_COMMANDS):
            return False
        catalogue = self.catalogue(ps).catalogue
        if not catalogue.bundles:
            return False
        why = stock_refusal(catalogue, command.sku)
        if why is None:
            return False
        partition = ps.store.partition
        record = command_to_dict(command)
        key = (
            getattr(command, "order_id", None) or getattr(command, "return_id", None) or command.sku
        ).encode()
        headers = dlq_headers(
            DlqReason.VALIDATION_ERROR,
            why,
            topic=self.config.command_topic,
            partition=partition,
            offset=batches.offset_of(pos),
        )
        self._dlq(key, orjson.dumps(record), headers, self.config.command_topic)
        return True

    # --- catalogue commands ------------------------------------------------------------------

    def _seen(self, ps, pos: int, command: CatalogCommand) -> bool:
        env = self.catalogue(ps)
        if pos <= env.applied_pos:
            self.metrics.replayed.inc()
            return True
        mkey = channel_marker_key(ps.store.partition, dedupe_key(command))
        raw = ps.store.get(mkey)
        if raw is not None:
            marker = Marker.from_bytes(raw)
            if marker.pos != pos and within_window(
                marker.logged_at, command.logged_at, self.config.dedupe_window_ms
            ):
                self.metrics.bump(self.metrics.duplicates, command.event_type)
                return True
        ps.store.put(mkey, Marker(command.logged_at, pos).to_bytes())
        return False

    def _decide(self, ps, pos: int, command: CatalogCommand) -> None:
        """At the bundle's own partition: refuse, or apply and tell every other partition."""
        if self._seen(ps, pos, command):
            return
        env = self.catalogue(ps)
        if isinstance(command, DefineBundle):
            bundle = Bundle.of(command.bundle_sku, command.components)
            state = self._envelope(ps.store, command.bundle_sku)
            why = refusal(
                env.catalogue, bundle, stocked=state is not None and bool(state.state.positions)
            )
            if why is not None:
                self._refuse(command, why)
                self._write_catalogue(ps, env.catalogue, pos)  # the position, so a replay skips it
                return
        self._apply_accepted(ps, pos, command, seen=True)
        accepted = command_to_dict(command)
        accepted.update(accepted=True, origin=None)
        payload = orjson.dumps([accepted])
        send, topic = self._send(), self.config.command_topic
        for p in range(self.config.command_partitions):
            if p != ps.store.partition:
                send(topic, p, None, payload, None)

    def _apply_accepted(self, ps, pos: int, command: CatalogCommand, seen: bool = False) -> None:
        if not seen and self._seen(ps, pos, command):
            return
        catalogue = apply_catalog_command(self.catalogue(ps).catalogue, command)
        self._write_catalogue(ps, catalogue, pos)
        self.metrics.bump(self.metrics.commands_applied, type(command).__name__)
        bundle = catalogue.get(command.bundle_sku)
        cause = Cause(command.event_id, command.event_type, command.occurred_at)
        if self._owner(command.bundle_sku) == ps.store.partition:
            view, _ = read_view(ps.store, command.bundle_sku)
            channels = tuple(sorted(ps.book.book.configured))
            view, snapshot = redefine(
                view or BundleView(command.bundle_sku), bundle, cause, channels
            )
            self._write_view(ps, view, pos)
            self._publish(snapshot)
        if bundle is not None:
            for component in bundle.components:  # what this partition knows of them, now
                if self._owner(component.sku) == ps.store.partition:
                    env = self._envelope(ps.store, component.sku)
                    if env is not None:
                        values = ps.book.book.ats(env.state)
                        self._tell(
                            bundle.bundle_sku, component.sku, values, cause, command.logged_at
                        )

    def _write_catalogue(self, ps, catalogue: Catalogue, pos: int) -> None:
        ps.catalog = CatalogEnvelope(catalogue, pos)
        self.view = catalogue
        ps.store.put(catalog_key(ps.store.partition), ps.catalog.to_bytes())

    def _refuse(self, command: CatalogCommand, why: str) -> None:
        o = orjson.loads(command.origin) if command.origin else None
        if o is None:  # no origin (a command written by hand): the command itself
            key, value, topic, partition, offset, original = (
                command.bundle_sku.encode(),
                orjson.dumps(command_to_dict(command)),
                self.config.command_topic,
                -1,
                -1,
                [],
            )
        else:
            dec = lambda s: None if s is None else base64.b64decode(s)  # noqa: E731
            key, value, topic, partition, offset = dec(o["k"]), dec(o["v"]), o["t"], o["p"], o["o"]  # type: ignore[assignment]
            original = [(k, dec(v)) for k, v in o["h"]]
        headers = dlq_headers(
            DlqReason.VALIDATION_ERROR,
            why,
            topic=topic,
            partition=partition,
            offset=offset,
            original=original,
        )
        self._dlq(key, value, headers, topic)

    def _dlq(self, key: bytes | None, value: bytes | None, headers: list, topic: str) -> None:
        self.metrics.dead_lettered(str(DlqReason.VALIDATION_ERROR), topic)
        partition = partition_for(key, self.config.dlq_partitions) if key else 0
        self._send()(self.config.dlq_topic, partition, key, value, headers)

    # --- bundle availability -----------------------------------------------------------------

    def on_snapshot(self, ps, sku: str, snapshot: dict[str, Any]) -> None:
        """The publisher produced a snapshot of ``sku``: tell every bundle containing it."""
        if ps is None:
            return
        catalogue = self.catalogue(ps).catalogue
        if not catalogue.bundles:
            return
        bundles = catalogue.containing(sku)
        if not bundles:
            return
        values = {c["channel_id"]: c["available"] for c in snapshot["channels"]}
        cause = Cause(
            snapshot["cause_event_id"], snapshot["cause_event_type"], snapshot["occurred_at"]
        )
        for bundle in bundles:
            self._tell(
                bundle.bundle_sku, sku, values, cause, snapshot["published_at"], snapshot["version"]
            )

    def _tell(
        self,
        bundle_sku: str,
        component: str,
        values: dict[str, int],
        cause: Cause,
        logged_at: int,
        version: int = 0,
    ) -> None:
        command = ObserveComponent(
            command_id=f"observe:{component}@{version}:{cause.event_id}>{bundle_sku}",
            event_id=cause.event_id,
            event_type=cause.event_type,
            occurred_at=cause.occurred_at,
            logged_at=logged_at,
            sku=bundle_sku,
            component=component,
            values=tuple(sorted(values.items())),
        )
        payload = orjson.dumps([command_to_dict(command)])
        self._send()(self.config.command_topic, self._owner(bundle_sku), None, payload, None)

    def _observe(self, ps, pos: int, command: ObserveComponent) -> None:
        view, applied = read_view(ps.store, command.sku)
        if view is None or pos <= applied:
            return  # not a bundle here (removed long ago), or applied already
        cause = Cause(command.event_id, command.event_type, command.occurred_at)
        view, snapshot = observe(view, command.component, dict(command.values), cause)
        self._write_view(ps, view, pos)
        self._publish(snapshot)
        self.metrics.bump(self.metrics.commands_applied, "ObserveComponent")

    def _write_view(self, ps, view: BundleView, pos: int) -> None:
        ps.store.put(view_key(view.bundle_sku), orjson.dumps({"view": view.to_dict(), "o": pos}))

    def _publish(self, snapshot) -> None:
        if snapshot is None:
            return
        record = snapshot.to_record()
        record["published_at"] = self._clock_ms()
        value = self.codec.encode("AvailabilityChanged", record, check=False)
        self._send()(
            self.config.availability_topic, ANY_PARTITION, snapshot.sku.encode(), value, None
        )
        self.metrics.availability_published.inc()

    def _owner(self, sku: str) -> int:
        return partition_for(sku, self.config.command_partitions)


def install(
    applier,
    publisher,
    codec: Codec,
    metrics: ProcessorMetrics,
    *,
    command_topic: str,
    command_partitions: int,
    dlq_topic: str,
    dlq_partitions: int,
    availability_topic: str,
    dedupe_window_ms: int,
) -> Bundles:
    """Give the applier its bundle commands and the publisher its snapshot hook (bootstrap.py
    and the tests' world compose the processor the same way)."""
    config = BundlesConfig(
        command_topic,
        command_partitions,
        dlq_topic,
        dlq_partitions,
        availability_topic,
        dedupe_window_ms,
    )
    bundles = Bundles(
        config,
        codec,
        metrics,
        lambda: publisher.send,
        applier.envelope,
        lambda: int(applier.clock() * 1000),
    )
    applier.bundles = bundles
    publisher.on_snapshot = bundles.on_snapshot
    return bundles


def bundle_json(view: BundleView, partition: int) -> dict[str, Any]:
    """The inspection API's answer for a bundle: its components and, per channel, why its
    number is what it is (the scarcest component first; domain.bundles.limits)."""
    from stocksignal.domain import limits

    channels = []
    for channel_id, available in sorted((view.published or {}).items()):
        per = limits(view.bundle, view.components, channel_id) if view.bundle is not None else []
        channels.append(
            {
                "channel_id": channel_id,
                "available": available,
                "limited_by": per[0].sku if per else None,
                "components": [
                    {"sku": x.sku, "available": x.available, "qty": x.qty, "bundles": x.bundles}
                    for x in per
                ],
            }
        )
    return {
        "sku": view.bundle_sku,
        "bundle": True,
        "defined": view.bundle is not None,
        "version": view.version,
        "partition": partition,
        "components": []
        if view.bundle is None
        else [{"sku": c.sku, "qty": c.qty} for c in view.bundle.components],
        "channels": channels,
    }
