"""The librdkafka properties every stocksignal Kafka client shares: brokers, security, pass-through.

:func:`connection_properties` is what ``stocksignal.bootstrap.kafka_common`` returns, so every
producer, consumer and admin client (processor, projector, marketplace sync, CLI, bench, test
harness) connects the same way. How it is put together:

1. The dedicated settings (``STOCKSIGNAL_KAFKA_*``, table in :data:`DEDICATED`) become their
   librdkafka properties. Hostname verification is always explicit:
   ``ssl.endpoint.identification.algorithm`` is ``https`` unless
   ``STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME=false``. ``sasl.oauthbearer.method=oidc`` follows
   from a token endpoint.
2. Pass-through properties (:mod:`.properties`) add anything else. A property given twice with
   different values (a setting and the file, the file and a variable) is refused, as is one that
   stocksignal sets per client (:data:`CLIENT_OWNED`), a Java-only one (:data:`JAVA_ONLY`) or one
   that would switch certificate or hostname checks off behind the settings' back.
3. The result must make sense as a whole (:func:`_check`): a known protocol and mechanism,
   credentials for the mechanism, no SASL or TLS properties that the protocol would ignore,
   certificate and key together, files that exist.

Every refusal is a ``SettingsError`` naming the variables involved and never a secret's value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from stocksignal.secret import Secret
from stocksignal.security.properties import shown
from stocksignal.settings import Settings, SettingsError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
# property -> the Settings field that owns it.
DEDICATED = {
    "bootstrap.servers": "kafka_bootstrap_servers",
    "security.protocol": "kafka_security_protocol",
    "sasl.mechanism": "kafka_sasl_mechanism",
    "sasl.username": "kafka_sasl_username",
    "sasl.password": "kafka_sasl_password",
    "sasl.oauthbearer.token.endpoint.url": "kafka_oauth_token_endpoint_url",
    "sasl.oauthbearer.client.id": "kafka_oauth_client_id",
    "sasl.oauthbearer.client.secret": "kafka_oauth_client_secret",
    "sasl.oauthbearer.scope": "kafka_oauth_scope",
    "sasl.oauthbearer.extensions": "kafka_oauth_extensions",
    "ssl.ca.location": "kafka_ssl_ca_location",
    "ssl.certificate.location": "kafka_ssl_certificate_location",
    "ssl.key.location": "kafka_ssl_key_location",
    "ssl.key.password": "kafka_ssl_key_password",
}
ALIASES = {"sasl.mechanisms": "sasl.mechanism"}
UPPER_CASE = {"security.protocol", "sasl.mechanism"}  # librdkafka reads them in any case
FILES = ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.keystore.location")
# Set by stocksignal per client: the processor's guarantees rest on several of them.
CLIENT_OWNED = {
    "group.id": "each process has its own consumer group",
    "group.instance.id": "each process has its own consumer group",
    "enable.auto.commit": "offsets are committed only after the work is done",
    "enable.auto.offset.store": "offsets are committed only after the work is done",
    "auto.offset.reset": "consumers start from the beginning when they have no offset",
    "isolation.level": "consumers read committed records only",
    "enable.partition.eof": "the command line reads topics to their end",
    "enable.idempotence": "producers keep per-partition order across retries",
    "acks": "producers wait for every in-sync replica",
    "request.required.acks": "producers wait for every in-sync replica",
    "max.in.flight.requests.per.connection": "idempotent producers keep order",
    "max.in.flight": "idempotent producers keep order",
    "partitioner": "every client partitions with murmur2, as the contract requires",
    "transactional.id": "the processor names its transactional producers",
    "partition.assignment.strategy": "the processor chooses its assignor",
    "linger.ms": "each producer chooses its own",
    "queue.buffering.max.ms": "each producer chooses its own",
    "compression.type": "each producer chooses its own",
    "compression.codec": "each producer chooses its own",
    "sasl.oauthbearer.method": "stocksignal uses oidc when STOCKSIGNAL_KAFKA_OAUTH_TOKEN_ENDPOINT_URL is set",
}
# Consumer properties with a setting of their own, set by consumer_config: a pass-through value
# must agree with the setting (a managed service's client.properties often carries one).
CONSUMER_SETTINGS = {
    "session.timeout.ms": "session_timeout_ms",
    "heartbeat.interval.ms": "heartbeat_interval_ms",
}
CALLBACKS = {
    "error_cb",
    "throttle_cb",
    "stats_cb",
    "oauth_cb",
    "logger",
    "on_delivery",
    "on_commit",
    "dr_cb",
    "dr_msg_cb",
    "log_cb",
    "background_event_cb",
    "opaque",
}
JAVA_ONLY = {
    "sasl.jaas.config": "set STOCKSIGNAL_KAFKA_SASL_USERNAME and STOCKSIGNAL_KAFKA_SASL_PASSWORD instead",
    "ssl.truststore.location": "export the CA as PEM and set STOCKSIGNAL_KAFKA_SSL_CA_LOCATION",
    "ssl.truststore.password": "export the CA as PEM and set STOCKSIGNAL_KAFKA_SSL_CA_LOCATION",
    "ssl.truststore.type": "export the CA as PEM and set STOCKSIGNAL_KAFKA_SSL_CA_LOCATION",
    "ssl.keystore.type": "use PEM files (STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION and _KEY_LOCATION) "
    "or a PKCS#12 file as ssl.keystore.location",
    "client.dns.lookup": "librdkafka resolves every address it is given",
}
HOSTNAME_CHECK = "ssl.endpoint.identification.algorithm"
CERT_CHECK = "enable.ssl.certificate.verification"


@dataclass(frozen=True)
class Entry:
    value: str
    source: str  # the variable (or file and line) that set it


def connection_properties(settings: Settings) -> dict[str, Any]:
    """The properties every client of these settings starts from; ``SettingsError`` if refused."""
    merged = _merge(_dedicated(settings), _passthrough(settings), settings)
    protocol = _check(merged, settings)
    props = {key: entry.value for key, entry in merged.items()}
    if protocol in ("SSL", "SASL_SSL"):
        props[HOSTNAME_CHECK] = "https" if settings.kafka_ssl_verify_hostname else "none"
    if props.get("sasl.mechanism") == "OAUTHBEARER":
        props["sasl.oauthbearer.method"] = "oidc"
    return props


def sources(settings: Settings) -> dict[str, str]:
    """property -> the variable that set it, for messages that name what to check."""
    merged = _merge(_dedicated(settings), _passthrough(settings), settings)
    return {key: entry.source for key, entry in merged.items()}


def is_configured(settings: Settings) -> bool:
    """True when anything beyond the bootstrap servers is set (security or pass-through)."""
    return (
        len(_dedicated(settings)) > 1
        or bool(_passthrough(settings))
        or not settings.kafka_ssl_verify_hostname
    )


# --- assembling ------------------------------------------------------------------------------


def _dedicated(settings: Settings) -> dict[str, Entry]:
    out = {}
    for prop, name in DEDICATED.items():
        value = getattr(settings, name)
        var = Settings.env_var(name)
        if isinstance(value, Secret):
            text, var = value.reveal(), var + "_FILE" if value.file else var
        else:
            text = value.strip()
        if text:
            out[prop] = Entry(text.upper() if prop in UPPER_CASE else text, var)
    return out


def _passthrough(settings: Settings) -> dict[str, Entry]:
    """The file's properties, then the variables'; the same property twice must agree."""
    out: dict[str, Entry] = {}
    for props in (settings.kafka_config_file, settings.librdkafka):
        for raw_key, value in props.items():
            key = ALIASES.get(raw_key, raw_key)
            entry = Entry(value.upper() if key in UPPER_CASE else value, props.source(raw_key))
            if key in out and out[key].value != entry.value:
                raise SettingsError(_conflict(key, out[key], entry, settings))
            out[key] = entry
    return out


def _merge(
    dedicated: dict[str, Entry], passthrough: dict[str, Entry], settings: Settings
) -> dict[str, Entry]:
    merged = dict(dedicated)
    for key, entry in passthrough.items():
        _refuse(key, entry, settings)
        if key in CONSUMER_SETTINGS:
            _agree(key, entry, CONSUMER_SETTINGS[key], settings)
            continue
        if key in merged and merged[key].value != entry.value:
            raise SettingsError(_conflict(key, merged[key], entry, settings))
        merged.setdefault(key, entry)
    for key in (HOSTNAME_CHECK, CERT_CHECK):
        merged.pop(key, None)  # accepted by _refuse only when it says what the settings say
    return merged


def _refuse(key: str, entry: Entry, settings: Settings) -> None:
    where = entry.source
    if key in CALLBACKS:
        raise SettingsError(f"{where}: {key} is a callback, not a property that can be set as text")
    if key in CLIENT_OWNED:
        raise SettingsError(
            f"{where}: stocksignal sets {key} itself ({CLIENT_OWNED[key]}); remove it"
        )
    if key in JAVA_ONLY or key.endswith(".class"):
        hint = JAVA_ONLY.get(key, "librdkafka has no Java classes")
        raise SettingsError(f"{where}: {key} is a Java client property; {hint}")
    if key == HOSTNAME_CHECK and entry.value.lower() != (
        "https" if settings.kafka_ssl_verify_hostname else "none"
    ):
        raise SettingsError(
            f"{where}: {key}={entry.value} disagrees with STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME"
            f"={str(settings.kafka_ssl_verify_hostname).lower()}; turn the hostname check off "
            "with that setting only (STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME=false)"
        )
    if key == CERT_CHECK and entry.value.lower() not in ("true", "1"):
        raise SettingsError(
            f"{where}: stocksignal always verifies the broker's certificate; remove {key} and "
            "name the CA that signed it with STOCKSIGNAL_KAFKA_SSL_CA_LOCATION"
        )


def _agree(key: str, entry: Entry, name: str, settings: Settings) -> None:
    value = str(getattr(settings, name))
    if entry.value != value:
        raise SettingsError(_conflict(key, Entry(value, Settings.env_var(name)), entry, settings))


def _conflict(key: str, first: Entry, second: Entry, settings: Settings) -> str:
    default = (
        " (its default)"
        if key == "bootstrap.servers" and first.value == Settings.kafka_bootstrap_servers
        else ""
    )
    return (
        f"{key} is set twice with different values: {first.source} gives {shown(key, first.value)}{default}, "
        f"{second.source} gives {shown(key, second.value)}; keep one of them"
    )


# --- checking the whole ----------------------------------------------------------------------


def _check(merged: dict[str, Entry], settings: Settings) -> str:
    """The effective security.protocol, after refusing combinations that cannot work."""
    protocol_entry = merged.get(
        "security.protocol", Entry("PLAINTEXT", "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL")
    )
    protocol = protocol_entry.value
    if protocol not in PROTOCOLS:
        raise SettingsError(
            f"{protocol_entry.source}={protocol!r}: expected one of {', '.join(PROTOCOLS)}"
        )
    if protocol.startswith("SASL_"):
        _check_sasl(merged, protocol_entry)
    else:
        _refuse_unused(merged, "sasl.", protocol_entry, "SASL_SSL (or SASL_PLAINTEXT)")
    if protocol in ("SSL", "SASL_SSL"):
        _check_tls(merged)
    else:
        _refuse_unused(merged, "ssl.", protocol_entry, "SSL or SASL_SSL")
        if not settings.kafka_ssl_verify_hostname:
            raise SettingsError(
                f"STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME=false has no effect: {protocol_entry.source} "
                f"is {protocol}, which uses no TLS"
            )
    return protocol


def _refuse_unused(merged: dict[str, Entry], prefix: str, protocol: Entry, wanted: str) -> None:
    unused = sorted({e.source for k, e in merged.items() if k.startswith(prefix)})
    if unused:
        raise SettingsError(
            f"{', '.join(unused)} would be ignored: security.protocol is {protocol.value} "
            f"({protocol.source}); set STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL={wanted}"
        )


def _need(merged: dict[str, Entry], key: str, why: str) -> None:
    if key not in merged:
        raise SettingsError(f"{why} needs {_var_for(key)}")


def _var_for(key: str) -> str:
    name = DEDICATED.get(key)
    return Settings.env_var(name) if name else key


def _check_sasl(merged: dict[str, Entry], protocol: Entry) -> None:
    why = f"{protocol.source}={protocol.value}"
    _need(merged, "sasl.mechanism", f"{why} ({', '.join(MECHANISMS)})")
    mechanism = merged["sasl.mechanism"]
    if mechanism.value not in MECHANISMS:
        raise SettingsError(
            f"{mechanism.source}={mechanism.value!r}: expected one of {', '.join(MECHANISMS)}"
        )
    login = [k for k in ("sasl.username", "sasl.password") if k in merged]
    oauth = [k for k in merged if k.startswith("sasl.oauthbearer.")]
    why = f"{mechanism.source}={mechanism.value}"
    if mechanism.value == "OAUTHBEARER":
        for key in (
            "sasl.oauthbearer.token.endpoint.url",
            "sasl.oauthbearer.client.id",
            "sasl.oauthbearer.client.secret",
        ):
            _need(merged, key, why)
        clash = login
    else:
        _need(merged, "sasl.username", why)
        _need(merged, "sasl.password", why)
        clash = oauth
    if clash:
        raise SettingsError(
            f"{why} does not use {', '.join(merged[k].source for k in clash)}: remove it"
        )


def _check_tls(merged: dict[str, Entry]) -> None:
    cert, key = merged.get("ssl.certificate.location"), merged.get("ssl.key.location")
    if bool(cert) != bool(key):
        given = (cert or key).source  # type: ignore[union-attr]
        raise SettingsError(
            f"{given} is set without its partner: a client certificate needs "
            "STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION and STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION"
        )
    if "ssl.key.password" in merged and not key:
        raise SettingsError(
            f"{merged['ssl.key.password'].source} is set but no key: set "
            "STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION"
        )
    for name in FILES:
        entry = merged.get(name)
        if entry is not None and entry.value != "probe" and not os.path.isfile(entry.value):
            raise SettingsError(f"{entry.source}={entry.value}: no such file")
