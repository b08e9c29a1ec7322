"""The REST routes of the areas: a sync route, its actor's look-up and its unit of work's end in one trip
to the thread pool.

FastAPI sends a plain (sync) route through the thread pool, then validates the route's answer in the
thread pool again; the actor's look-up (a sync dependency) is another trip, and the unit of work's commit,
a dependency's teardown, a fourth. Each trip wakes a worker thread and pays anyio's bookkeeping on the
event loop (a cancel scope, the capacity limiter, the running loop looked up several times): on
`GET /api/auth/me` the trips cost more than the SQL.

`UnitOfWorkRoute` gives FastAPI an async stand-in for a sync route, which makes one trip: there it looks
the actor up, runs the route, then commits (or rolls back, on an error) and closes the request's session.
FastAPI validates the answer on the event loop afterwards, where it is plain data: the session keeps what
it loaded on commit (`expire_on_commit=False`) and, closed, raises rather than reaching the database if
anything were still to load. The client still gets the answer after the commit.

The actor is looked up in the trip only where the route itself is the one asking for it (`ActorDep` as
a parameter): `deps.deferred_actor` then stands in for `deps.current_actor`, refusing at once a request
without a bearer token, and the trip resolves it before calling the route. A request whose token turns
out invalid, expired or revoked is still refused with a 401 before the route runs; only a malformed
parameter of such a request now answers 422 first (the API's schema is public).

Every REST router of the areas is built with `area_router` (a test checks it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends as DependsMarker
from fastapi.routing import APIRoute

from crm_app.platform.api import deps
from crm_app.platform.api.unit_of_work import finish_current

_DEFERRED = Annotated[deps.DeferredActor, Depends(deps.deferred_actor, scope="function")]


def _asks_for_the_actor(annotation: Any) -> bool:
    """Whether a parameter is `deps.ActorDep` (Annotated with `Depends(current_actor)`)."""
    if get_origin(annotation) is not Annotated:
        return False
    return any(
        isinstance(marker, DependsMarker) and marker.dependency is deps.current_actor
        for marker in get_args(annotation)[1:]
    )


def _run_in_trip(route: Callable[..., Any], values: dict[str, Any], deferred: tuple[str, ...]) -> Any:
    """In the worker thread: the actor, the route, then the request's unit of work."""
    try:
        for name in deferred:
            values[name] = values[name].resolve()
        answer = route(**values)
    except BaseException:
        finish_current(commit=False)
        raise
    finish_current(commit=True)
    return answer


def in_one_trip(route: Callable[..., Any]) -> Callable[..., Any]:
    """An async stand-in for a plain sync route function: FastAPI reads the same parameters (the actor's
    deferred), name and documentation from it, and awaits it on the event loop. Other callables are
    returned as they are (async routes, generators that stream an answer, callable objects)."""
    if not inspect.isfunction(route) or inspect.iscoroutinefunction(route) or inspect.isgeneratorfunction(route):
        return route
    signature = inspect.signature(route, eval_str=True)
    deferred = tuple(name for name, p in signature.parameters.items() if _asks_for_the_actor(p.annotation))
    parameters = [p.replace(annotation=_DEFERRED) if p.name in deferred else p for p in signature.parameters.values()]

    async def stand_in(**values: Any) -> Any:
        return await run_in_threadpool(_run_in_trip, route, values, deferred)

    # No __wrapped__: FastAPI would look through it and take the stand-in for a sync function.
    stand_in.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    stand_in.__name__, stand_in.__qualname__ = route.__name__, route.__qualname__
    stand_in.__module__, stand_in.__doc__ = route.__module__, route.__doc__
    return stand_in


class UnitOfWorkRoute(APIRoute):
    """A REST route whose sync function runs with its actor's look-up and its unit of work's end in one
    trip to the thread pool."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, in_one_trip(endpoint), **options)


def area_router(**options: Any) -> APIRouter:
    """The REST router of an area (`fastapi.APIRouter`'s options), its routes `UnitOfWorkRoute`s."""
    return APIRouter(route_class=UnitOfWorkRoute, **options)
