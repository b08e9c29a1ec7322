"""Users and teams: the people every area names (owners, assignees, authors, recipients). Their
sessions, tokens and login attempts are the accounts area's (`crm_app.accounts.models`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from crm_app.platform.models.base import Tracked, in_check, timestamp_column, uuid_pk


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


class Team(Tracked, table=True):
    __tablename__ = "teams"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=120, unique=True)
    # teams ↔ users reference each other: this side is added after both tables exist.
    created_by: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("users.id", ondelete="SET NULL", use_alter=True), nullable=True),
    )
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
