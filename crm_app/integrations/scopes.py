"""What a personal API token may reach: its scopes, and the one map from the REST API's routes to the
scope each needs.

A scope is `<area>:read` or `<area>:write` for one of the areas below, or `admin`; `<area>:write`
implies `<area>:read`. A request made with a token acts as the token's owner (their role and rights,
checked by the services as for any request) and is further limited here, before the route runs: a
GET (or HEAD) needs the route's read scope, any other method its write scope.

`ROUTE_RULES` is the one place that says which scope a route needs: keyed by the start of the route's
path (below /api), the longest matching start wins, so a new route under an existing path inherits its
rule. A route under no rule is refused to tokens (a test lists every route that authenticates and
checks that each one has a rule). Token management (`/api/tokens`, a user's tokens), the sessions,
logout and the notifications need a real login: a token cannot mint, list or revoke tokens.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from crm_app.platform.errors import Forbidden
from crm_app.platform.i18n import N_
from crm_app.platform.permissions import Actor


class Area(StrEnum):
    INSTITUTIONS = "institutions"
    CONTACTS = "contacts"
    ACTIVITIES = "activities"
    OPPORTUNITIES = "opportunities"
    QUOTES = "quotes"
    INVOICES = "invoices"


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


class TokenScope(StrEnum):
    """Every scope a token can hold (the API documents them as this enumeration)."""

    INSTITUTIONS_READ = "institutions:read"
    INSTITUTIONS_WRITE = "institutions:write"
    CONTACTS_READ = "contacts:read"
    CONTACTS_WRITE = "contacts:write"
    ACTIVITIES_READ = "activities:read"
    ACTIVITIES_WRITE = "activities:write"
    OPPORTUNITIES_READ = "opportunities:read"
    OPPORTUNITIES_WRITE = "opportunities:write"
    QUOTES_READ = "quotes:read"
    QUOTES_WRITE = "quotes:write"
    INVOICES_READ = "invoices:read"
    INVOICES_WRITE = "invoices:write"
    ADMIN = "admin"


def scope_of(area: Area, access: Access) -> TokenScope:
    return TokenScope(f"{area.value}:{access.value}")


AREA_LABELS: dict[Area, str] = {
    Area.INSTITUTIONS: N_("Institutions"),
    Area.CONTACTS: N_("Contacts"),
    Area.ACTIVITIES: N_("Activities"),
    Area.OPPORTUNITIES: N_("Opportunities"),
    Area.QUOTES: N_("Quotes"),
    Area.INVOICES: N_("Invoices"),
}
ACCESS_LABELS: dict[Access, str] = {Access.READ: N_("Read"), Access.WRITE: N_("Write")}
ADMIN_LABEL = N_("Administration (users, teams, settings, security log)")

#: The methods that only read; any other needs the write scope.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def normalize(scopes: Iterable[str]) -> tuple[TokenScope, ...]:
    """The scopes in their canonical order, without repeats, and without a read scope that a write
    scope of the same area already implies. ValueError names an unknown scope."""
    chosen = {TokenScope(scope) for scope in scopes}
    implied = {scope_of(Area(s.value.split(":")[0]), Access.READ) for s in chosen if s.value.endswith(":write")}
    return tuple(scope for scope in TokenScope if scope in chosen and scope not in implied)


def grants(granted: Collection[str], required: str) -> bool:
    """Whether the scopes `granted` cover `required` (a write scope covers the read of its area)."""
    if required in granted:
        return True
    area, _, access = required.partition(":")
    return access == Access.READ.value and f"{area}:{Access.WRITE.value}" in granted


def describe(scope: str) -> tuple[str, str | None]:
    """(area label, access label) of a scope, as message ids; (admin label, None) for `admin`."""
    if scope == TokenScope.ADMIN:
        return ADMIN_LABEL, None
    area, _, access = scope.partition(":")
    return AREA_LABELS[Area(area)], ACCESS_LABELS[Access(access)]


@dataclass(frozen=True, slots=True)
class Rule:
    """The scopes a token needs for the routes under a path: every scope of `read` for a GET, of
    `write` for any other method. None: tokens are refused there (a real login is needed)."""

    read: tuple[TokenScope, ...] | None
    write: tuple[TokenScope, ...] | None


def _area(area: Area) -> Rule:
    return Rule((scope_of(area, Access.READ),), (scope_of(area, Access.WRITE),))


LOGIN_ONLY = Rule(None, None)
ANY_TOKEN = Rule((), ())
ADMIN = Rule((TokenScope.ADMIN,), (TokenScope.ADMIN,))

#: Route path (below /api) → rule; the longest matching start wins (see the module's docstring).
ROUTE_RULES: dict[str, Rule] = {
    # Who the token acts as: any token may ask.
    "/auth/me": ANY_TOKEN,
    # Credentials and the personal inbox need a real login.
    "/auth/logout": LOGIN_ONLY,
    "/auth/sessions": LOGIN_ONLY,
    "/tokens": LOGIN_ONLY,
    "/users/{user_id}/tokens": LOGIN_ONLY,
    "/notifications": LOGIN_ONLY,
    # Institutions and what hangs off them.
    "/institutions": _area(Area.INSTITUTIONS),  # also their import, export and health score
    "/institutions/{institution_id}/contacts": _area(Area.CONTACTS),
    "/institutions/{institution_id}/timeline": _area(Area.ACTIVITIES),
    "/institutions/bulk": _area(Area.ACTIVITIES),  # tasks and meetings for many institutions at once
    "/contacts": _area(Area.CONTACTS),
    # Activities (comments are written on tasks, meetings and notes as on quotes and opportunities).
    "/tasks": _area(Area.ACTIVITIES),
    "/notes": _area(Area.ACTIVITIES),
    "/meetings": _area(Area.ACTIVITIES),
    "/calls": _area(Area.ACTIVITIES),
    "/comments": _area(Area.ACTIVITIES),
    "/opportunities/{opportunity_id}/activities": _area(Area.ACTIVITIES),
    # Sales.
    "/opportunities": _area(Area.OPPORTUNITIES),
    "/opportunity-lost-reasons": Rule((TokenScope.OPPORTUNITIES_READ,), (TokenScope.ADMIN,)),
    "/quotes": _area(Area.QUOTES),
    "/quotes/{quote_id}/invoice": _area(Area.INVOICES),  # invoicing a quote creates an invoice
    "/invoices": _area(Area.INVOICES),
    "/catalog": Rule((TokenScope.QUOTES_READ,), (TokenScope.ADMIN,)),  # what quote lines are made of
    # Figures: each needs the read scopes of what it counts.
    "/analytics/pipeline": Rule((TokenScope.OPPORTUNITIES_READ,), None),
    "/analytics/forecast": Rule((TokenScope.OPPORTUNITIES_READ,), None),
    "/analytics/receivables": Rule((TokenScope.INVOICES_READ,), None),
    "/analytics/dashboard": Rule(
        (
            TokenScope.INSTITUTIONS_READ,
            TokenScope.ACTIVITIES_READ,
            TokenScope.OPPORTUNITIES_READ,
            TokenScope.QUOTES_READ,
            TokenScope.INVOICES_READ,
        ),
        None,
    ),
    # Administration.
    "/users": ADMIN,
    "/teams": ADMIN,
    "/security-log": ADMIN,
    "/settings": ADMIN,
    # The public events' catalogue: what any integration may read; webhooks are administration.
    "/events/catalogue": ANY_TOKEN,
    "/webhooks": ADMIN,
    # Plugins: their administration, and each plugin's own routes under /plugins/<name>/.
    "/plugins": ADMIN,
}

API_PREFIX = "/api"


def rule_for(path: str) -> Rule | None:
    """The rule of a route path (with or without the /api prefix); None when no rule covers it."""
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX) :]
    best: str | None = None
    for start in ROUTE_RULES:
        if (path == start or path.startswith(start + "/")) and (best is None or len(start) > len(best)):
            best = start
    return ROUTE_RULES[best] if best is not None else None


class ScopeMissing(Forbidden):
    """403: the token lacks a scope the route needs (the body names it)."""

    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            "api_token.scope",
            N_("This API token lacks the scope {scope} needed here."),
            scope=scope,
        )


class TokenNotAccepted(Forbidden):
    """403: the route needs a real login (token management, sessions, notifications)."""

    code = "token_not_accepted"

    def __init__(self) -> None:
        super().__init__(
            "api_token.login_only",
            N_("Personal API tokens cannot be used here: sign in with your password instead."),
        )


def check_route(actor: Actor, method: str, path: str) -> None:
    """Refuse a request made with a personal API token unless its scopes cover the route (403 naming
    the first missing scope). A login (no scopes) is never limited here."""
    if actor.scopes is None:
        return
    rule = rule_for(path)
    needed = None if rule is None else (rule.read if method.upper() in READ_METHODS else rule.write)
    if needed is None:
        raise TokenNotAccepted()
    for scope in needed:
        if not grants(actor.scopes, scope):
            raise ScopeMissing(scope.value)
