#!/usr/bin/env python3
"""Render a kustomization of deploy/k8s/ without a kustomize binary.

    python3 deploy/k8s/render.py deploy/k8s/overlays/example > stack.yaml

`kubectl kustomize` (or `kustomize build`) is the tool to deploy with; this renderer exists so
that `make test` can render and validate the manifests on a machine without either (no
kustomize package can be installed from the registries this project uses). It implements only
what deploy/k8s/ uses, and refuses anything else rather than render it wrongly:

- ``resources``: YAML files (several documents each) and directories holding a kustomization;
- ``namespace``: set on every object but cluster-scoped kinds (a Namespace object is renamed to it);
- ``images``: ``name`` -> ``newName``/``newTag``/``digest`` on the containers of pod templates;
- ``secretGenerator`` / ``configMapGenerator`` with ``literals`` and ``envs`` files, under
  ``generatorOptions.disableNameSuffixHash: true`` (no hash suffix, so no name references to
  rewrite);
- ``patches`` as JSON 6902 operations (``add``, ``replace``, ``remove``) on a ``target`` given
  by ``kind`` and ``name``.

tests/unit/deploy/test_k8s_manifests.py checks that its output equals `kubectl kustomize`'s
when kubectl is installed. Needs PyYAML (the test extra).
"""

from __future__ import annotations

import base64
import copy
import sys
from pathlib import Path

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "secretGenerator",
    "configMapGenerator",
    "generatorOptions",
    "patches",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class RenderError(Exception):
    """The kustomization uses something this renderer does not implement, or is wrong."""


def render(directory: Path) -> list[dict]:
    """The objects the kustomization in ``directory`` builds, in resource order."""
    directory = Path(directory)
    spec = _load_kustomization(directory)
    objects: list[dict] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        objects += render(path) if path.is_dir() else _documents(path)
    objects += _generated(directory, spec)
    for patch in spec.get("patches", []):
        _apply_patch(objects, patch)
    for image in spec.get("images", []):
        _set_image(objects, image)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] == "Namespace":  # kustomize renames a Namespace object to it
                obj["metadata"]["name"] = spec["namespace"]
            elif obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    return objects


def _load_kustomization(directory: Path) -> dict:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise RenderError(f"{directory}: no kustomization.yaml")
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise RenderError(
            f"{path}: {sorted(unknown)} not implemented by {Path(__file__).name}; use kubectl kustomize"
        )
    return spec


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _generated(directory: Path, spec: dict) -> list[dict]:
    generators = [("Secret", g) for g in spec.get("secretGenerator", [])]
    generators += [("ConfigMap", g) for g in spec.get("configMapGenerator", [])]
    if generators and not spec.get("generatorOptions", {}).get("disableNameSuffixHash"):
        raise RenderError(
            "generators need generatorOptions.disableNameSuffixHash: true here (no name references rewritten)"
        )
    out = []
    for kind, generator in generators:
        unknown = set(generator) - {"name", "literals", "envs", "type"}
        if unknown:
            raise RenderError(
                f"{kind} generator {generator.get('name')}: {sorted(unknown)} not implemented"
            )
        values: dict[str, str] = {}
        for env_file in generator.get("envs", []):
            values.update(_env_file(directory / env_file))
        values.update(_pair(item) for item in generator.get("literals", []))
        obj: dict = {"apiVersion": "v1", "kind": kind, "metadata": {"name": generator["name"]}}
        if kind == "Secret":
            obj["type"] = generator.get("type", "Opaque")
            obj["data"] = {
                k: base64.b64encode(v.encode()).decode() for k, v in sorted(values.items())
            }
        else:
            obj["data"] = dict(sorted(values.items()))
        out.append(obj)
    return out


def _env_file(path: Path) -> dict[str, str]:
    """KEY=value lines; blank lines and lines starting with # are skipped (as kustomize does)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = _pair(line)
            values[key] = value
    return values


def _pair(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise RenderError(f"not KEY=value: {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value


def _apply_patch(objects: list[dict], patch: dict) -> None:
    target = patch.get("target", {})
    if set(target) - {"kind", "name"} or set(patch) - {"target", "patch"}:
        raise RenderError(
            f"patch {patch}: only JSON 6902 operations with a target by kind and name are implemented"
        )
    matches = [
        o
        for o in objects
        if o["kind"] == target.get("kind") and o["metadata"]["name"] == target.get("name")
    ]
    if not matches:
        raise RenderError(f"patch target {target} matches nothing")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise RenderError(
            f"patch of {target}: a list of JSON 6902 operations is implemented, not a strategic merge"
        )
    for obj in matches:
        for op in operations:
            _operate(obj, op)


def _operate(obj: dict, op: dict) -> None:
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    kind = op["op"]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if kind == "add":
            node.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[index] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del node[index]
        else:
            raise RenderError(f"JSON 6902 op {kind!r} not implemented")
        return
    if kind in ("add", "replace"):
        if kind == "replace" and last not in node:
            raise RenderError(f"replace {op['path']}: nothing there")
        node[last] = copy.deepcopy(op["value"])
    elif kind == "remove":
        del node[last]
    else:
        raise RenderError(f"JSON 6902 op {kind!r} not implemented")


def _set_image(objects: list[dict], image: dict) -> None:
    for obj in objects:
        if obj["kind"] not in POD_TEMPLATE_KINDS:
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod.get("containers", []):
            name, tag = _split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            else:
                tag = image.get("newTag", tag)
                container["image"] = f"{name}:{tag}" if tag else name


def _split_image(ref: str) -> tuple[str, str]:
    """("name", "tag") of an image reference (a port in the registry part is not a tag)."""
    head, _, last = ref.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
        return (f"{head}/{last}" if head else last), tag
    return ref, ""


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        objects = render(Path(argv[0]))
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write("---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
