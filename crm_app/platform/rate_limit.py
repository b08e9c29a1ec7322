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
- A process reserves a bucket's requests a few at a time (a lease: `lease_size`, a twentieth of the
  limit, at most 50): the upsert adds the lease to the counter and grants what still fits under the
  limit, and the next requests of that minute are served from the process's lease without a
  statement, a pooled connection or a thread. The counter therefore counts requests reserved, not
  only those made; it never grants more than the limit across every process, and a process holding
  an unused lease can only make the others refuse a little early (at most a lease per process and
  bucket, in the last moments of a minute). A limit under 40 leases one request at a time: exact,
  as before. On `/api/auth/me` the statement per request was a quarter of the throughput
  (bench/README.md, "Quick run").

Measured with bench/rate_limit.py (see its figures in bench/README.md).
"""

from __future__ import annotations

import math
import threading
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


#: A lease is this share of the limit (a twentieth), and never more than LEASE_MAX requests.
LEASE_SHARE = 20
LEASE_MAX = 50


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of counting one request: allowed or not, and when the window ends."""

    allowed: bool
    #: The highest counter the database returned for the request's buckets, this request's
    #: reservations included; None when the request was served from this process's leases.
    hits: int | None
    retry_after: int  # seconds until the current window ends (at least 1)


def window_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def lease_size(limit: int) -> int:
    """How many requests of a bucket a process reserves at a time under `limit`."""
    return max(1, min(LEASE_MAX, limit // LEASE_SHARE))


def _retry_after(window: datetime, now: datetime) -> int:
    return max(1, math.ceil((window + WINDOW - now).total_seconds()))


class _Leases:
    """The requests this process reserved and has not used yet, per bucket, in the current minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._epoch: tuple[datetime, str] | None = None
        self._left: dict[str, int] = {}

    def _at(self, epoch: tuple[datetime, str]) -> None:
        # A new minute, or another database (a test, the CLI): the old leases are worth nothing.
        if self._epoch != epoch:
            self._epoch = epoch
            self._left.clear()

    def take_all(self, buckets: Sequence[str], epoch: tuple[datetime, str]) -> bool:
        """One request from each bucket's lease, if every bucket has one; else nothing is taken."""
        with self._lock:
            self._at(epoch)
            if any(self._left.get(bucket, 0) <= 0 for bucket in buckets):
                return False
            for bucket in buckets:
                self._left[bucket] -= 1
            return True

    def take_each(self, buckets: Sequence[str], epoch: tuple[datetime, str]) -> list[str]:
        """One request from the lease of each bucket that has one; the buckets that have none."""
        with self._lock:
            self._at(epoch)
            missing = []
            for bucket in buckets:
                if self._left.get(bucket, 0) > 0:
                    self._left[bucket] -= 1
                else:
                    missing.append(bucket)
            return missing

    def add(self, bucket: str, epoch: tuple[datetime, str], requests: int) -> None:
        with self._lock:
            self._at(epoch)
            self._left[bucket] = self._left.get(bucket, 0) + requests

    def forget(self) -> None:
        with self._lock:
            self._epoch = None
            self._left.clear()


_leases = _Leases()


def forget_leases() -> None:
    """Drop this process's leases (tests that empty the counters)."""
    _leases.forget()


@cache
def _upsert(dialect: str, buckets: int) -> Any:
    """The reserving statement for `buckets` buckets, built once per dialect and size: each bucket's
    counter grows by its lease, and says which bucket it is (RETURNING's order is not VALUES')."""
    table = table_of(RateLimitCounter)
    rows: list[dict[str, Any]] = [
        {"bucket": sa.bindparam(f"b{i}"), "window_start": sa.bindparam("w"), "hits": sa.bindparam("n")}
        for i in range(buckets)
    ]
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(rows)
    return insert.on_conflict_do_update(
        index_elements=[table.c.bucket, table.c.window_start], set_={"hits": table.c.hits + insert.excluded.hits}
    ).returning(table.c.bucket, table.c.hits)


def _database() -> str:
    return str(get_engine().url)


def _keys(buckets: Sequence[str]) -> list[str]:
    return [bucket[:80] for bucket in buckets]


def count_from_lease(buckets: Sequence[str], *, now: datetime | None = None) -> Verdict | None:
    """The request counted against this process's leases when each of its buckets has one (no I/O: the
    caller needs no thread); None when a bucket needs reserving, and then nothing was counted."""
    now = now or utcnow()
    window = window_of(now)
    if _leases.take_all(_keys(buckets), (window, _database())):
        return Verdict(allowed=True, hits=None, retry_after=_retry_after(window, now))
    return None


def count(buckets: Sequence[str], *, limit: int, now: datetime | None = None) -> Verdict:
    """Count one request against each bucket in the current minute: from this process's lease where it
    has one, else by reserving a new lease in the database (committed at once, whatever becomes of
    the request). Not allowed when a bucket's limit leaves nothing to grant."""
    now = now or utcnow()
    window = window_of(now)
    epoch = (window, _database())
    missing = _leases.take_each(_keys(buckets), epoch)
    retry_after = _retry_after(window, now)
    if not missing:
        return Verdict(allowed=True, hits=None, retry_after=retry_after)
    size = lease_size(limit)
    reserved = _reserve(missing, window, size)
    allowed = True
    for bucket, hits in reserved.items():
        granted = max(0, min(size, limit - (hits - size)))
        if granted == 0:
            allowed = False
        elif granted > 1:
            _leases.add(bucket, epoch, granted - 1)  # this request takes one
    return Verdict(allowed=allowed, hits=max(reserved.values()), retry_after=retry_after)


def _reserve(buckets: Sequence[str], window: datetime, size: int) -> dict[str, int]:
    """Add `size` to each bucket's counter of `window`: {bucket: its counter now}."""
    engine = get_engine()
    params: dict[str, Any] = {"w": window, "n": size, **{f"b{i}": bucket for i, bucket in enumerate(buckets)}}
    statement = _upsert(engine.dialect.name, len(buckets))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return {row.bucket: row.hits for row in connection.execute(statement, params)}
    with engine.connect() as connection:
        # Set outside a transaction only (SQLite refuses to change it inside one), and put back after.
        cursor = connection.connection.cursor()
        cursor.execute("PRAGMA synchronous")
        row = cursor.fetchone()
        level = int(row[0]) if row else 2  # FULL, SQLite's default
        cursor.execute("PRAGMA synchronous = NORMAL")
        try:
            counters = {found.bucket: found.hits for found in connection.execute(statement, params)}
            connection.commit()
            return counters
        finally:
            cursor.execute(f"PRAGMA synchronous = {level}")
            cursor.close()


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
