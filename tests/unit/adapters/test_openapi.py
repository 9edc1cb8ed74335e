"""The hand-written OpenAPI document is well-formed and describes exactly the routes served."""

import re

from stocksignal.adapters.api import make_app
from stocksignal.adapters.openapi import document

METHODS = {"get", "post", "put", "delete", "patch", "head", "options"}


def refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_the_document_has_the_openapi_3_structure():
    doc = document()
    assert re.fullmatch(r"3\.0\.\d", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    operation_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        params_in_path = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            assert method in METHODS, f"{path}: {method}"
            operation_ids.append(operation["operationId"])
            assert operation["responses"], f"{method} {path} documents no response"
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status) and response["description"]
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == params_in_path, f"{method} {path}: path parameters {declared}"
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in {"path", "query", "header"} and "schema" in parameter
                assert parameter["in"] != "path" or parameter["required"] is True
    assert len(operation_ids) == len(set(operation_ids)), "operationIds are unique"


def test_every_reference_resolves():
    doc = document()
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], ref


def test_the_document_lists_exactly_the_routes_the_app_serves():
    class NoReader:
        redis = None

    app = make_app(NoReader())  # type: ignore[arg-type]
    served = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.method not in ("HEAD", "*")
    }
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert served == documented
