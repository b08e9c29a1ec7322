"""The websocket protocol each browser tab's connection runs on: uvicorn's websockets-sansio, not wsproto.

NiceGUI 3.18 hard-codes `ws="wsproto"` in `ui.run` (chosen only to leave the deprecated websockets
"legacy" implementation, nicegui PR 5256), so it cannot be passed as an option. wsproto's
permessage-deflate keeps zlib's defaults: a 32 KiB window and memLevel 8 for each direction. Measured
with tracemalloc on /institutions (issue 20, `bench/tabs.py`), that was 262 KiB of compressor and
32 KiB of decompressor per connected tab, 30 % of what a tab cost the server.

Uvicorn's websockets-sansio protocol (the one its own "auto" picks) negotiates 4 KiB windows both
ways and memLevel 5, the websockets project's settings for many connections: about 9 KiB a
connection, and NiceGUI's JSON updates are still compressed. Nothing else changes for NiceGUI: both
are uvicorn's ASGI websocket protocols, with the same `ws_max_size` and ping options.

`install` sets the protocol on the server's configuration when NiceGUI creates its server, before
uvicorn loads the protocol class.
"""

from __future__ import annotations

from typing import Any

from nicegui import server

PROTOCOL = "websockets-sansio"
_original = server.Server.create_singleton.__func__  # type: ignore[attr-defined]


def _create_singleton(cls: type[server.Server], config: server.CustomServerConfig) -> Any:
    config.ws = PROTOCOL
    return _original(cls, config)


def install() -> None:
    """Idempotent."""
    server.Server.create_singleton = classmethod(_create_singleton)  # type: ignore[method-assign,assignment]
