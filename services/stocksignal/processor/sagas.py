"""The order saga in the processor: whole-order decisions owned by the order's command
partition (docs/processor.md#bundles-and-all-or-nothing-orders; the steps are
stocksignal.domain.order_saga's).

The router sends an order that needs a whole-order decision (``ALL_OR_NOTHING``, or a line the
worker's catalogue knows as a bundle) as one ``PlaceOrder`` to partition ``murmur2(order_id)``,
and that order's later confirmations and cancellations as ``ForwardOrder``. There, in log
order and each in the transaction of the offsets it consumed:

- ``PlaceOrder``: expand, start the saga (``NUL o NUL order_id``), append a ``PlaceOrderLine``
  to each line's SKU partition;
- the SKU partition decides the line as any PlaceLine and appends ``LineDecided``;
- ``LineDecided``: record it; with every line in, either release the reserved lines of an
  incomplete ``ALL_OR_NOTHING`` order (``ReleaseOrderLine``, answered by ``LineReleased``) or
  publish ``OrderDecided``;
- ``LineReleased``: after the last one, publish ``OrderDecided``;
- ``ForwardOrder``: pass the order event's per-SKU commands on (after the saga's own lines).

Every command the saga appends carries the placement's event id and log time, so its ids are
those the in-memory model gives, and a replay gives the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from stocksignal.contract import Codec, partition_for
from stocksignal.domain import (
    ForwardOrder,
    Fulfilment,
    LineDecided,
    LineReleased,
    OrderCommand,
    OrderRef,
    PlaceLine,
    PlaceOrder,
    PlaceOrderLine,
    ReleaseOrderLine,
    command_to_dict,
    order_saga,
)
from stocksignal.domain.order_saga import OrderSaga
from stocksignal.domain.symbols import DecisionReason
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.publisher import ANY_PARTITION

log = logging.getLogger(__name__)

SAGA_PREFIX = b"\x00o\x00"
Send = Callable[[str, int, bytes | None, bytes | None, list | None], None]


def saga_key(order_id: str) -> bytes:
    return SAGA_PREFIX + order_id.encode()


class Sagas:
    def __init__(
        self,
        command_topic: str,
        command_partitions: int,
        decisions_topic: str,
        codec: Codec,
        metrics: ProcessorMetrics,
        send: Callable[[], Send],
        bundles,
    ) -> None:
        self.command_topic = command_topic
        self.partitions = command_partitions
        self.decisions_topic = decisions_topic
        self.codec = codec
        self.metrics = metrics
        self._send = send
        self.bundles = bundles  # the partition's catalogue, and the worker's latest view of it
        # The ready command partitions' stores (the runtime's ``serving``), set once the runtime
        # exists: the router's view of which SKUs are bundles is read from their catalogues.
        self.stores: Callable[[], dict] | None = None
        self._view: Any = None
        self._view_at = -1.0

    # --- routing (the router's side) ---------------------------------------------------------

    def route(self, name: str, record: dict, commands: list, orders, logged_at: int) -> list:
        """The commands to send for one input event: a whole-order command for a saga's order,
        else ``commands`` as split."""
        if name == "OrderPlaced":
            view = self.view()
            # No view (no command partition read yet, e.g. a worker just started): split per
            # SKU as in v1; a bundle line then reaches the bundle's partition, which sends it
            # on to a saga of its own (redirect).
            bundle_line = view is not None and any(
                view.is_bundle(line["sku"]) for line in record["lines"]
            )
            if (
                record.get("fulfilment", Fulfilment.PER_LINE) != Fulfilment.ALL_OR_NOTHING
                and not bundle_line
            ):
                return commands
            if orders is not None:  # later events of the order follow it through its partition
                self._remember(orders, record, logged_at)
            first = commands[0]
            return [
                PlaceOrder(
                    command_id=f"{record['event_id']}@{logged_at}",
                    event_id=first.event_id,
                    event_type=first.event_type,
                    occurred_at=first.occurred_at,
                    logged_at=logged_at,
                    source=first.source,
                    order_id=record["order_id"],
                    channel_id=record["channel_id"],
                    lines=tuple((line["sku"], line["qty"]) for line in record["lines"]),
                    fulfilment=record.get("fulfilment", Fulfilment.PER_LINE),
                    hold_expires_at=record.get("hold_expires_at"),
                )
            ]
        if name in ("OrderConfirmed", "OrderCancelled") and orders is not None and commands:
            known = orders.get(record["order_id"])
            if known is not None and SAGA_FLAG in known.fanned_out:
                first = commands[0]
                return [
                    ForwardOrder(
                        command_id=f"{first.event_id}@{logged_at}",
                        event_id=first.event_id,
                        event_type=first.event_type,
                        occurred_at=first.occurred_at,
                        logged_at=logged_at,
                        source=first.source,
                        order_id=record["order_id"],
                        commands=tuple(orjson.dumps(command_to_dict(c)).decode() for c in commands),
                    )
                ]
        return commands

    def _remember(self, orders, record: dict, logged_at: int) -> None:
        """A null-line cancel or a confirmation must reach the components: remember the order
        with its lines expanded as the router's catalogue sees them, and that it is a saga's."""
        expanded = order_saga.expand(record["lines"], self.view() or _empty())
        ref = OrderRef(
            record["order_id"], record["channel_id"], tuple(s for s, _ in expanded.lines)
        )
        known = orders.get(record["order_id"])
        skus = tuple(dict.fromkeys((*(known.skus if known else ()), *ref.skus)))
        fanned_out = {**(known.fanned_out if known else {}), SAGA_FLAG: 0}
        orders.put(OrderRef(ref.order_id, ref.channel_id, skus, fanned_out), logged_at)

    def view(self):
        """Every bundle any of the worker's command partitions knows (committed), read again at
        most every 200 ms, with what this worker applied since. Routing commits with its input
        offsets, so a view that is a little behind never decides an order twice: a bundle
        line routed per SKU by a stale view is rejected for want of stock, never oversold."""
        now = time.monotonic()
        if self.stores is not None and (self._view is None or now - self._view_at > 0.2):
            from stocksignal.domain import Catalogue
            from stocksignal.processor.bundles import CatalogEnvelope, catalog_key

            bundles: dict = {}
            stores = list(self.stores().items())
            for p, store in stores:
                try:
                    raw = store.committed(catalog_key(p))
                except Exception:  # the store is being closed by a rebalance: next time
                    continue
                if raw is not None:
                    bundles.update(CatalogEnvelope.from_bytes(raw).catalogue.bundles)
            if stores:  # none ready (restoring after a rebalance): keep what was known
                self._view, self._view_at = Catalogue(bundles), now
        applied = self.bundles.view
        if self._view is None:
            return applied
        if applied is not None and applied.bundles.keys() - self._view.bundles.keys():
            from stocksignal.domain import Catalogue

            return Catalogue({**self._view.bundles, **applied.bundles})
        return self._view

    # --- applying (the order's partition, and the SKUs' replies) -----------------------------

    @staticmethod
    def handles(command) -> bool:
        return isinstance(command, OrderCommand)

    def apply(self, ps, pos: int, command: OrderCommand) -> None:
        env = _read(ps.store, command.order_id)
        if env is not None and pos <= env["o"]:
            self.metrics.replayed.inc()
            return
        if isinstance(command, PlaceOrder):
            self._place(ps, pos, command, env)
        elif isinstance(command, ForwardOrder):
            self._forward(command, env)
            if env is not None:
                _write(ps.store, command.order_id, {**env, "o": pos})
        elif env is not None:
            saga = OrderSaga.from_dict(env["saga"])
            if isinstance(command, LineDecided):
                saga, steps = order_saga.line_decided(
                    saga, command.sku, command.qty_reserved, env["t"]
                )
            else:
                assert isinstance(command, LineReleased)
                saga, steps = order_saga.line_released(saga, command.sku, env["t"])
            env = {**env, "saga": saga.to_dict(), "o": pos}
            _write(ps.store, command.order_id, env)
            self._steps(env, steps)
        self.metrics.bump(self.metrics.commands_applied, type(command).__name__)

    def _place(self, ps, pos: int, cmd: PlaceOrder, env: dict | None) -> None:
        if env is not None and env["e"] == cmd.event_id:
            return  # the same placement sent again: decided once
        if env is not None and OrderSaga.from_dict(env["saga"]).phase != order_saga.Phase.DECIDED:
            log.warning(
                "order %s placed again while being decided: the new placement is ignored",
                cmd.order_id,
            )
            return
        catalogue = self.bundles.catalogue(ps).catalogue
        lines = [{"sku": s, "qty": q} for s, q in cmd.lines]
        expanded = order_saga.expand(lines, catalogue, cmd.fulfilment)
        saga, steps = order_saga.start(
            cmd.order_id,
            cmd.channel_id,
            expanded,
            command_id=cmd.command_id,
            cause_event_id=cmd.event_id,
            decided_at=cmd.logged_at,
        )
        env = {
            "saga": saga.to_dict(),
            "o": pos,
            "t": cmd.logged_at,
            "e": cmd.event_id,
            "occ": cmd.occurred_at,
            "src": cmd.source,
            "hold": cmd.hold_expires_at,
        }
        _write(ps.store, cmd.order_id, env)
        self._steps(env, steps)

    def _steps(self, env: dict, steps: list) -> None:
        saga = env["saga"]
        common = {
            "event_type": "OrderPlaced",
            "occurred_at": env["occ"],
            "logged_at": env["t"],
            "source": env["src"],
            "order_id": saga["order_id"],
        }
        out: dict[int, list] = {}
        for step in steps:
            cmd: PlaceOrderLine | ReleaseOrderLine
            if isinstance(step, order_saga.Place):
                cmd = PlaceOrderLine(
                    command_id=f"{env['e']}:{step.sku}@{env['t']}",
                    event_id=env["e"],
                    sku=step.sku,
                    channel_id=saga["channel_id"],
                    qty=step.qty,
                    hold_expires_at=env["hold"],
                    **common,
                )
            elif isinstance(step, order_saga.Release):
                release_id = f"{env['e']}/incomplete"
                cmd = ReleaseOrderLine(
                    command_id=f"{release_id}:{step.sku}@{env['t']}",
                    event_id=release_id,
                    sku=step.sku,
                    qty=None,
                    reason=DecisionReason.ORDER_INCOMPLETE,
                    **common,
                )
            else:
                self._publish(step.decision)
                continue
            out.setdefault(partition_for(cmd.sku, self.partitions), []).append(command_to_dict(cmd))
        for p, commands in sorted(out.items()):
            self._send()(self.command_topic, p, None, orjson.dumps(commands), None)

    def _forward(self, cmd: ForwardOrder, env: dict | None) -> None:
        """Pass the commands on; a cancel of a bundle line cancels the components the order was
        placed with (qty x units per bundle)."""
        bundles = {} if env is None else {b[0]: b[2] for b in env["saga"]["bundles"]}
        out: dict[int, list] = {}
        for raw in cmd.commands:
            d = orjson.loads(raw)
            parts = [d]
            if d["sku"] in bundles and d.get("type") == "CancelLine":
                parts = [
                    {
                        **d,
                        "sku": sku,
                        "command_id": f"{d['command_id']}>{sku}",
                        "qty": None if d.get("qty") is None else d["qty"] * n,
                    }
                    for sku, n in bundles[d["sku"]]
                ]
            for part in parts:
                out.setdefault(partition_for(part["sku"], self.partitions), []).append(part)
        for p, commands in sorted(out.items()):
            self._send()(self.command_topic, p, None, orjson.dumps(commands), None)

    def _publish(self, decision) -> None:
        value = self.codec.encode("OrderDecided", decision.to_record(), check=False)
        self._send()(self.decisions_topic, ANY_PARTITION, decision.order_id.encode(), value, None)
        self.metrics.bump(self.metrics.decisions, f"ORDER_{decision.status}")

    def redirect(self, ps, command) -> bool:
        """A plain PlaceLine for a SKU this partition's catalogue says is a bundle: the router
        did not know it yet. The line is sent to a saga of its own (the order's partition),
        ALL_OR_NOTHING, with the ids the router's saga would have given it; the order's other
        lines, split per SKU, stay decided on their own. True when redirected."""
        if type(command) is not PlaceLine or not self.bundles.catalogue(ps).catalogue.is_bundle(
            command.sku
        ):
            return False
        order = PlaceOrder(
            command_id=f"{command.event_id}@{command.logged_at}",
            event_id=command.event_id,
            event_type=command.event_type,
            occurred_at=command.occurred_at,
            logged_at=command.logged_at,
            source=command.source,
            order_id=command.order_id,
            channel_id=command.channel_id,
            lines=((command.sku, command.qty),),
            fulfilment=Fulfilment.ALL_OR_NOTHING,
            hold_expires_at=command.hold_expires_at,
        )
        payload = orjson.dumps([command_to_dict(order)])
        self._send()(
            self.command_topic,
            partition_for(command.order_id, self.partitions),
            None,
            payload,
            None,
        )
        self.metrics.bump(self.metrics.notes, "bundle_line_redirected")
        return True

    def reply(self, ps, command, envelope) -> None:
        """After a saga's line was decided or released at its SKU's partition: tell the order's."""
        line = envelope.state.lines.get(command.order_id) if envelope is not None else None
        if isinstance(command, PlaceOrderLine):
            answer: OrderCommand = LineDecided(
                command_id=f"{command.command_id}>decided",
                event_id=command.event_id,
                event_type=command.event_type,
                occurred_at=command.occurred_at,
                logged_at=command.logged_at,
                source=command.source,
                order_id=command.order_id,
                sku=command.sku,
                qty_reserved=line.reserved if line is not None else 0,
            )
        else:
            answer = LineReleased(
                command_id=f"{command.command_id}>released",
                event_id=command.event_id,
                event_type=command.event_type,
                occurred_at=command.occurred_at,
                logged_at=command.logged_at,
                source=command.source,
                order_id=command.order_id,
                sku=command.sku,
            )
        payload = orjson.dumps([command_to_dict(answer)])
        self._send()(
            self.command_topic,
            partition_for(command.order_id, self.partitions),
            None,
            payload,
            None,
        )


REPLIES = (PlaceOrderLine, ReleaseOrderLine)
# Kept in the order memory's ``fanned_out`` (event ids are printable, so it never collides, and
# every rewrite of the memory carries it): the order is a saga's, its later events go through it.
SAGA_FLAG = "\x00saga"


def _read(store, order_id: str) -> dict[str, Any] | None:
    raw = store.get(saga_key(order_id))
    return None if raw is None else orjson.loads(raw)


def _write(store, order_id: str, env: dict[str, Any]) -> None:
    store.put(saga_key(order_id), orjson.dumps(env))


def _empty():
    from stocksignal.domain import Catalogue

    return Catalogue()


def install(
    applier,
    router,
    publisher,
    codec: Codec,
    metrics: ProcessorMetrics,
    *,
    command_topic: str,
    command_partitions: int,
    decisions_topic: str,
) -> Sagas:
    """Give the router and the applier the saga (bootstrap.py and the tests' world alike);
    after bundles.install, whose catalogue it expands orders with."""
    sagas = Sagas(
        command_topic,
        command_partitions,
        decisions_topic,
        codec,
        metrics,
        lambda: publisher.send,
        applier.bundles,
    )
    applier.sagas = sagas
    router.sagas = sagas
    return sagas
