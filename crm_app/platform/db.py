"""Engine, unit of work and dialect helpers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, Connection, Engine, Row
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.sql import Executable
from sqlmodel import Session, create_engine

from crm_app.platform.config import get_settings

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
    # 20 connections kept: a burst of concurrent REST calls, each holding one during its trip to the thread
    # pool, would otherwise open and close an overflow connection (a new PostgreSQL backend) per call.
    # With the overflow, 40: as many as anyio's worker threads, which run the routes.
    engine = _postgresql_engine(url, pool_size=20, max_overflow=20)
    event.listen(engine, "before_cursor_execute", _explain_if_asked, retval=True)
    return engine


def connect_options() -> dict[str, Any]:
    """What every PostgreSQL connection of the application is opened with (psycopg's `connect`)."""
    return {
        "connect_timeout": 5,
        "application_name": "opex-crm",
        "options": "-c plan_cache_mode=force_custom_plan",
    }


def _postgresql_engine(url: URL, **options: Any) -> Engine:
    engine = create_engine(url, connect_args=connect_options(), **options)
    event.listen(engine, "checkin", _remember_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


#: Each PostgreSQL engine's companion whose connections stay in autocommit (see autocommit_connection).
_autocommit_engines: dict[Engine, Engine] = {}


@contextmanager
def autocommit_connection() -> Iterator[Connection]:
    """A connection outside any unit of work, for the look-up every request makes before its route runs
    (its session or its API token, and the once-a-minute note of its last use).

    On PostgreSQL it comes from a pool of its own whose connections stay in autocommit: each statement
    is one round trip, where a unit of work adds a BEGIN and a COMMIT, each a round trip and a hand-over
    of the GIL between threads. On `GET /api/auth/me` that, and the session's bookkeeping, cost more
    than half of the request's CPU (bench/README.md, "The actor's look-up outside the unit of work").
    Switching a pooled connection in and out of autocommit instead would cost a statement on each
    check-in. It sees only what is committed: nothing the request wrote, since it has written nothing yet.

    On SQLite it is a short transaction of the one engine (an in-memory database is one connection)."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            yield connection
        return
    companion = _autocommit_engines.get(engine)
    if companion is None:
        with _engines_lock:
            companion = _autocommit_engines.get(engine)
            if companion is None:
                # A look-up holds its connection for one statement: 20 at most (a thread past them waits
                # for one), so a process opens at most 60 with the main pool's 40. All 20 are kept once
                # opened: an overflow connection is closed when returned to a pool already holding its
                # `pool_size`, and 16 concurrent requests with 8 kept opened a PostgreSQL connection for
                # one request in ten (bench/README.md, "No connection opened per request").
                companion = _postgresql_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=20, max_overflow=0)
                _autocommit_engines[engine] = companion
    with companion.connect() as connection:
        yield connection


def _explain_if_asked(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, _executemany: bool
) -> tuple[str, Any]:
    """A statement executed with the option `explain_only` is planned, not run: PostgreSQL answers its
    plan (see `estimated_rows`). Rewriting the final SQL keeps the values bound, as the statement has them."""
    if context is not None and context.execution_options.get("explain_only"):
        return "EXPLAIN (FORMAT JSON) " + statement, parameters
    return statement, parameters


def estimated_rows(session: Session, statement: Executable, params: Mapping[str, Any]) -> int:
    """PostgreSQL's estimate of how many rows `statement` (a SELECT) returns, from its plan: planning
    only, no row is read. PostgreSQL only."""
    plan = session.connection().execute(statement.execution_options(explain_only=True), dict(params)).scalar_one()
    return int(plan[0]["Plan"]["Plan Rows"])


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


#: The engine of the current settings object (settings are replaced, never changed): every request
#: asks, and building the URL from the settings costs more than the rest of the lookup.
_current: tuple[object, Engine] | None = None


def get_engine() -> Engine:
    global _current
    settings = get_settings()
    current = _current
    if current is not None and current[0] is settings:
        return current[1]
    engine = _engine_for(settings.sqlalchemy_url)
    with _engines_lock:
        if engine in _engines.values():  # not disposed meanwhile
            _current = (settings, engine)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (shutdown, tests that drop their database)."""
    global _current
    with _engines_lock:
        _current = None
        for engine in (*_engines.values(), *_autocommit_engines.values()):
            engine.dispose()
        _engines.clear()
        _autocommit_engines.clear()


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


def fetch_all(session: Session, statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
    """Run a Core statement (many columns, joins) in the session's transaction, after a flush."""
    session.flush()
    rows: Sequence[Row[Any]] = session.connection().execute(statement, params).all()
    return rows


def insert_rows(
    session: Session,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """Insert many rows of plain column values (every row with the same keys, no binary column) in the
    session's transaction; with `on_conflict` (the columns of a unique index), rows that would
    duplicate one are skipped (ON CONFLICT DO NOTHING). Returns the `returning` columns of the rows
    really inserted.

    PostgreSQL: one statement whatever the number of rows, `INSERT ... SELECT ... FROM
    json_populate_recordset(...)` with the rows as one JSON parameter (no huge multi-row VALUES for the
    driver to parse). SQLite (in-process): one executemany."""
    if not rows:
        return []
    session.flush()
    connection = session.connection()
    columns = list(rows[0])
    if connection.dialect.name == "postgresql":
        quote = connection.dialect.identifier_preparer.quote
        name = connection.dialect.identifier_preparer.format_table(table)
        names = ", ".join(quote(column) for column in columns)
        # identifiers quoted by the dialect, values in the one bound parameter
        statement = (
            f"INSERT INTO {name} ({names}) SELECT {names} "  # noqa: S608
            f"FROM json_populate_recordset(NULL::{name}, CAST(:rows AS json))"
        )
        if on_conflict:
            statement += f" ON CONFLICT ({', '.join(quote(c) for c in on_conflict)}) DO NOTHING"
        if returning:
            statement += f" RETURNING {', '.join(quote(c) for c in returning)}"
        payload = json.dumps(rows, default=_json_value, separators=(",", ":"))
        result = connection.execute(text(statement), {"rows": payload})
        return list(result.all()) if returning else []
    insert: Any = sqlite.insert(table)
    if on_conflict:
        insert = insert.on_conflict_do_nothing(index_elements=list(on_conflict))
    if returning:
        return list(connection.execute(insert.returning(*(table.c[c] for c in returning)), list(rows)).all())
    connection.execute(insert, list(rows))
    return []


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not a column value insert_rows can send")
