"""``stocksignal run ...``: the long-running processes, one command each.

Before anything connects, each checks what it will listen on (docs/cli.md#run): a port that
is taken, or a server that would be open beyond loopback without tokens, is exit 2 with a
message, never a traceback halfway through the start.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import click
from prometheus_client import CollectorRegistry

from stocksignal import bootstrap
from stocksignal.cli.common import (
    EXIT_TOPICS,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    load_settings,
    refuse_bad_redis_login,
    require_kafka,
    serve_metrics,
    stop_on_signals,
)
from stocksignal.settings import Settings, SettingsError

METRICS_HELP = "Port of the Prometheus metrics server [default: STOCKSIGNAL_METRICS_PORT]; 0: none."


class ListenError(click.ClickException):
    """A server cannot listen where it is configured to (exit 2: nothing was started)."""

    exit_code = EXIT_USAGE


def check_listen(what: str, host: str, port: int) -> None:
    from stocksignal.web.server import PortInUse, check_port_free

    if not port:
        return
    try:
        check_port_free(host, port, what)
    except PortInUse as exc:
        raise ListenError(f"{exc.strerror}; choose another port or stop what holds it") from None


def check_open(settings: Settings, what: str, host: str, tokens_field: str) -> tuple[str, ...]:
    """The token digests of ``tokens_field``; exit 2 when the server would be exposed without them."""
    from stocksignal.web.exposure import ExposedWithoutAuth, check_exposure

    digests = settings.token_digests(tokens_field)
    try:
        check_exposure(
            what,
            host,
            bool(digests),
            settings.allow_unauthenticated,
            Settings.env_var(tokens_field),
            Settings.env_var("allow_unauthenticated"),
        )
    except ExposedWithoutAuth as exc:
        raise ListenError(str(exc)) from None
    return digests


@click.group(short_help="Run a process: processor, projector, api, marketplace-sync.")
def run() -> None:
    """Run one stocksignal process until SIGTERM or SIGINT."""


@run.command(short_help="Run a processor worker.")
@click.option(
    "--web-host",
    default=None,
    help="Address of the inspection API [default: STOCKSIGNAL_WEB_HOST].",
)
@click.option(
    "--web-port",
    type=int,
    default=None,
    help="Port of the inspection API and /metrics [default: STOCKSIGNAL_WEB_PORT].",
)
@click.option(
    "--state-dir",
    default=None,
    help="Directory of the local state (RocksDB) [default: STOCKSIGNAL_STATE_DIR].",
)
def processor(web_host: str | None, web_port: int | None, state_dir: str | None) -> None:
    """Run one processor worker: route input events, decide, publish availability.

    Refuses to start (exit 4) when a topic is missing or has the wrong partition count: run
    `stocksignal topics create` first. Exit 3 when Kafka does not answer, 5 when it refuses the
    credentials or certificates, 2 when the web port is taken or the state directory is in
    use. The inspection API (GET /skus/{sku}, /healthz, /readyz, /metrics) listens on
    --web-host:--web-port.
    """
    from confluent_kafka import KafkaException

    from stocksignal.processor.runner import run_processor
    from stocksignal.processor.store import StoreLocked
    from stocksignal.processor.topic_admin import TopicsNotReady

    settings = load_settings(web_host=web_host, web_port=web_port, state_dir=state_dir)
    check_open(settings, "the inspection API", settings.web_host, "web_tokens_sha256")
    check_listen("the inspection API", settings.web_host, settings.web_port)
    try:
        require_kafka(settings)
        run_processor(settings)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TopicsNotReady as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_TOPICS)
    except StoreLocked as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KafkaException as exc:
        click.echo(
            f"Error: Kafka at {settings.kafka_bootstrap_servers} does not answer: {exc}", err=True
        )
        sys.exit(EXIT_UNAVAILABLE)


@run.command()
@click.option("--metrics-port", type=int, default=None, help=METRICS_HELP)
def projector(metrics_port: int | None) -> None:
    """Project inventory.availability.v1 into the Redis read model.

    Exit 3 when Kafka does not answer, 5 when Kafka or Redis refuses the credentials or
    certificates (a Redis that is down is waited for).
    """
    settings = load_settings(metrics_port=metrics_port)
    check_listen("the projector's metrics server", settings.metrics_host, settings.metrics_port)
    require_kafka(settings)
    refuse_bad_redis_login(settings)
    registry = CollectorRegistry()
    worker = bootstrap.build_projector(settings, registry)
    serve_metrics(settings, registry)
    stop = stop_on_signals()
    worker.run(stop.is_set)


@run.command()
@click.option("--host", default=None, help="Address to listen on [default: STOCKSIGNAL_API_HOST].")
@click.option("--port", type=int, default=None, help="Port [default: STOCKSIGNAL_API_PORT].")
def api(host: str | None, port: int | None) -> None:
    """Serve the storefront read API (and its /metrics) from Redis.

    Exit 5 when Redis refuses the credentials or certificates; while Redis is down the API
    answers 503.

    With STOCKSIGNAL_API_TOKENS_SHA256 every path but /healthz and /readyz needs a bearer
    token; without it the API only starts on a loopback address, unless
    STOCKSIGNAL_ALLOW_UNAUTHENTICATED=true (docs/operations.md#http-security). Exit 2 when a
    port is taken.
    """
    settings = load_settings(api_host=host, api_port=port)
    refuse_bad_redis_login(settings)
    check_open(settings, "the storefront API", settings.api_host, "api_tokens_sha256")
    check_listen("the storefront API", settings.api_host, settings.api_port)
    check_listen(
        "the storefront API's metrics server", settings.metrics_host, settings.api_metrics_port
    )
    registry = CollectorRegistry()
    app = bootstrap.build_api(settings, registry)
    asyncio.run(_serve_api(app, settings, registry))


async def _serve_api(app, settings: Settings, registry: CollectorRegistry) -> None:
    from stocksignal.web.server import start_site

    stop = _stop_event()
    runner = await start_site(app, settings.api_host, settings.api_port)
    metrics = serve_metrics(settings, registry, settings.api_metrics_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if metrics is not None:
            metrics.stop()


@run.command("marketplace-sync")
@click.option(
    "--channel",
    default=None,
    help="The marketplace's channel_id [default: STOCKSIGNAL_MARKETPLACE_CHANNEL].",
)
@click.option(
    "--url",
    default=None,
    help="Endpoint the updates are POSTed to [default: STOCKSIGNAL_MARKETPLACE_URL].",
)
@click.option("--metrics-port", type=int, default=None, help=METRICS_HELP)
def marketplace_sync(channel: str | None, url: str | None, metrics_port: int | None) -> None:
    """Push one marketplace channel's availability changes to its HTTP endpoint.

    Exit 2 when the settings are unusable or the marketplace refuses the worker's credentials
    (401, 403, 407; see docs/adapters.md#marketplace-sync-worker), 3 when Kafka does not
    answer, 5 when Kafka or Redis refuses the credentials or certificates.
    """
    from stocksignal.adapters.marketplace.config import check_marketplace_settings
    from stocksignal.adapters.marketplace.worker import MarketplaceRefused

    settings = load_settings(
        marketplace_channel=channel, marketplace_url=url, metrics_port=metrics_port
    )
    # Settings first: a usage error needs no cluster to be reported.
    try:
        check_marketplace_settings(settings)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    require_kafka(settings)
    refuse_bad_redis_login(settings)
    check_listen("the sync worker's metrics server", settings.metrics_host, settings.metrics_port)
    try:
        asyncio.run(_sync(settings))
    except MarketplaceRefused as exc:
        click.echo(f"stopped: {exc}", err=True)
        sys.exit(2)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _sync(settings) -> None:
    stop = _stop_event()
    registry = CollectorRegistry()
    async with bootstrap.marketplace_session(settings) as session:
        worker = bootstrap.build_marketplace_sync(settings, session, registry)
        serve_metrics(settings, registry)
        await worker.run(stop)
