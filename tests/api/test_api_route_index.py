"""The API's routes are found by their first path segment (crm_app/serving/api_routes.py), and the
route found is the one FastAPI's own routing picks, for every route and method of the API."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi.routing import APIRoute, iter_route_contexts
from nicegui import app
from starlette.routing import Match

from crm_app.serving.api_routes import ApiRouteIndex

_PARAMETER = re.compile(r"{([^}:]+)(?::([^}]+))?}")


def _index() -> ApiRouteIndex:
    [index] = [route for route in app.router.routes if isinstance(route, ApiRouteIndex)]
    return index


def _sample(path: str) -> str:
    """A concrete path of a route's path format: a UUID for every parameter (a `path` one gets two segments)."""

    def value(match: re.Match[str]) -> str:
        return f"{uuid.UUID(int=7)}/x" if match.group(2) == "path" else str(uuid.UUID(int=7))

    return _PARAMETER.sub(value, path)


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def _fastapis_choice(method: str, path: str) -> Any:
    """The route FastAPI's router runs: the first exact match in its order, the index left out."""
    routes = [route for route in app.router.routes if not isinstance(route, ApiRouteIndex)]
    for context in iter_route_contexts(routes):
        if context.matches(_scope(method, path))[0] is Match.FULL:
            return context.original_route
    return None


async def test_every_route_of_the_api_is_found_as_fastapi_finds_it(api: httpx.AsyncClient) -> None:
    index = _index()
    api_routes = [c for c in iter_route_contexts(app.router.routes) if isinstance(c.original_route, APIRoute)]
    checked = indexed = 0
    for context in api_routes:
        declared = context.path or ""
        if not declared.startswith("/api/"):
            continue
        for method in sorted(context.methods or ()):
            path = _sample(declared)
            match, child_scope = index.matches(_scope(method, path))
            expected = _fastapis_choice(method, path)
            if match is Match.FULL:
                indexed += 1
                assert child_scope["route"] is expected, (method, context.path)
            else:
                assert match is Match.NONE
            checked += 1
    assert checked > 150
    assert indexed > 0.9 * checked  # only a few routes are left to FastAPI (the plugins' mount comes last)


async def test_the_index_answers_as_fastapis_router_does(api: httpx.AsyncClient) -> None:
    assert _index().matches(_scope("GET", "/api/health"))[0] is Match.FULL
    assert (await api.get("/api/health")).status_code == 200
    # Another method of a known path: left to FastAPI, which answers 405 with the methods allowed.
    assert _index().matches(_scope("PUT", "/api/health"))[0] is Match.NONE
    refused = await api.put("/api/health")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    # An unknown path of a known segment, and an unknown segment: the API's JSON 404.
    for unknown in ("/api/health/nothing", "/api/nothing-here"):
        assert _index().matches(_scope("GET", unknown))[0] is Match.NONE
        answer = await api.get(unknown)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/json")
    # A page is not the API's.
    assert _index().matches(_scope("GET", "/institutions"))[0] is Match.NONE


async def test_a_route_found_by_the_index_keeps_its_declared_path_for_the_scope_checks(api: httpx.AsyncClient) -> None:
    match, child_scope = _index().matches(_scope("GET", f"/api/institutions/{uuid.UUID(int=3)}"))
    assert match is Match.FULL
    assert child_scope["route"].path == "/institutions/{institution_id}"  # as the area's router declares it
    assert child_scope["path_params"] == {"institution_id": str(uuid.UUID(int=3))}
