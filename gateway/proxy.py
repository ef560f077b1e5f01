"""Routing: ``/api/<domain>/<path>`` goes to that domain's service as ``/<path>``, on behalf of an authenticated
caller whose identity is forwarded signed."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import APIRouter, Request, Response

from civic.app import ServiceDep
from civic.auth import IDENTITY_HEADER, Principal, forward
from civic.problems import Problem
from gateway.policy import may_route
from gateway.tokens import InvalidToken, TokenVerifier

# Hop-by-hop headers (RFC 9110 §7.6.1) and those the client library sets itself are not forwarded.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip
# Never passed on from a client: the bearer token stays here, and the forwarded identity is ours to sign.
_FROM_CLIENT_ONLY = {"authorization", IDENTITY_HEADER}

router = APIRouter(tags=["routing"])


def _forwardable(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


async def authenticate(request: Request) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthenticated", "Authentication required", "Send an OAuth2 bearer token.",
                      headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    verifier: TokenVerifier = request.app.state.tokens
    try:
        return await verifier.verify(token.strip())
    except InvalidToken as exc:
        raise Problem(401, "unauthenticated", "Authentication required", str(exc),
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc  # fmt: skip


async def route_to_service(domain: str, path: str, request: Request, service: ServiceDep) -> Response:
    principal = await authenticate(request)
    base = service.settings.service_urls.get(domain)
    if base is None:
        known = ", ".join(service.settings.service_urls)
        raise Problem(404, "unknown-domain", "No such service", f"known: {known}", field="domain")
    if not may_route(principal, domain, request.method):
        raise Problem(403, "forbidden", "Not allowed", f"The role {principal.role} may not {request.method} {domain}.")
    client: httpx.AsyncClient = request.app.state.http
    headers = {k: v for k, v in _forwardable(request.headers).items() if k.lower() not in _FROM_CLIENT_ONLY}
    headers["x-request-id"] = request.state.request_id
    headers[IDENTITY_HEADER] = forward(principal, service.settings)
    try:
        upstream = await client.request(
            request.method, f"{base}/{path}", params=request.query_params, content=await request.body(),
            headers=headers,
        )  # fmt: skip
    except httpx.TransportError as exc:
        detail = "Try again shortly; nothing was changed if the request did not reach the service."
        raise Problem(502, "service-unavailable", f"The {domain} service is unavailable", detail) from exc
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
