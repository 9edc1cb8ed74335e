"""One settings object, read once from the environment by the composition root.

Every knob stocksignal has is a field here, with its environment variable and default.
Nothing else in the code base reads ``os.environ``. Secrets (:class:`Secret`) come from
``VAR`` or from the file named by ``VAR_FILE``; neither ``repr()`` nor an error message shows
them. The security fields are checked together by :mod:`stocksignal.security` when the
settings are validated, so a conflicting or unknown value stops a process at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from stocksignal.kafka_properties import ENV_PREFIX, Properties, PropertiesError
from stocksignal.secret import Secret, redact_url

FILE_SUFFIX = "_FILE"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
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
        "librdkafka": ENV_PREFIX + "*",
    }.get(name, "STOCKSIGNAL_" + name.upper())


@dataclass(frozen=True, repr=False)
class Settings:
    # --- platform ---------------------------------------------------------------------
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    redis_url: str = "redis://127.0.0.1:16379/0"
    # Confluent Schema Registry framing is used when set; Avro single-object otherwise.
    schema_registry_url: str = ""

    # --- Kafka security (stocksignal.security.kafka) -------------------------------------
    # Empty: PLAINTEXT, unless a pass-through property sets security.protocol.
    kafka_security_protocol: str = ""
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: Secret = Secret()
    # OAUTHBEARER with OIDC client credentials: librdkafka fetches and refreshes the token.
    kafka_oauth_token_endpoint_url: str = ""
    kafka_oauth_client_id: str = ""
    kafka_oauth_client_secret: Secret = Secret()
    kafka_oauth_scope: str = ""
    kafka_oauth_extensions: str = ""
    # Empty CA: the system's trust store (enough for clusters with public certificates).
    kafka_ssl_ca_location: str = ""
    kafka_ssl_certificate_location: str = ""
    kafka_ssl_key_location: str = ""
    kafka_ssl_key_password: Secret = Secret()
    kafka_ssl_verify_hostname: bool = True
    # Any other librdkafka property: a key=value file, and STOCKSIGNAL_LIBRDKAFKA_* variables.
    kafka_config_file: Properties = Properties()
    librdkafka: Properties = Properties()

    # --- Redis security (stocksignal.security.redis): also possible in REDIS_URL ----------
    redis_username: str = ""
    redis_password: Secret = Secret()
    redis_ssl_ca_location: str = ""
    redis_ssl_certificate_location: str = ""
    redis_ssl_key_location: str = ""
    redis_ssl_key_password: Secret = Secret()
    redis_ssl_verify_hostname: bool = True

    # --- Schema Registry security (stocksignal.security.registry) ------------------------
    schema_registry_basic_auth_user_info: Secret = Secret()  # "user:password"
    schema_registry_bearer_token: Secret = Secret()
    schema_registry_logical_cluster: str = ""
    schema_registry_identity_pool_id: str = ""
    schema_registry_ssl_ca_location: str = ""
    schema_registry_ssl_certificate_location: str = ""
    schema_registry_ssl_key_location: str = ""
    schema_registry_ssl_key_password: Secret = Secret()

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
    # ...or, once the worker has caught up (nothing fetched waits), as soon as its transaction
    # is this old: below capacity, latency is then the commits' round trips, not the interval.
    commit_idle_ms: int = 10
    # The broker aborts a transaction left open longer than this (a paused or dead worker's):
    # until then its partitions' readers wait. Must not exceed the broker's
    # transaction.max.timeout.ms.
    transaction_timeout_ms: int = 10_000
    # Routing waits at most this long for an input partition that has records not fetched
    # yet, so a backlog is decided in record-timestamp order across topics.
    max_task_idle_ms: int = 5_000
    # While an input partition looks drained, a fetched record is routed only once it has
    # been fetched this long: what the client knows of a partition's end can lag its records
    # by a fetch response (docs/processor.md, "Ordering"). 0 turns the grace off.
    route_grace_ms: int = 30
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
    # What the sync worker pushes: "every-change" (each availability change of the channel,
    # from inventory.availability.v1) or "levels" (only when the channel's stock level
    # changes, from inventory.stock-levels.v1: back in stock, running low, sold out).
    marketplace_push: str = "every-change"

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
    # text: one line per record for people; json: one JSON object per line for a log
    # pipeline (docs/operations.md#logs).
    log_format: str = "text"
    # The source commit the running build was made from (the image's build argument);
    # only reported, in stocksignal_build_info. Empty: unknown.
    build_commit: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from its environment variable, converting to the field's type."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            default = getattr(cls, f.name)
            if isinstance(default, (Secret, Properties)):
                value = _special_from_env(f.name, default, env)
                if value is not None:
                    values[f.name] = value
                continue
            var = _env_name(f.name)
            if var in env:
                values[f.name] = _convert(var, env[var], default)
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
        if not 0 <= self.commit_idle_ms <= self.commit_interval_ms:
            raise SettingsError(
                "STOCKSIGNAL_COMMIT_IDLE_MS must be >= 0 and at most STOCKSIGNAL_COMMIT_INTERVAL_MS"
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(
                f"STOCKSIGNAL_LOG_LEVEL={self.log_level!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(
                f"STOCKSIGNAL_LOG_FORMAT={self.log_format!r}: expected one of {', '.join(LOG_FORMATS)}"
            )
        for name in ("api_port", "web_port", "metrics_port", "api_metrics_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise SettingsError(
                    f"{_env_name(name)}={getattr(self, name)}: expected a port, 0 to 65535"
                )
        self.token_digests("api_tokens_sha256")
        self.token_digests("web_tokens_sha256")
        # Imported here: the checks need the settings' names, and this module imports nothing
        # that could import it back.
        from stocksignal.security.checks import check_security

        check_security(self)

    def token_digests(self, name: str) -> tuple[str, ...]:
        """The bearer-token digests of setting ``name``, checked (SettingsError names it)."""
        from stocksignal.web.tokens import TokenConfigError, parse_digests

        try:
            return parse_digests(getattr(self, name), _env_name(name))
        except TokenConfigError as exc:
            raise SettingsError(str(exc)) from None

    def to_env(self) -> dict[str, str]:
        """The environment that makes a child process read exactly these settings.

        A secret read from a file is passed on as its ``_FILE`` variable (the child reads the
        file), never as a value; both variables are always set, one of them empty, so that a
        parent environment's other one cannot clash. Pass-through variables the settings do
        not hold are not cleared.
        """
        env: dict[str, str] = {}
        for f in fields(self):
            value, var = getattr(self, f.name), _env_name(f.name)
            if isinstance(value, Secret):
                env[var] = "" if value.file else value.reveal()
                env[var + FILE_SUFFIX] = value.file
            elif f.name == "librdkafka":
                env.update(value.to_env())
            elif isinstance(value, Properties):
                env[var] = value.file
            else:
                env[var] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    @staticmethod
    def env_var(name: str) -> str:
        """The environment variable that sets field ``name``."""
        return _env_name(name)

    def __repr__(self) -> str:
        # Secrets and pass-through properties show no values; URLs lose their passwords.
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.repr:  # a plain-string secret (marketplace_secret)
                parts.append(f"{f.name}={'***' if value else ''!r}")
                continue
            shown = redact_url(value) if f.name.endswith("_url") else value
            parts.append(f"{f.name}={shown!r}")
        return f"Settings({', '.join(parts)})"


def _convert(var: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            word = raw.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ValueError(word)
            return word in _TRUE
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        expected = "true or false" if isinstance(default, bool) else type(default).__name__
        raise SettingsError(f"{var}={raw!r}: expected {expected}") from exc
    return raw


def _special_from_env(
    name: str, default: Secret | Properties, env: Mapping[str, str]
) -> Secret | Properties | None:
    var = _env_name(name)
    try:
        if name == "librdkafka":
            return Properties.from_env(env) or None
        if isinstance(default, Properties):
            return Properties.from_file(env[var]) if env.get(var) else None
    except PropertiesError as exc:
        raise SettingsError(str(exc)) from exc
    return _secret_from_env(var, env)


def _secret_from_env(var: str, env: Mapping[str, str]) -> Secret | None:
    """``VAR`` or the contents of the file ``VAR_FILE`` names (not both); None when neither."""
    value, path = env.get(var, ""), env.get(var + FILE_SUFFIX, "")
    if value and path:
        raise SettingsError(f"{var} and {var}{FILE_SUFFIX} are both set: set one of them")
    if not path:
        return Secret(value) if value else None
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().rstrip(
                "\r\n"
            )  # a trailing newline is the editor's, not the secret's
    except OSError as exc:
        raise SettingsError(f"{var}{FILE_SUFFIX}={path}: cannot read it ({exc.strerror})") from exc
    if not text:
        raise SettingsError(f"{var}{FILE_SUFFIX}={path}: the file is empty")
    return Secret(text, file=path)
