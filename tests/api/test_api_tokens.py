"""Personal API tokens through the REST API: created, listed and revoked with a login; shown once and
stored hashed; limited by their scopes and by their owner's rights; expiring; refused at once when
revoked or when the owner is deactivated; never managing tokens; and the API's rate limit."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select

from crm_app.accounts import administration
from crm_app.accounts.models import ApiToken
from crm_app.platform import settings as app_settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.models.rate_limits import RateLimitCounter
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.factories import PASSWORD, make_team, make_user
from tests.institution_factories import make_institution


@dataclass(frozen=True)
class World:
    rep_a: str
    rep_b: str
    admin: str
    team_admin_b: str
    rep_a_id: uuid.UUID
    institution_id: uuid.UUID


@pytest.fixture
def world() -> World:
    with unit_of_work() as session:
        team_a, team_b = make_team(session, "Aquitaine"), make_team(session, "Bretagne")
        rep_a = make_user(session, role=Role.USER, team=team_a, email="anne@example.org", name="Anne")
        make_user(session, role=Role.USER, team=team_b, email="bruno@example.org", name="Bruno")
        make_user(session, role=Role.ADMIN, email="ada@example.org", name="Ada")
        make_user(session, role=Role.TEAM_ADMIN, team=team_b, email="tess@example.org", name="Tess")
        institution = make_institution(session, name="CHU de Nantes")
        return World(
            "anne@example.org", "bruno@example.org", "ada@example.org", "tess@example.org", rep_a.id, institution.id
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


async def _login(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return _bearer(response.json()["access_token"])


async def _create(api: httpx.AsyncClient, login: dict[str, str], scopes: list[str], **body: Any) -> dict[str, Any]:
    response = await api.post(
        "/api/tokens", headers=login, json={"name": f"n8n {uuid.uuid4().hex[:4]}", "scopes": scopes, **body}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _events(action: str) -> list[SecurityEvent]:
    with unit_of_work() as session:
        return list(session.exec(select(SecurityEvent).where(SecurityEvent.action == action)).all())


async def test_a_token_is_shown_once_stored_hashed_listed_and_revoked(api: httpx.AsyncClient, world: World) -> None:
    login = await _login(api, world.rep_a)
    created = await _create(api, login, ["institutions:read", "contacts:write"])
    token = created["token"]
    assert token.startswith("opx_") and len(token) >= 40
    assert created["prefix"] == token[:12]
    assert created["scopes"] == ["institutions:read", "contacts:write"]
    # The end of the day 90 days from today, both where the organisation is (Paris: not the server's
    # UTC day between 23:00 and midnight UTC, when this test once failed).
    default_expiry = datetime.fromisoformat(created["expires_at"]).date()
    today_there = datetime.now(ZoneInfo(app_settings.timezone())).date()
    assert today_there + timedelta(days=90) <= default_expiry <= today_there + timedelta(days=91)
    with unit_of_work() as session:
        stored = session.get(ApiToken, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in {stored.token_hash, stored.prefix, stored.name}

    listed = (await api.get("/api/tokens", headers=login)).json()
    assert [item["id"] for item in listed] == [created["id"]]
    assert "token" not in listed[0] and token not in str(listed)  # never shown again
    assert listed[0]["last_used_at"] is None

    assert (await api.get("/api/auth/me", headers=_bearer(token))).json()["email"] == world.rep_a
    assert (await api.delete(f"/api/tokens/{created['id']}", headers=login)).status_code == 204
    refused = await api.get("/api/auth/me", headers=_bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"] == {"code": "token_revoked", "message": "This API token was revoked."}
    assert (await api.get("/api/tokens", headers=login)).json() == []
    assert len(_events("api_token.created")) == len(_events("api_token.revoked")) == 1
    [refusal] = _events("api_token.refused")
    assert refusal.details["reason"] == "revoked" and refusal.email == world.rep_a


async def test_scopes_limit_each_route_by_read_and_write(api: httpx.AsyncClient, world: World) -> None:
    login = await _login(api, world.rep_a)
    reader = _bearer((await _create(api, login, ["institutions:read"]))["token"])
    writer = _bearer((await _create(api, login, ["contacts:write"]))["token"])

    assert (await api.get("/api/institutions", headers=reader)).status_code == 200
    assert (await api.head("/api/institutions", headers=reader)).status_code == 200
    refused = await api.post("/api/institutions", headers=reader, json={"name": "Clinique du Parc"})
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "insufficient_scope",
        "message": "This API token lacks the scope institutions:write needed here.",
        "scope": "institutions:write",
    }
    # A write scope implies the read of its area, and nothing of another area.
    assert (await api.get("/api/contacts", headers=writer)).status_code == 200
    assert (await api.get("/api/institutions", headers=writer)).json()["error"]["scope"] == "institutions:read"
    contacts = f"/api/institutions/{world.institution_id}/contacts"
    assert (await api.get(contacts, headers=reader)).json()["error"]["scope"] == "contacts:read"
    assert (await api.get(contacts, headers=writer)).status_code == 200
    [logged] = [e for e in _events("action.refused") if e.details.get("scope") == "institutions:write"]
    assert logged.details["refused"] == "api_token.scope" and logged.details["api_token_id"]


async def test_admin_routes_need_the_admin_scope_and_the_role(api: httpx.AsyncClient, world: World) -> None:
    admin = await _login(api, world.admin)
    without = _bearer((await _create(api, admin, ["institutions:read"]))["token"])
    with_admin = _bearer((await _create(api, admin, ["admin"]))["token"])
    assert (await api.get("/api/users", headers=without)).json()["error"]["scope"] == "admin"
    assert (await api.get("/api/users", headers=with_admin)).status_code == 200
    assert (await api.get("/api/security-log", headers=with_admin)).status_code == 200
    # A sales rep cannot put the admin scope on a token: their role administers nothing.
    rep = await _login(api, world.rep_a)
    refused = await api.post("/api/tokens", headers=rep, json={"name": "x", "scopes": ["admin"]})
    assert refused.status_code == 422 and "scopes" in refused.json()["error"]["fields"]


async def test_a_token_never_does_more_than_its_owner(api: httpx.AsyncClient, world: World) -> None:
    anne = await _login(api, world.rep_a)
    invoice = await api.post(
        "/api/invoices",
        headers=anne,
        json={
            "institution_id": str(world.institution_id),
            "lines": [{"description": "Formation", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}],
        },
    )
    assert invoice.status_code == 201, invoice.text
    bruno = await _login(api, world.rep_b)
    token = _bearer((await _create(api, bruno, ["invoices:write"]))["token"])
    assert (await api.get(f"/api/invoices/{invoice.json()['id']}", headers=token)).status_code == 403
    assert (await api.get("/api/invoices", headers=token)).json()["total"] == 0
    assert (await api.delete(f"/api/invoices/{invoice.json()['id']}", headers=token)).status_code == 403
    # The same token with an admin behind it would see it: rights are the owner's.
    ada = await _login(api, world.admin)
    admin_token = _bearer((await _create(api, ada, ["invoices:read"]))["token"])
    assert (await api.get(f"/api/invoices/{invoice.json()['id']}", headers=admin_token)).status_code == 200


async def test_expiry_is_bounded_and_an_expired_token_gets_a_clear_401(
    api: httpx.AsyncClient, world: World, clock: Callable[..., datetime]
) -> None:
    login = await _login(api, world.rep_a)
    too_far = (date.today() + timedelta(days=400)).isoformat()
    refused = await api.post("/api/tokens", headers=login, json={"name": "x", "scopes": [], "expires_on": too_far})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {
        "scopes": "Choose at least one scope.",
        "expires_on": "A token lasts at most one year.",
    }
    blank = await api.post("/api/tokens", headers=login, json={"name": "  ", "scopes": ["quotes:read"]})
    assert blank.json()["error"]["fields"] == {"name": "Give the token a name (what uses it)."}
    unknown = await api.post("/api/tokens", headers=login, json={"name": "x", "scopes": ["quotes:delete"]})
    assert unknown.status_code == 422 and "scopes.0" in unknown.json()["error"]["fields"]

    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    token = _bearer((await _create(api, login, ["quotes:read"], expires_on=tomorrow))["token"])
    assert (await api.get("/api/quotes", headers=token)).status_code == 200
    clock(days=4)
    expired = await api.get("/api/quotes", headers=token)
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == "Bearer"
    assert expired.json()["error"] == {
        "code": "token_expired",
        "message": "This API token has expired. Create a new one on your profile page.",
    }


async def test_a_deactivated_owners_tokens_stop_at_once_and_for_good(api: httpx.AsyncClient, world: World) -> None:
    login = await _login(api, world.rep_a)
    token = _bearer((await _create(api, login, ["institutions:read"]))["token"])
    assert (await api.get("/api/institutions", headers=token)).status_code == 200
    with unit_of_work() as session:
        administration.deactivate_user(session, SYSTEM_ACTOR, world.rep_a_id)
    assert (await api.get("/api/institutions", headers=token)).status_code == 401
    with unit_of_work() as session:
        administration.reactivate_user(session, SYSTEM_ACTOR, world.rep_a_id)
    assert (await api.get("/api/institutions", headers=token)).json()["error"]["code"] == "token_revoked"


async def test_a_token_cannot_manage_tokens(api: httpx.AsyncClient, world: World) -> None:
    login = await _login(api, world.admin)
    created = await _create(api, login, ["admin", "institutions:write"])
    token = _bearer(created["token"])
    for method, path, body in (
        ("GET", "/api/tokens", None),
        ("POST", "/api/tokens", {"name": "child", "scopes": ["admin"]}),
        ("DELETE", f"/api/tokens/{created['id']}", None),
        ("GET", f"/api/users/{world.rep_a_id}/tokens", None),
        ("GET", "/api/auth/sessions", None),
        ("POST", "/api/auth/logout", None),
    ):
        response = await api.request(method, path, headers=token, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "token_not_accepted"
    assert len((await api.get("/api/tokens", headers=login)).json()) == 1


async def test_admins_see_and_revoke_the_tokens_of_the_users_they_manage(api: httpx.AsyncClient, world: World) -> None:
    anne = await _login(api, world.rep_a)
    created = await _create(api, anne, ["quotes:read"])
    path = f"/api/users/{world.rep_a_id}/tokens"
    # Tess administers team B only; Bruno administers nobody.
    for email in (world.team_admin_b, world.rep_b):
        assert (await api.get(path, headers=await _login(api, email))).status_code == 403
    ada = await _login(api, world.admin)
    assert [item["id"] for item in (await api.get(path, headers=ada)).json()] == [created["id"]]
    assert (await api.delete(f"{path}/{created['id']}", headers=ada)).status_code == 204
    assert (await api.get("/api/quotes", headers=_bearer(created["token"]))).status_code == 401
    assert (await api.delete(f"{path}/{created['id']}", headers=ada)).status_code == 404
    [revoked] = _events("api_token.revoked")
    assert revoked.email == world.admin and revoked.details["target"] == world.rep_a


async def test_last_use_is_written_at_most_once_a_minute(
    api: httpx.AsyncClient, world: World, clock: Callable[..., datetime]
) -> None:
    login = await _login(api, world.rep_a)
    token = _bearer((await _create(api, login, ["quotes:read"]))["token"])

    def last_use() -> str | None:
        with unit_of_work() as session:
            stored = session.exec(select(ApiToken)).one()
            return stored.last_used_at.isoformat() if stored.last_used_at else None

    await api.get("/api/quotes", headers=token)
    first = last_use()
    assert first is not None
    clock(seconds=30)
    await api.get("/api/quotes", headers=token)
    assert last_use() == first
    clock(seconds=40)
    await api.get("/api/quotes", headers=token)
    assert last_use() is not None and last_use() != first
    assert (await api.get("/api/tokens", headers=login)).json()[0]["last_used_at"]


async def test_the_rate_limit_answers_429_with_retry_after(
    api: httpx.AsyncClient, world: World, settings_override: Callable[..., None]
) -> None:
    login = await _login(api, world.rep_a)
    token = _bearer((await _create(api, login, ["quotes:read"]))["token"])
    settings_override(api_rate_limit_per_minute="3")
    answers = [await api.get("/api/quotes", headers=token) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["retry_after"] == int(limited.headers["Retry-After"])
    # The address is full too: even another token, or none, waits.
    assert (await api.get("/api/health")).status_code == 429
    with unit_of_work() as session:
        buckets = {row.bucket: row.hits for row in session.exec(select(RateLimitCounter)).all()}
    token_bucket = "token:" + hashlib.sha256(token["Authorization"][7:].encode()).hexdigest()
    assert buckets[token_bucket] == 4
    assert any(bucket.startswith("ip:") and hits == 5 for bucket, hits in buckets.items())


async def test_a_limit_of_zero_counts_nothing(
    api: httpx.AsyncClient, world: World, settings_override: Callable[..., None]
) -> None:
    settings_override(api_rate_limit_per_minute="0")
    for _ in range(3):
        assert (await api.get("/api/health")).status_code == 200
    with unit_of_work() as session:
        assert session.exec(select(RateLimitCounter)).all() == []
