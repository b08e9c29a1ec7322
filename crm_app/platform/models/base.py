"""Shared column types and mixins for every table."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Stable constraint names: Alembic can drop and alter them on PostgreSQL and in SQLite batch mode.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _system_clock() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _system_clock  # replaced by tests that need to move time


def in_check(column: str, values: type[StrEnum]) -> str:
    """The SQL of a CHECK constraint keeping `column` among an enum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def utcnow() -> datetime:
    """The current time in UTC, from the one clock every service and job reads."""
    return clock()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """`timestamptz` on PostgreSQL; on SQLite the stored UTC value comes back timezone-aware too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timestamptz column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def timestamp_column(*, nullable: bool = True, index: bool = False, **kwargs: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index, **kwargs)


def uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


class Tracked(SQLModel):
    """Columns of every table users edit: who and when, plus a version for optimistic concurrency."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    version: int = Field(default=1, nullable=False)

    def touch(self) -> None:
        """Mark an edit: new timestamp and the next version number."""
        self.updated_at = utcnow()
        self.version += 1


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for queries over many columns (typed, unlike `Model.__table__`)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table
