"""Independent reads at the same time on one snapshot (crm_app/platform/db.py `read_concurrently`), and
the dashboard's figures read that way equal the figures read in turn."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from crm_app.analytics import dashboard as analytics
from crm_app.analytics.dashboard import Period
from crm_app.platform import db as database
from crm_app.platform.db import is_postgresql, read_concurrently, unit_of_work
from crm_app.platform.models.people import Team
from tests.analytics_factories import TODAY, build


@pytest.fixture(autouse=True)
def _postgresql(clean_db: None) -> None:
    with unit_of_work() as session:
        if not is_postgresql(session):
            pytest.skip("concurrent reads on one snapshot are PostgreSQL's")


def _teams(session: Session) -> int:
    return int(session.execute(sa.text("SELECT count(*) FROM teams")).scalar_one())


def _backend(session: Session) -> int:
    return int(session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_reads_run_at_once_on_connections_of_their_own_and_see_the_callers_snapshot() -> None:
    with unit_of_work() as session:
        session.add(Team(name="Île-de-France"))
    started = threading.Barrier(3, timeout=10)

    def slow_count(reader: Session) -> tuple[int, int]:
        started.wait()  # three reads at once, or this times out
        time.sleep(0.3)  # meanwhile, another transaction commits a team
        return _backend(reader), _teams(reader)

    def add_team() -> None:
        started.wait()
        with unit_of_work() as other:
            other.add(Team(name="Grand Ouest"))

    with unit_of_work() as session:
        caller = _backend(session)
        writer = threading.Thread(target=add_team)
        writer.start()
        results = read_concurrently(session, [slow_count, slow_count])
        writer.join(10)
        assert _teams(session) == 2  # the caller's next statement, in READ COMMITTED, sees the new team
    backends = {backend for backend, _ in results}
    assert len(backends) == 2 and caller not in backends
    assert [count for _, count in results] == [1, 1]  # the snapshot taken when the reads began


def test_a_transaction_that_wrote_reads_in_turn_and_sees_its_own_writes() -> None:
    with unit_of_work() as session:
        caller = _backend(session)
        session.add(Team(name="Sud-Est"))
        results = read_concurrently(session, [lambda s: (_backend(s), _teams(s))] * 2)
    assert results == [(caller, 1), (caller, 1)]


def test_an_error_in_one_read_is_raised_once_every_read_is_done() -> None:
    finished: list[str] = []

    def fails(_reader: Session) -> None:
        raise ValueError("no such figure")

    def slow(reader: Session) -> None:
        time.sleep(0.2)
        _teams(reader)
        finished.append("slow")

    with pytest.raises(ValueError, match="no such figure"), unit_of_work() as session:
        read_concurrently(session, [fails, slow])
    assert finished == ["slow"]


def test_the_dashboard_read_at_once_equals_the_dashboard_read_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    with unit_of_work() as session:
        data = build(session)
    calls: list[int] = []
    concurrent = database.read_concurrently

    def counted(session: Session, reads: list[Any]) -> list[Any]:
        calls.append(len(reads))
        return concurrent(session, reads)

    def in_turn(session: Session, reads: list[Any]) -> list[Any]:
        return [read(session) for read in reads]

    for person in (data.org.admin, data.org.rep_a, data.org.manager_a):
        for period in (Period.MONTH, Period.YEAR):
            figures = []
            for reader in (counted, in_turn):
                monkeypatch.setattr(analytics, "read_concurrently", reader)
                with unit_of_work() as session:
                    figures.append(analytics.overview(session, person.actor, period=period, today=TODAY))
            assert figures[0] == figures[1], (person.user.email, period)
    assert calls == [7] * 6
