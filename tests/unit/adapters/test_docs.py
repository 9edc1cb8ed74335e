"""docs/adapters.md names every adapter metric and every adapter setting's variable."""

from dataclasses import fields
from pathlib import Path

from prometheus_client import CollectorRegistry

from stocksignal.adapters.api import ApiMetrics
from stocksignal.adapters.marketplace.metrics import SyncMetrics
from stocksignal.adapters.projector_metrics import ProjectorMetrics
from stocksignal.settings import Settings

DOC = (Path(__file__).resolve().parents[3] / "docs" / "adapters.md").read_text()
ADAPTER_SETTINGS = ("api_", "metrics_port", "marketplace_", "projector_", "redis_prefix")


def metric_names() -> set[str]:
    names = set()
    for make in (ProjectorMetrics, lambda r: ApiMetrics(r), lambda r: SyncMetrics("mkt", r)):
        registry = CollectorRegistry()
        make(registry)
        names |= {family.name for family in registry.collect()}
    return names


def test_every_metric_is_documented():
    missing = sorted(name for name in metric_names() if name not in DOC)
    assert missing == []


def test_every_adapter_setting_is_documented():
    variables = [
        Settings.env_var(f.name) for f in fields(Settings) if f.name.startswith(ADAPTER_SETTINGS)
    ]
    assert variables, "the adapter settings exist"
    assert sorted(v for v in variables if f"`{v}`" not in DOC) == []
