"""The OpenAPI document (/api/openapi.json), completed from the routes themselves:

- every operation lists the error answers it can give (400/401/403/404/409/422), each with the one
  error shape (`ErrorBody`, a shared component), derived from what the route depends on: a bearer
  actor can be refused (401, 403); a path id, a record (or section) a body names, or a module that
  can be switched off can be missing (404); a change can conflict (409); a body can be unreadable
  (400); any input can be refused (422: the edge checks every query parameter, even undeclared ones);
- FastAPI's own 422 (`HTTPValidationError`, `{"detail": …}`), which the API never sends, is gone, and
  so are NiceGUI's asset routes (not part of the API);
- the models of answers mark every field required: an answer always carries all its fields (a field
  with a default is required in an answer, only optional in a request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from crm_app.platform.api import deps
from crm_app.platform.api.errors import ErrorBody
from crm_app.platform.api.settings import module_enabled

REF_PREFIX = "#/components/schemas/"
ERROR_REF = {"$ref": f"{REF_PREFIX}{ErrorBody.__name__}"}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

DESCRIPTIONS = {
    400: "The request body could not be read (not UTF-8, or a form that cannot be parsed)",
    401: "Not authenticated: no bearer token, or an expired or revoked one",
    403: "Not allowed for your role or scope",
    404: "Not found (or not visible to you, or its module is switched off)",
    409: "Conflict: a stale version, a duplicate, or a state that does not allow it",
    422: "Validation failed: `error.fields` names each refused field or parameter",
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def error_statuses(route: RouteContext) -> set[int]:
    """The error answers `route` (an API route as included, with its routers' dependencies) can give,
    from its dependencies and parameters."""
    dependant: Dependant = route.dependant
    calls = set(_calls(dependant))
    statuses = {422}
    authenticated = not deps.AUTHENTICATING.isdisjoint(calls)
    if authenticated:
        statuses |= {401, 403}
    if dependant.path_params or dependant.body_params or module_enabled in calls:
        statuses.add(404)  # the record of the path, or one the body names, or the module, is missing
    if dependant.body_params:
        statuses.add(400)
    if authenticated and (route.methods or set()) & WRITE_METHODS:
        statuses.add(409)
    return statuses


def _error_response(existing: dict[str, Any] | None, status: int) -> dict[str, Any]:
    response = dict(existing or {})
    response.setdefault("description", DESCRIPTIONS[status])
    response["content"] = {"application/json": {"schema": ERROR_REF}}
    return response


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            yield ref.removeprefix(REF_PREFIX)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(names: Iterable[str], schemas: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def _require_answer_fields(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    requests: list[str] = []
    answers: list[str] = []
    for operations in document["paths"].values():
        for operation in operations.values():
            requests.extend(_refs(operation.get("requestBody")))
            requests.extend(_refs(operation.get("parameters")))
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2"):
                    answers.extend(_refs(response))
    answer_only = _closure(answers, schemas) - _closure(requests, schemas)
    for name in answer_only:
        properties = schemas[name].get("properties")
        if properties:
            schemas[name]["required"] = list(properties)


def complete(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Add the error answers and the answers' required fields to `document` (in place; returns it)."""
    document["paths"] = {path: item for path, item in document["paths"].items() if path.startswith("/api/")}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _require_answer_fields(document, schemas)
    error_schema = ErrorBody.model_json_schema(ref_template=REF_PREFIX + "{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas[ErrorBody.__name__] = error_schema
    for route in iter_route_contexts(list(routes)):
        if not (isinstance(route.original_route, APIRoute) and route.include_in_schema):
            continue
        if not (route.path_format or "").startswith("/api/"):
            continue  # NiceGUI's own routes keep their answers
        operations = document["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(route) | {int(s) for s in responses if s in {"401", "409"}}):
                existing = responses.get(str(status))
                responses[str(status)] = _error_response(None if status == 422 else existing, status)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document (built at the first request, then kept, as FastAPI does)."""
    app.openapi_schema = None  # the tests build the application again
    generate = FastAPI.openapi.__get__(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
