"""POST /api/auth/login, /refresh, /logout and GET /api/auth/me."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import jwt
from sqlmodel import select

from crm_app.platform.config import get_settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.models.base import utcnow


async def _login(api: httpx.AsyncClient, account: dict[str, str]) -> dict[str, str]:
    response = await api.post("/api/auth/login", json=account)
    assert response.status_code == 200, response.text
    return response.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_returns_a_token_pair(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    pair = await _login(api, account)
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    me = await api.get("/api/auth/me", headers=_bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == account["email"]
    assert me.json()["role"] == "user"


async def test_bad_credentials_get_a_generic_json_401(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    wrong = await api.post("/api/auth/login", json={"email": account["email"], "password": "nope-nope-nope"})
    unknown = await api.post("/api/auth/login", json={"email": "who@example.org", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json() == unknown.json() == {"error": {"code": "login_invalid", "message": "Invalid email or password."}}
    )


async def test_api_lockout_after_five_failures(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    for _ in range(5):
        await api.post("/api/auth/login", json={"email": account["email"], "password": "wrong-password"})
    locked = await api.post("/api/auth/login", json=account, headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert locked.status_code == 401
    assert locked.json()["error"]["code"] == "login_locked"
    assert locked.json()["error"]["message"] == "Trop de tentatives échouées. Réessayez dans 15 minutes."


async def test_refresh_rotates_and_reuse_revokes_the_family(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    first = await _login(api, account)
    rotated = await api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await api.get("/api/auth/me", headers=_bearer(second["access_token"]))).status_code == 200

    reused = await api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "not_authenticated"
    # The whole family is gone: the newest refresh token and its access token no longer work.
    assert (await api.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 401
    assert (await api.get("/api/auth/me", headers=_bearer(second["access_token"]))).status_code == 401
    with unit_of_work() as session:
        events = session.exec(select(SecurityEvent).where(SecurityEvent.action == SecurityAction.TOKEN_REUSE.value))
        assert len(events.all()) == 1
    # Another login opens a new, independent family.
    assert (await _login(api, account))["access_token"]


async def test_logout_ends_access_and_refresh(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    pair = await _login(api, account)
    assert (await api.post("/api/auth/logout", headers=_bearer(pair["access_token"]))).status_code == 204
    assert (await api.get("/api/auth/me", headers=_bearer(pair["access_token"]))).status_code == 401
    assert (await api.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 401


async def test_invalid_tokens_are_401_json(api: httpx.AsyncClient, account: dict[str, str]) -> None:
    pair = await _login(api, account)
    settings = get_settings()
    claims = jwt.decode(pair["access_token"], settings.jwt_secret, algorithms=["HS256"], issuer="opex-crm")
    expired = jwt.encode({**claims, "exp": utcnow() - timedelta(seconds=1)}, settings.jwt_secret, algorithm="HS256")
    forged = jwt.encode(claims, "another-secret-of-sufficient-length-123", algorithm="HS256")
    for headers in (
        {},
        _bearer("garbage"),
        _bearer(expired),
        _bearer(forged),
        _bearer(pair["refresh_token"]),
        {"Authorization": f"Basic {pair['access_token']}"},
    ):
        response = await api.get("/api/auth/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "not_authenticated"
    # An access token is not a refresh token.
    swapped = await api.post("/api/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert swapped.status_code == 401


async def test_validation_errors_share_the_error_shape(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/auth/login", json={"email": "x@example.org"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
    assert "password" in response.json()["error"]["fields"]


async def test_unknown_api_path_is_json_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_openapi_is_published(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/api/openapi.json")).json()
    assert {"/api/auth/login", "/api/auth/refresh", "/api/auth/logout", "/api/auth/me", "/api/health"} <= set(
        schema["paths"]
    )
    assert (await api.get("/api/docs")).status_code == 200


async def test_the_api_docs_load_their_assets_from_the_application(api: httpx.AsyncClient) -> None:
    """Swagger UI from a CDN was blocked by our own Content-Security-Policy (and servers may have no
    internet): every script and stylesheet of the page is the application's own."""
    page = await api.get("/api/docs")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/api/") for source in sources), sources
    for source in sources:
        asset = await api.get(source)
        assert asset.status_code == 200 and len(asset.content) > 1000, source
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "cdn" not in page.text
