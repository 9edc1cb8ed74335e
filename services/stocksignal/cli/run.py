"""``stocksignal run ...``: the long-running processes, one command each."""

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
    load_settings,
    refuse_bad_redis_login,
    require_kafka,
    serve_metrics,
    stop_on_signals,
)
from stocksignal.settings import SettingsError

METRICS_HELP = "Port of the Prometheus metrics server [default: STOCKSIGNAL_METRICS_PORT]; 0: none."


@click.group(short_help="Run a process: processor, projector, api, marketplace-sync.")
def run() -> None:
    """Run one stocksignal process until SIGTERM or SIGINT."""


@run.command(short_help="Run a processor worker.")
@click.option("--web-host", default=None, help="Address of the inspection API [default: STOCKSIGNAL_WEB_HOST].")
@click.option("--web-port", type=int, default=None, help="Port of the inspection API and /metrics [default: STOCKSIGNAL_WEB_PORT].")
@click.option("--state-dir", default=None, help="Directory of the local state (RocksDB) [default: STOCKSIGNAL_STATE_DIR].")
def processor(web_host: str | None, web_port: int | None, state_dir: str | None) -> None:
    """Run one processor worker: route input events, decide, publish availability.

    Refuses to start (exit 4) when a topic is missing or has the wrong partition count: run
    `stocksignal topics create` first. Exit 3 when Kafka does not answer, 5 when it refuses the
    credentials or certificates. The inspection API (GET /skus/{sku}, /healthz, /readyz,
    /metrics) listens on --web-host:--web-port.
    """
    from confluent_kafka import KafkaException

    from stocksignal.processor.runner import run_processor
    from stocksignal.processor.topic_admin import TopicsNotReady

    settings = load_settings(web_host=web_host, web_port=web_port, state_dir=state_dir)
    try:
        require_kafka(settings)
        run_processor(settings)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TopicsNotReady as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_TOPICS)
    except KafkaException as exc:
        click.echo(f"Error: Kafka at {settings.kafka_bootstrap_servers} does not answer: {exc}", err=True)
        sys.exit(EXIT_UNAVAILABLE)


@run.command()
@click.option("--metrics-port", type=int, default=None, help=METRICS_HELP)
def projector(metrics_port: int | None) -> None:
    """Project inventory.availability.v1 into the Redis read model.

    Exit 3 when Kafka does not answer, 5 when Kafka or Redis refuses the credentials or
    certificates (a Redis that is down is waited for).
    """
    settings = load_settings(metrics_port=metrics_port)
    require_kafka(settings)
    refuse_bad_redis_login(settings)
    registry = CollectorRegistry()
    worker = bootstrap.build_projector(settings, registry)
    serve_metrics(settings.metrics_port, registry)
    stop = stop_on_signals()
    worker.run(stop.is_set)


@run.command()
@click.option("--host", default=None, help="Address to listen on [default: STOCKSIGNAL_API_HOST].")
@click.option("--port", type=int, default=None, help="Port [default: STOCKSIGNAL_API_PORT].")
def api(host: str | None, port: int | None) -> None:
    """Serve the storefront read API (and its /metrics) from Redis.

    Exit 5 when Redis refuses the credentials or certificates; while Redis is down the API
    answers 503.
    """
    from aiohttp import web

    settings = load_settings(api_host=host, api_port=port)
    refuse_bad_redis_login(settings)
    app = bootstrap.build_api(settings)
    # access_log off: a log line per request costs more than the request itself.
    web.run_app(app, host=settings.api_host, port=settings.api_port, access_log=None, print=None)


@run.command("marketplace-sync")
@click.option("--channel", default=None, help="The marketplace's channel_id [default: STOCKSIGNAL_MARKETPLACE_CHANNEL].")
@click.option("--url", default=None, help="Endpoint the updates are POSTed to [default: STOCKSIGNAL_MARKETPLACE_URL].")
@click.option("--metrics-port", type=int, default=None, help=METRICS_HELP)
def marketplace_sync(channel: str | None, url: str | None, metrics_port: int | None) -> None:
    """Push one marketplace channel's availability changes to its HTTP endpoint.

    Exit 2 when the marketplace refuses the credentials, 3 when Kafka does not answer, 5 when
    Kafka or Redis refuses the credentials or certificates.
    """
    from stocksignal.adapters.marketplace.worker import MarketplaceRefused

    settings = load_settings(marketplace_channel=channel, marketplace_url=url, metrics_port=metrics_port)
    require_kafka(settings)
    refuse_bad_redis_login(settings)
    try:
        asyncio.run(_sync(settings))
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    except MarketplaceRefused as exc:
        click.echo(f"stopped: {exc}", err=True)
        sys.exit(2)


async def _sync(settings) -> None:
    import aiohttp

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    registry = CollectorRegistry()
    async with aiohttp.ClientSession() as session:
        worker = bootstrap.build_marketplace_sync(settings, session, registry)
        serve_metrics(settings.metrics_port, registry)
        await worker.run(stop)
