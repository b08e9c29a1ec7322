"""The unit of work of a REST request: one session, committed (or rolled back, on an error) and closed
before the answer is sent.

A sync route of an area's router opens and finishes it in its own trip to the thread pool
(`crm_app.platform.api.routes`). `db_session`, the dependency behind `SessionDep`, opens one on the
event loop for whatever else asks for a session (an async route, another dependency); a route's trip
then finishes that one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar

from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from crm_app.platform.db import get_engine


class Unit:
    """A request's session, and whether it was already finished."""

    __slots__ = ("finished", "session")

    def __init__(self) -> None:
        self.session = Session(get_engine(), expire_on_commit=False)  # no I/O until the first statement
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


#: The unit `db_session` opened for the request being served, set in the request's context, which the
#: worker thread running the route inherits (anyio copies the context into it).
_opened: ContextVar[Unit | None] = ContextVar("opex_request_unit_of_work", default=None)


def opened_unit() -> Unit | None:
    """The unit of work `db_session` opened for this request, if a dependency asked for one."""
    return _opened.get()


async def db_session() -> AsyncIterator[Session]:
    """A session for a dependency or an async route. Opening it does no I/O, so it happens on the event
    loop; unless the route's trip finished it, it is finished here, in the thread pool."""
    unit = Unit()
    _opened.set(unit)
    try:
        yield unit.session
    except BaseException:
        if not unit.finished:
            await run_in_threadpool(unit.finish, commit=False)
        raise
    if not unit.finished:
        await run_in_threadpool(unit.finish, commit=True)
