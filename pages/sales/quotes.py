"""/quotes: the quotes the user may see, filtered (text, status, institution, owner, issue dates,
amount excl. VAT) with the filters in the URL, sorted and paged in SQL, with the count and the totals
of the whole filtered list. The editor is in pages/quote_editor.py, the detail in pages/quote_detail.py."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.filter_chips import Chip, FilterChips, range_text, team_text
from components.line_editor import number_text, parse_number
from components.paged_table import MONEY, WRAP, PagedTable, TableState, page_request, rows_of
from components.pickers import active_users, as_day, as_uuid, institution_picker
from components.shell import app_page
from crm_app.institutions import service as institutions
from crm_app.platform.events import Event, QuoteChanged
from crm_app.platform.i18n import N_, format_currency, format_date, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Scope, scope_for
from crm_app.sales import quotes
from crm_app.sales.models.quotes import QuoteStatus
from crm_app.sales.quotes import QUOTE_STATUS_LABELS, QuoteQuery, QuoteRow

STATUS_COLORS: dict[QuoteStatus, str] = {
    QuoteStatus.DRAFT: "grey-7",
    QuoteStatus.SENT: "primary",
    QuoteStatus.ACCEPTED: "positive",
    QuoteStatus.REJECTED: "negative",
    QuoteStatus.EXPIRED: "orange-8",
    QuoteStatus.CANCELLED: "grey-5",
    QuoteStatus.ORDERED: "teal",
}
SORTABLE = {
    "number": "number",
    "institution": "institution",
    "owner": "owner",
    "status": "status",
    "issue_date": "issue_date",
    "valid_until": "valid_until",
    "total_excl_vat": "amount",
    "total_incl_vat": "amount",
}
#: Shown when the user shows them (the column chooser): the amounts stay in view at 1440 px.
DEFAULT_HIDDEN = ("valid_until",)
COLUMN_OF_SORT = {
    "number": "number",
    "institution": "institution",
    "owner": "owner",
    "status": "status",
    "issue_date": "issue_date",
    "valid_until": "valid_until",
    "amount": "total_excl_vat",
}


DAY_FILTERS = (
    "issued_from",
    "issued_to",
    "valid_from",
    "valid_to",
    "sent_from",
    "sent_to",
    "decided_from",
    "decided_to",
)


def query_params(query: QuoteQuery, page: int = 1) -> dict[str, str]:
    """The URL's parameters for `query` (the inverse of QuoteQuery.from_params); defaults left out."""
    params: dict[str, str] = {}
    if query.q:
        params["q"] = query.q
    if query.statuses:
        params["status"] = ",".join(s.value for s in query.statuses)
    for name in ("institution_id", "owner_id"):
        value = getattr(query, name)
        if value is not None:
            params[name] = str(value)
    if query.mine:
        params["mine"] = "1"
    if query.team_id is not None:
        params["team_id"] = str(query.team_id)
    for name in (
        "issued_from",
        "issued_to",
        "valid_from",
        "valid_to",
        "sent_from",
        "sent_to",
        "decided_from",
        "decided_to",
    ):
        value = getattr(query, name)
        if value is not None:
            params[name] = value.isoformat()
    for name in ("amount_min", "amount_max"):
        value = getattr(query, name)
        if value is not None:
            params[name] = format(value, "f")
    if query.sort != "issue_date" or not query.descending:
        params["sort"] = ("-" if query.descending else "") + query.sort
    if page > 1:
        params["page"] = str(page)
    return params


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": "number", "label": _("Number"), "field": "number", "sortable": True, "align": "left"},
        {"name": "title", "label": _("Title"), "field": "title", "align": "left", **WRAP},
        {
            "name": "institution",
            "label": _("Institution"),
            "field": "institution",
            "sortable": True,
            "align": "left",
            **WRAP,
        },
        {"name": "owner", "label": _("Salesperson"), "field": "owner", "sortable": True, "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status", "sortable": True, "align": "left"},
        {"name": "issue_date", "label": _("Date"), "field": "issue_date", "sortable": True, "align": "left"},
        {"name": "valid_until", "label": _("Valid until"), "field": "valid_until", "sortable": True, "align": "left"},
        {"name": "total_excl_vat", "label": _("Total excl. VAT"), "field": "total_excl_vat", "sortable": True, **MONEY},
        {"name": "total_incl_vat", "label": _("Total incl. VAT"), "field": "total_incl_vat", **MONEY},
    ]


def _row(row: QuoteRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "number": row.number,
        "title": row.title or "",
        "institution": row.institution_name,
        "institution_id": str(row.institution_id),
        "owner": row.owner_name,
        "status": _(QUOTE_STATUS_LABELS[row.status]),
        "status_value": row.status.value,
        "status_color": STATUS_COLORS[row.status],
        "issue_date": format_date(row.issue_date),
        "valid_until": format_date(row.valid_until),
        "total_excl_vat": format_currency(row.total_excl_vat),
        "total_incl_vat": format_currency(row.total_incl_vat),
    }


def _amount(value: Any) -> Decimal | None:
    try:
        return parse_number(value, places=2)
    except ValueError:
        return None


@app_page("/quotes", title=N_("Quotes"), icon="request_quote", in_navigation=True, order=40)
async def quotes_page(query: dict[str, list[str]]) -> None:
    screen = QuoteListScreen(query)
    wanted = screen.query.institution_id
    people, detail = await asyncio.gather(
        active_users() if screen.wide else _nothing(), call(institutions.get_detail, wanted) if wanted else _nothing()
    )
    if wanted is not None and detail is None:
        screen.query = dataclasses.replace(screen.query, institution_id=None)
    screen.build(people or {}, detail.institution.name if detail else None)
    await screen.table.refresh()
    live.follow(screen.concerns, screen.table.refresh, owner=screen.root)  # others' changes, as they are saved


async def _nothing() -> None:
    return None


class QuoteListScreen:
    def __init__(self, params: Mapping[str, Sequence[str]]) -> None:
        self.actor = current_actor()
        # Someone who sees only their own quotes has no use for an owner filter.
        self.wide = scope_for(self.actor, "record.view") > Scope.OWN
        self.query = QuoteQuery.from_params(params)
        if not self.wide:
            self.query = dataclasses.replace(self.query, owner_id=None, mine=False)
        first = (params.get("page") or [""])[0]
        self._loads = 0
        self.shown: set[uuid.UUID] = set()  # the quotes on screen: the live filter's cheap test
        self.state = TableState(
            page=int(first) if first.isdigit() else 1,
            sort=COLUMN_OF_SORT.get(self.query.sort, "issue_date"),
            descending=self.query.descending,
        )

    def build(self, people: dict[str, str], institution_name: str | None) -> None:
        q = self.query
        with ui.column().classes("w-full gap-2") as self.root:
            with ui.row().classes("w-full items-center gap-4"):
                ui.label(_("Quotes")).classes("text-h5")
                self.count = ui.label().classes("text-grey-7").mark("quote-count")
                ui.space()
                ui.button(_("New quote"), icon="add", on_click=lambda: ui.navigate.to("/quotes/new")).props(
                    "unelevated"
                ).mark("new-quote")
            with ui.row().classes("w-full items-center gap-2"):
                ui.input(_("Search"), value=q.q, on_change=lambda e: self.apply(q=(e.value or "").strip())).props(
                    "dense outlined clearable debounce=300"
                ).classes("w-56").mark("search")
                ui.select(
                    {s.value: _(QUOTE_STATUS_LABELS[s]) for s in QuoteStatus},
                    multiple=True,
                    label=_("Status"),
                    value=[s.value for s in q.statuses],
                    on_change=lambda e: self.apply(statuses=tuple(QuoteStatus(v) for v in e.value or [])),
                ).props("dense outlined use-chips").classes("w-56").mark("filter-status")
                institution_picker(
                    value=q.institution_id,
                    value_label=institution_name,
                    on_change=lambda e: self.apply(institution_id=as_uuid(e.value)),
                ).props("dense outlined").classes("w-60").mark("filter-institution")
                if self.wide:
                    owners = dict(people)
                    if q.owner_id is not None and str(q.owner_id) not in owners:
                        owners[str(q.owner_id)] = _("Another user")
                    ui.select(
                        owners,
                        label=_("Salesperson"),
                        value=str(q.owner_id) if q.owner_id else None,
                        with_input=True,
                        clearable=True,
                        on_change=lambda e: self.apply(owner_id=as_uuid(e.value)),
                    ).props("dense outlined").classes("w-48").mark("filter-owner")
            with ui.row().classes("w-full items-center gap-2"):
                ui.input(
                    _("Issued from"),
                    value=q.issued_from.isoformat() if q.issued_from else "",
                    on_change=lambda e: self.apply(issued_from=as_day(e.value)),
                ).props("dense outlined type=date stack-label clearable").classes("w-44").mark("filter-issued-from")
                ui.input(
                    _("Issued until"),
                    value=q.issued_to.isoformat() if q.issued_to else "",
                    on_change=lambda e: self.apply(issued_to=as_day(e.value)),
                ).props("dense outlined type=date stack-label clearable").classes("w-44").mark("filter-issued-to")
                ui.input(
                    _("Minimum excl. VAT"),
                    value=number_text(q.amount_min),
                    on_change=lambda e: self.apply(amount_min=_amount(e.value)),
                ).props("dense outlined clearable debounce=400 inputmode=decimal suffix=€").classes("w-40").mark(
                    "filter-amount-min"
                )
                ui.input(
                    _("Maximum excl. VAT"),
                    value=number_text(q.amount_max),
                    on_change=lambda e: self.apply(amount_max=_amount(e.value)),
                ).props("dense outlined clearable debounce=400 inputmode=decimal suffix=€").classes("w-40").mark(
                    "filter-amount-max"
                )
                ui.space()
                with ui.row().classes("items-center gap-4 text-body2"):
                    self.sum_excl = ui.label().mark("sum-excl")
                    self.sum_incl = ui.label().classes("text-weight-medium").mark("sum-incl")
            self.chips = FilterChips()
            self.table = PagedTable(_columns(), self._load, state=self.state, list_key="quotes", hidden=DEFAULT_HIDDEN)
            table = self.table.table
            table.add_slot(
                "body-cell-number",
                r"""
                <q-td :props="props">
                  <a :href="'/quotes/' + props.row.id" class="text-primary text-weight-medium"
                     @click.prevent="() => $parent.$emit('open', '/quotes/' + props.row.id)">{{ props.value }}</a>
                </q-td>""",
            )
            table.add_slot(
                "body-cell-institution",
                r"""
                <q-td :props="props">
                  <a :href="'/institutions/' + props.row.institution_id" class="text-primary"
                     @click.prevent="() => $parent.$emit('open', '/institutions/' + props.row.institution_id)"
                  >{{ props.value }}</a>
                </q-td>""",
            )
            table.add_slot(
                "body-cell-status",
                r"""
                <q-td :props="props"><q-badge :color="props.row.status_color">{{ props.value }}</q-badge></q-td>""",
            )
            table.on("open", lambda e: ui.navigate.to(str(e.args)))
            table.mark("quotes-table")

    async def apply(self, **changes: Any) -> None:
        self.query = dataclasses.replace(self.query, **changes)
        with self.root:
            await self.table.refresh(first_page=True)

    def _chips(self) -> list[Chip]:
        """The filters the bar has no field for (set by the dashboard's links)."""
        q = self.query
        chips: list[Chip] = []

        def clearing(name: str) -> Callable[[], Awaitable[None]]:
            return lambda: self.apply(**{f"{name}_from": None, f"{name}_to": None})

        for label, name in ((_("Valid until"), "valid"), (_("Sent"), "sent"), (_("Decided"), "decided")):
            if text := range_text(label, getattr(q, f"{name}_from"), getattr(q, f"{name}_to")):
                chips.append((text, clearing(name)))
        if q.team_id is not None:
            chips.append((team_text(self.actor, q.team_id), lambda: self.apply(team_id=None)))
        if q.mine:
            chips.append((_("Mine"), lambda: self.apply(mine=False)))
        return chips

    def concerns(self, event: Event) -> bool:
        """Cheap, on the event loop for every committed event: could this change what is shown?"""
        if not isinstance(event, QuoteChanged):
            return False
        if event.quote_id in self.shown:
            return True
        q = self.query
        if (q.owner_id is not None and event.owner_id != q.owner_id) or (q.mine and event.owner_id != self.actor.id):
            return False
        return live.may_see_document(self.actor, event, institution_id=q.institution_id)

    async def _load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        sort = SORTABLE.get(state.sort or "", "issue_date")
        self.query = dataclasses.replace(self.query, sort=sort, descending=state.descending)
        params = query_params(self.query, state.page)
        self.chips.show(self._chips())
        ui.navigate.history.replace("/quotes" + (f"?{urlencode(params)}" if params else ""))
        self._loads += 1
        ticket = self._loads
        page = await call(quotes.list_quotes, self.query, page_request(state))
        if page is None or ticket != self._loads:  # a newer load (another filter changed) wins
            return None
        self.shown = {row.id for row in page.items}
        self.count.text = ngettext("{count} quote", "{count} quotes", page.total, count=page.total)
        self.sum_excl.text = _("Total excl. VAT: {amount}", amount=format_currency(page.sum_excl_vat))
        self.sum_incl.text = _("Total incl. VAT: {amount}", amount=format_currency(page.sum_incl_vat))
        return rows_of(page, _row)
