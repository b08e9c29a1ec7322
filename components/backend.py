"""The one way a page reaches the services: off the event loop, in a unit of work, with domain
errors turned into messages next to the field or as a notification, translated."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from nicegui import app, run, ui

from crm_app.accounts import auth
from crm_app.platform import security_log
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    ValidationFailed,
)
from crm_app.platform.i18n import current_locale, use_locale
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor
from crm_app.platform.security_log import ClientInfo

T = TypeVar("T")
log = logging.getLogger(__name__)

SESSION_KEY = "session_id"
ACTOR_KEY = "actor"


def login_url(path: str) -> str:
    return "/login" if path in {"", "/"} else f"/login?redirect_to={quote(path, safe='/')}"


def safe_redirect(target: str | None) -> str:
    """`target` when it is a path of this site (no scheme, no host, no `//`), else the dashboard."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def client_info() -> ClientInfo:
    request = ui.context.client.request
    return ClientInfo(ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent"))


def stored_session_id() -> str | None:
    value = app.storage.user.get(SESSION_KEY)
    return str(value) if value else None


def current_actor() -> Actor:
    """The actor resolved for this tab when the current page was built."""
    actor = app.storage.client.get(ACTOR_KEY)
    if not isinstance(actor, Actor):
        raise NotAuthenticated()
    return actor


def _resolve(session_id: str | None) -> Actor | None:
    try:
        return auth.session_actor(session_id)
    except NotAuthenticated:
        return None


async def resolve_actor() -> Actor | None:
    """Check this browser's session against the database (revocation takes effect at once)."""
    actor = await run.io_bound(_resolve, stored_session_id())
    if actor is not None:
        app.storage.client[ACTOR_KEY] = actor
    return actor


def _run_as_actor(
    fn: Callable[..., T],
    session_id: str | None,
    client: ClientInfo,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    locale: str,
) -> T:
    actor: Actor | None = None
    try:
        with use_locale(locale), unit_of_work() as session:
            actor = auth.resolve_session(session, session_id)
            return fn(session, actor, *args, **kwargs)
    except Forbidden as exc:
        security_log.log_refusal(actor, exc.action, client)
        raise


def _run_anonymous(fn: Callable[..., T], locale: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    with use_locale(locale), unit_of_work() as session:
        return fn(session, *args, **kwargs)


def show_error(error: DomainError, fields: Mapping[str, Any] | None = None) -> None:
    """Put each field's message next to its input; anything else becomes a notification."""
    if isinstance(error, ValidationFailed):
        unplaced = []
        for name, message in error.field_errors.items():
            element = (fields or {}).get(name)
            if element is not None and hasattr(element, "error"):
                element.error = _(message)
            else:
                unplaced.append(_(message))
        ui.notify(" ".join(unplaced) or _(error.message), type="negative")
        return
    if isinstance(error, Conflict) and error.changed_by:
        ui.notify(
            _("{name} changed this record in the meantime. Reload to see their changes.", name=error.changed_by),
            type="warning",
            multi_line=True,
        )
        return
    if isinstance(error, Forbidden | NotFound | InvalidTransition | Conflict):
        ui.notify(_(error.message), type="negative")
        return
    ui.notify(_(error.message) or _("Something went wrong."), type="negative")


def clear_errors(fields: Mapping[str, Any]) -> None:
    for element in fields.values():
        if hasattr(element, "error"):
            element.error = None


def call(
    fn: Callable[..., T],
    *args: Any,
    fields: Mapping[str, Any] | None = None,
    on_error: Mapping[type[DomainError], Callable[[Any], Any]] | None = None,
    **kwargs: Any,
) -> Coroutine[Any, Any, T | None]:
    """Run `fn(session, actor, *args, **kwargs)` in a worker thread and one unit of work.

    Awaited, it gives the service's result, or None when it failed: the user has then been told why
    (next to the field, as a notification, or by being sent to the login page). `on_error` lets a
    page handle one kind of error itself (a duplicate warning with "create anyway", say). The page's
    context is taken when `call` is made, so several calls may be awaited together (asyncio.gather).
    """
    client = ui.context.client
    path = client.sub_pages_router.current_path or "/"
    session_id, info = stored_session_id(), client_info()
    # The worker thread does not see the page's context: what the service words (a notification's
    # title, the security log's details) is worded in the reader's language, read here.
    locale = current_locale()
    if fields:
        clear_errors(fields)

    async def execute() -> T | None:
        try:
            return await run.io_bound(_run_as_actor, fn, session_id, info, args, kwargs, locale=locale)
        except NotAuthenticated:
            with client:
                ui.navigate.to(login_url(path))
        except DomainError as error:
            with client:
                handler = next((h for kind, h in (on_error or {}).items() if isinstance(error, kind)), None)
                if handler is not None:
                    handler(error)
                else:
                    show_error(error, fields)
        return None

    return execute()


async def call_for_file(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """For a route that answers with a file rather than a screen (a PDF): `fn(session, actor, *args)` off
    the event loop, as the signed-in reader and in their language, like `call`; but a domain error is
    raised to the route, which answers it with a status (401, 404) instead of a message on a screen.
    None when the server is shutting down."""
    return await run.io_bound(
        _run_as_actor, fn, stored_session_id(), ClientInfo(), args, kwargs, locale=current_locale()
    )


async def call_anonymous(
    fn: Callable[..., T], *args: Any, fields: Mapping[str, Any] | None = None, **kwargs: Any
) -> T | None:
    """Like `call` for what needs no signed-in user (logging in): `fn(session, *args, **kwargs)`."""
    if fields:
        clear_errors(fields)
    try:
        return await run.io_bound(_run_anonymous, fn, current_locale(), args, kwargs)
    except DomainError as error:
        show_error(error, fields)
    return None
