"""Which roles may call which routes at the gateway. Services check record ownership themselves."""

from __future__ import annotations

from civic.auth import Principal, Role

READS = frozenset({"GET", "HEAD"})


def may_route(principal: Principal, domain: str, method: str) -> bool:
    """Citizens reach every service (each shows them their own records only); a caseworker reaches the service of
    their domain; auditors and operators read; department systems use their subscriptions, not the API."""
    match principal.role:
        case Role.CITIZEN:
            return True
        case Role.CASEWORKER:
            return principal.domain == domain
        case Role.AUDITOR | Role.OPERATOR:
            return method in READS
        case Role.DEPARTMENT:
            return False
