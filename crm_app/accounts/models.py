"""Sessions (web and API), refresh tokens, login attempts, and the single-use, expiring account tokens
(invitations, password resets, email changes) with the account actions written to the security log."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk


class SessionKind(StrEnum):
    WEB = "web"
    API = "api"


class TokenPurpose(StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name, not a secret
    EMAIL_CHANGE = "email_change"


class AccountAction(StrEnum):
    """Security-log actions of account administration and self-service (strings in `security_events`)."""

    USER_INVITED = "user.invited"
    INVITATION_RESENT = "user.invitation_resent"
    INVITATION_REVOKED = "user.invitation_revoked"
    INVITATION_ACCEPTED = "user.invitation_accepted"
    ROLE_CHANGED = "user.role_changed"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    RESET_REQUESTED = "password.reset_requested"
    RESET_LINK_SENT = "password.reset_link_sent"
    LINK_SHOWN = "account.link_shown"  # an invitation or reset link shown to an administrator (no SMTP)
    PASSWORD_RESET = "password.reset"  # noqa: S105 - an action name
    EMAIL_CHANGE_REQUESTED = "email.change_requested"
    EMAIL_CHANGED = "email.changed"
    TOKEN_REFUSED = "account_token.refused"  # noqa: S105 - an action name


class AccountToken(SQLModel, table=True):
    """A link sent by email. Only the SHA-256 of the random token is stored: a database leak gives
    no usable link. Spent (`used_at`) or withdrawn (`revoked_at`) tokens stay for the record."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        sa.CheckConstraint(in_check("purpose", TokenPurpose), name="purpose"),
        sa.Index("ix_account_tokens_user_purpose", "user_id", "purpose", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    purpose: TokenPurpose = Field(sa_type=sa.String(20), nullable=False)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = timestamp_column()
    revoked_at: datetime | None = timestamp_column()
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    #: The address an email-change link moves the account to (only for that purpose).
    new_email: str | None = Field(default=None, max_length=254)


class AuthSession(SQLModel, table=True):
    """A signed-in browser or an API token family: revocable, shared by every instance of the app."""

    __tablename__ = "auth_sessions"
    __table_args__ = (sa.CheckConstraint(in_check("kind", SessionKind), name="kind"),)

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    kind: SessionKind = Field(sa_type=sa.String(10), nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = timestamp_column()
    remember: bool = Field(default=False, nullable=False)
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=300)


class RefreshToken(SQLModel, table=True):
    """One issued refresh token; `used_at` set on rotation so a second use is detected as reuse."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = uuid_pk()  # the token's jti
    session_id: uuid.UUID = Field(foreign_key="auth_sessions.id", ondelete="CASCADE", index=True)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = timestamp_column()


class LoginAttempt(SQLModel, table=True):
    """Every login try, counted per account and per IP for the lockout."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_email_at", "email", "at"),
        sa.Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: uuid.UUID = uuid_pk()
    email: str = Field(max_length=254)
    ip: str | None = Field(default=None, max_length=45)
    succeeded: bool = Field(nullable=False)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ListColumns(SQLModel, table=True):
    """The columns a user chose to see in one list of the screens ("quotes", "institutions"...): the
    choice follows them from browser to browser. No row: the list's default columns."""

    __tablename__ = "list_columns"

    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", primary_key=True)
    list_key: str = Field(max_length=40, primary_key=True)
    visible: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiToken(SQLModel, table=True):
    """A personal API token (crm_app/integrations/api_tokens.py): it acts as its owner, limited by its
    scopes, until it expires or is revoked. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (sa.Index("ix_api_tokens_user_created", "user_id", "created_at"),)

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    #: The token's first characters ("opx_" and 8 more), shown in lists so that its owner recognises it.
    prefix: str = Field(max_length=12)
    token_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = timestamp_column()
    revoked_at: datetime | None = timestamp_column()
    revoked_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
