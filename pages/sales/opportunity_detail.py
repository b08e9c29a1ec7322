"""/opportunities/{id}: the sale's header (stage chips to move it, amount, weighted amount,
probability, expected close date, owner), its stage history (who moved it when, the time spent in
each stage), the quotes made for it with "Create a quote", the activities linked to it with a button
for each kind, comments and history. Edit and delete through the opportunity's dialog; the page
follows the changes others commit and leaves when someone deletes the sale."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.call_dialog import open_call_dialog
from components.comments import comment_thread
from components.dialogs import confirm
from components.history_values import change_words
from components.meeting_dialog import open_meeting_dialog
from components.moments import user_zone
from components.note_dialog import excerpt, open_note_dialog
from components.opportunity_dialog import (
    STAGE_COLORS,
    ask_lost_reason,
    money_text,
    open_opportunity_dialog,
    source_name,
    stage_name,
)
from components.paged_table import MONEY, PagedTable, TableState, page_request, rows_of
from components.shell import app_page, not_allowed, not_found, set_title
from components.task_dialog import open_task_dialog
from crm_app.activities.labels import (
    CALL_DIRECTION_LABELS,
    MEETING_STATUS_LABELS,
    NOTE_VISIBILITY_LABELS,
    TASK_STATUS_LABELS,
)
from crm_app.activities.models import CallDirection, MeetingStatus, NoteVisibility, TaskStatus
from crm_app.activities.timeline import opportunity_activities
from crm_app.institutions.timeline import TimelineEntry
from crm_app.platform import audit
from crm_app.platform.errors import Forbidden, NotFound
from crm_app.platform.events import (
    CallChanged,
    Event,
    MeetingChanged,
    NoteChanged,
    OpportunityChanged,
    TaskChanged,
)
from crm_app.platform.i18n import N_, format_date, format_datetime, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import Scope, scope_for
from crm_app.sales import opportunities
from crm_app.sales.models.opportunities import OpportunityStage
from crm_app.sales.models.quotes import QuoteStatus
from crm_app.sales.opportunities import OpportunityDetail
from crm_app.sales.quotes import QUOTE_STATUS_LABELS
from pages.sales.quotes import STATUS_COLORS as QUOTE_COLORS

FACT_COLUMNS = "repeat(auto-fill, minmax(10rem, 1fr))"


def duration_text(value: timedelta | None) -> str:
    """The time spent in a stage, in days (hours and minutes under a day)."""
    if value is None:
        return "—"
    days = value.days
    if days >= 1:
        return ngettext("{count} day", "{count} days", days, count=days)
    hours = value.seconds // 3600
    if hours >= 1:
        return ngettext("{count} hour", "{count} hours", hours, count=hours)
    minutes = value.seconds // 60
    return ngettext("{count} minute", "{count} minutes", minutes, count=minutes)


def _shown(detail: OpportunityDetail) -> tuple[Any, ...]:
    """What the panel shows: a change elsewhere redraws it only when one of these differs."""
    return (detail.version, detail.can_edit, detail.quotes, len(detail.stage_history))


@app_page("/opportunities/{opportunity_id}", title=N_("Opportunity"), parent="/opportunities")
async def opportunity_page(opportunity_id: uuid.UUID) -> None:
    await OpportunityScreen(opportunity_id).show()


class OpportunityScreen:
    """A `live.RecordPanel` whose content (header, facts, stage history, quotes) is redrawn from the
    service after each action and each change someone else commits; its frame holds the dialogs and,
    built once below the content, the tabs of activities, comments and history."""

    def __init__(self, opportunity_id: uuid.UUID) -> None:
        self.opportunity_id = opportunity_id
        self.zone = "Europe/Paris"
        self.panel: live.RecordPanel[OpportunityDetail] = live.RecordPanel(
            self._load,
            self._draw,
            wants=lambda event: (
                isinstance(event, OpportunityChanged)
                and event.opportunity_id == opportunity_id
                and event.action != "delete"
            ),
            key=_shown,
        )
        self.panel.leave_when_deleted(
            lambda event: (
                isinstance(event, OpportunityChanged)
                and event.opportunity_id == opportunity_id
                and event.action == "delete"
            ),
            to="/opportunities",
            message=_("This opportunity has been deleted."),
        )
        self.frame = self.panel.frame
        self.history: PagedTable | None = None
        self.tabs_built = False

    async def _load(self) -> OpportunityDetail | None:
        detail = await call(
            opportunities.get_detail,
            self.opportunity_id,
            on_error={
                Forbidden: self._refuse(not_allowed, "not-allowed"),
                NotFound: self._refuse(not_found, "not-found"),
            },
        )
        self.zone = await user_zone()
        if detail is not None:
            set_title(detail.name)
        return detail

    def _refuse(self, show: Callable[[], None], marker: str) -> Callable[[Any], None]:
        def handler(_error: Any) -> None:
            content = self.panel.content
            if content.is_deleted:
                return
            content.clear()
            with content, ui.column().classes("w-full").mark(marker):
                show()

        return handler

    async def show(self) -> None:
        if await self.panel.show() and not self.tabs_built and not self.frame.is_deleted:
            self.tabs_built = True
            with self.frame:
                await self._tabs()

    async def _draw(self, detail: OpportunityDetail) -> None:
        self._header(detail)
        self._stages(detail)
        self._facts(detail)
        with ui.element("div").classes("w-full opex-two-columns gap-3"):
            self._stage_history(detail)
            self._quotes(detail)
        if self.history is not None and not self.history.table.is_deleted:
            with self.frame:
                await self.history.refresh()

    # ---- parts

    def _header(self, d: OpportunityDetail) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(d.name).classes("text-h5").mark("opportunity-name")
            ui.badge(stage_name(d.stage), color=STAGE_COLORS[d.stage]).mark("opportunity-stage")
            ui.space()
            with ui.row().classes("items-center gap-2").mark("opportunity-actions"):
                ui.button(
                    _("Create a quote"),
                    icon="request_quote",
                    on_click=lambda: ui.navigate.to(f"/quotes/new?opportunity_id={d.id}"),
                ).props("outline no-caps").mark("create-quote")
                ui.button(
                    _("Edit") if d.can_edit else _("Details"),
                    icon="edit" if d.can_edit else "visibility",
                    on_click=self.edit,
                ).props("unelevated no-caps").mark("edit-opportunity")
                if d.can_edit:
                    ui.button(
                        _("Delete"),
                        icon="delete",
                        on_click=lambda: confirm(
                            _("Delete the opportunity “{name}” and its stage history?", name=d.name), self.delete
                        ),
                    ).props("flat no-caps color=negative").mark("delete-opportunity")

    def _stages(self, d: OpportunityDetail) -> None:
        """A chip per stage, in order: the current one filled; a click on another moves the sale."""
        with ui.row().classes("w-full items-center gap-1").mark("stage-chips"):
            for index, stage in enumerate(OpportunityStage):
                if index:
                    ui.icon("chevron_right", color="grey-6").classes("gt-xs")
                current = stage is d.stage
                chip = ui.button(
                    stage_name(stage),
                    on_click=lambda s=stage: self.move(s),
                    color=STAGE_COLORS[stage] if current else None,
                ).props("rounded no-caps dense unelevated" if current else "rounded no-caps dense outline")
                chip.classes("q-px-sm").mark(f"stage-chip stage-chip-{stage.value}")
                if current:
                    chip.props("aria-current=step")
                if not d.can_edit:
                    chip.disable()

    def _facts(self, d: OpportunityDetail) -> None:
        with ui.card().classes("w-full"), ui.grid(columns=FACT_COLUMNS).classes("w-full gap-x-6 gap-y-2"):

            def fact(label: str, value: str | None, link: str | None = None, marker: str | None = None) -> None:
                with ui.column().classes("gap-0"):
                    ui.label(label).classes("text-caption text-grey-7")
                    shown = ui.link(value, link).classes("text-primary") if link and value else ui.label(value or "—")
                    if marker:
                        shown.mark(marker)

            fact(_("Amount excl. VAT"), money_text(d.amount), marker="fact-amount")
            fact(_("Weighted amount"), money_text(d.weighted_amount), marker="fact-weighted")
            fact(
                _("Probability"),
                f"{d.probability} %" + ("" if d.probability_is_manual else " · " + _("stage default")),
                marker="fact-probability",
            )
            fact(_("Expected close date"), format_date(d.expected_close_date), marker="fact-close")
            fact(_("Owner"), d.owner_name + (f" · {d.team_name}" if d.team_name else ""), marker="fact-owner")
            fact(_("Institution"), d.institution_name, f"/institutions/{d.institution_id}")
            fact(_("Contact"), d.contact_name, f"/contacts/{d.contact_id}" if d.contact_id else None)
            fact(_("Source"), source_name(d.source))
            if d.closed_at is not None:
                fact(_("Closed on"), format_date(d.closed_at.date()))
            if d.stage is OpportunityStage.LOST:
                reason = opportunities.lost_reason_label(d.lost_reason) if d.lost_reason else None
                fact(
                    _("Lost reason"),
                    " · ".join(p for p in (reason, d.lost_reason_text) if p),
                    marker="fact-lost-reason",
                )
        if d.description:
            ui.label(d.description).classes("whitespace-pre-wrap text-grey-8 max-w-3xl").mark("opportunity-description")

    def _stage_history(self, d: OpportunityDetail) -> None:
        rows = [
            {
                "id": str(index),
                "stage": stage_name(row.to_stage),
                "color": STAGE_COLORS[row.to_stage],
                "entered": format_datetime(row.entered_at, self.zone, style="short"),
                "who": row.changed_by_name or "—",
                "spent": duration_text(row.duration) + ("" if row.left_at or row.duration is None else " …"),
            }
            for index, row in reversed(list(enumerate(d.stage_history)))
        ]
        columns = [
            {"name": "stage", "label": _("Stage"), "field": "stage", "align": "left"},
            {"name": "entered", "label": _("Since"), "field": "entered", "align": "left"},
            {"name": "who", "label": _("Moved by"), "field": "who", "align": "left"},
            {"name": "spent", "label": _("Time in the stage"), "field": "spent", "align": "left"},
        ]
        with ui.card().classes("w-full"):
            ui.label(_("Stage history")).classes("text-subtitle1 text-weight-medium")
            table = ui.table(columns=columns, rows=rows, row_key="id").props("flat dense hide-bottom")
            table.classes("w-full").mark("stage-history")
            table.add_slot(
                "body-cell-stage",
                r"""<q-td :props="props"><q-badge :color="props.row.color">{{ props.value }}</q-badge></q-td>""",
            )

    def _quotes(self, d: OpportunityDetail) -> None:
        with ui.card().classes("w-full"):
            with ui.row().classes("w-full items-center"):
                ui.label(_("Quotes")).classes("text-subtitle1 text-weight-medium")
                ui.space()
                ui.button(
                    _("Create a quote"),
                    icon="add",
                    on_click=lambda: ui.navigate.to(f"/quotes/new?opportunity_id={d.id}"),
                ).props("flat dense no-caps").mark("create-quote-inline")
            if not d.quotes:
                ui.label(_("No quote yet for this opportunity.")).classes("text-grey-7").mark("no-quotes")
                return
            rows = [
                {
                    "id": str(q.id),
                    "number": q.number,
                    "title": q.title or "",
                    "status": _(QUOTE_STATUS_LABELS[QuoteStatus(q.status)]),
                    "color": QUOTE_COLORS[QuoteStatus(q.status)],
                    "date": format_date(q.issue_date),
                    "total": money_text(q.total_excl_vat),
                }
                for q in d.quotes
            ]
            columns = [
                {"name": "number", "label": _("Number"), "field": "number", "align": "left"},
                {"name": "status", "label": _("Status"), "field": "status", "align": "left"},
                {"name": "date", "label": _("Date"), "field": "date", "align": "left"},
                {"name": "total", "label": _("Total excl. VAT"), "field": "total", **MONEY},
            ]
            table = ui.table(columns=columns, rows=rows, row_key="id").props("flat dense hide-bottom")
            table.classes("w-full").mark("opportunity-quotes")
            table.add_slot(
                "body-cell-number",
                r"""
                <q-td :props="props">
                  <a :href="'/quotes/' + props.row.id" class="text-primary text-weight-medium"
                     @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
                  <div v-if="props.row.title" class="text-caption text-grey-7">{{ props.row.title }}</div>
                </q-td>""",
            )
            table.add_slot(
                "body-cell-status",
                r"""<q-td :props="props"><q-badge :color="props.row.color">{{ props.value }}</q-badge></q-td>""",
            )
            table.on("open", lambda e: ui.navigate.to(f"/quotes/{e.args}"))

    async def _tabs(self) -> None:
        detail = self.panel.record
        assert detail is not None
        with ui.tabs().classes("w-full").props("align=left no-caps").mark("opportunity-tabs") as tabs:
            activities_tab = ui.tab("activities", _("Activities"), icon="event_note").mark("tab-activities")
            ui.tab("comments", _("Comments"), icon="forum").mark("tab-comments")
            ui.tab("history", _("History"), icon="history").mark("tab-history")
        with ui.tab_panels(tabs, value=activities_tab).classes("w-full"):
            with ui.tab_panel("activities"):
                await ActivitiesPanel(detail, self.zone).load_more()
            with ui.tab_panel("comments"):
                comment_thread(CommentTarget.OPPORTUNITY, self.opportunity_id).root.classes("max-w-3xl")
            with ui.tab_panel("history"):
                self.history = self._history()
                await self.history.refresh()

    def _history(self) -> PagedTable:
        def convert(row: audit.HistoryRow) -> dict[str, Any]:
            words = change_words(row)
            return {
                "id": str(row.id),
                "at": format_datetime(row.at, self.zone, style="short"),
                "who": row.actor_name or "",
                "what": words.what,
                "field": words.field,
                "old": words.old,
                "new": words.new,
            }

        async def load(state: TableState) -> tuple[list[dict[str, Any]], int] | None:
            page = await call(opportunities.opportunity_history, self.opportunity_id, page_request(state))
            return None if page is None else rows_of(page, convert)

        columns = [
            {"name": n, "label": label, "field": n, "align": "left"}
            for n, label in (
                ("at", _("When")),
                ("who", _("Who")),
                ("what", _("What")),
                ("field", _("Field")),
                ("old", _("Before")),
                ("new", _("After")),
            )
        ]
        table = PagedTable(columns, load, state=TableState(page_size=25))
        table.table.mark("opportunity-history")
        return table

    # ---- actions

    async def move(self, stage: OpportunityStage) -> None:
        detail = self.panel.record
        if detail is None or stage is detail.stage or self.panel.busy:
            return
        version = detail.version
        done = _("“{name}” moved to {stage}.", name=detail.name, stage=stage_name(stage))
        if stage is OpportunityStage.LOST:

            async def lose(reason_id: uuid.UUID | None, text: str | None, fields: dict[str, Any]) -> bool:
                moved = await self.panel.act(
                    opportunities.move_stage,
                    self.opportunity_id,
                    stage,
                    lost_reason_id=reason_id,
                    lost_reason_text=text,
                    expected_version=version,
                    fields=fields,
                    done=done,
                )
                return moved is not None

            with self.frame:
                await ask_lost_reason(detail.name, lose)
            return
        await self.panel.act(opportunities.move_stage, self.opportunity_id, stage, expected_version=version, done=done)

    async def edit(self) -> None:
        async def saved(_id: uuid.UUID) -> None:
            await self.panel.show()

        with self.frame:  # the dialog outlives the header it was opened from
            await open_opportunity_dialog(self.opportunity_id, on_saved=saved, on_deleted=self._gone)

    async def delete(self) -> None:
        detail = self.panel.record
        if detail is None:
            return
        with self.frame:
            done = await call(_delete, self.opportunity_id, detail.version)
            if done:
                ui.notify(_("Opportunity deleted."), type="positive")
                await self._gone()

    async def _gone(self) -> None:
        with self.frame:
            ui.navigate.to("/opportunities")


def _delete(session: Any, actor: Any, opportunity_id: uuid.UUID, version: int) -> bool:
    opportunities.delete_opportunity(session, actor, opportunity_id, expected_version=version)
    return True


ACTIVITIES_PAGE = 20
ACTIVITY_EVENTS = (TaskChanged, NoteChanged, MeetingChanged, CallChanged)
#: An activity's kind: its name, icon, colour, and the words of its status.
ACTIVITY_KINDS: dict[str, tuple[str, str, str, tuple[type[Any], dict[Any, str]]]] = {
    "task": (N_("Task"), "task_alt", "primary", (TaskStatus, TASK_STATUS_LABELS)),
    "note": (N_("Note"), "sticky_note_2", "amber-8", (NoteVisibility, NOTE_VISIBILITY_LABELS)),
    "meeting": (N_("Meeting"), "groups", "purple", (MeetingStatus, MEETING_STATUS_LABELS)),
    "call": (N_("Call"), "call", "teal", (CallDirection, CALL_DIRECTION_LABELS)),
}


def activity_item(entry: TimelineEntry, zone: str) -> None:
    """One linked activity: its kind, when and who, its title (a note's first words) linking to it, its
    status."""
    name, icon, color, (kind, labels) = ACTIVITY_KINDS.get(entry.kind, (entry.kind, "circle", "grey", (str, {})))
    try:
        status = _(labels[kind(entry.status)]) if entry.status else ""
    except (KeyError, ValueError):
        status = entry.status or ""
    when = format_datetime(entry.at, zone, style="short")
    subtitle = " · ".join(p for p in (_(name), when, entry.user_name or "") if p)
    title = excerpt(entry.title or "") if entry.kind == "note" else entry.title or ""
    with ui.timeline_entry(subtitle=subtitle, icon=icon, color=color).mark(f"activity activity-{entry.kind}") as item:
        with item.add_slot("title"):
            if entry.link:
                ui.link(title or _(name), entry.link).classes("text-body1 text-primary text-weight-medium")
            else:
                ui.label(title or _(name)).classes("text-body1 text-weight-medium")
        details = " · ".join(p for p in (status, entry.detail if entry.kind in ("task", "meeting") else "") if p)
        if details:
            ui.label(details).classes("text-grey-8")


def _activity_id(event: Event) -> uuid.UUID | None:
    for name in ("task_id", "note_id", "meeting_id", "call_id"):
        value = getattr(event, name, None)
        if value is not None:
            return value
    return None


class ActivitiesPanel:
    """The tasks, notes, meetings and calls linked to the opportunity, newest first, a page at a time
    ("Load more"), with a button to add each kind already linked to it (and to its institution). It
    follows the activities changed by anyone: those shown, and those the reader could see."""

    def __init__(self, detail: OpportunityDetail, zone: str) -> None:
        self.actor = current_actor()
        self.opportunity = (detail.id, detail.name)
        self.institution = (detail.institution_id, detail.institution_name)
        self.zone = zone
        self.page = 0
        self.shown: set[uuid.UUID] = set()
        with ui.column().classes("w-full gap-2") as self.root:
            with ui.row().classes("w-full items-center gap-2"):
                ui.button(_("Add a task"), icon="add_task", on_click=self.add_task).props("unelevated no-caps").mark(
                    "add-task"
                )
                ui.button(_("Add a note"), icon="note_add", on_click=self.add_note).props("outline no-caps").mark(
                    "add-note"
                )
                ui.button(_("Plan a meeting"), icon="event", on_click=self.add_meeting).props("outline no-caps").mark(
                    "add-meeting"
                )
                ui.button(_("Log a call"), icon="add_call", on_click=self.add_call).props("outline no-caps").mark(
                    "add-call"
                )
                ui.space()
                self.count = ui.label().classes("text-grey-7").mark("activity-count")
            self.entries = ui.timeline(side="right").classes("w-full").mark("opportunity-activities")
            with ui.row().classes("w-full justify-center"):
                self.more = (
                    ui.button(_("Load more"), icon="expand_more", on_click=self.load_more)
                    .props("flat no-caps")
                    .mark("activities-more")
                )
            self.more.set_visibility(False)
        live.follow(self._concerns, self.reload, owner=self.root)

    def _concerns(self, event: Event) -> bool:
        """Cheap, on the event loop: an activity shown here, saved by this user, or one they may see."""
        if not isinstance(event, ACTIVITY_EVENTS):
            return False
        if _activity_id(event) in self.shown or event.actor_id == self.actor.id:
            return True
        return scope_for(self.actor, "record.view") > Scope.OWN or self.actor.id in (
            getattr(event, "assignee_id", None),
            getattr(event, "user_id", None),
            getattr(event, "organizer_id", None),
            *getattr(event, "participant_user_ids", ()),
            *getattr(event, "reader_ids", ()),
        )

    async def reload(self) -> None:
        self.page = 0
        self.shown.clear()
        await self.load_more(replace=True)

    async def load_more(self, *, replace: bool = False) -> None:
        with self.root:  # not the button's context: a reload replaces the entries
            found = await call(opportunity_activities, self.opportunity[0], PageRequest(self.page + 1, ACTIVITIES_PAGE))
        if found is None or self.entries.is_deleted:
            return
        self.page += 1
        if replace:
            self.entries.clear()
        fresh = [entry for entry in found.items if entry.record_id not in self.shown]
        self.shown.update(entry.record_id for entry in fresh)
        with self.entries:
            if found.total == 0:
                ui.label(_("No task, note, meeting or call linked to this opportunity yet.")).classes(
                    "text-grey-7"
                ).mark("no-activities")
            for entry in fresh:
                activity_item(entry, self.zone)
        self.count.text = ngettext("{count} activity", "{count} activities", found.total, count=found.total)
        self.more.set_visibility(self.page * ACTIVITIES_PAGE < found.total)

    async def add_task(self) -> None:
        with self.root:
            await open_task_dialog(institution=self.institution, opportunity=self.opportunity, on_saved=self.reload)

    async def add_note(self) -> None:
        with self.root:
            await open_note_dialog(
                institution_id=self.institution[0],
                institution_name=self.institution[1],
                opportunity=self.opportunity,
                on_saved=self.reload,
            )

    async def add_meeting(self) -> None:
        with self.root:
            await open_meeting_dialog(
                institution_id=self.institution[0],
                institution_name=self.institution[1],
                opportunity=self.opportunity,
                on_saved=self.reload,
            )

    async def add_call(self) -> None:
        with self.root:
            await open_call_dialog(
                institution_id=self.institution[0],
                institution_name=self.institution[1],
                opportunity=self.opportunity,
                on_saved=self.reload,
            )
