"""Waiting until something holds, and the probes a wait asks."""

from stocksignal.bench.probes import http_get, metric_sum, wait_until

__all__ = ["http_get", "metric_sum", "wait_until"]
