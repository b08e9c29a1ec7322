"""The REST API's routes found by the first segment of their path, instead of one by one.

Since FastAPI 0.137, `include_router` keeps the included router as a node of the routing tree rather
than copying its routes into the application's. Each request walks that tree twice (once to match,
once more to handle), and at every level FastAPI first counts the routers below to see whether a route
was added since. With the areas' routers included in the API's, a request paid for every route
registered before its own: 30 µs for `/api/auth/me`, 360 µs for `/api/webhooks` on the machine of
bench/README.md ("The actor's look-up outside the unit of work, and routing by path segment"), for a
route that then ran in a few hundred.

`ApiRouteIndex` is one route, placed just before the API's router in the application's routes. It
reads the API's routes as FastAPI resolved them (`fastapi.routing.iter_route_contexts`: each with the
API's prefix and router dependencies applied), and groups them by the first segment after `/api/`.
A request then tries only the routes of its segment, in FastAPI's order, and runs the one that matches
exactly as FastAPI's router would (its resolved application, with `scope["route"]` set to the route
the area declared; the first exact match wins, a route of the same path with another method before it
does not stop the search). Anything else falls through to FastAPI's own routing, unchanged: another method
of a known path (a 405), an unknown path (the API's JSON 404), a plugin's mount.

The index keeps FastAPI's choice: a route is indexed only when nothing before it in FastAPI's order
could match a path of its segment, other than the routes of that segment indexed before it. A route
whose first segment is a parameter stops the indexing there (it could match any segment), and a route
that is not an API route (a mount) closes its segment. A test checks every route of the API resolves
to the same route both ways.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute, Match, get_route_path
from starlette.types import Receive, Scope, Send

#: Where the matched route context travels from `matches` to `handle` (Starlette copies the match's
#: child scope into the request's scope between the two).
_SELECTED = "opex.api_route"

_LITERAL_SEGMENT = re.compile(r"[^{}/]+")


class ApiRouteIndex(BaseRoute):
    """The routes under `prefix` of `routes` (FastAPI's included API router), by first path segment."""

    def __init__(self, routes: Sequence[BaseRoute], prefix: str = "/api/") -> None:
        self._routes = routes
        self._prefix = prefix
        self._by_segment: dict[str, tuple[RouteContext, ...]] | None = None

    def segments(self) -> dict[str, tuple[RouteContext, ...]]:
        """Built at the first request: every route is registered by then."""
        if self._by_segment is None:
            self._by_segment = _index(iter_route_contexts(self._routes), self._prefix)
        return self._by_segment

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = get_route_path(scope)
        if not path.startswith(self._prefix):
            return Match.NONE, {}
        segment = path[len(self._prefix) :].split("/", 1)[0]
        for context in self.segments().get(segment, ()):
            match, child_scope = context.matches(scope)
            if match is Match.FULL:  # the first exact match wins, as in FastAPI's router
                return Match.FULL, {**child_scope, "route": context.original_route, _SELECTED: context}
        # Not found here (or only with another method): FastAPI's router answers, a 405 or a JSON 404.
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        context: Any = scope.pop(_SELECTED)
        await context.app(scope, receive, send)


def _index(contexts: Iterable[RouteContext], prefix: str) -> dict[str, tuple[RouteContext, ...]]:
    by_segment: dict[str, list[RouteContext]] = {}
    closed: set[str] = set()
    for context in contexts:
        path = context.path or ""
        if not path.startswith(prefix):
            continue
        segment = path[len(prefix) :].split("/", 1)[0]
        if not _LITERAL_SEGMENT.fullmatch(segment):
            break  # a parameter first: it may match any segment, so nothing after it can be indexed
        if not isinstance(context.original_route, APIRoute) or getattr(context, "app", None) is None:
            closed.add(segment)  # a mount or another kind of route: FastAPI's router decides from here
        elif segment not in closed:
            by_segment.setdefault(segment, []).append(context)
    return {segment: tuple(routes) for segment, routes in by_segment.items()}


def install(routes: list[BaseRoute], api: BaseRoute, prefix: str = "/api/") -> ApiRouteIndex:
    """Put an index of `api` (a router included in `routes`) just before it, in place of an earlier
    one (the application is set up again for every test; NiceGUI's reset leaves other routes be)."""
    routes[:] = [route for route in routes if not isinstance(route, ApiRouteIndex)]
    index = ApiRouteIndex([api], prefix)
    routes.insert(routes.index(api), index)
    return index
