"""/institutions: the list, paged, sorted and filtered in SQL; filters in the URL; saved views;
bulk actions; export of the filtered list."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components.backend import call, current_actor
from components.bulk_work import BulkWorkDialog
from components.filter_chips import Chip, FilterChips, range_text
from components.health import COLOURS
from components.menus import lazy_menu
from components.paged_table import WRAP, PagedTable, TableState, page_request, rows_of
from components.shell import app_page, titled
from crm_app.activities.bulk import BulkKind
from crm_app.analytics.health import health_of
from crm_app.institutions import exports
from crm_app.institutions import saved_views as views
from crm_app.institutions import service as institutions
from crm_app.institutions.models import CommercialStatus, ComplianceStatus, InstitutionType
from crm_app.institutions.service import (
    COMPLIANCE_LABELS,
    STATUS_LABELS,
    TYPE_LABELS,
    FilterChoices,
    InstitutionQuery,
    InstitutionRow,
)
from crm_app.platform.i18n import N_, format_datetime, format_decimal, ngettext, pgettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import EXACT_COUNT_LIMIT, PageOfLongList
from crm_app.platform.permissions import can
from crm_app.platform.tabular import ExportFormat

VIEW_PAGE = "institutions"
#: Shown when the user shows them (the column chooser): the list fits a 1440 px screen without them.
DEFAULT_HIDDEN = ("team",)
SORT_COLUMNS = {
    "name": "name",
    "city": "city",
    "type": "type",
    "status": "status",
    "updated": "updated",
    "health": "health_score",
}
#: The list's sort (InstitutionQuery.sort) → its column's name in the table.
COLUMN_OF_SORT = {sort: column for column, sort in SORT_COLUMNS.items()}


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": "name", "label": _("Name"), "field": "name", "sortable": True, "align": "left", **WRAP},
        {"name": "type", "label": _("Type"), "field": "type", "sortable": True, "align": "left", **WRAP},
        {"name": "city", "label": _("City"), "field": "city", "sortable": True, "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status", "sortable": True, "align": "left"},
        {"name": "assigned", "label": _("Assigned to"), "field": "assigned", "align": "left"},
        {"name": "team", "label": _("Team"), "field": "team", "align": "left"},
        {"name": "beds", "label": _("Beds"), "field": "beds", "align": "right"},
        {"name": "health", "label": _("Health"), "field": "health", "sortable": True, "align": "center"},
        {"name": "tags", "label": _("Tags"), "field": "tags", "align": "left", **WRAP},
        {"name": "updated", "label": _("Updated"), "field": "updated", "sortable": True, "align": "left"},
    ]


def _row(row: InstitutionRow) -> dict[str, Any]:

    return {
        "id": str(row.id),
        "name": row.name,
        "type": _(TYPE_LABELS[row.type]),
        "city": " ".join(p for p in (row.postal_code, row.city) if p),
        "status": _(STATUS_LABELS[row.commercial_status]),
        "assigned": row.assigned_user_name or "",
        "team": row.team_name or "",
        "beds": row.bed_capacity if row.bed_capacity is not None else "",
        "health": "" if row.health_score is None else row.health_score,
        "health_colour": COLOURS[health_of(row.health_score)],
        "tags": ", ".join(row.tags),
        "archived": row.is_archived,
        "updated": format_datetime(row.updated_at, style="short"),
    }


def _options(pairs: list[tuple[uuid.UUID, str]]) -> dict[str, str]:
    return {str(key): label for key, label in pairs}


@app_page(
    "/institutions",
    title=N_("Institutions"),
    icon="apartment",
    in_navigation=True,
    order=10,
    permission="institution.view",
)
async def institutions_page(query: dict[str, list[str]]) -> None:
    screen = InstitutionList(query)
    first = call(institutions.list_institutions, screen.query, page_request(screen.state))
    if not screen.open_filters:  # the filters' choices are read when their panel or a bulk dialog opens
        first_page = await first
        if first_page is not None:
            await screen.show(None, first_page)
        return
    # The URL filters: the panel opens with its fields, their choices read beside the first page.
    choices, first_page = await asyncio.gather(call(institutions.filter_choices), first)
    if choices is not None and first_page is not None:
        await screen.show(choices, first_page)


ESTIMATE_HINT = N_("An estimate: counting every match of so long a list would slow each page down.")


def total_text(page: PageOfLongList[Any]) -> str:
    """The list's count: exact; or, beyond EXACT_COUNT_LIMIT, "about" PostgreSQL's estimate to two
    significant figures, or "more than" the limit when the estimate was no higher."""
    if page.total_exact:
        return ngettext("{count} institution", "{count} institutions", page.total, count=page.total)
    if page.total <= EXACT_COUNT_LIMIT + 1:
        return _("More than {count} institutions", count=format_decimal(EXACT_COUNT_LIMIT))
    magnitude = 10 ** (len(str(page.total)) - 2)
    return _("About {count} institutions", count=format_decimal(round(page.total / magnitude) * magnitude))


class InstitutionList:
    """The list screen: its query mirrors the URL; every change reloads page one from SQL."""

    def __init__(self, params: dict[str, list[str]]) -> None:
        self.actor = current_actor()
        self.query = InstitutionQuery.from_params(params)
        first_page = (params.get("page") or ["1"])[0]
        self.state = TableState(
            page=int(first_page) if first_page.isdigit() else 1,
            sort=COLUMN_OF_SORT.get(self.query.sort, self.query.sort),
            descending=self.query.descending,
        )
        self.open_filters = bool(set(params) - {"q", "sort", "page"})
        self.saved: dict[str, views.ViewRow] = {}
        self.filters: dict[str, Any] = {}

    async def show(self, choices: FilterChoices | None, first_page: PageOfLongList[InstitutionRow]) -> None:
        """`choices` when the URL filters (the panel opens with its fields). Otherwise they are read when
        the panel or a bulk dialog opens: neither read nor held by every open tab (issue 20, bench/README
        "Memory per tab" and "where a page's time goes")."""
        self._header()
        self._search_row()
        self._filters(choices)
        self.chips = FilterChips()
        self.chips.show(self._chips())
        self.bulk_bar: ui.row | None = None  # built on the first selection: most visits select nothing
        self.selected_label: ui.label | None = None
        self.paged = PagedTable(
            _columns(), self._load, selection="multiple", state=self.state, list_key=VIEW_PAGE, hidden=DEFAULT_HIDDEN
        )
        table = self.paged.table
        table.add_slot(
            "body-cell-name",
            r"""
            <q-td :props="props">
              <a :href="'/institutions/' + props.row.id" class="text-primary text-weight-medium"
                 @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
              <q-badge v-if="props.row.archived" color="grey" class="q-ml-sm">"""
            + _("Archived")
            + r"""</q-badge>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-health",
            r"""
            <q-td :props="props">
              <q-badge v-if="props.value !== ''" :color="props.row.health_colour" :label="props.value"/>
            </q-td>""",
        )
        table.on("open", lambda e: ui.navigate.to(f"/institutions/{e.args}"))
        table.on_select(lambda _event: self._on_select())
        table.mark("institutions-table")
        self.save_dialog: ui.dialog | None = None  # built when first asked for
        self._show_total(first_page)
        self.paged.show(rows_of(first_page, _row))
        await self._refresh_views()

    # ---- loading and the URL

    async def _load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        self.query = dataclasses.replace(
            self.query, sort=SORT_COLUMNS.get(state.sort or "name", "name"), descending=state.descending
        )
        params = self.query.to_params()
        self.chips.show(self._chips())
        if state.page > 1:
            params["page"] = str(state.page)
        ui.navigate.history.replace("/institutions" + (f"?{urlencode(params, doseq=True)}" if params else ""))
        result = await call(institutions.list_institutions, self.query, page_request(state))
        if result is None:
            return None
        self._show_total(result)
        return rows_of(result, _row)

    def _chips(self) -> list[Chip]:
        """The filters the bar has no field for (set by the dashboard's links)."""
        q = self.query
        chips: list[Chip] = []
        if text := range_text(_("Created"), q.created_from, q.created_to):
            chips.append((text, lambda: self.apply(created_from=None, created_to=None)))
        if text := range_text(_("New client"), q.client_from, q.client_to):
            chips.append((text, lambda: self.apply(client_from=None, client_to=None)))
        return chips

    def _show_total(self, page: PageOfLongList[Any]) -> None:
        self.count.text = total_text(page)
        if page.total_exact:
            self.count.props(remove="title")
        else:
            self.count.props["title"] = _(ESTIMATE_HINT)
        self.count.update()
        self.paged.describe_total(None if page.total_exact else self.count.text)

    async def apply(self, **changes: Any) -> None:
        self.query = dataclasses.replace(self.query, **changes)
        await self.paged.refresh(first_page=True)

    # ---- the parts of the screen

    def _header(self) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Institutions")).classes("text-h5")
            self.count = ui.label().classes("text-grey-7 me-auto").mark("institution-count")
            if can(self.actor, "institution.create"):
                ui.button(_("New institution"), icon="add", on_click=lambda: ui.navigate.to("/institutions/new")).props(
                    "unelevated"
                ).mark("new-institution")
            if can(self.actor, "institution.import"):
                ui.button(
                    _("Import"), icon="upload_file", on_click=lambda: ui.navigate.to("/institutions/import")
                ).props("outline")
            lazy_menu(ui.button(_("Export"), icon="download").props("outline").mark("export"), self._export_menu)

    def _export_menu(self) -> None:
        ui.menu_item(_("CSV (filtered list)"), on_click=lambda: self.export(ExportFormat.CSV)).mark("export-csv")
        ui.menu_item(_("Excel (filtered list)"), on_click=lambda: self.export(ExportFormat.XLSX)).mark("export-xlsx")

    def _search_row(self) -> None:
        with ui.row().classes("w-full items-center gap-2"):
            ui.input(_("Search"), value=self.query.q, on_change=lambda e: self.apply(q=e.value or "")).props(
                "dense outlined clearable debounce=300"
            ).classes("w-80").mark("search")
            self.views_select = (
                ui.select({}, label=_("Saved views"), on_change=lambda e: self._open_view(e.value))
                .props("dense outlined clearable")
                .classes("w-56")
                .mark("saved-views")
            )
            ui.button(_("Save view"), icon="bookmark_add", on_click=self._open_save_dialog).props("flat").mark(
                "save-view"
            )
            titled(ui.button(icon="delete", on_click=self._delete_view).props("flat round"), _("Delete this view"))
            # On the whole filter (or, ticked, the selection): the dialog lets one choose.
            lazy_menu(
                ui.button(_("Bulk work"), icon="playlist_add").props("flat").classes("me-auto").mark("bulk-work"),
                self._bulk_menu,
            )
            self.filters["archived"] = (
                ui.select(
                    {
                        "active": pgettext("filter", "Active"),
                        "archived": pgettext("filter", "Archived"),
                        "all": pgettext("filter", "All"),
                    },
                    value=self.query.archived,
                    label=pgettext("filter", "Archived"),
                    on_change=lambda e: self.apply(archived=e.value),
                )
                .props("dense outlined")
                .classes("w-36")
            )

    def _filters(self, choices: FilterChoices | None) -> None:
        """The filters' panel; its fields (a good part of the page's elements) are built when it is first
        opened, with the choices read then, unless the URL already filters (`choices` given)."""
        panel = (
            ui.expansion(_("Filters"), icon="filter_list", value=self.open_filters)
            .classes("w-full")
            .props("dense")
            .mark("filters")
        )
        if choices is not None:
            with panel:
                self._filter_fields(choices)
            return
        building = False

        async def build(event: Any) -> None:
            nonlocal building
            if not event.value or building or "types" in self.filters:
                return
            building = True
            try:
                read = await call(institutions.filter_choices)
            finally:
                building = False
            if read is not None and "types" not in self.filters:
                with panel:
                    self._filter_fields(read)

        panel.on_value_change(build)

    def _filter_fields(self, choices: FilterChoices) -> None:
        q, f = self.query, self.filters
        with ui.grid(columns=4).classes("w-full gap-2"):
            f["types"] = (
                ui.select(
                    {t.value: _(TYPE_LABELS[t]) for t in InstitutionType},
                    multiple=True,
                    label=_("Type"),
                    value=[t.value for t in q.types],
                    on_change=lambda e: self.apply(types=tuple(InstitutionType(v) for v in e.value)),
                )
                .props("dense outlined use-chips")
                .mark("filter-type")
            )
            f["statuses"] = ui.select(
                {s.value: _(STATUS_LABELS[s]) for s in CommercialStatus},
                multiple=True,
                label=_("Status"),
                value=[s.value for s in q.statuses],
                on_change=lambda e: self.apply(statuses=tuple(CommercialStatus(v) for v in e.value)),
            ).props("dense outlined use-chips")
            f["region"] = ui.select(
                choices.regions,
                label=_("Region"),
                value=q.region,
                with_input=True,
                on_change=lambda e: self.apply(region=e.value or None),
            ).props("dense outlined clearable")
            f["city"] = ui.input(
                _("City"), value=q.city or "", on_change=lambda e: self.apply(city=(e.value or "").strip() or None)
            ).props("dense outlined clearable debounce=400")
            assigned = {"": _("Anyone"), "none": _("Unassigned"), **_options(choices.users)}
            f["assigned"] = ui.select(
                assigned,
                label=_("Assigned to"),
                with_input=True,
                value="none" if q.unassigned else str(q.assigned_user_id or ""),
                on_change=lambda e: self.apply(
                    unassigned=e.value == "none",
                    assigned_user_id=uuid.UUID(e.value) if e.value not in ("", "none", None) else None,
                ),
            ).props("dense outlined")
            f["team"] = ui.select(
                {"": _("All teams"), **_options(choices.teams)},
                label=_("Team"),
                value=str(q.team_id or ""),
                on_change=lambda e: self.apply(team_id=uuid.UUID(e.value) if e.value else None),
            ).props("dense outlined")
            f["tags"] = ui.select(
                choices.tags,
                multiple=True,
                label=_("Tags"),
                value=list(q.tags),
                with_input=True,
                on_change=lambda e: self.apply(tags=tuple(e.value)),
            ).props("dense outlined use-chips")
            f["specialties"] = ui.select(
                choices.specialties,
                multiple=True,
                label=_("Specialties"),
                value=list(q.specialties),
                with_input=True,
                on_change=lambda e: self.apply(specialties=tuple(e.value)),
            ).props("dense outlined use-chips")
            f["beds_min"], f["beds_max"] = _range_inputs(
                _("Beds"), q.beds_min, q.beds_max, lambda low, high: self.apply(beds_min=low, beds_max=high)
            )
            f["rooms_min"], f["rooms_max"] = _range_inputs(
                _("Operating rooms"),
                q.rooms_min,
                q.rooms_max,
                lambda low, high: self.apply(rooms_min=low, rooms_max=high),
            )
            f["health_min"], f["health_max"] = _range_inputs(
                _("Health score"),
                q.health_min,
                q.health_max,
                lambda low, high: self.apply(health_min=low, health_max=high),
                maximum=100,
            )
            f["health_min"].mark("filter-health-min")
            f["health_max"].mark("filter-health-max")
            f["compliance"] = ui.select(
                {c.value: _(COMPLIANCE_LABELS[c]) for c in ComplianceStatus},
                multiple=True,
                label=_("Compliance"),
                value=[c.value for c in q.compliance],
                on_change=lambda e: self.apply(compliance=tuple(ComplianceStatus(v) for v in e.value)),
            ).props("dense outlined use-chips")
            ui.button(_("Clear filters"), icon="filter_alt_off", on_click=self._reset_filters).props("flat")

    async def _reset_filters(self) -> None:
        empty: dict[str, Any] = {
            "types": [],
            "statuses": [],
            "region": None,
            "city": "",
            "assigned": "",
            "team": "",
            "tags": [],
            "specialties": [],
            "compliance": [],
            "archived": "active",
            "beds_min": None,
            "beds_max": None,
            "rooms_min": None,
            "rooms_max": None,
            "health_min": None,
            "health_max": None,
        }
        for name, value in empty.items():
            self.filters[name].set_value(value)
        await self.apply(
            **{
                f.name: f.default
                for f in dataclasses.fields(InstitutionQuery)
                if f.name not in {"q", "sort", "descending"}
            }
        )

    # ---- bulk actions

    def _bulk_bar(self) -> ui.label:
        """The actions on the selection, built on the first one (most visits select nothing), just above
        the table."""
        table = self.paged.table
        assert table.parent_slot is not None
        with table.parent_slot:
            self.bulk_bar = ui.row().classes("w-full items-center gap-2 q-py-xs")
        self.bulk_bar.move(target_index=table.parent_slot.children.index(table))
        with self.bulk_bar:
            selected_label = ui.label().classes("text-weight-medium")
            # Anyone may assign to themselves at least; the list of who else is read when the dialog opens.
            ui.button(_("Assign"), icon="person_add", on_click=self._assign_dialog).props("flat dense").mark(
                "bulk-assign"
            )
            ui.button(_("Add a tag"), icon="label", on_click=lambda: self._tag_dialog(add=True)).props(
                "flat dense"
            ).mark("bulk-add-tag")
            ui.button(_("Remove a tag"), icon="label_off", on_click=lambda: self._tag_dialog(add=False)).props(
                "flat dense"
            )
            ui.button(_("Archive"), icon="archive", on_click=self._bulk_archive).props("flat dense").mark(
                "bulk-archive"
            )
            ui.button(_("Create a task"), icon="add_task", on_click=lambda: self._bulk_work(BulkKind.TASK)).props(
                "flat dense"
            ).mark("bulk-task")
            ui.button(_("Invite to a meeting"), icon="event", on_click=lambda: self._bulk_work(BulkKind.MEETING)).props(
                "flat dense"
            ).mark("bulk-meeting")
            with ui.button(_("Export selection"), icon="download").props("flat dense"), ui.menu():
                ui.menu_item("CSV", on_click=lambda: self.export(ExportFormat.CSV, selection=True))
                ui.menu_item("Excel", on_click=lambda: self.export(ExportFormat.XLSX, selection=True))
        return selected_label

    def _on_select(self) -> None:
        selected = len(self.paged.table.selected)
        if selected and self.selected_label is None:
            self.selected_label = self._bulk_bar()
        if self.bulk_bar is not None:
            self.bulk_bar.set_visibility(selected > 0)
        if self.selected_label is not None:
            self.selected_label.text = ngettext("{count} selected", "{count} selected", selected, count=selected)

    def _selected_ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(row["id"]) for row in self.paged.table.selected]

    async def _after_bulk(self, message: str) -> None:
        ui.notify(message, type="positive")
        await self.paged.refresh()
        self._on_select()

    def _bulk_menu(self) -> None:
        ui.menu_item(_("Create a task"), on_click=lambda: self._bulk_work(BulkKind.TASK)).mark("bulk-work-task")
        ui.menu_item(_("Invite to a meeting"), on_click=lambda: self._bulk_work(BulkKind.MEETING)).mark(
            "bulk-work-meeting"
        )

    async def _bulk_work(self, kind: BulkKind) -> None:
        """A task or a meeting invitation for the selection or the whole filter (chosen in the dialog)."""

        async def done() -> None:
            await self.paged.refresh()

        await BulkWorkDialog(kind, self.query, self._selected_ids(), done).open()

    async def _assign_dialog(self) -> None:
        choices = await call(institutions.filter_choices)
        if choices is None:
            return

        async def assign(user: ui.select) -> int | None:
            if not user.value:
                user.error = _("This field is required.")
                return None
            return await call(institutions.bulk_assign, self._selected_ids(), uuid.UUID(user.value))

        self._bulk_dialog(
            _("Assign"),
            lambda: ui.select(_options(choices.assignable), label=_("User"), with_input=True),
            assign,
            lambda done: ngettext("{count} institution assigned.", "{count} institutions assigned.", done, count=done),
            marker="bulk-assign-user",
            apply_marker="bulk-assign-apply",
        )

    async def _bulk_archive(self) -> None:
        done = await call(institutions.bulk_archive, self._selected_ids())
        if done is not None:
            await self._after_bulk(
                ngettext("{count} institution archived.", "{count} institutions archived.", done, count=done)
            )

    async def _tag_dialog(self, *, add: bool) -> None:
        choices = await call(institutions.filter_choices)
        if choices is None:
            return

        async def label(tag: ui.select) -> int | None:
            return await call(
                institutions.bulk_label, self._selected_ids(), tag.value or "", add=add, fields={"tag": tag}
            )

        self._bulk_dialog(
            _("Add a tag") if add else _("Remove a tag"),
            lambda: ui.select(choices.tags, label=_("Tag"), with_input=True, new_value_mode="add-unique"),
            label,
            lambda done: ngettext("{count} institution changed.", "{count} institutions changed.", done, count=done),
            marker="bulk-tag",
            apply_marker="bulk-tag-apply",
        )

    def _bulk_dialog(
        self,
        title: str,
        field: Callable[[], ui.select],
        apply: Callable[[ui.select], Awaitable[int | None]],
        done_message: Callable[[int], str],
        *,
        marker: str,
        apply_marker: str,
    ) -> None:
        """A dialog with one choice, applied to the selection; `apply` returns how many changed, or None
        when it refused (its message shown)."""
        with ui.dialog() as dialog, ui.card():
            ui.label(title).classes("text-h6")
            choice = field().classes("w-64").mark(marker)

            async def confirm() -> None:
                done = await apply(choice)
                if done is not None:
                    dialog.close()
                    await self._after_bulk(done_message(done))

            with ui.row():
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Apply"), on_click=confirm).props("unelevated").mark(apply_marker)
        dialog.mark(f"{marker}-dialog").on("hide", dialog.delete)  # once its closing transition is over
        dialog.open()

    async def export(self, export_format: ExportFormat, *, selection: bool = False) -> None:
        query = dataclasses.replace(self.query, ids=tuple(self._selected_ids())) if selection else self.query
        content = await call(exports.export_institutions, query, export_format)
        if content is not None:
            ui.download.content(content, f"institutions.{export_format.value}")

    # ---- saved views

    async def _refresh_views(self) -> None:
        found = await call(views.list_views, VIEW_PAGE)
        if found is not None:
            self.saved = {str(v.id): v for v in found}
            self.views_select.set_options(
                {key: v.name + (" 👥" if v.is_shared else "") for key, v in self.saved.items()}
            )

    def _open_view(self, view_id: str | None) -> None:
        if view_id and view_id in self.saved:
            ui.navigate.to("/institutions?" + urlencode(self.saved[view_id].query, doseq=True))

    async def _delete_view(self) -> None:
        if self.views_select.value and await call(views.delete_view, uuid.UUID(self.views_select.value)):
            self.views_select.set_value(None)
            await self._refresh_views()

    def _save_dialog(self) -> ui.dialog:
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label(_("Save this view")).classes("text-h6")
            name = ui.input(_("Name")).classes("w-full").mark("view-name")
            shared = ui.checkbox(_("Share with my team")).mark("view-shared")

            async def save() -> None:
                saved = await call(
                    views.save_view,
                    page=VIEW_PAGE,
                    name=name.value or "",
                    query=self.query.to_params(),
                    shared=bool(shared.value),
                    fields={"name": name, "shared": shared},
                )
                if saved is not None:
                    dialog.close()
                    ui.notify(_("View saved."), type="positive")
                    await self._refresh_views()

            with ui.row():
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Save"), on_click=save).props("unelevated").mark("view-save")

        return dialog

    def _open_save_dialog(self) -> None:
        if self.save_dialog is None:  # built once, in the handler's place like the bulk dialogs
            self.save_dialog = self._save_dialog()
        self.save_dialog.open()


def _range_inputs(
    label: str, low: int | None, high: int | None, on_change: Any, *, maximum: int | None = None
) -> tuple[ui.number, ui.number]:
    bounds: dict[str, Any] = {"min": 0} if maximum is None else {"min": 0, "max": maximum}
    with ui.row().classes("items-center no-wrap gap-1"):
        lowest = (
            ui.number(f"{label} ≥", value=low, precision=0, **bounds)
            .props("dense outlined debounce=400")
            .classes("w-28")
        )
        highest = ui.number("≤", value=high, precision=0, **bounds).props("dense outlined debounce=400").classes("w-24")

    def changed() -> Any:
        as_int = [int(v) if v is not None else None for v in (lowest.value, highest.value)]
        return on_change(*as_int)

    lowest.on_value_change(changed)
    highest.on_value_change(changed)
    return lowest, highest
