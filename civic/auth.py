"""Who is calling: the identity the gateway forwards to the services, and the checks services make on it.

The gateway authenticates people and systems (bearer JWTs) and forwards the result to the service as a short-lived
token signed with a key only the gateway and the services hold (``X-Civic-Identity``). A service therefore trusts
no plain header: reached directly, without a valid forwarded identity, it answers 401.

Record ownership is the service's business: a citizen asking for someone else's record gets 404, exactly as if
the record did not exist, so that the answer does not reveal whether it does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from civic.config import Settings
from civic.events import current_initiator
from civic.identity import pseudonym
from civic.problems import Problem

IDENTITY_HEADER = "x-civic-identity"
_AUDIENCE = "civic-services"
_ISSUER = "civic-gateway"
_ALGORITHM = "HS256"
_LIFETIME_S = 120


class Role(StrEnum):
    CITIZEN = "citizen"  # their own records only
    CASEWORKER = "caseworker"  # of one domain: decides that domain's cases
    AUDITOR = "auditor"  # reads, and the audit log
    DEPARTMENT = "department"  # another department's system: its subscriptions only
    OPERATOR = "operator"  # journeys, dead letters


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str  # a citizen's resident ID; a staff or system account id otherwise
    role: Role
    domain: str | None = None  # the caseworker's domain, e.g. "assistance"
    name: str | None = None

    def is_caseworker_of(self, domain: str) -> bool:
        return self.role is Role.CASEWORKER and self.domain == domain

    def is_citizen(self, resident_id: str) -> bool:
        return self.role is Role.CITIZEN and self.subject == resident_id

    def may_read_person(self, resident_id: str, domain: str) -> bool:
        """Citizens read their own records; the domain's caseworkers and auditors read anyone's."""
        return self.is_citizen(resident_id) or self.is_caseworker_of(domain) or self.role is Role.AUDITOR


# Signed identities reused while more than half their lifetime is left: signing is a fair share of the gateway's
# work per request, and a caller sends many requests a minute. Keyed by the key too, so a rotated key signs anew.
_signed: dict[tuple[Principal, str], tuple[str, int]] = {}
_SIGNED_KEPT = 10_000


def forward(principal: Principal, settings: Settings) -> str:
    """The signed identity the gateway sends to a service (also what tests use to call a service directly)."""
    now = int(time.time())
    key = settings.internal_key.get_secret_value()
    cached = _signed.get((principal, key))
    if cached is not None and cached[1] - now > _LIFETIME_S // 2:
        return cached[0]
    claims = {
        "sub": principal.subject,
        "role": principal.role.value,
        "dom": principal.domain,
        "name": principal.name,
        "iss": _ISSUER,
        "aud": _AUDIENCE,
        "iat": now,
        "exp": now + _LIFETIME_S,
    }
    token = jwt.encode(claims, key, algorithm=_ALGORITHM)
    if len(_signed) >= _SIGNED_KEPT:
        _signed.clear()
    _signed[(principal, key)] = (token, now + _LIFETIME_S)
    return token


def identity_headers(principal: Principal, settings: Settings) -> dict[str, str]:
    return {IDENTITY_HEADER: forward(principal, settings)}


# Forwarded identities already checked, until they expire: the gateway reuses each for a minute, and checking the
# signature is a fair share of a small request's work. Keyed by the key too, so a rotated key checks anew.
_read: dict[tuple[str, str], tuple[Principal, int]] = {}


def read_forwarded(token: str, settings: Settings) -> Principal:
    key = settings.internal_key.get_secret_value()
    known = _read.get((token, key))
    if known is not None and known[1] > time.time():
        return known[0]
    claims = jwt.decode(
        token,
        key,
        algorithms=[_ALGORITHM],  # a fixed list: never trust the token's own "alg"
        audience=_AUDIENCE,
        issuer=_ISSUER,
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
    )
    principal = Principal(
        subject=claims["sub"], role=Role(claims["role"]), domain=claims.get("dom"), name=claims.get("name")
    )
    if len(_read) >= _SIGNED_KEPT:
        _read.clear()
    _read[(token, key)] = (principal, int(claims["exp"]))
    return principal


async def current_principal(request: Request) -> Principal:
    token = request.headers.get(IDENTITY_HEADER)
    if not token:
        raise Problem(401, "unauthenticated", "Authentication required", "Call the API through the gateway.")
    settings: Settings = request.app.state.service.settings
    try:
        principal = read_forwarded(token, settings)
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise Problem(
            401, "unauthenticated", "Authentication required", "The forwarded identity is not valid."
        ) from exc
    # Events written for this request name who asked: a citizen by pseudonym (never the raw resident ID).
    key = settings.pseudonym_key.get_secret_value().encode()
    current_initiator.set(pseudonym(principal.subject, key) if principal.role is Role.CITIZEN else principal.subject)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role, domain: str | None = None) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (and, for caseworkers, only those of ``domain``).

    ``async`` with nothing to await: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request.
    """

    async def check(principal: CurrentUser) -> Principal:
        allowed = principal.role in roles and (
            principal.role is not Role.CASEWORKER or domain is None or principal.domain == domain
        )
        if not allowed:
            raise Problem(403, "forbidden", "Not allowed", f"This needs the role {' or '.join(roles)}"
                          + (f" of {domain}" if domain else "") + ".")  # fmt: skip
        return principal

    return check


def caseworker_of(domain: str) -> Callable[[Principal], Awaitable[Principal]]:
    return require(Role.CASEWORKER, domain=domain)
