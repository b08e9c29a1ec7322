"""/api/docs: Swagger UI served from the application itself.

FastAPI's default page loads Swagger UI from a CDN, which our own Content-Security-Policy blocks (and
which the servers of our users may not reach): the page stayed blank. The assets come from the
`fastapi-offline` package and are served under /api/docs-assets."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/api/docs"
ASSETS_URL = "/api/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_NAME = "api-docs-assets"


def install(app: FastAPI) -> None:
    """Add the docs page and its assets (before the API's catch-all for unknown /api paths)."""
    openapi_url = app.openapi_url or "/api/openapi.json"
    if not any(getattr(route, "name", None) == ASSETS_NAME for route in app.routes):  # once (tests recreate the app)
        app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name=ASSETS_NAME)

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} · Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )
