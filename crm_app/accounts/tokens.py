"""REST bearer tokens: short access tokens, rotated refresh tokens with reuse detection.

A token family is an `AuthSession` of kind `api`: revoking it (logout, reuse detected,
deactivation) makes every access and refresh token of the family fail at once.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from sqlmodel import Session

from crm_app.accounts import auth
from crm_app.accounts.models import AuthSession, RefreshToken, SessionKind
from crm_app.platform import security_log
from crm_app.platform.config import get_settings
from crm_app.platform.errors import NotAuthenticated
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import SecurityAction, Severity
from crm_app.platform.models.base import utcnow
from crm_app.platform.permissions import Actor
from crm_app.platform.security_log import ClientInfo

ALGORITHM = "HS256"
INVALID_TOKEN = N_("Invalid or expired token.")
ISSUER = "opex-crm"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


def issue_pair(session: Session, auth_session: AuthSession) -> TokenPair:
    """A new access token and a new refresh token in the given family."""
    settings = get_settings()
    now = utcnow()
    refresh = RefreshToken(
        session_id=auth_session.id, expires_at=now + timedelta(seconds=settings.jwt_refresh_expires_in)
    )
    session.add(refresh)
    base = {"sub": str(auth_session.user_id), "sid": str(auth_session.id), "iss": ISSUER, "iat": now}
    access_token = jwt.encode(
        {**base, "typ": "access", "jti": str(uuid.uuid4()), "exp": now + timedelta(seconds=settings.jwt_expires_in)},
        settings.jwt_secret,
        algorithm=ALGORITHM,
    )
    refresh_token = jwt.encode(
        {**base, "typ": "refresh", "jti": str(refresh.id), "exp": refresh.expires_at},
        settings.jwt_refresh_secret,
        algorithm=ALGORITHM,
    )
    return TokenPair(access_token=access_token, refresh_token=refresh_token, expires_in=settings.jwt_expires_in)


def _decode(token: str, secret: str, expected_type: str, *, verify_exp: bool = True) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "sid", "jti", "typ"], "verify_exp": verify_exp},
        )
    except jwt.PyJWTError:
        raise NotAuthenticated(INVALID_TOKEN) from None
    if claims.get("typ") != expected_type:
        raise NotAuthenticated(INVALID_TOKEN)
    return claims


@functools.lru_cache(maxsize=4096)
def _signed_access_session(token: str, secret: str) -> tuple[str, float]:
    """(session id, expiry as a POSIX time) of an access token whose signature, issuer and type check.

    A client sends the same access token with every request for its whole life (15 minutes by default),
    and checking it costs a tenth of a short request's CPU (PyJWT checks the base64 character by
    character, then the HMAC and the JSON): so what a check found is kept, per token and secret, for the
    tokens that pass it (a refused token raises, and nothing is kept). The expiry is checked by the caller
    at every use; the session, which revocation ends, is read at every request."""
    claims = _decode(token, secret, "access", verify_exp=False)
    return str(claims["sid"]), float(claims["exp"])


def authenticate_access_token(token: str) -> Actor:
    """The actor of a valid access token whose family and user are still active (read outside the
    request's unit of work: `auth.session_actor`)."""
    return auth.session_actor(_live_session_id(token))


async def awaited_access_token_actor(token: str) -> Actor:
    """`authenticate_access_token` awaited on the event loop (`auth.awaited_session_actor`)."""
    return await auth.awaited_session_actor(_live_session_id(token))


def _live_session_id(token: str) -> str:
    """The session of an access token whose signature checks and which has not expired."""
    session_id, expires = _signed_access_session(token, get_settings().jwt_secret)
    if expires <= time.time():  # as PyJWT's own check: expired at the second written in `exp`
        raise NotAuthenticated(INVALID_TOKEN)
    return session_id


def rotate(session: Session, refresh_token: str, *, client: ClientInfo) -> TokenPair:
    """Exchange a refresh token for a new pair. A token used twice revokes its whole family."""
    claims = _decode(refresh_token, get_settings().jwt_refresh_secret, "refresh")
    try:
        stored = session.get(RefreshToken, uuid.UUID(claims["jti"]))
    except ValueError:
        stored = None
    if stored is None:
        raise NotAuthenticated(INVALID_TOKEN)
    auth_session = session.get(AuthSession, stored.session_id)
    if auth_session is None:
        raise NotAuthenticated(INVALID_TOKEN)
    if stored.used_at is not None:
        if auth_session.revoked_at is None:
            auth_session.revoked_at = utcnow()
            security_log.record(
                session,
                SecurityAction.TOKEN_REUSE,
                severity=Severity.HIGH,
                user_id=auth_session.user_id,
                client=client,
                session_id=str(auth_session.id),
            )
        raise NotAuthenticated(INVALID_TOKEN)
    auth.resolve_session(session, auth_session.id)  # revoked, expired or deactivated → 401
    stored.used_at = utcnow()
    return issue_pair(session, auth_session)


def login(session: Session, email: str, password: str, *, client: ClientInfo) -> TokenPair | auth.LoginResult:
    """API login: a token pair, or the failed LoginResult (committed so the failure counts)."""
    result = auth.login(session, email, password, client=client, kind=SessionKind.API)
    if not result.succeeded:
        return result
    assert result.session_id is not None
    auth_session = session.get(AuthSession, result.session_id)
    assert auth_session is not None
    return issue_pair(session, auth_session)
