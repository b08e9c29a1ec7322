"""The last run of each scheduled job, whichever instance ran it (for `opex-crm jobs list` and
/api/health, which no single process's memory could answer)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import UTCDateTime


class JobRun(SQLModel, table=True):
    __tablename__ = "job_runs"

    name: str = Field(primary_key=True, max_length=50)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    finished_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    outcome: str = Field(sa_type=sa.String(300), nullable=False)  # "ok", "failed: …" or "error: …"
    instance: str = Field(sa_type=sa.String(120), nullable=False)  # host and process that ran it
