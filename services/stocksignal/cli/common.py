"""What every long-running command needs: settings, logging, metrics, stop signals."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from typing import Any

import click
from prometheus_client import CollectorRegistry, start_http_server

from stocksignal.bootstrap import settings_from_env
from stocksignal.settings import Settings, SettingsError


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


def serve_metrics(port: int, registry: CollectorRegistry, host: str = "0.0.0.0") -> None:
    """Prometheus text on http://host:port/metrics; port 0 serves nothing."""
    if port:
        start_http_server(port, addr=host, registry=registry)
        logging.getLogger(__name__).info("metrics on :%d/metrics", port)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the loop finishes its batch, commits and exits."""
    stop = threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
