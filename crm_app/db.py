"""Engine, unit of work and dialect helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine, Row
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.sql import Executable
from sqlmodel import Session, create_engine

from .config import get_settings

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine_for(url: URL) -> Engine:
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = _create_engine(url)
        return _engines[key]


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # Custom plans always: psycopg prepares repeated statements, and PostgreSQL's generic plan for a
    # LIKE on the trigram index reads the whole index whatever the text searched.
    engine = create_engine(url, pool_size=10, max_overflow=20,
                           connect_args={"connect_timeout": 5, "application_name": "opex-crm",
                                         "options": "-c plan_cache_mode=force_custom_plan"})
    event.listen(engine, "checkin", _remember_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


#: A pooled connection idle longer than this is tested before use (see _ping_if_idle).
PING_AFTER_IDLE = 10.0


def _remember_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's `pool_pre_ping`, but only for connections that sat idle: a ping is a round trip
    to the server on every request (a third of a short API call's database time). A connection in
    steady use is known alive; one that sat idle may have been closed by a server restart or a
    firewall, and is replaced here (the pool retries with a fresh one) instead of failing a request."""
    checked_in_at = record.info.get("checked_in_at")
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE:
        return  # a connection just opened, or in steady use
    try:
        dbapi_connection.execute("SELECT 1")
        dbapi_connection.rollback()
    except psycopg.Error as exc:
        raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_on_begin) so transactions are real.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: no "database is locked" upgrade deadlock between writers.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine() -> Engine:
    return _engine_for(get_settings().sqlalchemy_url)


def dispose_engines() -> None:
    """Close every pooled connection (shutdown, tests that drop their database)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One session per user action: committed at the end, rolled back on any error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping() -> float:
    """Round trip to the database in milliseconds; raises when it does not answer."""
    started = time.perf_counter()
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    return (time.perf_counter() - started) * 1000


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def fetch_all(session: Session, statement: Executable) -> Sequence[Any]:
    """Run a Core statement (many columns, joins) in the session's transaction, after a flush."""
    session.flush()
    rows: Sequence[Row[Any]] = session.connection().execute(statement).all()
    return rows
