"""Settings an administrator changes while the application runs: one row per section, its values as
JSON (only what differs from the defaults and the environment is stored)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime, utcnow


class AppSetting(SQLModel, table=True):
    __tablename__ = "app_settings"

    section: str = Field(primary_key=True, max_length=40)
    values: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    version: int = Field(default=1, nullable=False)
