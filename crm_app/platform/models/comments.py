"""Comments on records of any area (tasks, meetings, notes, quotes...), with their @mentions."""

from __future__ import annotations

import uuid
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from crm_app.platform.models.base import Tracked, in_check, uuid_pk


class CommentTarget(StrEnum):
    TASK = "task"
    MEETING = "meeting"
    NOTE = "note"
    QUOTE = "quote"
    OPPORTUNITY = "opportunity"


class Comment(Tracked, table=True):
    """A comment on a task, meeting, note, quote or opportunity (`target_id` has no foreign key: five tables);
    `created_by` is the author, `mentions` the ids of the users @mentioned."""

    __tablename__ = "comments"
    __table_args__ = (
        sa.CheckConstraint(in_check("target_kind", CommentTarget), name="target_kind"),
        sa.Index("ix_comments_target", "target_kind", "target_id", "created_at"),
        sa.Index("ix_comments_author", "created_by", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    target_kind: CommentTarget = Field(sa_type=sa.String(20), nullable=False)
    target_id: uuid.UUID
    body: str = Field(sa_type=sa.Text)
    mentions: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
