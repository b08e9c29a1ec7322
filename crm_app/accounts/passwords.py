"""Passwords: bcrypt hashes, and the rules a new password must follow (length, not the email, not a
commonly used one, at most 72 bytes)."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from pathlib import Path

import bcrypt

from crm_app.platform.config import get_settings
from crm_app.platform.i18n import N_

# bcrypt only looks at the first 72 bytes; longer inputs are refused rather than silently cut.
MAX_PASSWORD_BYTES = 72


def hash_password(password: str, *, rounds: int | None = None) -> str:
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise ValueError("password longer than 72 bytes")
    salt = bcrypt.gensalt(rounds or get_settings().bcrypt_rounds)
    return bcrypt.hashpw(encoded, salt).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    encoded = password.encode()
    if not password_hash or len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode())
    except ValueError:  # a malformed hash in the database is a failed check, not a crash
        return False


_DUMMY_HASH: str | None = None


def burn_time_like_a_real_check(password: str) -> None:
    """Spend the same bcrypt time for unknown emails so timing does not reveal which exist."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    verify_password(password, _DUMMY_HASH)


MIN_PASSWORD_LENGTH = 10
_COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
# Leading and trailing digits and symbols do not make a common word uncommon ("Password2024!").
_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of the most used passwords, lower case."""
    lines = _COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    lowered = password.strip().lower()
    bare = _DECORATION.sub("", lowered)
    return lowered in common_passwords() or (len(bare) >= 4 and bare in common_passwords())


class PasswordRule(StrEnum):
    """The rules a new password must follow, in the order the checklist shows them."""

    LENGTH = "length"
    NOT_EMAIL = "not_email"
    NOT_COMMON = "not_common"
    MAX_BYTES = "max_bytes"

    @property
    def message(self) -> str:
        return PASSWORD_RULE_MESSAGES[self]


PASSWORD_RULE_MESSAGES: dict[PasswordRule, str] = {
    PasswordRule.LENGTH: N_("At least 10 characters."),
    PasswordRule.NOT_EMAIL: N_("Must not contain the email address."),
    PasswordRule.NOT_COMMON: N_("Must not be a commonly used password."),
    PasswordRule.MAX_BYTES: N_("At most 72 bytes."),
}


def password_checklist(password: str, email: str) -> dict[PasswordRule, bool]:
    """Each rule and whether `password` follows it (the live checklist and the final check alike)."""
    local_part = email.split("@", 1)[0].lower()
    return {
        PasswordRule.LENGTH: len(password) >= MIN_PASSWORD_LENGTH,
        PasswordRule.NOT_EMAIL: not (len(local_part) >= 3 and local_part in password.lower()),
        PasswordRule.NOT_COMMON: bool(password) and not is_common_password(password),
        PasswordRule.MAX_BYTES: len(password.encode()) <= MAX_PASSWORD_BYTES,
    }


def password_problems(password: str, email: str) -> list[str]:
    """The password rules that `password` breaks, as message ids (empty when it is acceptable)."""
    return [rule.message for rule, followed in password_checklist(password, email).items() if not followed]
