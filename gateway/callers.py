"""Who is calling: the bearer token verified, and the caller's rate limit charged (per principal; per IP address
for requests without a token that can be trusted, so that guessing tokens is limited too)."""

from __future__ import annotations

from fastapi import Request

from civic.auth import Principal, Role
from civic.identity import pseudonym
from civic.problems import Problem
from gateway.policy import may_use
from gateway.ratelimit import RateLimiter
from gateway.tokens import InvalidToken, TokenVerifier


async def authenticate(request: Request) -> Principal:
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # the route's guard already verified this request's token
        return known
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


async def caller(request: Request) -> Principal:
    """The authenticated principal, once its rate limit allows the request (a FastAPI dependency)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # charged once per request, however many dependencies ask
        return known
    limiter: RateLimiter = request.app.state.rate_limiter
    try:
        principal = await authenticate(request)
    except Problem:
        limiter.take(f"ip:{request.client.host if request.client else 'unknown'}")
        raise
    # A citizen's subject is their resident ID: the limiter's counts (kept in a table shared by the replicas)
    # name them by pseudonym.
    subject = pseudonym_of(principal, request) if principal.role is Role.CITIZEN else principal.subject
    limiter.take(f"{principal.role}:{subject}")
    request.state.principal = principal
    return principal


async def guard(request: Request) -> Principal:
    """For the gateway's own routes (a router dependency, so it runs before the route's body is even read):
    the caller, if ``gateway.policy`` lets their role use this route."""
    principal = await caller(request)
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    if not may_use(principal, request.method, template):
        raise Problem(
            403, "forbidden", "Not allowed", f"The role {principal.role} may not {request.method} {template}."
        )
    return principal


def pseudonym_of(citizen: Principal, request: Request) -> str:
    """A citizen (whose subject is their resident ID) by the keyed pseudonym events and journeys name them with."""
    key = request.app.state.gateway_settings.pseudonym_key.get_secret_value().encode()
    return pseudonym(citizen.subject, key)
