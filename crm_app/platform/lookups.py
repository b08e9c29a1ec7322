"""Single statements awaited on the event loop: the look-up every REST request makes before its route.

Every REST request reads its bearer's session (or API token) and user before its route runs, so that a
logout, a deactivation or a revocation is refused at the very next request, whichever process answers
it. Through SQLAlchemy in a worker thread that read cost 430 µs of CPU under 16 concurrent requests:
the trip to the thread pool, the GIL handed between the loop and the worker, SQLAlchemy's execution.
The same statement awaited on psycopg's `AsyncConnection` costs 95 µs (bench/README.md, "The
actor's look-up on the event loop"). It waits for PostgreSQL without holding the loop: no blocking
work on it.

- PostgreSQL only, and only on the loop that started the application (`serve_this_loop`, at startup;
  `close_this_loop` at shutdown). Elsewhere (SQLite; a loop the application was not started on, as a
  test's client without its lifespan) `available()` is false and callers run their sync version in
  the thread pool.
- The statements are SQLAlchemy Core, compiled once for the engine's dialect; the values of a row
  go through the column types' result processors, so a row reads as SQLAlchemy's would. Parameters
  are of types psycopg adapts itself (UUID, datetime, text).
- Connections in autocommit (one round trip per statement, as `db.autocommit_connection`), kept
  once opened (at most `POOL_SIZE`: a look-up holds one for a round trip, and one loop has few in
  flight), each statement prepared on its connection at first use. A kept connection found broken
  (PostgreSQL restarted) is dropped and the statement sent again on a new one: the statements run
  here are reads and idempotent notes. A statement cancelled midway (the client left) closes its
  connection rather than returning it busy.

No pool library: psycopg_pool's pools run tasks of their own on the loop that opened them, which a
test's loop would leave pending when it ends; this pool is a list and a semaphore, nothing runs
between look-ups.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import ClauseElement

from crm_app.platform.db import connect_options, get_engine

#: The connections a loop keeps for its look-ups.
POOL_SIZE = 10


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    row: Callable[..., Any]  # a named tuple of the selected columns
    processors: tuple[Callable[[Any], Any] | None, ...]


@cache
def _compiled(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    columns = list(getattr(statement, "selected_columns", ()))
    names = [column.key for column in columns]
    processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    return _Compiled(str(compiled), namedtuple("Row", names) if names else tuple, processors)


class _Pool:
    """The kept connections of one loop to one database."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.slots = asyncio.Semaphore(POOL_SIZE)

    async def run(self, compiled: _Compiled, params: Mapping[str, Any], *, fetch: bool) -> Any:
        async with self.slots:
            kept = bool(self.idle)
            connection = self.idle.pop() if kept else await self._connect()
            try:
                row = await _execute(connection, compiled, params, fetch=fetch)
            except psycopg.OperationalError:
                broken = connection.broken
                await connection.close()
                if not (kept and broken):
                    raise
                # It sat in the pool while PostgreSQL closed it: once more, on a new connection.
                connection = await self._connect()
                try:
                    row = await _execute(connection, compiled, params, fetch=fetch)
                except BaseException:
                    await connection.close()
                    raise
            except BaseException:
                await connection.close()  # cancelled or failed midway: never handed out again
                raise
            self.idle.append(connection)
            return row

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True, **connect_options())

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for connection in idle:
            await connection.close()


async def _execute(
    connection: psycopg.AsyncConnection[Any], compiled: _Compiled, params: Mapping[str, Any], *, fetch: bool
) -> Any:
    cursor = await connection.execute(compiled.sql, params, prepare=True)
    if not fetch:
        return None
    values = await cursor.fetchone()
    if values is None:
        return None
    pairs = zip(values, compiled.processors, strict=True)
    return compiled.row(*(value if process is None else process(value) for value, process in pairs))


#: The loops the application was started on, each with its pools by connection string.
_loops: dict[asyncio.AbstractEventLoop, dict[str, _Pool]] = {}
_conninfo: dict[Engine, str] = {}


def serve_this_loop() -> None:
    """At the application's startup, on its loop: look-ups may be awaited here from now on."""
    _loops.setdefault(asyncio.get_running_loop(), {})


async def close_this_loop() -> None:
    """At the application's shutdown: close this loop's connections."""
    for pool in _loops.pop(asyncio.get_running_loop(), {}).values():
        await pool.close()


def _pool() -> _Pool | None:
    try:
        pools = _loops.get(asyncio.get_running_loop())
    except RuntimeError:  # no running loop: a thread
        return None
    if pools is None:
        return None
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        return None
    conninfo = _conninfo.get(engine)
    if conninfo is None:
        conninfo = _conninfo[engine] = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool = pools.get(conninfo)
    if pool is None:
        pool = pools[conninfo] = _Pool(conninfo)
    return pool


def available() -> bool:
    """Whether `first` and `execute` may be awaited here (else run the sync version in a thread)."""
    return _pool() is not None


async def first(statement: ClauseElement, params: Mapping[str, Any]) -> Any:
    """The first row of a SELECT (attributes named as its columns), or None."""
    pool = _require()
    return await pool.run(_compiled(statement, get_engine().dialect), params, fetch=True)


async def execute(statement: ClauseElement, params: Mapping[str, Any]) -> None:
    """Run a statement that returns nothing (an UPDATE), committed at once."""
    pool = _require()
    await pool.run(_compiled(statement, get_engine().dialect), params, fetch=False)


def _require() -> _Pool:
    pool = _pool()
    if pool is None:
        raise RuntimeError("no look-up pool here: check lookups.available() first")
    return pool
