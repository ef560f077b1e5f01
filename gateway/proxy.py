"""Routing: ``/api/<domain>/<path>`` goes to that domain's service as ``/<path>``."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, Response

from civic.app import ServiceDep
from civic.problems import Problem

# Hop-by-hop headers (RFC 9110 §7.6.1) and those the client library sets itself are not forwarded.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}

router = APIRouter(tags=["routing"])


def _forwardable(headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


@router.api_route(
    "/api/{domain}/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=True,
    summary="Route a request to a domain service",
)
async def route_to_service(domain: str, path: str, request: Request, service: ServiceDep) -> Response:
    base = service.settings.service_urls.get(domain)
    if base is None:
        raise Problem(
            404,
            "unknown-domain",
            "No such service",
            f"known: {', '.join(service.settings.service_urls)}",
            field="domain",
        )
    client: httpx.AsyncClient = request.app.state.http
    headers = _forwardable(dict(request.headers))
    headers["x-request-id"] = request.state.request_id
    try:
        upstream = await client.request(
            request.method,
            f"{base}/{path}",
            params=request.query_params,
            content=await request.body(),
            headers=headers,
        )
    except httpx.TransportError as exc:
        raise Problem(
            502,
            "service-unavailable",
            f"The {domain} service is unavailable",
            "Try again shortly; nothing was changed if the request did not reach the service.",
        ) from exc
    return Response(upstream.content, status_code=upstream.status_code, headers=_forwardable(upstream.headers))


# One route per method, so that each has its own operationId in the OpenAPI document.
for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    router.add_api_route(
        "/api/{domain}/{path:path}",
        route_to_service,
        methods=[_method],
        operation_id=f"route_{_method.lower()}_to_service",
        summary=f"Route a {_method} request to a domain service",
    )
