"""REST requests skip the middlewares that only browser pages need.

NiceGUI wraps every request in its page middlewares: a signed session cookie, a per-browser storage
created on first sight, and two `BaseHTTPMiddleware`s (a task group and a memory stream each). The
REST API authenticates with bearer tokens and reads none of that; worse, a script calling it without a
cookie jar would get a new cookie and a new (never freed) browser storage on every call. `/api/`
requests therefore go through the same stack without those middlewares.

HEAD is answered here for the whole API: as the GET of the same path, headers only (FastAPI routes
take the methods they declare, and a GET route would otherwise refuse HEAD).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"


class ApiFastPath:
    """Sends `/api/` HTTP requests to `api`, everything else (pages, websockets, assets) to `full`."""

    def __init__(self, full: ASGIApp, api: ASGIApp) -> None:
        self.full = full
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            if scope["method"] == "HEAD":
                await self.api({**scope, "method": "GET"}, receive, _headers_only(send))
            else:
                await self.api(scope, receive, send)
        else:
            await self.full(scope, receive, send)


def _headers_only(send: Send) -> Send:
    """`send` without the body: what a HEAD answers (its Content-Length still the GET's)."""

    async def send_headers(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
        elif not message.get("more_body", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return send_headers


def install(app: Any, page_only: Collection[type]) -> None:
    """Make `app` (a Starlette application) build its middleware stack twice: in full, and without
    the `page_only` middlewares for the API. Starlette builds the stack at the first call, after
    every middleware has been added, so both stacks see the final list."""
    build: Callable[[], ASGIApp] = type(app).build_middleware_stack.__get__(app)

    def build_both() -> ASGIApp:
        full = build()
        everything = app.user_middleware
        app.user_middleware = [m for m in everything if m.cls not in page_only]
        try:
            api = build()
        finally:
            app.user_middleware = everything
        return ApiFastPath(full, api)

    app.build_middleware_stack = build_both
