"""/meetings: the meetings the user organises or is invited to (or all those in their scope), as a paged
list filtered by period, status, institution and title, or as a week calendar in the user's time zone;
filters, view and week live in the URL. Both refresh live when the user is invited or a participant
answers. /meetings/{id}: one meeting, its participants' answers, its `.ics` and its comments."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.comments import comment_thread
from components.filter_chips import Chip, FilterChips, range_text
from components.meeting_dialog import STATUS_COLORS, meeting_details, open_meeting_dialog, when_text
from components.moments import user_zone
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.pickers import as_day, institution_picker
from components.shell import app_page, set_title
from components.week_calendar import (
    CalendarEvent,
    WeekCalendar,
    parse_week,
    week_param,
    week_title,
    week_window,
)
from crm_app.activities import meetings
from crm_app.activities.labels import MEETING_STATUS_LABELS, RESPONSE_LABELS
from crm_app.activities.meetings import MeetingQuery, MeetingRow
from crm_app.activities.models import MeetingStatus, ParticipantResponse
from crm_app.institutions import service as institutions
from crm_app.platform.events import Event, MeetingChanged, MeetingInvited
from crm_app.platform.i18n import N_, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.paging import MAX_PAGE_SIZE, Page, PageRequest
from crm_app.platform.params import Params

LIST, WEEK = "list", "week"
MINE, ALL = "mine", "all"
PERIODS = {
    "upcoming": N_("Upcoming"),
    "today": N_("Today"),
    "week": N_("This week"),
    "month": N_("This month"),
    "past": N_("Past"),
    "all": N_("Any time"),
}
WEEK_PAGES = 5  # a week shows at most 500 meetings (an administrator's "all" on a very busy week)


@dataclasses.dataclass
class Filters:
    """What the URL holds."""

    view: str = LIST
    scope: str = MINE
    period: str = "upcoming"
    status: str = ""
    institution_id: uuid.UUID | None = None
    q: str = ""
    week: date | None = None  # Monday of the week shown
    organizer_id: uuid.UUID | None = None  # the dashboard's links: one organiser's meetings of some days
    start_from: date | None = None
    start_to: date | None = None

    @classmethod
    def parse(cls, params: Mapping[str, Sequence[str]], today: date) -> Filters:
        read = Params(params)
        period = read.one("period") or "upcoming"
        status = read.one("status") or ""
        return cls(
            view=WEEK if read.one("view") == WEEK else LIST,
            scope=ALL if read.one("scope") == ALL else MINE,
            period=period if period in PERIODS else "upcoming",
            status=status if status in {s.value for s in MeetingStatus} else "",
            institution_id=read.ident("institution_id"),
            q=read.one("q") or "",
            week=parse_week(read.one("week") or "", today),
            organizer_id=read.ident("organizer_id"),
            start_from=as_day(read.one("start_from")),
            start_to=as_day(read.one("start_to")),
        )

    def params(self, this_week: date) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.view == WEEK:
            params["view"] = WEEK
            if self.week is not None and self.week != this_week:
                params["week"] = week_param(self.week)
        elif self.period != "upcoming":
            params["period"] = self.period
        if self.scope == ALL:
            params["scope"] = ALL
        if self.status:
            params["status"] = self.status
        if self.institution_id is not None:
            params["institution_id"] = str(self.institution_id)
        if self.q:
            params["q"] = self.q
        if self.organizer_id is not None:
            params["organizer_id"] = str(self.organizer_id)
        params.update({name: day.isoformat() for name in ("start_from", "start_to") if (day := getattr(self, name))})
        return params


def period_query(period: str, zone: str, now: datetime) -> tuple[datetime | None, datetime | None, bool]:
    """The window of a period in the user's time zone, and whether the list runs newest first."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    midnight = datetime.combine(today, time.min, tzinfo=tz)
    if period == "today":
        return midnight, midnight + timedelta(days=1), False
    if period == "week":
        monday = midnight - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=7), False
    if period == "month":
        first = midnight.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following, False
    if period == "past":
        return None, now, True
    if period == "all":
        return None, None, True
    return now, None, False  # upcoming, the meetings under way included


def event_color(row: MeetingRow) -> str:
    """Cancelled and held meetings fade; an invitation still waiting for my answer stands out."""
    if row.status == MeetingStatus.CANCELLED:
        return "grey-6"
    if row.status == MeetingStatus.DONE:
        return "secondary"
    if row.my_response == ParticipantResponse.INVITED:
        return "orange-8"
    if row.my_response == ParticipantResponse.DECLINED:
        return "grey-5"
    return "primary"


def answers_text(row: MeetingRow) -> str:
    return ", ".join(f"{p.name} ({_(RESPONSE_LABELS[p.response])})" for p in row.participants)


@app_page("/meetings", title=N_("Meetings"), icon="event", in_navigation=True, order=40)
async def meetings_page(query: dict[str, list[str]]) -> None:
    zone = await user_zone()
    screen = MeetingScreen(query, zone)
    institution_name = await screen.institution_name()
    screen.build(institution_name)
    await screen.reload()


class MeetingScreen:
    def __init__(self, params: dict[str, list[str]], zone: str) -> None:
        self.actor = current_actor()
        self.zone = zone
        self.filters = Filters.parse(params, self.today())
        self._loads = 0  # the latest list request: an older answer never overwrites a newer one

    def today(self) -> date:
        return utcnow().astimezone(ZoneInfo(self.zone)).date()

    async def institution_name(self) -> str | None:
        if self.filters.institution_id is None:
            return None
        detail = await call(institutions.get_detail, self.filters.institution_id)
        if detail is None:
            self.filters.institution_id = None
            return None
        return detail.institution.name

    # ---- building

    def build(self, institution_name: str | None) -> None:
        self.dialogs = ui.element("div")  # the dialogs: not inside a calendar's event that a reload draws again
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Meetings")).classes("text-h5")
            self.count = ui.label().classes("text-grey-7").mark("meeting-count")
            ui.space()
            ui.toggle({LIST: _("List"), WEEK: _("Week")}, value=self.filters.view, on_change=self._switch_view).props(
                "no-caps"
            ).mark("view-toggle")
            ui.button(_("New meeting"), icon="add", on_click=self.create).props("unelevated").mark("new-meeting")
        self._filter_row(institution_name)
        self.chips = FilterChips()
        with ui.column().classes("w-full") as self.list_box:
            self.table = PagedTable(self._columns(), self._load_page)
            self._slots()
        with ui.column().classes("w-full") as self.week_box:
            with ui.row().classes("w-full items-center gap-2"):
                ui.button(icon="chevron_left", on_click=lambda: self.move_week(-7)).props(
                    f'flat round aria-label="{_("Previous week")}"'
                ).tooltip(_("Previous week")).mark("week-previous")
                ui.button(_("Today"), on_click=lambda: self.move_week(0)).props("outline no-caps").mark("week-today")
                ui.button(icon="chevron_right", on_click=lambda: self.move_week(7)).props(
                    f'flat round aria-label="{_("Next week")}"'
                ).tooltip(_("Next week")).mark("week-next")
                self.week_label = ui.label().classes("text-subtitle1 text-weight-medium").mark("week-title")
            self.calendar = WeekCalendar(self.open)
        self._show_view()
        live.watch(self.concerns, self._on_event, owner=self.count)  # ends when the screen is left

    def _filter_row(self, institution_name: str | None) -> None:
        f = self.filters
        with ui.row().classes("w-full items-center gap-2"):
            ui.toggle(
                {MINE: _("Mine"), ALL: _("All I can see")},
                value=f.scope,
                on_change=lambda e: self.changed(scope=e.value),
            ).props("no-caps dense").mark("filter-scope")
            self.period = (
                ui.select(
                    {k: _(v) for k, v in PERIODS.items()},
                    value=f.period,
                    label=_("Period"),
                    on_change=lambda e: self.changed(period=e.value),
                )
                .props("dense outlined")
                .classes("w-40")
                .mark("filter-period")
            )
            ui.select(
                {"": _("All statuses"), **{s.value: _(label) for s, label in MEETING_STATUS_LABELS.items()}},
                value=f.status,
                label=_("Status"),
                on_change=lambda e: self.changed(status=e.value or ""),
            ).props("dense outlined").classes("w-40").mark("filter-status")
            self.institution = (
                institution_picker(
                    value=f.institution_id, value_label=institution_name, on_change=self._institution_changed
                )
                .props("dense outlined")
                .classes("w-72")
                .mark("filter-institution")
            )
            ui.input(_("Search"), value=f.q, on_change=lambda e: self.changed(q=(e.value or "").strip())).props(
                "dense outlined clearable debounce=300"
            ).classes("w-56").mark("search")

    def _columns(self) -> list[dict[str, Any]]:
        return [
            {"name": "when", "label": _("When"), "field": "when", "align": "left"},
            {"name": "title", "label": _("Meeting"), "field": "title", "align": "left"},
            {"name": "institution", "label": _("Institution"), "field": "institution", "align": "left"},
            {"name": "organizer", "label": _("Organiser"), "field": "organizer", "align": "left"},
            {"name": "participants", "label": _("Participants"), "field": "participants", "align": "left"},
            {"name": "status", "label": _("Status"), "field": "status", "align": "left"},
            {"name": "my_response", "label": _("My answer"), "field": "my_response", "align": "left"},
        ]

    def _slots(self) -> None:
        table = self.table.table
        table.add_slot(
            "body-cell-title",
            r"""
            <q-td :props="props">
              <a :href="'/meetings/' + props.row.id" class="text-primary"
                 @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-status",
            r"""
            <q-td :props="props"><q-badge :color="props.row.status_color" :label="props.value" /></q-td>""",
        )
        table.on("open", lambda e: self.open(uuid.UUID(str(e.args))))
        table.mark("meetings-table")

    def _row(self, row: MeetingRow) -> dict[str, Any]:
        return {
            "id": str(row.id),
            "when": when_text(row, self.zone),
            "title": row.title,
            "institution": row.institution_name or "",
            "organizer": row.organizer_name,
            "participants": answers_text(row),
            "status": _(MEETING_STATUS_LABELS[row.status]),
            "status_color": STATUS_COLORS[row.status],
            "my_response": _(RESPONSE_LABELS[row.my_response]) if row.my_response is not None else "",
        }

    # ---- loading

    def query(self) -> MeetingQuery:
        f = self.filters
        base = MeetingQuery(
            mine=f.scope == MINE,
            statuses=(MeetingStatus(f.status),) if f.status else (),
            institution_id=f.institution_id,
            q=f.q,
            organizer_id=f.organizer_id,
            start_from=f.start_from,
            start_to=f.start_to,
        )
        if f.view == WEEK:
            assert f.week is not None
            start, end = week_window(f.week, self.zone)
            return dataclasses.replace(base, starts_from=start, starts_to=end)
        start_or_none, end_or_none, descending = period_query(f.period, self.zone, utcnow())
        return dataclasses.replace(base, starts_from=start_or_none, starts_to=end_or_none, descending=descending)

    def _chips(self) -> list[Chip]:
        """The filters the bar has no field for (set by the dashboard's links)."""
        f = self.filters
        chips: list[Chip] = []
        if text := range_text(_("Starting"), f.start_from, f.start_to):
            chips.append((text, lambda: self.changed(start_from=None, start_to=None)))
        if f.organizer_id is not None:
            chips.append((_("One organiser"), lambda: self.changed(organizer_id=None)))
        return chips

    def _remember_url(self) -> None:
        self.chips.show(self._chips())
        params = self.filters.params(parse_week(None, self.today()))
        ui.navigate.history.replace("/meetings" + (f"?{urlencode(params)}" if params else ""))

    async def _load_page(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        self._remember_url()
        self._loads += 1
        ticket = self._loads
        page = await call(meetings.list_meetings, self.query(), page_request(state))
        if page is None or ticket != self._loads:  # a newer filter's answer is on its way
            return None
        self.count.text = ngettext("{count} meeting", "{count} meetings", page.total, count=page.total)
        return rows_of(page, self._row)

    async def _load_week(self) -> None:
        self._remember_url()
        assert self.filters.week is not None
        query = self.query()
        self._loads += 1
        ticket = self._loads
        first = await call(meetings.list_meetings, query, PageRequest(1, MAX_PAGE_SIZE))
        if first is None or ticket != self._loads:
            return
        pages: list[Page[MeetingRow]] = [first]
        more = min(WEEK_PAGES, -(-first.total // MAX_PAGE_SIZE))
        if more > 1:
            rest = await asyncio.gather(
                *(call(meetings.list_meetings, query, PageRequest(n, MAX_PAGE_SIZE)) for n in range(2, more + 1))
            )
            pages.extend(p for p in rest if p is not None)
            if ticket != self._loads:
                return
        rows = [row for page in pages for row in page.items]
        self.count.text = ngettext("{count} meeting", "{count} meetings", first.total, count=first.total)
        if first.total > len(rows):
            ui.notify(_("Only the first {count} meetings of this week are shown.", count=len(rows)), type="warning")
        self.week_label.text = week_title(self.filters.week)
        self.calendar.show(self.filters.week, self.zone, [self._event(row) for row in rows], today=self.today())

    def _event(self, row: MeetingRow) -> CalendarEvent:
        detail = " · ".join(p for p in (row.location, row.institution_name) if p)
        return CalendarEvent(
            row.id,
            row.title,
            row.starts_at,
            row.ends_at,
            detail=detail,
            color=event_color(row),
            struck=row.status == MeetingStatus.CANCELLED,
        )

    async def reload(self) -> None:
        if self.filters.view == WEEK:
            await self._load_week()
        else:
            await self.table.refresh()

    # ---- changes

    async def changed(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.filters, name, value)
        if self.filters.view == LIST:
            await self.table.refresh(first_page=True)
        else:
            await self._load_week()

    async def _institution_changed(self, _event: Any) -> None:
        await self.changed(institution_id=self.institution.selected_id)

    def _show_view(self) -> None:
        self.list_box.set_visibility(self.filters.view == LIST)
        self.week_box.set_visibility(self.filters.view == WEEK)
        self.period.set_visibility(self.filters.view == LIST)

    async def _switch_view(self, event: Any) -> None:
        self.filters.view = event.value
        self._show_view()
        await self.changed()

    async def move_week(self, days: int) -> None:
        assert self.filters.week is not None
        self.filters.week = parse_week(None, self.today()) if days == 0 else self.filters.week + timedelta(days=days)
        await self._load_week()

    async def open(self, meeting_id: uuid.UUID) -> None:
        with self.dialogs:
            await open_meeting_dialog(meeting_id, on_saved=self.reload)

    async def create(self) -> None:
        starts_at = None
        if (
            self.filters.view == WEEK
            and self.filters.week is not None
            and self.filters.week != parse_week(None, self.today())
        ):
            starts_at = datetime.combine(self.filters.week, time(9), tzinfo=ZoneInfo(self.zone))
        with self.dialogs:
            await open_meeting_dialog(on_saved=self.reload, starts_at=starts_at)

    # ---- live

    def concerns(self, event: Event) -> bool:
        """Cheap test, on the event loop: a meeting the user organises or is invited to changed."""
        me = self.actor.id
        if isinstance(event, MeetingInvited):
            return me in event.user_ids
        if isinstance(event, MeetingChanged):
            return me == event.organizer_id or me in event.participant_user_ids
        return False

    async def _on_event(self, _event: Event) -> None:
        await self.reload()


@app_page("/meetings/{meeting_id}", title=N_("Meeting"), parent="/meetings")
async def meeting_page(meeting_id: uuid.UUID) -> None:
    zone = await user_zone()

    async def load() -> MeetingRow | None:
        row = await call(meetings.get_meeting_row, meeting_id)
        if row is not None:
            set_title(row.title)
        return row

    async def edit() -> None:
        with panel.frame:  # the dialog outlives the details it was opened from
            await open_meeting_dialog(meeting_id, on_saved=panel.show, on_deleted=gone)

    async def gone() -> None:
        with panel.frame:
            ui.navigate.to("/meetings")

    def mine(event: Event) -> bool:
        return isinstance(event, MeetingChanged | MeetingInvited) and event.meeting_id == meeting_id

    panel: live.RecordPanel[MeetingRow] = live.RecordPanel(
        load,
        lambda row: meeting_details(row, zone, edit=edit),
        wants=lambda event: mine(event) and not getattr(event, "deleted", False),
    )
    panel.leave_when_deleted(
        lambda event: mine(event) and getattr(event, "deleted", False),
        to="/meetings",
        message=_("This meeting has been deleted."),
    )
    if await panel.show():
        with panel.frame, ui.card().classes("w-full max-w-3xl"):
            comment_thread(CommentTarget.MEETING, meeting_id)
