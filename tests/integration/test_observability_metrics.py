"""The dashboard and the alerts query only metrics (and labels) the code defines, and a real
processor worker exposes the ones they use.

Metric names come from the sources (every ``Counter("stocksignal_...")``, ``Gauge``, ...
under services/), labels from the metric classes themselves; a test checks that the two
agree, so a new metrics module cannot be missed.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_observability_rules import IN_CI, find_tool, load_alerts

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "stocksignal.json"
DASHBOARD_SCRIPT = REPO / "deploy" / "grafana" / "dashboard.py"
DATASOURCES = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
RULES = REPO / "deploy" / "prometheus" / "rules" / "stocksignal.rules.yml"

# Prometheus's own series, and the labels every scraped series gets.
BUILTIN_METRICS = {"up": set()}
TARGET_LABELS = {"job", "instance"}
PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "inf",
    "nan",
}
DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(stocksignal_[a-z0-9_]+)\"")


# --- what the code defines ---------------------------------------------------------------------


def defined_metrics() -> dict[str, str]:
    """{name as defined: type} for every metric in services/ (found by reading the sources)."""
    found: dict[str, str] = {}
    for path in SERVICES.rglob("*.py"):
        for kind, name in DEFINITION.findall(path.read_text()):
            assert found.get(name, kind) == kind, f"{name} defined as {found[name]} and {kind}"
            found[name] = kind
    return found


def exposed_names(kind: str, name: str) -> set[str]:
    """The series names a prometheus_client metric of this type exposes."""
    if kind == "Counter":
        base = name.removesuffix("_total")
        return {base + "_total", base + "_created"}
    if kind == "Histogram":
        return {name + "_bucket", name + "_sum", name + "_count", name + "_created"}
    if kind == "Summary":
        return {name, name + "_sum", name + "_count", name + "_created"}
    return {name}


def metric_labels() -> dict[str, set[str]]:
    """{exposed series name: label names} from the metric classes, plus Prometheus's ``up``."""
    from prometheus_client import CollectorRegistry

    from stocksignal.adapters.api import ApiMetrics
    from stocksignal.adapters.marketplace.metrics import SyncMetrics
    from stocksignal.adapters.projector_metrics import ProjectorMetrics
    from stocksignal.processor.metrics import ProcessorMetrics

    registries = [
        ProcessorMetrics().registry,
        ProjectorMetrics().registry,
        SyncMetrics("x").registry,
        ApiMetrics(CollectorRegistry()).registry,
    ]
    labels: dict[str, set[str]] = {name: set(extra) for name, extra in BUILTIN_METRICS.items()}
    for registry in registries:
        # Names and label names are not public API of prometheus_client; these attributes are
        # stable. (A Counter's _name has no _total suffix.)
        for collector in registry._collector_to_names:  # noqa: SLF001
            for name in exposed_names(type(collector).__name__, collector._name):  # noqa: SLF001
                extra = {"le"} if name.endswith("_bucket") else set()
                labels[name] = set(collector._labelnames) | extra  # noqa: SLF001
    return labels


# --- reading PromQL -----------------------------------------------------------------------------


def _strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (not functions, keywords, labels or durations)."""
    s = _strip_strings(expr)
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", s):
        token = match.group(0)
        if token.lower() in PROMQL_WORDS or s[match.end() :].lstrip().startswith("("):
            continue
        names.add(token)
    return names


def label_names(expr: str) -> set[str]:
    """Labels an expression groups by, matches on or filters by."""
    s = _strip_strings(expr)
    found: set[str] = set()
    for group in re.findall(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", s
    ):
        found |= {part.strip() for part in group.split(",") if part.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", s):
        found |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    return found


def kept_labels(expr: str, labels: dict[str, set[str]]) -> set[str]:
    """Labels the result of an expression can carry (what a legend or an annotation may show)."""
    s = _strip_strings(expr)
    by_groups = re.findall(r"\bby\s*\(([^)]*)\)", s)
    if by_groups:
        return {part.strip() for group in by_groups for part in group.split(",") if part.strip()}
    if re.match(r"^\s*\(?\s*(sum|min|max|avg|count|group)\s*\(", s):
        return set()
    names = metric_names(expr)
    return set().union(*(labels.get(n, set()) for n in names)) | TARGET_LABELS


def legend_labels(legend: str) -> set[str]:
    return set(re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", legend))


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_targets() -> list[tuple[str, str, str]]:
    """(panel title, expr, legend) for every query of every panel."""
    out = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"], target.get("legendFormat", "")))
    return out


def check_expr(where: str, expr: str, labels: dict[str, set[str]]) -> set[str]:
    """Asserts the expression's metrics and labels exist; returns its metric names."""
    names = metric_names(expr)
    assert names, f"{where}: no metric found in {expr!r}"
    unknown = names - set(labels)
    assert not unknown, f"{where}: {sorted(unknown)} defined nowhere in services/ ({expr})"
    available = set().union(*(labels[n] for n in names)) | TARGET_LABELS
    missing = label_names(expr) - available
    assert not missing, (
        f"{where}: labels {sorted(missing)} exist on none of {sorted(names)} ({expr})"
    )
    return names


# --- the static tests -----------------------------------------------------------------------------


def test_metric_definitions_in_the_sources_match_the_metric_classes() -> None:
    from_sources = set()
    for name, kind in defined_metrics().items():
        from_sources |= exposed_names(kind, name)
    from_classes = set(metric_labels()) - set(BUILTIN_METRICS)
    assert from_sources == from_classes, (
        f"only in the sources: {sorted(from_sources - from_classes)}; "
        f"only in the classes: {sorted(from_classes - from_sources)}"
    )


def test_promql_reader() -> None:
    expr = 'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{topic!~".*-x", b="c"}[5m]))) > 0.5 unless on (job) b offset 15m'
    assert metric_names(expr) == {"a_bucket", "b"}
    assert label_names(expr) == {"job", "le", "topic", "b"}
    assert metric_names("sum(rate(x_total[$__rate_interval])) * 60 > 1e3") == {"x_total"}


def test_dashboard_is_generated_and_parses() -> None:
    result = subprocess.run(
        [sys.executable, str(DASHBOARD_SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr  # "run python3 deploy/grafana/dashboard.py"
    board = dashboard()
    assert board["uid"] == "stocksignal" and board["panels"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    datasource_uid = re.search(r"^\s*uid: (\S+)", DATASOURCES.read_text(), flags=re.M).group(1)
    for panel in board["panels"]:
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == datasource_uid, panel["title"]
            assert all(t["datasource"]["uid"] == datasource_uid for t in panel["targets"]), panel[
                "title"
            ]


def test_dashboard_queries_use_only_defined_metrics_and_labels() -> None:
    labels = metric_labels()
    used: set[str] = set()
    for title, expr, legend in dashboard_targets():
        names = check_expr(f"panel {title!r}", expr, labels)
        used |= names
        # A legend can only show labels the query keeps.
        dropped = legend_labels(legend) - kept_labels(expr, labels)
        assert not dropped, (
            f"panel {title!r}: legend {legend!r} shows {sorted(dropped)}, which the query drops"
        )
    wanted = {
        "stocksignal_events_in_total",
        "stocksignal_commands_applied_total",
        "stocksignal_output_latency_seconds_bucket",
        "stocksignal_decisions_total",
        "stocksignal_dlq_records_total",
        "stocksignal_consumer_lag_records",
        "stocksignal_projector_consumer_lag",
        "stocksignal_marketplace_consumer_lag",
        "stocksignal_availability_published_total",
        "stocksignal_projector_writes_total",
        "stocksignal_projector_stale_writes_refused_total",
        "stocksignal_projector_rebuilds_total",
        "stocksignal_marketplace_requests_total",
        "stocksignal_marketplace_dead_lettered_total",
        "stocksignal_marketplace_pending_skus",
        "stocksignal_api_requests_total",
        "stocksignal_api_request_seconds_bucket",
    }
    assert wanted <= used, f"the dashboard shows nothing of {sorted(wanted - used)}"


def test_alert_expressions_use_only_defined_metrics_and_labels() -> None:
    labels = metric_labels()
    for alert in load_alerts():
        check_expr(f"alert {alert.name}", alert.expr, labels)
        templated = set(
            re.findall(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)", json.dumps(alert.annotations))
        )
        dropped = templated - kept_labels(alert.expr, labels)
        assert not dropped, (
            f"alert {alert.name}: annotations show labels {sorted(dropped)}, which its expr drops"
        )


# --- a real worker's /metrics ------------------------------------------------------------------


def processor_series_used() -> set[str]:
    """Series names the dashboard and the alerts read that the processor exposes."""
    from stocksignal.processor.metrics import ProcessorMetrics

    processor = set()
    for collector in ProcessorMetrics().registry._collector_to_names:  # noqa: SLF001
        processor |= exposed_names(type(collector).__name__, collector._name)  # noqa: SLF001
    used = set()
    for _, expr, _ in dashboard_targets():
        used |= metric_names(expr)
    for alert in load_alerts():
        used |= metric_names(alert.expr)
    return used & processor


def parse_exposition(body: str) -> tuple[set[str], dict[str, list[dict[str, str]]]]:
    """(series names declared, {series name: label sets of its samples}). A labelled metric
    is declared (HELP/TYPE) from the start but has samples only once a label value was used."""
    from prometheus_client.parser import text_string_to_metric_families

    declared: set[str] = set()
    series: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(body):
        declared |= exposed_names(family.type.capitalize(), family.name)
        for sample in family.samples:
            series.setdefault(sample.name, []).append(dict(sample.labels))
    return declared, series


@pytest.fixture
def running_worker(kafka_bootstrap: str, tmp_path: Path):
    """A processor worker (``python -m stocksignal.processor``) with its own topics, fed a few
    events (a channel, stock received twice, two orders) and one undecodable record for the DLQ."""
    from stocksignal.bench import harness
    from stocksignal.bench.workload import Event
    from stocksignal.settings import Settings

    settings = harness.isolated_settings(
        Settings(kafka_bootstrap_servers=kafka_bootstrap),
        input_partitions=2,
        command_partitions=2,
        output_partitions=2,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        log_level="INFO",
    )
    harness.create_topics(settings)
    worker = harness.worker(settings, tmp_path, "w1").start()
    try:
        worker.wait_ready(timeout=90)
        now = int(time.time() * 1000)

        def event(name: str, n: int, **fields) -> Event:
            return Event(
                name,
                {
                    "event_id": f"obs-{name}-{n}-{now}",
                    "occurred_at": now,
                    "source": "test",
                    **fields,
                },
            )

        received = event("StockReceived", 1, reference=None, location_id="WH-1", sku="OBS-1", qty=2)
        producer = harness.EventProducer(settings)
        producer.send_all(
            [
                event(
                    "ChannelConfigured", 1, channel_id="web", location_ids=["WH-1"], safety_stock=0
                ),
                received,
                received,  # a repeat: dropped (stocksignal_duplicates_dropped_total)
                event(
                    "OrderPlaced",
                    1,
                    order_id="O-1",
                    channel_id="web",
                    lines=[{"sku": "OBS-1", "qty": 1}],
                    hold_expires_at=None,
                ),
                event(
                    "OrderPlaced",
                    2,
                    order_id="O-2",
                    channel_id="web",
                    lines=[{"sku": "OBS-1", "qty": 5}],
                    hold_expires_at=None,
                ),
            ]
        )
        producer.producer.produce(
            settings.topic_prefix + "inventory.orders.v1", b"not avro", b"O-3"
        )
        producer.flush()
        deadline = time.monotonic() + 60
        while (
            worker.metric("stocksignal_decisions_total") < 2
            or worker.metric("stocksignal_dlq_records_total") < 1
            or worker.metric("stocksignal_duplicates_dropped_total") < 1
        ):
            assert time.monotonic() < deadline, (
                f"the worker did not process the events:\n{worker.tail()}"
            )
            time.sleep(0.2)
        # The lag gauge is set by the once-a-second checkpoint timer.
        while (
            'stocksignal_consumer_lag_records{topic="stocksignal.commands.v1"}'
            not in worker.get("/metrics")[1].decode()
        ):
            assert time.monotonic() < deadline, f"no consumer lag reported:\n{worker.tail()}"
            time.sleep(0.2)
        yield worker
    finally:
        worker.stop()


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_real_worker_exposes_every_processor_metric_the_dashboard_and_alerts_use(
    running_worker,
) -> None:
    status, body = running_worker.get("/metrics")
    assert status == 200
    declared, series = parse_exposition(body.decode())
    labels = metric_labels()
    used = processor_series_used()
    for name in sorted(used):
        assert name in declared, (
            f"{name} is used by the dashboard or an alert but the worker does not expose it"
        )
        for sample_labels in series.get(name, []):
            assert set(sample_labels) == labels[name], (name, sample_labels)
    # What the events exercised has samples, with the labels the queries group by.
    exercised = {
        "stocksignal_events_in_total",
        "stocksignal_commands_applied_total",
        "stocksignal_decisions_total",
        "stocksignal_dlq_records_total",
        "stocksignal_duplicates_dropped_total",
        "stocksignal_availability_published_total",
        "stocksignal_movements_total",
        "stocksignal_output_latency_seconds_bucket",
        "stocksignal_consumer_lag_records",
        "stocksignal_oversell_guard_tripped_total",
        "stocksignal_ready",
        "stocksignal_table_recovery_remaining_records",
    }
    assert exercised <= used
    missing = sorted(name for name in exercised if not series.get(name))
    assert not missing, f"no samples of {missing}"
    assert {s["reason"] for s in series["stocksignal_dlq_records_total"]} == {"DECODE_ERROR"}
    topics = {s["topic"] for s in series["stocksignal_consumer_lag_records"]}
    assert {"stocksignal.commands.v1", "inventory.orders.v1"} <= topics, topics


def _query(base: str, expr: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.load(response)
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_prometheus_scrapes_a_real_worker_and_evaluates_the_rules(
    running_worker, tmp_path: Path, free_port
) -> None:
    """The real `prometheus` (Debian's package, as promtool) scrapes the worker with the rules
    loaded: every rule evaluates without error and every dashboard query is valid PromQL."""
    binary = find_tool("prometheus")
    if binary is None:
        reason = "prometheus is not installed (Debian's `prometheus` package; `deploy/local/platformctl.py tools`)"
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    target = urllib.parse.urlsplit(running_worker.url).netloc
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES}']\n"
        "scrape_configs:\n"
        f"  - job_name: stocksignal-processor\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60

        def wait_for(what: str, check) -> None:
            while True:
                assert proc.poll() is None, (
                    f"prometheus exited:\n{(tmp_path / 'prometheus.log').read_text()[-3000:]}"
                )
                try:
                    if check():
                        return
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"prometheus: {what} did not happen within 60 s"
                time.sleep(0.3)

        wait_for(
            "scraping the worker",
            lambda: any(
                r["value"][1] == "1" for r in _query(base, 'up{job="stocksignal-processor"}')
            ),
        )
        wait_for(
            "two scrapes of events",
            lambda: _query(base, "count_over_time(stocksignal_events_in_total[1m]) > 1"),
        )

        def rules_evaluated() -> bool:
            with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=10) as response:
                groups = json.load(response)["data"]["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            assert len(rules) == len(load_alerts())
            bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
            assert not bad, f"rules failing in a real Prometheus: {bad}"
            return all(r["health"] == "ok" for r in rules)

        wait_for("evaluating every rule", rules_evaluated)
        for title, expr, _ in dashboard_targets():
            _query(base, expr.replace("$__rate_interval", "1m").replace("$__range", "5m"))
        # The processor's panels have data.
        assert _query(base, "sum by (event_type) (rate(stocksignal_events_in_total[1m]))")
        assert _query(
            base,
            "histogram_quantile(0.99, sum by (le) (rate(stocksignal_output_latency_seconds_bucket[1m])))",
        )
        with urllib.request.urlopen(f"{base}/api/v1/alerts", timeout=10) as response:
            firing = [
                a["labels"]["alertname"]
                for a in json.load(response)["data"]["alerts"]
                if a["state"] == "firing"
            ]
        assert firing == [], f"alerts fire for a healthy worker: {firing}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
