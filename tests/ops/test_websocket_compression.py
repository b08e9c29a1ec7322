"""The tabs' websocket as `opex-crm serve` answers it: still compressed, with small windows and no
context kept between messages, so that an idle connection holds no zlib state
(crm_app/serving/websocket_protocol.py)."""

from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlsplit

from tests.servers import running_server

# What Chromium offers: permessage-deflate, letting the server choose the client's window.
OFFER = "permessage-deflate; client_max_window_bits"


def _handshake(url: str, extensions: str | None) -> dict[str, str]:
    """Open NiceGUI's Socket.IO websocket with a raw HTTP upgrade; the answer's status and headers."""
    parts = urlsplit(url)
    request = [
        "GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {url}",
        *([f"Sec-WebSocket-Extensions: {extensions}"] if extensions else []),
    ]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(("\r\n".join(request) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            assert chunk, f"the server closed the connection: {answer!r}"
            answer += chunk
    status, *lines = answer.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    return {"status": status, **headers}


def test_the_websocket_is_compressed_with_small_windows_and_no_context_kept() -> None:
    with running_server(SCHEDULER_ENABLED="false") as server:
        answer = _handshake(server.url, OFFER)
        plain = _handshake(server.url, None)
    assert answer["status"].startswith("HTTP/1.1 101"), answer
    agreed = [part.strip() for part in answer["sec-websocket-extensions"].split(";")]
    assert agreed[0] == "permessage-deflate"
    # 4 KiB windows both ways (wsproto, NiceGUI's choice, agreed on 32 KiB and kept ~300 KiB a tab)
    assert "server_max_window_bits=12" in agreed and "client_max_window_bits=12" in agreed, agreed
    # each message compressed on its own both ways: no compressor or decompressor kept between them
    assert "server_no_context_takeover" in agreed and "client_no_context_takeover" in agreed, agreed
    # a client that offers no compression still connects, uncompressed
    assert plain["status"].startswith("HTTP/1.1 101") and "sec-websocket-extensions" not in plain, plain
