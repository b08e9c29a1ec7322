"""Personal API tokens: created by a user for their integrations, shown once, stored hashed, scoped,
expiring, revocable; administrators see and revoke the tokens of the users they manage.

A token is `opx_` followed by 43 URL-safe characters (256 random bits). The prefix makes it easy to
recognise (secret scanners, logs, a user's own notes). Only its SHA-256 is stored, as for the emailed
account links: a leaked database gives no usable token. SHA-256 rather than bcrypt because the token
is checked on every API request, and bcrypt's deliberate slowness (about 250 ms at cost 12) protects
low-entropy passwords against guessing; a random 256-bit secret cannot be guessed however fast the
hash, and one SHA-256 is a microsecond. The hash is also the lookup key (unique index).

A request made with a token acts as its owner (their role and rights, checked by the services), further
limited by the token's scopes (crm_app/integrations/scopes.py). Revocation, expiry and the owner's
deactivation are read from the database at every request, so they take effect at once on every process.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from anyio import to_thread
from sqlmodel import Session, col, select

from crm_app.accounts import administration, tokens
from crm_app.accounts.models import ApiToken
from crm_app.integrations.scopes import TokenScope, normalize
from crm_app.platform import lookups, security_log
from crm_app.platform import settings as app_settings
from crm_app.platform.db import autocommit_connection, unit_of_work
from crm_app.platform.errors import Forbidden, NotAuthenticated, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import Severity
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import User
from crm_app.platform.permissions import Actor, actor_from_row, can
from crm_app.platform.security_log import ClientInfo

TOKEN_PREFIX = "opx_"  # noqa: S105 - the recognisable start of every token, not a secret
SHOWN_PREFIX_LENGTH = 12  # "opx_" and 8 characters of the secret: enough to tell tokens apart
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=365)
LAST_USE_RESOLUTION = timedelta(minutes=1)
NAME_MAX_LENGTH = 100


class TokenAction(StrEnum):
    """Security-log actions of API tokens (labels in crm_app/platform/security_log.py)."""

    CREATED = "api_token.created"
    REVOKED = "api_token.revoked"
    REFUSED = "api_token.refused"


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as its owner (or an administrator) sees it: never the token itself."""

    id: uuid.UUID
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: `token` is shown this once and never again."""

    token: str
    row: TokenRow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _row(token: ApiToken) -> TokenRow:
    return TokenRow(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=tuple(token.scopes),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


def _refuse_token_caller(actor: Actor) -> None:
    """Token management needs a real login: a token must not mint, list or revoke tokens (a leaked
    one would otherwise outlive its own revocation)."""
    if actor.uses_api_token:
        raise Forbidden("api_token.manage", N_("API tokens can only be managed after signing in with a password."))


def available_scopes(actor: Actor) -> tuple[TokenScope, ...]:
    """The scopes the actor may put on a token: `admin` only for a role that administers something
    (a token never does more than its owner may anyway)."""
    administers = can(actor, "user.view")
    return tuple(scope for scope in TokenScope if scope is not TokenScope.ADMIN or administers)


def expiry_bounds(session: Session) -> tuple[date, date, date]:
    """(first allowed day, default day, last allowed day) of a token's expiry, in the organisation's
    time zone: from tomorrow to one year from today, 90 days by default."""
    today = utcnow().astimezone(ZoneInfo(app_settings.timezone(session))).date()
    return today + timedelta(days=1), today + DEFAULT_LIFETIME, today + MAX_LIFETIME


def _end_of(day: date, zone: str) -> datetime:
    """The moment a token expiring on `day` stops working: the end of that day where the CRM is."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=ZoneInfo(zone))


def _checked(
    session: Session, actor: Actor, name: str, scopes: Iterable[str], expires_on: date | None
) -> tuple[str, tuple[TokenScope, ...], date]:
    errors: dict[str, str] = {}
    name = " ".join(name.split())
    if not name:
        errors["name"] = N_("Give the token a name (what uses it).")
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = N_("A token's name has at most 100 characters.")
    else:
        taken = session.exec(
            select(ApiToken.id).where(
                ApiToken.user_id == actor.id,
                ApiToken.name == name,
                col(ApiToken.revoked_at).is_(None),
                ApiToken.expires_at > utcnow(),
            )
        ).first()
        if taken is not None:
            errors["name"] = N_("You already have a token with this name.")
    chosen: tuple[TokenScope, ...] = ()
    try:
        chosen = normalize(scopes)
    except ValueError:
        errors["scopes"] = N_("This scope does not exist.")
    else:
        if not chosen:
            errors["scopes"] = N_("Choose at least one scope.")
        elif not set(chosen) <= set(available_scopes(actor)):
            errors["scopes"] = N_("Your role administers nothing: the admin scope is not available to you.")
    first, default, last = expiry_bounds(session)
    day = expires_on or default
    if day < first:
        errors["expires_on"] = N_("The expiry date must be after today.")
    elif day > last:
        errors["expires_on"] = N_("A token lasts at most one year.")
    if errors:
        raise ValidationFailed(errors)
    return name, chosen, day


def create_token(
    session: Session,
    actor: Actor,
    *,
    name: str,
    scopes: Iterable[str],
    expires_on: date | None = None,
    client: ClientInfo | None = None,
) -> NewToken:
    """Create a token for the actor; the returned `token` is the only time it can be read."""
    _refuse_token_caller(actor)
    name, chosen, day = _checked(session, actor, name, scopes, expires_on)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=actor.id,
        name=name,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        token_hash=hash_token(secret),
        scopes=[scope.value for scope in chosen],
        expires_at=_end_of(day, app_settings.timezone(session)),
    )
    session.add(token)
    session.flush()
    security_log.record(
        session,
        TokenAction.CREATED,
        user_id=actor.id,
        email=actor.email,
        client=client,
        api_token=f"{token.name} ({token.prefix}…)",
        scopes=token.scopes,
        expires_at=day.isoformat(),
    )
    return NewToken(token=secret, row=_row(token))


def _listed(session: Session, user_id: uuid.UUID) -> list[TokenRow]:
    """A user's tokens not revoked (expired ones included, marked so), the newest first."""
    found = session.exec(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
        .order_by(col(ApiToken.created_at).desc())
    ).all()
    return [_row(token) for token in found]


def list_tokens(session: Session, actor: Actor) -> list[TokenRow]:
    """The actor's own tokens."""
    _refuse_token_caller(actor)
    return _listed(session, actor.id)


def _revoke(session: Session, actor: Actor, token: ApiToken, client: ClientInfo | None, owner: str) -> TokenRow:
    token.revoked_at = utcnow()
    token.revoked_by = actor.id if actor.id.int else None
    session.add(token)
    security_log.record(
        session,
        TokenAction.REVOKED,
        severity=Severity.MEDIUM,
        user_id=actor.id if actor.id.int else None,
        email=actor.email,
        client=client,
        api_token=f"{token.name} ({token.prefix}…)",
        target=owner if token.user_id != actor.id else None,
    )
    session.flush()
    return _row(token)


def _live_token_of(session: Session, user_id: uuid.UUID, token_id: uuid.UUID) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        raise NotFound(N_("This API token does not exist or was already revoked."))
    return token


def revoke_token(session: Session, actor: Actor, token_id: uuid.UUID, *, client: ClientInfo | None = None) -> TokenRow:
    """Revoke one of the actor's tokens: its next request is refused, on every process."""
    _refuse_token_caller(actor)
    return _revoke(session, actor, _live_token_of(session, actor.id, token_id), client, actor.email)


def _managed_user(session: Session, actor: Actor, user_id: uuid.UUID) -> User:
    """A user whose tokens the actor administers (DOMAIN.md roles: admins everyone below them, team
    administrators their team's users below them; one's own tokens are on one's profile)."""
    _refuse_token_caller(actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    if not administration.can_administer(actor, user):
        raise Forbidden("user.administer")
    return user


def list_user_tokens(session: Session, actor: Actor, user_id: uuid.UUID) -> list[TokenRow]:
    """The tokens of a user the actor administers."""
    _managed_user(session, actor, user_id)
    return _listed(session, user_id)


def revoke_user_token(
    session: Session, actor: Actor, user_id: uuid.UUID, token_id: uuid.UUID, *, client: ClientInfo | None = None
) -> TokenRow:
    """Revoke a token of a user the actor administers."""
    user = _managed_user(session, actor, user_id)
    return _revoke(session, actor, _live_token_of(session, user_id, token_id), client, user.email)


# --- Authentication (every request made with a token) ------------------------------------------------

_T, _U = table_of(ApiToken).c, table_of(User).c
_TOKEN_OF_HASH = (
    sa.select(
        _T.id,
        _T.user_id,
        _T.prefix,
        _T.name,
        _T.scopes,
        _T.expires_at,
        _T.revoked_at,
        _T.last_used_at,
        _U.email,
        _U.full_name,
        _U.role,
        _U.team_id,
        _U.language,
        _U.theme,
        _U.is_active,
    )
    .join_from(table_of(ApiToken), table_of(User), _U.id == _T.user_id)
    .where(_T.token_hash == sa.bindparam("token_hash"))
)
_TOUCH = sa.update(table_of(ApiToken)).where(_T.id == sa.bindparam("token_id")).values(last_used_at=sa.bindparam("now"))
# On PostgreSQL a concurrent request of the same token skips the row instead of waiting for the lock (a
# unit of work revoking or renaming the token holds it until it ends).
_TOUCH_UNLESS_LOCKED = (
    sa.update(table_of(ApiToken))
    .where(
        _T.id
        == sa.select(_T.id).where(_T.id == sa.bindparam("token_id")).with_for_update(skip_locked=True).scalar_subquery()
    )
    .values(last_used_at=sa.bindparam("now"))
)

#: Why a token is refused → the answer's code and message.
_REFUSALS: dict[str, tuple[str, str]] = {
    "unknown": ("invalid_token", N_("This API token is not valid.")),
    "revoked": ("token_revoked", N_("This API token was revoked.")),
    "expired": ("token_expired", N_("This API token has expired. Create a new one on your profile page.")),
    "owner_deactivated": ("token_owner_deactivated", N_("The account this API token belongs to is deactivated.")),
}


def _refuse(reason: str, client: ClientInfo, row: Any = None) -> NotAuthenticated:
    """The 401 of a refused token, written to the security log in its own unit of work."""
    with unit_of_work() as log_session:
        security_log.record(
            log_session,
            TokenAction.REFUSED,
            severity=Severity.MEDIUM,
            user_id=getattr(row, "user_id", None),
            email=getattr(row, "email", None),
            client=client,
            reason=reason,
            api_token=f"{row.name} ({row.prefix}…)" if row is not None else None,
        )
    code, message = _REFUSALS[reason]
    error = NotAuthenticated(message)
    error.code = code
    return error


def authenticate(token: str, client: ClientInfo | None = None) -> Actor:
    """The owner of a live token, limited by its scopes; NotAuthenticated (401) when the token is
    unknown, revoked, expired or its owner deactivated. One indexed read before the request's unit of
    work begins (`db.autocommit_connection`); the last use is written at most once a minute per token."""
    now = utcnow()
    with autocommit_connection() as connection:
        row: Any = connection.execute(_TOKEN_OF_HASH, {"token_hash": hash_token(token)}).first()
        refusal = _refusal(row, now)
        if refusal is None and (row.last_used_at is None or now - row.last_used_at > LAST_USE_RESOLUTION):
            touch = _TOUCH_UNLESS_LOCKED if connection.dialect.name == "postgresql" else _TOUCH
            connection.execute(touch, {"token_id": row.id, "now": now})
    # Logged once the connection is given back: on SQLite it is a transaction holding the write lock.
    if refusal is not None:
        raise _refuse(refusal, client or ClientInfo(), row)
    return actor_from_row(row, token_id=row.id, scopes=frozenset(row.scopes))


def _refusal(row: Any, now: datetime) -> str | None:
    """Why the token of `row` (None: no such token) is refused, or None."""
    if row is None:
        return "unknown"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if not row.is_active:
        return "owner_deactivated"
    return None


async def awaited_authenticate(token: str, client: ClientInfo | None = None) -> Actor:
    """`authenticate` awaited on the event loop (`lookups`: one round trip, no thread), or in the thread
    pool where the loop has no look-up connections (SQLite). A refusal is logged in the thread pool."""
    pool = lookups.here()
    if pool is None:
        return await to_thread.run_sync(authenticate, token, client)
    now = utcnow()
    row: Any = await pool.first(_TOKEN_OF_HASH, {"token_hash": hash_token(token)})
    refusal = _refusal(row, now)
    if refusal is not None:
        raise await to_thread.run_sync(_refuse, refusal, client or ClientInfo(), row)
    if row.last_used_at is None or now - row.last_used_at > LAST_USE_RESOLUTION:
        await pool.execute(_TOUCH_UNLESS_LOCKED, {"token_id": row.id, "now": now})
    return actor_from_row(row, token_id=row.id, scopes=frozenset(row.scopes))


async def authenticate_bearer(credential: str, client: ClientInfo) -> Actor:
    """The REST API's one authenticator, awaited before the route runs: a personal API token (`opx_...`)
    or a login's JWT access token."""
    if credential.startswith(TOKEN_PREFIX):
        return await awaited_authenticate(credential, client)
    return await tokens.awaited_access_token_actor(credential)
