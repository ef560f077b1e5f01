"""One OpenAPI document for the whole public API: the gateway's own routes, and each service's document under
``/api/<domain>`` with its schemas renamed ``<domain>.<Name>`` (two services may both have a ``CasePublic``).

The services' documents are fetched from the running services (``/openapi.json``) and kept for a minute, so that a
redeployed service shows its new API soon; a service that cannot be reached is listed as unavailable rather than
failing the whole document.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

import aiohttp
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.settings import GatewaySettings

CACHE_S = 60.0
FETCH_TIMEOUT_S = 3.0
_NOT_PUBLIC = {"/healthz", "/readyz"}  # each service's own operations endpoints stay internal
_REF_PREFIX = "#/components/schemas/"

router = APIRouter(include_in_schema=False)


def _renamed(node: Any, domain: str) -> Any:
    if isinstance(node, dict):
        return {k: (_REF_PREFIX + f"{domain}.{v.removeprefix(_REF_PREFIX)}"
                    if k == "$ref" and isinstance(v, str) and v.startswith(_REF_PREFIX) else _renamed(v, domain))
                for k, v in node.items()}  # fmt: skip
    if isinstance(node, list):
        return [_renamed(v, domain) for v in node]
    return node


def merge(own: dict[str, Any], services: dict[str, dict[str, Any]], unavailable: list[str]) -> dict[str, Any]:
    """The public document: ``own`` minus its generic routing operation, plus every service's operations."""
    doc = copy.deepcopy(own)
    doc["info"] = {
        "title": "civic · public API", "version": own.get("info", {}).get("version", "0"),
        "description": "Everything is reached through the gateway with an OAuth2 bearer token.",
    }  # fmt: skip
    doc["paths"] = {p: item for p, item in own.get("paths", {}).items() if not p.startswith("/api/{domain}")}
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    doc["security"] = [{"bearer": []}]
    for domain, service_doc in sorted(services.items()):
        renamed = _renamed(service_doc, domain)
        for name, schema in renamed.get("components", {}).get("schemas", {}).items():
            schemas[f"{domain}.{name}"] = schema
        for path, item in renamed.get("paths", {}).items():
            if path in _NOT_PUBLIC:
                continue
            for operation in item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    if "operationId" in operation:
                        operation["operationId"] = f"{domain}__{operation['operationId']}"
                    operation["tags"] = [f"{domain}: {t}" for t in operation.get("tags", [])] or [domain]
            doc["paths"][f"/api/{domain}{path}"] = item
    if unavailable:
        doc["x-civic-unavailable"] = sorted(unavailable)
    return doc


async def _fetch(session: aiohttp.ClientSession, base: str) -> dict[str, Any] | None:
    try:
        async with session.get(f"{base}/openapi.json", timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)) as got:
            got.raise_for_status()
            doc = json.loads(await got.read())
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@router.get("/api/openapi.json")
async def public_openapi(request: Request) -> JSONResponse:
    settings: GatewaySettings = request.app.state.gateway_settings
    cache: dict[str, tuple[float, dict[str, Any]]] = request.app.state.__dict__.setdefault("_openapi_cache", {})
    now = time.monotonic()
    stale = [d for d in settings.service_urls if d not in cache or now - cache[d][0] > CACHE_S]
    fetched = await asyncio.gather(*(_fetch(request.app.state.upstream, settings.service_urls[d]) for d in stale))
    for domain, doc in zip(stale, fetched, strict=True):
        if doc is not None:
            cache[domain] = (now, doc)
    # A service down right now keeps its last known document if there is one.
    unavailable = [d for d in settings.service_urls if d not in cache]
    services = {d: cache[d][1] for d in settings.service_urls if d in cache}
    return JSONResponse(merge(request.app.openapi(), services, unavailable))


@router.get("/api/docs")
async def public_docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/api/openapi.json", title="civic · public API")
