"""The REST API's request counters: one row per client (address or bearer token) and minute, shared by
every process of the application (crm_app/platform/rate_limit.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime


class RateLimitCounter(SQLModel, table=True):
    """Requests of `bucket` in the minute starting at `window_start`. No index but the primary key:
    every request updates a row, and an index on `hits` would cost each update (PostgreSQL keeps
    them HOT updates). The purge job reads the few rows left of past minutes. UNLOGGED on PostgreSQL
    (migration 0026; a model cannot say so for one dialect only)."""

    __tablename__ = "rate_limit_counters"

    bucket: str = Field(primary_key=True, max_length=80)  # "ip:<address>" or "token:<sha-256 of the token>"
    window_start: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    hits: int = Field(nullable=False)
