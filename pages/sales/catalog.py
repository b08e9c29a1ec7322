"""/catalog: the products and services quotes and invoices pick their lines from. Everyone sees the
active items (search, category, sort, paged in SQL, filters in the URL); admins create, edit,
deactivate and restore them in a dialog that shows each field's message next to it."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components.backend import call, current_actor
from components.dialogs import disposable
from components.line_editor import (
    SUPPLY_KIND_LABELS,
    exemption_hint,
    exemption_options,
    is_zero_rate,
    number_text,
    rate_key,
    rate_label,
    unit_label,
)
from components.paged_table import MONEY, WRAP, PagedTable, TableState, page_request, rows_of
from components.pickers import as_uuid
from components.shell import app_page
from crm_app.platform.i18n import N_, format_currency, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import can
from crm_app.sales import catalog
from crm_app.sales.catalog import CatalogQuery, CatalogRow
from crm_app.sales.tax_codes import EXEMPTIONS, SupplyKind, default_supply_kind
from crm_app.sales.units import UNITS, unit_name

ACTIVE, INACTIVE, ALL = "1", "0", "all"


def query_params(query: CatalogQuery, page: int = 1) -> dict[str, str]:
    """The URL's parameters for `query` (the inverse of CatalogQuery.from_params); defaults left out."""
    params: dict[str, str] = {}
    if query.q:
        params["q"] = query.q
    if query.category:
        params["category"] = query.category
    if query.active is not True:
        params["active"] = ALL if query.active is None else INACTIVE
    if query.sort != "name" or query.descending:
        params["sort"] = ("-" if query.descending else "") + query.sort
    if page > 1:
        params["page"] = str(page)
    return params


def _columns(editable: bool) -> list[dict[str, Any]]:
    columns: list[dict[str, Any]] = [
        {"name": "reference", "label": _("Reference"), "field": "reference", "sortable": True, "align": "left"},
        {"name": "name", "label": _("Name"), "field": "name", "sortable": True, "align": "left", **WRAP},
        {"name": "category", "label": _("Category"), "field": "category", "sortable": True, "align": "left", **WRAP},
        {"name": "unit", "label": _("Unit"), "field": "unit", "align": "left"},
        {"name": "unit_price", "label": _("Unit price excl. VAT"), "field": "unit_price", "sortable": True, **MONEY},
        {"name": "vat", "label": _("VAT"), "field": "vat", "align": "right", **WRAP},
        {"name": "supply_kind", "label": _("Kind of supply"), "field": "supply_kind", "align": "left"},
    ]
    if editable:
        columns.append({"name": "state", "label": _("Status"), "field": "state", "align": "left"})
    return columns


def _row(row: CatalogRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "reference": row.reference,
        "name": row.name,
        "category": row.category or "",
        "description": row.description or "",
        "unit": unit_label(row.unit),
        "unit_price": format_currency(row.unit_price),
        "vat": rate_label(row.default_vat_rate),
        "exemption": _(EXEMPTIONS[row.vat_exemption].label) if row.vat_exemption and not row.default_vat_rate else "",
        "supply_kind": _(SUPPLY_KIND_LABELS[SupplyKind(row.supply_kind)]),
        "state": _("Active") if row.is_active else _("Inactive"),
        "is_active": row.is_active,
    }


@app_page("/catalog", title=N_("Catalog"), icon="inventory_2", in_navigation=True, order=45)
async def catalog_page(query: dict[str, list[str]]) -> None:
    screen = CatalogScreen(query)
    found = await asyncio.gather(call(catalog.categories), call(catalog.vat_rates))
    categories, rates = found
    if categories is None or rates is None:
        return
    screen.build(categories, rates)
    await screen.table.refresh()


class CatalogScreen:
    def __init__(self, params: dict[str, list[str]]) -> None:
        self.actor = current_actor()
        self.editable = can(self.actor, "catalog.edit")
        self.query = CatalogQuery.from_params(params)
        if not self.editable:
            self.query = dataclasses.replace(self.query, active=True)
        first = (params.get("page") or [""])[0]
        self._loads = 0
        self.state = TableState(
            page=int(first) if first.isdigit() else 1, sort=self.query.sort, descending=self.query.descending
        )
        self.rows: dict[uuid.UUID, CatalogRow] = {}
        self.rates: tuple[Decimal, ...] = ()
        self.categories: list[str] = []

    def build(self, categories: list[str], rates: tuple[Decimal, ...]) -> None:
        self.categories, self.rates = categories, rates
        with ui.column().classes("w-full gap-2") as self.root:
            self._build(categories)

    def _build(self, categories: list[str]) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Catalog")).classes("text-h5")
            self.count = ui.label().classes("text-grey-7").mark("catalog-count")
            ui.space()
            if self.editable:
                ui.button(_("New item"), icon="add", on_click=lambda: self.open_dialog(None)).props("unelevated").mark(
                    "new-item"
                )
        with ui.row().classes("w-full items-center gap-2"):
            ui.input(_("Search"), value=self.query.q, on_change=lambda e: self.apply(q=(e.value or "").strip())).props(
                "dense outlined clearable debounce=300"
            ).classes("w-64").mark("search")
            options = {"": _("All categories"), **{c: c for c in categories}}
            if self.query.category and self.query.category not in options:
                options[self.query.category] = self.query.category
            ui.select(
                options,
                label=_("Category"),
                value=self.query.category or "",
                on_change=lambda e: self.apply(category=e.value or None),
            ).props("dense outlined").classes("w-56").mark("filter-category")
            if self.editable:
                active = ALL if self.query.active is None else ACTIVE if self.query.active else INACTIVE
                ui.select(
                    {ACTIVE: _("Active items"), INACTIVE: _("Inactive items"), ALL: _("All items")},
                    label=_("Status"),
                    value=active,
                    on_change=lambda e: self.apply(active={ACTIVE: True, INACTIVE: False}.get(e.value)),
                ).props("dense outlined").classes("w-48").mark("filter-active")
        self.table = PagedTable(_columns(self.editable), self._load, state=self.state, list_key="catalog")
        table = self.table.table
        table.add_slot(
            "body-cell-name",
            r"""
            <q-td :props="props">
              <div class="text-weight-medium">
                <a v-if="props.row.can_edit" href="#" class="text-primary"
                   @click.prevent="() => $parent.$emit('edit', props.row.id)">{{ props.value }}</a>
                <span v-else>{{ props.value }}</span>
              </div>
              <div class="text-caption text-grey-7 opex-clamp" :title="props.row.description"
              >{{ props.row.description }}</div>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-vat",
            r"""
            <q-td :props="props">
              <div>{{ props.value }}</div>
              <div v-if="props.row.exemption" class="text-caption text-grey-7">{{ props.row.exemption }}</div>
            </q-td>""",
        )
        table.add_slot(
            "body-cell-state",
            r"""
            <q-td :props="props">
              <q-badge :color="props.row.is_active ? 'positive' : 'grey'">{{ props.value }}</q-badge>
            </q-td>""",
        )
        table.on("edit", lambda e: self.open_dialog(as_uuid(e.args)))
        table.mark("catalog-table")

    async def apply(self, **changes: Any) -> None:
        self.query = dataclasses.replace(self.query, **changes)
        await self.table.refresh(first_page=True)

    async def _load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        sort = state.sort if state.sort in catalog.SORTABLE else "name"
        self.query = dataclasses.replace(self.query, sort=sort, descending=state.descending)
        params = query_params(self.query, state.page)
        ui.navigate.history.replace("/catalog" + (f"?{urlencode(params)}" if params else ""))
        self._loads += 1
        ticket = self._loads
        page = await call(catalog.list_items, self.query, page_request(state))
        if page is None or ticket != self._loads:  # a newer load (another filter changed) wins
            return None
        self.rows = {row.id: row for row in page.items}
        self.count.text = ngettext("{count} item", "{count} items", page.total, count=page.total)
        return rows_of(page, lambda row: {**_row(row), "can_edit": self.editable})

    def open_dialog(self, item_id: uuid.UUID | None) -> None:
        row = self.rows.get(item_id) if item_id is not None else None
        if item_id is not None and row is None:
            return
        with self.root:
            item_dialog(row, rates=self.rates, categories=self.categories, on_saved=self.refresh)

    async def refresh(self) -> None:
        with self.root:  # the dialog that asked for it is gone
            await self.table.refresh()


def item_dialog(row: CatalogRow | None, *, rates: tuple[Decimal, ...], categories: list[str], on_saved: Any) -> None:
    """Create (`row` None) or edit an item; the service's messages appear next to the fields."""
    rate_options = {rate_key(rate): rate_label(rate) for rate in rates}
    if row is not None and rate_key(row.default_vat_rate) not in rate_options:
        rate_options[rate_key(row.default_vat_rate)] = rate_label(row.default_vat_rate)
    default_rate = rate_key(row.default_vat_rate) if row else (next(iter(rate_options), None))
    with disposable(ui.dialog()) as dialog, ui.card().classes("w-[36rem] max-w-full").mark("item-dialog"):
        ui.label(_("New catalog item") if row is None else _("Edit catalog item")).classes("text-h6")
        with ui.grid().classes("w-full gap-2 opex-form-grid"):
            reference = (
                ui.input(_("Reference"), value=row.reference if row else "")
                .props("outlined dense maxlength=60")
                .mark("item-reference")
            )
            category = (
                ui.input(_("Category"), value=(row.category or "") if row else "", autocomplete=categories)
                .props("outlined dense maxlength=100")
                .mark("item-category")
            )
        name = (
            ui.input(_("Name"), value=row.name if row else "")
            .props("outlined dense maxlength=200")
            .classes("w-full")
            .mark("item-name")
        )
        description = (
            ui.textarea(_("Description"), value=(row.description or "") if row else "")
            .props("outlined dense autogrow")
            .classes("w-full")
            .mark("item-description")
        )
        with ui.grid().classes("w-full gap-2 opex-form-grid-small"):
            unit = (
                ui.select(
                    {key: unit_name(key) for key in UNITS},
                    label=_("Unit"),
                    value=row.unit if row else "unit",
                )
                .props("outlined dense")
                .mark("item-unit")
            )
            price = (
                ui.input(_("Unit price excl. VAT"), value=number_text(row.unit_price, places=2) if row else "")
                .props("outlined dense inputmode=decimal suffix=€")
                .mark("item-unit_price")
            )
            vat = (
                ui.select(rate_options, label=_("VAT rate"), value=default_rate)
                .props("outlined dense")
                .mark("item-default_vat_rate")
            )
        supply_kind, exemption = _tax_inputs(row, vat=vat, unit=unit)
        active = ui.switch(_("Active (offered on new quotes and invoices)"), value=row.is_active if row else True).mark(
            "item-active"
        )
        fields = {
            "reference": reference,
            "name": name,
            "description": description,
            "category": category,
            "unit": unit,
            "unit_price": price,
            "default_vat_rate": vat,
            "vat_exemption": exemption,
            "supply_kind": supply_kind,
            "is_active": active,
        }

        async def save() -> None:
            values = {
                "reference": reference.value or "",
                "name": name.value or "",
                "description": description.value or "",
                "category": category.value or "",
                "unit": unit.value,
                "unit_price": price.value or "",
                "default_vat_rate": vat.value or "",
                "vat_exemption": (exemption.value or None) if is_zero_rate(vat.value) else None,
                "supply_kind": supply_kind.value,
                "is_active": bool(active.value),
            }
            save_button.disable()
            try:
                if row is None:
                    saved = await call(catalog.create_item, values, fields=fields)
                else:
                    saved = await call(catalog.update_item, row.id, values, expected_version=row.version, fields=fields)
            finally:
                save_button.enable()
            if saved is None:
                return
            dialog.close()
            ui.notify(_("Catalog item saved."), type="positive")
            await on_saved()

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat")
            save_button = ui.button(_("Save"), on_click=save).props("unelevated").mark("item-save")
    dialog.open()


def _tax_inputs(row: CatalogRow | None, *, vat: ui.select, unit: ui.select) -> tuple[ui.select, ui.select]:
    """An item's kind of supply (a new item's follows its unit until chosen) and, at 0 %, its default VAT
    exemption, which lines picking the item copy."""
    with ui.grid().classes("w-full gap-2 opex-form-grid"):
        supply_kind = (
            ui.select(
                {kind.value: _(label) for kind, label in SUPPLY_KIND_LABELS.items()},
                label=_("Kind of supply"),
                value=SupplyKind(row.supply_kind).value if row else default_supply_kind("unit").value,
            )
            .props("outlined dense")
            .mark("item-supply_kind")
        )
        exemption = (
            ui.select(
                exemption_options(),
                label=_("VAT exemption reason (default)"),
                value=row.vat_exemption.value if row and row.vat_exemption else None,
                clearable=True,
            )
            .props("outlined dense bottom-slots")
            .classes("opex-span-all")
            .mark("item-vat_exemption")
        )

    def show_exemption() -> None:
        """Asked of a 0 % item only; its hint is the legal mention its lines print."""
        exemption.set_visibility(is_zero_rate(vat.value))
        exemption.props["hint"] = exemption_hint(exemption.value)

    # A new item's kind of supply follows its unit (days and hours: services) until chosen.
    follow = {"unit": row is None, "setting": False}

    def unit_changed() -> None:
        if follow["unit"]:
            follow["setting"] = True
            supply_kind.set_value(default_supply_kind(unit.value or "unit").value)
            follow["setting"] = False

    def kind_changed() -> None:
        if not follow["setting"]:
            follow["unit"] = False

    vat.on_value_change(lambda _e: show_exemption())
    exemption.on_value_change(lambda _e: show_exemption())
    unit.on_value_change(lambda _e: unit_changed())
    supply_kind.on_value_change(lambda _e: kind_changed())
    show_exemption()
    return supply_kind, exemption
