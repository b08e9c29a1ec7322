"""The few domain errors that services raise; the API and the UI each map them in one place."""

from __future__ import annotations

from typing import Any

from crm_app.platform.i18n import N_


class DomainError(Exception):
    """Base class: `message` is an English gettext id, translated where it is shown."""

    code = "error"

    def __init__(self, message: str = "", **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


class ValidationFailed(DomainError):
    """Input refused; `field_errors` maps a field name to its message."""

    code = "validation_failed"
    default_message = N_("Some fields are not valid.")

    def __init__(self, field_errors: dict[str, str], message: str = default_message) -> None:
        super().__init__(message)
        self.field_errors = field_errors


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, message: str = N_("Not found."), **params: Any) -> None:
        super().__init__(message, **params)


class Forbidden(DomainError):
    """The actor may not do this; `action` names the permission that was refused. Other `params` fill
    the message's placeholders and are given in the API's error body (the missing scope of a token)."""

    code = "forbidden"

    def __init__(self, action: str, message: str = N_("You are not allowed to do this."), **params: Any) -> None:
        super().__init__(message, action=action, **params)
        self.action = action


class Conflict(DomainError):
    """Stale version or duplicate key; `changed_by` names who saved first when known."""

    code = "conflict"

    def __init__(
        self,
        message: str = N_("This record was changed by someone else."),
        *,
        changed_by: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message, changed_by=changed_by, **params)
        self.changed_by = changed_by


class InvalidTransition(DomainError):
    code = "invalid_transition"

    def __init__(
        self, current_status: str, message: str = N_("This action is not possible in the current status.")
    ) -> None:
        super().__init__(message, current_status=current_status)
        self.current_status = current_status


class NotAuthenticated(DomainError):
    """Missing, invalid, expired or revoked credentials (HTTP 401)."""

    code = "not_authenticated"

    def __init__(self, message: str = N_("Authentication required.")) -> None:
        super().__init__(message)


class RateLimited(DomainError):
    """Too many requests in the current window (HTTP 429); `retry_after` is in seconds."""

    code = "rate_limited"

    def __init__(self, retry_after: int, message: str = N_("Too many requests. Try again in {seconds} s.")) -> None:
        super().__init__(message, seconds=retry_after)
        self.retry_after = retry_after


class ConfigError(Exception):
    """A configuration problem reported to the operator as one line."""
