"""Electronic certificates (电子证照): a marriage or divorce certificate as a signed document (a compact JWS).

Pure: no I/O. The keys are loaded elsewhere (``signing_keys``); here they only sign and verify.

What the document shows, and why
--------------------------------
Exactly what the paper certificate proves, and less where the paper shows more than a verifier needs:

- the certificate number, its kind (结婚证 / 离婚证), the date of registration (of the marriage, or of the
  divorce for a divorce certificate), the date this certificate was issued and the issuing office (for a reissue
  (补发) the reissuing office and date, as the paper's stamp and remark "补发" say), and whether it is a reissue;
- the holder (持证人) and the other party, each by name and by *masked* resident ID (``330683********1234``).

Left out on purpose:

- whole resident IDs and birth dates. The paper shows them, but an electronic document is copied and forwarded far
  more easily than paper, and a verifier does not need them: the department compares the masked ID and the name
  with the person in front of it, whose ID card it has already checked. A hash of the whole ID would not hide it
  either (the ID space is small enough to enumerate), so there is none.
- sex, nationality, photo: not in this register, or not needed to verify the fact.
- the certificate's status. It changes after signing (a reissue voids the number, a revocation voids the
  registration), so it is never signed into the document: the verifier asks the registry
  (``POST /certificates/verify``), which answers from the register as it stands.
- internal ids (the registration's and the divorce's): not on the paper, and they would let departments link
  records they have no business linking.

Verification is strict: a document whose base64url is not in canonical form is refused, so that no character of
the document can be changed without the verification failing (base64 decoders otherwise ignore the unused low
bits of a segment's last character, and one altered character could decode to the same bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import BaseModel, ConfigDict, ValidationError

from civic.identity import mask
from services.marriage.models import Certificate, Marriage

DOCUMENT_TYPE = "civic-marriage-certificate+jwt"
MEDIA_TYPE = "application/jose"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_CLOCK_SKEW_S = 60  # replicas' clocks may differ a little; a document signed "in the future" by that is fine

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


# -- what a certificate shows ------------------------------------------------------------------------------------


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    resident_id: str  # always masked: see the module's docstring


class CertificateContent(BaseModel):
    """The signed content: what the paper certificate proves, nothing that changes after signing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str
    kind: Literal["marriage", "divorce"]
    registered_on: date
    issued_on: date
    office_code: str
    reissue: bool
    holder: Party
    other_party: Party


def content_of(certificate: Certificate, marriage: Marriage, registered_on: date) -> CertificateContent:
    """``registered_on``: the marriage's registration date, or the divorce's for a divorce certificate."""
    holder = certificate.holder_resident_id
    other = marriage.other_party(holder)
    names = {marriage.resident_id: marriage.name, marriage.spouse_resident_id: marriage.spouse_name}
    return CertificateContent(
        number=certificate.number,
        kind="divorce" if certificate.kind == "divorce" else "marriage",
        registered_on=registered_on,
        issued_on=certificate.issued_on,
        office_code=certificate.office_code,
        reissue=certificate.reissue,
        holder=Party(name=names[holder], resident_id=mask(holder)),
        other_party=Party(name=names[other], resident_id=mask(other)),
    )


# -- what a certificate is worth today ---------------------------------------------------------------------------


class CertificateStatus(StrEnum):
    VALID = "valid"
    VOID = "void"  # replaced by a reissue (补领): the number no longer counts
    REVOKED = "revoked"  # the registration was revoked (非真实身份登记撤销): void as if never made
    # A marriage certificate whose marriage has since ended (by divorce or death). The certificate is authentic and
    # was never voided, but it no longer proves a marriage that lasts: a verifier relying on it must know that.
    # How it ended is not said: that is more than the certificate holds.
    ENDED = "ended"
    UNKNOWN = "unknown"  # authentic, but this register has no such number (a register restored from an old backup)


@dataclass(frozen=True)
class Standing:
    status: CertificateStatus
    since: date | None = None  # from when a certificate is void or revoked


def standing_of(certificate: Certificate | None, marriage: Marriage | None) -> Standing:
    if certificate is None or marriage is None:
        return Standing(CertificateStatus.UNKNOWN)
    if certificate.status != "valid" or marriage.status == "revoked":
        revoked = marriage.status == "revoked" or certificate.void_reason == "registration revoked"
        return Standing(CertificateStatus.REVOKED if revoked else CertificateStatus.VOID, certificate.voided_on)
    if certificate.kind == "marriage" and marriage.status != "married":
        return Standing(CertificateStatus.ENDED)
    return Standing(CertificateStatus.VALID)


# -- keys --------------------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class VerificationKey:
    """A public key as departments see it (JWKS); ``kid`` is its RFC 7638 thumbprint."""

    algorithm: Literal["EdDSA", "ES256"]
    public_key: PublicKey
    jwk: dict[str, str]
    kid: str

    @staticmethod
    def of(public_key: PublicKey) -> VerificationKey:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
            algorithm: Literal["EdDSA", "ES256"] = "EdDSA"
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
            numbers = public_key.public_numbers()
            jwk = {
                "crv": "P-256",
                "kty": "EC",
                "x": _b64url(numbers.x.to_bytes(32, "big")),
                "y": _b64url(numbers.y.to_bytes(32, "big")),
            }
            algorithm = "ES256"
        else:
            raise ValueError("the certificate key must be Ed25519 or EC P-256")
        # RFC 7638: the required members, sorted, without whitespace.
        thumbprint = hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()).digest()
        return VerificationKey(algorithm, public_key, jwk, _b64url(thumbprint))

    def published(self) -> dict[str, str]:
        return {**self.jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    private_key: PrivateKey
    verification: VerificationKey

    @staticmethod
    def of(private_key: PrivateKey) -> SigningKey:
        return SigningKey(private_key, VerificationKey.of(private_key.public_key()))


def signing_key_from_pem(pem: bytes) -> SigningKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("the certificate key must be an Ed25519 or EC P-256 private key")
    return SigningKey.of(key)


def verification_key_from_pem(pem: bytes) -> VerificationKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise ValueError("a retired certificate key must be an Ed25519 or EC P-256 public key")
    return VerificationKey.of(key)


@dataclass(frozen=True)
class Keyring:
    """The key that signs now, and earlier keys whose documents still verify (published, never used to sign)."""

    issuer: str
    signing: SigningKey
    retired: tuple[VerificationKey, ...] = ()
    by_kid: dict[str, VerificationKey] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        keys = {k.kid: k for k in self.retired}
        keys[self.signing.verification.kid] = self.signing.verification
        object.__setattr__(self, "by_kid", keys)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.signing.verification.published(), *(k.published() for k in self.retired)]}


# -- signing and verifying ---------------------------------------------------------------------------------------


def sign(content: CertificateContent, keyring: Keyring, at: datetime) -> str:
    claims = {"iss": keyring.issuer, "iat": int(at.timestamp()), "certificate": content.model_dump(mode="json")}
    key = keyring.signing
    return jwt.encode(
        claims,
        key.private_key,
        algorithm=key.verification.algorithm,
        headers={"kid": key.verification.kid, "typ": DOCUMENT_TYPE},
    )


class DocumentInvalid(ValueError):
    """``reason``: malformed | not-a-certificate | unknown-key | signature-mismatch | wrong-issuer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    content: CertificateContent
    signed_at: datetime
    key_id: str


def _canonical(segment: str) -> bool:
    """Only the one base64url spelling of the bytes counts (no padding, no stray low bits)."""
    if not _SEGMENT.fullmatch(segment):
        return False
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return False
    return _b64url(decoded) == segment


def verify(document: str, keyring: Keyring) -> Verified:
    """The content of a document this registry signed, unaltered; ``DocumentInvalid`` saying why otherwise.
    The key is chosen by ``kid`` among the registry's own, and its algorithm is the key's, never the header's."""
    segments = document.split(".")
    if len(segments) != 3 or not all(_canonical(s) for s in segments):
        raise DocumentInvalid("malformed")
    try:
        header = jwt.get_unverified_header(document)
    except jwt.PyJWTError:
        raise DocumentInvalid("malformed") from None
    if header.get("typ") != DOCUMENT_TYPE:
        raise DocumentInvalid("not-a-certificate")
    kid = header.get("kid")
    key = keyring.by_kid.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise DocumentInvalid("unknown-key")
    if header.get("alg") != key.algorithm:
        raise DocumentInvalid("signature-mismatch")
    try:
        claims: dict[str, Any] = jwt.decode(
            document,
            key.public_key,
            algorithms=[key.algorithm],
            issuer=keyring.issuer,
            leeway=_CLOCK_SKEW_S,
            options={"require": ["iss", "iat"], "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise DocumentInvalid("signature-mismatch") from None
    except jwt.InvalidIssuerError:
        raise DocumentInvalid("wrong-issuer") from None
    except jwt.PyJWTError:
        raise DocumentInvalid("malformed") from None
    try:
        content = CertificateContent.model_validate(claims.get("certificate"))
        signed_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
    except (ValidationError, ValueError, TypeError, OverflowError):
        raise DocumentInvalid("not-a-certificate") from None
    return Verified(content, signed_at, key.kid)
