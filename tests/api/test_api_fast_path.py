"""REST calls go without NiceGUI's browser-page middlewares (crm_app/api_fast_path.py)."""

from __future__ import annotations

import httpx
from nicegui import app


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
