"""One settings object, read once from the environment by the composition root.

Every knob stocksignal has is a field here, with its environment variable and default.
Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Mapping


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _boolean(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    # A typo must not silently turn a safety switch off (or on).
    raise ValueError(raw)


def _env_name(name: str) -> str:
    return {
        "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
        "redis_url": "REDIS_URL",
    }.get(name, "STOCKSIGNAL_" + name.upper())


@dataclass(frozen=True)
class Settings:
    # --- platform ---------------------------------------------------------------------
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    redis_url: str = "redis://127.0.0.1:16379/0"
    # Confluent Schema Registry framing is used when set; Avro single-object otherwise.
    schema_registry_url: str = ""

    # --- topics -----------------------------------------------------------------------
    # Prepended to every topic name (the contract's names are the default); lets tests and
    # shared clusters run isolated copies side by side.
    topic_prefix: str = ""
    input_partitions: int = 6
    command_partitions: int = 6
    output_partitions: int = 6
    replication_factor: int = 1

    # --- processor --------------------------------------------------------------------
    app_id: str = "stocksignal"
    store: str = "rocksdb"  # rocksdb | memory
    state_dir: str = ".state"
    # Identifies this worker's state directory to Kafka (its transactional id is
    # "<app_id>-<instance_id>"); empty: a random id kept in the state directory. Two workers
    # running at once must never share one.
    instance_id: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    # How other workers reach this one's web server (inspection API forwarding); empty:
    # http://web_host:web_port. Set it when binding 0.0.0.0 in a container.
    web_advertised_url: str = ""
    # Duplicates of an input event (same event_id) within this window have no effect.
    dedupe_window_ms: int = 7 * 24 * 3600 * 1000
    # The router forgets an order's SKUs this long (log time) after it last saw the order.
    order_retention_ms: int = 30 * 24 * 3600 * 1000
    # How often (log time) expired dedupe markers and order memory are swept out.
    janitor_every_ms: int = 3600 * 1000
    # RocksDB memory shared by all of a worker's stores: block cache and memtables, MiB.
    rocksdb_block_cache_mb: int = 64
    rocksdb_write_buffer_mb: int = 64
    # Decoded SKU states kept in memory per worker (an estimate in MiB; docs/processor.md).
    state_cache_mb: int = 64
    # How often the hold-expiry timer looks for due holds.
    expiry_tick_ms: int = 250
    # Production default is Kafka's 45 s; tests that kill workers lower it.
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 300_000
    # A transaction commits this often (wall time): the floor of end-to-end latency, twice
    # (route, then apply), and the unit of work lost to a crash.
    commit_interval_ms: int = 100
    # The broker aborts a transaction left open longer than this (a paused or dead worker's):
    # until then its partitions' readers wait. Must not exceed the broker's
    # transaction.max.timeout.ms.
    transaction_timeout_ms: int = 10_000
    # Routing waits at most this long for an input partition that has records not fetched
    # yet, so a backlog is decided in record-timestamp order across topics.
    max_task_idle_ms: int = 1_000
    # Records fetched and waiting per partition before the partition is paused.
    buffered_records_per_partition: int = 2_000
    # A local store whose checkpoint is older than this is wiped and restored (the changelog
    # may have compacted a tombstone away meanwhile); below the changelog's 24 h retention.
    store_max_checkpoint_age_ms: int = 12 * 3600 * 1000
    # Commands of this many recent commands per SKU are kept for the inspection API.
    movement_history: int = 64

    # --- adapters ---------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    metrics_port: int = 9108
    marketplace_channel: str = ""
    marketplace_url: str = ""
    marketplace_rate_per_s: float = 20.0
    marketplace_batch_size: int = 100
    # Every Redis key the adapters write starts with this, so several deployments (or test
    # runs) can share one Redis without seeing each other's keys.
    redis_prefix: str = "stocksignal:"
    projector_group: str = "stocksignal-projector"
    # One Redis pipeline round trip per batch: up to this many records...
    projector_batch_size: int = 500
    # ...or whatever arrived within this wait.
    projector_batch_wait_ms: int = 50
    # Token bucket: marketplace_rate_per_s requests/s on average, bursts of this many.
    marketplace_burst: int = 5
    marketplace_timeout_s: float = 5.0
    # How long a change may wait to be coalesced with others into one request; changes to
    # or from 0 do not wait.
    marketplace_linger_ms: int = 200
    marketplace_backoff_base_ms: int = 200
    marketplace_backoff_max_ms: int = 30_000
    # A Retry-After longer than this is cut to it (a broken header must not stall for days).
    marketplace_retry_after_max_s: float = 600.0
    # 0: retry transient failures until they succeed; else dead-letter after this many tries.
    marketplace_max_attempts: int = 0
    # Consuming pauses while this many SKUs wait to be pushed.
    marketplace_max_pending: int = 50_000
    marketplace_dlq_topic: str = "stocksignal.marketplace-sync.dlq.v1"
    # Empty: "stocksignal-marketplace-sync.<channel>".
    marketplace_group: str = ""

    # --- HTTP edges (docs/operations.md#http-security) -------------------------------------
    # SHA-256 hex digests of the bearer tokens the storefront API accepts, comma-separated
    # (several at once for rotation); empty: no authentication, allowed on loopback only.
    api_tokens_sha256: str = ""
    # The same for the processor's inspection API.
    web_tokens_sha256: str = ""
    # Lets a server without tokens listen beyond loopback (a private network or a proxy
    # protects it); without it such a server refuses to start.
    allow_unauthenticated: bool = False
    # Address of every separate /metrics server (projector, sync worker, API when moved).
    metrics_host: str = "127.0.0.1"
    # 0: the storefront API serves /metrics on its own port (behind its tokens); else on this
    # port of metrics_host, without authentication.
    api_metrics_port: int = 0
    # Outbound authentication of the sync worker: none, bearer, api-key or hmac-sha256
    # (docs/adapters.md#authentication-and-tls); the secret is the token, key or HMAC key.
    marketplace_auth: str = "none"
    marketplace_secret: str = field(default="", repr=False)
    marketplace_api_key_header: str = "X-API-Key"
    # Sent with HMAC signatures so the marketplace knows which key signed (may be empty).
    marketplace_key_id: str = ""
    # PEM file of the CAs that may sign the marketplace's certificate; empty: the system's.
    marketplace_ca_bundle: str = ""
    # Plain http:// endpoints are refused unless this is set (a local stub, a test).
    marketplace_allow_http: bool = False

    log_level: str = "INFO"

    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read every field from its environment variable, converting to the field's type."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            var = _env_name(f.name)
            if var not in env:
                continue
            raw = env[var]
            default = getattr(cls, f.name)
            try:
                if isinstance(default, bool):
                    values[f.name] = _boolean(raw)
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                kind = "true or false" if isinstance(default, bool) else type(default).__name__
                raise SettingsError(f"{var}={raw!r}: expected {kind}") from exc
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.store not in {"rocksdb", "memory"}:
            raise SettingsError(f"STOCKSIGNAL_STORE={self.store!r}: expected rocksdb or memory")
        for name in ("input_partitions", "command_partitions", "output_partitions"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{_env_name(name)} must be >= 1")
        if self.dedupe_window_ms < 0:
            raise SettingsError("STOCKSIGNAL_DEDUPE_WINDOW_MS must be >= 0")
        if not 0 < self.commit_interval_ms < self.transaction_timeout_ms:
            raise SettingsError(
                "STOCKSIGNAL_COMMIT_INTERVAL_MS must be > 0 and below STOCKSIGNAL_TRANSACTION_TIMEOUT_MS"
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(f"STOCKSIGNAL_LOG_LEVEL={self.log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
        for name in ("api_port", "web_port", "metrics_port", "api_metrics_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise SettingsError(f"{_env_name(name)}={getattr(self, name)}: expected a port, 0 to 65535")
        self.token_digests("api_tokens_sha256")
        self.token_digests("web_tokens_sha256")

    def token_digests(self, name: str) -> tuple[str, ...]:
        """The bearer-token digests of setting ``name``, checked (SettingsError names it)."""
        from stocksignal.web.tokens import TokenConfigError, parse_digests

        try:
            return parse_digests(getattr(self, name), _env_name(name))
        except TokenConfigError as exc:
            raise SettingsError(str(exc)) from None

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process read exactly these settings."""
        return {_env_name(f.name): str(getattr(self, f.name)) for f in fields(self) if f.name != "extra"}

    @staticmethod
    def env_var(name: str) -> str:
        """The environment variable that sets field ``name``."""
        return _env_name(name)
