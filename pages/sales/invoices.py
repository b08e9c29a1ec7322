"""/invoices: invoices and credit notes, paged and filtered in SQL (status, kind, institution, owner,
issue and due dates, overdue only) with the filters in the URL and the totals of the filtered list
(total, outstanding, overdue). /invoices/new and /invoices/{id}/edit: a draft from scratch with the
line editor. The detail page is in `pages.sales.invoice_detail`."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.einvoice_refusal import take_refused_lines
from components.filter_chips import Chip, FilterChips, range_text, team_text
from components.line_editor import LineEditor
from components.paged_table import MONEY, WRAP, PagedTable, TableState, page_request
from components.pickers import active_users, as_day, as_uuid, contact_picker, institution_picker
from components.shell import app_page, not_allowed, not_found, set_title
from crm_app.institutions import service as institutions
from crm_app.platform.errors import Forbidden, NotFound
from crm_app.platform.events import Event, InvoiceChanged
from crm_app.platform.i18n import N_, format_currency, format_date, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.params import Params
from crm_app.sales import chorus, einvoicing, invoices
from crm_app.sales.document_settings import DocumentSettings, document_settings
from crm_app.sales.invoices import KIND_LABELS, STATUS_LABELS, InvoiceList, InvoiceQuery, InvoiceRow, status_label
from crm_app.sales.models.invoices import InvoiceKind, InvoiceStatus

STATUS_COLORS: dict[InvoiceStatus, str] = {
    InvoiceStatus.DRAFT: "grey-6",
    InvoiceStatus.ISSUED: "primary",
    InvoiceStatus.PARTIALLY_PAID: "orange-8",
    InvoiceStatus.PAID: "positive",
    InvoiceStatus.OVERDUE: "negative",
    InvoiceStatus.CANCELLED: "grey-8",
}
#: table column → the service's sort name
SORT_COLUMNS = {
    "number": "number",
    "status": "status",
    "institution": "institution",
    "issue_date": "issued",
    "due_date": "due",
    "total": "amount",
    "remaining": "remaining",
}
COLUMN_OF_SORT = {sort: column for column, sort in SORT_COLUMNS.items()}
DEFAULT_SORT = "created"
ALL_KINDS = ""


# ---- formatting shared by the invoice screens and the institution tabs


def document_name(row: InvoiceRow) -> str:
    """How a link names the document: its number, or before it is issued (a draft has none) its kind,
    which the status badge beside it completes ("Facture [Brouillon]", not "Brouillon [Brouillon]")."""
    return row.number or _(KIND_LABELS[row.kind])


def status_badge(kind: InvoiceKind, status: InvoiceStatus) -> ui.badge:
    return ui.badge(_(status_label(kind, status)), color=STATUS_COLORS[status])


def invoice_columns() -> list[dict[str, Any]]:
    return [
        {"name": "number", "label": _("Number"), "field": "number", "sortable": True, "align": "left"},
        {"name": "kind", "label": _("Kind"), "field": "kind", "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status", "sortable": True, "align": "left"},
        {
            "name": "institution",
            "label": _("Institution"),
            "field": "institution",
            "sortable": True,
            "align": "left",
            **WRAP,
        },
        {"name": "owner", "label": _("Salesperson"), "field": "owner", "align": "left"},
        {"name": "issue_date", "label": _("Issued on"), "field": "issue_date", "sortable": True, "align": "left"},
        {"name": "due_date", "label": _("Due on"), "field": "due_date", "sortable": True, "align": "left"},
        {"name": "total", "label": _("Total incl. VAT"), "field": "total", "sortable": True, **MONEY},
        {"name": "remaining", "label": _("Remaining"), "field": "remaining", "sortable": True, **MONEY},
    ]


def invoice_row(row: InvoiceRow) -> dict[str, Any]:
    credit = row.kind is InvoiceKind.CREDIT_NOTE
    return {
        "id": str(row.id),
        "number": row.number or "",  # a draft has no number yet: its status says so
        "draft": row.number is None,
        "kind": _(KIND_LABELS[row.kind]),
        "status": _(status_label(row.kind, row.status)),
        "status_color": STATUS_COLORS[row.status],
        "institution": row.institution_name,
        "institution_id": str(row.institution_id),
        "owner": row.owner_name,
        "issue_date": format_date(row.issue_date),
        "due_date": format_date(row.due_date),
        "overdue": row.is_overdue,
        "total": format_currency(-row.total_incl_vat if credit else row.total_incl_vat),
        "remaining": format_currency(row.remaining) if not credit else "",
    }


def invoice_table_slots(table: ui.table) -> None:
    """Links to the invoice and its institution, the status as a badge, overdue due dates in red."""
    table.add_slot(
        "body-cell-number",
        r"""
        <q-td :props="props">
          <a :href="'/invoices/' + props.row.id" class="text-primary text-weight-medium"
             :class="props.row.draft ? 'text-italic' : ''"
             @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
        </q-td>""",
    )
    table.add_slot(
        "body-cell-status",
        r"""
        <q-td :props="props"><q-badge :color="props.row.status_color">{{ props.value }}</q-badge></q-td>""",
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
        "body-cell-due_date",
        r"""
        <q-td :props="props" :class="props.row.overdue ? 'text-negative text-weight-medium' : ''">
          {{ props.value }}
        </q-td>""",
    )
    table.on("open", lambda e: ui.navigate.to(f"/invoices/{e.args}"))
    table.on("institution", lambda e: ui.navigate.to(f"/institutions/{e.args}"))


def list_totals(result: InvoiceList, box: ui.element) -> None:
    """The totals of the whole filtered list: total, outstanding and overdue."""
    box.clear()
    with box:
        for label, value, marker, color in (
            (_("Total"), result.totals.total_incl_vat, "invoices-sum-total", ""),
            (_("Outstanding"), result.totals.outstanding, "invoices-sum-outstanding", ""),
            (
                _("Overdue"),
                result.totals.overdue,
                "invoices-sum-overdue",
                "text-negative" if result.totals.overdue else "",
            ),
        ):
            with ui.card().props("flat bordered").classes("q-pa-sm min-w-40 gap-0"):
                ui.label(label).classes("text-caption text-grey-7")
                ui.label(format_currency(value)).classes(f"text-subtitle1 text-weight-medium {color}").mark(marker)


# ---- the list and its URL


def query_params(query: InvoiceQuery, *, page: int = 1) -> dict[str, str]:
    """The URL's parameters for `query` (the inverse of `InvoiceQuery.from_params`); defaults left out."""
    params: dict[str, str] = {}
    if query.q:
        params["q"] = query.q
    if query.statuses:
        params["status"] = ",".join(s.value for s in query.statuses)
    if query.kind is not None:
        params["kind"] = query.kind.value
    for name in ("institution_id", "owner_id", "team_id", "quote_id"):
        value = getattr(query, name)
        if value is not None:
            params[name] = str(value)
    for name in ("issued_from", "issued_to", "due_from", "due_to", "paid_from", "paid_to"):
        value = getattr(query, name)
        if value is not None:
            params[name] = value.isoformat()
    for name in ("min_amount", "max_amount"):
        value = getattr(query, name)
        if value is not None:
            params[name] = format(value, "f")
    params.update({name: "1" for name in ("overdue", "outstanding", "public_buyers") if getattr(query, name)})
    if query.sort != DEFAULT_SORT or not query.descending:
        params["sort"] = ("-" if query.descending else "") + query.sort
    if page > 1:
        params["page"] = str(page)
    return params


async def _nothing() -> None:
    return None


@app_page("/invoices", title=N_("Invoices"), icon="receipt_long", in_navigation=True, order=42)
async def invoices_page(query: dict[str, list[str]]) -> None:
    screen = InvoiceScreen(query)
    wanted = screen.query.institution_id
    people, detail = await asyncio.gather(
        active_users(), call(institutions.get_detail, wanted) if wanted else _nothing()
    )
    if wanted is not None and detail is None:
        screen.query = dataclasses.replace(screen.query, institution_id=None)  # unknown: the filter goes
    screen.build(people or {}, detail.institution.name if detail else None)
    await screen.paged.refresh()
    live.follow(screen.concerns, screen.paged.refresh, owner=screen.root)  # others' changes, as they are saved


class InvoiceScreen:
    """The list: its query mirrors the URL; any change reloads page one from SQL with the totals."""

    def __init__(self, params: Mapping[str, Sequence[str]]) -> None:
        self.query = InvoiceQuery.from_params(params)
        first_page = Params(params).number("page") or 1
        self.state = TableState(
            page=first_page, sort=COLUMN_OF_SORT.get(self.query.sort), descending=self.query.descending
        )
        self._resetting = False
        self.actor = current_actor()
        self.shown: set[uuid.UUID] = set()  # the documents on screen: the live filter's cheap test

    def build(self, people: dict[str, str], institution_name: str | None) -> None:
        with ui.column().classes("w-full gap-2") as self.root:
            with ui.row().classes("w-full items-center gap-4"):
                ui.label(_("Invoices")).classes("text-h5")
                self.count = ui.label().classes("text-grey-7").mark("invoice-count")
                ui.space()
                ui.button(_("New invoice"), icon="add", on_click=lambda: ui.navigate.to("/invoices/new")).props(
                    "unelevated"
                ).mark("new-invoice")
            self._filters(people, institution_name)
            self.chips = FilterChips()
            self.totals_box = ui.row().classes("gap-3").mark("invoice-totals")
            self.bulk_bar = ui.row().classes("w-full items-center gap-2 q-py-xs").mark("invoice-bulk-bar")
            with self.bulk_bar:
                self.selected_label = ui.label().classes("text-weight-medium")
                ui.button(
                    _("Download e-invoices (zip)"), icon="folder_zip", on_click=lambda: self.download_einvoices(True)
                ).props("flat dense no-caps").mark("bulk-einvoices")
            self.bulk_bar.set_visibility(False)
            self.paged = PagedTable(
                invoice_columns(), self._load, selection="multiple", state=self.state, list_key="invoices"
            )
            invoice_table_slots(self.paged.table)
            self.paged.table.on_select(lambda _event: self._on_select())
            self.paged.table.mark("invoices-table")

    def _filters(self, people: dict[str, str], institution_name: str | None) -> None:
        q = self.query
        owner = str(q.owner_id) if q.owner_id else None
        if owner is not None and owner not in people:
            people = {**people, owner: _("Another user")}
        with ui.row().classes("w-full items-center gap-2"):
            self.search = (
                ui.input(_("Search"), value=q.q, on_change=lambda e: self.changed(q=(e.value or "").strip()))
                .props("dense outlined clearable debounce=300")
                .classes("w-56")
                .mark("filter-q")
            )
            self.statuses = (
                ui.select(
                    {s.value: _(STATUS_LABELS[s]) for s in InvoiceStatus},
                    multiple=True,
                    label=_("Status"),
                    value=[s.value for s in q.statuses],
                    on_change=lambda e: self.changed(statuses=tuple(InvoiceStatus(v) for v in e.value or [])),
                )
                .props("dense outlined use-chips")
                .classes("w-56")
                .mark("filter-status")
            )
            self.kind = (
                ui.select(
                    {ALL_KINDS: _("Invoices and credit notes"), **{k.value: _(KIND_LABELS[k]) for k in InvoiceKind}},
                    label=_("Kind"),
                    value=q.kind.value if q.kind else ALL_KINDS,
                    on_change=lambda e: self.changed(kind=InvoiceKind(e.value) if e.value else None),
                )
                .props("dense outlined")
                .classes("w-52")
                .mark("filter-kind")
            )
            self.institution = (
                institution_picker(
                    value=q.institution_id,
                    value_label=institution_name,
                    on_change=lambda e: self.changed(institution_id=as_uuid(e.value)),
                )
                .props("dense outlined")
                .classes("w-64")
                .mark("filter-institution")
            )
            self.owner = (
                ui.select(
                    people,
                    label=_("Salesperson"),
                    value=owner,
                    with_input=True,
                    clearable=True,
                    on_change=lambda e: self.changed(owner_id=as_uuid(e.value)),
                )
                .props("dense outlined")
                .classes("w-48")
                .mark("filter-owner")
            )
        with ui.row().classes("w-full items-center gap-2"):
            self.dates: dict[str, ui.input] = {}
            for name, label in (
                ("issued_from", _("Issued from")),
                ("issued_to", _("Issued until")),
                ("due_from", _("Due from")),
                ("due_to", _("Due until")),
            ):
                value = getattr(q, name)
                self.dates[name] = (
                    ui.input(
                        label,
                        value=value.isoformat() if value else "",
                        on_change=lambda e, n=name: self.changed(**{n: as_day(e.value)}),
                    )
                    .props("dense outlined type=date stack-label clearable")
                    .classes("w-40")
                    .mark(f"filter-{name}")
                )
            self.overdue = ui.checkbox(
                _("Overdue only"), value=q.overdue, on_change=lambda e: self.changed(overdue=bool(e.value))
            ).mark("filter-overdue")
            self.public_buyers = ui.checkbox(
                _("Public buyers (Chorus Pro)"),
                value=q.public_buyers,
                on_change=lambda e: self.changed(public_buyers=bool(e.value)),
            ).mark("filter-public-buyers")
            ui.space()
            ui.button(
                _("E-invoices of the filter (zip)"), icon="folder_zip", on_click=lambda: self.download_einvoices(False)
            ).props("flat no-caps").mark("filter-einvoices")
            ui.button(_("Clear filters"), icon="filter_alt_off", on_click=self.clear_filters).props("flat").mark(
                "clear-filters"
            )

    def changed(self, **changes: Any) -> Coroutine[Any, Any, None] | None:
        return None if self._resetting else self.apply(**changes)

    async def apply(self, **changes: Any) -> None:
        self.query = dataclasses.replace(self.query, **changes)
        with self.root:
            await self.paged.refresh(first_page=True)

    def concerns(self, event: Event) -> bool:
        """Cheap, on the event loop for every committed event: could this change what is shown?"""
        if not isinstance(event, InvoiceChanged):
            return False
        if event.invoice_id in self.shown:
            return True
        if self.query.owner_id is not None and event.owner_id != self.query.owner_id:
            return False
        return live.may_see_document(self.actor, event, institution_id=self.query.institution_id)

    def _chips(self) -> list[Chip]:
        """The filters the bar has no field for (set by the dashboard's links)."""
        q = self.query
        chips: list[Chip] = []
        if q.outstanding:
            chips.append((_("Still to be paid"), lambda: self.apply(outstanding=False)))
        if text := range_text(_("Paid"), q.paid_from, q.paid_to):
            chips.append((text, lambda: self.apply(paid_from=None, paid_to=None)))
        if q.team_id is not None:
            chips.append((team_text(self.actor, q.team_id), lambda: self.apply(team_id=None)))
        return chips

    async def clear_filters(self) -> None:
        self._resetting = True
        try:
            self.search.set_value("")
            self.statuses.set_value([])
            self.kind.set_value(ALL_KINDS)
            self.institution.set_value(None)
            self.owner.set_value(None)
            for element in self.dates.values():
                element.set_value("")
            self.overdue.set_value(False)
            self.public_buyers.set_value(False)
        finally:
            self._resetting = False
        await self.apply(
            q="",
            statuses=(),
            kind=None,
            institution_id=None,
            owner_id=None,
            issued_from=None,
            issued_to=None,
            due_from=None,
            due_to=None,
            overdue=False,
            outstanding=False,
            paid_from=None,
            paid_to=None,
            team_id=None,
            public_buyers=False,
        )

    # ---- e-invoices

    def _on_select(self) -> None:
        selected = len(self.paged.table.selected)
        self.bulk_bar.set_visibility(selected > 0)
        self.selected_label.text = ngettext("{count} selected", "{count} selected", selected, count=selected)

    async def download_einvoices(self, selection: bool) -> None:
        """The stored files of the issued documents of the selection (or of the whole filter) in one zip,
        for deposit on Chorus Pro or a certified platform; drafts are left out and said so."""
        ids = [uuid.UUID(row["id"]) for row in self.paged.table.selected] if selection else None
        with self.root:
            deposit = await call(einvoicing.deposit_einvoices, ids=ids, query=None if selection else self.query)
            if deposit is None:
                return
            receipt = deposit.receipt
            assert receipt.archive is not None and receipt.archive_name is not None  # the file deposit
            ui.download.content(receipt.archive, receipt.archive_name, "application/zip")
            count = len(receipt.deposited)
            message = ngettext("{count} e-invoice downloaded.", "{count} e-invoices downloaded.", count, count=count)
            if deposit.skipped_drafts:
                message += " " + ngettext(
                    "{count} draft left out: it has no e-invoice yet.",
                    "{count} drafts left out: they have no e-invoice yet.",
                    deposit.skipped_drafts,
                    count=deposit.skipped_drafts,
                )
            ui.notify(message, type="warning" if deposit.skipped_drafts else "positive", multi_line=True)

    async def _load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        sort = SORT_COLUMNS.get(state.sort or "", DEFAULT_SORT)
        self.query = dataclasses.replace(self.query, sort=sort, descending=state.descending if state.sort else True)
        params = query_params(self.query, page=state.page)
        self.chips.show(self._chips())
        ui.navigate.history.replace("/invoices" + (f"?{urlencode(params)}" if params else ""))
        result = await call(invoices.list_invoices, self.query, page_request(state))
        if result is None or self.root.is_deleted:
            return None
        self.shown = {row.id for row in result.items}
        self.count.text = ngettext("{count} document", "{count} documents", result.total, count=result.total)
        list_totals(result, self.totals_box)
        return [invoice_row(row) for row in result.items], result.total


# ---- the draft editor


def _code_options(buyer: chorus.PublicBuyer | None, current: str | None) -> dict[str, str]:
    """The buyer's service codes ("CODE (label)"), and the draft's own when the buyer no longer has it."""
    options = {code.code: str(code) for code in (buyer.service_codes if buyer else ())}
    if current and current not in options:
        options[current] = current
    return options


def _settings(session: Any, _actor: Any) -> DocumentSettings:
    return document_settings(session)


@app_page("/invoices/new", title=N_("New invoice"), parent="/invoices")
async def new_invoice_page(query: dict[str, list[str]]) -> None:
    read = Params(query)
    institution_id, contact_id = read.ident("institution_id"), read.ident("contact_id")
    settings, detail = await asyncio.gather(
        call(_settings), call(institutions.get_detail, institution_id) if institution_id else _nothing()
    )
    if settings is None:
        return
    InvoiceForm(
        None,
        settings,
        institution=(detail.institution.id, detail.institution.name) if detail else None,
        contact_id=contact_id if detail else None,
        buyer=chorus.public_buyer(detail.institution) if detail else None,
    )


@app_page("/invoices/{invoice_id}/edit", title=N_("Edit the invoice"), parent="/invoices")
async def edit_invoice_page(invoice_id: uuid.UUID) -> None:
    refused = {Forbidden: lambda _e: not_allowed(), NotFound: lambda _e: not_found()}
    settings, detail = await asyncio.gather(call(_settings), call(invoices.get_invoice, invoice_id, on_error=refused))
    if settings is None or detail is None:
        return
    if detail.row.status is not InvoiceStatus.DRAFT or not detail.row.can_edit:
        ui.label(_("An issued invoice cannot be changed: issue a credit note instead.")).classes("text-h6")
        ui.link(_("Back to the invoice"), f"/invoices/{invoice_id}")
        return
    set_title(_("Edit the draft invoice"))
    form = InvoiceForm(
        detail,
        settings,
        institution=(detail.row.institution_id, detail.row.institution_name),
        contact_id=detail.row.contact_id,
        buyer=detail.public_buyer,
    )
    lines_refused = take_refused_lines(invoice_id)
    if lines_refused:
        await form.show_refused_lines(lines_refused)


class DeliveryAddressInputs:
    """A draft's delivery address, when the goods or services go elsewhere than the buyer's address
    (printed on the invoice and given in the e-invoice); keyed as the service's `delivery_address.<part>`."""

    def __init__(self, address: Mapping[str, Any] | None) -> None:
        address = address or {}
        self.other = ui.checkbox(_("Delivered to another address than the buyer's"), value=bool(address)).mark(
            "invoice-delivery-other"
        )
        with ui.grid().classes("w-full gap-3 opex-form-grid") as self.box:
            self.inputs = {
                "name": ui.input(_("Delivered to (name)"), value=str(address.get("name") or "")).props(
                    "outlined maxlength=250"
                ),
                "street": ui.input(_("Street"), value=str(address.get("street") or "")).props("outlined maxlength=250"),
                "postal_code": ui.input(_("Postal code"), value=str(address.get("postal_code") or "")).props(
                    "outlined maxlength=20"
                ),
                "city": ui.input(_("City"), value=str(address.get("city") or "")).props("outlined maxlength=250"),
                "country": ui.input(_("Country (ISO code)"), value=str(address.get("country") or "FR")).props(
                    "outlined maxlength=2"
                ),
            }
        for part, element in self.inputs.items():
            element.mark(f"invoice-delivery-{part}")
        self.box.bind_visibility_from(self.other, "value")

    def fields(self) -> dict[str, Any]:
        return {f"delivery_address.{part}": element for part, element in self.inputs.items()}

    def value(self) -> dict[str, str] | None:
        """The address as typed, None when the buyer's address is the delivery address."""
        if not self.other.value:
            return None
        return {part: (element.value or "").strip() for part, element in self.inputs.items()}


class InvoiceForm:
    """A draft's header (institution, contact, title, payment terms, notes) and its lines."""

    def __init__(
        self,
        detail: invoices.InvoiceDetail | None,
        settings: DocumentSettings,
        *,
        institution: tuple[uuid.UUID, str] | None,
        contact_id: uuid.UUID | None,
        buyer: chorus.PublicBuyer | None,
    ) -> None:
        self.detail = detail
        row = detail.row if detail else None
        with ui.column().classes("w-full gap-3 max-w-screen-lg"):
            ui.label(_("Draft invoice") if detail else _("New invoice")).classes("text-h5")
            f: dict[str, Any] = {}
            with ui.card().classes("w-full"), ui.grid().classes("w-full gap-3 opex-form-grid"):
                f["institution_id"] = (
                    institution_picker(
                        _("Institution") + " *",
                        value=institution[0] if institution else None,
                        value_label=institution[1] if institution else None,
                        on_change=self._institution_changed,
                    )
                    .props("outlined")
                    .mark("invoice-institution")
                )
                f["contact_id"] = (
                    contact_picker(
                        institution_id=institution[0] if institution else None,
                        value=contact_id,
                        value_label=detail.contact_name if detail else None,
                    )
                    .props("outlined")
                    .mark("invoice-contact")
                )
                f["title"] = (
                    ui.input(_("Title"), value=(row.title or "") if row else "")
                    .props("outlined maxlength=200")
                    .mark("invoice-title")
                )
                f["payment_terms_days"] = (
                    ui.input(
                        _("Payment terms (days)"),
                        value=str(row.payment_terms_days) if row else "",
                        placeholder=_("Default: {days} days", days=settings.payment_terms_days),
                    )
                    .props("outlined inputmode=numeric stack-label")
                    .mark("invoice-terms")
                )
                code = detail.buyer_reference if detail else (buyer.default_code if buyer else None)
                f["buyer_reference"] = (
                    ui.select(
                        _code_options(buyer, code),
                        label=_("Service code (Chorus Pro)"),
                        value=code,
                        with_input=True,
                        new_value_mode="add-unique",
                        clearable=True,
                    )
                    .props("outlined")
                    .mark("invoice-buyer-reference")
                )
                f["buyer_order_reference"] = (
                    ui.input(
                        _("Engagement number"),
                        value=(detail.buyer_order_reference or "") if detail else "",
                    )
                    .props(f"outlined maxlength={chorus.BUYER_ORDER_REFERENCE_MAX_LENGTH}")
                    .mark("invoice-buyer-order-reference")
                )
                notes = (detail.notes or "") if detail else ""
                f["notes"] = (
                    ui.textarea(_("Notes shown on the invoice"), value=notes)
                    .props("outlined autogrow")
                    .classes("opex-span-all")
                    .mark("invoice-notes")
                )
            with ui.card().classes("w-full gap-2").mark("invoice-delivery"):
                ui.label(_("Delivery address")).classes("text-subtitle1 text-weight-medium")
                self.delivery = DeliveryAddressInputs(detail.delivery_address if detail else None)
            f.update(self.delivery.fields())
            self.fields = f
            self.refusal = ui.column().classes("w-full gap-1")
            ui.label(_("Lines")).classes("text-subtitle1 text-weight-medium")
            lines = [dataclasses.asdict(line) for line in detail.lines] if detail else []
            self.editor = LineEditor(
                lines,
                vat_rates=settings.vat_rates,
                default_vat_rate=settings.default_vat_rate,
                global_discount_percent=detail.global_discount_percent if detail else Decimal(0),
            )
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=self.cancel).props("flat no-caps").mark("invoice-cancel")
                ui.button(_("Save the draft"), icon="save", on_click=self.save).props("unelevated no-caps").mark(
                    "invoice-save"
                )

    async def show_refused_lines(self, errors: Mapping[str, str]) -> None:
        """Issuing was refused for these lines: each message next to its line's field, and said above."""
        await self.editor.wait_rendered()
        fields = self.editor.fields()
        with self.refusal:
            with (
                ui.row()
                .classes("w-full no-wrap items-start gap-2 q-pa-sm bg-red-1 rounded-borders")
                .mark("lines-refused")
            ):
                ui.icon("error_outline", color="negative").classes("q-mt-xs")
                with ui.column().classes("gap-1"):
                    ui.label(
                        _("The invoice was not issued: correct the lines marked below, save, then issue it.")
                    ).classes("text-negative")
                    for key, message in errors.items():
                        element = fields.get(key)
                        if element is not None:
                            element.error = _(message)
                        else:  # a line removed meanwhile, or a field the editor does not show
                            ui.label(_(message))

    async def _institution_changed(self, _event: Any) -> None:
        institution_id = self.fields["institution_id"].selected_id
        self.fields["contact_id"].set_institution(institution_id)
        if institution_id is None:
            return
        buyer = await call(chorus.buyer_for_invoice, institution_id)
        if buyer is None:
            return
        select = self.fields["buyer_reference"]
        code = chorus.buyer_reference_for(buyer, select.value or None)  # as the service keeps it
        select.set_options(_code_options(buyer, code), value=code)

    def cancel(self) -> None:
        ui.navigate.to(f"/invoices/{self.detail.row.id}" if self.detail else "/invoices")

    def raw(self) -> dict[str, Any]:
        f = self.fields
        return {
            "institution_id": f["institution_id"].value,
            "contact_id": f["contact_id"].value,
            "title": f["title"].value,
            "payment_terms_days": (f["payment_terms_days"].value or "").strip() or None,
            "notes": f["notes"].value,
            "buyer_reference": f["buyer_reference"].value or None,
            "buyer_order_reference": f["buyer_order_reference"].value,
            "delivery_address": self.delivery.value(),
            "global_discount_percent": self.editor.global_discount_value(),
            "lines": self.editor.value(),
        }

    async def save(self) -> None:
        fields = {**self.fields, **self.editor.fields()}
        if self.detail is None:
            saved = await call(invoices.create_invoice, self.raw(), fields=fields)
        else:
            saved = await call(
                invoices.update_invoice,
                self.detail.row.id,
                self.raw(),
                expected_version=self.detail.row.version,
                fields=fields,
            )
        if saved is not None:
            ui.notify(_("Draft saved."), type="positive")
            ui.navigate.to(f"/invoices/{saved.id}")
