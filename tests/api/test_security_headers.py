"""Security headers on every response and the session cookie's flags."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from crm_app.platform.config import Settings
from crm_app.serving import websocket_origin
from crm_app.serving.security_headers import CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware, session_cookie_options

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


@pytest.mark.parametrize("path", ["/login", "/api/health", "/api/nowhere", "/api/openapi.json"])
async def test_every_response_carries_the_headers(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    policy = _directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    # NiceGUI needs inline scripts and Vue's runtime template compiler, but no other origin.
    assert policy["script-src"] == ["'self'", "'unsafe-inline'", "'unsafe-eval'"]
    assert "strict-transport-security" not in response.headers  # BASE_URL is not https in tests


async def test_the_session_cookie_is_http_only_and_same_site_lax(api: httpx.AsyncClient) -> None:
    response = await api.get("/login")
    cookies = [value.lower() for value in response.headers.get_list("set-cookie")]
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    assert "secure" not in session_cookie  # plain http here; see the https test below


def _app(*, https: bool) -> Starlette:
    async def home(request: Request) -> Response:
        request.session["seen"] = True
        return PlainTextResponse("ok", headers={"X-Frame-Options": "SAMEORIGIN"})

    base_url = "https://crm.example.org" if https else "http://localhost:8080"
    return Starlette(
        routes=[Route("/", home)],
        middleware=[
            Middleware(SecurityHeadersMiddleware, https=https),
            Middleware(SessionMiddleware, secret_key="x" * 32, **session_cookie_options(base_url)),
        ],
    )


async def test_https_adds_hsts_and_a_secure_cookie() -> None:
    transport = httpx.ASGITransport(app=_app(https=True))
    async with httpx.AsyncClient(transport=transport, base_url="https://crm.example.org") as client:
        response = await client.get("/")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # A header a route set on purpose is kept.
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


async def test_plain_http_has_no_hsts_and_no_secure_cookie() -> None:
    transport = httpx.ASGITransport(app=_app(https=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8080") as client:
        response = await client.get("/")
    assert "strict-transport-security" not in response.headers
    assert "secure" not in response.headers["set-cookie"].lower()


def test_https_is_read_from_base_url() -> None:
    assert session_cookie_options("HTTPS://crm.example.org") == {"same_site": "lax", "https_only": True}
    assert session_cookie_options("") == {"same_site": "lax", "https_only": False}


async def _handshake(api: httpx.AsyncClient, origin: str | None) -> int:
    headers = {"Origin": origin} if origin else {}
    response = await api.get("/_nicegui_ws/socket.io/", params={"EIO": "4", "transport": "polling"}, headers=headers)
    return response.status_code


async def test_the_websocket_refuses_another_sites_pages(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Cross-site WebSocket hijacking: a page of another site may not open the UI's socket with the
    user's cookie; the CRM's own pages (same origin) and clients without an Origin may."""
    own = f"{api.base_url.scheme}://{api.base_url.netloc.decode()}"
    assert await _handshake(api, own) == 200
    assert await _handshake(api, None) == 200
    assert await _handshake(api, "https://evil.example") == 400
    assert await _handshake(api, "http://localhost.evil.example") == 400
    assert "https://evil.example is not an accepted origin" in caplog.text
    caplog.clear()  # engine.io logs the first refusal as an error: expected here


def test_configured_origins_are_allowed_too() -> None:
    settings = Settings(base_url="https://crm.example.org/", cors_origin="https://intranet.example.org, ")
    check = websocket_origin.origin_checker(settings)
    environ = {"HTTP_HOST": "10.0.0.5:8080", "wsgi.url_scheme": "http"}
    assert check("https://crm.example.org", environ)
    assert check("https://INTRANET.example.org", environ)
    assert check("http://10.0.0.5:8080", environ)
    assert not check("https://crm.example.org.evil.example", environ)
    behind_proxy = {**environ, "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "crm.other.example"}
    assert check("https://crm.other.example", behind_proxy)
