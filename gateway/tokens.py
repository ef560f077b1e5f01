"""Bearer tokens at the gateway: verification, and the development issuer used by `civic up` and `civic token`.

Only asymmetric algorithms are accepted, from a fixed list, so neither ``alg: none`` nor an HMAC token "signed"
with the issuer's public key can pass. Production verifies against the identity provider's JWKS (keys cached and
re-fetched when a token names an unknown key id, which is how rotation shows up). The development issuer is off
unless ``CIVIC_DEV_ISSUER`` is set: it signs with an RSA key kept in the data directory.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from pydantic import ValidationError

from civic.auth import Principal, Role
from civic.config import Settings
from civic.identity import InvalidResidentId, validate_resident_id

ALGORITHMS = ["RS256", "PS256", "ES256"]
DEV_ISSUER = "civic-dev-issuer"
DEV_KEY_FILE = "dev-issuer.pem"
DEV_KID = "civic-dev-1"
VERIFIED_CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why, for the 401 problem (never the token itself)."""


def dev_private_key(data_dir: Path) -> RSAPrivateKey:
    """The development issuer's key, created on first use (0600) so `civic up` and `civic token` share it."""
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, RSAPrivateKey):
        raise InvalidToken(f"{path} is not an RSA private key")
    return loaded


def issue_dev_token(
    settings: Settings, *, role: Role, subject: str, domain: str | None = None, name: str | None = None,
    ttl_s: int = 3600,
) -> str:  # fmt: skip
    """A token from the development issuer (what `civic token` prints)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER, "aud": settings.jwt_audience, "sub": subject, "iat": now, "exp": now + ttl_s,
        "civic_role": role.value,
    }  # fmt: skip
    if domain:
        claims["civic_domain"] = domain
    if name:
        claims["name"] = name
    if role is Role.CITIZEN:
        claims["resident_id"] = subject
    key = dev_private_key(settings.data_dir)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": DEV_KID})


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300) if settings.jwks_url else None
        self._dev_key: RSAPublicKey | None = None
        if settings.dev_issuer:
            self._dev_key = dev_private_key(settings.data_dir).public_key()
        if self._jwks is None and self._dev_key is None:
            raise RuntimeError("the gateway needs CIVIC_JWKS_URL (and CIVIC_JWT_ISSUER), or CIVIC_DEV_ISSUER=true")
        # A client sends the same token with every request until it expires: verify its signature once.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires = await self._verify(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        key, issuer = await self._key_for(token, header)
        try:
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.settings.jwt_audience, issuer=issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]}, leeway=30,
            )  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token rejected: {type(exc).__name__}") from exc
        return principal_from_claims(claims), float(claims["exp"])

    async def _key_for(self, token: str, header: dict[str, Any]) -> tuple[Any, str | None]:
        if self._dev_key is not None and header.get("kid") == DEV_KID:
            return self._dev_key, DEV_ISSUER
        if self._jwks is None:
            raise InvalidToken("unknown signing key")
        try:
            # PyJWKClient fetches with blocking I/O (only on a cache miss): keep it off the event loop.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("unknown signing key") from exc
        return signing_key.key, self.settings.jwt_issuer


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(claims.get("civic_role", ""))
    except ValueError as exc:
        raise InvalidToken("token carries no civic role") from exc
    subject = str(claims["sub"])
    if role is Role.CITIZEN:
        # A citizen is known to the services by resident ID; a token without a valid one identifies nobody.
        try:
            subject = validate_resident_id(str(claims.get("resident_id", "")))
        except InvalidResidentId as exc:
            raise InvalidToken("citizen token without a valid resident_id") from exc
    domain = claims.get("civic_domain")
    if role is Role.CASEWORKER and not domain:
        raise InvalidToken("caseworker token without civic_domain")
    try:
        return Principal(subject=subject, role=role, domain=domain, name=claims.get("name"))
    except ValidationError as exc:
        raise InvalidToken("token claims are not valid") from exc
