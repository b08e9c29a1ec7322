"""Create or edit a task in a dialog: title, description, status, priority, due date and time (in the
user's time zone), assignee (only the users the actor may assign to), institution and contact picked
by searching as you type. The service's messages show next to their field; a save over someone
else's newer change is refused with their name. An existing task shows its comments.

Also what the task screens share: colours, the due date in words, the cheap live-event test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from nicegui import ui
from sqlmodel import Session

from components import live
from components.backend import call
from components.comments import comment_thread
from components.dialogs import confirm, disposable, opportunity_line
from components.moments import END_OF_DAY, join_moment, split_moment, user_zone
from components.pickers import contact_picker, institution_picker
from crm_app.activities import tasks
from crm_app.activities.labels import TASK_PRIORITY_LABELS, TASK_STATUS_LABELS
from crm_app.activities.models import TaskPriority, TaskStatus
from crm_app.activities.tasks import TaskChoices, TaskRow
from crm_app.platform.events import TaskChanged
from crm_app.platform.i18n import current_locale, format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.permissions import Actor

OnSaved = Callable[[], Awaitable[Any]]

STATUS_COLORS = {
    TaskStatus.TODO: "blue-grey",
    TaskStatus.IN_PROGRESS: "primary",
    TaskStatus.DONE: "positive",
    TaskStatus.CANCELLED: "grey",
}
PRIORITY_COLORS = {
    TaskPriority.LOW: "grey",
    TaskPriority.NORMAL: "blue-grey",
    TaskPriority.HIGH: "orange",
    TaskPriority.URGENT: "negative",
}


def may_see(actor: Actor, event: TaskChanged) -> bool:
    """Cheap test, on the event loop, for every task change: could the actor see this task?"""
    return live.may_see(actor, owner_id=event.assignee_id, team_id=event.team_id, changed_by=event.actor_id)


def format_due(value: datetime | None, zone: str) -> str:
    """A due moment for lists and cards: the date alone when no time was given."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    if local.time() == END_OF_DAY:
        return babel_dates.format_date(local.date(), format="short", locale=current_locale())
    return format_datetime(value, zone, style="short")


def _deleted(session: Session, actor: Actor, task_id: uuid.UUID) -> bool:
    tasks.delete_task(session, actor, task_id)
    return True


async def open_task_dialog(
    task_id: uuid.UUID | None = None,
    *,
    on_saved: OnSaved | None = None,
    on_deleted: OnSaved | None = None,
    institution: tuple[uuid.UUID, str] | None = None,
    opportunity: tuple[uuid.UUID, str] | None = None,
) -> None:
    """Open the dialog: a new task (for `institution` when given, linked to `opportunity` (id, name),
    whose institution it takes) or the task `task_id`, read afresh so that its version is the one the
    user sees. `on_saved` runs after a save, `on_deleted` (by
    default `on_saved`) after a deletion. Open it in an element that the callbacks do not rebuild."""
    zone, choices, row = await asyncio.gather(
        user_zone(), call(tasks.task_choices), call(tasks.get_task_row, task_id) if task_id else _nothing()
    )
    if choices is None or (task_id is not None and row is None):
        return
    TaskDialog(
        choices,
        row,
        zone=zone,
        on_saved=on_saved,
        on_deleted=on_deleted or on_saved,
        institution=institution,
        opportunity=opportunity,
    ).dialog.open()


async def _nothing() -> None:
    return None


class TaskDialog:
    """See `open_task_dialog`."""

    def __init__(
        self,
        choices: TaskChoices,
        row: TaskRow | None,
        *,
        zone: str,
        on_saved: OnSaved | None,
        on_deleted: OnSaved | None = None,
        institution: tuple[uuid.UUID, str] | None,
        opportunity: tuple[uuid.UUID, str] | None = None,
    ) -> None:
        self.row = row
        self.opportunity = opportunity if row is None else None  # a new task's link
        self.zone = zone
        self.on_saved = on_saved
        self.on_deleted = on_deleted
        self.home = ui.context.slot.parent  # where it was opened: where "Load their version" opens it again
        self.notice: live.StaleNotice | None = None
        editable = row is None or row.can_edit
        users = {str(user_id): name for user_id, name in choices.assignable}
        if row is not None and str(row.assignee_id) not in users:  # assigned by someone with a wider reach
            users[str(row.assignee_id)] = row.assignee_name
        due_day, due_time = split_moment(row.due_at if row else None, zone)
        institution_id, institution_name = (
            (row.institution_id, row.institution_name) if row else (institution if institution else (None, None))
        )
        self.fields: dict[str, Any] = {}
        f = self.fields
        with ui.dialog() as self.dialog, ui.card().classes("w-[44rem] max-w-full").mark("task-dialog"):
            with ui.row().classes("w-full items-center"):
                ui.label(_("Edit task") if row else _("New task")).classes("text-h6")
                ui.space()
                if row is not None:
                    ui.link(_("Open"), f"/tasks/{row.id}").classes("text-caption")
                ui.button(icon="close", on_click=self.dialog.close).props(f'flat round dense aria-label="{_("Close")}"')
            opportunity_line(self.opportunity, marker="task-opportunity")
            if row is not None:
                self.notice = live.StaleNotice(
                    # A deletion is not a version to load: the task page leaves for the list, and a save
                    # here answers that the task no longer exists.
                    lambda event: isinstance(event, TaskChanged) and event.task_id == row.id and not event.deleted,
                    reload=self.reopen,
                )
            f["title"] = (
                ui.input(_("Title") + " *", value=row.title if row else "")
                .classes("w-full")
                .props("autofocus counter maxlength=200")
            )
            with ui.grid(columns=2).classes("w-full gap-x-4"):
                f["status"] = ui.select(
                    {s.value: _(TASK_STATUS_LABELS[s]) for s in TaskStatus},
                    label=_("Status"),
                    value=(row.status if row else TaskStatus.TODO).value,
                )
                f["priority"] = ui.select(
                    {p.value: _(TASK_PRIORITY_LABELS[p]) for p in TaskPriority},
                    label=_("Priority"),
                    value=(row.priority if row else TaskPriority.NORMAL).value,
                )
                f["due_at"] = ui.input(_("Due date"), value=due_day).props("type=date stack-label clearable")
                self.due_time = ui.input(_("Due time"), value=due_time).props("type=time stack-label clearable")
                f["assignee_id"] = ui.select(
                    users,
                    label=_("Assigned to") + " *",
                    with_input=True,
                    value=str(row.assignee_id) if row else next(iter(users), None),
                )
                f["institution_id"] = institution_picker(
                    value=institution_id, value_label=institution_name, on_change=self._institution_changed
                )
                f["contact_id"] = contact_picker(
                    institution_id=institution_id,
                    value=row.contact_id if row else None,
                    value_label=row.contact_name if row else None,
                    on_change=self._contact_changed,
                )
            f["description"] = (
                ui.textarea(_("Description"), value=(row.description or "") if row else "")
                .classes("w-full")
                .props("autogrow")
            )
            for name, element in {**f, "due_time": self.due_time}.items():
                element.mark(f"task-{name.removesuffix('_id')}")
                if not editable or (name == "institution_id" and self.opportunity):  # the opportunity's
                    element.disable()
            if row is not None:
                ui.separator().classes("q-my-sm")
                comment_thread(CommentTarget.TASK, row.id)
            with ui.row().classes("w-full q-mt-md items-center"):
                if row is not None and row.can_edit:
                    ui.button(
                        _("Delete"),
                        icon="delete",
                        on_click=lambda: confirm(
                            _("Delete the task “{title}” and its comments?", title=row.title), self.delete
                        ),
                    ).props("flat no-caps color=negative").mark("task-delete")
                ui.space()
                ui.button(_("Cancel") if editable else _("Close"), on_click=self.dialog.close).props("flat no-caps")
                if editable:
                    ui.button(_("Save"), on_click=self.save).props("unelevated no-caps").mark("task-save")
        disposable(self.dialog)

    def _institution_changed(self, _event: Any) -> None:
        self.fields["contact_id"].set_institution(self.fields["institution_id"].selected_id)

    def _contact_changed(self, _event: Any) -> None:
        """A contact chosen among all contacts brings its institution."""
        picker, institution = self.fields["contact_id"], self.fields["institution_id"]
        owner = picker.institution_of(picker.selected_id)
        if owner is not None and institution.selected_id is None:
            institution.select_record(owner, (picker.selected_label or "").split(" · ", 1)[-1])
            picker.institution_id = owner

    def values(self) -> dict[str, Any]:
        f = self.fields
        link = {"opportunity_id": self.opportunity[0]} if self.opportunity is not None else {}
        return {
            **link,
            "title": f["title"].value,
            "description": f["description"].value,
            "status": f["status"].value,
            "priority": f["priority"].value,
            "due_at": join_moment(f["due_at"].value, self.due_time.value, self.zone),
            "assignee_id": f["assignee_id"].value,
            "institution_id": f["institution_id"].selected_id,
            "contact_id": f["contact_id"].selected_id,
        }

    async def save(self) -> None:
        if self.notice is not None:
            self.notice.saving()
        with self.home:  # the confirmation outlives the dialog
            if self.row is None:
                saved: Any = await call(tasks.create_task, self.values(), fields=self.fields)
            else:
                saved = await call(
                    tasks.update_task, self.row.id, self.values(), expected_version=self.row.version, fields=self.fields
                )
            if self.notice is not None:
                self.notice.saved(saved is not None)
            if saved is None:
                return
            ui.notify(_("Task saved."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_saved is not None:
                await self.on_saved()

    async def delete(self) -> None:
        assert self.row is not None
        if self.notice is not None:
            self.notice.saving()
        with self.home:
            if not await call(_deleted, self.row.id):
                if self.notice is not None:
                    self.notice.saved(False)
                return
            ui.notify(_("Task deleted."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_deleted is not None:
                await self.on_deleted()

    async def reopen(self) -> None:
        """The task as saved now, in a fresh dialog (what was typed here is dropped, as the user chose)."""
        assert self.row is not None
        self.dialog.close()
        if not self.home.is_deleted:
            with self.home:
                await open_task_dialog(self.row.id, on_saved=self.on_saved, on_deleted=self.on_deleted)
