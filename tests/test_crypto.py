"""Secrets at rest: the masked Secret type, credential encryption, key digests and key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.crypto import KeyHasher, Secret, Vault, hash_password, load_or_create_encryption_keys, load_or_create_secret_key, verify_password
from core.exceptions import ConfigError


def test_secret_repr_is_masked() -> None:
    secret = Secret("ashby-key-value")
    assert "ashby-key-value" not in repr(secret)
    assert "ashby-key-value" not in str(secret)
    assert "ashby-key-value" not in f"{secret} {[secret]}"
    assert secret.reveal() == "ashby-key-value"


def test_vault_round_trip_and_old_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Vault((old,)).encrypt(Secret("value"))
    assert "value" not in token
    rotated = Vault((new, old))
    assert rotated.decrypt(token).reveal() == "value"
    assert Vault((new,)).decrypt(rotated.rotate(token)).reveal() == "value"


def test_vault_wrong_key_says_what_to_do() -> None:
    token = Vault((Fernet.generate_key().decode(),)).encrypt(Secret("value"))
    with pytest.raises(ConfigError, match="add the key it was encrypted with to LANGOS_ENCRYPTION_KEYS"):
        Vault((Fernet.generate_key().decode(),)).decrypt(token)


def test_vault_invalid_key_is_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        Vault(("short",))


def test_key_files_are_private_and_stable(tmp_path: Path) -> None:
    keys = load_or_create_encryption_keys(None, tmp_path)
    secret = load_or_create_secret_key(None, tmp_path)
    for name in ("encryption.keys", "secret.key"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    assert load_or_create_encryption_keys(None, tmp_path) == keys
    assert load_or_create_secret_key(None, tmp_path) == secret


def test_key_digest_depends_on_server_secret() -> None:
    hasher = KeyHasher("server-secret")
    key = hasher.generate("ats").reveal()
    assert key.startswith("lgs_ats_")
    assert len(key) > 40
    assert hasher.digest(key) == KeyHasher("server-secret").digest(key)
    assert hasher.digest(key) != KeyHasher("other-secret").digest(key)
    assert KeyHasher.prefix(key) == key[:14]


def test_password_hash_verifies() -> None:
    hashed = hash_password("correct-horse")
    assert "correct-horse" not in hashed
    assert verify_password(hashed, "correct-horse")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not-a-hash", "correct-horse")
