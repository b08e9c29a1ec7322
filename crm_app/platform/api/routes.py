"""The REST routes of the areas: a sync route opens its unit of work, runs and commits in one trip to the
thread pool.

FastAPI sends a plain (sync) route through the thread pool, then checks the route's answer in the thread
pool again; the unit of work's commit, a dependency's teardown, is a third trip. Each trip wakes a worker
thread and pays anyio's bookkeeping on the event loop (a cancel scope, the capacity limiter, the running
loop looked up several times), and the session's dependency an async context of its own: on
`GET /api/auth/me` all that cost more than the SQL.

`UnitOfWorkRoute` gives FastAPI an async stand-in for a sync route, without the route's `SessionDep`
parameters. The stand-in makes one trip: there it opens the unit of work if the route asks for a
session, runs the route, then commits (or rolls back, on an error) and closes the session. FastAPI checks
the answer on the event loop afterwards, where it is plain data: the session keeps what it loaded on
commit (`expire_on_commit=False`) and, closed, raises rather than reaching the database if anything were
still to load. The client still gets the answer after the commit.

The actor (`ActorDep`) is looked up before, on the event loop (`deps.current_actor`): a token found
invalid, expired or revoked is refused with a 401 before any thread or unit of work.

When another of the route's dependencies asks for a session too, the route keeps the one
`db_session` opened for them all (one unit of work per request), and its trip finishes it.
Every REST router of the areas is built with `area_router` (a test checks it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.params import Depends as DependsMarker
from fastapi.routing import APIRoute

from crm_app.platform.api.unit_of_work import Unit, db_session, opened_unit


def _depends_on(annotation: Any, dependency: Callable[..., Any]) -> bool:
    """Whether a parameter is `Annotated[..., Depends(dependency)]`."""
    if get_origin(annotation) is not Annotated:
        return False
    return any(isinstance(m, DependsMarker) and m.dependency is dependency for m in get_args(annotation)[1:])


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


@dataclass(frozen=True, slots=True)
class _Trip:
    route: Callable[..., Any]
    sessions: tuple[str, ...]  # the parameters given the unit's session
    shares_session: bool  # another dependency asked for a session: use the one db_session opened

    def __call__(self, values: dict[str, Any]) -> Any:
        """In the worker thread: the unit of work, the route, then the commit or the rollback."""
        unit = opened_unit() if self.shares_session else None
        try:
            if self.sessions:
                unit = Unit()
                for name in self.sessions:
                    values[name] = unit.session
            answer = self.route(**values)
        except BaseException:
            if unit is not None:
                unit.finish(commit=False)
            raise
        if unit is not None:
            unit.finish(commit=True)
        return answer


def in_one_trip(route: Callable[..., Any]) -> Callable[..., Any]:
    """An async stand-in for a plain sync route function: FastAPI reads the same parameters (the session
    left out), name and documentation from it, and awaits it on the event loop. Other
    callables are returned as they are (async routes, generators that stream an answer, callable objects)."""
    if not inspect.isfunction(route) or inspect.iscoroutinefunction(route) or inspect.isgeneratorfunction(route):
        return route
    signature = inspect.signature(route, eval_str=True)
    parameters = signature.parameters.values()
    sessions = tuple(p.name for p in parameters if _depends_on(p.annotation, db_session))
    others = signature.replace(parameters=[p for p in parameters if p.name not in sessions])
    shares = db_session in _calls(get_dependant(path="", call=_signed(others)))
    trip = _Trip(route, () if shares else sessions, shares_session=shares)
    kept = [p for p in parameters if shares or p.name not in sessions]

    async def stand_in(**values: Any) -> Any:
        return await run_in_threadpool(trip, values)

    # No __wrapped__: FastAPI would look through it and take the stand-in for a sync function.
    _sign(stand_in, signature.replace(parameters=kept))
    stand_in.__name__, stand_in.__qualname__ = route.__name__, route.__qualname__
    stand_in.__module__, stand_in.__doc__ = route.__module__, route.__doc__
    return stand_in


def _sign(function: Callable[..., Any], signature: inspect.Signature) -> None:
    function.__signature__ = signature  # type: ignore[attr-defined]


def _signed(signature: inspect.Signature) -> Callable[..., Any]:
    """A function with `signature`, for FastAPI to read the dependencies of."""

    def reads(**_values: Any) -> None:
        return None

    _sign(reads, signature)
    return reads


class UnitOfWorkRoute(APIRoute):
    """A REST route whose sync function runs with its unit of work in one trip to the thread pool."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, in_one_trip(endpoint), **options)


def area_router(**options: Any) -> APIRouter:
    """The REST router of an area (`fastapi.APIRouter`'s options), its routes `UnitOfWorkRoute`s."""
    return APIRouter(route_class=UnitOfWorkRoute, **options)
