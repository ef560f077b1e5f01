"""One OpenAPI document for the public API, merged from the services' own documents (real HTTP services here;
one of them down)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import create_model

from civic.broker import EmbeddedBroker, free_port
from gateway.main import build_app
from gateway.settings import GatewaySettings
from gateway.testing import live
from tests.apps import serving


def service_with_cases(field_name: str) -> FastAPI:
    # Both services name their model ``Case``: the merged document must keep them apart.
    case_model = create_model("Case", **{field_name: (str, ...)})  # type: ignore[call-overload]
    app = FastAPI()

    async def open_case(case: Any) -> Any:
        return case

    async def read_case(case_id: str) -> Any:
        return {field_name: case_id}

    open_case.__annotations__["case"] = case_model  # a model made at run time: annotate it at run time
    app.add_api_route("/cases", open_case, methods=["POST"], response_model=case_model, status_code=201)
    app.add_api_route("/cases/{case_id}", read_case, methods=["GET"], response_model=case_model)
    return app


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


async def test_services_documents_are_merged_under_their_prefixes(tmp_path: Path, broker: EmbeddedBroker) -> None:
    async with live(service_with_cases("amount")) as assistance, live(service_with_cases("place")) as funeral:
        settings = GatewaySettings(
            service_name=f"gateway-{uuid.uuid4().hex[:8]}", data_dir=tmp_path, dev_issuer=True,
            kafka_bootstrap=broker.bootstrap,
            service_urls={"assistance": assistance.url, "funeral": funeral.url,
                          "marriage": f"http://127.0.0.1:{free_port()}"},
        )  # fmt: skip
        async with serving(build_app(settings), "gateway") as gw:
            response = await gw.get("/api/openapi.json")
            docs = await gw.get("/api/docs")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for domain in ("assistance", "funeral"):
        assert set(paths[f"/api/{domain}/cases"]) == {"post"}
        assert set(paths[f"/api/{domain}/cases/{{case_id}}"]) == {"get"}
        assert f"/api/{domain}/healthz" not in paths
    assert "/api/{domain}/{path}" not in paths, "the generic routing operation is not part of the public API"
    assert "/audit" in paths, "the gateway's own routes are"
    schemas = doc["components"]["schemas"]
    assert set(schemas["assistance.Case"]["properties"]) == {"amount"}
    assert set(schemas["funeral.Case"]["properties"]) == {"place"}
    post = paths["/api/funeral/cases"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/funeral.Case"}
    dangling = [r for r in refs(doc) if r.removeprefix("#/components/schemas/") not in schemas]
    assert dangling == []
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op]
    assert len(operation_ids) == len(set(operation_ids))
    assert doc["x-civic-unavailable"] == ["marriage"]
    assert doc["security"] == [{"bearer": []}]
    assert docs.status_code == 200
    assert "/api/openapi.json" in docs.text
