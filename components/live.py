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
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from nicegui import Client, core, ui
from sqlmodel import Session

from components.backend import call, current_actor
from components.dialogs import disposable
from components.empty_state import empty_state
from crm_app.platform import bridge
from crm_app.platform.events import Event, SalesDocumentChanged
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor, Scope, scope_for
from crm_app.platform.records import changed_by_name

log = logging.getLogger(__name__)

Callback = Callable[[Event], Any]
R = TypeVar("R")


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


class RecordPanel(Generic[R]):
    """One record's screen (or the part of one that shows it) that stays true to the database: after
    each action on it, and at each change someone else commits to it.

    `frame` is never cleared: the dialogs, the confirmations and the actions' own context live there.
    `content`, inside it, is cleared and drawn again (`draw(record)`) from `load()` (None: the record
    could not be read, the user has been told why; if it was never drawn, the screen says it cannot
    be shown rather than stay empty). A button's click runs in the button's slot, which
    a rebuild deletes: whatever an action does after its service call (notify, open a dialog, rebuild)
    goes through the frame, never through the context of the element clicked.

    With `wants`, the panel follows the committed events it wants, from the moment it is made (before
    its first build, so that a change committed meanwhile is not missed), and rebuilds only when what
    `load()` gives differs from what is shown (`key` of the record: by default the record itself), so
    that this tab's own action, already shown, is not drawn twice."""

    def __init__(
        self,
        load: Callable[[], Awaitable[R | None]],
        draw: Callable[[R], Awaitable[None] | None],
        *,
        wants: Callable[[Event], bool] | None = None,
        key: Callable[[R], Any] | None = None,
        classes: str = "w-full gap-3",
    ) -> None:
        self._load = load
        self._draw = draw
        self._key = key or (lambda record: record)
        self.frame = ui.column().classes(classes)
        with self.frame:
            self.content = ui.column().classes(classes)
        self.record: R | None = None
        self.busy = False
        self._building = asyncio.Lock()
        if wants is not None:
            follow(wants, lambda: self.show(only_if_changed=True), owner=self.frame)

    async def show(self, *, only_if_changed: bool = False) -> bool:
        """(Re)build the content from the service; one build at a time (an action's and a live
        change's may meet). True when it was drawn."""
        async with self._building:
            with self.frame:  # not the context of the button clicked: the rebuild deletes it
                record = await self._load()
                if self.content.is_deleted:
                    return False
                if record is None:
                    # never drawn, and the page said nothing in its place: say so on the screen, not only
                    # in the toast (a page may draw its own refusal there, as the sales documents do)
                    if self.record is None and not self.content.default_slot.children:
                        self._unavailable()
                    return False
                if only_if_changed and self.record is not None and self._key(record) == self._key(self.record):
                    return False
                await self._present(record)
                return True

    def _unavailable(self) -> None:
        self.content.clear()
        with self.content:
            empty_state(
                "search_off", _("This record cannot be shown: it does not exist, or you may not open it.")
            ).mark("record-unavailable")

    async def present(self, record: R) -> None:
        """Draw a record already read (the page's first build, from what it loaded for other parts)."""
        async with self._building:
            with self.frame:
                await self._present(record)

    async def _present(self, record: R) -> None:
        self.record = record
        self.content.clear()
        with self.content:
            drawn = self._draw(record)
            if inspect.isawaitable(drawn):
                await drawn

    async def act(
        self,
        fn: Callable[..., Any],
        *args: Any,
        done: str | Callable[[Any], str],
        fields: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run one action through `call` (ignored while another runs: a double click acts once), rebuild
        the content (after a refused action too: the record as it is now), and confirm with `done` (a
        message, or a function of the service's result). The service's result, None when refused."""
        if self.busy:
            return None
        self.busy = True
        try:
            with self.frame:
                result = await call(fn, *args, fields=fields, **kwargs)
        finally:
            self.busy = False
        await self.show()
        if result is not None:
            self.notify(done if isinstance(done, str) else done(result))
        return result

    def notify(self, message: str, *, kind: Literal["positive", "warning", "info"] = "positive") -> None:
        with self.frame:
            ui.notify(message, type=kind)

    def leave_when_deleted(self, is_deletion: Callable[[Event], bool], *, to: str, message: str) -> None:
        """When the record is deleted, the page leaves for `to`. Deleted by someone else, it says so
        (`message`); deleted by this user (here, where the dialog has said so, or in another tab), it
        leaves without a warning."""
        viewer = current_actor().id

        async def leave(event: Event) -> None:
            with self.frame:
                if event.actor_id != viewer:
                    ui.notify(message, type="warning")
                ui.navigate.to(to)

        watch(is_deletion, leave, owner=self.frame)

    @contextmanager
    def dialog(self) -> Iterator[ui.dialog]:
        """A dialog in the frame (a rebuild does not delete it), deleted once closed."""
        with self.frame, disposable(ui.dialog()) as dialog:
            yield dialog


def _changed_by(session: Session, _actor: Actor, user_id: uuid.UUID | None) -> str:
    return _(changed_by_name(session, user_id))


class StaleNotice:
    """In a form that edits a record: when someone else (or this user in another tab) saves a change to
    it meanwhile, say so above the form and who did, rather than change what the user is typing or let
    their save overwrite the other change (the service refuses a save of an older version). `reload`
    starts the form again from the saved version, when the user chooses to.

    Call `saving()` before the form's own save, and `saved(ok)` after it: the form's own change, which
    comes back as an event too, is not somebody else's. `outdated()`, when given, says whether the
    record's saved version is still the form's (an event that does not change it, such as a meeting's
    answer, then says nothing)."""

    def __init__(
        self,
        wants: Callable[[Event], bool],
        *,
        reload: Callable[[], Any] | None = None,
        outdated: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.reload = reload
        self.outdated = outdated
        self._saving = False
        self.stale = False
        self.root = ui.column().classes("w-full gap-1").mark("stale-notice")
        self.root.set_visibility(False)
        watch(wants, self._changed, owner=self.root)

    def saving(self) -> None:
        self._saving = True

    def saved(self, ok: bool) -> None:
        """After the form's save: a refused one leaves the form open and watched again."""
        self._saving = ok

    async def _changed(self, event: Event) -> None:
        if self._saving or self.root.is_deleted or self.stale:
            return
        with self.root:
            if self.outdated is not None and not await self.outdated():
                return
            name = await call(_changed_by, event.actor_id)
        if self.root.is_deleted or self._saving:
            return
        self.stale = True
        self.root.clear()
        # The words take the width; the button goes under them when the dialog is narrow (a phone).
        with self.root, ui.row().classes("w-full items-center gap-2 q-pa-sm rounded-borders bg-orange-1"):
            with ui.row().classes("flex-1 items-center no-wrap gap-2").style("min-width: 14rem"):
                ui.icon("sync_problem", color="warning", size="sm")
                ui.label(
                    _(
                        "{name} saved a change to this record while you were editing it. What you typed is kept, "
                        "but it cannot be saved over their change: load their version, then make your change again.",
                        name=name or _("Someone"),
                    )
                ).classes("text-body2").mark("stale-message")
            if self.reload is not None:
                ui.button(_("Load their version"), icon="refresh", on_click=self.reload).props(
                    "flat dense no-caps no-wrap"
                ).classes("q-ml-auto").mark("stale-reload")
        self.root.set_visibility(True)


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
