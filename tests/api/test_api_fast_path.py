"""REST calls go without NiceGUI's browser-page middlewares (crm_app/api_fast_path.py)."""

from __future__ import annotations

import json

import httpx
from nicegui import app
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from crm_app.serving import compression


async def test_api_calls_set_no_cookie_and_create_no_browser_storage(api: httpx.AsyncClient) -> None:
    page = await api.get("/login")
    assert "session=" in page.headers.get("set-cookie", "")  # pages still get their browser session
    storages = len(app.storage._users)
    for _ in range(5):
        api.cookies.clear()  # a script without a cookie jar
        response = await api.get("/api/health")
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
    assert len(app.storage._users) == storages


async def test_api_answers_keep_the_app_middlewares(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health", headers={"X-Request-ID": "abc"})
    assert response.headers["x-request-id"] == "abc"
    assert response.headers["x-frame-options"] == "DENY"
    unknown = await api.get("/api/nothing-here")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/json")


async def test_answers_are_compressed_for_the_clients_that_accept_gzip_only() -> None:
    """The served application's gzip (NiceGUI adds it outside tests): a client accepting gzip gets it
    with `Vary`; one that does not gets the body as it was, untouched by the compressing middleware."""
    body = json.dumps([{"name": f"Clinique {n}", "city": "Nantes"} for n in range(100)]).encode()

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(body, media_type="application/json")(scope, receive, send)

    served = compression.gzip(answer)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://test") as client:
        compressed = await client.get("/", headers={"Accept-Encoding": "gzip, deflate"})
        plain = await client.get("/", headers={"Accept-Encoding": "identity"})

    assert compressed.headers["content-encoding"] == "gzip" and compressed.headers["vary"] == "Accept-Encoding"
    assert int(compressed.headers["content-length"]) < len(body) // 3
    assert compressed.content == body  # httpx decompressed it
    assert "content-encoding" not in plain.headers and plain.content == body
    assert int(plain.headers["content-length"]) == len(body)
