"""/opportunities: the pipeline. A board by stage by default (each column's count, sum and weighted
sum over the whole filter, its cards a page at a time, drag and drop or the card's menu to move one,
a reason asked before a sale is marked lost), or the list (`?view=list`: sorted and paged in SQL,
its columns chosen, exported, saved views). One filter bar for both, mirrored in the URL with the
names of the API (`q`, `stage`, `owner`, `team`, `institution`, `close_from`, `close_to`,
`closed_from`, `closed_to`, `amount_min`, `amount_max`, `source`). Both views follow the changes
other people commit, live."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Coroutine, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.board import Board, Column, paged_cards_text
from components.opportunity_dialog import (
    STAGE_COLORS,
    ask_lost_reason,
    may_see,
    money_text,
    open_opportunity_dialog,
    source_name,
    stage_name,
    sums_text,
)
from components.paged_table import MONEY, WRAP, PagedTable, TableState, page_request
from components.pickers import as_day, as_uuid, institution_picker
from components.shell import app_page
from crm_app.institutions import saved_views as views
from crm_app.institutions import service as institutions
from crm_app.institutions.service import FilterChoices
from crm_app.platform.events import Event, OpportunityChanged
from crm_app.platform.i18n import N_, format_date, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import PageRequest
from crm_app.platform.params import Params
from crm_app.platform.tabular import ExportFormat
from crm_app.sales import opportunities
from crm_app.sales.models.opportunities import OpportunitySource, OpportunityStage
from crm_app.sales.opportunities import (
    BOARD_PAGE_SIZE,
    BoardColumn,
    OpportunityFilter,
    OpportunityRow,
)

LIST, BOARD = "list", "board"
VIEW_PAGE = "opportunities"  # the saved views' and the column chooser's name of the list
ME, EVERYONE = "me", ""
#: Shown when the user shows them (the column chooser): the list fits a 1440 px screen without them.
DEFAULT_HIDDEN = ("probability", "source", "closed_at")
SORTABLE = {
    "name": "name",
    "institution": "institution",
    "owner": "owner",
    "stage": "stage",
    "amount": "amount",
    "probability": "probability",
    "weighted": "weighted_amount",
    "close": "expected_close_date",
    "closed_at": "closed_at",
}
COLUMN_OF_SORT = {sort: column for column, sort in SORTABLE.items()}


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": "name", "label": _("Opportunity"), "field": "name", "sortable": True, "align": "left", **WRAP},
        {"name": "institution", "label": _("Institution"), "field": "institution", "sortable": True, "align": "left"},
        {"name": "stage", "label": _("Stage"), "field": "stage", "sortable": True, "align": "left"},
        {"name": "amount", "label": _("Amount excl. VAT"), "field": "amount", "sortable": True, **MONEY},
        {"name": "probability", "label": _("Probability"), "field": "probability", "sortable": True, **MONEY},
        {"name": "weighted", "label": _("Weighted amount"), "field": "weighted", "sortable": True, **MONEY},
        {"name": "close", "label": _("Expected close"), "field": "close", "sortable": True, "align": "left"},
        {"name": "owner", "label": _("Owner"), "field": "owner", "sortable": True, "align": "left"},
        {"name": "source", "label": _("Source"), "field": "source", "align": "left"},
        {"name": "closed_at", "label": _("Closed on"), "field": "closed_at", "sortable": True, "align": "left"},
    ]


def _row(row: OpportunityRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "institution": row.institution_name,
        "institution_id": str(row.institution_id),
        "stage": stage_name(row.stage),
        "stage_color": STAGE_COLORS[row.stage],
        "amount": money_text(row.amount),
        "probability": f"{row.probability} %",
        "weighted": money_text(row.weighted_amount),
        "close": format_date(row.expected_close_date),
        "owner": row.owner_name,
        "source": source_name(row.source),
        "closed_at": format_date(row.closed_at.date()) if row.closed_at else "",
    }


@app_page(
    "/opportunities",
    title=N_("Opportunities"),
    icon="trending_up",
    in_navigation=True,
    order=38,
    permission="opportunity.view",
)
async def opportunities_page(query: dict[str, list[str]]) -> None:
    screen = OpportunityScreen(query)
    wanted = screen.query.institution_id
    choices, detail = await asyncio.gather(
        call(institutions.filter_choices), call(institutions.get_detail, wanted) if wanted else _nothing()
    )
    if choices is None:
        return
    if detail is None:
        screen.query = dataclasses.replace(screen.query, institution_id=None)  # unknown: the filter goes
    screen.build(choices, detail.institution.name if detail else None)
    await screen.reload()
    await screen.refresh_views()


async def _nothing() -> None:
    return None


class OpportunityScreen:
    """The board and the list of one filter that mirrors the URL; any change reloads from SQL."""

    def __init__(self, params: dict[str, list[str]]) -> None:
        self.actor = current_actor()
        self.query = OpportunityFilter.from_params(params)
        read = Params(params)
        self.view = LIST if read.one("view") == LIST else BOARD
        first_page = read.one("page") or ""
        self.state = TableState(
            page=int(first_page) if first_page.isdigit() else 1,
            sort=COLUMN_OF_SORT.get(self.query.sort, "close"),
            descending=self.query.descending,
        )
        self.rows: dict[uuid.UUID, OpportunityRow] = {}  # what the screen shows: the live filter's cheap test
        self.saved: dict[str, views.ViewRow] = {}
        self.filters: dict[str, Any] = {}
        self.save_dialog: ui.dialog | None = None
        self._reloading = False
        self._again = False
        self._resetting = False

    # ---- the parts of the screen

    def build(self, choices: FilterChoices, institution_name: str | None) -> None:
        with ui.column().classes("w-full gap-2") as self.root:
            self._header()
            self._filters(choices, institution_name)
            with ui.column().classes("w-full gap-2") as self.list_box:
                self.list_sums = ui.row().classes("w-full items-center gap-3 text-grey-8").mark("list-sums")
                self.paged = PagedTable(
                    _columns(), self._load, state=self.state, list_key=VIEW_PAGE, hidden=DEFAULT_HIDDEN
                )
                self._table_slots(self.paged.table)
            self.board: Board[OpportunityStage, OpportunityRow] = Board(
                marker="opportunities-board",
                row_id=lambda row: row.id,
                can_move=lambda row: row.can_edit,
                draw_card=self._card,
                on_move=self.move,
                move_label=_("Move the opportunity"),
                move_to=lambda column: _("Move to {stage}", stage=column.title),
                card_marker=lambda row: f"opportunity-card opportunity-card-{row.id}",
                more_text=paged_cards_text,
                load_more=self._more_cards,
                moves_at_once=lambda stage: stage is not OpportunityStage.LOST,  # the reason first
            )
            self.list_box.set_visibility(self.view == LIST)
            self.board.element.set_visibility(self.view == BOARD)
        live.watch(self.concerns, self._on_event, owner=self.root)

    def _header(self) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Opportunities")).classes("text-h5")
            self.count = ui.label().classes("text-grey-7").mark("opportunity-count")
            ui.space()
            ui.toggle({BOARD: _("Board"), LIST: _("List")}, value=self.view, on_change=self._switch_view).props(
                "no-caps"
            ).mark("view-toggle")
            with ui.button(_("Export"), icon="download").props("outline").mark("export"), ui.menu():
                ui.menu_item(_("CSV (filtered list)"), on_click=lambda: self.export(ExportFormat.CSV)).mark(
                    "export-csv"
                )
                ui.menu_item(_("Excel (filtered list)"), on_click=lambda: self.export(ExportFormat.XLSX)).mark(
                    "export-xlsx"
                )
            ui.button(_("New opportunity"), icon="add", on_click=self.create).props("unelevated").mark(
                "new-opportunity"
            )

    def _filters(self, choices: FilterChoices, institution_name: str | None) -> None:
        q, f = self.query, self.filters
        owners = {
            EVERYONE: _("Everyone I can see"),
            ME: _("Me"),
            **{str(user_id): name for user_id, name in choices.users if user_id != self.actor.id},
        }
        owner = ME if q.mine else str(q.owner_id or "")
        if owner not in owners:
            owners[owner] = _("Another user")
        with ui.row().classes("w-full items-center gap-2"):
            f["q"] = (
                ui.input(_("Search"), value=q.q, on_change=lambda e: self.changed(q=(e.value or "").strip()))
                .props("dense outlined clearable debounce=300")
                .classes("w-48")
                .mark("search")
            )
            f["stages"] = (
                ui.select(
                    {s.value: stage_name(s) for s in OpportunityStage},
                    multiple=True,
                    label=_("Stage"),
                    value=[s.value for s in q.stages],
                    on_change=lambda e: self.changed(stages=tuple(OpportunityStage(v) for v in e.value or [])),
                )
                .props("dense outlined use-chips")
                .classes("w-44")
                .mark("filter-stage")
            )
            f["owner"] = (
                ui.select(owners, label=_("Owner"), value=owner, with_input=True, on_change=self._owner_changed)
                .props("dense outlined")
                .classes("w-52")
                .mark("filter-owner")
            )
            f["team"] = (
                ui.select(
                    {"": _("All teams"), **{str(key): name for key, name in choices.teams}},
                    label=_("Team"),
                    value=str(q.team_id or ""),
                    on_change=lambda e: self.changed(team_id=as_uuid(e.value)),
                )
                .props("dense outlined")
                .classes("w-48")
                .mark("filter-team")
            )
            f["institution"] = (
                institution_picker(
                    value=q.institution_id,
                    value_label=institution_name,
                    on_change=lambda e: self.changed(institution_id=as_uuid(e.value)),
                )
                .props("dense outlined")
                .classes("w-52")
                .mark("filter-institution")
            )
        with ui.row().classes("w-full items-center gap-2"):
            self.views_select = (
                ui.select({}, label=_("Saved views"), on_change=lambda e: self._open_view(e.value))
                .props("dense outlined clearable")
                .classes("w-56")
                .mark("saved-views")
            )
            ui.button(_("Save view"), icon="bookmark_add", on_click=self._open_save_dialog).props("flat no-caps").mark(
                "save-view"
            )
            ui.button(icon="delete", on_click=self._delete_view).props(
                f'flat round aria-label="{_("Delete this view")}"'
            ).tooltip(_("Delete this view")).mark("delete-view")
            ui.space()
            ui.button(_("Clear filters"), icon="filter_alt_off", on_click=self.clear_filters).props(
                "flat no-caps"
            ).mark("clear-filters")
        more = {"sources", "close_from", "close_to", "closed_from", "closed_to", "amount_min", "amount_max"}
        opened = any(getattr(q, name) not in (None, ()) for name in more)
        with (
            ui.expansion(_("More filters"), icon="filter_list", value=opened)
            .props("dense")
            .classes("w-full")
            .mark("more-filters"),
            ui.row().classes("w-full items-center gap-2"),
        ):
            f["sources"] = (
                ui.select(
                    {s.value: source_name(s) for s in OpportunitySource},
                    multiple=True,
                    label=_("Source"),
                    value=[s.value for s in q.sources],
                    on_change=lambda e: self.changed(sources=tuple(OpportunitySource(v) for v in e.value or [])),
                )
                .props("dense outlined use-chips")
                .classes("w-48")
                .mark("filter-source")
            )
            f["close_from"], f["close_to"] = self._day_range(_("Expected close"), "close_from", "close_to")
            f["closed_from"], f["closed_to"] = self._day_range(_("Closed"), "closed_from", "closed_to")
            f["amount_min"] = self._amount_input(_("Amount ≥"), "amount_min")
            f["amount_max"] = self._amount_input(_("Amount ≤"), "amount_max")

    def _day_range(self, label: str, low: str, high: str) -> tuple[ui.input, ui.input]:
        q = self.query
        with ui.row().classes("items-center no-wrap gap-1"):
            start = (
                ui.input(
                    f"{label} ≥",
                    value=getattr(q, low).isoformat() if getattr(q, low) else "",
                    on_change=lambda e: self.changed(**{low: as_day(e.value)}),
                )
                .props("dense outlined type=date stack-label clearable")
                .classes("w-40")
                .mark(f"filter-{low}")
            )
            end = (
                ui.input(
                    "≤",
                    value=getattr(q, high).isoformat() if getattr(q, high) else "",
                    on_change=lambda e: self.changed(**{high: as_day(e.value)}),
                )
                .props("dense outlined type=date stack-label clearable")
                .classes("w-36")
                .mark(f"filter-{high}")
            )
        return start, end

    def _amount_input(self, label: str, name: str) -> ui.input:
        value = getattr(self.query, name)
        field = (
            ui.input(label, value=str(value) if value is not None else "")
            .props("dense outlined clearable debounce=400 inputmode=decimal")
            .classes("w-32")
            .mark(f"filter-{name}")
        )

        def changed(event: Any) -> Coroutine[Any, Any, None] | None:
            text = (event.value or "").strip().replace(" ", "").replace(",", ".")
            try:
                amount = Decimal(text) if text else None
            except InvalidOperation:
                field.props(f'error error-message="{_("Enter an amount, such as 1500 or 1500.50.")}"')
                return None
            field.props(remove="error error-message")
            return self.changed(**{name: amount})

        field.on_value_change(changed)
        return field

    def _table_slots(self, table: ui.table) -> None:
        table.add_slot(
            "body-cell-name",
            r"""
            <q-td :props="props">
              <a :href="'/opportunities/' + props.row.id" class="text-primary text-weight-medium"
                 @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-institution",
            r"""
            <q-td :props="props">
              <a :href="'/institutions/' + props.row.institution_id" class="text-primary"
                 @click.prevent="() => $parent.$emit('institution', props.row.institution_id)">{{ props.value }}</a>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-stage",
            r"""
            <q-td :props="props"><q-badge :color="props.row.stage_color">{{ props.value }}</q-badge></q-td>""",
        )
        table.on("open", lambda e: ui.navigate.to(f"/opportunities/{e.args}"))
        table.on("institution", lambda e: ui.navigate.to(f"/institutions/{e.args}"))
        table.mark("opportunities-table")

    def _card(self, row: OpportunityRow) -> None:
        with ui.row().classes("w-full items-start no-wrap gap-1"):
            ui.link(row.name, f"/opportunities/{row.id}").classes("text-weight-medium text-primary no-underline").mark(
                "opportunity-card-name"
            )
            ui.space()
            if row.can_edit:
                self.board.move_menu(row)
        ui.label(row.institution_name).classes("text-caption text-grey-8")
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(money_text(row.amount)).classes("text-body2 text-weight-medium opex-money")
            ui.label(f"{row.probability} %").classes("text-caption text-grey-7")
            ui.space()
            if row.expected_close_date is not None:
                ui.label(format_date(row.expected_close_date, style="short")).classes("text-caption text-grey-7")
        ui.label(row.owner_name).classes("text-caption text-grey-7")

    # ---- filters and the URL

    def changed(self, **changes: Any) -> Coroutine[Any, Any, None] | None:
        """A filter's change event; ignored while "Clear filters" empties them all (it reloads once)."""
        return None if self._resetting else self.apply(**changes)

    async def apply(self, **changes: Any) -> None:
        self.query = dataclasses.replace(self.query, **changes)
        self.state.page = 1
        await self.reload()

    def _owner_changed(self, event: Any) -> Coroutine[Any, Any, None] | None:
        return self.changed(mine=event.value == ME, owner_id=as_uuid(event.value))

    async def clear_filters(self) -> None:
        self._resetting = True
        try:
            for name, element in self.filters.items():
                element.set_value([] if name in ("stages", "sources") else ("" if name != "institution" else None))
        finally:
            self._resetting = False
        keep = {"sort", "descending"}
        await self.apply(**{f.name: f.default for f in dataclasses.fields(OpportunityFilter) if f.name not in keep})

    async def _switch_view(self, event: Any) -> None:
        self.view = LIST if event.value == LIST else BOARD
        self.list_box.set_visibility(self.view == LIST)
        self.board.element.set_visibility(self.view == BOARD)
        await self.reload()

    def url_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.query.to_params()
        if self.view == LIST:
            params["view"] = LIST
            if self.state.page > 1:
                params["page"] = str(self.state.page)
        else:
            params.pop("sort", None)  # the board has its own order
        return params

    def _update_url(self) -> None:
        params = self.url_params()
        ui.navigate.history.replace("/opportunities" + (f"?{urlencode(params, doseq=True)}" if params else ""))

    # ---- loading

    async def reload(self) -> None:
        """Load the current view again; reloads asked for meanwhile (live events) run once after it."""
        if self._reloading:
            self._again = True
            return
        self._reloading = True
        try:
            with self.root:  # not the context of an element the reload replaces (a card, a column)
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
        self.count.text = ngettext("{count} opportunity", "{count} opportunities", total, count=total)

    async def _load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        sort = SORTABLE.get(state.sort or "", opportunities.DEFAULT_SORT)
        self.query = dataclasses.replace(self.query, sort=sort, descending=state.descending)
        self._update_url()
        page = await call(opportunities.list_opportunities, self.query, page_request(state))
        if page is None:
            return None
        self.rows = {row.id: row for row in page.items}
        self._show_total(page.total)
        self.list_sums.clear()
        with self.list_sums:
            ui.label(_("Total: {amount}", amount=money_text(page.sum_amount))).mark("list-sum-amount")
            ui.label(_("Weighted: {amount}", amount=money_text(page.sum_weighted))).mark("list-sum-weighted")
        return [_row(row) for row in page.items], page.total

    async def _load_board(self) -> None:
        self._update_url()
        found = await call(opportunities.board, self.query)
        if found is None:
            return
        self.rows = {row.id: row for column in found for row in column.items}
        self._show_total(sum(column.count for column in found))
        self.board.show([self._column(column) for column in found])

    @staticmethod
    def _column(column: BoardColumn) -> Column[OpportunityStage, OpportunityRow]:
        return Column(
            column.stage,
            stage_name(column.stage),
            STAGE_COLORS[column.stage],
            column.count,
            column.items,
            summary=sums_text(column.count, column.amount, column.weighted_amount),
        )

    async def _more_cards(self, stage: OpportunityStage, shown: int) -> Sequence[OpportunityRow] | None:
        page = await call(
            opportunities.board_page, self.query, stage, PageRequest(shown // BOARD_PAGE_SIZE + 1, BOARD_PAGE_SIZE)
        )
        if page is None:
            return None
        self.rows.update({row.id: row for row in page.items})
        return page.items

    # ---- actions

    async def move(self, opportunity_id: uuid.UUID, stage: OpportunityStage) -> None:
        """A card moved to another column (the board has moved it on the screen already, but to lost)."""
        row = self.rows.get(opportunity_id)
        if row is None or row.stage is stage:
            return
        with self.root:  # not the column's context: the reload below draws the columns again
            if stage is OpportunityStage.LOST:

                async def lose(reason_id: uuid.UUID | None, text: str | None, fields: dict[str, Any]) -> bool:
                    return await self._move(row, stage, fields=fields, lost_reason_id=reason_id, lost_reason_text=text)

                await ask_lost_reason(row.name, lose)
                return
            await self._move(row, stage)

    async def _move(self, row: OpportunityRow, stage: OpportunityStage, **kwargs: Any) -> bool:
        with self.root:
            moved = await call(opportunities.move_stage, row.id, stage, expected_version=row.version, **kwargs)
            if moved is not None:
                ui.notify(
                    _("“{name}” moved to {stage}.", name=row.name, stage=stage_name(stage)),
                    type="positive",
                )
        await self.reload()  # where the database says: back, if the move was refused
        return moved is not None

    async def create(self) -> None:
        with self.root:
            await open_opportunity_dialog(on_saved=lambda _id: self.reload())

    async def export(self, export_format: ExportFormat) -> None:
        content = await call(opportunities.export_opportunities, self.query, export_format)
        if content is not None:
            ui.download.content(content, f"opportunities.{export_format.value}")

    # ---- saved views

    async def refresh_views(self) -> None:
        found = await call(views.list_views, VIEW_PAGE)
        if found is not None and not self.views_select.is_deleted:
            self.saved = {str(v.id): v for v in found}
            self.views_select.set_options(
                {key: v.name + (" 👥" if v.is_shared else "") for key, v in self.saved.items()}
            )

    def _open_view(self, view_id: str | None) -> None:
        if view_id and view_id in self.saved:
            ui.navigate.to("/opportunities?" + urlencode(self.saved[view_id].query, doseq=True))

    async def _delete_view(self) -> None:
        if self.views_select.value and await call(views.delete_view, uuid.UUID(self.views_select.value)):
            self.views_select.set_value(None)
            ui.notify(_("View deleted."), type="positive")
            await self.refresh_views()

    def _save_dialog(self) -> ui.dialog:
        with self.root, ui.dialog() as dialog, ui.card().classes("w-96 max-w-full"):
            ui.label(_("Save this view")).classes("text-h6")
            name = ui.input(_("Name")).classes("w-full").mark("view-name")
            shared = ui.checkbox(_("Share with my team")).mark("view-shared")

            async def save() -> None:
                saved = await call(
                    views.save_view,
                    page=VIEW_PAGE,
                    name=name.value or "",
                    query=self.url_params(),
                    shared=bool(shared.value),
                    fields={"name": name, "shared": shared},
                )
                if saved is not None:
                    dialog.close()
                    ui.notify(_("View saved."), type="positive")
                    await self.refresh_views()

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(_("Save"), on_click=save).props("unelevated no-caps").mark("view-save")
        return dialog

    def _open_save_dialog(self) -> None:
        if self.save_dialog is None:
            self.save_dialog = self._save_dialog()
        self.save_dialog.open()

    # ---- live

    def concerns(self, event: Event) -> bool:
        """Cheap, on the event loop, for every committed event: could this change what is shown?"""
        if not isinstance(event, OpportunityChanged):
            return False
        if event.opportunity_id in self.rows:
            return True
        q = self.query
        if q.mine and event.owner_id != self.actor.id:
            return False
        if q.owner_id is not None and event.owner_id != q.owner_id:
            return False
        if q.institution_id is not None and event.institution_id != q.institution_id:
            return False
        return may_see(self.actor, event)

    async def _on_event(self, _event: Event) -> None:
        await self.reload()
