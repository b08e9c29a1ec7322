"""The mail outbox: messages written in the sender's transaction, sent later by the `mail_outbox` job."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk


class MailStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender; claimable again when its lease (next_attempt_at) runs out
    SENT = "sent"
    FAILED = "failed"  # given up: refused for good by the server, or too many attempts


class OutboxMessage(SQLModel, table=True):
    """One email to send; the same row (and Message-ID) across every attempt."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        sa.CheckConstraint(in_check("status", MailStatus), name="status"),
        sa.CheckConstraint("attempts >= 0", name="attempts"),
        sa.Index("ix_mail_outbox_due", "status", "next_attempt_at"),
        sa.Index("ix_mail_outbox_related", "related_kind", "related_id", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    status: MailStatus = Field(default=MailStatus.PENDING, sa_type=sa.String(10), nullable=False)
    to_addresses: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    cc_addresses: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    reply_to: str | None = Field(default=None, max_length=320)
    subject: str = Field(max_length=500)
    text_body: str = Field(sa_type=sa.Text, nullable=False)
    html_body: str | None = Field(default=None, sa_type=sa.Text)
    # Set once at enqueue: a retry after a crash carries the same id, so clients can spot a duplicate.
    message_id: str = Field(max_length=255, unique=True)
    # "invoice:42:reminder:+15": a caller's way to queue something at most once, ever.
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    related_kind: str | None = Field(default=None, max_length=40)
    related_id: uuid.UUID | None = None
    attempts: int = Field(default=0, nullable=False)
    # Pending: when to try next. Sending: the end of the sender's lease (a crashed sender's message
    # becomes due again then).
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    sent_at: datetime | None = timestamp_column()


class OutboxAttachment(SQLModel, table=True):
    """A file sent with an outbox message, kept in the database with it (a PDF as it was when queued)."""

    __tablename__ = "mail_attachments"

    id: uuid.UUID = uuid_pk()
    outbox_id: uuid.UUID = Field(foreign_key="mail_outbox.id", ondelete="CASCADE", index=True)
    position: int = Field(default=0, nullable=False)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    content: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
