"""The scopes of personal API tokens and the one map from the REST API's routes to them."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from crm_app import bootstrap
from crm_app.integrations import scopes
from crm_app.integrations.scopes import ScopeMissing, TokenNotAccepted, TokenScope, check_route, grants, normalize
from crm_app.platform.api.deps import AUTHENTICATING
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor


def _token_actor(*granted: str) -> Actor:
    return Actor(
        id=uuid.uuid4(),
        email="t@example.org",
        full_name="T",
        role=Role.ADMIN,
        token_id=uuid.uuid4(),
        scopes=frozenset(granted),
    )


def _authenticates(dependant: Dependant) -> bool:
    return dependant.call in AUTHENTICATING or any(_authenticates(d) for d in dependant.dependencies)


def _api_routes() -> list[APIRoute]:
    """The API's routes as a request finds them (`scope["route"]`, whose path the guard reads)."""
    app = FastAPI()
    app.include_router(bootstrap.api_router())
    found = (context.original_route for context in iter_route_contexts(app.router.routes))
    return [route for route in found if isinstance(route, APIRoute)]


def test_every_route_that_authenticates_has_an_explicit_rule() -> None:
    """A new route must be placed in ROUTE_RULES (a token is refused where none applies: a test
    failing here is the reminder to say which scope it needs)."""
    authenticated = [route for route in _api_routes() if _authenticates(route.dependant)]
    assert len(authenticated) > 100
    missing = [route.path for route in authenticated if scopes.rule_for(route.path) is None]
    assert missing == []


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/institutions/{institution_id}", "institutions:read"),
        ("PATCH", "/api/institutions/{institution_id}", "institutions:write"),
        ("GET", "/api/institutions/{institution_id}/contacts", "contacts:read"),
        ("POST", "/api/institutions/bulk/tasks", "activities:write"),
        ("GET", "/api/institutions/{institution_id}/health", "institutions:read"),
        ("POST", "/api/quotes/{quote_id}/send", "quotes:write"),
        ("POST", "/api/quotes/{quote_id}/invoice", "invoices:write"),
        ("GET", "/api/opportunities/{opportunity_id}/activities", "activities:read"),
        ("DELETE", "/api/opportunity-lost-reasons/{reason_id}", "admin"),
        ("GET", "/api/catalog", "quotes:read"),
        ("POST", "/api/catalog", "admin"),
        ("PATCH", "/api/settings", "admin"),
        ("GET", "/api/analytics/receivables", "invoices:read"),
    ],
)
def test_each_route_needs_its_areas_read_or_write_scope(method: str, path: str, expected: str) -> None:
    with pytest.raises(ScopeMissing) as refused:
        check_route(_token_actor(), method, path)
    assert refused.value.params["scope"] == expected
    check_route(_token_actor(expected), method, path)  # and that scope is enough


def test_the_dashboard_needs_the_read_scope_of_every_figure_it_shows() -> None:
    some = ("institutions:read", "activities:read", "opportunities:read", "quotes:read")
    with pytest.raises(ScopeMissing):
        check_route(_token_actor(*some), "GET", "/api/analytics/dashboard")
    check_route(_token_actor(*some, "invoices:write"), "GET", "/api/analytics/dashboard")


@pytest.mark.parametrize(
    "path", ["/api/tokens", "/api/tokens/{token_id}", "/api/users/{user_id}/tokens", "/api/notifications", "/api/x"]
)
def test_token_management_and_unknown_paths_refuse_every_token(path: str) -> None:
    with pytest.raises(TokenNotAccepted):
        check_route(_token_actor(*TokenScope), "GET", path)


def test_a_login_is_not_limited_by_scopes() -> None:
    login = Actor(id=uuid.uuid4(), email="l@example.org", full_name="L", role=Role.USER)
    check_route(login, "DELETE", "/api/tokens/{token_id}")


def test_write_implies_read_of_its_area_only() -> None:
    assert grants({"quotes:write"}, "quotes:read")
    assert not grants({"quotes:read"}, "quotes:write")
    assert not grants({"quotes:write"}, "invoices:read")
    assert not grants({"admin"}, "quotes:read")


def test_normalize_orders_dedupes_and_drops_implied_reads() -> None:
    assert normalize(["quotes:read", "admin", "quotes:write", "contacts:read", "contacts:read"]) == (
        TokenScope.CONTACTS_READ,
        TokenScope.QUOTES_WRITE,
        TokenScope.ADMIN,
    )
    with pytest.raises(ValueError, match="quotes:delete"):
        normalize(["quotes:delete"])
