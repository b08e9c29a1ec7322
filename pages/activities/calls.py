"""/calls: the call log the user may see, newest first, filtered by direction, period, institution,
contact, user and summary text, paged in SQL with the filters in the URL; a dialog to log or correct a
call. /calls/{id}: one call (opens its dialog over the log)."""

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
from components.call_dialog import DIRECTION_COLORS, DIRECTION_ICONS, duration_text, open_call_dialog
from components.filter_chips import Chip, FilterChips, range_text
from components.moments import user_zone
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.pickers import active_users, as_day, as_uuid, contact_picker, institution_picker
from components.shell import app_page
from crm_app.activities import calls
from crm_app.activities.calls import CallQuery, CallRow
from crm_app.activities.labels import CALL_DIRECTION_LABELS
from crm_app.activities.models import CallDirection
from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.platform.events import CallChanged, Event
from crm_app.platform.i18n import N_, format_datetime, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.base import utcnow
from crm_app.platform.params import Params

PERIODS = {
    "": N_("Any time"),
    "today": N_("Today"),
    "week": N_("This week"),
    "month": N_("This month"),
    "30d": N_("Last 30 days"),
}
ME, EVERYONE = "me", "all"


def period_window(period: str, zone: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """[from, to) of a period in the user's time zone (to is open: calls are never in the future)."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    midnight = datetime.combine(today, time.min, tzinfo=tz)
    if period == "today":
        return midnight, None
    if period == "week":
        return midnight - timedelta(days=today.weekday()), None
    if period == "month":
        return midnight.replace(day=1), None
    if period == "30d":
        return midnight - timedelta(days=30), None
    return None, None


async def _nothing() -> None:
    return None


@dataclasses.dataclass
class CallFilters:
    query: CallQuery
    period: str = ""
    days_from: date | None = None  # the dashboard's links: calls of some days (the organisation's)
    days_to: date | None = None

    @classmethod
    def parse(cls, params: Mapping[str, Sequence[str]]) -> CallFilters:
        """The URL's filters (CallQuery's own parameters, plus `period`); without `user` only the
        actor's calls."""
        query = CallQuery.from_params({k: list(v) for k, v in params.items() if k not in {"from", "to", "mine"}})
        read = Params(params)
        user = read.one("user") or ME
        period = read.one("period") or ""
        chosen = as_uuid(user)
        return cls(
            dataclasses.replace(query, mine=user == ME, user_id=chosen or query.user_id),
            period if period in PERIODS else "",
            days_from=as_day(read.one("called_from")),
            days_to=as_day(read.one("called_to")),
        )

    def params(self) -> dict[str, str]:
        q = self.query
        params = {
            "user": "" if q.mine else (str(q.user_id) if q.user_id else EVERYONE),
            "direction": ",".join(d.value for d in q.directions),
            "period": self.period,
            "institution_id": str(q.institution_id or ""),
            "contact_id": str(q.contact_id or ""),
            "q": q.q,
            "called_from": self.days_from.isoformat() if self.days_from else "",
            "called_to": self.days_to.isoformat() if self.days_to else "",
        }
        return {name: value for name, value in params.items() if value}

    def user_choice(self) -> str:
        return ME if self.query.mine else str(self.query.user_id) if self.query.user_id else EVERYONE


@app_page("/calls", title=N_("Calls"), icon="call", in_navigation=True, order=50)
async def calls_page(query: dict[str, list[str]]) -> None:
    await CallScreen(query).show()


@app_page("/calls/{call_id}", title=N_("Call"), parent="/calls")
async def call_page(call_id: uuid.UUID) -> None:
    screen = CallScreen({})
    await screen.show()
    await screen.open(call_id)


class CallScreen:
    def __init__(self, params: Mapping[str, Sequence[str]]) -> None:
        self.actor = current_actor()
        self.filters = CallFilters.parse(params)
        self.zone = "Europe/Paris"
        self._loads = 0
        self.shown: set[uuid.UUID] = set()  # the calls on screen: the live filter's cheap test

    async def show(self) -> None:
        q = self.filters.query
        # Every `call` is made here, in the page's context; `gather` then awaits them in tasks of its own.
        zone, users, detail, person = await asyncio.gather(
            user_zone(),
            active_users(),
            call(institutions.get_detail, q.institution_id) if q.institution_id else _nothing(),
            call(contacts.get_contact_row, q.contact_id) if q.contact_id else _nothing(),
        )
        self.zone = zone
        self.dialogs = ui.element("div")  # the dialogs: in nothing that a refresh of the list draws again
        if detail is None:
            self.filters.query = dataclasses.replace(self.filters.query, institution_id=None)
        if person is None:
            self.filters.query = dataclasses.replace(self.filters.query, contact_id=None)
        self._header()
        self._filter_row(users or {}, detail.institution.name if detail else None, person.full_name if person else None)
        self.chips = FilterChips()
        self.table = PagedTable(self._columns(), self._load)
        self._slots()
        live.follow(self.concerns, self.table.refresh, owner=self.table.table)
        await self.table.refresh()

    def _header(self) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Calls")).classes("text-h5")
            self.count = ui.label().classes("text-grey-7").mark("call-count")
            ui.space()
            ui.button(_("Log a call"), icon="add_call", on_click=self.create).props("unelevated").mark("new-call")

    def _filter_row(self, users: dict[str, str], institution_name: str | None, contact_name: str | None) -> None:
        q = self.filters.query
        people = {
            ME: _("Me"),
            EVERYONE: _("Everyone I can see"),
            **{k: v for k, v in users.items() if k != str(self.actor.id)},
        }
        with ui.row().classes("w-full items-center gap-2"):
            ui.select(
                {d.value: _(CALL_DIRECTION_LABELS[d]) for d in CallDirection},
                multiple=True,
                value=[d.value for d in q.directions],
                label=_("Direction"),
                on_change=lambda e: self.changed(directions=tuple(CallDirection(v) for v in e.value)),
            ).props("dense outlined use-chips").classes("w-56").mark("filter-direction")
            ui.select(
                {k: _(v) for k, v in PERIODS.items()},
                value=self.filters.period,
                label=_("Period"),
                on_change=lambda e: self.changed_period(e.value or ""),
            ).props("dense outlined").classes("w-40").mark("filter-period")
            ui.select(
                people,
                value=self.filters.user_choice(),
                label=_("User"),
                with_input=True,
                on_change=lambda e: self.changed_user(e.value),
            ).props("dense outlined").classes("w-48").mark("filter-user")
            self.institution = (
                institution_picker(
                    value=q.institution_id, value_label=institution_name, on_change=self._institution_changed
                )
                .props("dense outlined")
                .classes("w-64")
                .mark("filter-institution")
            )
            self.contact = (
                contact_picker(
                    institution_id=q.institution_id,
                    value=q.contact_id,
                    value_label=contact_name,
                    on_change=lambda _e: self.changed(contact_id=self.contact.selected_id),
                )
                .props("dense outlined")
                .classes("w-56")
                .mark("filter-contact")
            )
            ui.input(_("Search"), value=q.q, on_change=lambda e: self.changed(q=(e.value or "").strip())).props(
                "dense outlined clearable debounce=300"
            ).classes("w-48").mark("search")

    def _columns(self) -> list[dict[str, Any]]:
        return [
            {"name": "when", "label": _("When"), "field": "when", "align": "left"},
            {"name": "direction", "label": _("Direction"), "field": "direction", "align": "left"},
            {"name": "contact", "label": _("Contact"), "field": "contact", "align": "left"},
            {"name": "institution", "label": _("Institution"), "field": "institution", "align": "left"},
            {"name": "user", "label": _("By"), "field": "user", "align": "left"},
            {"name": "duration", "label": _("Duration"), "field": "duration", "align": "right"},
            {
                "name": "summary",
                "label": _("Summary"),
                "field": "summary",
                "align": "left",
                "style": "max-width: 24rem; white-space: normal",
            },
        ]

    def _slots(self) -> None:
        table = self.table.table
        table.add_slot(
            "body-cell-when",
            r"""
            <q-td :props="props">
              <a :href="'/calls/' + props.row.id" class="text-primary"
                 @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-direction",
            r"""
            <q-td :props="props">
              <q-icon :name="props.row.direction_icon" :color="props.row.direction_color" class="q-mr-xs" />
              {{ props.value }}
            </q-td>""",
        )
        table.on("open", lambda e: self.open(uuid.UUID(str(e.args))))
        table.mark("calls-table")

    def _row(self, row: CallRow) -> dict[str, Any]:
        summary = " ".join((row.summary or "").split())
        return {
            "id": str(row.id),
            "when": format_datetime(row.called_at, self.zone, style="short"),
            "direction": _(CALL_DIRECTION_LABELS[row.direction]),
            "direction_icon": DIRECTION_ICONS[row.direction],
            "direction_color": DIRECTION_COLORS[row.direction],
            "contact": row.contact_name or "",
            "institution": row.institution_name or "",
            "user": row.user_name,
            "duration": duration_text(row.duration_seconds),
            "summary": summary if len(summary) <= 140 else summary[:139] + "…",
        }

    async def _load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        params = self.filters.params()
        ui.navigate.history.replace("/calls" + (f"?{urlencode(params)}" if params else ""))
        self.chips.show(self._chips())
        start, end = period_window(self.filters.period, self.zone, utcnow())
        f = self.filters
        query = dataclasses.replace(f.query, called_from=start, called_to=end, days_from=f.days_from, days_to=f.days_to)
        self._loads += 1
        ticket = self._loads
        page = await call(calls.list_calls, query, page_request(state))
        if page is None or ticket != self._loads:  # a newer filter's answer is on its way
            return None
        self.count.text = ngettext("{count} call", "{count} calls", page.total, count=page.total)
        self.shown = {row.id for row in page.items}
        return rows_of(page, self._row)

    def _chips(self) -> list[Chip]:
        """The filters the bar has no field for (set by the dashboard's links)."""
        f = self.filters
        if text := range_text(_("Called"), f.days_from, f.days_to):
            return [(text, self._clear_days)]
        return []

    async def _clear_days(self) -> None:
        self.filters.days_from = self.filters.days_to = None
        await self.table.refresh(first_page=True)

    async def changed(self, **changes: Any) -> None:
        self.filters.query = dataclasses.replace(self.filters.query, **changes)
        await self.table.refresh(first_page=True)

    async def changed_period(self, period: str) -> None:
        self.filters.period = period
        await self.table.refresh(first_page=True)

    async def changed_user(self, choice: str | None) -> None:
        chosen = None
        if choice and choice not in {ME, EVERYONE}:
            chosen = uuid.UUID(choice)
        await self.changed(mine=choice == ME, user_id=chosen)

    async def _institution_changed(self, _event: Any) -> None:
        institution_id = self.institution.selected_id
        self.contact.set_institution(institution_id)
        await self.changed(institution_id=institution_id, contact_id=self.contact.selected_id)

    async def open(self, call_id: uuid.UUID) -> None:
        with self.dialogs:
            await open_call_dialog(call_id, on_saved=self.table.refresh)

    async def create(self) -> None:
        with self.dialogs:
            await open_call_dialog(
                on_saved=self.table.refresh,
                institution_id=self.institution.selected_id,
                institution_name=self.institution.selected_label,
            )

    # ---- live

    def concerns(self, event: Event) -> bool:
        """Cheap, on the event loop for every committed event: could this change what is shown?"""
        if not isinstance(event, CallChanged):
            return False
        if event.call_id in self.shown:
            return True
        q = self.filters.query
        if q.mine:
            return event.user_id == self.actor.id
        if q.user_id is not None and event.user_id != q.user_id:
            return False
        return live.may_see(self.actor, owner_id=event.user_id, team_id=event.team_id, changed_by=event.actor_id)
