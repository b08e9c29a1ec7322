"""The state of each plugin found (crm_app/integrations/plugins.py): one row per plugin name, kept
across restarts: whether it is enabled, its settings, how many events its handlers took and failed,
and its last errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime, timestamp_column, utcnow


class PluginState(SQLModel, table=True):
    __tablename__ = "plugins"
    __table_args__ = (
        sa.CheckConstraint("handled_count >= 0 AND failed_count >= 0 AND consecutive_failures >= 0", name="counts"),
    )

    name: str = Field(primary_key=True, max_length=100)
    is_enabled: bool = Field(default=False, nullable=False)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    handled_count: int = Field(default=0, nullable=False)  # handler calls that returned in time
    failed_count: int = Field(default=0, nullable=False)  # handler calls that raised or ran out of time
    consecutive_failures: int = Field(default=0, nullable=False)
    #: the last few errors, newest first: [{"at": ISO 8601, "event": name, "message": text}]
    last_errors: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    #: why it was disabled by the CRM itself (repeated failures), None when an administrator chose
    disabled_reason: str | None = Field(default=None, max_length=300)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_event_at: datetime | None = timestamp_column()
    version: int = Field(default=1, nullable=False)
