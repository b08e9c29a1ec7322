"""/tasks: my tasks by default, filtered (assignee, status, priority, due, institution, text) with the
filters in the URL; a paged list or a board by status with drag and drop; create and edit in a
dialog. Both views follow other people's changes live. /tasks/{id}: one task and its comments."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.board import Board, Column, card_id_of, more_cards_text
from components.comments import comment_thread
from components.filter_chips import Chip, FilterChips, range_text, team_text
from components.moments import user_zone
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.pickers import institution_picker
from components.shell import app_page, set_title
from components.task_dialog import (
    PRIORITY_COLORS,
    STATUS_COLORS,
    format_due,
    may_see,
    open_task_dialog,
)
from crm_app.activities import tasks
from crm_app.activities.labels import TASK_PRIORITY_LABELS, TASK_STATUS_LABELS
from crm_app.activities.models import TaskPriority, TaskStatus
from crm_app.activities.tasks import TaskChoices, TaskQuery, TaskRow
from crm_app.institutions import service as institutions
from crm_app.platform.config import get_settings
from crm_app.platform.events import Event, TaskChanged
from crm_app.platform.i18n import N_, format_datetime, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.params import Params

LIST, BOARD = "list", "board"
ME, EVERYONE = "me", "all"
SORTABLE = ("title", "status", "priority", "due", "updated")
DUE_LABELS = {
    "": N_("Any time"),
    "overdue": N_("Overdue"),
    "today": N_("Due today"),
    "week": N_("Due this week"),
    "none": N_("No due date"),
}
PER_COLUMN = 50
_as_uuid = card_id_of  # a picker's or an event's value as an id


def parse_query(params: Mapping[str, Sequence[str]], zone: str | None = None) -> TaskQuery:
    """The URL's filters; without an `assignee` they show the actor's own tasks. "Today" and "this
    week" are the user's (`zone`)."""
    query = TaskQuery.from_params(params)
    assignee = Params(params).one("assignee") or ME
    chosen = _as_uuid(assignee)
    return dataclasses.replace(query, mine=assignee != EVERYONE and chosen is None, assignee_id=chosen, timezone=zone)


def _ids_and_days(query: TaskQuery) -> dict[str, str]:
    """The institution and team ids, the days done: as URL parameters."""
    params = {name: str(value) for name in ("institution_id", "team_id") if (value := getattr(query, name)) is not None}
    for name in ("completed_from", "completed_to"):
        if (day := getattr(query, name)) is not None:
            params[name] = day.isoformat()
    return params


def query_params(query: TaskQuery, *, view: str = LIST, page: int = 1) -> dict[str, str]:
    """The URL's filters for `query` (the inverse of `parse_query`); defaults are left out."""
    params: dict[str, str] = {}
    if query.assignee_id is not None:
        params["assignee"] = str(query.assignee_id)
    elif not query.mine:
        params["assignee"] = EVERYONE
    if query.statuses:
        params["status"] = ",".join(s.value for s in query.statuses)
    if query.priorities:
        params["priority"] = ",".join(p.value for p in query.priorities)
    if query.due:
        params["due"] = query.due
    params.update(_ids_and_days(query))
    if query.q:
        params["q"] = query.q
    if query.sort != "due" or query.descending:
        params["sort"] = ("-" if query.descending else "") + query.sort
    if view == BOARD:
        params["view"] = BOARD
    if page > 1:
        params["page"] = str(page)
    return params


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": "title", "label": _("Task"), "field": "title", "sortable": True, "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status", "sortable": True, "align": "left"},
        {"name": "priority", "label": _("Priority"), "field": "priority", "sortable": True, "align": "left"},
        {"name": "due", "label": _("Due"), "field": "due", "sortable": True, "align": "left"},
        {"name": "assignee", "label": _("Assigned to"), "field": "assignee", "align": "left"},
        {"name": "institution", "label": _("Institution"), "field": "institution", "align": "left"},
        {"name": "contact", "label": _("Contact"), "field": "contact", "align": "left"},
        {"name": "updated", "label": _("Updated"), "field": "updated", "sortable": True, "align": "left"},
    ]


def _row(row: TaskRow, zone: str) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "title": row.title,
        "status": _(TASK_STATUS_LABELS[row.status]),
        "status_color": STATUS_COLORS[row.status],
        "priority": _(TASK_PRIORITY_LABELS[row.priority]),
        "priority_color": PRIORITY_COLORS[row.priority],
        "due": format_due(row.due_at, zone),
        "overdue": row.is_overdue,
        "assignee": row.assignee_name,
        "institution": row.institution_name or "",
        "institution_id": str(row.institution_id or ""),
        "contact": row.contact_name or "",
        "updated": format_datetime(row.updated_at, zone, style="short"),
    }


@app_page("/tasks", title=N_("Tasks"), icon="task_alt", in_navigation=True, order=30)
async def tasks_page(query: dict[str, list[str]]) -> None:
    screen = TaskScreen(query)
    wanted = screen.query.institution_id
    # The user's zone, the form's choices and the filtered institution's name are read at the same time.
    zone, choices, detail = await asyncio.gather(
        user_zone(), call(tasks.task_choices), call(institutions.get_detail, wanted) if wanted else _nothing()
    )
    if choices is None:
        return
    screen.zone = zone
    screen.query = dataclasses.replace(screen.query, timezone=zone)
    if detail is None:
        screen.query = dataclasses.replace(screen.query, institution_id=None)  # unknown: the filter goes
    screen.build(choices, detail.institution.name if detail else None)
    await screen.reload()


async def _nothing() -> None:
    return None


class TaskScreen:
    """The list and the board of one query that mirrors the URL; any change reloads from SQL."""

    def __init__(self, params: dict[str, list[str]]) -> None:
        self.actor = current_actor()
        self.query = parse_query(params)
        read = Params(params)
        self.view = BOARD if read.one("view") == BOARD else LIST
        first_page = read.one("page") or ""
        self.state = TableState(
            page=int(first_page) if first_page.isdigit() else 1, sort=self.query.sort, descending=self.query.descending
        )
        self.zone = get_settings().timezone
        self.rows: dict[uuid.UUID, TaskRow] = {}  # what the screen shows: the live filter's cheap test
        self._reloading = False
        self._again = False
        self._resetting = False

    # ---- the parts of the screen

    def build(self, choices: TaskChoices, institution_name: str | None) -> None:
        with ui.column().classes("w-full gap-2") as self.root:
            self._build(choices, institution_name)
        live.watch(self.concerns, self._on_event, owner=self.root)

    def _build(self, choices: TaskChoices, institution_name: str | None) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Tasks")).classes("text-h5")
            self.count = ui.label().classes("text-grey-7").mark("task-count")
            ui.space()
            ui.toggle({LIST: _("List"), BOARD: _("Board")}, value=self.view, on_change=self._switch_view).props(
                "no-caps"
            ).mark("view-toggle")
            ui.button(_("New task"), icon="add", on_click=self.create).props("unelevated").mark("new-task")
        self._filters(choices, institution_name)
        self.chips = FilterChips()
        with ui.column().classes("w-full") as self.list_box:
            self.paged = PagedTable(_columns(), self._load, state=self.state)
            self._table_slots(self.paged.table)
        self.board: Board[TaskStatus, TaskRow] = Board(
            marker="tasks-board",
            row_id=lambda row: row.id,
            can_move=lambda row: row.can_edit,
            draw_card=self._card,
            on_move=self.move,
            move_label=_("Move the task"),
            move_to=lambda column: _("Move to {status}", status=column.title),
            card_marker=lambda row: f"task-card task-card-{row.id}",
            more_text=more_cards_text,
        )
        self.board_box = self.board.element
        self.list_box.set_visibility(self.view == LIST)
        self.board_box.set_visibility(self.view == BOARD)

    def _filters(self, choices: TaskChoices, institution_name: str | None) -> None:
        q = self.query
        people = {
            ME: _("Me"),
            EVERYONE: _("Everyone I can see"),
            **{str(user_id): name for user_id, name in choices.assignable if user_id != self.actor.id},
        }
        assignee = str(q.assignee_id) if q.assignee_id else (ME if q.mine else EVERYONE)
        if assignee not in people:
            people[assignee] = _("Another user")
        with ui.row().classes("w-full items-center gap-2"):
            self.search = (
                ui.input(_("Search"), value=q.q, on_change=lambda e: self.changed(q=(e.value or "").strip()))
                .props("dense outlined clearable debounce=300")
                .classes("w-64")
                .mark("search")
            )
            self.assignee = (
                ui.select(
                    people,
                    label=_("Assigned to"),
                    value=assignee,
                    with_input=True,
                    on_change=lambda e: self._assignee_changed(e.value),
                )
                .props("dense outlined")
                .classes("w-48")
                .mark("filter-assignee")
            )
            self.statuses = (
                ui.select(
                    {s.value: _(TASK_STATUS_LABELS[s]) for s in TaskStatus},
                    multiple=True,
                    label=_("Status"),
                    value=[s.value for s in q.statuses],
                    on_change=lambda e: self.changed(statuses=tuple(TaskStatus(v) for v in e.value)),
                )
                .props("dense outlined use-chips")
                .classes("w-56")
                .mark("filter-status")
            )
            self.priorities = (
                ui.select(
                    {p.value: _(TASK_PRIORITY_LABELS[p]) for p in TaskPriority},
                    multiple=True,
                    label=_("Priority"),
                    value=[p.value for p in q.priorities],
                    on_change=lambda e: self.changed(priorities=tuple(TaskPriority(v) for v in e.value)),
                )
                .props("dense outlined use-chips")
                .classes("w-48")
                .mark("filter-priority")
            )
            self.due = (
                ui.select(
                    {key: _(label) for key, label in DUE_LABELS.items()},
                    label=_("Due"),
                    value=q.due or "",
                    on_change=lambda e: self.changed(due=e.value or None),
                )
                .props("dense outlined")
                .classes("w-40")
                .mark("filter-due")
            )
            self.institution = (
                institution_picker(
                    value=q.institution_id,
                    value_label=institution_name,
                    on_change=lambda e: self.changed(institution_id=_as_uuid(e.value)),
                )
                .props("dense outlined")
                .classes("w-64")
                .mark("filter-institution")
            )
            ui.button(_("Clear filters"), icon="filter_alt_off", on_click=self.clear_filters).props("flat").mark(
                "clear-filters"
            )

    def _table_slots(self, table: ui.table) -> None:
        table.add_slot(
            "body-cell-title",
            r"""
            <q-td :props="props">
              <a :href="'/tasks/' + props.row.id" class="text-primary text-weight-medium"
                 @click.prevent="() => $parent.$emit('edit', props.row.id)">{{ props.value }}</a>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-status",
            r"""
            <q-td :props="props"><q-badge :color="props.row.status_color">{{ props.value }}</q-badge></q-td>""",
        )
        table.add_slot(
            "body-cell-priority",
            r"""
            <q-td :props="props">
              <q-badge outline :color="props.row.priority_color">{{ props.value }}</q-badge>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-due",
            r"""
            <q-td :props="props" :class="props.row.overdue ? 'text-negative text-weight-medium' : ''">
              {{ props.value }}
            </q-td>""",
        )
        table.add_slot(
            "body-cell-institution",
            r"""
            <q-td :props="props">
              <a v-if="props.row.institution_id" :href="'/institutions/' + props.row.institution_id"
                 class="text-primary"
                 @click.prevent="() => $parent.$emit('institution', props.row.institution_id)">{{ props.value }}</a>
            </q-td>""",
        )
        table.on("edit", lambda e: self.edit(_as_uuid(e.args)))
        table.on("institution", lambda e: ui.navigate.to(f"/institutions/{e.args}"))
        table.mark("tasks-table")

    # ---- filters and the URL

    def changed(self, **changes: Any) -> Coroutine[Any, Any, None] | None:
        """A filter's change event; ignored while "Clear filters" empties them all (it reloads once)."""
        return None if self._resetting else self.apply(**changes)

    async def apply(self, **changes: Any) -> None:
        self.query = dataclasses.replace(self.query, **changes)
        self.state.page = 1
        await self.reload()

    def _assignee_changed(self, value: str | None) -> Coroutine[Any, Any, None] | None:
        return self.changed(mine=value in (ME, None), assignee_id=_as_uuid(value))

    async def clear_filters(self) -> None:
        self._resetting = True
        try:
            self.search.set_value("")
            self.statuses.set_value([])
            self.priorities.set_value([])
            self.due.set_value("")
            self.institution.set_value(None)
            self.assignee.set_value(ME)
        finally:
            self._resetting = False
        await self.apply(
            mine=True,
            assignee_id=None,
            statuses=(),
            priorities=(),
            due=None,
            institution_id=None,
            q="",
            team_id=None,
            completed_from=None,
            completed_to=None,
        )

    async def _switch_view(self, event: Any) -> None:
        self.view = BOARD if event.value == BOARD else LIST
        self.list_box.set_visibility(self.view == LIST)
        self.board_box.set_visibility(self.view == BOARD)
        await self.reload()

    def _chips(self) -> list[Chip]:
        """The filters the bar has no field for (set by the dashboard's links)."""
        q = self.query
        chips: list[Chip] = []
        if text := range_text(_("Done"), q.completed_from, q.completed_to):
            chips.append((text, lambda: self.apply(completed_from=None, completed_to=None)))
        if q.team_id is not None:
            chips.append((team_text(self.actor, q.team_id), lambda: self.apply(team_id=None)))
        return chips

    def _update_url(self) -> None:
        self.chips.show(self._chips())
        params = query_params(self.query, view=self.view, page=self.state.page if self.view == LIST else 1)
        ui.navigate.history.replace("/tasks" + (f"?{urlencode(params)}" if params else ""))

    # ---- loading

    async def reload(self) -> None:
        """Load the current view again; reloads asked for meanwhile (live events) run once after it."""
        if self._reloading:
            self._again = True
            return
        self._reloading = True
        # In the screen's own context: the element whose event started this (a board column, a
        # dialog's button) may be gone by the time a second round runs.
        try:
            with self.root:
                while not self.root.is_deleted:
                    self._again = False
                    if self.view == BOARD:
                        await self._load_board()
                    else:
                        await self.paged.refresh()
                    if not self._again:
                        break
        finally:
            self._reloading = False

    def _show_total(self, total: int) -> None:
        self.count.text = ngettext("{count} task", "{count} tasks", total, count=total)

    async def _load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        sort = state.sort if state.sort in SORTABLE else "due"
        self.query = dataclasses.replace(self.query, sort=sort, descending=state.descending)
        self._update_url()
        page = await call(tasks.list_tasks, self.query, page_request(state))
        if page is None:
            return None
        self.rows = {row.id: row for row in page.items}
        self._show_total(page.total)
        return rows_of(page, lambda row: _row(row, self.zone))

    async def _load_board(self) -> None:
        self._update_url()
        found = await call(tasks.board, self.query, per_column=PER_COLUMN)
        if found is None:
            return
        shown = [status for status in TaskStatus if not self.query.statuses or status in self.query.statuses]
        self.rows = {row.id: row for status in shown for row in found[status].items}
        self._show_total(sum(found[status].total for status in shown))
        self.board.show(
            [
                Column(
                    status,
                    _(TASK_STATUS_LABELS[status]),
                    STATUS_COLORS[status],
                    found[status].total,
                    found[status].items,
                )
                for status in shown
            ]
        )

    def _card(self, row: TaskRow) -> None:
        with ui.row().classes("w-full items-start no-wrap gap-1"):
            ui.link(row.title, f"/tasks/{row.id}").classes("text-weight-medium text-primary no-underline").on(
                "click.prevent", lambda r=row: self.edit(r.id)
            ).mark("task-card-title")
            ui.space()
            if row.can_edit:
                self.board.move_menu(row)
        with ui.row().classes("items-center gap-2"):
            ui.badge(_(TASK_PRIORITY_LABELS[row.priority]), color=PRIORITY_COLORS[row.priority]).props("outline")
            if row.due_at is not None:
                ui.label(format_due(row.due_at, self.zone)).classes(
                    "text-caption" + (" text-negative text-weight-medium" if row.is_overdue else "")
                )
        if row.institution_name:
            ui.label(row.institution_name).classes("text-caption text-grey-8")
        ui.label(row.assignee_name).classes("text-caption text-grey-7")

    # ---- actions

    async def move(self, task_id: uuid.UUID, status: TaskStatus) -> None:
        """A card moved to another column (the board has moved it on the screen already)."""
        row = self.rows.get(task_id)
        if row is None or row.status is status:
            return
        with self.root:  # not the column's context: the reload below draws the columns again
            moved = await call(tasks.set_task_status, task_id, status, expected_version=row.version)
            if moved is not None:
                ui.notify(
                    _("Task “{title}” moved to {status}.", title=row.title, status=_(TASK_STATUS_LABELS[status])),
                    type="positive",
                )
        await self.reload()

    async def create(self) -> None:
        with self.root:
            await open_task_dialog(on_saved=self.reload)

    async def edit(self, task_id: uuid.UUID | None) -> None:
        if task_id is not None:
            with self.root:  # not inside the card that was clicked: a reload of the board replaces it
                await open_task_dialog(task_id, on_saved=self.reload)

    # ---- live

    def concerns(self, event: Event) -> bool:
        """Cheap, on the event loop for every committed event: could this change what is shown?"""
        if not isinstance(event, TaskChanged):
            return False
        if event.task_id in self.rows:
            return True
        if self.query.mine:
            return event.assignee_id == self.actor.id
        if self.query.assignee_id is not None and event.assignee_id != self.query.assignee_id:
            return False
        return may_see(self.actor, event)

    async def _on_event(self, _event: Event) -> None:
        await self.reload()


@app_page("/tasks/{task_id}", title=N_("Task"), parent="/tasks")
async def task_page(task_id: uuid.UUID) -> None:
    zone = await user_zone()

    async def load() -> TaskRow | None:
        row = await call(tasks.get_task_row, task_id)
        if row is not None:
            set_title(row.title)
        return row

    async def edit() -> None:
        with panel.frame:  # the dialog outlives the summary it was opened from
            await open_task_dialog(task_id, on_saved=panel.show, on_deleted=gone)

    async def gone() -> None:
        with panel.frame:
            ui.navigate.to("/tasks")

    def mine(event: Event) -> bool:
        return isinstance(event, TaskChanged) and event.task_id == task_id

    panel: live.RecordPanel[TaskRow] = live.RecordPanel(
        load,
        lambda row: _task_summary(row, zone, edit),
        wants=lambda event: mine(event) and not getattr(event, "deleted", False),
        classes="w-full",
    )
    panel.leave_when_deleted(
        lambda event: mine(event) and getattr(event, "deleted", False),
        to="/tasks",
        message=_("This task has been deleted."),
    )
    if await panel.show():
        with panel.frame:
            comment_thread(CommentTarget.TASK, task_id).root.classes("max-w-3xl")


def _task_summary(row: TaskRow, zone: str, edit: Any) -> None:
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(row.title).classes("text-h5").mark("task-title")
        ui.badge(_(TASK_STATUS_LABELS[row.status]), color=STATUS_COLORS[row.status]).mark("task-status-badge")
        ui.badge(_(TASK_PRIORITY_LABELS[row.priority]), color=PRIORITY_COLORS[row.priority]).props("outline").mark(
            "task-priority-badge"
        )
        ui.space()
        ui.button(
            _("Edit") if row.can_edit else _("Details"), icon="edit" if row.can_edit else "visibility", on_click=edit
        ).props("unelevated").mark("edit-task")
    with ui.card().classes("w-full max-w-3xl"), ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
        ui.label(_("Due")).classes("text-grey-7")
        ui.label(format_due(row.due_at, zone) or "—").classes("text-negative" if row.is_overdue else "")
        ui.label(_("Assigned to")).classes("text-grey-7")
        ui.label(row.assignee_name)
        ui.label(_("Created by")).classes("text-grey-7")
        ui.label(row.created_by_name or "—")
        ui.label(_("Institution")).classes("text-grey-7")
        if row.institution_id:
            ui.link(row.institution_name or "", f"/institutions/{row.institution_id}")
        else:
            ui.label("—")
        ui.label(_("Contact")).classes("text-grey-7")
        if row.contact_id:
            ui.link(row.contact_name or "", f"/contacts/{row.contact_id}")
        else:
            ui.label("—")
        ui.label(_("Description")).classes("text-grey-7")
        ui.label(row.description or "—").classes("whitespace-pre-wrap")
