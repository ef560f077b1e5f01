"""Routing: ``/api/<domain>/<path>`` goes to that domain's service as ``/<path>``, on behalf of an authenticated
caller whose identity is forwarded signed.

Reads (GET, HEAD) whose connection failed are tried again (nothing reached the service, and reads change nothing
anyway); writes are never repeated by the gateway: a client that needs to retry a POST sends an
``Idempotency-Key``. A service that keeps failing to answer gets its circuit opened (``gateway.breaker``).

The upstream client is aiohttp rather than httpx: on this path httpx's async pool cost ~3.4 ms of CPU per call
(a failed ``import sniffio`` on every call, and a liveness probe of every pooled connection), aiohttp's ~0.3 ms —
most of the gateway's overhead (bench.gateway_overhead). Its cookie jar is a dummy: cookies one caller's answer
sets must never ride along on another caller's request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

import aiohttp
from fastapi import APIRouter, FastAPI, Request, Response
from opentelemetry import propagate
from yarl import URL

from civic.app import ServiceDep
from civic.auth import IDENTITY_HEADER, Principal, forward
from civic.problems import Problem
from gateway import audit, idempotency
from gateway.breaker import CircuitBreaker
from gateway.callers import authenticate, caller
from gateway.policy import READS, may_route
from gateway.settings import GatewaySettings

__all__ = ["authenticate", "caller", "router"]

# Hop-by-hop headers (RFC 9110 §7.6.1) and those the client library sets itself are not forwarded.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip
# Never passed on from a client: the bearer token stays here, and the forwarded identity is ours to sign.
_FROM_CLIENT_ONLY = {"authorization", IDENTITY_HEADER, "idempotency-key"}

router = APIRouter(tags=["routing"])


def _forwardable(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]


@contextlib.asynccontextmanager
async def upstream_session(app: FastAPI) -> AsyncIterator[None]:
    """A start-up resource: the pooled client the gateway calls the services with (``app.state.upstream``)."""
    settings: GatewaySettings = app.state.gateway_settings
    timeout = aiohttp.ClientTimeout(total=settings.gateway_timeout_s, sock_connect=settings.gateway_connect_timeout_s)
    async with aiohttp.ClientSession(
        # Idle connections are dropped before the services' own keep-alive (uvicorn: 5 s) would close them: a
        # request sent on a connection the server is closing at that moment fails (502) and, being a POST, cannot
        # be repeated.
        timeout=timeout, connector=aiohttp.TCPConnector(limit=500, ttl_dns_cache=300, keepalive_timeout=4),
        cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
    ) as session:  # fmt: skip
        app.state.upstream = session
        yield


async def route_to_service(domain: str, path: str, request: Request, service: ServiceDep) -> Response:
    principal = await caller(request)
    settings: GatewaySettings = request.app.state.gateway_settings
    base = settings.service_urls.get(domain)
    if base is None:
        known = ", ".join(settings.service_urls)
        raise Problem(404, "unknown-domain", "No such service", f"known: {known}", field="domain")
    if not may_route(principal, domain, request.method, path):
        raise Problem(403, "forbidden", "Not allowed", f"The role {principal.role} may not {request.method} {domain}.")
    if request.method in READS and principal.role in audit.AUDITED_ROLES:
        await audit.record_read(service, request, principal, domain, f"/{path}")
    body = await request.body()

    async def send() -> Response:
        return await _send(request, principal, settings, domain, f"{base}/{path}", body)

    key = request.headers.get("idempotency-key")
    if request.method == "POST" and key is not None:
        return await idempotency.once(service.sessions, principal, key.strip(), request, body, send,
                                      settings.idempotency_wait_s, settings.idempotency_ttl_s)  # fmt: skip
    return await send()


async def _send(
    request: Request, principal: Principal, settings: GatewaySettings, domain: str, url: str, body: bytes
) -> Response:
    session: aiohttp.ClientSession = request.app.state.upstream
    breaker: CircuitBreaker = request.app.state.breakers[domain]
    headers = {k: v for k, v in _forwardable(request.headers.items()) if k.lower() not in _FROM_CLIENT_ONLY}
    headers["x-request-id"] = request.state.request_id
    # The trace goes on in the service under the gateway's server span. No client span of its own: aiohttp's
    # tracing hooks cost a tenth of the gateway's time per request, for a span that only adds the wire time.
    propagate.inject(headers)
    query = request.url.query
    target = URL(f"{url}?{query}" if query else url, encoded=True)  # the client's query, byte for byte
    retries = settings.gateway_read_retries if request.method in READS else 0
    attempt = 0
    while True:
        breaker.before_request()
        headers[IDENTITY_HEADER] = forward(principal, settings)
        try:
            async with session.request(request.method, target, data=body or None, headers=headers,
                                       skip_auto_headers=("Accept-Encoding", "User-Agent")) as upstream:  # fmt: skip
                content = await upstream.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            breaker.failed()
            if attempt < retries:
                attempt += 1
                await asyncio.sleep(settings.gateway_retry_backoff_s * 2 ** (attempt - 1))
                continue
            raise Problem(503, "service-unavailable", f"The {domain} service is unavailable",
                          "The service could not be reached; nothing was sent to it. Try again shortly.",
                          headers={"Retry-After": "1"}) from exc  # fmt: skip
        except TimeoutError as exc:
            breaker.failed()
            raise Problem(504, "service-timeout", f"The {domain} service did not answer in time",
                          "The request may or may not have been carried out; repeat a POST only with the same "
                          "Idempotency-Key.") from exc  # fmt: skip
        except aiohttp.ClientError as exc:
            breaker.failed()
            raise Problem(502, "bad-gateway", f"The {domain} service broke off the exchange",
                          "The request may or may not have been carried out.") from exc  # fmt: skip
        except BaseException:
            breaker.released()
            raise
        breaker.succeeded()
        response = Response(content, status_code=upstream.status)
        # Repeated headers (Set-Cookie, Vary ...) pass through as they came; content-length is the one we set.
        response.raw_headers = [
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _forwardable(upstream.headers.items())),
            (b"content-length", str(len(content)).encode()),
        ]
        return response


# One route per method, so that each has its own operationId in the OpenAPI document.
for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    router.add_api_route(
        "/api/{domain}/{path:path}",
        route_to_service,
        methods=[_method],
        operation_id=f"route_{_method.lower()}_to_service",
        summary=f"Route a {_method} request to a domain service",
    )
