"""The pool tests a connection before use only when it sat idle (crm_app/db.py _ping_if_idle)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from crm_app.platform import db
from crm_app.platform.db import get_engine, unit_of_work


def _backend_pid_after_use() -> int:
    with unit_of_work() as session:
        return int(session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    """End a server process from a connection outside the pool, as a server restart would."""
    url = get_engine().url
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database, autocommit=True
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


@pytest.fixture
def one_connection_pool() -> Iterator[None]:
    db.dispose_engines()  # a fresh pool: the next two units of work share its only idle connection
    yield
    db.dispose_engines()


@pytest.mark.usefixtures("one_connection_pool")
def test_an_idle_connection_closed_by_the_server_is_replaced_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _backend_pid_after_use()
    _terminate(pid)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # as if it had sat idle
    assert _backend_pid_after_use() != pid  # no error: the dead connection was swapped


@pytest.mark.usefixtures("one_connection_pool")
def test_a_connection_in_steady_use_is_not_pinged() -> None:
    pid = _backend_pid_after_use()
    assert _backend_pid_after_use() == pid  # the pool hands the same connection back
    # Not tested before use (no round trip): a connection the server closed meanwhile fails the
    # request that draws it, and the pool is renewed after that.
    _terminate(pid)
    with pytest.raises(OperationalError):
        _backend_pid_after_use()
