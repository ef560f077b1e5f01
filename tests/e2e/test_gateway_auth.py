"""The gateway lets in only callers with a token it can trust, and each only where their role may go."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import date
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from civic.auth import Role
from gateway.tokens import DEV_ISSUER, DEV_KID, dev_private_key
from tests.factories import resident_id


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": DEV_ISSUER, "aud": "civic", "sub": "cw-9", "iat": now, "exp": now + 600,
            "civic_role": "caseworker", "civic_domain": "funeral"}  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(civic_system: Any, payload: dict[str, Any]) -> str:
    key = dev_private_key(civic_system.data_dir)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": DEV_KID})


def forged_with_other_key(payload: dict[str, Any]) -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(payload, other, algorithm="RS256", headers={"kid": DEV_KID})


def hmac_with_public_key(civic_system: Any, payload: dict[str, Any]) -> str:
    """The classic confusion attack: HS256 keyed with the issuer's public key, which anyone may know."""
    public = (
        dev_private_key(civic_system.data_dir)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT","kid":"civic-dev-1"}')
    body = jwt.utils.base64url_encode(json.dumps(payload).encode())
    signature = hmac.new(public, header + b"." + body, hashlib.sha256).digest()
    return (header + b"." + body + b"." + jwt.utils.base64url_encode(signature)).decode()


def unsigned(payload: dict[str, Any]) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}')
    body = jwt.utils.base64url_encode(json.dumps(payload).encode())
    return (header + b"." + body + b".").decode()


BAD_TOKENS = {
    "expired": lambda s: signed(s, claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "wrong audience": lambda s: signed(s, claims(aud="someone-else")),
    "wrong issuer": lambda s: signed(s, claims(iss="https://evil.example")),
    "no expiry": lambda s: signed(s, claims(exp=None)),
    "signed with another key": lambda s: forged_with_other_key(claims()),
    "alg none": lambda s: unsigned(claims()),
    "HS256 keyed with the public key": lambda s: hmac_with_public_key(s, claims()),
    "no role": lambda s: signed(s, claims(civic_role=None)),
    "caseworker without a domain": lambda s: signed(s, claims(civic_domain=None)),
    "citizen without a resident ID": lambda s: signed(s, claims(civic_role="citizen", civic_domain=None)),
    "garbage": lambda s: "not.a.token",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_untrustworthy_tokens_are_refused_with_401(civic_system: Any, kind: str) -> None:
    token = BAD_TOKENS[kind](civic_system)
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        response = await api.get("/api/funeral/deaths/x", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert token not in response.text


async def test_no_token_is_401(civic_system: Any) -> None:
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        for path in ("/api/funeral/deaths/x", "/api/nowhere/x"):
            response = await api.get(path)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"


async def test_a_good_token_passes(civic_system: Any) -> None:
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        response = await api.get("/api/funeral/deaths/does-not-exist", headers={
            "authorization": f"Bearer {signed(civic_system, claims())}"})  # fmt: skip
    assert response.status_code == 404, "authenticated and routed: the service says the registration is unknown"
    assert response.json()["type"].endswith("/not-found")


@pytest.mark.parametrize(
    ("role", "domain", "method", "target", "allowed"),
    [
        (Role.CASEWORKER, "funeral", "GET", "funeral", True),
        (Role.CASEWORKER, "funeral", "GET", "assistance", False),
        (Role.CASEWORKER, "funeral", "POST", "assistance", False),
        (Role.AUDITOR, None, "GET", "assistance", True),
        (Role.AUDITOR, None, "POST", "funeral", False),
        (Role.OPERATOR, None, "DELETE", "marriage", False),
        (Role.DEPARTMENT, None, "GET", "funeral", False),
        (Role.CITIZEN, None, "GET", "eldercare", True),
    ],
)
async def test_roles_reach_only_their_routes(
    civic_system: Any, role: Role, domain: str | None, method: str, target: str, allowed: bool
) -> None:
    subject = resident_id(date(1980, 1, 1)) if role is Role.CITIZEN else f"{role}-1"
    async with httpx.AsyncClient(base_url=civic_system.gateway_url, timeout=10) as api:
        response = await api.request(method, f"/api/{target}/no-such-thing",
                                     headers=civic_system.auth(role, subject, domain))  # fmt: skip
    if allowed:
        assert response.status_code != 403 and response.status_code < 500, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/forbidden")
