"""Live updates in open tabs.

Committed domain events reach this module from `crm_app.platform.bridge` in a worker or listener thread.
They are handed to the event loop (`call_soon_threadsafe`), never touching the UI from the thread,
and given to the watches that the open tabs registered: the bell of every tab of the recipient, a
task board, a list... A watch runs in its tab (client) and in the context of the page that made it
(its request, so `call` knows who is asking), and disappears with the tab.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import Client, core, ui

from crm_app.platform import bridge
from crm_app.platform.events import Event, SalesDocumentChanged
from crm_app.platform.permissions import Actor, Scope, scope_for

log = logging.getLogger(__name__)

Callback = Callable[[Event], Any]


@dataclass(eq=False)
class Watch:
    client: Client
    owner: ui.element
    wants: Callable[[Event], bool]
    callback: Callback
    context: contextvars.Context


_watches: list[Watch] = []
_tasks: set[asyncio.Task[Any]] = set()
_remove_listener: Callable[[], None] | None = None


def watch(wants: Callable[[Event], bool], callback: Callback, *, owner: ui.element | None = None) -> Watch:
    """In the current tab, call `callback(event)` (sync or async) for each committed event that
    `wants(event)`, from any user and any process, while `owner` is shown: by default the element
    being built, so that moving to another screen of the shell (which deletes it) ends the watch."""
    client = ui.context.client
    entry = Watch(client, owner or ui.context.slot.parent, wants, callback, contextvars.copy_context())
    _watches.append(entry)
    client.on_delete(lambda: unwatch(entry))
    return entry


def follow(wants: Callable[[Event], bool], refresh: Callable[[], Awaitable[Any]], *, owner: ui.element) -> Watch:
    """Refresh a list while `owner` is shown, on each committed event it `wants`. One refresh at a time:
    the events that arrive during one (a daily job's hundreds) make a single refresh after it."""
    running = again = False

    async def on_event(_event: Event) -> None:
        nonlocal running, again
        if running:
            again = True
            return
        running = True
        try:
            with owner:  # the element whose event started it may be gone by the second round
                while not owner.is_deleted:
                    again = False
                    await refresh()
                    if not again:
                        break
        finally:
            running = False

    return watch(wants, on_event, owner=owner)


def may_see(
    actor: Actor, *, owner_id: uuid.UUID | None, team_id: uuid.UUID | None, changed_by: uuid.UUID | None
) -> bool:
    """Cheap test, on the event loop, for every change to a record: could the actor see it? (theirs,
    changed by them, or within their `record.view` scope; the refresh asks the service.)"""
    if actor.id in (owner_id, changed_by):
        return True
    scope = scope_for(actor, "record.view")
    return scope is Scope.ALL or (scope is Scope.TEAM and actor.team_id is not None and team_id == actor.team_id)


def may_see_document(actor: Actor, event: Event, *, institution_id: uuid.UUID | None = None) -> bool:
    """For a quote or invoice list: a change to a sales document the actor may see (on `institution_id`
    when given)."""
    return (
        isinstance(event, SalesDocumentChanged)
        and (institution_id is None or event.institution_id == institution_id)
        and may_see(actor, owner_id=event.owner_id, team_id=event.team_id, changed_by=event.actor_id)
    )


def unwatch(entry: Watch) -> None:
    if entry in _watches:
        _watches.remove(entry)


def watch_count() -> int:
    return len(_watches)


def _run(entry: Watch, event: Event) -> None:
    async def in_tab() -> None:
        if entry.client.id not in Client.instances or entry.owner.is_deleted:  # gone meanwhile
            return
        with entry.client:
            result = entry.callback(event)
            if inspect.isawaitable(result):
                await result

    task = asyncio.get_running_loop().create_task(in_tab(), context=entry.context.copy())
    _tasks.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("live update failed", exc_info=task.exception())


def _dispatch(event: Event) -> None:
    """On the event loop: every watch that wants the event gets it, each in its own task."""
    for entry in list(_watches):
        if entry.owner.is_deleted:
            unwatch(entry)
            continue
        try:
            wanted = entry.wants(event)
        except Exception:
            log.exception("live watch filter failed", extra={"event": event.name})
            continue
        if wanted:
            _run(entry, event)


def _from_any_thread(event: Event) -> None:
    loop = core.loop
    if loop is None or loop.is_closed():
        return
    loop.call_soon_threadsafe(_dispatch, event)


def start() -> None:
    """Listen to committed events (application start-up, once the event loop runs)."""
    global _remove_listener
    if _remove_listener is None:
        _remove_listener = bridge.add_listener(_from_any_thread)
    bridge.start()


def stop() -> None:
    global _remove_listener
    if _remove_listener is not None:
        _remove_listener()
        _remove_listener = None
    bridge.stop()
    _watches.clear()
