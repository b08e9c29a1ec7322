"""Webhooks and their durable delivery queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import Tracked, UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk


class Webhook(Tracked, table=True):
    """An endpoint told of public events: a POST of each event's body, signed with its secret."""

    __tablename__ = "webhooks"
    __table_args__ = (sa.CheckConstraint("consecutive_failures >= 0", name="consecutive_failures"),)

    id: uuid.UUID = uuid_pk()
    url: str = Field(max_length=2000)
    #: The public event names it receives; empty with `all_events`.
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    all_events: bool = Field(default=False, nullable=False)
    description: str = Field(default="", max_length=500)
    is_active: bool = Field(default=True, nullable=False)
    #: The HMAC key: kept readable (it signs every request), shown once at creation and each rotation.
    secret: str = Field(max_length=100)
    consecutive_failures: int = Field(default=0, nullable=False)
    #: Why the CRM disabled it on its own (too many failures in a row); None when enabled or disabled by hand.
    disabled_reason: str | None = Field(default=None, max_length=200)
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender; claimable again when its lease (next_attempt_at) runs out
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # given up: every attempt failed, or the webhook was disabled


class WebhookDelivery(SQLModel, table=True):
    """One event body for one webhook, written in the event's transaction; the same row (and
    X-OPEx-Delivery id) across its attempts. The last attempt's outcome is kept on it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.CheckConstraint(in_check("status", DeliveryStatus), name="status"),
        sa.CheckConstraint("attempts >= 0", name="attempts"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_log", "webhook_id", "created_at"),
        sa.Index("ix_webhook_deliveries_created_at", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    webhook_id: uuid.UUID = Field(foreign_key="webhooks.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    event: str = Field(max_length=80)
    event_id: uuid.UUID
    #: The exact bytes sent (and signed), UTF-8 JSON: a retry or a redelivery sends the same body.
    body: str = Field(sa_type=sa.Text, nullable=False)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=sa.String(10), nullable=False)
    attempts: int = Field(default=0, nullable=False)
    #: Pending: when to try next. Sending: the end of the sender's lease.
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_attempt_at: datetime | None = timestamp_column()
    status_code: int | None = None
    duration_ms: int | None = None
    #: The first kilobyte of the receiver's answer.
    response_excerpt: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = timestamp_column()
    #: The delivery this one sends again ("redeliver"), if any.
    redelivery_of: uuid.UUID | None = None
