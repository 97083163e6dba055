"""Personal numbers encrypted at rest (PIPL; R-SEC-2): authenticated encryption for storage and a keyed digest for
lookups.

* **Encryption**: AES-256-GCM (the ``cryptography`` package) with a random 96-bit nonce per value. The stored text
  is ``enc1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``; the value's *kind* (``id_number``, ``phone``…) is
  the associated data, so a ciphertext moved into a column of another kind fails to decrypt. A changed byte, a
  truncated value, an unknown key id or a plain value where a ciphertext belongs is refused
  (``FieldDecryptionError``), never returned.
* **Lookup digest**: HMAC-SHA256 over ``kind ‖ 0x00 ‖ normalised value``, hex. Equality lookups and uniqueness go
  through it (``apps.core.fields``); the ciphertext itself is never compared.
* **Keys**: ``settings.FIELD_ENCRYPTION_KEY`` (the current key: new values are encrypted and digested with it) and
  ``settings.FIELD_ENCRYPTION_OLD_KEYS`` (read only: values and digests written under them are still accepted).
  Both keys of a pair (AES and HMAC) are derived from the one secret with HKDF-SHA256 under separate labels; the
  key id is derived too, so rotating the secret changes it. Rotation: put the new secret in
  ``FIELD_ENCRYPTION_KEY``, the old one in ``FIELD_ENCRYPTION_OLD_KEYS``, run
  ``manage.py rotate_field_encryption`` (re-encrypts and re-digests every row), then drop the old key.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "enc1"
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_KEY_LENGTH = 32
_SALT = b"ddm-field-encryption-v1"


class FieldDecryptionError(ValueError):
    """A stored value that is not a valid ciphertext under a known key: tampered, truncated, of another kind, or
    written with a key that is no longer configured. Never silently returned as data."""


@dataclass(frozen=True)
class FieldKey:
    key_id: str
    aead: AESGCM
    mac_key: bytes


def _derive(secret: str, label: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=label).derive(secret.encode("utf-8"))


def derive_key(secret: str) -> FieldKey:
    """The AES-256-GCM key, the HMAC key and the 8-hex-digit key id for one secret."""
    if not secret or len(secret) < MIN_KEY_LENGTH:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEY must be a secret of at least {MIN_KEY_LENGTH} characters")
    return FieldKey(key_id=_derive(secret, b"key-id", 4).hex(), aead=AESGCM(_derive(secret, b"aes-256-gcm")),
                    mac_key=_derive(secret, b"hmac-sha256-lookup"))


@dataclass(frozen=True)
class Keyring:
    current: FieldKey
    by_id: dict[str, FieldKey]
    all: tuple[FieldKey, ...]  # current first, then the old keys in the order configured


@lru_cache(maxsize=8)
def _keyring_for(current: str, old: tuple[str, ...]) -> Keyring:
    keys = [derive_key(current)] + [derive_key(s) for s in old if s and s != current]
    by_id: dict[str, FieldKey] = {}
    for key in keys:
        by_id.setdefault(key.key_id, key)
    return Keyring(current=keys[0], by_id=by_id, all=tuple(keys))


def keyring() -> Keyring:
    """The configured keys (cached per settings value, so ``override_settings`` in tests takes effect)."""
    current = getattr(settings, "FIELD_ENCRYPTION_KEY", "") or ""
    if not current:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set: personal numbers cannot be stored or read")
    old = getattr(settings, "FIELD_ENCRYPTION_OLD_KEYS", ()) or ()
    if isinstance(old, str):
        old = [s.strip() for s in old.split(",")]
    return _keyring_for(current, tuple(old))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_ciphertext(value: str | None) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX + ":")


def encrypt(plaintext: str, *, kind: str, key: FieldKey | None = None) -> str:
    """``plaintext`` encrypted under the current key (or ``key``), bound to ``kind``."""
    key = key or keyring().current
    nonce = os.urandom(NONCE_BYTES)
    sealed = key.aead.encrypt(nonce, plaintext.encode("utf-8"), kind.encode("ascii"))
    return f"{PREFIX}:{key.key_id}:{_b64encode(nonce + sealed)}"


def key_id_of(stored: str) -> str:
    """The key id a stored ciphertext names (``""`` for anything that is not one)."""
    if not is_ciphertext(stored):
        return ""
    parts = stored.split(":", 2)
    return parts[1] if len(parts) == 3 else ""


def decrypt(stored: str, *, kind: str) -> str:
    """The plaintext of a stored value; ``FieldDecryptionError`` when it is not an authentic ciphertext of ``kind``
    under a configured key."""
    if not is_ciphertext(stored):
        raise FieldDecryptionError(f"{kind}: the stored value is not a ciphertext")
    parts = stored.split(":", 2)
    if len(parts) != 3:
        raise FieldDecryptionError(f"{kind}: malformed ciphertext")
    key = keyring().by_id.get(parts[1])
    if key is None:
        raise FieldDecryptionError(f"{kind}: ciphertext under unknown key id {parts[1]!r}")
    try:
        blob = _b64decode(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise FieldDecryptionError(f"{kind}: malformed ciphertext") from exc
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise FieldDecryptionError(f"{kind}: truncated ciphertext")
    try:
        plain = key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], kind.encode("ascii"))
    except InvalidTag as exc:
        raise FieldDecryptionError(f"{kind}: ciphertext failed authentication (tampered or of another kind)") from exc
    return plain.decode("utf-8")


def digest(value: str, *, kind: str, key: FieldKey | None = None) -> str:
    """The keyed lookup digest (64 hex digits) of an already normalised value under the current key (or ``key``)."""
    key = key or keyring().current
    return hmac.new(key.mac_key, kind.encode("ascii") + b"\x00" + value.encode("utf-8"), hashlib.sha256).hexdigest()


def lookup_digests(value: str, *, kind: str) -> list[str]:
    """The digests ``value`` may be stored under: the current key's first, then each old key's (a row written
    before a rotation is still found until ``rotate_field_encryption`` has re-digested it)."""
    return [digest(value, kind=kind, key=key) for key in keyring().all]
