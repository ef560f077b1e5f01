"""Where a webhook may point: never at the gateway's own neighbourhood (server-side request forgery).

A department registers a URL and the gateway calls it, from inside our network. So the URL must be plain
``http``/``https`` without credentials, and its host must resolve only to public addresses: not loopback,
private, shared (CGNAT), link-local (169.254.0.0/16, where cloud metadata services live), multicast, reserved
or unspecified — IPv4-mapped IPv6 forms included. The check is made when the subscription is registered and
again before every delivery, whose connection then goes to the very address just checked (``pinned``): a DNS
answer that changes in between (rebinding) cannot steer a delivery inside.

``webhook_allow_private_networks`` lifts the address check (only the address check) for local use and tests,
whose receivers listen on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SCHEMES = {"http": 80, "https": 443}


class UnsafeWebhookUrl(ValueError):
    """Why the URL may not be called; safe to show to the department (it names no internal detail)."""


def forbidden_address(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return forbidden_address(embedded)
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),  # before "private", which includes 240.0.0.0/4 since Python 3.11
        ("private", address.is_private),
    ):
        if flag:
            return kind
    # Whatever else is not globally routable (shared address space 100.64.0.0/10, benchmarking nets, …).
    return None if address.is_global else "non-public"


def parse(url: str) -> SplitResult:
    """The URL's shape: http(s), a host, no credentials. Raises UnsafeWebhookUrl."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise UnsafeWebhookUrl("not a valid URL") from exc
    if parts.scheme.lower() not in _SCHEMES:
        raise UnsafeWebhookUrl("only http and https URLs are called")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeWebhookUrl("a URL with credentials in it is not accepted (the signature authenticates us)")
    if not parts.hostname:
        raise UnsafeWebhookUrl("the URL has no host")
    return parts


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookUrl(f"the host {host} does not resolve") from exc
    # getaddrinfo may answer "fe80::1%eth0": the zone is not part of the address.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeWebhookUrl(f"the host {host} does not resolve")
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class Target:
    """Where to connect (``url``, its host an address already checked), and the Host header and TLS server name
    that keep the original host's identity."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


async def checked(url: str, allow_private_networks: bool = False) -> list[IPAddress]:
    """The addresses the URL's host resolves to now, every one of them public. Raises UnsafeWebhookUrl."""
    parts = parse(url)
    assert parts.hostname is not None
    addresses = await resolve(parts.hostname, parts.port or _SCHEMES[parts.scheme.lower()])
    if not allow_private_networks:
        for address in addresses:
            kind = forbidden_address(address)
            if kind is not None:
                raise UnsafeWebhookUrl(f"the host {parts.hostname} resolves to a {kind} address ({address})")
    return addresses


async def pinned(url: str, allow_private_networks: bool = False) -> Target:
    """The request to make for ``url``: to the address checked just now, with the original Host header, and for
    https the original name for SNI and certificate verification. Raises UnsafeWebhookUrl."""
    addresses = await checked(url, allow_private_networks)
    parts = parse(url)
    assert parts.hostname is not None
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        pass
    else:
        return Target(url)  # a literal address: nothing to resolve again
    if allow_private_networks:
        return Target(url)  # local use: let the client resolve (localhost may be ::1 or 127.0.0.1)
    address = addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    original = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return Target(
        urlunsplit(parts._replace(netloc=netloc)),
        headers={"host": original},
        extensions={"sni_hostname": parts.hostname} if parts.scheme.lower() == "https" else {},
    )
