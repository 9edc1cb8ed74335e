"""The inspection API: why a SKU's number is what it is, plus health, readiness and metrics.

``/skus/{sku}`` and ``/skus/{sku}/movements`` are routed with Faust's ``table_route`` to the
worker that owns the SKU: the state table is keyed by the bare SKU, so its owner is the owner
of the SKU's command-topic partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST

from stocksignal.contract import partition_for
from stocksignal.domain import BUCKET_FIELDS, ChannelBook, SkuState
from stocksignal.processor.applier import history
from stocksignal.processor.envelope import BookEnvelope, Envelope, book_key, sku_key

if TYPE_CHECKING:
    from stocksignal.processor.app import Processor

MAX_MOVEMENTS = 1000


def explain(state: SkuState, book: ChannelBook, env: Envelope, partition: int) -> dict[str, Any]:
    """Everything that makes up the SKU's availability, as JSON."""
    positions = {}
    for location_id, p in sorted(state.positions.items()):
        buckets = {name: getattr(p, name) for name in BUCKET_FIELDS.values()}
        buckets["sellable"] = p.sellable
        positions[location_id] = buckets
    reservations = [
        {
            "order_id": order_id,
            "channel_id": line.channel_id,
            "qty_requested": line.qty,
            "qty_reserved": line.reserved,
            "qty_shipped": line.shipped,
            "allocations": dict(sorted(line.alloc.items())),
            "picked": dict(sorted(line.picked.items())),
            "hold_expires_at": line.hold_expires_at,
            "hold": line.is_hold,
            "reservation_seq": line.seq,
        }
        for order_id, line in sorted(state.lines.items(), key=lambda kv: kv[1].seq)
    ]
    channels = {
        channel_id: {
            "available": ats,
            "locations": list(book.resolve(channel_id, state).location_ids),
            "safety_stock": book.resolve(channel_id, state).safety_stock,
            "configured": book.is_configured(channel_id),
        }
        for channel_id, ats in sorted(book.ats(state).items())
    }
    return {
        "sku": state.sku,
        "version": state.version,
        "partition": partition,
        "applied_position": env.applied_pos,
        "channels": channels,
        "positions": positions,
        "open_reservations": reservations,
        "inbound_by_reference": {loc: dict(refs) for loc, refs in sorted(state.inbound.items())},
        "transfers_in_flight": {
            tid: {"from": t.from_location_id, "to": t.to_location_id, "qty": t.qty}
            for tid, t in sorted(state.transfers.items())
        },
        "rule": "available = max(0, sum(on_hand - reserved over the channel's locations) - safety_stock)",
    }


def register_views(proc: "Processor") -> None:
    app = proc.app
    table = proc.state_table
    partitions = proc.settings.command_partitions

    def load(sku: str) -> tuple[Envelope, BookEnvelope, int] | None:
        partition = partition_for(sku, partitions)
        raw = proc.state.get(sku_key(sku), partition)
        if raw is None:
            return None
        book_raw = proc.state.get(book_key(partition), partition)
        book = BookEnvelope.from_bytes(book_raw) if book_raw else BookEnvelope(ChannelBook())
        return Envelope.from_bytes(raw), book, partition

    def not_found(web, sku: str):
        return web.json({"error": "unknown_sku", "sku": sku, "detail": f"no event has touched SKU {sku!r}"}, status=404)

    @app.page("/skus/{sku}")
    @app.table_route(table=table, match_info="sku")
    async def get_sku(web, request, sku: str):
        loaded = load(sku)
        if loaded is None:
            return not_found(web, sku)
        env, benv, partition = loaded
        return web.json(explain(env.state, benv.book, env, partition))

    @app.page("/skus/{sku}/movements")
    @app.table_route(table=table, match_info="sku")
    async def get_movements(web, request, sku: str):
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            return web.json({"error": "bad_request", "detail": "limit must be an integer"}, status=400)
        if not 1 <= limit <= MAX_MOVEMENTS:
            return web.json({"error": "bad_request", "detail": f"limit must be in 1..{MAX_MOVEMENTS}"}, status=400)
        loaded = load(sku)
        if loaded is None:
            return not_found(web, sku)
        env, _, partition = loaded
        movements = history(proc.state, env, sku, partition, proc.settings.movement_history, limit)
        return web.json({"sku": sku, "movements": movements, "newest_first": True})

    @app.page("/healthz")
    async def healthz(web, request):
        failure = proc.tracker.failure
        if failure is not None:
            return web.json({"status": "failing", "detail": str(failure)}, status=500)
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web, request):
        if proc.ready():
            return web.json({"status": "ready"})
        return web.json({"status": "not_ready", "detail": "recovering tables or rebalancing"}, status=503)

    @app.page("/metrics")
    async def metrics(web, request):
        # The full type (with the exposition format version) goes in a header: aiohttp refuses
        # parameters in its content_type argument.
        return web.bytes(proc.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
