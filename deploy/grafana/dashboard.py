#!/usr/bin/env python3
"""Writes deploy/grafana/dashboards/stocksignal.json, the stocksignal Grafana dashboard.

    python3 deploy/grafana/dashboard.py            # rewrite the JSON
    python3 deploy/grafana/dashboard.py --check    # exit 1 when the JSON is not what this writes

The panels are listed here, compactly; the JSON is generated so that every panel has the same
shape and the layout is computed, never hand-placed. Edit this file, run it, commit both (a
test fails when they disagree). Standard library only.

Every query uses metric names the code defines (a test checks them against the sources), and
the datasource provisioned by deploy/grafana/provisioning/datasources/prometheus.yml.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards" / "stocksignal.json"
DATASOURCE = {"type": "prometheus", "uid": "stocksignal-prometheus"}
RATE = "$__rate_interval"


@dataclass
class Panel:
    title: str
    targets: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    description: str = ""
    kind: str = "timeseries"  # timeseries | stat
    width: int = 8
    height: int = 8
    stack: bool = False
    thresholds: list[tuple[float | None, str]] = field(default_factory=lambda: [(None, "green")])


@dataclass
class Row:
    title: str
    panels: list[Panel]


ROWS = [
    Row(
        "Processor",
        [
            Panel(
                "Oversell guard trips (range)",
                [
                    ("sum(increase(stocksignal_oversell_guard_tripped_total[$__range]))", "trips"),
                ],
                kind="stat",
                width=4,
                height=4,
                thresholds=[(None, "green"), (1, "red")],
                description="Must be 0. Anything else pages (StocksignalOversellGuardTripped).",
            ),
            Panel(
                "Workers ready",
                [
                    ("sum(stocksignal_ready)", "ready"),
                ],
                kind="stat",
                width=4,
                height=4,
                description="Processor workers whose tables are recovered (stocksignal_ready).",
            ),
            Panel(
                "Targets up",
                [
                    ('sum by (job) (up{job=~"stocksignal-.*"})', "{{job}}"),
                ],
                kind="stat",
                width=8,
                height=4,
                thresholds=[(None, "red"), (1, "green")],
                description="Scrape targets that answer, per job.",
            ),
            Panel(
                "Table recovery remaining",
                [
                    (
                        "sum by (instance) (stocksignal_table_recovery_remaining_records)",
                        "{{instance}}",
                    ),
                ],
                kind="stat",
                width=8,
                height=4,
                description="Changelog records left to restore before a worker is ready.",
            ),
            Panel(
                "Input throughput by type",
                [
                    (
                        f"sum by (event_type) (rate(stocksignal_events_in_total[{RATE}]))",
                        "{{event_type}}",
                    ),
                ],
                unit="ops",
                stack=True,
                description="Input records consumed per second, by record type.",
            ),
            Panel(
                "Commands applied",
                [
                    (
                        f"sum by (command) (rate(stocksignal_commands_applied_total[{RATE}]))",
                        "{{command}}",
                    ),
                    (
                        f"sum(rate(stocksignal_duplicates_dropped_total[{RATE}]))",
                        "duplicates dropped",
                    ),
                    (f"sum(rate(stocksignal_commands_replayed_total[{RATE}]))", "replayed"),
                    (
                        f"sum(rate(stocksignal_expiry_commands_total[{RATE}]))",
                        "hold expiry appended",
                    ),
                ],
                unit="ops",
                description="Per-SKU commands applied per second, by type; repeats that changed nothing.",
            ),
            Panel(
                "Event to availability latency",
                [
                    (
                        f"histogram_quantile(0.5, sum by (le) (rate(stocksignal_output_latency_seconds_bucket[{RATE}])))",
                        "p50",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (le) (rate(stocksignal_output_latency_seconds_bucket[{RATE}])))",
                        "p99",
                    ),
                ],
                unit="s",
                thresholds=[(None, "green"), (0.5, "red")],
                description="From the cause event's occurred_at to its AvailabilityChanged acknowledged by Kafka. "
                "p99 above 0.5 s for 5 minutes alerts.",
            ),
            Panel(
                "Reservation decisions by status",
                [
                    (f"sum by (status) (rate(stocksignal_decisions_total[{RATE}]))", "{{status}}"),
                ],
                unit="ops",
                stack=True,
            ),
            Panel(
                "DLQ records by reason (per minute)",
                [
                    (
                        f"sum by (reason) (rate(stocksignal_dlq_records_total[{RATE}])) * 60",
                        "{{reason}}",
                    ),
                ],
                unit="short",
                thresholds=[(None, "green"), (10, "red")],
                description="Input records sent to inventory.dlq.v1. Above 10/min for 5 minutes alerts.",
            ),
            Panel(
                "Availability changes published",
                [
                    (
                        f"sum(rate(stocksignal_availability_published_total[{RATE}]))",
                        "AvailabilityChanged",
                    ),
                    (
                        f"sum by (reason) (rate(stocksignal_movements_total[{RATE}]))",
                        "movement {{reason}}",
                    ),
                ],
                unit="ops",
            ),
            Panel(
                "Consumer lag: processor, projector, marketplace",
                [
                    (
                        'sum by (topic) (stocksignal_consumer_lag_records{topic!~".*-changelog"})',
                        "processor {{topic}}",
                    ),
                    ("sum(stocksignal_projector_consumer_lag)", "projector"),
                    (
                        "sum by (channel) (stocksignal_marketplace_consumer_lag)",
                        "marketplace {{channel}}",
                    ),
                ],
                width=16,
                description="Records not yet processed (committed) by each consumer group.",
            ),
            Panel(
                "Domain notes",
                [
                    (f"sum by (note) (rate(stocksignal_domain_notes_total[{RATE}]))", "{{note}}"),
                ],
                unit="ops",
                description="Notable domain events: default channel used, clamped values, ...",
            ),
            Panel(
                "Expired state swept",
                [
                    (
                        f"sum by (kind) (increase(stocksignal_janitor_deleted_total[{RATE}]))",
                        "{{kind}}",
                    ),
                ],
                description="Dedupe markers past the dedupe window and forgotten order memory deleted from the tables.",
            ),
        ],
    ),
    Row(
        "Inventory accuracy",
        [
            Panel(
                "Inventory record accuracy by location (24 h)",
                [
                    (
                        '1 - ((sum by (location) (increase(stocksignal_cycle_counts_total{outcome="corrected"}[24h]))'
                        # "or ... * 0": a location without any correction has no "corrected" series: 100 %
                        " / sum by (location) (increase(stocksignal_cycle_counts_total[24h])))"
                        " or (sum by (location) (increase(stocksignal_cycle_counts_total[24h])) * 0))",
                        "{{location}}",
                    ),
                ],
                unit="percentunit",
                thresholds=[(None, "red"), (0.95, "green")],
                description="Share of the last day's cycle counts that found the books right, per location. Below 95% "
                "(with at least 20 counts) for 30 minutes alerts (StocksignalInventoryAccuracyLow).",
            ),
            Panel(
                "Cycle counts by outcome",
                [
                    (
                        f"sum by (location, outcome) (increase(stocksignal_cycle_counts_total[{RATE}]))",
                        "{{location}} {{outcome}}",
                    ),
                ],
                stack=True,
                description="Counts applied: agreed with the books, or corrected them.",
            ),
            Panel(
                "Units corrected by counts",
                [
                    (
                        f"sum by (location, direction) (increase(stocksignal_count_correction_units_total[{RATE}]))",
                        "{{location}} {{direction}}",
                    ),
                ],
                description="How far the books were off: units the counts added (up) and took away (down).",
            ),
        ],
    ),
    Row(
        "Redis projector",
        [
            Panel(
                "Projector writes and stale writes refused",
                [
                    (f"sum(rate(stocksignal_projector_writes_total[{RATE}]))", "written"),
                    (
                        f"sum(rate(stocksignal_projector_stale_writes_refused_total[{RATE}]))",
                        "stale refused",
                    ),
                    (
                        f"sum by (reason) (rate(stocksignal_projector_skipped_records_total[{RATE}]))",
                        "skipped {{reason}}",
                    ),
                ],
                unit="ops",
            ),
            Panel(
                "Projector rebuilds",
                [
                    (
                        f"sum by (reason) (increase(stocksignal_projector_rebuilds_total[{RATE}]))",
                        "rebuild {{reason}}",
                    ),
                    ("sum(stocksignal_projector_rebuilding_partitions)", "partitions rebuilding"),
                    (
                        f"sum(increase(stocksignal_projector_redis_errors_total[{RATE}]))",
                        "Redis errors",
                    ),
                ],
                description="Rebuilds started (Redis emptied or restarted), partitions still replaying, failed round trips.",
            ),
            Panel(
                "Projector batch time",
                [
                    (
                        f"histogram_quantile(0.5, sum by (le) (rate(stocksignal_projector_batch_seconds_bucket[{RATE}])))",
                        "p50",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (le) (rate(stocksignal_projector_batch_seconds_bucket[{RATE}])))",
                        "p99",
                    ),
                ],
                unit="s",
                description="Decode + Redis round trip + commit of one batch.",
            ),
        ],
    ),
    Row(
        "Marketplace sync",
        [
            Panel(
                "Pushes by outcome",
                [
                    (
                        f"sum by (channel, outcome) (rate(stocksignal_marketplace_requests_total[{RATE}]))",
                        "{{channel}} {{outcome}}",
                    ),
                ],
                unit="reqps",
                stack=True,
            ),
            Panel(
                "Updates pushed, dead-lettered",
                [
                    (
                        f"sum by (channel) (rate(stocksignal_marketplace_updates_pushed_total[{RATE}]))",
                        "{{channel}} acknowledged",
                    ),
                    (
                        f"sum by (channel, reason) (increase(stocksignal_marketplace_dead_lettered_total[{RATE}]))",
                        "{{channel}} dead-lettered {{reason}}",
                    ),
                    (
                        f"sum by (channel) (rate(stocksignal_marketplace_unchanged_skipped_total[{RATE}]))",
                        "{{channel}} unchanged",
                    ),
                    (
                        f"sum by (channel) (rate(stocksignal_marketplace_stale_skipped_total[{RATE}]))",
                        "{{channel}} stale",
                    ),
                ],
                unit="short",
            ),
            Panel(
                "Pending SKUs",
                [
                    (
                        "sum by (channel) (stocksignal_marketplace_pending_skus)",
                        "{{channel}} waiting",
                    ),
                    (
                        "sum by (channel) (stocksignal_marketplace_pending_priority_skus)",
                        "{{channel}} zero crossings",
                    ),
                    (
                        "sum by (channel) (stocksignal_marketplace_unresolved_records)",
                        "{{channel}} unresolved records",
                    ),
                ],
            ),
            Panel(
                "Push duration",
                [
                    (
                        f"histogram_quantile(0.5, sum by (channel, le) (rate(stocksignal_marketplace_request_seconds_bucket[{RATE}])))",
                        "{{channel}} p50",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (channel, le) (rate(stocksignal_marketplace_request_seconds_bucket[{RATE}])))",
                        "{{channel}} p99",
                    ),
                ],
                unit="s",
            ),
            Panel(
                "Time waiting to retry",
                [
                    (
                        f"sum by (channel) (rate(stocksignal_marketplace_retry_wait_seconds_total[{RATE}]))",
                        "{{channel}}",
                    ),
                ],
                unit="percentunit",
                description="Share of time spent in backoff or Retry-After waits.",
            ),
            Panel(
                "Skipped records",
                [
                    (
                        f"sum by (channel, reason) (rate(stocksignal_marketplace_skipped_records_total[{RATE}]))",
                        "{{channel}} {{reason}}",
                    ),
                ],
                unit="ops",
            ),
        ],
    ),
    Row(
        "Storefront API",
        [
            Panel(
                "API requests by route and status",
                [
                    (
                        f"sum by (route, status) (rate(stocksignal_api_requests_total[{RATE}]))",
                        "{{route}} {{status}}",
                    ),
                ],
                unit="reqps",
                width=12,
                stack=True,
            ),
            Panel(
                "API latency p99 by route",
                [
                    (
                        f"histogram_quantile(0.99, sum by (route, le) (rate(stocksignal_api_request_seconds_bucket[{RATE}])))",
                        "{{route}} p99",
                    ),
                    (
                        f"histogram_quantile(0.5, sum by (le) (rate(stocksignal_api_request_seconds_bucket[{RATE}])))",
                        "all routes p50",
                    ),
                ],
                unit="s",
                width=12,
            ),
        ],
    ),
]


def _target(ref: int, expr: str, legend: str) -> dict:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "refId": chr(ord("A") + ref),
    }


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    steps = [{"color": color, "value": value} for value, color in panel.thresholds]
    out = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": [_target(i, expr, legend) for i, (expr, legend) in enumerate(panel.targets)],
        "fieldConfig": {
            "defaults": {"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
    }
    if panel.kind == "timeseries":
        out["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
        }
        out["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        out["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
        }
    return out


def build() -> dict:
    panels: list[dict] = []
    next_id, y = 1, 0
    for row in ROWS:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id, y = next_id + 1, y + 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            panels.append(_panel(panel, next_id, x, y))
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {
        "uid": "stocksignal",
        "title": "stocksignal",
        "description": "Processor, Redis projector, marketplace sync and storefront API (docs/operations.md).",
        "tags": ["stocksignal"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python3 deploy/grafana/dashboard.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
