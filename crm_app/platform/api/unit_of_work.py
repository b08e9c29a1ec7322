"""The unit of work of a REST request: opened by the `db_session` dependency on the event loop, finished
(committed or rolled back, then closed) in the worker thread that ran the route
(`crm_app.platform.api.routes`), or else by the dependency itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar

from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from crm_app.platform.db import get_engine


class _Unit:
    """The request's session, and whether it was already finished."""

    __slots__ = ("finished", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.finished = False

    def finish(self, *, commit: bool) -> None:
        if self.finished:
            return
        self.finished = True
        try:
            if commit:
                self.session.commit()
            else:
                self.session.rollback()
        except BaseException:
            self.session.rollback()
            raise
        finally:
            self.session.close()


#: The unit of work of the request being served: set by `db_session` in the request's context, which
#: the worker thread running the route inherits (anyio copies the context into it).
_current_unit: ContextVar[_Unit | None] = ContextVar("opex_request_unit_of_work", default=None)


async def db_session() -> AsyncIterator[Session]:
    """One unit of work per request. Opening a session does no I/O, so it happens on the event loop.
    The commit (or the rollback, on an error) and the close happen in the thread that ran the route
    (`finish_current`); for a route that did not finish it (an async route, an error before the route
    ran), here, in the thread pool."""
    unit = _Unit(Session(get_engine(), expire_on_commit=False))
    _current_unit.set(unit)
    try:
        yield unit.session
    except BaseException:
        if not unit.finished:
            await run_in_threadpool(unit.finish, commit=False)
        raise
    if not unit.finished:
        await run_in_threadpool(unit.finish, commit=True)


def finish_current(*, commit: bool) -> None:
    """In the worker thread that ran a route: finish the request's unit of work, if it opened one."""
    unit = _current_unit.get()
    if unit is not None:
        unit.finish(commit=commit)
