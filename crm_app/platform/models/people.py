"""Users, teams, sessions (web and API) and login attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import Tracked, UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk


class Role(StrEnum):
    USER = "user"
    MANAGER = "manager"
    TEAM_ADMIN = "team_admin"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Theme(StrEnum):
    LIGHT = "light"
    DARK = "dark"
    AUTO = "auto"


class SessionKind(StrEnum):
    WEB = "web"
    API = "api"



class Team(Tracked, table=True):
    __tablename__ = "teams"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=120, unique=True)
    # teams ↔ users reference each other: this side is added after both tables exist.
    created_by: uuid.UUID | None = Field(default=None, sa_column=sa.Column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="SET NULL", use_alter=True), nullable=True))
    is_archived: bool = Field(default=False, nullable=False)


class User(Tracked, table=True):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(in_check("role", Role), name="role"),
        sa.CheckConstraint(in_check("theme", Theme), name="theme"),
        sa.CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: uuid.UUID = uuid_pk()
    email: str = Field(max_length=254, unique=True)
    full_name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=100)
    role: Role = Field(default=Role.USER, sa_type=sa.String(20), nullable=False)
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL", index=True)
    is_active: bool = Field(default=True, nullable=False)
    language: str | None = Field(default=None, max_length=5)
    theme: Theme = Field(default=Theme.AUTO, sa_type=sa.String(10), nullable=False)
    timezone: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=30)
    last_login_at: datetime | None = timestamp_column()


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
