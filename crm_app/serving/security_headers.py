"""Security headers on every HTTP response, and the session cookie's flags.

Plain ASGI (like RequestContextMiddleware): no extra task and stream per request.

Why the Content-Security-Policy is what it is (checked against NiceGUI 3.x in Chromium):
- `script-src 'self' 'unsafe-inline' 'unsafe-eval'`: NiceGUI's page template starts the app with
  inline `<script>` blocks (import map, `addStyle`, the Vue `createApp` call with the page's
  elements), which rules out nonces without patching NiceGUI; and Vue compiles the components'
  templates (and slot templates such as our tables' `body-cell-*`) in the browser with
  `new Function`, which needs `'unsafe-eval'`. No host is allowed: every script comes from
  `/_nicegui/...` on this site, so an injected `<script src=https://evil>` is still refused.
- `style-src 'self' 'unsafe-inline'`: the template's `<style>` block, `addStyle`, Quasar and
  Vue set inline styles.
- `img-src 'self' data: blob:`: the favicon, Quasar's SVG icons and generated images are data: URIs.
- `font-src 'self' data:`: the bundled Material and Roboto fonts.
- `connect-src 'self'`: NiceGUI's socket.io (polling and websocket, same origin; CSP 3 lets
  'self' cover ws:/wss: of the same host) and our /api.
- `frame-ancestors 'none'` (+ X-Frame-Options DENY for older browsers), `object-src 'none'`,
  `base-uri 'self'`, `form-action 'self'`.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HSTS = "max-age=31536000; includeSubDomains"


def is_https(base_url: str) -> bool:
    return base_url.strip().lower().startswith("https://")


def security_headers(*, https: bool) -> dict[str, str]:
    """The headers added to every response (HSTS only when the site is served over https)."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def session_cookie_options(base_url: str) -> dict[str, Any]:
    """Keyword arguments for Starlette's SessionMiddleware, which NiceGUI adds for its storage cookie.

    Starlette always sets HttpOnly; we make SameSite=Lax explicit and add Secure when the site is
    served over https (`BASE_URL`), so the cookie never travels in clear text there."""
    return {"same_site": "lax", "https_only": is_https(base_url)}


class SecurityHeadersMiddleware:
    """Adds `security_headers()` to every HTTP response, without overriding one a route set itself."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        # Encoded once: the raw (name, value) pairs of the ASGI message, names in lower case as ASGI has them.
        self.raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers(https=https).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in self.raw if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
