"""The websocket protocol each browser tab's connection runs on: uvicorn's websockets-sansio, not
wsproto, and its compression keeping no state between messages.

NiceGUI 3.18 hard-codes `ws="wsproto"` in `ui.run` (chosen only to leave the deprecated websockets
"legacy" implementation, nicegui PR 5256), so it cannot be passed as an option. wsproto's
permessage-deflate keeps zlib's defaults: a 32 KiB window and memLevel 8 for each direction. Measured
with tracemalloc on /institutions (issue 20, `bench/tabs.py`), that was 262 KiB of compressor and
32 KiB of decompressor per connected tab, 30 % of what a tab cost the server.

Uvicorn's websockets-sansio protocol (the one its own "auto" picks) negotiates 4 KiB windows both
ways and memLevel 5, the websockets project's settings for many connections. Its compressor and
decompressor still cost each connected tab about 49 KiB traced, for as long as the tab stays open,
since each keeps its context from one message to the next.

`LeanWebSocketProtocol` also asks for `server_no_context_takeover` and `client_no_context_takeover`
(RFC 7692, section 7.1.1; every browser accepts both): each message is compressed on its own, and
the websockets library drops the zlib objects once a message is done, so an idle tab holds none.
Measured on a recorded journey (79 messages from the server: the list, six screens, five pages of the
table), the browser receives 81 KB instead of 74 KB (289 KB uncompressed): most of NiceGUI's messages
are a whole screen or a few elements, which gain little from the previous message's context.

`install` sets the protocol on the server's configuration when NiceGUI creates its server, before
uvicorn loads the protocol class.
"""

from __future__ import annotations

import logging
from typing import Any

from nicegui import server
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol

_original = server.Server.create_singleton.__func__  # type: ignore[attr-defined]


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """Uvicorn's websockets-sansio protocol, compressing each message without the previous one's context."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[
                    ServerPerMessageDeflateFactory(
                        server_no_context_takeover=True,
                        client_no_context_takeover=True,
                        server_max_window_bits=12,
                        client_max_window_bits=12,
                        compress_settings={"memLevel": 5},
                    )
                ],
                max_size=self.config.ws_max_size,
                logger=logging.getLogger("uvicorn.error"),
            )


def _create_singleton(cls: type[server.Server], config: server.CustomServerConfig) -> Any:
    config.ws = LeanWebSocketProtocol
    return _original(cls, config)


def install() -> None:
    """Idempotent."""
    server.Server.create_singleton = classmethod(_create_singleton)  # type: ignore[method-assign,assignment]
