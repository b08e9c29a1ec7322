"""The institution page's Activity tab (add a task, note, meeting or call in place; its open tasks and
recent activities) and Timeline tab (everything that happened on it, newest first, paged)."""

from __future__ import annotations

import uuid
from typing import Any

from nicegui import run, ui

from components import live
from components.backend import call, current_actor
from components.call_dialog import open_call_dialog
from components.institution_tabs import institution_tab
from components.meeting_dialog import open_meeting_dialog
from components.moments import user_zone
from components.note_dialog import open_note_dialog
from components.task_dialog import (
    PRIORITY_COLORS,
    STATUS_COLORS,
    format_due,
    may_see,
    open_task_dialog,
)
from components.timeline_entries import KIND_LABELS, timeline_item
from crm_app.activities import tasks
from crm_app.activities.labels import (
    TASK_PRIORITY_LABELS,
    TASK_STATUS_LABELS,
)
from crm_app.activities.models import OPEN_TASK_STATUSES
from crm_app.activities.tasks import TaskQuery, TaskRow
from crm_app.institutions import timeline
from crm_app.institutions.service import InstitutionDetail
from crm_app.platform import settings
from crm_app.platform.events import Event, TaskChanged
from crm_app.platform.i18n import N_, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import PageRequest

OPEN_TASKS_SHOWN = 10
RECENT_SHOWN = 10
TIMELINE_PAGE = 20
ACTIVITY_KINDS = ("note", "meeting", "call")


def _shown(kinds: tuple[str, ...] | list[str], off: frozenset[str]) -> tuple[str, ...]:
    """The kinds whose module is on (the timeline service leaves the others out too)."""
    return tuple(kind for kind in kinds if settings.KIND_MODULES.get(kind) not in off)


@institution_tab("activity", label=N_("Activity"), icon="event_note", order=30)
async def activity_tab(detail: InstitutionDetail) -> None:
    off = await run.io_bound(settings.disabled_modules) or frozenset()
    await ActivityPanel(detail, await user_zone(), off).refresh()


class ActivityPanel:
    """Buttons to record an activity here, the open tasks, and the latest notes, meetings and calls."""

    def __init__(self, detail: InstitutionDetail, zone: str, off: frozenset[str] = frozenset()) -> None:
        self.actor = current_actor()
        self.off = off
        self.recent_kinds = _shown(ACTIVITY_KINDS, off)
        self.zone = zone
        self.institution_id = detail.institution.id
        self.institution_name = detail.institution.name
        self.task_ids: set[uuid.UUID] = set()
        with ui.column().classes("w-full gap-0") as self.root:
            self._build()
        live.watch(self.concerns, self._on_task_event, owner=self.root)

    def _build(self) -> None:
        with ui.row().classes("w-full items-center gap-2"):
            here, name, saved = self.institution_id, self.institution_name, self.refresh_recent
            if "tasks" not in self.off:
                ui.button(_("Add a task"), icon="add_task", on_click=self.add_task).props("unelevated").mark("add-task")
            if "notes" not in self.off:
                ui.button(
                    _("Add a note"),
                    icon="note_add",
                    on_click=lambda: open_note_dialog(institution_id=here, institution_name=name, on_saved=saved),
                ).props("outline").mark("add-note")
            if "meetings" not in self.off:
                ui.button(
                    _("Plan a meeting"),
                    icon="event",
                    on_click=lambda: open_meeting_dialog(institution_id=here, institution_name=name, on_saved=saved),
                ).props("outline").mark("add-meeting")
            if "calls" not in self.off:
                ui.button(
                    _("Log a call"),
                    icon="add_call",
                    on_click=lambda: open_call_dialog(institution_id=here, institution_name=name, on_saved=saved),
                ).props("outline").mark("add-call")
        with ui.row().classes("w-full gap-4 items-start q-mt-md"):
            with ui.card().classes("flex-1 min-w-80") as tasks_card:
                with ui.row().classes("w-full items-center"):
                    ui.label(_("Open tasks")).classes("text-subtitle1 text-weight-medium")
                    self.open_count = ui.badge("0").props("rounded color=primary").mark("open-task-count")
                    ui.space()
                    params = f"institution_id={self.institution_id}&assignee=all&status=todo,in_progress"
                    ui.link(_("See all"), f"/tasks?{params}").classes("text-caption")
                self.open_tasks = ui.list().props("separator").classes("w-full").mark("open-tasks")
            tasks_card.set_visibility("tasks" not in self.off)
            with ui.card().classes("flex-1 min-w-80"):
                ui.label(_("Recent activity")).classes("text-subtitle1 text-weight-medium")
                self.recent = ui.timeline(side="right").classes("w-full").mark("recent-activity")

    async def refresh(self) -> None:
        if "tasks" not in self.off:
            await self.refresh_tasks()
        await self.refresh_recent()

    async def refresh_tasks(self) -> None:
        # In the panel's own context: a dialog that asked for this may be gone (see TaskScreen.reload).
        with self.root:
            query = TaskQuery(institution_id=self.institution_id, statuses=OPEN_TASK_STATUSES)
            page = await call(tasks.list_tasks, query, PageRequest(1, OPEN_TASKS_SHOWN))
        if page is None or self.root.is_deleted:
            return
        self.task_ids = {row.id for row in page.items}
        self.open_count.text = str(page.total)
        self.open_tasks.clear()
        with self.open_tasks:
            if not page.items:
                ui.item(_("No open tasks.")).classes("text-grey-7")
            for row in page.items:
                self._task_item(row)
            if page.total > len(page.items):
                more = page.total - len(page.items)
                ui.item(ngettext("{count} more open task", "{count} more open tasks", more, count=more)).classes(
                    "text-grey-7"
                )

    def _task_item(self, row: TaskRow) -> None:
        with ui.item(on_click=lambda r=row: self.edit_task(r.id)).props("clickable").mark("open-task"):
            with ui.item_section():
                ui.item_label(row.title).classes("text-weight-medium")
                ui.item_label(" · ".join(p for p in (row.assignee_name, format_due(row.due_at, self.zone)) if p)).props(
                    "caption"
                ).classes("text-negative" if row.is_overdue else "")
            with ui.item_section().props("side"), ui.row().classes("gap-1"):
                ui.badge(_(TASK_STATUS_LABELS[row.status]), color=STATUS_COLORS[row.status])
                ui.badge(_(TASK_PRIORITY_LABELS[row.priority]), color=PRIORITY_COLORS[row.priority]).props("outline")

    async def refresh_recent(self) -> None:
        with self.root:
            page = await call(
                timeline.timeline, self.institution_id, PageRequest(1, RECENT_SHOWN), kinds=self.recent_kinds
            )
        if page is None or self.root.is_deleted:
            return
        self.recent.clear()
        with self.recent:
            if not page.items:
                ui.label(_("No notes, meetings or calls yet.")).classes("text-grey-7")
            for entry in page.items:
                timeline_item(entry, self.zone)

    async def add_task(self) -> None:
        with self.root:
            await open_task_dialog(
                institution=(self.institution_id, self.institution_name), on_saved=self.refresh_tasks
            )

    async def edit_task(self, task_id: uuid.UUID) -> None:
        with self.root:  # not inside the list item: a refresh of the list replaces it
            await open_task_dialog(task_id, on_saved=self.refresh_tasks)

    def concerns(self, event: Event) -> bool:
        """A task shown here changed, or one that may now belong here (the reload asks the service)."""
        return isinstance(event, TaskChanged) and (event.task_id in self.task_ids or may_see(self.actor, event))

    async def _on_task_event(self, _event: Event) -> None:
        await self.refresh_tasks()


@institution_tab("timeline", label=N_("Timeline"), icon="timeline", order=40)
async def timeline_tab(detail: InstitutionDetail) -> None:
    off = await run.io_bound(settings.disabled_modules) or frozenset()
    await TimelinePanel(detail.institution.id, await user_zone(), off).reload()


class TimelinePanel:
    """Every entry of the institution's timeline, newest first, a page at a time ("Load more")."""

    def __init__(self, institution_id: uuid.UUID, zone: str, off: frozenset[str] = frozenset()) -> None:
        self.institution_id = institution_id
        self.zone = zone
        self.loaded = 0
        self.page = 0
        self.seen: set[tuple[str, uuid.UUID]] = set()  # entries added meanwhile shift the pages
        kinds = _shown(timeline.source_kinds(), off)
        with ui.row().classes("w-full items-center gap-2"):
            self.kinds = (
                ui.select(
                    {kind: _(KIND_LABELS.get(kind, kind)) for kind in kinds},
                    multiple=True,
                    label=_("Show"),
                    value=list(kinds),
                    on_change=self._kinds_changed,
                )
                .props("dense outlined use-chips")
                .classes("grow min-w-64 max-w-full")
                .mark("timeline-kinds")
            )
            ui.space()
            self.count = ui.label().classes("text-grey-7").mark("timeline-count")
        self.entries = ui.timeline(side="right").classes("w-full").mark("timeline")
        with ui.row().classes("w-full justify-center"):
            self.more = (
                ui.button(_("Load more"), icon="expand_more", on_click=self.load_more)
                .props("flat")
                .mark("timeline-more")
            )
        self.more.set_visibility(False)

    def _kinds_changed(self, _event: Any) -> Any:
        return self.reload()

    async def reload(self) -> None:
        self.page = 0
        self.loaded = 0
        self.seen.clear()
        self.entries.clear()
        await self.load_more()

    async def load_more(self) -> None:
        chosen = list(self.kinds.value or [])
        if not chosen:
            self._show_total(0)
            return
        with self.entries:
            found = await call(
                timeline.timeline, self.institution_id, PageRequest(self.page + 1, TIMELINE_PAGE), kinds=chosen
            )
        if found is None or self.entries.is_deleted:
            return
        self.page += 1
        fresh = [entry for entry in found.items if (entry.kind, entry.record_id) not in self.seen]
        self.seen.update((entry.kind, entry.record_id) for entry in fresh)
        self.loaded += len(fresh)
        with self.entries:
            if found.total == 0:
                ui.label(_("Nothing has happened here yet.")).classes("text-grey-7").mark("timeline-empty")
            for entry in fresh:
                timeline_item(entry, self.zone)
        self._show_total(found.total)

    def _show_total(self, total: int) -> None:
        self.count.text = _("{shown} of {total}", shown=self.loaded, total=total)
        self.more.set_visibility(self.page * TIMELINE_PAGE < total)
