"""deploy/k8s/ renders and validates offline (docs/operations.md#kubernetes).

The example overlay (and the base) are rendered with deploy/k8s/render.py, the subset of
kustomize they use, and checked: every built-in object against the Kubernetes JSON schemas
that the kubernetes-validate package ships (strict: unknown fields fail), the Prometheus
Operator's objects structurally and their rules with promtool, and the processor's deployment
shape against the rules of the docs. Where kubectl is installed, `kubectl kustomize` must
render the same objects.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import kubernetes_validate  # the test extra, as PyYAML and trustme
import pytest
import trustme
import yaml

from tests.integration.test_observability_rules import IN_CI, find_tool, require_tool  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
BASE, MONITORING, EXAMPLE = K8S / "base", K8S / "monitoring", K8S / "overlays" / "example"
# The oldest and the newest Kubernetes minor versions the manifests are checked against.
K8S_VERSIONS = ("1.29.0", "1.37.0")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
# The subset of the Prometheus Operator's CRD fields the manifests may use (its schemas are
# not in kubernetes-validate): a typo fails here instead of being dropped by the API server.
SERVICE_MONITOR_SPEC = {
    "jobLabel",
    "selector",
    "endpoints",
    "namespaceSelector",
    "targetLabels",
    "podTargetLabels",
}
ENDPOINT_FIELDS = {
    "port",
    "path",
    "interval",
    "scrapeTimeout",
    "scheme",
    "authorization",
    "tlsConfig",
    "relabelings",
    "metricRelabelings",
    "honorLabels",
}
RULE_FIELDS = {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}


def _load(name: str):
    """deploy/k8s/<name>.py as a module of a name of its own (``render`` is too common a name
    to put on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"stocksignal_k8s_{name}", K8S / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


monitoring = _load("monitoring")
render = _load("render")


@pytest.fixture(scope="module")
def example() -> list[dict]:
    return render.render(EXAMPLE)


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def one(objects: list[dict], kind: str, name: str) -> dict:
    return by_kind(objects, kind)[name]


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "Job"}]


def settings_env(objects: list[dict]) -> dict[str, str]:
    """What a pod's environment holds from the ConfigMap and the Secret (envFrom)."""
    env = dict(one(objects, "ConfigMap", "stocksignal-settings")["data"])
    secret = by_kind(objects, "Secret").get("stocksignal-secrets", {"data": {}})
    env.update({k: base64.b64decode(v).decode() for k, v in secret["data"].items()})
    return env


# --- rendering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", [BASE, EXAMPLE], ids=["base", "example"])
def test_every_builtin_object_is_valid_against_the_kubernetes_schemas(directory: Path):
    objects = render.render(directory)
    assert {o["kind"] for o in objects} >= {
        "ConfigMap",
        "StatefulSet",
        "Service",
        "Deployment",
        "Job",
        "PodDisruptionBudget",
    }
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(
                    f"{obj['kind']}/{obj['metadata']['name']} (Kubernetes {version}): {exc.message} at "
                    f"{'/'.join(map(str, exc.path))}",
                    pytrace=False,
                )


def test_the_schema_validation_can_fail():
    bad = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "x"},
        "spec": {
            "serviceName": "x",
            "selector": {},
            "template": {"spec": {"containers": [{"name": "x"}]}},
            "terminationGracePeriod": 60,
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[-1], strict=True)


def assert_kubectl_kustomize_agrees(directory: Path) -> None:
    """`kubectl kustomize directory` renders exactly the objects render.py does."""
    kubectl = find_tool("kubectl")
    if kubectl is None:
        reason = "kubectl is not installed: the renderer's agreement with kustomize is not checked"
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    theirs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(done.stdout) if o}
    mine = {(o["kind"], o["metadata"]["name"]): o for o in render.render(directory)}
    assert sorted(mine) == sorted(theirs)
    for key, obj in mine.items():
        assert obj == theirs[key], key


def test_kubectl_kustomize_renders_the_same_objects():
    assert_kubectl_kustomize_agrees(EXAMPLE)


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(render.RenderError, match="namePrefix"):
        render.render(tmp_path)


# --- monitoring: generated from deploy/prometheus/ --------------------------------------------------


def test_monitoring_is_generated_from_deploy_prometheus():
    done = subprocess.run(
        [sys.executable, str(K8S / "monitoring.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr  # "run python3 deploy/k8s/monitoring.py"
    rules = yaml.safe_load(
        (REPO / "deploy" / "prometheus" / "rules" / "stocksignal.rules.yml").read_text()
    )
    (rule,) = by_kind(render.render(MONITORING), "PrometheusRule").values()
    assert rule["spec"]["groups"] == rules["groups"]


def test_the_base_has_no_operator_objects_the_example_has_them(example):
    assert not {o["kind"] for o in render.render(BASE)} & CRD_KINDS
    assert {o["kind"] for o in example} >= CRD_KINDS


def test_every_scrape_job_has_a_service_monitor_that_finds_its_service(example):
    services = by_kind(example, "Service")
    monitors = by_kind(example, "ServiceMonitor")
    jobs = {job["job_name"] for job in monitoring.scrape_jobs()}
    assert set(monitors) == jobs
    for name, sm in monitors.items():
        assert sm["apiVersion"] == "monitoring.coreos.com/v1"
        spec = sm["spec"]
        # Fields of the operator's ServiceMonitor CRD (monitoring.coreos.com/v1) used here.
        assert set(spec) <= SERVICE_MONITOR_SPEC, sorted(set(spec) - SERVICE_MONITOR_SPEC)
        for endpoint in spec["endpoints"]:
            assert set(endpoint) <= ENDPOINT_FIELDS, sorted(set(endpoint) - ENDPOINT_FIELDS)
        wanted = spec["selector"]["matchLabels"]
        found = [s for s in services.values() if wanted.items() <= s["metadata"]["labels"].items()]
        assert len(found) == 1, (name, [s["metadata"]["name"] for s in found])
        (service,) = found
        # job label = the compose job name, which the rules and the dashboard match on.
        assert service["metadata"]["labels"][spec["jobLabel"]] == name
        ports = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in spec["endpoints"]:
            assert endpoint["port"] in ports, (name, endpoint)
            assert endpoint["path"] == "/metrics"
            auth = endpoint.get("authorization")
            if auth:
                ref = auth["credentials"]
                secret = one(example, "Secret", ref["name"])
                assert ref["key"] in secret["data"], (name, ref)


def test_the_prometheus_rule_passes_promtool(example, tmp_path: Path):
    promtool = require_tool("promtool")
    (rule,) = by_kind(example, "PrometheusRule").values()
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["rules"], group.get("name")
        for item in group["rules"]:
            assert set(item) <= RULE_FIELDS and "expr" in item, item
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scrape_token_matches_the_processor_digest(example):
    token = base64.b64decode(one(example, "Secret", "stocksignal-scrape-token")["data"]["token"])
    digests = settings_env(example)["STOCKSIGNAL_WEB_TOKENS_SHA256"].split(",")
    assert hashlib.sha256(token).hexdigest() in digests


# --- settings ---------------------------------------------------------------------------------------


def test_settings_and_secrets_are_real_settings_that_load(example, tmp_path: Path):
    from stocksignal.settings import FILE_SUFFIX, Settings

    known = {Settings.env_var(name) for name in Settings.__dataclass_fields__}
    env = settings_env(example)
    for key in env:
        assert key.removesuffix(FILE_SUFFIX) in known, (
            f"{key} is no setting (docs/operations.md#configuration-reference)"
        )
    # The CA file is mounted from the Secret stocksignal-tls in a cluster; here, any PEM file.
    ca = tmp_path / "ca.crt"
    ca.write_text(_a_pem_certificate())
    env["STOCKSIGNAL_KAFKA_SSL_CA_LOCATION"] = str(ca)
    settings = Settings.from_env({**env, "STOCKSIGNAL_INSTANCE_ID": "stocksignal-processor-0"})
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_sasl_password
    assert settings.log_format == "json"


def _a_pem_certificate() -> str:
    return trustme.CA().cert_pem.bytes().decode()


# --- the processor's deployment shape --------------------------------------------------------------


def test_processor_statefulset_follows_the_scaling_and_state_rules(example):
    from stocksignal.settings import Settings

    sts = one(example, "StatefulSet", "stocksignal-processor")
    env = settings_env(example)
    assert sts["spec"]["replicas"] <= int(env["STOCKSIGNAL_COMMAND_PARTITIONS"]), (
        "pods <= command partitions"
    )
    # Graceful stop: finish the batch and commit, which takes at most the transaction timeout.
    timeout_ms = int(env.get("STOCKSIGNAL_TRANSACTION_TIMEOUT_MS", Settings.transaction_timeout_ms))
    pod = pod_spec(sts)
    assert pod["terminationGracePeriodSeconds"] * 1000 > timeout_ms
    (container,) = pod["containers"]
    assert container["args"] == ["run", "processor"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # The state volume is where the image keeps STOCKSIGNAL_STATE_DIR.
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert "STOCKSIGNAL_STATE_DIR=/var/lib/stocksignal/state" in (REPO / "Dockerfile").read_text()
    assert mounts[claim["metadata"]["name"]] == "/var/lib/stocksignal/state"


def test_each_worker_advertises_its_own_name_under_the_headless_service(example):
    sts = one(example, "StatefulSet", "stocksignal-processor")
    service = one(example, "Service", sts["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    env = {e["name"]: e for e in pod_spec(sts)["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    url = env["STOCKSIGNAL_WEB_ADVERTISED_URL"]["value"]
    port = service["spec"]["ports"][0]["port"]
    assert url == f"http://$(POD_NAME).{service['metadata']['name']}.$(POD_NAMESPACE).svc:{port}"
    assert env["STOCKSIGNAL_INSTANCE_ID"]["value"] == "$(POD_NAME)"
    # $(VAR) expands only variables defined before it in the list.
    names = [e["name"] for e in pod_spec(sts)["containers"][0]["env"]]
    assert names.index("POD_NAME") < names.index("STOCKSIGNAL_WEB_ADVERTISED_URL")


def test_selectors_and_references_match(example):
    pods = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in workloads(example)
    }
    for service in by_kind(example, "Service").values():
        selector = service["spec"]["selector"].items()
        targets = [w for w in workloads(example) if selector <= pods[w["metadata"]["name"]].items()]
        assert targets, f"Service {service['metadata']['name']} selects no pods"
        ports = {
            p["name"]
            for w in targets
            for c in pod_spec(w)["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)
    pdb = one(example, "PodDisruptionBudget", "stocksignal-processor")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pods["stocksignal-processor"].items()
    configmaps = set(by_kind(example, "ConfigMap"))
    for workload in workloads(example):
        for container in pod_spec(workload)["containers"]:
            refs = [
                e["configMapRef"]["name"]
                for e in container.get("envFrom", [])
                if "configMapRef" in e
            ]
            assert refs and set(refs) <= configmaps, workload["metadata"]["name"]
            assert (
                container["image"] == "example.com/stocksignal:0.1.0"
            )  # the overlay's images entry
    job = one(example, "Job", "stocksignal-topics")
    assert pod_spec(job)["containers"][0]["args"] == ["topics", "create"]
    assert {d["metadata"]["name"] for d in by_kind(example, "Deployment").values()} == {
        "stocksignal-projector",
        "stocksignal-api",
        "stocksignal-marketplace-sync",
    }


def test_the_renderer_features_on_their_own(tmp_path: Path):
    """What render.py implements (and, where kubectl is installed, kustomize agrees): nested
    resources, namespace (not on cluster-scoped kinds; a Namespace renamed), images (a registry
    port is no tag), generators, JSON 6902 ops."""
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text("resources: [app.yaml]\n")
    (base / "app.yaml").write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "app"},
                    "spec": {
                        "replicas": 1,
                        "template": {
                            "spec": {
                                "initContainers": [
                                    {"name": "init", "image": "localhost:5000/tool:1"}
                                ],
                                "containers": [{"name": "a", "image": "app", "args": ["x", "y"]}],
                            }
                        },
                    },
                },
            ]
        )
    )
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "app.env").write_text("# a comment\n\nA=1\nB=x=y\n")
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["../base"],
                "namespace": "prod",
                "images": [
                    {"name": "app", "newName": "example.com/app", "newTag": "2"},
                    {"name": "localhost:5000/tool", "digest": "sha256:abc"},
                ],
                "generatorOptions": {"disableNameSuffixHash": True},
                "configMapGenerator": [{"name": "cfg", "envs": ["app.env"], "literals": ["C=3"]}],
                "secretGenerator": [{"name": "sec", "literals": ["K=v"]}],
                "patches": [
                    {
                        "target": {"kind": "Deployment", "name": "app"},
                        "patch": yaml.safe_dump(
                            [
                                {"op": "replace", "path": "/spec/replicas", "value": 3},
                                {
                                    "op": "add",
                                    "path": "/spec/template/spec/containers/0/args/-",
                                    "value": "z",
                                },
                                {"op": "remove", "path": "/spec/template/spec/containers/0/args/0"},
                            ]
                        ),
                    }
                ],
            }
        )
    )
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render.render(overlay)}
    assert (
        "namespace" not in objects[("Namespace", "prod")]["metadata"]
    )  # renamed, as kustomize does
    app = objects[("Deployment", "app")]
    assert app["metadata"]["namespace"] == "prod" and app["spec"]["replicas"] == 3
    pod = app["spec"]["template"]["spec"]
    assert pod["containers"][0] == {"name": "a", "image": "example.com/app:2", "args": ["y", "z"]}
    assert pod["initContainers"][0]["image"] == "localhost:5000/tool@sha256:abc"
    assert objects[("ConfigMap", "cfg")]["data"] == {"A": "1", "B": "x=y", "C": "3"}
    assert base64.b64decode(objects[("Secret", "sec")]["data"]["K"]) == b"v"
    assert_kubectl_kustomize_agrees(overlay)
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {"resources": ["../base"], "configMapGenerator": [{"name": "cfg", "literals": ["C=3"]}]}
        )
    )
    with pytest.raises(render.RenderError, match="disableNameSuffixHash"):
        render.render(overlay)
