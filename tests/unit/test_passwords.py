"""Password hashing with bcrypt."""

from __future__ import annotations

import pytest

from crm_app.accounts.passwords import hash_password, verify_password


def test_default_cost_is_twelve(settings_override) -> None:
    settings_override(bcrypt_rounds="12")
    hashed = hash_password("a long enough password")
    assert hashed.startswith("$2b$12$")
    assert verify_password("a long enough password", hashed)


def test_wrong_password_and_broken_hash_fail() -> None:
    hashed = hash_password("first password")
    assert not verify_password("second password", hashed)
    assert not verify_password("first password", None)
    assert not verify_password("first password", "not-a-bcrypt-hash")


def test_same_password_gets_a_new_salt_each_time() -> None:
    assert hash_password("same password!") != hash_password("same password!")


def test_passwords_beyond_bcrypt_limit_are_refused_not_truncated() -> None:
    long_password = "é" * 40  # 80 bytes
    with pytest.raises(ValueError, match="72 bytes"):
        hash_password(long_password)
    assert not verify_password(long_password, hash_password("é" * 36))
