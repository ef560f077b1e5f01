"""Webhook secrets at rest: sealed with AES-256-GCM under a key from ``CIVIC_WEBHOOK_SECRET_KEY``, bound to their
subscription (its id is the associated data, so a sealed secret copied onto another row does not open). The
clear secret is given to the department once, when it is made (registration, rotation), and otherwise exists
only in memory while a delivery is signed. A database dump without the key yields no way to forge signatures.

Stored form: ``v1.<base64url(nonce ‖ ciphertext ‖ tag)>``. A row written before sealing existed (the clear
secret) is sealed when the gateway starts (``seal_clear_secrets``).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import col, select

from civic.app import Service
from gateway.settings import GatewaySettings
from gateway.subscriptions.tables import Subscription

PREFIX = "v1."
_NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """The sealed secret does not open with this key (wrong or rotated key, or a tampered row)."""


def _cipher(settings: GatewaySettings) -> AESGCM:
    # The setting is a passphrase-like string of any length: derive the 256-bit key from it.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"civic gateway webhook secrets v1").derive(
        settings.webhook_secret_key.get_secret_value().encode()
    )
    return AESGCM(key)


def seal(settings: GatewaySettings, subscription_id: str, secret: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(settings).encrypt(nonce, secret.encode(), subscription_id.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def unseal(settings: GatewaySettings, subscription_id: str, stored: str) -> str:
    if not is_sealed(stored):
        raise SecretUnreadable("the secret is not sealed")
    try:
        raw = base64.urlsafe_b64decode(stored.removeprefix(PREFIX))
        return _cipher(settings).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], subscription_id.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable("the secret does not open with CIVIC_WEBHOOK_SECRET_KEY") from exc


async def seal_clear_secrets(service: Service, settings: GatewaySettings) -> int:
    """Seal the secrets of rows written before sealing existed; returns how many. Safe to run on every start."""
    async with service.sessions() as session:
        rows = (await session.exec(select(Subscription).where(col(Subscription.secret).not_like(f"{PREFIX}%")))).all()
        for sub in rows:
            sub.secret = seal(settings, sub.id, sub.secret)
            session.add(sub)
        await session.commit()
        return len(rows)
