"""docker-compose.yml, the Dockerfile and .dockerignore, checked without a Docker engine.

What can be checked statically is: every file they copy or mount exists and reaches the build
context, the scrape targets match the services and their ports, the start order refers to
services that exist, the commands they run are real `stocksignal` commands, and the image's
layout (package installed, schemas copied into the package) finds the schemas. The files are
read with regular expressions that rely on their layout (two-space indentation, one service
per `  name:` line); a layout change these cannot read fails here, not silently.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DASHBOARDS = REPO / "deploy" / "grafana" / "provisioning" / "dashboards" / "stocksignal.yml"
STOCKSIGNAL_SERVICES = {"topics", "processor", "projector", "api", "marketplace-sync"}


def compose_services() -> dict[str, str]:
    """{service name: its block of text} from the `services:` section."""
    text = COMPOSE.read_text()
    section = text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    parts = re.split(r"^  ([a-z][a-z0-9-]*):\n", section, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def command_of(block: str) -> list[str]:
    found = re.search(r"^    command: \[(.*)\]$", block, flags=re.M)
    assert found, f"no one-line command in:\n{block}"
    return [part.strip().strip('"') for part in found.group(1).split(",")]


def test_the_stack_has_every_service() -> None:
    services = compose_services()
    assert set(services) >= STOCKSIGNAL_SERVICES | {
        "kafka",
        "redis",
        "marketplace-stub",
        "prometheus",
        "grafana",
        "cli",
    }, sorted(services)
    for name in STOCKSIGNAL_SERVICES | {"marketplace-stub", "cli"}:
        assert "<<: *stocksignal\n" in services[name], f"{name} does not run the stocksignal image"
    for name, block in services.items():
        if name not in {"topics", "cli"}:
            assert "    healthcheck:\n" in block, f"{name} has no healthcheck"


def test_start_order_refers_to_existing_services() -> None:
    services = compose_services()
    for name, block in services.items():
        for dependency, condition in re.findall(
            r"^      ([a-z][a-z0-9-]*):\n        condition: (\S+)$", block, flags=re.M
        ):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert condition in {
                "service_healthy",
                "service_completed_successfully",
                "service_started",
            }
            if condition == "service_healthy":
                assert "    healthcheck:\n" in services[dependency], (
                    f"{name} waits for {dependency}'s health, which has none"
                )
    assert "topics:\n        condition: service_completed_successfully" in services["processor"]
    assert "kafka:\n        condition: service_healthy" in services["topics"]


def test_kafka_creates_no_topics_on_first_use_and_topics_are_created_by_a_one_shot_service() -> (
    None
):
    services = compose_services()
    assert 'KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false"' in services["kafka"]
    assert command_of(services["topics"]) == ["topics", "create"]
    assert 'restart: "no"' in services["topics"]
    assert "kafka-data:/var/lib/kafka/data" in services["kafka"]
    assert "processor-state:/var/lib/stocksignal" in services["processor"]


def test_the_commands_are_real_stocksignal_commands() -> None:
    """`stocksignal <command> --help` succeeds for every command the stack runs."""
    services = compose_services()
    for name in sorted(STOCKSIGNAL_SERVICES):
        argv = command_of(services[name])
        result = subprocess.run(
            [sys.executable, "-m", "stocksignal.cli.main", *argv, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
        assert result.returncode == 0, (
            f"{name}: stocksignal {' '.join(argv)} --help failed:\n{result.stderr}"
        )


def test_bind_mounts_exist() -> None:
    sources = re.findall(r"^      - (\.[^:\s]*):", COMPOSE.read_text(), flags=re.M)
    assert "./deploy/prometheus/prometheus.yml" in sources
    for source in sources:
        assert (REPO / source).exists(), f"docker-compose.yml mounts {source}, which does not exist"


def test_scrape_targets_are_compose_services_on_their_metrics_ports() -> None:
    services = compose_services()
    port_setting = {
        "processor": "STOCKSIGNAL_WEB_PORT",
        "projector": "STOCKSIGNAL_METRICS_PORT",
        "marketplace-sync": "STOCKSIGNAL_METRICS_PORT",
        "api": "STOCKSIGNAL_API_PORT",
    }
    targets = re.findall(r'targets: \["([a-z-]+):(\d+)"\]', PROMETHEUS_CONFIG.read_text())
    seen = set()
    for host, port in targets:
        if host == "localhost":
            continue
        assert host in services, f"prometheus scrapes {host}, which is no compose service"
        assert f'{port_setting[host]}: "{port}"' in services[host], (
            f"{host} does not listen on {port}"
        )
        seen.add(host)
    assert seen == set(port_setting)
    mounts = services["prometheus"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in mounts


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    grafana = compose_services()["grafana"]
    mounted = re.search(r"- \./deploy/grafana/dashboards:(\S+):ro", grafana).group(1)
    provider_path = re.search(r"^\s*path: (\S+)", GRAFANA_DASHBOARDS.read_text(), flags=re.M).group(
        1
    )
    assert provider_path == mounted
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert f"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: {mounted}/stocksignal.json" in grafana


def _dockerignore_allows(path: str) -> bool:
    """Whether .dockerignore (last matching rule wins) keeps ``path`` in the build context."""
    allowed = True
    for line in DOCKERIGNORE.read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if pattern == "*" or path == pattern or path.startswith(pattern + "/"):
            allowed = negate
    return allowed


def test_dockerfile_copies_existing_files_that_reach_the_build_context() -> None:
    text = DOCKERFILE.read_text()
    copies = re.findall(r"^COPY (?!--from)(.+)$", text, flags=re.M)
    assert copies
    for line in copies:
        *sources, _destination = line.split()
        for source in sources:
            path = source.rstrip("/")
            assert (REPO / path).exists(), f"the Dockerfile copies {source}, which does not exist"
            assert _dockerignore_allows(path), (
                f".dockerignore keeps {source} out of the build context"
            )
    assert not _dockerignore_allows(".git") and not _dockerignore_allows(".venv")


def test_dockerfile_installs_the_package_with_its_schemas_and_checks_them() -> None:
    """The schemas reach the image inside the wheel (setup.py), not by a hand-made copy into
    site-packages; the build fails when the installed package does not find them.
    tests/integration/test_packaging.py installs the same wheel and uses it."""
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, flags=re.M)
    assert (
        "site-packages/stocksignal" not in text.split("RUN /opt/stocksignal/bin/pip install .")[0]
    )
    for needed in ("setup.py", "MANIFEST.in", "schemas/"):
        assert re.search(rf"^COPY .*{re.escape(needed)}", text, flags=re.M), needed
    assert "assert d.name == 'avsc' and 'site-packages' in str(d)" in text
