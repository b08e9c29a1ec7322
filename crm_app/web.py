"""Builds the application: pages, REST API, middleware, start-up and shutdown.

This is the only module of crm_app that imports NiceGUI. It is also the main file that
NiceGUI's test fixture runs, so it uses absolute imports only.
"""

from __future__ import annotations

import logging
import uuid

from fastapi.middleware.cors import CORSMiddleware
from nicegui import app, ui
from nicegui.middlewares import RedirectWithPrefixMiddleware, SetCacheControlMiddleware
from nicegui.storage import RequestTrackingMiddleware
from starlette.datastructures import Headers
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import pages  # noqa: F401 - importing the package registers every screen
from components import live, styles
from components.shell import root
from crm_app import __version__, bootstrap
from crm_app.integrations import deliveries as webhook_deliveries
from crm_app.integrations import plugins
from crm_app.platform import i18n, lookups
from crm_app.platform import scheduler as jobs
from crm_app.platform.api import openapi as api_openapi
from crm_app.platform.api.errors import install_error_handlers
from crm_app.platform.config import Settings, get_settings
from crm_app.platform.db import dispose_engines
from crm_app.platform.logs import request_id_var
from crm_app.serving import api_docs, api_routes, compression, nicegui_patches, websocket_origin, websocket_protocol
from crm_app.serving import fast_path as api_fast_path
from crm_app.serving.security_headers import SecurityHeadersMiddleware, is_https, session_cookie_options

log = logging.getLogger("crm_app.web")


class RequestContextMiddleware:
    """A request id for the logs (kept from a proxy's X-Request-ID when it sends one).

    Plain ASGI rather than BaseHTTPMiddleware: no extra task and stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = Headers(scope=scope).get("x-request-id", "")[:64] or uuid.uuid4().hex
        token = request_id_var.set(request_id)

        header = (b"x-request-id", request_id.encode("latin-1"))  # read from a header: latin-1 already

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def _ui_locale() -> str | None:
    """The language chosen in this browser, when running inside a NiceGUI request or event."""
    try:
        value = app.storage.user.get("locale")
    except (RuntimeError, AssertionError, KeyError):
        return None
    return str(value) if value else None


def _on_startup(settings: Settings) -> None:

    live.start()
    if settings.scheduler_enabled:
        jobs.start()
        webhook_deliveries.start()  # the webhook senders run where the jobs run
    log.info("OPEx CRM started", extra={"version": __version__, "database": settings.sqlalchemy_url.get_backend_name()})


def _on_shutdown() -> None:

    jobs.stop()
    webhook_deliveries.stop()
    live.stop()
    dispose_engines()
    log.info("OPEx CRM stopped")


#: NiceGUI's middlewares for browser pages (session cookie, per-browser storage, redirects and cache
#: headers of its assets): the REST API goes without them (crm_app/serving/fast_path.py).
_PAGE_ONLY_MIDDLEWARES = (
    SessionMiddleware,
    RequestTrackingMiddleware,
    RedirectWithPrefixMiddleware,
    SetCacheControlMiddleware,
)


def create_app(settings: Settings) -> None:
    """Register everything on NiceGUI's FastAPI app (called once per process, and per test)."""

    nicegui_patches.install()
    websocket_origin.install(settings)
    styles.install()
    i18n.set_locale_resolver(_ui_locale)
    app.title, app.version = "OPEx CRM API", __version__
    app.docs_url, app.openapi_url, app.redoc_url = None, "/api/openapi.json", None
    app.setup()  # the docs routes first: the API router ends with a JSON catch-all for unknown /api paths
    api_docs.install(app)
    bootstrap.wire()
    plugins.load(settings)  # before serving: a plugin's routes and page exist from the first request
    app.include_router(bootstrap.api_router())
    api_routes.install(app.router.routes, app.router.routes[-1])  # the API router just included
    install_error_handlers(app)
    api_openapi.install(app)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, https=is_https(settings.base_url))
    if settings.cors_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.strip() for o in settings.cors_origin.split(",")],
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    api_fast_path.install(app, _PAGE_ONLY_MIDDLEWARES)
    app.on_startup(lambda: _on_startup(settings))
    app.on_startup(lookups.serve_this_loop)  # the REST API's actor look-up, awaited on this loop
    app.on_shutdown(_on_shutdown)
    app.on_shutdown(lookups.close_this_loop)


def run(settings: Settings) -> None:
    """Serve the CRM (blocking). In NiceGUI's test simulation this only prepares the app."""

    create_app(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    websocket_protocol.install()
    ui.run(
        root,
        host=settings.host,
        port=settings.port,
        title="OPEx CRM",
        language="fr",
        favicon="🩺",
        storage_secret=settings.storage_secret,
        session_middleware_kwargs=session_cookie_options(settings.base_url),
        reload=False,
        show=False,
        show_welcome_message=False,
        uvicorn_logging_level=settings.log_level.lower(),
        log_config=None,
        timeout_graceful_shutdown=20,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        gzip_middleware_factory=compression.gzip,
        tailwind=False,
    )  # components/opex.css instead


if __name__ in {"__main__", "__mp_main__"}:
    run(get_settings())
