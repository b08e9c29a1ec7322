"""The dashboard's per-day totals on PostgreSQL (see `crm_app.analytics.rollup`).

`analytics_daily` holds signed deltas: one row per (metric, local day, scope, subject) and statement
that changed it, summed when read and merged by the `analytics_compact` job. `scope` is `all` (subject
the nil UUID), `team` (subject the team) or `own` (subject the salesperson): a dashboard of any scope
reads only its own rows. `analytics_first_invoices` keeps each client's first issued invoice date, from
which the "new clients" totals move when an invoice is issued, cancelled or redated.

Both are written only by the database's triggers (migration 0021) and by `analytics_rebuild()`.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.sales.models.quotes import AMOUNT


class AnalyticsDaily(SQLModel, table=True):
    __tablename__ = "analytics_daily"
    __table_args__ = (
        sa.Index(
            "ix_analytics_daily_read",
            "scope",
            "subject_id",
            "day",
            postgresql_include=["metric", "count", "amount"],
        ),
    )

    id: int | None = Field(default=None, sa_type=sa.BigInteger, primary_key=True)
    metric: str = Field(max_length=24)
    day: date
    scope: str = Field(max_length=4)
    subject_id: uuid.UUID
    count: int = Field(sa_type=sa.BigInteger)
    amount: Decimal = Field(sa_type=AMOUNT)


class AnalyticsFirstInvoice(SQLModel, table=True):
    __tablename__ = "analytics_first_invoices"

    institution_id: uuid.UUID = Field(primary_key=True)
    day: date
