"""The key that signs electronic certificates: from settings, or a development key made in the data directory.

Production sets ``CIVIC_MARRIAGE_CERTIFICATE_KEY`` (the PEM itself, from a secret) or
``CIVIC_MARRIAGE_CERTIFICATE_KEY_FILE`` (a mounted secret file): a PKCS#8 private key, Ed25519 or EC P-256.
Without either, a local or test run makes an Ed25519 key once in ``<data_dir>/<service>-certificate-key.pem``
(mode 0600, never in the repository: ``.data/`` is ignored) and keeps using it; production refuses to start.

Rotating the key: give the new private key, and put the old public key into the file named by
``CIVIC_MARRIAGE_CERTIFICATE_RETIRED_KEYS_FILE`` (PEM public keys, one after another). Documents signed with
the old key keep verifying, and departments find both keys in the published key set.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import Depends, FastAPI, Request
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from civic.config import Settings
from services.marriage.documents import Keyring, VerificationKey, signing_key_from_pem, verification_key_from_pem

_PUBLIC_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class CertificateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIVIC_MARRIAGE_", extra="ignore")

    certificate_key: SecretStr | None = Field(
        None, description="PEM of the private key (PKCS#8, Ed25519 or EC P-256) that signs electronic certificates"
    )
    certificate_key_file: Path | None = Field(None, description="a file holding that PEM (a mounted secret)")
    certificate_retired_keys_file: Path | None = Field(
        None, description="PEM public keys of earlier signing keys: still accepted and published, never used to sign"
    )
    certificate_issuer: str = Field("civic-marriage", min_length=1, description="the documents' `iss`")


class KeyNotConfigured(RuntimeError):
    """Production without a certificate key: refusing to sign with a key nobody else can trust or keep."""


def load_keyring(config: CertificateSettings, settings: Settings) -> Keyring:
    if config.certificate_key is not None and config.certificate_key_file is not None:
        raise KeyNotConfigured("set CIVIC_MARRIAGE_CERTIFICATE_KEY or CIVIC_MARRIAGE_CERTIFICATE_KEY_FILE, not both")
    if config.certificate_key is not None:
        pem = config.certificate_key.get_secret_value().encode()
    elif config.certificate_key_file is not None:
        pem = config.certificate_key_file.read_bytes()
    elif settings.environment == "production":
        raise KeyNotConfigured(
            "production needs the electronic-certificate signing key in CIVIC_MARRIAGE_CERTIFICATE_KEY or "
            "CIVIC_MARRIAGE_CERTIFICATE_KEY_FILE"
        )
    else:
        pem = development_key(settings.data_dir / f"{settings.service_name}-certificate-key.pem")
    retired: tuple[VerificationKey, ...] = ()
    if config.certificate_retired_keys_file is not None:
        blocks = _PUBLIC_PEM.findall(config.certificate_retired_keys_file.read_bytes())
        retired = tuple(verification_key_from_pem(block) for block in blocks)
    return Keyring(config.certificate_issuer, signing_key_from_pem(pem), retired)


def development_key(path: Path) -> bytes:
    """The key in ``path``, made first if there is none. Two processes starting at once end up with the same key:
    each writes its own candidate and links it into place, and whoever comes second reads the first one's."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    candidate = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    return path.read_bytes()


@contextlib.asynccontextmanager
async def certificate_keys(app: FastAPI) -> AsyncIterator[None]:
    """A start-up resource: load (or make) the keys once; a bad or missing production key stops the start."""
    config: CertificateSettings = app.state.marriage_certificate_settings
    app.state.marriage_keyring = load_keyring(config, app.state.service.settings)
    yield


async def keyring(request: Request) -> Keyring:
    ring: Keyring = request.app.state.marriage_keyring
    return ring


KeyringDep = Annotated[Keyring, Depends(keyring)]
