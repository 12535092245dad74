"""Secrets at rest: credential encryption, API key hashing and password hashing.

- ATS credentials are encrypted with Fernet (AES-128-CBC plus HMAC-SHA256) through
  ``MultiFernet``: the first key encrypts, every listed key decrypts, so an old key can
  stay listed while ``langos rotate-encryption-key`` re-encrypts the stored credentials.
- Issued API keys are stored as HMAC-SHA256 digests keyed with the server secret, so a
  leaked database alone does not let anyone test guesses offline.
- Admin passwords are hashed with Argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

import argon2
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .exceptions import ConfigError

logger = logging.getLogger(__name__)

API_KEY_BYTES = 32
PREFIX_LENGTH = 14


class Secret:
    """A string whose ``repr`` and ``str`` are masked, so it cannot leak into logs by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


def _write_private_file(path: Path, content: str) -> None:
    """Create ``path`` readable only by its owner; never overwrite an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


def load_or_create_encryption_keys(configured: tuple[str, ...] | None, data_dir: Path) -> tuple[str, ...]:
    """Return the configured Fernet keys, or those in ``data_dir/encryption.keys`` (created once)."""
    if configured:
        return configured

    path = data_dir / "encryption.keys"
    if not path.exists():
        _write_private_file(path, Fernet.generate_key().decode() + "\n")
        logger.info("generated a new encryption key file at %s", path)
    keys = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not keys:
        raise ConfigError(f"{path} contains no key; delete it to generate one, or set LANGOS_ENCRYPTION_KEYS")
    return keys


def load_or_create_secret_key(configured: str | None, data_dir: Path) -> str:
    """Return the server secret used to sign sessions and hash API keys."""
    if configured:
        return configured

    path = data_dir / "secret.key"
    if not path.exists():
        _write_private_file(path, secrets.token_urlsafe(48) + "\n")
        logger.info("generated a new server secret file at %s", path)
    return path.read_text(encoding="utf-8").strip()


class Vault:
    """Encrypts and decrypts credentials with a list of Fernet keys, newest first."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError):
            raise ConfigError(
                "an encryption key is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with `langos generate-encryption-key`"
            ) from None

    def encrypt(self, secret: Secret) -> str:
        return self._fernet.encrypt(secret.reveal().encode()).decode()

    def decrypt(self, token: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken:
            raise ConfigError(
                "a stored credential cannot be decrypted with the configured encryption keys; "
                "add the key it was encrypted with to LANGOS_ENCRYPTION_KEYS"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` with the newest key."""
        return self._fernet.rotate(token.encode()).decode()


class KeyHasher:
    """Generates API keys and derives their stored digests."""

    def __init__(self, secret_key: str) -> None:
        self._secret = hashlib.sha256(b"langos-api-key:" + secret_key.encode()).digest()

    def generate(self, kind: str) -> Secret:
        """Return a new random key such as ``lgs_ats_...``; ``kind`` names its purpose."""
        return Secret(f"lgs_{kind}_{secrets.token_urlsafe(API_KEY_BYTES)}")

    def digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def prefix(key: str) -> str:
        """Return the visible part of a key, enough for an admin to tell keys apart."""
        return key[:PREFIX_LENGTH]


_password_hasher = argon2.PasswordHasher()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (argon2.exceptions.VerifyMismatchError, argon2.exceptions.InvalidHashError):
        return False


def hash_token(token: str) -> str:
    """Return the SHA-256 digest of a high-entropy token such as a candidate link."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)
