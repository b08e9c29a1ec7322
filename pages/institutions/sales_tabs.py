"""The institution page's Opportunities, Quotes and Invoices tabs: that institution's sales and
documents, paged in SQL, with the totals of the whole list and a button for a new one already made
out to the institution."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.institution_tabs import institution_tab
from components.opportunity_dialog import STAGE_COLORS, may_see, money_text, open_opportunity_dialog, stage_name
from components.paged_table import MONEY, WRAP, PagedTable, TableState, page_request
from crm_app.institutions.service import InstitutionDetail
from crm_app.platform.events import InvoiceChanged, OpportunityChanged, QuoteChanged
from crm_app.platform.i18n import N_, format_currency, format_date, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.sales import invoices, opportunities, quotes
from crm_app.sales.invoices import InvoiceQuery
from crm_app.sales.models.quotes import QuoteStatus
from crm_app.sales.opportunities import OpportunityFilter, OpportunityRow
from crm_app.sales.quotes import QUOTE_STATUS_LABELS, QuoteQuery, QuoteRow
from pages.sales.invoices import SORT_COLUMNS, invoice_columns, invoice_row, invoice_table_slots, list_totals

QUOTE_COLORS: dict[QuoteStatus, str] = {
    QuoteStatus.DRAFT: "grey-6",
    QuoteStatus.SENT: "primary",
    QuoteStatus.ACCEPTED: "positive",
    QuoteStatus.REJECTED: "negative",
    QuoteStatus.EXPIRED: "orange-8",
    QuoteStatus.CANCELLED: "grey-8",
    QuoteStatus.ORDERED: "teal",
}
QUOTE_SORTS = {
    "number": "number",
    "status": "status",
    "issue_date": "issue_date",
    "valid_until": "valid_until",
    "total": "amount",
}


def _quote_columns() -> list[dict[str, Any]]:
    return [
        {"name": "number", "label": _("Number"), "field": "number", "sortable": True, "align": "left"},
        {"name": "title", "label": _("Title"), "field": "title", "align": "left", **WRAP},
        {"name": "status", "label": _("Status"), "field": "status", "sortable": True, "align": "left"},
        {"name": "owner", "label": _("Salesperson"), "field": "owner", "align": "left"},
        {"name": "issue_date", "label": _("Date"), "field": "issue_date", "sortable": True, "align": "left"},
        {"name": "valid_until", "label": _("Valid until"), "field": "valid_until", "sortable": True, "align": "left"},
        {"name": "total", "label": _("Total incl. VAT"), "field": "total", "sortable": True, **MONEY},
    ]


def _quote_row(row: QuoteRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "number": row.number,
        "title": row.title or "",
        "status": _(QUOTE_STATUS_LABELS[row.status]),
        "status_color": QUOTE_COLORS[row.status],
        "owner": row.owner_name,
        "issue_date": format_date(row.issue_date),
        "valid_until": format_date(row.valid_until),
        "total": format_currency(row.total_incl_vat),
    }


def _sum(label: str, value: str, marker: str) -> None:
    with ui.card().props("flat bordered").classes("q-pa-sm min-w-40 gap-0"):
        ui.label(label).classes("text-caption text-grey-7")
        ui.label(value).classes("text-subtitle1 text-weight-medium").mark(marker)


OPPORTUNITY_SORTS = {
    "name": "name",
    "stage": "stage",
    "amount": "amount",
    "close": "expected_close_date",
}


def _opportunity_columns() -> list[dict[str, Any]]:
    return [
        {"name": "name", "label": _("Opportunity"), "field": "name", "sortable": True, "align": "left", **WRAP},
        {"name": "stage", "label": _("Stage"), "field": "stage", "sortable": True, "align": "left"},
        {"name": "owner", "label": _("Owner"), "field": "owner", "align": "left"},
        {"name": "close", "label": _("Expected close"), "field": "close", "sortable": True, "align": "left"},
        {"name": "probability", "label": _("Probability"), "field": "probability", **MONEY},
        {"name": "amount", "label": _("Amount excl. VAT"), "field": "amount", "sortable": True, **MONEY},
    ]


def _opportunity_row(row: OpportunityRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "stage": stage_name(row.stage),
        "stage_color": STAGE_COLORS[row.stage],
        "owner": row.owner_name,
        "close": format_date(row.expected_close_date),
        "probability": f"{row.probability} %",
        "amount": money_text(row.amount),
    }


@institution_tab("opportunities", label=N_("Opportunities"), icon="trending_up", order=32)
async def opportunities_tab(detail: InstitutionDetail) -> None:
    institution_id, institution_name = detail.institution.id, detail.institution.name
    with ui.row().classes("w-full items-center gap-3"):
        count = ui.label().classes("text-grey-7").mark("institution-opportunity-count")
        sums = ui.row().classes("gap-3")
        ui.space()
        ui.link(_("See them on the board"), f"/opportunities?institution={institution_id}").classes(
            "text-primary"
        ).mark("institution-opportunities-board")
        new = ui.button(_("New opportunity"), icon="add").props("unelevated").mark("new-opportunity")

    async def load(state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        query = OpportunityFilter(
            institution_id=institution_id,
            sort=OPPORTUNITY_SORTS.get(state.sort or "", "expected_close_date"),
            descending=state.descending,
        )
        with sums:
            page = await call(opportunities.list_opportunities, query, page_request(state))
        if page is None or sums.is_deleted:
            return None
        count.text = ngettext("{count} opportunity", "{count} opportunities", page.total, count=page.total)
        sums.clear()
        with sums:
            _sum(_("Total excl. VAT"), money_text(page.sum_amount), "institution-opportunities-sum")
            _sum(_("Weighted"), money_text(page.sum_weighted), "institution-opportunities-weighted")
        return [_opportunity_row(row) for row in page.items], page.total

    table = PagedTable(_opportunity_columns(), load, state=TableState(page_size=25))
    table.table.add_slot(
        "body-cell-name",
        r"""
        <q-td :props="props">
          <a :href="'/opportunities/' + props.row.id" class="text-primary text-weight-medium"
             @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
        </q-td>""",
    )
    table.table.add_slot(
        "body-cell-stage",
        r"""
        <q-td :props="props"><q-badge :color="props.row.stage_color">{{ props.value }}</q-badge></q-td>""",
    )
    table.table.on("open", lambda e: ui.navigate.to(f"/opportunities/{e.args}"))
    table.table.mark("institution-opportunities-table")
    home = ui.context.slot.parent

    async def create() -> None:
        with home:
            await open_opportunity_dialog(
                institution=(institution_id, institution_name), on_saved=lambda _id: table.refresh()
            )

    new.on_click(create)
    await table.refresh()
    actor = current_actor()
    live.follow(
        lambda event: (
            isinstance(event, OpportunityChanged) and event.institution_id == institution_id and may_see(actor, event)
        ),
        table.refresh,
        owner=sums,
    )


@institution_tab("quotes", label=N_("Quotes"), icon="request_quote", order=34)
async def quotes_tab(detail: InstitutionDetail) -> None:
    institution_id = detail.institution.id
    with ui.row().classes("w-full items-center gap-3"):
        count = ui.label().classes("text-grey-7").mark("institution-quote-count")
        sums = ui.row().classes("gap-3")
        ui.space()
        ui.button(
            _("New quote"), icon="add", on_click=lambda: ui.navigate.to(f"/quotes/new?institution_id={institution_id}")
        ).props("unelevated").mark("new-quote")

    async def load(state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        sort = QUOTE_SORTS.get(state.sort or "", "issue_date")
        query = QuoteQuery(
            institution_id=institution_id, sort=sort, descending=state.descending if state.sort else True
        )
        with sums:
            page = await call(quotes.list_quotes, query, page_request(state))
        if page is None or sums.is_deleted:
            return None
        count.text = ngettext("{count} quote", "{count} quotes", page.total, count=page.total)
        sums.clear()
        with sums:
            _sum(_("Total excl. VAT"), format_currency(page.sum_excl_vat), "institution-quotes-sum-excl")
            _sum(_("Total incl. VAT"), format_currency(page.sum_incl_vat), "institution-quotes-sum-incl")
        return [_quote_row(row) for row in page.items], page.total

    table = PagedTable(_quote_columns(), load, state=TableState(page_size=25))
    table.table.add_slot(
        "body-cell-number",
        r"""
        <q-td :props="props">
          <a :href="'/quotes/' + props.row.id" class="text-primary text-weight-medium"
             @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
        </q-td>""",
    )
    table.table.add_slot(
        "body-cell-status",
        r"""
        <q-td :props="props"><q-badge :color="props.row.status_color">{{ props.value }}</q-badge></q-td>""",
    )
    table.table.on("open", lambda e: ui.navigate.to(f"/quotes/{e.args}"))
    table.table.mark("institution-quotes-table")
    await table.refresh()
    actor = current_actor()
    live.follow(
        lambda event: (
            isinstance(event, QuoteChanged) and live.may_see_document(actor, event, institution_id=institution_id)
        ),
        table.refresh,
        owner=sums,
    )


@institution_tab("invoices", label=N_("Invoices"), icon="receipt_long", order=36)
async def invoices_tab(detail: InstitutionDetail) -> None:
    institution_id = detail.institution.id
    with ui.row().classes("w-full items-center gap-3"):
        count = ui.label().classes("text-grey-7").mark("institution-invoice-count")
        sums = ui.row().classes("gap-3").mark("institution-invoice-totals")
        ui.space()
        ui.button(
            _("New invoice"),
            icon="add",
            on_click=lambda: ui.navigate.to(f"/invoices/new?institution_id={institution_id}"),
        ).props("unelevated").mark("new-invoice")

    async def load(state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        sort = SORT_COLUMNS.get(state.sort or "", "created")
        query = InvoiceQuery(
            institution_id=institution_id, sort=sort, descending=state.descending if state.sort else True
        )
        with sums:
            result = await call(invoices.list_invoices, query, page_request(state))
        if result is None or sums.is_deleted:
            return None
        count.text = ngettext("{count} document", "{count} documents", result.total, count=result.total)
        list_totals(result, sums)
        return [invoice_row(row) for row in result.items], result.total

    columns = [c for c in invoice_columns() if c["name"] != "institution"]
    table = PagedTable(columns, load, state=TableState(page_size=25))
    invoice_table_slots(table.table)
    table.table.mark("institution-invoices-table")
    await table.refresh()
    actor = current_actor()
    live.follow(
        lambda event: (
            isinstance(event, InvoiceChanged) and live.may_see_document(actor, event, institution_id=institution_id)
        ),
        table.refresh,
        owner=sums,
    )
