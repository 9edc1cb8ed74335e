"""Every /metrics serves the process, Python runtime and build metrics: each process has a
registry of its own, where prometheus-client's default collectors are not registered unless
stocksignal.process_metrics adds them (docs/operations.md#metrics-dashboard-and-alerts)."""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stocksignal import __version__, bootstrap
from stocksignal.process_metrics import register_process_metrics
from stocksignal.settings import Settings

RUNTIME = {
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_start_time_seconds",
    "python_info",
    "python_gc_collections_total",
}


def samples(registry) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(dict(sample.labels))
    return out


def test_a_bare_registry_has_none_of_them():
    assert not RUNTIME & set(samples(CollectorRegistry()))


def test_registered_once_with_the_build_info():
    registry = register_process_metrics(CollectorRegistry(), commit="abc1234")
    register_process_metrics(registry, commit="abc1234")  # a second builder: no duplicate error
    found = samples(registry)
    assert RUNTIME <= set(found), sorted(RUNTIME - set(found))
    assert found["stocksignal_build_info"] == [
        {"version": __version__, "python": platform.python_version(), "commit": "abc1234"}
    ]


def test_the_composition_root_adds_them_to_a_given_registry_and_to_a_new_one():
    settings = Settings(build_commit="feed")
    given = CollectorRegistry()
    assert bootstrap.process_registry(settings, given) is given
    assert samples(given)["stocksignal_build_info"][0]["commit"] == "feed"
    assert "process_cpu_seconds_total" in samples(bootstrap.process_registry(settings))
