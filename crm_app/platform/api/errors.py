"""Domain errors → HTTP, in one place: `{"error": {"code", "message", "fields"?, ...}}`; the same
shape for what never reaches a route (a body that cannot be read, a method the path does not take)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_app.platform import security_log
from crm_app.platform.api.deps import client_info
from crm_app.platform.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from crm_app.platform.i18n import N_, gettext, negotiate, use_locale

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    ValidationFailed: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidTransition: 409,
    NotAuthenticated: 401,
    RateLimited: 429,
}


class ErrorDetail(BaseModel):
    code: str = Field(description="validation_failed, not_found, forbidden, conflict, not_authenticated, …")
    message: str = Field(description="In the language of Accept-Language")
    fields: dict[str, str] | None = Field(
        default=None, description="validation_failed: each refused field (or parameter) and why"
    )

    model_config = {"extra": "allow"}


class ErrorBody(BaseModel):
    """The one shape of every error answer of the API."""

    error: ErrorDetail


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}


def _status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    with use_locale(negotiate(request.headers.get("accept-language")) or "en"):
        extra: dict[str, Any] = {}
        if isinstance(exc, ValidationFailed):
            extra["fields"] = {name: gettext(message) for name, message in exc.field_errors.items()}
        message = gettext(exc.message, **{k: v for k, v in exc.params.items() if v is not None})
    if isinstance(exc, Conflict | InvalidTransition):
        extra.update(exc.params)
    headers: dict[str, str] | None = None
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        extra["retry_after"] = exc.retry_after
    if isinstance(exc, Forbidden):
        details = {k: v for k, v in exc.params.items() if k != "action"}
        extra.update(details)
        actor = getattr(request.state, "actor", None)
        security_log.log_refusal(actor, exc.action, client_info(request), **details)
    return JSONResponse(error_body(exc.code, message, **extra), status_code=_status_for(exc), headers=headers)


#: pydantic's error types, in the words of the rest of the API (its own messages are English only).
_REQUIRED = N_("This field is required.")
_TOO_LARGE = N_("This value is too large.")
_TOO_SMALL = N_("This value is too small.")
_PYDANTIC_MESSAGES = {
    "missing": _REQUIRED,
    "extra_forbidden": N_("This field is not accepted here."),
    "less_than_equal": _TOO_LARGE,
    "less_than": _TOO_LARGE,
    "greater_than_equal": _TOO_SMALL,
    "greater_than": _TOO_SMALL,
    "json_invalid": N_("The body is not valid JSON."),
}
_NOT_VALID = N_("This value is not valid.")
_UNREADABLE_BODY = N_("The request body could not be read.")


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _field_name(error: Any) -> str:
    """The field or parameter, without where FastAPI found it ("body", "query", …); a JSON syntax
    error's location is its offset in the body, not a field: the body itself is named."""
    if error["type"] == "json_invalid":
        return "body"
    location = list(error["loc"])
    if location and location[0] in _LOCATIONS:
        location = location[1:]
    return ".".join(str(part) for part in location) or "body"


def _field_message(error: Any) -> str:
    if error.get("input", ...) is None and error["type"] not in _PYDANTIC_MESSAGES:
        return _REQUIRED  # null where a value is required (`str`, not `str | None`)
    return _PYDANTIC_MESSAGES.get(error["type"], _NOT_VALID)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Malformed requests (a missing field, a number that is not one): the same body and the same
    language as a service's refusal."""
    assert isinstance(exc, RequestValidationError)
    with use_locale(negotiate(request.headers.get("accept-language")) or "en"):
        fields: dict[str, str] = {}
        for error in exc.errors():
            fields.setdefault(_field_name(error), gettext(_field_message(error)))
        message = gettext(ValidationFailed.default_message)
    return JSONResponse(error_body("validation_failed", message, fields=fields), status_code=422)


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", _UNREADABLE_BODY),  # FastAPI's only 400: a body it could not parse
    404: ("not_found", N_("No such API endpoint.")),
    405: ("method_not_allowed", N_("This method is not allowed here.")),
}


def http_error(request: Request, status: int, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An HTTP-level refusal (not a domain error) in the API's error shape and the caller's language."""
    code, message = _HTTP_ERRORS.get(status, ("http_error", N_("The request could not be handled.")))
    with use_locale(negotiate(request.headers.get("accept-language")) or "en"):
        extra = {"fields": {"body": gettext(message)}} if status == 400 else {}
        return JSONResponse(error_body(code, gettext(message), **extra), status_code=status, headers=headers)


#: The name of the API's catch-all route (crm_app/platform/api/health.py), which takes any method.
CATCH_ALL = "unknown_api_endpoint"


def allowed_methods(request: Request) -> set[str]:
    """The methods of every route of the application whose path matches the request's (but the API's
    catch-all)."""
    allowed: set[str] = set()
    path = request.scope["path"]
    for route in iter_route_contexts(request.app.router.routes):
        pattern, methods = getattr(route, "path_regex", None), route.methods
        if route.name != CATCH_ALL and methods and pattern is not None and pattern.match(path):
            allowed |= methods
    return allowed


def method_not_allowed(request: Request, allowed: Collection[str]) -> JSONResponse:
    """405 with the `Allow` header (HEAD wherever GET is: the fast path answers it)."""
    methods = set(allowed) | ({"HEAD"} if "GET" in allowed else set())
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    return http_error(request, 405, headers={"Allow": ", ".join(m for m in order if m in methods)})


Handler = Callable[[Request, Exception], Awaitable[Response]]
#: The handlers the application had before ours, for everything outside /api (NiceGUI's 404 page).
_page_handlers: dict[Any, Any] = {}


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if is_api_path(request.url.path):
        if exc.status_code == 405:  # the router names the first route of the path only
            return method_not_allowed(request, allowed_methods(request))
        return http_error(request, exc.status_code, headers=exc.headers)
    fallback = _page_handlers.get(exc.status_code) or _page_handlers.get(StarletteHTTPException)
    return await (fallback or http_exception_handler)(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    for key in (404, 405, StarletteHTTPException):
        handler = app.exception_handlers.get(key)
        if handler is not None and handler is not _http_exception:  # once: the tests build the app again
            _page_handlers[key] = handler
        app.add_exception_handler(key, _http_exception)
