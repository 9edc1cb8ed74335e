"""What every command needs: settings, logging, exit codes, metrics, stop signals, Kafka checks.

Exit codes (docs/cli.md):

==  ==========================================================================================
0   success
1   the command ran and something failed: bad input lines, an unknown SKU, a failed expectation
2   usage: a bad option, argument or settings value (click's own code)
3   a service did not answer: Kafka, Redis, the processor's inspection API, an HTTP endpoint
4   topics are not as stocksignal needs them: missing (run ``stocksignal topics create``) or
    with the wrong partition count
5   a service refused us: a wrong password, an untrusted or missing certificate, a protocol
    the listener does not speak. The message names the setting to check; retrying won't help
==  ==========================================================================================
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

import click
from prometheus_client import CollectorRegistry

from stocksignal.bootstrap import settings_from_env
from stocksignal.settings import Settings, SettingsError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_TOPICS = 4
EXIT_REFUSED = 5

# How long a short command waits for Kafka to answer before it says so (exit 3).
KAFKA_TIMEOUT_S = 10.0


class Failure(click.ClickException):
    """The command ran, and what it was asked to do failed (exit 1)."""

    exit_code = EXIT_FAILURE


class Unavailable(click.ClickException):
    """A service the command needs did not answer (exit 3)."""

    exit_code = EXIT_UNAVAILABLE


class TopicsNotReadyError(click.ClickException):
    """Topics are missing or mis-partitioned (exit 4)."""

    exit_code = EXIT_TOPICS


class Refused(click.ClickException):
    """Kafka or Redis refused our credentials or certificates (exit 5): a setting is wrong."""

    exit_code = EXIT_REFUSED


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the options the user gave (None: not given)."""
    try:
        settings = settings_from_env()
        given = {name: value for name, value in overrides.items() if value is not None}
        settings = dataclasses.replace(settings, **given)
        settings.validate()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


def tool_settings(**overrides: Any) -> Settings:
    """Settings for a short command (produce, tail, ...): logs only warnings and worse unless
    STOCKSIGNAL_LOG_LEVEL asks for more detail (DEBUG)."""
    settings = load_settings(**overrides)
    level = logging.getLevelName(settings.log_level.upper())
    logging.getLogger().setLevel(
        level if isinstance(level, int) and level < logging.INFO else logging.WARNING
    )
    return settings


def quiet_kafka_logger() -> logging.Logger:
    """A logger for librdkafka's own messages: a refused connection is reported once, by us,
    as exit code 3, rather than as a stream of librdkafka lines on stderr."""
    logger = logging.getLogger("stocksignal.cli.librdkafka")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.CRITICAL)
    return logger


def kafka_client_overrides() -> dict[str, Any]:
    return {"logger": quiet_kafka_logger()}


def probe_kafka(settings: Settings, timeout: float = 3.0) -> None:
    """:class:`Unavailable` at once when no bootstrap address accepts a TCP connection (before
    librdkafka retries it, noisily, for the whole timeout)."""
    problems = []
    for address in settings.kafka_bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        host = host.strip("[]") or "localhost"
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
            return
        except (OSError, ValueError) as exc:
            problems.append(f"{address.strip()}: {exc}")
    raise Unavailable(
        f"Kafka does not answer at {settings.kafka_bootstrap_servers} ({'; '.join(problems)}); "
        "is it running? (make up; KAFKA_BOOTSTRAP_SERVERS)"
    )


def require_kafka(settings: Settings, timeout: float = KAFKA_TIMEOUT_S):
    """The cluster's metadata; :class:`Unavailable` (exit 3) when Kafka does not answer within
    ``timeout``, :class:`Refused` (exit 5) as soon as it refuses the login or a certificate."""
    from stocksignal import bootstrap
    from stocksignal.security.errors import AccessRefused, NoAnswer

    probe_kafka(settings)
    try:
        return bootstrap.check_kafka(settings, timeout)
    except AccessRefused as exc:
        raise Refused(str(exc)) from None
    except NoAnswer as exc:
        raise Unavailable(f"{exc}; is it running? (make up; KAFKA_BOOTSTRAP_SERVERS)") from None


def refuse_bad_redis_login(settings: Settings) -> None:
    """:class:`Refused` (exit 5) when Redis refuses the login or a certificate. A Redis that
    is merely down is left to the adapters, which retry until it is back."""
    from stocksignal import bootstrap
    from stocksignal.security.errors import AccessRefused, NoAnswer

    try:
        bootstrap.check_redis(settings)
    except AccessRefused as exc:
        raise Refused(str(exc)) from None
    except NoAnswer as exc:
        logging.getLogger(__name__).warning("%s; starting anyway, retrying until it answers", exc)


def existing_topics(settings: Settings, timeout: float = KAFKA_TIMEOUT_S) -> dict[str, int]:
    """topic -> partition count of every topic on the cluster (see :func:`require_kafka`)."""
    metadata = require_kafka(settings, timeout)
    return {name: len(t.partitions) for name, t in metadata.topics.items() if t.error is None}


def require_topics(
    settings: Settings, names: Iterable[str], timeout: float = KAFKA_TIMEOUT_S
) -> dict[str, int]:
    """Partition counts of ``names`` (full names, prefix included); exit 4 naming the missing ones."""
    existing = existing_topics(settings, timeout)
    names = list(names)
    missing = [n for n in names if n not in existing]
    if missing:
        prefix = (
            f" (STOCKSIGNAL_TOPIC_PREFIX={settings.topic_prefix!r})"
            if settings.topic_prefix
            else ""
        )
        raise TopicsNotReadyError(
            "missing topic(s): "
            + ", ".join(missing)
            + prefix
            + "\nrun `stocksignal topics create` with the same settings to create them"
        )
    return {n: existing[n] for n in names}


def serve_metrics(settings: Settings, registry: CollectorRegistry, port: int | None = None):
    """Prometheus text on http://STOCKSIGNAL_METRICS_HOST:port/metrics (``port`` defaults to
    STOCKSIGNAL_METRICS_PORT); port 0 serves nothing (None returned)."""
    from stocksignal.web.metrics_server import MetricsServer

    port = settings.metrics_port if port is None else port
    if not port:
        return None
    return MetricsServer(settings.metrics_host, port, registry).start()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the loop finishes its batch, commits and exits."""
    stop = threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(stderr: bool = False):
    """A rich console; when not writing to a terminal, wide enough that tables never wrap (a
    pipe or a file gets whole lines)."""
    from rich.console import Console

    terminal = stderr_is_terminal() if stderr else stdout_is_terminal()
    return Console(highlight=False, stderr=stderr, width=None if terminal else 250)


def wait_for_leaders(settings, names: list[str], timeout: float = 30.0) -> None:
    """Until every partition of the new topics has a leader: "created" means usable at once."""
    from stocksignal import bootstrap

    if not names:
        return
    admin = bootstrap.make_admin(settings)
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while waiting and time.monotonic() < deadline:
        topics = admin.list_topics(timeout=10).topics
        for name in list(waiting):
            t = topics.get(name)
            if (
                t is not None
                and t.error is None
                and t.partitions
                and all(p.error is None and p.leader >= 0 for p in t.partitions.values())
            ):
                waiting.discard(name)
        if waiting:
            time.sleep(0.1)
    if waiting:
        click.echo(
            f"Warning: no leader yet for every partition of {', '.join(sorted(waiting))}", err=True
        )
