"""Which roles may call which routes at the gateway. Services check record ownership themselves.

The roles (issue 9): a citizen reaches every service, each of which shows them their own records only; a
caseworker reaches the service of their domain only; an auditor reads (every service, and the audit log) and
changes nothing; a department system uses its subscriptions only; an operator runs journeys and dead letters
(and may see whether a service is up), and reads no personal data in the services.

``tests/security/test_gateway_authorization_matrix.py`` checks every route against every role.
"""

from __future__ import annotations

from civic.auth import Principal, Role

READS = frozenset({"GET", "HEAD"})
# A service's own operations endpoints: nothing personal in them, so operators may watch them.
OPERATIONS_PATHS = frozenset({"healthz", "readyz"})


# Service routes that hold no personal record and that anyone with a token may call: checking an electronic
# marriage certificate someone presents (any department, any caseworker) and the keys to check it offline.
CERTIFICATE_CHECKS = frozenset(
    {("marriage", "POST", "certificates/verify"), ("marriage", "GET", "certificates/jwks.json")}
)
# Service routes a department system may call besides its subscriptions: the elderly-monitoring platform reports
# a device's alarm, which opens a follow-up task.
DEPARTMENT_ROUTES = CERTIFICATE_CHECKS | {("eldercare", "POST", "alarms")}


def may_route(principal: Principal, domain: str, method: str, path: str = "") -> bool:
    """``path`` is the part after ``/api/<domain>/``."""
    route = (domain, "GET" if method == "HEAD" else method, path.strip("/"))
    if route in CERTIFICATE_CHECKS:
        return True
    match principal.role:
        case Role.CITIZEN:
            return True
        case Role.CASEWORKER:
            return principal.domain == domain
        case Role.AUDITOR:
            return method in READS
        case Role.OPERATOR:
            return method in READS and path.strip("/") in OPERATIONS_PATHS
        case Role.DEPARTMENT:
            return route in DEPARTMENT_ROUTES


_SUBSCRIBERS = frozenset({Role.DEPARTMENT})
_STAFF_READERS = frozenset({Role.OPERATOR, Role.AUDITOR})

# The gateway's own routes, by method and path template: the roles that may call them. A route missing here is
# refused to everyone (and fails the authorization matrix test until it gets its line).
GATEWAY_ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/audit"): frozenset({Role.AUDITOR}),
    # Subscriptions: a department registers and streams its own; operators set scopes and re-send failed
    # deliveries; auditors read subscriptions and deliveries (the payloads only ever go to the department).
    ("GET", "/subscriptions"): _SUBSCRIBERS | _STAFF_READERS,
    ("POST", "/subscriptions"): _SUBSCRIBERS,
    ("PUT", "/subscriptions/{sub_id}/scope"): frozenset({Role.OPERATOR}),
    ("GET", "/subscriptions/{sub_id}/deliveries"): _SUBSCRIBERS | _STAFF_READERS,
    ("POST", "/subscriptions/{sub_id}/deliveries/{delivery_id}/resend"): _SUBSCRIBERS | {Role.OPERATOR},
    ("POST", "/subscriptions/{sub_id}/secret"): _SUBSCRIBERS,
    ("GET", "/subscriptions/{sub_id}/events"): _SUBSCRIBERS,
    # Journeys (as gateway/journeys/api.py serves them): citizens their own, operators and auditors all;
    # only operators replay dead letters.
    ("GET", "/journeys"): frozenset({Role.CITIZEN}) | _STAFF_READERS,
    ("GET", "/journeys/notifications"): frozenset({Role.CITIZEN}),
    ("GET", "/journeys/{journey_id}"): frozenset({Role.CITIZEN}) | _STAFF_READERS,
    ("POST", "/journeys/{journey_id}/replay"): frozenset({Role.OPERATOR}),
    # A consumer group's dead letters: operators list and replay them, auditors may look.
    ("GET", "/dead-letters/{group}"): _STAFF_READERS,
    ("POST", "/dead-letters/{group}/replay"): frozenset({Role.OPERATOR}),
}


def may_use(principal: Principal, method: str, route: str) -> bool:
    """``route`` is the gateway route's path template, e.g. ``/subscriptions/{sub_id}/scope``."""
    method = "GET" if method == "HEAD" else method
    return principal.role in GATEWAY_ROUTES.get((method, route), frozenset())
