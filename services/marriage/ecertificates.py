"""Electronic certificates (电子证照): the holder or a marriage caseworker obtains one; any department verifies it.

``POST /certificates/verify`` and ``GET /certificates/jwks.json`` need no identity: a department holding a
document learns from them only what the document already shows, plus the certificate's current status. Nothing
else can be asked of them (a document that this registry did not sign gets no answer about any certificate).
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import SessionDep
from civic.auth import CurrentUser
from civic.problems import Conflict, NotFound
from services.marriage import documents
from services.marriage.documents import CertificateContent, CertificateStatus, DocumentInvalid
from services.marriage.models import Certificate, Divorce, Marriage
from services.marriage.records import now
from services.marriage.schemas import DOMAIN
from services.marriage.signing_keys import KeyringDep

router = APIRouter(prefix="/certificates", tags=["electronic certificates"])
MAX_DOCUMENT_CHARS = 4096  # a certificate document is well under 1 KB; anything much longer is not one


class ElectronicCertificate(BaseModel):
    document: str = Field(description="the compact JWS (RFC 7515) to hand to a department")
    media_type: str = documents.MEDIA_TYPE
    key_id: str
    certificate: CertificateContent = Field(description="what the document shows, as signed")


class VerificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: str = Field(min_length=1, max_length=MAX_DOCUMENT_CHARS, description="the compact JWS")


class Verification(BaseModel):
    valid: bool = Field(description="signed by this registry and not altered by a single character")
    reason: str | None = Field(
        None, description="why not valid: malformed | not-a-certificate | unknown-key | signature-mismatch | "
        "wrong-issuer"
    )  # fmt: skip
    status: CertificateStatus | None = Field(
        None, description="the certificate's status in the register today (only for a valid document): valid; "
        "void (replaced by a reissue); revoked (registration revoked); ended (a marriage since ended); unknown"
    )  # fmt: skip
    since: date | None = Field(None, description="from when a void or revoked certificate stopped counting")
    register_agrees: bool | None = Field(
        None, description="false when the register was corrected since the document was signed: obtain a new one"
    )
    certificate: CertificateContent | None = Field(None, description="what the document shows (valid ones only)")
    signed_at: datetime | None = None
    key_id: str | None = None


class Jwks(BaseModel):
    keys: list[dict[str, str]]


async def registered_on(session: AsyncSession, certificate: Certificate, marriage: Marriage) -> date:
    if certificate.kind == "divorce" and certificate.divorce_id is not None:
        divorce = await session.get(Divorce, certificate.divorce_id)
        if divorce is not None and divorce.closed_on is not None:
            return divorce.closed_on
    return marriage.registered_on


@router.get("/jwks.json")
async def published_keys(keyring: KeyringDep, response: Response) -> Jwks:
    """The public keys (JWK Set, RFC 7517) that verify electronic certificates offline. Offline, a department
    learns that a document is authentic; only ``POST /certificates/verify`` says whether it still counts."""
    response.headers["cache-control"] = "public, max-age=3600"
    return Jwks(keys=keyring.jwks()["keys"])


@router.get("/{number}/electronic")
async def electronic_certificate(
    number: str, session: SessionDep, keyring: KeyringDep, user: CurrentUser
) -> ElectronicCertificate:
    """The signed document of a certificate, for its holder (citizen) or a marriage caseworker. Only a certificate
    that counts today is signed: a void or revoked one, or that of a marriage since ended, is refused."""
    certificate = await session.get(Certificate, number)
    if certificate is None or not (user.is_caseworker_of(DOMAIN) or user.is_citizen(certificate.holder_resident_id)):
        raise NotFound("certificate")
    marriage = await session.get(Marriage, certificate.marriage_id)
    if marriage is None:
        raise NotFound("certificate")
    standing = documents.standing_of(certificate, marriage)
    if standing.status is not CertificateStatus.VALID:
        kind = {
            CertificateStatus.VOID: "certificate-void",
            CertificateStatus.REVOKED: "registration-revoked",
            CertificateStatus.ENDED: "marriage-ended",
        }.get(standing.status, "certificate-not-valid")
        raise Conflict(kind, "Only a certificate that counts today is issued electronically",
                       f"this certificate's status is {standing.status}", field="number")  # fmt: skip
    content = documents.content_of(certificate, marriage, await registered_on(session, certificate, marriage))
    document = documents.sign(content, keyring, now())
    return ElectronicCertificate(document=document, key_id=keyring.signing.verification.kid, certificate=content)


@router.post("/verify")
async def verify_certificate(body: VerificationRequest, session: SessionDep, keyring: KeyringDep) -> Verification:
    """Is this document authentic, and does its certificate still count? Open to any department (no identity
    needed): the answer holds what the document shows and the certificate's status, nothing more."""
    try:
        verified = documents.verify(body.document, keyring)
    except DocumentInvalid as exc:
        return Verification(valid=False, reason=exc.reason)
    certificate = await session.get(Certificate, verified.content.number)
    marriage = await session.get(Marriage, certificate.marriage_id) if certificate else None
    standing = documents.standing_of(certificate, marriage)
    agrees = None
    if certificate is not None and marriage is not None:
        current = documents.content_of(certificate, marriage, await registered_on(session, certificate, marriage))
        agrees = current == verified.content
    return Verification(
        valid=True,
        status=standing.status,
        since=standing.since,
        register_agrees=agrees,
        certificate=verified.content,
        signed_at=verified.signed_at,
        key_id=verified.key_id,
    )
