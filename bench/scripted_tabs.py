"""Tabs without a browser: many connected NiceGUI screens from one process, for the benchmarks.

A Chromium tab costs the machine 60 MB or more, so 300 of them do not fit beside the server on
24 GB. A scripted tab holds on the server what a browser's tab holds: the page is requested over
HTTP with the browser's cookies (its NiceGUI client and screen are built on the server), then its
Socket.IO connection is opened the way `nicegui.js` opens it (the implicit handshake, the websocket
transport, permessage-deflate offered as Chromium offers it) and acknowledged every 3 seconds, as
`nicegui.js` does so that the server may prune its message history.

What it does not do is run the page's JavaScript: it renders nothing and sends none of the events a
browser's components send once mounted (a table's pagination, a chart's size). It keeps the `update`
messages it receives that change the bell's label (`aria-label` "Notifications ..."), each with the
time it arrived, so that a benchmark can time a notification up to its arrival in the tab's socket
(a browser would then render it).

All scripted tabs run on one asyncio loop in a thread of their own (`ScriptedTabs`), so that a
benchmark driving Chromium with Playwright's sync API can use both at once.
"""

from __future__ import annotations

import ast
import asyncio
import re
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import socketio

#: The Socket.IO query `nicegui.js` receives in the page (`query: {...}` in its `createApp` call),
#: a dict of strings, numbers and booleans as Python writes them.
QUERY = re.compile(r"query:\s*(\{[^}]*\})")
BELL_LABEL = "Notifications"
ACK_SECONDS = 3.0

T = TypeVar("T")


@dataclass
class ScriptedTab:
    """One connected screen: its Socket.IO client and the bell changes it received."""

    name: str
    client_id: str
    bell: list[tuple[float, str]] = field(default_factory=list)
    client: socketio.AsyncClient | None = None
    next_message_id: int = 0

    def on_update(self, data: dict[str, Any]) -> None:
        """Keep the arrival time (ms since the epoch) of each change of the bell's label."""
        received = time.time() * 1000
        if isinstance(data.get("_id"), int):
            self.next_message_id = data["_id"] + 1
        for element in data.values():
            if isinstance(element, dict):
                label = element.get("props", {}).get("aria-label")
                if isinstance(label, str) and label.startswith(BELL_LABEL):
                    self.bell.append((received, label))


async def open_tab(base: str, path: str, cookies: list[dict[str, Any]], name: str) -> ScriptedTab:
    """Request `path` with a browser's cookies, then connect to its NiceGUI client as nicegui.js does."""
    jar = httpx.Cookies()
    for cookie in cookies:
        jar.set(cookie["name"], cookie["value"])
    async with httpx.AsyncClient(base_url=base, cookies=jar, timeout=60) as http:
        response = await http.get(path, headers={"Accept-Language": "fr-FR"})
    response.raise_for_status()
    found = QUERY.search(response.text)
    if found is None:
        raise RuntimeError(f"{path} answered no NiceGUI page for {name}")
    query = ast.literal_eval(found.group(1))  # Jinja writes the dict as Python writes it
    tab = ScriptedTab(name=name, client_id=query["client_id"], next_message_id=int(query["next_message_id"]))
    client = socketio.AsyncClient(reconnection=False, websocket_extra_options={"compress": 15})
    client.on("update", tab.on_update)
    parameters = {
        "client_id": query["client_id"],
        "next_message_id": query["next_message_id"],
        "implicit_handshake": "true",
        "document_id": str(uuid.uuid4()),
        "tab_id": str(uuid.uuid4()),
    }
    await client.connect(
        f"{base}?{httpx.QueryParams(parameters)}",
        socketio_path="/_nicegui_ws/socket.io",
        transports=["websocket"],
        headers={"Cookie": "; ".join(f"{c['name']}={c['value']}" for c in cookies)},
        wait_timeout=30,
    )
    tab.client = client
    return tab


async def acknowledge(tabs: list[ScriptedTab]) -> None:
    """What nicegui.js does every 3 seconds: tell the server which messages arrived."""
    while True:
        await asyncio.sleep(ACK_SECONDS)
        for tab in tabs:
            if tab.client is not None and tab.client.connected:
                await tab.client.emit("ack", {"client_id": tab.client_id, "next_message_id": tab.next_message_id})


class ScriptedTabs:
    """Scripted tabs on their own event loop, in a daemon thread, driven from synchronous code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="scripted-tabs", daemon=True)
        self.thread.start()
        self.tabs: list[ScriptedTab] = []
        self.acknowledging: asyncio.Task[None] | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def open(self, base: str, path: str, sessions: list[tuple[str, list[dict[str, Any]]]], at_once: int = 10) -> None:
        """Open one tab per (name, cookies), `at_once` at a time, and start acknowledging them."""

        async def open_all() -> None:
            limit = asyncio.Semaphore(at_once)

            async def one(name: str, cookies: list[dict[str, Any]]) -> None:
                async with limit:
                    tab = await open_tab(base, path, cookies, name)
                    self.tabs.append(tab)

            await asyncio.gather(*(one(name, cookies) for name, cookies in sessions))
            self.acknowledging = asyncio.create_task(acknowledge(self.tabs))

        self.run(open_all())

    def close(self) -> None:
        async def disconnect_all() -> None:
            if self.acknowledging is not None:
                self.acknowledging.cancel()
            await asyncio.gather(*(tab.client.disconnect() for tab in self.tabs if tab.client is not None))

        self.run(disconnect_all(), timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
