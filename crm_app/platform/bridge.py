"""Committed domain events, delivered to this process's live listeners and, on PostgreSQL, to every
other process of the CRM sharing the database (LISTEN/NOTIFY).

On PostgreSQL each event is NOTIFYed inside the transaction that publishes it: PostgreSQL sends it
at commit and drops it on rollback, so there is no window where the data is saved and the event
lost, or the reverse. A listener thread in every process (this one included) receives them and
hands them to the local listeners. On SQLite (one process) the events go to the local listeners
right after the commit.

Local listeners run in the listener thread (or the committing thread on SQLite): they must return
quickly and never touch a UI directly; the UI layer hands over to its event loop.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import text
from sqlmodel import Session

from crm_app.platform import events
from crm_app.platform.config import get_settings
from crm_app.platform.db import get_engine

log = logging.getLogger(__name__)

CHANNEL = "opex_crm_events"
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_PAYLOAD = 7900
#: This process, so that its own events are not mistaken for another's in logs and tests.
PROCESS_ID = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

Listener = Callable[[events.Event], None]
_listeners: list[Listener] = []
_local_only: set[int] = set()
_lock = threading.Lock()


def add_listener(listener: Listener) -> Callable[[], None]:
    """Call `listener(event)` for every committed event of any process; returns its remover."""
    with _lock:
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def dispatch(event: events.Event) -> None:
    """Hand one committed event to the local listeners (a failing one does not stop the others)."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            log.exception("live listener failed", extra={"event": event.name})


def _notify_in_transaction(session: Session, event: events.Event) -> None:
    payload = json.dumps({**events.to_payload(event), "origin": PROCESS_ID}, separators=(",", ":"))
    if len(payload.encode()) > MAX_PAYLOAD:
        log.error("event too large for NOTIFY, delivered in this process only", extra={"event": event.name})
        _local_only.add(id(event))  # the object lives in the session until it is delivered
        return
    session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})


def _deliver_local_only(event: events.Event) -> None:
    """After-commit listener: events that could not travel (SQLite, or too large) go to this process."""
    if not _postgres or id(event) in _local_only:
        _local_only.discard(id(event))
        dispatch(event)


class _ListenerThread(threading.Thread):
    """LISTEN on the channel over a connection of its own; reconnects after a failure."""

    def __init__(self, url: str) -> None:
        super().__init__(name="opex-events-listener", daemon=True)
        self.url = url
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.connected = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    self.ready.set()
                    while not self.stopping.is_set():
                        for notify in connection.notifies(timeout=0.5):
                            self._receive(notify.payload)
            except psycopg.Error:
                self.connected.clear()
                if not self.stopping.is_set():
                    log.exception("event listener lost its connection; reconnecting")
                    self.stopping.wait(1.0)

    @staticmethod
    def _receive(raw: str) -> None:
        try:
            payload: dict[str, Any] = json.loads(raw)
            event = events.from_payload(payload)
        except (ValueError, TypeError):
            log.warning("ignored an unreadable event", extra={"payload": raw[:200]})
            return
        dispatch(event)


_postgres = False
_thread: _ListenerThread | None = None
_removers: list[Callable[[], None]] = []


def status() -> str:
    """For /api/health: "listening" (PostgreSQL, connected), "reconnecting", "local" (SQLite) or "stopped"."""
    if not _removers:
        return "stopped"
    if not _postgres:
        return "local"
    return "listening" if _thread is not None and _thread.connected.is_set() else "reconnecting"


def start() -> None:
    """Start carrying events (idempotent): at application start-up."""
    global _postgres, _thread
    if _removers:
        return
    engine = get_engine()
    _postgres = engine.dialect.name == "postgresql"
    _removers.append(events.on_commit(_deliver_local_only))
    if _postgres:
        events.subscribe(events.Event, _notify_in_transaction)
        _removers.append(lambda: events.unsubscribe(events.Event, _notify_in_transaction))
        url = get_settings().sqlalchemy_url.set(drivername="postgresql").render_as_string(hide_password=False)
        _thread = _ListenerThread(url)
        _thread.start()
        if not _thread.ready.wait(10):
            log.error("the event listener did not connect within 10 s; it keeps trying")


def stop() -> None:
    """Stop carrying events: at shutdown (and between tests)."""
    global _thread
    for remove in _removers:
        remove()
    _removers.clear()
    if _thread is not None:
        _thread.stopping.set()
        _thread.join(timeout=5)
        _thread = None
