"""The institution page's Activity tab (add a task, note, meeting or call in place; its open tasks and
recent activities) and Timeline tab (everything that happened on it, newest first, paged)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from nicegui import run, ui

from components import live
from components.backend import call, current_actor
from components.call_dialog import duration_text, open_call_dialog
from components.history_values import change_words
from components.institution_tabs import institution_tab
from components.meeting_dialog import open_meeting_dialog
from components.moments import user_zone
from components.note_dialog import NoteMarkdown, excerpt, open_note_dialog
from components.task_dialog import (
    PRIORITY_COLORS,
    STATUS_COLORS,
    format_due,
    may_see,
    open_task_dialog,
)
from crm_app.activities import tasks
from crm_app.activities.labels import (
    CALL_DIRECTION_LABELS,
    MEETING_STATUS_LABELS,
    NOTE_VISIBILITY_LABELS,
    TASK_PRIORITY_LABELS,
    TASK_STATUS_LABELS,
)
from crm_app.activities.models import OPEN_TASK_STATUSES, CallDirection, MeetingStatus, NoteVisibility, TaskStatus
from crm_app.activities.tasks import TaskQuery, TaskRow
from crm_app.institutions import timeline
from crm_app.institutions.service import InstitutionDetail
from crm_app.institutions.timeline import TimelineEntry
from crm_app.platform import audit, settings
from crm_app.platform.events import Event, TaskChanged
from crm_app.platform.i18n import N_, format_currency, format_date, format_datetime, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import PageRequest
from crm_app.sales.invoices import KIND_LABELS as INVOICE_KIND_LABELS
from crm_app.sales.invoices import STATUS_LABELS as INVOICE_STATUS_LABELS
from crm_app.sales.invoices import status_label
from crm_app.sales.models.invoices import InvoiceKind, InvoiceStatus, PaymentMethod
from crm_app.sales.models.quotes import QuoteStatus
from crm_app.sales.payments import PAYMENT_METHOD_LABELS
from crm_app.sales.quotes import QUOTE_STATUS_LABELS

OPEN_TASKS_SHOWN = 10
RECENT_SHOWN = 10
TIMELINE_PAGE = 20
ACTIVITY_KINDS = ("note", "meeting", "call")


def _shown(kinds: tuple[str, ...] | list[str], off: frozenset[str]) -> tuple[str, ...]:
    """The kinds whose module is on (the timeline service leaves the others out too)."""
    return tuple(kind for kind in kinds if settings.KIND_MODULES.get(kind) not in off)


KIND_LABELS = {
    "task": N_("Tasks"),
    "note": N_("Notes"),
    "meeting": N_("Meetings"),
    "call": N_("Calls"),
    "change": N_("Changes"),
    "quote": N_("Quotes"),
    "invoice": N_("Invoices"),
    "payment": N_("Payments"),
}
KIND_NAMES = {
    "task": N_("Task"),
    "note": N_("Note"),
    "meeting": N_("Meeting"),
    "call": N_("Call"),
    "change": N_("Change"),
    "quote": N_("Quote"),
    "invoice": N_("Invoice"),
    "payment": N_("Payment"),
}
KIND_ICONS = {
    "task": "task_alt",
    "note": "sticky_note_2",
    "meeting": "groups",
    "call": "call",
    "change": "edit",
    "quote": "request_quote",
    "invoice": "receipt_long",
    "payment": "payments",
}
KIND_COLORS = {"task": "primary", "note": "amber-8", "meeting": "purple", "call": "teal", "change": "grey"}


def _status_label(kind: str, status: str | None) -> str:
    """The entry's status in words, for the kinds this area knows; other areas' statuses as stored."""
    if not status:
        return ""
    enums: dict[str, tuple[Any, dict[Any, str]]] = {
        "task": (TaskStatus, TASK_STATUS_LABELS),
        "meeting": (MeetingStatus, MEETING_STATUS_LABELS),
        "note": (NoteVisibility, NOTE_VISIBILITY_LABELS),
        "call": (CallDirection, CALL_DIRECTION_LABELS),
        "quote": (QuoteStatus, QUOTE_STATUS_LABELS),
        "invoice": (InvoiceStatus, INVOICE_STATUS_LABELS),
        "payment": (PaymentMethod, PAYMENT_METHOD_LABELS),
    }
    if kind in enums:
        enum, labels = enums[kind]
        try:
            return _(labels[enum(status)])
        except ValueError:
            return status
    return status


def _duration(seconds: str | None) -> str:
    return duration_text(int(seconds)) if seconds and seconds.isdigit() else ""


def describe(entry: TimelineEntry) -> tuple[str, str]:
    """The entry's headline and its details, in words."""
    status = _status_label(entry.kind, entry.status)
    if entry.kind == "change":
        return _describe_change(entry)
    if entry.kind == "call":
        parts = [status, entry.detail or "", _duration(entry.new_value)]
        return " · ".join(p for p in parts if p), entry.title or ""
    if entry.kind == "note":
        return excerpt(entry.title or ""), status
    if entry.kind in _SALES_KINDS:
        return _describe_sale(entry, status)
    return entry.title or "", " · ".join(p for p in (status, entry.detail or "") if p)


_SALES_KINDS = ("quote", "invoice", "payment")


def _describe_change(entry: TimelineEntry) -> tuple[str, str]:
    """An audit entry (`status` its record's kind, `detail` the action, `title` the field) as its area
    words it: "Facture FA-2026-0001 émise · Statut", "Brouillon → Émise"."""
    words = change_words(
        audit.HistoryRow(
            id=entry.record_id,
            at=entry.at,
            actor_name=entry.user_name,
            entity_type=entry.status or "",
            action=entry.detail or "",
            field=entry.title,
            old_value=entry.old_value,
            new_value=entry.new_value,
            old_name=entry.old_name,
            new_name=entry.new_name,
            entity_name=entry.about_name,
        )
    )
    headline = f"{words.what} · {words.field}" if words.field else words.what
    return headline, words.change()


def _amount(text: str | None) -> str:
    try:
        return format_currency(Decimal(text)) if text else ""
    except InvalidOperation:
        return text or ""


def _describe_sale(entry: TimelineEntry, status: str) -> tuple[str, str]:
    """Quotes (number; status · title · total), invoices and credit notes (number; status · total) and
    payments (invoice number; method · date · amount)."""
    if entry.kind == "quote":
        return entry.title or "", " · ".join(p for p in (status, entry.detail or "", _amount(entry.new_value)) if p)
    if entry.kind == "invoice":
        headline = entry.title or ""
        if entry.detail == InvoiceKind.CREDIT_NOTE.value:
            headline = f"{_(INVOICE_KIND_LABELS[InvoiceKind.CREDIT_NOTE])} {headline}"
            status = _(status_label(InvoiceKind.CREDIT_NOTE, InvoiceStatus(entry.status))) if entry.status else ""
        return headline, " · ".join(p for p in (status, _amount(entry.new_value)) if p)
    paid_on = format_date(date.fromisoformat(entry.detail)) if entry.detail else ""
    return entry.title or "", " · ".join(p for p in (status, paid_on, _amount(entry.new_value)) if p)


def timeline_item(entry: TimelineEntry, zone: str) -> None:
    """One entry: icon and colour by kind, headline (a link to its record), when and who, details."""
    headline, details = describe(entry)
    when = format_datetime(entry.at, zone, style="short")
    subtitle = " · ".join(p for p in (_(KIND_NAMES.get(entry.kind, entry.kind)), when, entry.user_name or "") if p)
    with ui.timeline_entry(
        subtitle=subtitle, icon=KIND_ICONS.get(entry.kind, "circle"), color=KIND_COLORS.get(entry.kind, "grey")
    ).mark(f"timeline-entry timeline-{entry.kind}") as item:
        if entry.kind == "note":
            _note_entry(item, entry, details)
            return
        with item.add_slot("title"):
            if entry.link:
                ui.link(headline, entry.link).classes("text-body1 text-primary text-weight-medium")
            else:
                ui.label(headline).classes("text-body1 text-weight-medium")
        if details:
            ui.label(details).classes("whitespace-pre-wrap text-grey-8")


def _note_entry(item: ui.timeline_entry, entry: TimelineEntry, details: str) -> None:
    """A note reads as it was written (its markdown rendered, safely), its first lines only: its link
    opens it whole."""
    with item.add_slot("title"):
        NoteMarkdown(entry.title or "").classes("opex-note opex-clamp text-body1").mark("timeline-note-text")
    with ui.row().classes("items-center gap-2 text-grey-8"):
        if entry.link:
            ui.link(_("Open"), entry.link).classes("text-primary").mark("timeline-note-open")
        if details:
            ui.label(details)


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
