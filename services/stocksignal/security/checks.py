"""Refuse unusable security settings at start, before any client connects (``Settings.validate``).

Besides the rules of :mod:`.kafka`, :mod:`.redis` and :mod:`.registry`, a configured Kafka
connection is handed to librdkafka once, without brokers: a throwaway producer that opens no
connection but reads every property as a real client would. Unknown property names, bad
values, an unreadable CA file or a key the key password does not decrypt are found here, and
reported with the variable that set them.
"""

from __future__ import annotations

import logging
import re

from stocksignal.security.kafka import connection_properties, is_configured, sources
from stocksignal.security.properties import is_secret_key
from stocksignal.security.redis import redis_options
from stocksignal.security.registry import registry_config
from stocksignal.settings import Settings, SettingsError

_PROPERTY = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")
HINTS = {
    "ssl.key.location failed": "the client key cannot be read: a wrong or missing STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD, "
    "or not a PEM private key",
    "ssl.certificate.location failed": "the client certificate is not a PEM certificate",
    "ssl.ca.location failed": "the CA file holds no PEM certificate",
}


def check_security(settings: Settings) -> None:
    props = connection_properties(settings)
    if is_configured(settings):
        librdkafka_accepts(props, sources(settings))
    redis_options(settings)
    registry_config(settings)


def _quiet_logger() -> logging.Logger:
    logger = logging.getLogger("stocksignal.security.trial")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False  # "no bootstrap.servers" is the point of the trial, not news
    return logger


def librdkafka_accepts(props: dict, where: dict[str, str]) -> None:
    """A producer handle without brokers: librdkafka's own checks, no network."""
    from confluent_kafka import KafkaException, Producer

    trial = {k: v for k, v in props.items() if k != "bootstrap.servers"}
    try:
        Producer({**trial, "logger": _quiet_logger()})
    except KafkaException as exc:
        raise SettingsError(_explain(exc.args[0].str(), props, where)) from None


def _explain(message: str, props: dict, where: dict[str, str]) -> str:
    for key, value in props.items():
        if is_secret_key(key) and value:
            message = message.replace(str(value), "***")
    named = [
        f"{key} comes from {where[key]}"
        for key in dict.fromkeys(_PROPERTY.findall(message))
        if key in where
    ]
    hints = [hint for marker, hint in HINTS.items() if marker in message]
    if "No such configuration property" in message:
        hints.append(
            "check its spelling in STOCKSIGNAL_KAFKA_CONFIG_FILE or the STOCKSIGNAL_LIBRDKAFKA_* variables"
        )
    advice = "; ".join(hints + named)
    return f"the Kafka client settings are refused: {message}" + (f" ({advice})" if advice else "")
