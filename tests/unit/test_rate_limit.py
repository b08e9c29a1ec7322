"""The API rate limit's counter: requests reserved by upserts shared by every connection and process,
a few at a time under a large limit (a lease), one at a time under a small one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from crm_app.operations import migrate
from crm_app.platform import rate_limit
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.rate_limits import RateLimitCounter
from tests.conftest import truncate_all

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def counters() -> Iterator[None]:
    rate_limit.forget_leases()
    yield
    truncate_all()


def _hits(bucket: str) -> int:
    with unit_of_work() as session:
        return int(
            session.exec(select(func.sum(RateLimitCounter.hits)).where(RateLimitCounter.bucket == bucket)).one() or 0
        )


@pytest.mark.usefixtures("counters")
def test_the_request_over_the_limit_is_refused_until_the_next_minute() -> None:
    now = utcnow().replace(second=45, microsecond=0)
    verdicts = [rate_limit.count(["ip:10.0.0.1"], limit=3, now=now) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.hits for v in verdicts] == [1, 2, 3, 4]
    assert verdicts[-1].retry_after == 15  # the window ends at the next minute
    assert rate_limit.count(["ip:10.0.0.1"], limit=3, now=now + timedelta(seconds=15)).allowed


@pytest.mark.usefixtures("counters")
def test_the_address_and_the_token_are_counted_together_and_either_refuses() -> None:
    now = utcnow()
    for _ in range(2):
        assert rate_limit.count(["ip:10.0.0.2", "token:abc"], limit=2, now=now).allowed
    # Another address with the same token: the token's bucket is full.
    refused = rate_limit.count(["ip:10.0.0.3", "token:abc"], limit=2, now=now)
    assert not refused.allowed and refused.hits == 3
    assert _hits("ip:10.0.0.3") == 1


@pytest.mark.usefixtures("counters")
def test_concurrent_connections_lose_no_count() -> None:
    """Eight threads at once, each on a pooled connection of its own."""
    now = utcnow()
    refused: list[int] = []

    def hammer(index: int) -> None:
        for _ in range(25):
            if not rate_limit.count(["ip:10.0.0.9"], limit=150, now=now).allowed:
                refused.append(index)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refused) == 50  # exactly the requests past 150
    # Reserved 7 at a time (a twentieth of 150): at least the 150 granted, and each refused request
    # asked for a lease in vain, since the process's last lease had run out.
    assert rate_limit.lease_size(150) == 7
    assert _hits("ip:10.0.0.9") == 150 + 7 * 50 + (-150 % 7)


@pytest.mark.usefixtures("counters")
def test_a_lease_serves_the_next_requests_without_a_statement() -> None:
    """Under 600 a minute a process reserves 30 requests at a time: the 29 after a reservation are
    counted in memory, and the 31st reserves again; a bucket's counter never grants past the limit."""
    now = utcnow()
    assert rate_limit.lease_size(600) == 30
    first = rate_limit.count(["ip:10.0.0.5"], limit=600, now=now)
    assert first.allowed and first.hits == 30 and _hits("ip:10.0.0.5") == 30
    served = [rate_limit.count_from_lease(["ip:10.0.0.5"], now=now) for _ in range(29)]
    assert all(verdict is not None and verdict.allowed and verdict.hits is None for verdict in served)
    assert _hits("ip:10.0.0.5") == 30  # no statement
    assert rate_limit.count_from_lease(["ip:10.0.0.5"], now=now) is None  # spent: nothing counted
    assert rate_limit.count(["ip:10.0.0.5"], limit=600, now=now).hits == 60
    # Another process reserved up to 595 meanwhile: this one is granted the 5 left, then refused.
    with get_engine().begin() as connection:
        connection.execute(text("UPDATE rate_limit_counters SET hits = 595 WHERE bucket = 'ip:10.0.0.5'"))
    rate_limit.forget_leases()
    allowed = [rate_limit.count(["ip:10.0.0.5"], limit=600, now=now).allowed for _ in range(7)]
    assert allowed == [True] * 5 + [False] * 2
    # The next minute starts afresh, whatever this process still held.
    assert rate_limit.count(["ip:10.0.0.5"], limit=600, now=now + timedelta(minutes=1)).hits == 30


@pytest.mark.usefixtures("counters")
def test_a_second_process_shares_the_counters() -> None:
    code = "from crm_app.platform import rate_limit; print(rate_limit.count(['ip:10.0.0.7'], limit=2).hits)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for expected in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert done.stdout.strip() == expected, done.stderr
    assert not rate_limit.count(["ip:10.0.0.7"], limit=2).allowed


@pytest.mark.usefixtures("counters")
def test_the_purge_keeps_only_the_current_minute() -> None:
    now = utcnow()
    rate_limit.count(["ip:10.0.0.4"], limit=10, now=now - timedelta(minutes=3))
    rate_limit.count(["ip:10.0.0.4"], limit=10, now=now)
    with unit_of_work() as session:
        assert rate_limit.purge_old_windows(session, now=now) == 1
    assert _hits("ip:10.0.0.4") == 1


def test_the_counters_table_is_unlogged_on_postgresql() -> None:
    """Every API request commits an increment: no WAL flush to wait for (crm_app/platform/rate_limit.py)."""
    with unit_of_work() as session:
        persistence = session.execute(text("SELECT relpersistence FROM pg_class WHERE relname = 'rate_limit_counters'"))
        assert persistence.scalar_one() == "u"


def test_the_counter_works_on_sqlite(tmp_path: Path, settings_override: Callable[..., None]) -> None:
    settings_override(database_url=f"sqlite:///{tmp_path / 'limits.sqlite3'}")
    migrate.upgrade()
    now = utcnow()
    verdicts = [rate_limit.count(["ip:::1", "token:x"], limit=2, now=now) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    with get_engine().connect() as connection:  # the connection's own durability is put back
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
    with Session(get_engine()) as session:
        assert rate_limit.purge_old_windows(session, now=now + timedelta(minutes=1)) == 2
        session.commit()
