"""The Kubernetes manifests' environment starts real processes (docs/operations.md#kubernetes).

The example overlay is rendered (deploy/k8s/render.py) and its topics Job and processor
StatefulSet are run as the kubelet would run their containers: the ConfigMap and the Secret as
the environment (envFrom), the container's own env with $(VAR) expanded from the downward API
(the pod's name and namespace), the image's ENV, the container's args. Only what points at the
cluster changes: the local Kafka (plaintext, so the SASL settings go), a topic prefix of the
test's own, a free port, a temporary state directory.

Then: the Job exits 0; the worker becomes ready on /readyz; /metrics answers only with the
ServiceMonitor's token, with the process and build metrics; logs are JSON lines; SIGTERM stops
the worker cleanly within the pod's terminationGracePeriodSeconds.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
POD_NAME, POD_NAMESPACE = "stocksignal-processor-0", "stocksignal"
# What the image's ENV sets (Dockerfile), apart from the state directory.
IMAGE_ENV = {
    "STOCKSIGNAL_WEB_HOST": "0.0.0.0",
    "STOCKSIGNAL_API_HOST": "0.0.0.0",
    "STOCKSIGNAL_METRICS_HOST": "0.0.0.0",
}


def _render() -> list[dict]:
    spec = importlib.util.spec_from_file_location("stocksignal_k8s_render_it", K8S / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(K8S / "overlays" / "example")


def _find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def container_env(objects: list[dict], container: dict) -> dict[str, str]:
    """The environment the kubelet gives ``container``: envFrom first, then env in order, each
    $(VAR) expanded from what is defined before it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(_find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            secret = _find(objects, "Secret", source["secretRef"]["name"])
            env.update({k: base64.b64decode(v).decode() for k, v in secret["data"].items()})
    downward = {"metadata.name": POD_NAME, "metadata.namespace": POD_NAMESPACE}
    for item in container.get("env", []):
        if "valueFrom" in item:
            env[item["name"]] = downward[item["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[item["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"]
            )
    return env


def local(
    env: dict[str, str], kafka_bootstrap: str, prefix: str, state_dir: Path, web_port: int
) -> dict[str, str]:
    """``env`` pointed at the test's Kafka instead of the example's secured cluster."""
    env = {k: v for k, v in env.items() if not k.startswith("STOCKSIGNAL_KAFKA_")}
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("STOCKSIGNAL_", "KAFKA_", "REDIS_"))
        },
        **IMAGE_ENV,
        **env,
        "PYTHONPATH": str(REPO / "services"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "STOCKSIGNAL_TOPIC_PREFIX": prefix,
        "STOCKSIGNAL_REPLICATION_FACTOR": "1",
        "STOCKSIGNAL_INPUT_PARTITIONS": "2",
        "STOCKSIGNAL_COMMAND_PARTITIONS": "2",
        "STOCKSIGNAL_OUTPUT_PARTITIONS": "2",
        "STOCKSIGNAL_STATE_DIR": str(state_dir),
        "STOCKSIGNAL_WEB_PORT": str(web_port),
        "STOCKSIGNAL_SESSION_TIMEOUT_MS": "6000",
        "STOCKSIGNAL_HEARTBEAT_INTERVAL_MS": "1000",
    }


def stocksignal(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stocksignal.cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_the_topics_job_and_a_processor_pod_run_as_the_manifests_say(
    kafka_bootstrap, tmp_path, free_port
):
    objects = _render()
    job = _find(objects, "Job", "stocksignal-topics")["spec"]["template"]["spec"]
    sts = _find(objects, "StatefulSet", "stocksignal-processor")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    prefix, port = f"k8s-{uuid.uuid4().hex[:8]}.", free_port()

    (job_container,) = job["containers"]
    topics = stocksignal(
        job_container["args"],
        local(
            container_env(objects, job_container),
            kafka_bootstrap,
            prefix,
            tmp_path / "unused",
            port,
        ),
    )
    out, err = topics.communicate(timeout=120)
    assert topics.returncode == 0, out + err

    env = local(
        container_env(objects, container), kafka_bootstrap, prefix, tmp_path / "state", port
    )
    assert env["STOCKSIGNAL_INSTANCE_ID"] == POD_NAME
    assert (
        env["STOCKSIGNAL_WEB_ADVERTISED_URL"]
        == f"http://{POD_NAME}.stocksignal-processor.{POD_NAMESPACE}.svc:6066"
    )
    worker = stocksignal(container["args"], env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while get(base + container["readinessProbe"]["httpGet"]["path"])[0] != 200:
            assert worker.poll() is None, worker.communicate()[1]
            assert time.monotonic() < deadline, "the worker did not become ready"
            time.sleep(0.5)
        assert get(base + container["livenessProbe"]["httpGet"]["path"])[0] == 200
        # What the ServiceMonitor does: /metrics with the scrape token; without it, refused.
        token = base64.b64decode(
            _find(objects, "Secret", "stocksignal-scrape-token")["data"]["token"]
        ).decode()
        assert get(base + "/metrics")[0] == 401
        status, body = get(base + "/metrics", token)
        assert status == 200
        assert "process_cpu_seconds_total" in body and "stocksignal_build_info{" in body
        assert "stocksignal_ready 1.0" in body
    finally:
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        try:
            _, err = worker.communicate(timeout=pod["terminationGracePeriodSeconds"])
        except subprocess.TimeoutExpired:
            worker.kill()
            pytest.fail(
                "the worker did not stop within terminationGracePeriodSeconds (Kubernetes would SIGKILL it)"
            )
    assert worker.returncode == 0, err
    assert time.monotonic() - started < pod["terminationGracePeriodSeconds"]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    for line in lines:  # STOCKSIGNAL_LOG_FORMAT=json from the ConfigMap: every line is an object
        entry = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= set(entry), line
