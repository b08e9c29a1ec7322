"""The security log (DOMAIN.md "Security log")."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime, utcnow, uuid_pk


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SecurityAction(StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_LOCKED = "login.locked"
    LOGOUT = "logout"
    TOKEN_REUSE = "token.reuse_detected"  # noqa: S105 - an action name
    ACTION_REFUSED = "action.refused"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    EXPORT = "export"
    IMPORT = "import"
    TEAM_CREATED = "team.created"
    TEAM_RENAMED = "team.renamed"
    TEAM_ARCHIVED = "team.archived"
    TEAM_RESTORED = "team.restored"
    TEAM_MEMBER_ADDED = "team.member_added"
    TEAM_MEMBER_REMOVED = "team.member_removed"
    TEAM_MANAGER_CHANGED = "team.manager_changed"
    PASSWORD_CHANGED = "password.changed"  # noqa: S105 - an action name
    SESSIONS_ENDED = "sessions.ended"


class SecurityEvent(SQLModel, table=True):
    __tablename__ = "security_events"
    __table_args__ = (
        sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name="severity"),
        sa.Index("ix_security_events_user_at", "user_id", "at"),
        sa.Index("ix_security_events_action_at", "action", "at"),
    )

    id: uuid.UUID = uuid_pk()
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    email: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=60)
    severity: Severity = Field(default=Severity.LOW, sa_type=sa.String(10), nullable=False)
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=300)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


class AuditEntry(SQLModel, table=True):
    """One changed field of a record: who, when, old value → new value (DOMAIN.md audit trail)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_entries_institution_at", "institution_id", "at"),
        sa.Index("ix_audit_entries_entity", "entity_type", "entity_id", "at"),
    )

    id: uuid.UUID = uuid_pk()
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    actor_name: str | None = Field(default=None, max_length=200)  # kept if the user is later removed
    entity_type: str = Field(max_length=30)  # "institution", "contact"
    entity_id: uuid.UUID
    # The institution a change belongs to, so its History tab finds contact changes too.
    institution_id: uuid.UUID | None = Field(default=None, foreign_key="institutions.id", ondelete="CASCADE")
    action: str = Field(max_length=20)  # "create", "update", "archive", "restore", "merge"
    field: str | None = Field(default=None, max_length=60)
    old_value: str | None = Field(default=None, sa_type=sa.Text)
    new_value: str | None = Field(default=None, sa_type=sa.Text)
