"""The REST API's rate limit: requests a minute per client address and per bearer token, counted in
the database so that it holds across every process of the application.

Why a fixed one-minute window counted with one upsert:
- Each request costs one statement, `INSERT ... ON CONFLICT DO UPDATE SET hits = hits + 1 RETURNING
  hits`, for its one or two buckets at once (the address, and the token when there is one). The
  database serialises the increments of a row, so two processes never both see 600 when the 601st
  request arrives; no read-then-write race, no lock held beyond the statement.
- On PostgreSQL it runs in autocommit on a pooled connection: one round trip, committed at once, not
  in the request's unit of work (whose row lock would be held until the request ends and make the
  requests of one client wait on each other). The table is UNLOGGED (migration 0026): its commits
  write no WAL and wait for no disk flush; after a crash PostgreSQL empties it, which only forgets
  the current minute's counts. That took the statement from 4-5 ms (the WAL flush, on this test
  machine's disk) to 0.7 ms (pgbench, same machine).
- On SQLite (one process, a file) it is a short transaction of its own, committed with
  `synchronous=NORMAL` (in WAL mode: no fsync at that commit; a power cut may forget it, never
  corrupt the file): 0.1 ms instead of 2-5 ms for the fsync.
- A sliding window (a log of timestamps, or two windows weighted) would count more exactly at a
  minute's boundary, where a fixed window lets a client send up to twice the limit within a few
  seconds; it would cost a second row read or a row per request. For a limit meant to stop runaway
  scripts, the fixed window's bound (2× at worst, for a moment) is the better trade.
- Old windows are deleted by the `rate_limit_purge` job: only the current minute's rows are read.

Measured with bench/rate_limit.py (see its figures in bench/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from crm_app.platform.db import get_engine
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.rate_limits import RateLimitCounter
from crm_app.platform.scheduler import Job, cron

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of counting one request: allowed or not, and when the window ends."""

    allowed: bool
    hits: int  # the highest count among the request's buckets, this request included
    retry_after: int  # seconds until the current window ends (at least 1)


def window_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@cache
def _upsert(dialect: str, buckets: int) -> Any:
    """The counting statement for `buckets` buckets, built once per dialect and size."""
    table = table_of(RateLimitCounter)
    rows = [{"bucket": sa.bindparam(f"b{i}"), "window_start": sa.bindparam("w"), "hits": 1} for i in range(buckets)]
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(rows)
    return insert.on_conflict_do_update(
        index_elements=[table.c.bucket, table.c.window_start], set_={"hits": table.c.hits + 1}
    ).returning(table.c.hits)


def count(buckets: Sequence[str], *, limit: int, now: datetime | None = None) -> Verdict:
    """Count one request against each bucket in the current minute; not allowed when any bucket has
    gone over `limit`. Commits at once, whatever becomes of the request."""
    now = now or utcnow()
    window = window_of(now)
    engine = get_engine()
    params: dict[str, Any] = {"w": window, **{f"b{i}": bucket[:80] for i, bucket in enumerate(buckets)}}
    statement = _upsert(engine.dialect.name, len(buckets))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            hits = max(connection.execute(statement, params).scalars())
    else:
        with engine.connect() as connection:
            # Set outside a transaction only (SQLite refuses to change it inside one), and put back after.
            cursor = connection.connection.cursor()
            cursor.execute("PRAGMA synchronous")
            row = cursor.fetchone()
            level = int(row[0]) if row else 2  # FULL, SQLite's default
            cursor.execute("PRAGMA synchronous = NORMAL")
            try:
                hits = max(connection.execute(statement, params).scalars())
                connection.commit()
            finally:
                cursor.execute(f"PRAGMA synchronous = {level}")
                cursor.close()
    retry_after = max(1, math.ceil((window + WINDOW - now).total_seconds()))
    return Verdict(allowed=hits <= limit, hits=hits, retry_after=retry_after)


def purge_old_windows(session: Session, *, now: datetime | None = None) -> int:
    """Delete the counters of past minutes (scheduled housekeeping)."""
    current = window_of(now or utcnow())
    removed = session.exec(delete(RateLimitCounter).where(col(RateLimitCounter.window_start) < current))
    return int(removed.rowcount or 0)


JOBS = (
    Job(
        "rate_limit_purge",
        cron(minute="*/10"),
        purge_old_windows,
        "Delete the API rate limit's counters of past minutes.",
    ),
)
