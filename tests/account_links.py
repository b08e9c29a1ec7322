"""Reading invitation and password-reset links back from received emails (tests of accounts)."""

from __future__ import annotations

import re
from email.message import EmailMessage

LINK = re.compile(r"https?://[^/\s]+(/(?:invitation|reset-password|confirm-email)/[A-Za-z0-9_\-]+)")


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "the email has no text part"
    return str(body.get_content())


def link_path(text: str) -> str:
    """The path of the one account link in an email's text: /invitation/, /reset-password/ or /confirm-email/<token>."""
    found = LINK.findall(text)
    assert len(found) == 1, text
    return str(found[0])


def token_of(text: str) -> str:
    return link_path(text).rsplit("/", 1)[1]
