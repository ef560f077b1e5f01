"""Electronic certificates, pure: what a document shows, its signature (Ed25519 and P-256), that no single
character can be altered, that foreign keys and algorithms are refused, the certificate's standing; and where
the signing key comes from (settings, or a development key made once in the data directory)."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import SecretStr

from civic.config import Settings
from services.marriage import documents
from services.marriage.documents import (
    CertificateStatus,
    DocumentInvalid,
    Keyring,
    SigningKey,
    VerificationKey,
    content_of,
    sign,
    standing_of,
    verify,
)
from services.marriage.models import Certificate, Marriage
from services.marriage.signing_keys import CertificateSettings, KeyNotConfigured, load_keyring
from tests.factories import resident_id

SIGNED_AT = datetime(2026, 6, 15, 2, 30, tzinfo=UTC)
HUSBAND = resident_id(date(1995, 3, 1), region="330683")
WIFE = resident_id(date(1996, 4, 2), region="330683", female=True)


def ed25519_ring(issuer: str = "civic-marriage") -> Keyring:
    return Keyring(issuer, SigningKey.of(ed25519.Ed25519PrivateKey.generate()))


def marriage(status: str = "married") -> Marriage:
    return Marriage(
        id="m-1",
        resident_id=HUSBAND,
        name="张伟",
        spouse_resident_id=WIFE,
        spouse_name="李娜",
        registered_on=date(2026, 6, 15),
        office_code="330683",
        both_present=True,
        status=status,
        registered_by="cw-1",
    )


def certificate(**changes: Any) -> Certificate:
    values: dict[str, Any] = {
        "number": "J330683-2026-AB12CD34EF",
        "kind": "marriage",
        "marriage_id": "m-1",
        "holder_resident_id": WIFE,
        "office_code": "330683",
        "issued_on": date(2026, 6, 15),
    }
    values.update(changes)
    return Certificate(**values)


def payload_of(document: str) -> dict[str, object]:
    segment = document.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def test_the_document_shows_the_paper_certificate_with_masked_ids_only() -> None:
    ring = ed25519_ring()
    content = content_of(certificate(), marriage(), date(2026, 6, 15))
    document = sign(content, ring, SIGNED_AT)
    payload = payload_of(document)
    assert payload == {
        "iss": "civic-marriage",
        "iat": int(SIGNED_AT.timestamp()),
        "certificate": {
            "number": "J330683-2026-AB12CD34EF",
            "kind": "marriage",
            "registered_on": "2026-06-15",
            "issued_on": "2026-06-15",
            "office_code": "330683",
            "reissue": False,
            "holder": {"name": "李娜", "resident_id": WIFE[:6] + "*" * 8 + WIFE[14:]},
            "other_party": {"name": "张伟", "resident_id": HUSBAND[:6] + "*" * 8 + HUSBAND[14:]},
        },
    }
    raw = json.dumps(payload)
    assert HUSBAND not in raw and WIFE not in raw, "no whole resident ID in the document"
    assert HUSBAND[6:14] not in raw, "nor the birth date the masking hides"
    header = jwt.get_unverified_header(document)
    assert header == {"alg": "EdDSA", "kid": ring.signing.verification.kid, "typ": documents.DOCUMENT_TYPE}


@pytest.mark.parametrize(
    "private_key",
    [ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())],
    ids=["Ed25519", "P-256"],
)
def test_a_signed_document_verifies_and_no_single_character_can_change(private_key: documents.PrivateKey) -> None:
    ring = Keyring("civic-marriage", SigningKey.of(private_key))
    content = content_of(certificate(), marriage(), date(2026, 6, 15))
    document = sign(content, ring, SIGNED_AT)
    verified = verify(document, ring)
    assert verified.content == content
    assert verified.signed_at == SIGNED_AT
    assert verified.key_id == ring.signing.verification.kid
    for i, ch in enumerate(document):
        for replacement in {"A" if ch != "A" else "B", "-" if ch != "-" else "_", "."} - {ch}:
            altered = document[:i] + replacement + document[i + 1 :]
            with pytest.raises(DocumentInvalid):
                verify(altered, ring)
    for altered in (document + "A", document[:-1], " " + document, document + "\n"):
        with pytest.raises(DocumentInvalid):
            verify(altered, ring)


def test_a_segment_spelled_in_non_canonical_base64_is_refused() -> None:
    ring = ed25519_ring()
    document = sign(content_of(certificate(), marriage(), date(2026, 6, 15)), ring, SIGNED_AT)
    head, body, signature = document.split(".")
    # 64 signature bytes take 86 characters, 4 bits of the last one unused: flipping them decodes to the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last ^ 0b0001]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(signature + "==")
    with pytest.raises(DocumentInvalid) as caught:
        verify(f"{head}.{body}.{twin}", ring)
    assert caught.value.reason == "malformed"


def test_foreign_keys_algorithms_and_issuers_are_refused() -> None:
    ring = ed25519_ring()
    content = content_of(certificate(), marriage(), date(2026, 6, 15))
    claims = payload_of(sign(content, ring, SIGNED_AT))
    kid = ring.signing.verification.kid
    public_pem = ring.signing.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = {
        # the same kid, another key
        "signature-mismatch": jwt.encode(
            claims,
            ed25519.Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"kid": kid, "typ": documents.DOCUMENT_TYPE},
        ),
        # HMAC keyed with the public key: the classic algorithm confusion
        "signature-mismatch ": jwt.encode(
            claims,
            base64.b64encode(public_pem).decode(),
            algorithm="HS256",
            headers={"kid": kid, "typ": documents.DOCUMENT_TYPE},
        ),
        "unknown-key": sign(content, ed25519_ring(), SIGNED_AT),
        "wrong-issuer": sign(content, Keyring("someone-else", ring.signing), SIGNED_AT),
        "not-a-certificate": jwt.encode({"iss": "civic-marriage", "iat": 1}, ring.signing.private_key, "EdDSA"),
        "malformed": "not a document",
    }
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": kid, "typ": documents.DOCUMENT_TYPE})
    forged["malformed "] = unsigned  # its empty signature segment is not base64url of anything
    for reason, document in forged.items():
        with pytest.raises(DocumentInvalid) as caught:
            verify(document, ring)
        assert caught.value.reason == reason.strip(), reason


def test_documents_of_a_retired_key_still_verify_and_the_key_is_published() -> None:
    old = ed25519_ring()
    document = sign(content_of(certificate(), marriage(), date(2026, 6, 15)), old, SIGNED_AT)
    new = Keyring("civic-marriage", SigningKey.of(ec.generate_private_key(ec.SECP256R1())), (old.signing.verification,))
    assert verify(document, new).key_id == old.signing.verification.kid
    published = new.jwks()["keys"]
    assert [k["kid"] for k in published] == [new.signing.verification.kid, old.signing.verification.kid]
    assert published[0]["kty"] == "EC" and published[0]["alg"] == "ES256" and published[0]["use"] == "sig"
    assert "d" not in published[0] and "d" not in published[1], "no private part is published"


def test_the_key_id_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037 appendix A.2/A.3: the example Ed25519 public key and its thumbprint.
    x = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    key = VerificationKey.of(ed25519.Ed25519PublicKey.from_public_bytes(x))
    assert key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_what_a_divorce_certificate_and_a_reissue_show() -> None:
    divorce = certificate(number="L110105-2026-00AA11BB22", kind="divorce", holder_resident_id=HUSBAND,
                          office_code="110105", issued_on=date(2026, 9, 1), reissue=True)  # fmt: skip
    content = content_of(divorce, marriage("divorced"), date(2026, 8, 20))
    assert (content.kind, content.registered_on, content.issued_on, content.office_code, content.reissue) == (
        "divorce",
        date(2026, 8, 20),
        date(2026, 9, 1),
        "110105",
        True,
    )
    assert (content.holder.name, content.other_party.name) == ("张伟", "李娜")


@pytest.mark.parametrize(
    ("certificate_changes", "marriage_status", "expected", "since"),
    [
        ({}, "married", CertificateStatus.VALID, None),
        ({"status": "void", "void_reason": "reissued", "voided_on": date(2026, 7, 1)}, "married",
         CertificateStatus.VOID, date(2026, 7, 1)),
        ({"status": "void", "void_reason": "registration revoked", "voided_on": date(2026, 7, 2)}, "revoked",
         CertificateStatus.REVOKED, date(2026, 7, 2)),
        ({}, "divorced", CertificateStatus.ENDED, None),
        ({}, "widowed", CertificateStatus.ENDED, None),
        ({"kind": "divorce"}, "divorced", CertificateStatus.VALID, None),
    ],
)  # fmt: skip
def test_standing(
    certificate_changes: dict[str, object], marriage_status: str, expected: CertificateStatus, since: date | None
) -> None:
    standing = standing_of(certificate(**certificate_changes), marriage(marriage_status))
    assert (standing.status, standing.since) == (expected, since)
    assert standing_of(None, None).status is CertificateStatus.UNKNOWN


def test_a_development_key_is_made_once_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(service_name="marriage", data_dir=tmp_path / "data")
    first = load_keyring(CertificateSettings(), settings)
    again = load_keyring(CertificateSettings(), settings)
    assert first.signing.verification.kid == again.signing.verification.kid
    key_file = tmp_path / "data" / "marriage-certificate-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name], "no candidate file left behind"


def test_a_configured_key_is_used_and_production_requires_one(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    expected = SigningKey.of(private).verification.kid
    production = Settings(service_name="marriage", data_dir=tmp_path, environment="production")
    from_env = load_keyring(CertificateSettings(certificate_key=SecretStr(pem.decode())), production)
    assert from_env.signing.verification.kid == expected
    assert from_env.signing.verification.algorithm == "ES256"
    (tmp_path / "key.pem").write_bytes(pem)
    from_file = load_keyring(CertificateSettings(certificate_key_file=tmp_path / "key.pem"), production)
    assert from_file.signing.verification.kid == expected
    with pytest.raises(KeyNotConfigured):
        load_keyring(CertificateSettings(), production)
    assert not list(tmp_path.glob("*certificate-key*")), "production never makes a development key"
    with pytest.raises(KeyNotConfigured):
        load_keyring(
            CertificateSettings(certificate_key=SecretStr(pem.decode()), certificate_key_file=tmp_path / "key.pem"),
            production,
        )
    retired = ed25519.Ed25519PrivateKey.generate().public_key()
    (tmp_path / "retired.pem").write_bytes(
        retired.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo) * 1
    )
    ring = load_keyring(
        CertificateSettings(certificate_key_file=tmp_path / "key.pem", certificate_retired_keys_file=tmp_path
                            / "retired.pem"),
        production,
    )  # fmt: skip
    assert [k.kid for k in ring.retired] == [VerificationKey.of(retired).kid]
