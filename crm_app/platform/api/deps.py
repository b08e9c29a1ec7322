"""Request dependencies shared by every router: the unit of work, the bearer actor, client info, and
the edge checks of every request's input (text PostgreSQL can store, bounded paging, the raw query of
a list's filters, bounded days)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo
from sqlmodel import Session

from crm_app.platform.api.unit_of_work import db_session
from crm_app.platform.cleaners import FIRST_DAY, LAST_DAY
from crm_app.platform.errors import NotAuthenticated, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.paging import MAX_PAGE, MAX_PAGE_SIZE
from crm_app.platform.params import StrictQuery
from crm_app.platform.permissions import Actor
from crm_app.platform.security_log import ClientInfo

#: Turns a bearer token into the actor it was issued to, or raises NotAuthenticated (the client is for
#: the security log of a refused token); `crm_app.integrations.api_tokens.authenticate_bearer`, which
#: `crm_app.bootstrap` sets (`set_authenticator`). It is awaited before the route runs, outside the
#: request's unit of work: on the event loop (`crm_app.platform.lookups`), or in the thread pool where
#: the loop cannot (SQLite).
Authenticator = Callable[[str, ClientInfo], Awaitable[Actor]]
_authenticator: Authenticator | None = None


def set_authenticator(authenticator: Authenticator) -> None:
    global _authenticator
    _authenticator = authenticator


#: Refuses a request made with a personal API token whose scopes do not cover the route: (actor, HTTP
#: method, route path) → None or Forbidden. `crm_app.integrations.scopes.check_route`, set by bootstrap.
RouteGuard = Callable[[Actor, str, str], None]
_route_guard: RouteGuard | None = None


def set_route_guard(guard: RouteGuard) -> None:
    global _route_guard
    _route_guard = guard


_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from POST /api/auth/login, or a personal API token (`opx_...`, created "
    "on the profile page or with POST /api/tokens; limited to its scopes).",
)


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent"))


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> HTTPAuthorizationCredentials:
    """The request's bearer credentials; NotAuthenticated without them (no I/O)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated()
    return credentials


async def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """The actor behind the request's bearer token (a login's access token or a personal API token),
    whose scopes, for an API token, must cover the route; NotAuthenticated or Forbidden otherwise.
    Looked up before the route runs and its unit of work opens: a request without a valid token never
    reaches a worker thread."""
    token = _bearer_token(credentials)
    if _authenticator is None:
        raise RuntimeError("no bearer authenticator: crm_app.bootstrap.wire() was not called")
    actor = await _authenticator(token.credentials, client_info(request))
    request.state.actor = actor
    if actor.scopes is not None:  # a personal API token: its scopes must cover the route
        if _route_guard is None:
            raise RuntimeError("no route guard for API tokens: crm_app.bootstrap.wire() was not called")
        # The route's path as its router declares it (the areas' routers are included under /api with
        # no prefix of their own): "/invoices/{invoice_id}", not the invoice's id.
        # A route of a mounted application (a plugin's, under /api/plugins/<name>/) declares its path
        # below the mount: the mount's own path, kept in root_path, goes in front of it.
        route = request.scope.get("route")
        mounted_at = request.scope.get("root_path", "")[len(request.scope.get("app_root_path", "")) :]
        route_path = getattr(route, "path", None)
        _route_guard(actor, request.method, mounted_at + route_path if route_path else request.url.path)
    return actor


#: The dependency that authenticates a request: a route depending on it answers 401 without a valid
#: token (and 403 when its rights or an API token's scopes fall short).
AUTHENTICATING = frozenset({current_actor})


# scope="function": the unit of work commits before the response is sent, so a client that reads
# the answer (a new token, a saved record) never races the commit.
SessionDep = Annotated[Session, Depends(db_session, scope="function")]
ActorDep = Annotated[Actor, Depends(current_actor, scope="function")]


async def _client_dependency(request: Request) -> ClientInfo:
    """`client_info` as a dependency: async although it awaits nothing, since FastAPI would send a
    sync dependency through the thread pool."""
    return client_info(request)


ClientDep = Annotated[ClientInfo, Depends(_client_dependency)]


# --------------------------------------------------------------------------------------------
# The edge: checks every request's input gets before any route reads it

UNSTORABLE_TEXT = N_("This text contains a character that cannot be stored (a NUL byte or a lone surrogate).")

#: In a JSON body, a NUL or a lone surrogate can only come escaped (`\u0000`, `\ud800`): raw control
#: characters are not JSON and raw surrogates are not UTF-8. Only a body holding such an escape is
#: parsed a second time to find the field.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def is_storable(text: str) -> bool:
    """False for text PostgreSQL refuses: a NUL byte, or a lone UTF-16 surrogate (not UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable(value: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """The dotted paths (as the other validation errors name them) of the strings, keys included,
    that cannot be stored."""
    if isinstance(value, str):
        if not is_storable(value):
            yield ".".join(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not is_storable(key):
                yield ".".join((*path, key.encode("utf-8", "replace").decode().replace("\x00", "")))
            else:
                yield from _unstorable(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable(item, (*path, str(index)))


async def refuse_unstorable_text(request: Request) -> None:
    """Router dependency of the whole API: a NUL byte or a lone surrogate in the path, the query, a
    JSON body or a form's text fields is refused with a 422 naming the parameter or field, before any
    route stores it (PostgreSQL refuses NUL in text, and a lone surrogate is not UTF-8)."""
    errors: dict[str, str] = {}
    for name, value in request.path_params.items():
        if isinstance(value, str) and not is_storable(value):
            errors[name] = UNSTORABLE_TEXT
    for name, value in request.query_params.multi_items():
        if not is_storable(name) or not is_storable(value):
            errors[name.replace("\x00", "") or "query"] = UNSTORABLE_TEXT
    # The media type as FastAPI and Starlette read it: without its parameters, whatever its case.
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        form = await request.form()  # parsed once: Starlette keeps it for the route
        for name, value in form.multi_items():
            if not is_storable(name) or (isinstance(value, str) and not is_storable(value)):
                errors[name.replace("\x00", "") or "body"] = UNSTORABLE_TEXT
    elif _has_body(request) and (
        not media or media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    ):
        # FastAPI reads a body without a type as JSON
        body = await request.body()
        if _SUSPECT_ESCAPE.search(body):
            try:
                document = json.loads(body)
            except ValueError:
                document = None  # the route's own parsing answers for a body that is not JSON
            errors.update(dict.fromkeys((path or "body" for path in _unstorable(document)), UNSTORABLE_TEXT))
    if errors:
        raise ValidationFailed(errors)


def _has_body(request: Request) -> bool:
    """Whether the request announces a body (HTTP/1.1: a non-zero Content-Length, or chunks). A GET has
    none: not waiting for one spares every read request a turn of the receive loop, and a client that
    hangs up meanwhile is no longer an error in the log."""
    headers = request.headers
    return headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers


def query_params(request: Request) -> StrictQuery:
    """A list's filters as the service's `from_params` reads them; malformed numbers are refused with
    a 422 naming them (a bookmark's are left out instead: `crm_app.platform.params`)."""
    return StrictQuery({key: request.query_params.getlist(key) for key in request.query_params})


#: The page and page size of every list: bounded, so that no page number overflows the SQL OFFSET.
PageDep = Annotated[int, Query(ge=1, le=MAX_PAGE, description="From 1")]
PageSizeDep = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]

#: A day the API accepts: within the range of every date of the CRM (`cleaners.FIRST_DAY` to
#: `LAST_DAY`), so that date arithmetic never leaves what Python and PostgreSQL can hold.
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def given_not_null(**options: Any) -> Any:
    """A request field that may be omitted but not set to null (type `str`, not `str | None`): its
    default is not validated, so an omitted field stays unset (`exclude_unset`), while an explicit
    null is refused with a 422 before it reaches a column that is never empty. The OpenAPI document
    shows no default for it (null is not one of its values)."""
    return Field(default=None, json_schema_extra=_no_default, **options)


Body = TypeVar("Body", bound=BaseModel)


def partial_model(model: type[Body]) -> type[Body]:
    """The update body of a resource, from its create body: decorates `class XPatch(XIn)`.

    Every field `XIn` requires (what the service needs on creation, so the OpenAPI document marks it
    required and a POST without it answers 422 naming it) becomes optional here, as `given_not_null`:
    its type, constraints and description are kept, an omitted field stays unset (`exclude_unset`:
    it keeps its value) and null is still refused with a 422 where the type refuses it. The fields the
    patch class declares itself (the `version` the API demands) stay as declared."""
    inherited: set[str] = set()
    for base in model.__bases__:
        if issubclass(base, BaseModel):
            inherited |= set(base.model_fields)
    optional: dict[str, Any] = {
        name: (info.annotation, FieldInfo.merge_field_infos(info, given_not_null()))
        for name, info in model.model_fields.items()
        if name in inherited and info.is_required()
    }
    if not optional:
        return model
    return create_model(model.__name__, __base__=model, __module__=model.__module__, __doc__=model.__doc__, **optional)
