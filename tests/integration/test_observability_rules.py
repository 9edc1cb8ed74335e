"""The Prometheus alert rules: promtool accepts them and the scrape config, their unit tests pass,
every alert is unit-tested both firing and quiet, and every alert has its runbook section.

promtool comes from Debian's `prometheus` package; `make test` installs it when missing and
running as root (`deploy/local/platformctl.py tools`). Without it these tests skip, except
under CI=true, where they fail: CI must check the rules.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "stocksignal.rules.yml"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
UNIT_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
OPERATIONS = REPO / "docs" / "operations.md"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
SEVERITIES = {"page", "warning"}


def find_tool(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_tool(name: str) -> str:
    path = find_tool(name)
    if path is None:
        reason = (
            f"{name} is not installed: run `python3 deploy/local/platformctl.py tools` as root, or "
            f"install Debian's `prometheus` package (apt-get install --no-install-recommends prometheus)"
        )
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool")


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, cwd=REPO, stdin=subprocess.DEVNULL
    )


# --- reading our own rule and test files (no YAML library needed) ----------------------------
#
# The files are ours and keep one layout (one `- alert:` per rule, `expr: |` blocks, one key per
# line); promtool parses them for real. The counts are checked against promtool's own, so a
# layout this reader does not understand fails instead of going unchecked.


@dataclass
class Alert:
    name: str
    expr: str
    labels: dict[str, str]
    annotations: dict[str, str]
    for_: str | None


def _block(lines: list[str], start: int) -> tuple[str, int]:
    """The value of the key on lines[start]: inline, or the indented block scalar after it."""
    key_line = lines[start]
    indent = len(key_line) - len(key_line.lstrip())
    value = key_line.split(":", 1)[1].strip()
    if value not in {"|", ">-", ">", "|-"}:
        return value.strip('"'), start + 1
    body, i = [], start + 1
    while i < len(lines) and (
        not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
    ):
        body.append(lines[i].strip())
        i += 1
    joiner = "\n" if value.startswith("|") else " "
    return joiner.join(part for part in body if part), i


def parse_rules(text: str) -> list[Alert]:
    alerts: list[Alert] = []
    chunks = re.split(r"^\s*- alert: ", text, flags=re.M)[1:]
    for chunk in chunks:
        lines = chunk.splitlines()
        name = lines[0].strip()
        fields: dict[str, str] = {}
        section: dict[str, str] = fields
        labels: dict[str, str] = {}
        annotations: dict[str, str] = {}
        i = 1
        while i < len(lines):
            stripped = lines[i].strip()
            if not stripped or stripped.startswith("#"):
                i += 1
                continue
            if stripped.startswith("- "):  # the next group or rule kind (record:)
                break
            key = stripped.split(":", 1)[0]
            if key in {"labels", "annotations"} and stripped.endswith(":"):
                section = labels if key == "labels" else annotations
                i += 1
                continue
            value, i = _block(lines, i)
            if key in {"expr", "for"}:
                section = fields
            (fields if key in {"expr", "for"} else section)[key] = value
        alerts.append(Alert(name, fields.get("expr", ""), labels, annotations, fields.get("for")))
    return alerts


def load_alerts() -> list[Alert]:
    return parse_rules(RULES.read_text())


@dataclass
class UnitCheck:
    file: str
    group: str
    alertname: str
    eval_time: str
    fires: bool


def parse_unit_tests(path: Path) -> list[UnitCheck]:
    checks = []
    for group in re.split(r"^  - name: ", path.read_text(), flags=re.M)[1:]:
        group_name = group.splitlines()[0].strip()
        for block in re.split(r"^\s*- eval_time: ", group, flags=re.M)[1:]:
            eval_time = block.splitlines()[0].strip()
            name = re.search(r"^\s*alertname: (\S+)", block, flags=re.M)
            expected = re.search(r"^\s*exp_alerts:(.*)$", block, flags=re.M)
            assert name and expected, (
                f"{path.name}: unreadable alert_rule_test in {group_name!r} at {eval_time}"
            )
            checks.append(
                UnitCheck(
                    path.name,
                    group_name,
                    name.group(1),
                    eval_time,
                    expected.group(1).strip() != "[]",
                )
            )
    return checks


def github_anchor(heading: str) -> str:
    anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return anchor.replace(" ", "-")


# --- promtool ----------------------------------------------------------------------------------


def test_promtool_check_rules(promtool: str) -> None:
    result = run([promtool, "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"SUCCESS: (\d+) rules found", result.stdout)
    assert found, result.stdout
    # Our reader sees as many alerts as promtool sees rules (there are no recording rules).
    assert int(found.group(1)) == len(load_alerts()), result.stdout


def test_promtool_check_config(promtool: str) -> None:
    """The compose stack's scrape config, and the rule files it loads (relative paths)."""
    result = run([promtool, "check", "config", str(CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout, result.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    assert UNIT_TESTS, f"no unit tests in {PROMETHEUS_DIR / 'tests'}"
    result = run([promtool, "test", "rules", *map(str, UNIT_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(UNIT_TESTS), result.stdout


def test_promtool_notices_a_wrong_expectation(promtool: str, tmp_path: Path) -> None:
    """The unit tests can fail: the same tests with one expected value changed do."""
    source = PROMETHEUS_DIR / "tests" / "processor.test.yml"
    text = source.read_text().replace("../rules/", f"{RULES.parent}/")
    assert "is 900ms" in text
    broken = tmp_path / "broken.test.yml"
    broken.write_text(text.replace("is 900ms", "is 800ms"))
    result = run([promtool, "test", "rules", str(broken)])
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr, result.stdout


# --- what every alert must have ------------------------------------------------------------------


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    alerts = load_alerts()
    assert len(alerts) >= 10
    names = [a.name for a in alerts]
    assert len(names) == len(set(names)), f"duplicate alert names: {names}"
    for alert in alerts:
        assert alert.name.startswith("Stocksignal"), alert.name
        assert alert.expr, alert.name
        assert alert.labels.get("severity") in SEVERITIES, (alert.name, alert.labels)
        for key in ("summary", "description", "runbook_url"):
            assert alert.annotations.get(key), f"{alert.name} has no {key}"
        assert alert.annotations["runbook_url"] == f"docs/operations.md#{alert.name.lower()}", (
            alert.name
        )


def test_the_alerts_the_issue_asks_for_exist() -> None:
    by_name = {a.name: a for a in load_alerts()}
    wanted = {
        "StocksignalOversellGuardTripped": ("stocksignal_oversell_guard_tripped_total", "page"),
        "StocksignalDlqRateHigh": ("stocksignal_dlq_records_total", "warning"),
        "StocksignalConsumerLagHigh": ("stocksignal_consumer_lag_records", "warning"),
        "StocksignalOutputLatencyHigh": ("stocksignal_output_latency_seconds_bucket", "warning"),
        "StocksignalProjectorBehind": ("stocksignal_projector_consumer_lag", "warning"),
        "StocksignalMarketplacePushFailing": ("stocksignal_marketplace_requests_total", "warning"),
        "StocksignalMarketplaceDeadLettered": (
            "stocksignal_marketplace_dead_lettered_total",
            "warning",
        ),
        "StocksignalWorkerDown": ("up", "page"),
    }
    for name, (metric, severity) in wanted.items():
        assert name in by_name, f"missing alert {name}"
        assert re.search(rf"\b{metric}\b", by_name[name].expr), (name, by_name[name].expr)
        assert by_name[name].labels["severity"] == severity, name
    assert "0.5" in by_name["StocksignalOutputLatencyHigh"].expr
    assert "histogram_quantile(0.99" in by_name["StocksignalOutputLatencyHigh"].expr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    alerts = {a.name for a in load_alerts()}
    checks = [check for path in UNIT_TESTS for check in parse_unit_tests(path)]
    unknown = {c.alertname for c in checks} - alerts
    assert not unknown, f"unit tests name alerts that do not exist: {sorted(unknown)}"
    for name in sorted(alerts):
        mine = [c for c in checks if c.alertname == name]
        assert any(c.fires for c in mine), f"no unit test shows {name} firing"
        assert any(not c.fires for c in mine), f"no unit test shows {name} staying quiet"


def test_every_alert_has_a_runbook_section() -> None:
    text = OPERATIONS.read_text()
    anchors = {github_anchor(h) for h in re.findall(r"^#{2,4} (.+)$", text, flags=re.M)}
    for alert in load_alerts():
        assert alert.name.lower() in anchors, (
            f"docs/operations.md has no section '### {alert.name}'"
        )
        row = [
            line
            for line in text.splitlines()
            if line.startswith(f"| [{alert.name}](#{alert.name.lower()}) |")
        ]
        assert len(row) == 1, f"the runbook table does not list {alert.name} once"
        assert f"| {alert.labels['severity']} |" in row[0], (
            f"the runbook table gives {alert.name} another severity"
        )


def test_the_scrape_config_has_a_job_per_process() -> None:
    text = CONFIG.read_text()
    jobs = dict(re.findall(r"job_name: (\S+)\n(?:.*\n)*?\s+- targets: \[\"([^\"]+)\"\]", text))
    assert jobs == {
        "stocksignal-processor": "processor:6066",
        "stocksignal-projector": "projector:9108",
        "stocksignal-marketplace-sync": "marketplace-sync:9108",
        "stocksignal-api": "api:8080",
        "prometheus": "localhost:9090",
    }, jobs
    assert "rules/*.yml" in text
