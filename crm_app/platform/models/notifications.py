"""Notifications stored per user (read or unread) (DOMAIN.md "Notifications")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime, timestamp_column, utcnow, uuid_pk

_UNREAD = sa.text("read_at IS NULL")


class Notification(SQLModel, table=True):
    """`kind` names the message (its title is translated when shown, filled with `params`);
    `record_kind` + `record_id` name the record it is about and `link` the page that shows it."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_recipient", "recipient_id", "created_at", "id"),
        # The bell: unread count and unread list of one user, from a small index.
        sa.Index(
            "ix_notifications_unread", "recipient_id", "created_at", postgresql_where=_UNREAD, sqlite_where=_UNREAD
        ),
        sa.Index("ix_notifications_created_at", "created_at"),  # retention
    )

    id: uuid.UUID = uuid_pk()
    recipient_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    kind: str = Field(max_length=40)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    record_kind: str | None = Field(default=None, max_length=20)
    record_id: uuid.UUID | None = None
    link: str | None = Field(default=None, max_length=300)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    read_at: datetime | None = timestamp_column()
