"""Single statements awaited on the event loop: the look-up every REST request makes before its route,
and the page of the institutions list (`institutions.service.awaited_list_institutions`).

Every REST request reads its bearer's session (or API token) and user before its route runs, so that a
logout, a deactivation or a revocation is refused at the very next request, whichever process answers
it. Through SQLAlchemy in a worker thread that read cost 430 µs of CPU under 16 concurrent requests:
the trip to the thread pool, the GIL handed between the loop and the worker, SQLAlchemy's execution.
The same statement awaited on psycopg's `AsyncConnection` costs 95 µs (bench/README.md, "The
actor's look-up on the event loop"). It waits for PostgreSQL without holding the loop: no blocking
work on it.

- A statement here is one round trip that reads a few rows (or notes a use): never a whole table,
  never several statements that must agree (they are not in one transaction).
- PostgreSQL only, and only on the loop that started the application (`serve_this_loop`, at startup;
  `close_this_loop` at shutdown). Elsewhere (SQLite; a loop the application was not started on, as a
  test's client without its lifespan) `here()` is None and callers run their sync version in the
  thread pool.
- The statements are SQLAlchemy Core, compiled once for the engine's dialect, their parameters built
  as SQLAlchemy builds them (`construct_params`; `construct_expanded_state` for an IN list or a value
  written into the SQL); the values of a row go through the column types' result processors, so a
  row reads as SQLAlchemy's would. Parameters are of types psycopg adapts itself (UUID, datetime,
  text, numbers).
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast

import psycopg
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from crm_app.platform.db import connect_options, get_engine

#: The connections a loop keeps for its look-ups.
POOL_SIZE = 10


@dataclass(frozen=True, slots=True)
class _Compiled:
    compiled: SQLCompiler
    sql: str
    expands: bool  # an IN list, or a value written into the SQL: the text depends on the values
    row: Any  # the named tuple class of the selected columns
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]  # (index, conversion) of the columns that have one

    def query(self, params: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The SQL and its parameters for `params` (the statement's own values added), as SQLAlchemy
        would send them: an IN list expanded to one parameter per value."""
        if self.expands:
            state = self.compiled.construct_expanded_state(params)
            return state.statement, state.parameters
        return self.sql, self.compiled.construct_params(params)


@lru_cache(maxsize=512)  # bounded: a list's statements are built per shape of its filters
def _compiled(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    expands = bool(compiled.literal_execute_params or compiled.post_compile_params)
    columns = list(getattr(statement, "selected_columns", ()))
    names = [column.key for column in columns]
    processors = (column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    processed = tuple((index, process) for index, process in enumerate(processors) if process is not None)
    return _Compiled(compiled, str(compiled), expands, namedtuple("Row", names), processed)


class Pool:
    """The kept connections of one loop to one database: `here()` gives the running loop's."""

    def __init__(self, conninfo: str, dialect: Dialect) -> None:
        self.conninfo = conninfo
        self.dialect = dialect
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.slots = asyncio.Semaphore(POOL_SIZE)

    async def first(self, statement: ClauseElement, params: Mapping[str, Any]) -> Any:
        """The first row of a SELECT (attributes named as its columns), or None."""
        return await self._run(statement, params, fetch="one")

    async def all_rows(self, statement: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
        """Every row of a SELECT (attributes named as its columns): a page of a list, never a whole table."""
        rows: list[Any] = await self._run(statement, params, fetch="all")
        return rows

    async def execute(self, statement: ClauseElement, params: Mapping[str, Any]) -> None:
        """Run a statement that returns nothing (an UPDATE), committed at once."""
        await self._run(statement, params, fetch="none")

    async def _run(self, statement: ClauseElement, params: Mapping[str, Any], *, fetch: _Fetch) -> Any:
        compiled = _compiled(statement, self.dialect)
        async with self.slots:
            kept = bool(self.idle)
            connection = self.idle.pop() if kept else await self._connect()
            while True:
                try:
                    row = await _execute(connection, compiled, params, fetch=fetch)
                except psycopg.OperationalError:
                    stale = kept and connection.broken
                    await connection.close()
                    if not stale:
                        raise
                    # It sat in the pool while PostgreSQL closed it: once more, on a new connection.
                    kept, connection = False, await self._connect()
                    continue
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


_Fetch = Literal["one", "all", "none"]


async def _execute(
    connection: psycopg.AsyncConnection[Any], compiled: _Compiled, params: Mapping[str, Any], *, fetch: _Fetch
) -> Any:
    sql, values = compiled.query(params)
    cursor = await connection.execute(sql, values, prepare=True)
    if fetch == "none":
        return None
    if fetch == "one":
        first = await cursor.fetchone()
        return None if first is None else _row(compiled, first)
    return [_row(compiled, found) for found in await cursor.fetchall()]


def _row(compiled: _Compiled, values: Sequence[Any]) -> Any:
    """A named row of `values`, those of columns whose type converts them converted (most need nothing:
    psycopg already gives UUIDs, numbers, text and datetimes)."""
    if not compiled.processed:
        return compiled.row._make(values)
    converted = list(values)
    for index, process in compiled.processed:
        converted[index] = process(converted[index])
    return compiled.row._make(converted)


#: The loops the application was started on, each with its pools by engine (None: not PostgreSQL).
_loops: dict[asyncio.AbstractEventLoop, dict[Engine, Pool | None]] = {}


def serve_this_loop() -> None:
    """At the application's startup, on its loop: look-ups may be awaited here from now on."""
    _loops.setdefault(asyncio.get_running_loop(), {})


async def close_this_loop() -> None:
    """At the application's shutdown: close this loop's connections."""
    for pool in _loops.pop(asyncio.get_running_loop(), {}).values():
        if pool is not None:
            await pool.close()


def here() -> Pool | None:
    """The running loop's connections to the current database, to await statements on; None where
    that cannot be (SQLite, a loop the application was not started on, a thread): the caller then runs
    its sync version in the thread pool."""
    try:
        pools = _loops.get(asyncio.get_running_loop())
    except RuntimeError:  # no running loop: a thread
        return None
    if pools is None:
        return None
    engine = get_engine()
    if engine not in pools:
        postgresql = engine.dialect.name == "postgresql"
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        pools[engine] = Pool(conninfo, engine.dialect) if postgresql else None
    return pools[engine]
