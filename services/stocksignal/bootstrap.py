"""The composition root: the one place that builds clients from :class:`Settings`.

Services never construct Kafka, Redis or codec clients themselves; they receive them from the
functions here (cosmicpython's ``bootstrap``). Nothing runs at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stocksignal.settings import Settings


def kafka_common(settings: Settings) -> dict[str, Any]:
    """What every Kafka client starts from: the brokers, the security settings (protocol, SASL,
    TLS, hostname verification) and the pass-through properties (stocksignal.security.kafka).

    Raises SettingsError for settings that conflict; Settings.validate has refused them already
    for settings read from the environment.
    """
    from stocksignal.security.kafka import connection_properties

    return connection_properties(settings)


def check_kafka(settings: Settings, timeout: float = 10.0):
    """Connect once and return the cluster metadata, or raise at once when the cluster refuses
    us: AccessRefused (wrong credentials, untrusted certificate, protocol mismatch; the message
    names the setting to check) or NoAnswer after ``timeout``. Call it before starting work:
    librdkafka itself retries a refused login forever."""
    from stocksignal.security.kafka_probe import check_kafka as probe

    return probe(settings, timeout)


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """confluent-kafka producer settings shared by every producer we run.

    Idempotence keeps per-partition order across retries; murmur2 keeps partitions in
    agreement with the processor and Java clients (see stocksignal.contract.partitioning).
    """
    from stocksignal.contract.partitioning import confluent_producer_config

    base = {
        **kafka_common(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
    }
    return confluent_producer_config({**base, **overrides})


def make_producer(settings: Settings, **overrides: Any):
    from confluent_kafka import Producer

    return Producer(producer_config(settings, **overrides))


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        **kafka_common(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": settings.heartbeat_interval_ms,
        **overrides,
    }


def make_consumer(settings: Settings, group_id: str, **overrides: Any):
    from confluent_kafka import Consumer

    return Consumer(consumer_config(settings, group_id, **overrides))


def make_admin(settings: Settings):
    from confluent_kafka.admin import AdminClient

    return AdminClient(kafka_common(settings))


def redis_options(settings: Settings) -> dict[str, Any]:
    """TLS and login options of the settings' Redis (stocksignal.security.redis)."""
    from stocksignal.security.redis import redis_options as options

    return options(settings)


def make_redis(settings: Settings, **overrides: Any):
    import redis

    return redis.Redis.from_url(settings.redis_url, **{**redis_options(settings), **overrides})


def make_async_redis(settings: Settings, **overrides: Any):
    import redis.asyncio

    return redis.asyncio.Redis.from_url(
        settings.redis_url, **{**redis_options(settings), **overrides}
    )


def check_redis(settings: Settings, timeout: float = 5.0) -> None:
    """PING once: AccessRefused when Redis refuses the login or a certificate (the message names
    the setting), NoAnswer when it is down. The adapters retry a Redis that is down, so only a
    refusal should stop them."""
    from stocksignal.security.redis_probe import check_redis as probe

    client = make_redis(settings, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        probe(settings, client)
    finally:
        client.close()


def make_codec(settings: Settings):
    from stocksignal.contract import make_codec as _make_codec
    from stocksignal.security.registry import registry_config

    return _make_codec(settings.schema_registry_url, registry_config=registry_config(settings))


def ledger_clients(settings: Settings) -> Any:
    """The Kafka clients and codec of the ledger's readers (stocksignal.ledger.kafka)."""
    from stocksignal.ledger.kafka import LedgerClients

    return LedgerClients(
        settings,
        lambda group_id, **overrides: make_consumer(settings, group_id, **overrides),
        lambda: make_admin(settings),
        make_codec(settings),
    )


def _unbound_send(*_: Any) -> None:
    raise RuntimeError("the publisher sends through the runtime, which binds its send")


def make_event_producer(settings: Settings, *, source: str | None = None, **overrides: Any):
    """The client library's producer (stocksignal.client, docs/client.md): this module's
    producer settings, the settings' framing and topic prefix."""
    from stocksignal.client import EventEncoder, EventProducer

    encoder = EventEncoder(make_codec(settings), topic_prefix=settings.topic_prefix, source=source)
    return EventProducer(make_producer(settings, **overrides), encoder)


def make_output_consumer(settings: Settings, group_id: str, topics, repeats=None, **overrides: Any):
    """The client library's reader of the processor's outputs (``topics``: contract names)."""
    from stocksignal.client import OutputConsumer, output_topics

    names = output_topics(topics, settings.topic_prefix)
    return OutputConsumer(
        make_consumer(settings, group_id, **overrides), make_codec(settings), names, repeats
    )


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings once; callers pass the result down."""
    return Settings.from_env(environ)


# --- the processor (docs/processor.md) ----------------------------------------------------


def processor_consumer_config(settings: Settings, advertised_url: str) -> dict[str, Any]:
    """The worker's group member: read_committed, offsets committed only in transactions.

    ``range`` assigns every topic's partitions evenly across workers (route and apply work
    both scale out); the client id carries the worker's URL for the inspection API.
    """
    from stocksignal.processor.ownership import client_id

    return consumer_config(
        settings,
        settings.app_id,
        **{
            "client.id": client_id(advertised_url),
            "partition.assignment.strategy": "range",
            "enable.auto.offset.store": False,
            "max.poll.interval.ms": settings.max_poll_interval_ms,
            # The second hop (command topic) waits for the fetch, so keep it short.
            "fetch.wait.max.ms": 10,
            "queued.max.messages.kbytes": 16384,
        },
    )


def processor_producer_config(settings: Settings, transactional_id: str) -> dict[str, Any]:
    return producer_config(
        settings,
        **{
            "transactional.id": transactional_id,
            "transaction.timeout.ms": settings.transaction_timeout_ms,
            "linger.ms": 2,
            "batch.num.messages": 10000,
            # A transaction's AddOffsetsToTxn is refused (CONCURRENT_TRANSACTIONS) while the
            # previous commit completes; librdkafka's 100 ms default retry backoff would add
            # 100 ms to every commit.
            "retry.backoff.ms": 10,
            # The worker reads its own command and changelog records back: compressing them
            # costs CPU on both sides of a loopback/LAN hop for little gain.
            "compression.type": "none",
        },
    )


def build_processor(settings: Settings):
    """One processor worker: runtime (consumer, transactional producer, stores) and its
    inspection API, from settings. Refuses (TopicsNotReady) when a topic is missing."""
    from confluent_kafka import Consumer, Producer

    from stocksignal.contract import topics as catalogue
    from stocksignal.contract.keys import key_error
    from stocksignal.ledger.history import LedgerHistory
    from stocksignal.processor import topology
    from stocksignal.processor.applier import Applier, ApplierConfig
    from stocksignal.processor.dlq_view import DeadLetters
    from stocksignal.processor.metrics import ProcessorMetrics
    from stocksignal.processor.ownership import Owners
    from stocksignal.processor.ports import ChangelogReader, GroupConsumer, TxnProducer
    from stocksignal.processor.publisher import Publisher, output_topics
    from stocksignal.processor.restore import Restorer
    from stocksignal.processor.router import Router, RouterConfig
    from stocksignal.processor.runtime import Runtime, RuntimeConfig
    from stocksignal.processor.store import StoreFactory, instance_id
    from stocksignal.processor.topic_admin import partition_counts, topic_ids, verify_topics
    from stocksignal.processor.web import Inspection, WebServer, make_app
    from stocksignal.processor.worker import ProcessorWorker, lock_state_dir

    admin = make_admin(settings)
    plans = topology.plan(settings)
    verify_topics(admin, plans)
    partitions = partition_counts(admin)
    name = lambda base: topology.topic_name(settings, base)  # noqa: E731
    stock_changelog = topology.changelog_topic(settings, topology.STOCK_STORE)
    orders_changelog = topology.changelog_topic(settings, topology.ORDERS_STORE)
    lock = lock_state_dir(settings.state_dir, settings.app_id)
    instance = settings.instance_id or instance_id(settings.state_dir, settings.app_id)
    url = settings.web_advertised_url or f"http://{settings.web_host}:{settings.web_port}"
    metrics = ProcessorMetrics()
    process_registry(settings, metrics.registry)
    codec = make_codec(settings)
    command_topic = name(topology.COMMANDS)
    dlq = name(catalogue.DLQ)
    publisher = Publisher(codec, output_topics(name, partitions), metrics, send=_unbound_send)
    router = Router(
        RouterConfig(command_topic, settings.command_partitions, dlq, partitions[dlq]),
        codec,
        metrics,
        key_error,
    )
    applier = Applier(
        ApplierConfig(
            settings.dedupe_window_ms, settings.movement_history, settings.state_cache_mb
        ),
        publisher,
        metrics,
    )
    from stocksignal.processor import bundles

    bundles.install(
        applier,
        publisher,
        codec,
        metrics,
        command_topic=command_topic,
        command_partitions=settings.command_partitions,
        dlq_topic=dlq,
        dlq_partitions=partitions[dlq],
        availability_topic=name(catalogue.AVAILABILITY),
        dedupe_window_ms=settings.dedupe_window_ms,
    )
    from stocksignal.processor import sagas

    sagas.install(
        applier,
        router,
        publisher,
        codec,
        metrics,
        command_topic=command_topic,
        command_partitions=settings.command_partitions,
        decisions_topic=name(catalogue.ORDER_DECISIONS),
    )
    reader = Consumer(
        consumer_config(settings, f"{settings.app_id}-restore", **{"enable.partition.eof": True})
    )
    watermarks = Consumer(
        consumer_config(
            settings, f"{settings.app_id}-restore", **{"isolation.level": "read_uncommitted"}
        )
    )

    def probe():
        return Consumer(
            consumer_config(
                settings, f"{settings.app_id}-restore", **{"enable.partition.eof": True}
            )
        )

    restorer = Restorer(
        ChangelogReader(reader, watermarks, probe),
        topic_ids(admin, [stock_changelog, orders_changelog]),
        settings.store_max_checkpoint_age_ms,
        on_wipe=metrics.store_wipes.inc,
    )
    inputs = {name(t.name): t.name for t in catalogue.list_topics(catalogue.Role.INPUT)}
    config = RuntimeConfig(
        command_topic=command_topic,
        command_partitions=settings.command_partitions,
        inputs=inputs,
        orders_topic=name(catalogue.ORDERS),
        stock_changelog=stock_changelog,
        orders_changelog=orders_changelog,
        commit_interval_ms=settings.commit_interval_ms,
        commit_idle_ms=settings.commit_idle_ms,
        buffered_records_per_partition=settings.buffered_records_per_partition,
        max_task_idle_ms=settings.max_task_idle_ms,
        route_grace_ms=settings.route_grace_ms,
        expiry_tick_ms=settings.expiry_tick_ms,
        dedupe_window_ms=settings.dedupe_window_ms,
        order_retention_ms=settings.order_retention_ms,
        janitor_every_ms=settings.janitor_every_ms,
    )
    stores = StoreFactory(
        settings.store,
        settings.state_dir,
        settings.app_id,
        settings.rocksdb_block_cache_mb,
        settings.rocksdb_write_buffer_mb,
    )
    txn_id = f"{settings.app_id}-{instance}"
    runtime = Runtime(
        config,
        GroupConsumer(Consumer(processor_consumer_config(settings, url))),
        TxnProducer(lambda: Producer(processor_producer_config(settings, txn_id))),
        restorer,
        stores,
        router,
        applier,
        publisher,
        metrics,
    )
    assert router.sagas is not None
    router.sagas.stores = lambda: runtime.serving  # the router's view of the catalogue (sagas.py)
    inspection = Inspection(
        runtime,
        Owners(admin, settings.app_id, command_topic),
        settings.command_partitions,
        settings.movement_history,
        url,
        LedgerHistory(ledger_clients(settings)),
        DeadLetters(ledger_clients(settings), dlq, codec),
    )
    healthy = lambda: None if runtime.failure is None else str(runtime.failure)  # noqa: E731
    app = make_app(inspection, metrics, healthy, settings.token_digests("web_tokens_sha256"))
    web = WebServer(app, settings.web_host, settings.web_port)
    return ProcessorWorker(runtime, web, lock)


# --- adapters: projector, storefront API, marketplace sync (docs/adapters.md) ----------------


# A frozen Redis must fail a request, not hang it forever (redis-py's default is no timeout).
WORKER_REDIS_TIMEOUTS = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}
# The storefront would rather answer 503 quickly than wait.
API_REDIS_TIMEOUTS = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}


def adapter_keys(settings: Settings):
    from stocksignal.adapters.keys import Keys

    return Keys(settings.redis_prefix)


def process_registry(settings: Settings, registry=None):
    """``registry`` (a new one when None) with the process, runtime and build metrics every
    ``/metrics`` serves (stocksignal.process_metrics)."""
    from prometheus_client import CollectorRegistry

    from stocksignal.process_metrics import register_process_metrics

    return register_process_metrics(
        registry if registry is not None else CollectorRegistry(), settings.build_commit
    )


def build_projector(settings: Settings, registry=None):
    """The Redis projector with its own consumer group and a synchronous Redis client."""
    from stocksignal.adapters.channel_levels import ChannelFeed
    from stocksignal.adapters.kafka_io import availability_topic
    from stocksignal.adapters.projector import Projector
    from stocksignal.adapters.projector_metrics import ProjectorMetrics
    from stocksignal.contract.topics import CHANNELS

    codec = make_codec(settings)
    # Assigned, never committing: its group id is only a name librdkafka wants.
    channels = ChannelFeed(
        make_consumer(settings, settings.projector_group + ".channels"),
        settings.topic_prefix + CHANNELS,
        codec,
    )
    return Projector(
        consumer=make_consumer(settings, settings.projector_group),
        redis=make_redis(settings, decode_responses=True, **WORKER_REDIS_TIMEOUTS),
        codec=make_codec(settings),
        topic=availability_topic(settings),
        keys=adapter_keys(settings),
        metrics=ProjectorMetrics(process_registry(settings, registry)),
        batch_size=settings.projector_batch_size,
        batch_wait_s=settings.projector_batch_wait_ms / 1000,
        channels=channels,
    )


def build_api(settings: Settings, registry=None):
    """The storefront read API's aiohttp application (Redis only)."""
    from stocksignal.adapters.api import make_app
    from stocksignal.adapters.availability_reader import AvailabilityReader

    redis = make_async_redis(settings, decode_responses=True, **API_REDIS_TIMEOUTS)
    reader = AvailabilityReader(redis, adapter_keys(settings))
    digests = settings.token_digests("api_tokens_sha256")
    registry = process_registry(settings, registry)
    return make_app(reader, registry, digests, serve_metrics=settings.api_metrics_port == 0)


def marketplace_group(settings: Settings) -> str:
    return (
        settings.marketplace_group or f"stocksignal-marketplace-sync.{settings.marketplace_channel}"
    )


def marketplace_session(settings: Settings):
    """The sync worker's aiohttp ClientSession: verifying TLS with the configured CA bundle.
    Make it inside the running loop (``async with``)."""
    import aiohttp

    from stocksignal.adapters.marketplace.tls import ssl_context

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context(settings)))


def build_marketplace_sync(settings: Settings, session, registry=None):
    """One channel's sync worker. ``session``: an aiohttp ClientSession made in the running loop.

    Creates the worker's own dead-letter topic when it does not exist yet.
    """
    from stocksignal.adapters.kafka_io import availability_topic, ensure_topic
    from stocksignal.adapters.marketplace.acked_store import AckedStore
    from stocksignal.adapters.marketplace.auth import make_auth
    from stocksignal.adapters.marketplace.backoff import Backoff
    from stocksignal.adapters.marketplace.client import MarketplaceClient
    from stocksignal.adapters.marketplace.config import check_marketplace_settings
    from stocksignal.adapters.marketplace.dead_letters import DeadLetters
    from stocksignal.adapters.marketplace.metrics import SyncMetrics
    from stocksignal.adapters.marketplace.token_bucket import TokenBucket
    from stocksignal.adapters.marketplace.worker import SyncConfig, SyncWorker
    from stocksignal.contract.topics import STOCK_LEVELS

    check_marketplace_settings(settings)
    channel = settings.marketplace_channel
    dlq_topic = settings.topic_prefix + settings.marketplace_dlq_topic
    ensure_topic(
        make_admin(settings), dlq_topic, settings.output_partitions, settings.replication_factor
    )
    levels = settings.marketplace_push == "levels"
    config = SyncConfig(
        channel_id=channel,
        # Levels mode reads the processor's stock-level feed instead: a push per level change.
        topic=settings.topic_prefix + STOCK_LEVELS if levels else availability_topic(settings),
        push=settings.marketplace_push,
        batch_size=settings.marketplace_batch_size,
        linger_s=settings.marketplace_linger_ms / 1000,
        max_attempts=settings.marketplace_max_attempts,
        max_pending=settings.marketplace_max_pending,
    )
    return SyncWorker(
        config=config,
        consumer=make_consumer(settings, marketplace_group(settings)),
        codec=make_codec(settings),
        acked=AckedStore(
            make_async_redis(settings, decode_responses=True, **WORKER_REDIS_TIMEOUTS),
            adapter_keys(settings),
            channel,
        ),
        client=MarketplaceClient(
            session,
            settings.marketplace_url,
            settings.marketplace_timeout_s,
            settings.marketplace_retry_after_max_s,
            auth=make_auth(settings),
        ),
        dead_letters=DeadLetters(make_producer(settings), dlq_topic, channel),
        bucket=TokenBucket(settings.marketplace_rate_per_s, settings.marketplace_burst),
        backoff=Backoff(
            settings.marketplace_backoff_base_ms / 1000, settings.marketplace_backoff_max_ms / 1000
        ),
        metrics=SyncMetrics(channel, process_registry(settings, registry)),
    )
