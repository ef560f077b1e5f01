"""Every app publishes a well-formed OpenAPI 3.1 description.

No OpenAPI validator is installed, so this checks the essentials of the 3.1 specification by hand: the version,
info, operations with documented responses, declared path parameters, unique operation ids and resolvable refs.
"""

from __future__ import annotations

import importlib
import json
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from civic.config import DOMAINS, Settings

APPS = [*(f"services.{domain}.main" for domain in DOMAINS), "gateway.main"]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PATH_ITEM_FIELDS = {"$ref", "summary", "description", "servers", "parameters"}
STATUS = re.compile(r"^(default|[1-5]XX|[1-5][0-9]{2})$")

OpenApiOf = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="module")
def openapi_of(tmp_path_factory: pytest.TempPathFactory) -> OpenApiOf:
    docs: dict[str, dict[str, Any]] = {}

    def get(module_name: str) -> dict[str, Any]:
        if module_name not in docs:
            name = "gateway" if module_name == "gateway.main" else module_name.split(".")[1]
            module = importlib.import_module(module_name)
            app = module.build_app(Settings(service_name=name, data_dir=tmp_path_factory.mktemp(name)))
            with warnings.catch_warnings():
                # test_operation_ids_are_unique reports this one by name; here it would only be noise.
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                docs[module_name] = json.loads(json.dumps(app.openapi()))  # and it must be plain JSON
        return docs[module_name]

    return get


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


@pytest.mark.parametrize("module_name", APPS)
def test_version_info_and_health_paths(openapi_of: OpenApiOf, module_name: str) -> None:
    doc = openapi_of(module_name)
    assert re.fullmatch(r"3\.1\.[0-9]+", doc["openapi"]), doc["openapi"]
    assert doc["info"]["title"] and isinstance(doc["info"]["version"], str)
    assert "get" in doc["paths"]["/healthz"]
    assert "get" in doc["paths"]["/readyz"]


@pytest.mark.parametrize("module_name", APPS)
def test_every_operation_documents_its_responses(openapi_of: OpenApiOf, module_name: str) -> None:
    doc = openapi_of(module_name)
    for path, item in doc["paths"].items():
        assert path.startswith("/"), path
        assert set(item) <= METHODS | PATH_ITEM_FIELDS, f"{path}: unknown fields {set(item) - METHODS}"
    for path, method, operation in operations(doc):
        responses = operation.get("responses")
        assert responses, f"{method.upper()} {path} has no responses"
        for status, response in responses.items():
            assert STATUS.match(status), f"{method.upper()} {path}: bad status {status}"
            assert "$ref" in response or isinstance(response.get("description"), str), (
                f"{method.upper()} {path} {status}: a response needs a description"
            )


@pytest.mark.parametrize("module_name", APPS)
def test_path_templates_are_declared_parameters(openapi_of: OpenApiOf, module_name: str) -> None:
    doc = openapi_of(module_name)
    for path, method, operation in operations(doc):
        shared = doc["paths"][path].get("parameters", [])
        declared = {p["name"]: p for p in [*shared, *operation.get("parameters", [])] if p.get("in") == "path"}
        for name in re.findall(r"{([^}]+)}", path):
            assert name in declared, f"{method.upper()} {path}: path parameter {name} not declared"
            assert declared[name].get("required") is True, f"{method.upper()} {path}: {name} must be required"


@pytest.mark.parametrize("module_name", APPS)
def test_operation_ids_are_unique(openapi_of: OpenApiOf, module_name: str) -> None:
    ids = [op["operationId"] for _, _, op in operations(openapi_of(module_name)) if "operationId" in op]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"operationId must be unique (OpenAPI 3.1 §4.8.10): {duplicates}"


@pytest.mark.parametrize("module_name", APPS)
def test_every_ref_resolves(openapi_of: OpenApiOf, module_name: str) -> None:
    doc = openapi_of(module_name)
    for ref in refs(doc):
        assert ref.startswith("#/"), f"external $ref {ref}"
        node: Any = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"$ref {ref} does not resolve"
            node = node[part]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)
