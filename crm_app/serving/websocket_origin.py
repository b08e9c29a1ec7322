"""Who may open the UI's websocket: pages of this server only.

NiceGUI creates its Socket.IO server accepting every Origin (`cors_allowed_origins='*'`), so a page
of any other site could open a websocket to a signed-in user's CRM with their cookie (cross-site
WebSocket hijacking). The handshake is accepted from the request's own origin (as the browser sent
its Host, or as the reverse proxy forwards it), from BASE_URL's and from CORS_ORIGIN's; a request
without an Origin header is not a browser's cross-site request and goes through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from nicegui import core

from crm_app.platform.config import Settings


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def configured_origins(settings: Settings) -> frozenset[str]:
    """BASE_URL's origin and those of CORS_ORIGIN (comma-separated)."""
    urls = [settings.base_url, *settings.cors_origin.split(",")]
    return frozenset(origin for url in urls if url and (origin := _origin_of(url)) is not None)


def request_origins(environ: Mapping[str, Any]) -> set[str]:
    """The origins a same-site page of this request would send: its scheme and Host, and the
    forwarded ones behind a proxy."""
    host = str(environ.get("HTTP_HOST", "")).strip()
    if not host:
        return set()
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    forwarded_scheme = str(environ.get("HTTP_X_FORWARDED_PROTO", scheme)).split(",")[0].strip() or scheme
    forwarded_host = str(environ.get("HTTP_X_FORWARDED_HOST", host)).split(",")[0].strip() or host
    return {f"{scheme}://{host}".lower(), f"{forwarded_scheme}://{forwarded_host}".lower()}


def origin_checker(settings: Settings) -> Any:
    """The `cors_allowed_origins` callable of engine.io: `(origin, environ) → allowed`."""
    allowed = configured_origins(settings)

    def is_allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if not origin:
            return True
        origin = origin.strip().lower()
        return origin in allowed or origin in request_origins(environ)

    return is_allowed


def install(settings: Settings) -> None:
    """Refuse cross-origin websocket handshakes (called when the application is created)."""
    core.sio.eio.cors_allowed_origins = origin_checker(settings)
