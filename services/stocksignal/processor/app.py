"""The Faust app: agents that route and apply, the expiry timer, the inspection API.

``Processor(settings)`` builds everything from settings and clients handed in by the
composition root; nothing here runs at import time. The agents are thin: Faust delivers an
event, the :class:`Router` or :class:`Applier` does the work, and the event is acknowledged
when the :class:`DeliveryTracker` says everything it wrote is in Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Callable

import faust
import orjson

from stocksignal.contract import Codec, partition_for
from stocksignal.contract import topics as catalogue
from stocksignal.domain import command_to_dict, expire_holds, within_window
from stocksignal.processor.applier import Applier, ApplierConfig
from stocksignal.processor.delivery import PRODUCER_GUARANTEES, DeliveryTracker, Record
from stocksignal.processor.envelope import MARKER_PREFIX, Envelope, Marker, is_sku_key
from stocksignal.processor.janitor import Janitor
from stocksignal.processor.orders import OrderMemory, touched_at
from stocksignal.processor.holds import HoldIndex
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.publisher import Publisher, output_topics
from stocksignal.processor.router import InputRecord, Router, RouterConfig
from stocksignal.processor.store import StateStore
from stocksignal.processor.topology import COMMANDS, topic_name
from stocksignal.settings import Settings

log = logging.getLogger(__name__)

STATE_TABLE = "stock"
ORDERS_TABLE = "orders"
# Exit code of a worker that stopped because processing failed (a bug or a corrupt record):
# restarting replays from the last commit; if it fails again, the log says where.
EXIT_PROCESSING_FAILED = 70
OTHER_INPUTS = (catalogue.PICKS, catalogue.SHIPMENTS, catalogue.RETURNS, catalogue.STOCK)


def faust_app(settings: Settings) -> faust.App:
    brokers = [f"kafka://{b.strip()}" for b in settings.kafka_bootstrap_servers.split(",")]
    return faust.App(
        settings.app_id,
        broker=brokers,
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=settings.state_dir,
        autodiscover=False,
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        # What other workers use to reach this one (table_route forwards requests there).
        canonical_url=settings.web_advertised_url or f"http://{settings.web_host}:{settings.web_port}",
        topic_replication_factor=settings.replication_factor,
        topic_partitions=settings.command_partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_ms / 1000.0,
        broker_heartbeat_interval=settings.heartbeat_interval_ms / 1000.0,
        broker_commit_interval=settings.commit_interval_ms / 1000.0,
        worker_redirect_stdouts=False,
    )


class Processor:
    """One worker. ``producer_config`` comes from the composition root; ``partitions`` maps
    each topic the processor writes to its partition count (read from the cluster)."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec,
        producer_config: dict,
        partitions: dict[str, int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        from confluent_kafka import Producer

        self.settings = settings
        self.clock = clock
        self.metrics = ProcessorMetrics()
        self.app = faust_app(settings)
        self.tracker = DeliveryTracker(None, on_failure=self._on_delivery_failure)
        self.tracker._producer = Producer(
            {**producer_config, **PRODUCER_GUARANTEES, "error_cb": self.tracker.on_error}
        )
        self.command_topic = self._name(COMMANDS)
        self.state_table = self._table(STATE_TABLE, settings.command_partitions)
        self.orders_table = self._table(ORDERS_TABLE, settings.input_partitions)
        self.state = StateStore(self.state_table, self.tracker)
        self.orders = StateStore(self.orders_table, self.tracker)
        window = settings.dedupe_window_ms
        self.marker_janitor = Janitor(
            self.state, MARKER_PREFIX,
            lambda value, now: not within_window(Marker.from_bytes(value).logged_at, now, window),
            settings.janitor_every_ms,
        )
        retention = settings.order_retention_ms
        self.order_janitor = Janitor(
            self.orders, b"", lambda value, now: now - touched_at(value) >= retention, settings.janitor_every_ms
        )
        self.holds = HoldIndex()
        self.publisher = Publisher(codec, output_topics(self._name, partitions), self.metrics, clock)
        self.tracker.on_ticket_done(self.publisher.observe_latency)
        self.applier = Applier(
            ApplierConfig(self.command_topic, settings.dedupe_window_ms, settings.movement_history),
            self.state, self.tracker, self.publisher, self.holds, self.metrics, clock,
        )
        dlq = self._name(catalogue.DLQ)
        self.router = Router(
            RouterConfig(self.command_topic, settings.command_partitions, dlq, partitions[dlq]),
            codec, OrderMemory(self.orders), self.metrics,
        )
        self._wire()

    # --- construction ----------------------------------------------------------------------

    def _name(self, base: str) -> str:
        return topic_name(self.settings, base)

    def _table(self, name: str, partitions: int):
        # Bounded RocksDB memory per partition database (Faust's default block cache is 2 GiB).
        options = {
            "block_cache_size": self.settings.rocksdb_block_cache_mb * 1024 * 1024,
            "write_buffer_size": self.settings.rocksdb_write_buffer_mb * 1024 * 1024,
            "max_write_buffer_number": 2,
        }
        return self.app.Table(name, key_type=bytes, value_type=bytes, partitions=partitions, options=options)

    def _raw_topic(self, *names: str):
        return self.app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    def _wire(self) -> None:
        app = self.app
        app.agent(self._raw_topic(self.command_topic), name="apply")(self._fatal_on_error(self._apply_agent))
        route = self._fatal_on_error(self._route_agent)
        app.agent(self._raw_topic(self._name(catalogue.ORDERS)), name="route-orders")(route)
        others = [self._name(t) for t in OTHER_INPUTS]
        app.agent(self._raw_topic(*others), name="route-inputs")(route)
        app.agent(self._raw_topic(self._name(catalogue.CHANNELS)), name="route-channels")(route)
        app.task(self._serve_deliveries)
        app.timer(1.0, name="checkpoint")(self._checkpoint)
        app.timer(self.settings.expiry_tick_ms / 1000.0, name="hold-expiry")(self._expiry_tick)
        self.metrics.bind_recovery(self._recovery_remaining, self.ready)
        app.on_partitions_revoked.connect(self._on_revoked)
        from stocksignal.processor.web import register_views

        register_views(self)

    # --- agents ----------------------------------------------------------------------------

    def _fatal_on_error(self, body):
        """An exception while processing stops the worker.

        Faust would restart the agent and carry on after the failed batch: its events never
        acknowledged (so commits stall) and its half-done writes still buffered. Stopping
        instead means a restart replays the batch from the last commit, which is safe.
        """

        async def agent(stream) -> None:
            try:
                await body(stream)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.critical("processing failed; stopping the worker so a restart replays the batch", exc_info=exc)
                self._stop_hard(exc)
                raise

        agent.__name__ = body.__name__
        return agent

    def _stop_hard(self, exc: BaseException) -> None:
        # No flush, no commit: exactly what a crash looks like, which the protocol is built for.
        logging.shutdown()
        os._exit(EXIT_PROCESSING_FAILED)

    async def _apply_agent(self, stream) -> None:
        async for events in stream.take_events(self.settings.batch_size, within=self.settings.batch_wait_ms / 1000):
            ticket = self._ticket_for(events)
            partitions = set()
            for event in events:
                msg = event.message
                self.applier.handle_record(msg.partition, msg.offset, event.value, ticket)
                partitions.add(msg.partition)
            for p in partitions:
                if n := self.marker_janitor.sweep(p, self.applier.log_time.get(p, 0)):
                    self.metrics.child(self.metrics.janitor_deleted, "dedupe_marker").inc(n)
            self.state.flush(ticket)
            self.publisher.flush()
            self.metrics.flush_counts()
            ticket.seal()
            self.tracker.poll()

    async def _route_agent(self, stream) -> None:
        bases = {self._name(t): t for t in (*OTHER_INPUTS, catalogue.ORDERS, catalogue.CHANNELS)}
        async for events in stream.take_events(self.settings.batch_size, within=self.settings.batch_wait_ms / 1000):
            ticket = self._ticket_for(events)
            records = [self._input_record(event.message, bases) for event in events]
            self.router.handle_batch(records, ticket)
            for p in {r.partition for r in records if r.base_topic == catalogue.ORDERS}:
                if n := self.order_janitor.sweep(p, self.router.log_time.get(p, 0)):
                    self.metrics.child(self.metrics.janitor_deleted, "order_memory").inc(n)
            self.orders.flush(ticket)
            self.metrics.flush_counts()
            ticket.seal()
            self.tracker.poll()

    @staticmethod
    def _input_record(msg, bases: dict[str, str]) -> InputRecord:
        return InputRecord(
            msg.topic, bases[msg.topic], msg.partition, msg.offset,
            int(round(msg.timestamp * 1000)), msg.key, msg.value, list(msg.headers or ()),
        )

    def _ticket_for(self, events):
        """A ticket that acknowledges ``events`` to Faust once all they wrote is delivered.

        The extra reference keeps Faust's own ack (after the loop body) from being the final
        one. If processing raises, the ticket is never sealed: the events are never acked,
        their offsets never committed, and the agent's crash stops the worker to replay them.
        """
        for event in events:
            event.message.incref()

        def ack_all() -> None:
            for event in events:
                event.ack()

        sources = [(e.message.topic, e.message.partition, e.message.offset) for e in events]
        return self.tracker.ticket(sources, on_done=ack_all)

    async def _serve_deliveries(self) -> None:
        await self.tracker.serve()

    async def _checkpoint(self) -> None:
        self.state.checkpoint()
        self.orders.checkpoint()
        self._measure_lag()

    def _measure_lag(self) -> None:
        """Per topic we consume: highwater minus committed offset over this worker's
        partitions (table changelogs are read only during recovery: not lag)."""
        consumer = self.app.consumer
        committed = consumer._committed_offset  # Faust's own record of what it committed
        lag: dict[str, int] = {}
        ours = self._consumed_topics()
        for tp in consumer.assignment():
            if tp.topic not in ours:
                continue
            try:
                high = consumer.highwater(tp)
            except Exception:  # not fetched from yet
                continue
            if high is None:
                continue
            done = committed.get(tp) or 0
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - done)
        prefix = self.settings.topic_prefix
        for topic, value in lag.items():
            self.metrics.consumer_lag.labels(topic.removeprefix(prefix)).set(value)

    def _consumed_topics(self) -> set[str]:
        bases = (*OTHER_INPUTS, catalogue.ORDERS, catalogue.CHANNELS, COMMANDS)
        return {self._name(t) for t in bases}

    def _on_delivery_failure(self, exc: Exception) -> None:
        # Nothing after the failed record may be committed: stop, restart, replay.
        log.critical("a record could not be delivered; stopping the worker: %s", exc)
        self._stop_hard(exc)

    # --- hold expiry -----------------------------------------------------------------------

    async def _expiry_tick(self) -> None:
        if not self.ready():
            return
        active = self._active_command_partitions()
        for partition in self.holds.indexed() - active:
            self.holds.drop(partition)
        for partition in active - self.holds.indexed():
            self.holds.rebuild(partition, self._states(partition))
        now = int(self.clock() * 1000)
        for partition in active:
            for sku in self.holds.due(partition, now):
                self._append_expiry(partition, sku, now)

    def _append_expiry(self, partition: int, sku: str, now: int) -> None:
        key = sku.encode()
        # The timer and the router must agree on the SKU's partition (design note 5).
        assert partition_for(key, self.settings.command_partitions) == partition
        command = expire_holds(sku, now, logged_at=now)
        payload = orjson.dumps([command_to_dict(command)])  # a batch of one (batches.py)
        self.tracker.send_now(Record(self.command_topic, partition, key, payload))
        self.metrics.holds_expired_commands.inc()

    def _states(self, partition: int):
        for key, value in self.state.scan(partition):
            if is_sku_key(key):
                yield Envelope.from_bytes(value).state

    def _active_command_partitions(self) -> set[int]:
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.command_topic}

    async def _on_revoked(self, app, revoked, **kwargs) -> None:
        for tp in revoked:
            self.tracker.forget(tp.topic, tp.partition)
            if tp.topic == self.command_topic:
                self.holds.drop(tp.partition)
                self.applier.forget(tp.partition)
                self.state.discard(tp.partition)
                self.marker_janitor.forget(tp.partition)
            elif tp.topic == self._name(catalogue.ORDERS):
                self.order_janitor.forget(tp.partition)

    # --- readiness -------------------------------------------------------------------------

    def ready(self) -> bool:
        app = self.app
        recovery = app.tables.recovery
        return bool(
            recovery.completed.is_set() and not app.rebalancing and not recovery.in_recovery
            and self.tracker.failure is None
        )

    def _recovery_remaining(self) -> int:
        try:
            return int(self.app.tables.recovery.active_remaining_total())
        except Exception:  # before the first assignment there is nothing to count
            return 0
