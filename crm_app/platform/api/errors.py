"""Domain errors → HTTP, in one place: `{"error": {"code", "message", "fields"?, ...}}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from crm_app.platform import security_log
from crm_app.platform.api.deps import client_info
from crm_app.platform.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
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
}


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
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    if isinstance(exc, Forbidden):
        actor = getattr(request.state, "actor", None)
        security_log.log_refusal(actor, exc.action, client_info(request))
    return JSONResponse(error_body(exc.code, message, **extra), status_code=_status_for(exc), headers=headers)


#: pydantic's error types, in the words of the rest of the API (its own messages are English only).
_PYDANTIC_MESSAGES = {
    "missing": N_("This field is required."),
    "extra_forbidden": N_("This field is not accepted here."),
}
_NOT_VALID = N_("This value is not valid.")


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Malformed requests (a missing field, a number that is not one): the same body and the same
    language as a service's refusal."""
    assert isinstance(exc, RequestValidationError)
    with use_locale(negotiate(request.headers.get("accept-language")) or "en"):
        fields = {
            ".".join(str(p) for p in error["loc"] if p != "body"): gettext(
                _PYDANTIC_MESSAGES.get(error["type"], _NOT_VALID)
            )
            for error in exc.errors()
        }
        message = gettext(ValidationFailed.default_message)
    return JSONResponse(error_body("validation_failed", message, fields=fields), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
