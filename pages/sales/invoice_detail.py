"""/invoices/{id}: one invoice or credit note. Header (number or "Draft", status, buyer, dates), lines
and totals as on the PDF, payments, refunds and the balance, the credit notes (or the credited
invoice), the history; the actions its status allows: edit, issue, delete a draft, record or delete
a payment, credit note (all or part, of a paid invoice too, with its refund), record or delete a
refund on a credit note, PDF, email. A refused action shows the service's message."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from components import live
from components.backend import call
from components.dialogs import confirm
from components.document_email_dialog import open_document_email_dialog
from components.einvoice_refusal import show_refusal
from components.history_values import change_words
from components.line_editor import (
    InputError,
    LineEditor,
    lines_table,
    number_text,
    parse_number,
    show_totals,
    unit_label,
)
from components.moments import user_zone
from components.paged_table import MONEY, WRAP, PagedTable, TableState, page_request, rows_of
from components.shell import app_page, not_allowed, not_found, set_title
from crm_app.platform import audit
from crm_app.platform.errors import Forbidden, NotFound, ValidationFailed
from crm_app.platform.events import InvoiceChanged
from crm_app.platform.i18n import N_, format_currency, format_date, format_datetime, format_decimal, pgettext
from crm_app.platform.i18n import gettext as _
from crm_app.sales import catalog, chorus, documents, invoice_history, invoices, payments
from crm_app.sales.invoices import CREDITABLE_STATUSES, KIND_LABELS, InvoiceDetail, PaymentRow, status_label
from crm_app.sales.lines import LineRow, line_values
from crm_app.sales.models.invoices import OPEN_INVOICE_STATUSES, InvoiceKind, InvoiceStatus, PaymentMethod
from crm_app.sales.models.quotes import DocumentKind
from crm_app.sales.payments import PAYMENT_METHOD_LABELS
from crm_app.sales.tax_codes import EXEMPTIONS
from pages.sales.invoices import STATUS_COLORS, document_name

FULL, WHOLE, AMOUNT, LINES = "full", "whole", "amount", "lines"


def paid_label() -> str:
    """The amount paid ("Payé"), not the status ("Payée"): a context of its own."""
    return pgettext("amount", "Paid")


@app_page("/invoices/{invoice_id}", title=N_("Invoice"), parent="/invoices")
async def invoice_page(invoice_id: uuid.UUID) -> None:
    zone = await user_zone()
    await InvoicePage(invoice_id, zone).panel.show()


class InvoicePage:
    """The invoice's page: a `live.RecordPanel` rebuilt from the service after each action (with its
    confirmation) and each change someone else commits to the invoice (a payment, a credit note...)."""

    def __init__(self, invoice_id: uuid.UUID, zone: str) -> None:
        self.invoice_id = invoice_id
        self.zone = zone
        self.panel: live.RecordPanel[InvoiceDetail] = live.RecordPanel(
            self._load,
            self._draw,
            wants=lambda event: isinstance(event, InvoiceChanged) and event.invoice_id == invoice_id,
        )

    @property
    def detail(self) -> InvoiceDetail | None:
        return self.panel.record

    async def reload(self) -> None:
        await self.panel.show()

    async def _load(self) -> InvoiceDetail | None:
        return await call(
            invoices.get_invoice,
            self.invoice_id,
            on_error={
                Forbidden: self._refuse(not_allowed, "not-allowed"),
                NotFound: self._refuse(not_found, "not-found"),
            },
        )

    async def _draw(self, detail: InvoiceDetail) -> None:
        self._build(detail)
        await self._history()

    def _refuse(self, show: Any, marker: str) -> Any:
        def handler(_error: Any) -> None:
            content = self.panel.content
            if content.is_deleted:
                return
            content.clear()
            with content, ui.column().classes("w-full").mark(marker):
                show()

        return handler

    # ---- the parts

    def _build(self, detail: InvoiceDetail) -> None:
        row = detail.row
        credit = row.kind is InvoiceKind.CREDIT_NOTE
        kind = _(KIND_LABELS[row.kind])
        set_title(f"{kind} {row.number}" if row.number else _("Draft invoice"))
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(kind).classes("text-h5 text-grey-7")
            if row.number:  # a draft has none yet: the status badge says "Draft"
                ui.label(row.number).classes("text-h5").mark("invoice-number")
            ui.badge(_(status_label(row.kind, row.status)), color=STATUS_COLORS[row.status]).mark("invoice-status")
            ui.space()
            self._actions(detail)
        if row.title:
            ui.label(row.title).classes("text-subtitle1")
        with ui.row().classes("w-full gap-4 items-start"):
            self._parties(detail)
            self._dates(detail)
        self._lines(detail.lines)
        with ui.row().classes("w-full justify-end"):
            with ui.card().props("flat bordered").classes("min-w-80 gap-1").mark("invoice-totals"):
                show_totals(detail.totals)
        if detail.notes:
            ui.label(detail.notes).classes("whitespace-pre-wrap text-grey-8")
        if credit:
            self._refunds_card(detail)
        else:
            self._settlement(detail)

    def _actions(self, detail: InvoiceDetail) -> None:
        row = detail.row
        draft = row.status is InvoiceStatus.DRAFT
        settleable = row.kind is InvoiceKind.INVOICE and row.status in OPEN_INVOICE_STATUSES
        with ui.row().classes("gap-2"):
            if row.can_edit and draft:
                ui.button(_("Edit"), icon="edit", on_click=lambda: ui.navigate.to(f"/invoices/{row.id}/edit")).props(
                    "outline"
                ).mark("invoice-edit")
                ui.button(_("Issue"), icon="verified", on_click=self.ask_issue).props("unelevated").mark(
                    "invoice-issue"
                )
                ui.button(_("Delete"), icon="delete", on_click=self.ask_delete).props("flat color=negative").mark(
                    "invoice-delete"
                )
            if row.can_edit and settleable:
                ui.button(_("Record a payment"), icon="payments", on_click=self.open_payment).props("unelevated").mark(
                    "invoice-pay"
                )
            if row.can_edit and row.kind is InvoiceKind.INVOICE and row.status in CREDITABLE_STATUSES:
                ui.button(_("Credit note"), icon="undo", on_click=self.open_credit_note).props("outline").mark(
                    "invoice-credit"
                )
            if row.can_edit and row.kind is InvoiceKind.CREDIT_NOTE and detail.refundable > 0:
                ui.button(_("Record a refund"), icon="currency_exchange", on_click=self.open_refund).props(
                    "unelevated"
                ).mark("credit-note-refund")
            ui.button(_("PDF"), icon="picture_as_pdf", on_click=self.download).props("outline").mark("invoice-pdf")
            if not draft:
                ui.button(_("Factur-X XML"), icon="data_object", on_click=self.download_xml).props("outline").mark(
                    "invoice-xml"
                )
            if row.can_edit and not draft:
                ui.button(_("Send by email"), icon="mail", on_click=self.email).props("outline").mark("invoice-email")

    def _parties(self, detail: InvoiceDetail) -> None:
        row = detail.row
        with ui.card().props("flat bordered").classes("flex-1 min-w-72 gap-1").mark("invoice-buyer"):
            ui.label(_("Buyer")).classes("text-caption text-grey-7")
            buyer = detail.buyer
            if buyer:  # frozen at issue: what the document shows
                ui.link(str(buyer.get("name") or row.institution_name), f"/institutions/{row.institution_id}").classes(
                    "text-weight-medium"
                )
                for line in buyer.get("address_lines") or []:
                    ui.label(str(line))
                if buyer.get("siret"):
                    ui.label(f"SIRET {buyer['siret']}").classes("text-grey-8")
                contact = buyer.get("contact_name")
            else:
                ui.link(row.institution_name, f"/institutions/{row.institution_id}").classes("text-weight-medium")
                contact = detail.contact_name
            if contact:
                ui.label(_("Contact: {name}", name=contact)).classes("text-grey-8")
            ui.label(_("Salesperson: {name}", name=row.owner_name)).classes("text-grey-8")
        if detail.delivery_address:
            _delivery_card(detail.delivery_address)

    def _dates(self, detail: InvoiceDetail) -> None:
        row = detail.row
        with ui.card().props("flat bordered").classes("flex-1 min-w-72"), ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
            ui.label(_("Issued on")).classes("text-grey-7")
            ui.label(format_date(row.issue_date) or "—").mark("invoice-issue-date")
            if row.kind is InvoiceKind.INVOICE:
                ui.label(_("Due on")).classes("text-grey-7")
                ui.label(format_date(row.due_date) or "—").classes("text-negative" if row.is_overdue else "").mark(
                    "invoice-due-date"
                )
                ui.label(_("Payment terms")).classes("text-grey-7")
                ui.label(_("{days} days", days=row.payment_terms_days))
            if row.quote_id and row.quote_number:
                ui.label(_("Quote")).classes("text-grey-7")
                ui.link(row.quote_number, f"/quotes/{row.quote_id}").mark("invoice-quote")
            buyer = detail.public_buyer
            if detail.buyer_reference or detail.buyer_order_reference or (buyer and buyer.is_public_entity):
                ui.label(_("Service code")).classes("text-grey-7")
                ui.label(detail.buyer_reference or "—").mark("invoice-buyer-reference")
                ui.label(_("Engagement number")).classes("text-grey-7")
                ui.label(detail.buyer_order_reference or "—").mark("invoice-buyer-order-reference")
            if row.credited_invoice_id:
                ui.label(_("Credits the invoice")).classes("text-grey-7")
                ui.link(detail.credited_invoice_number or "", f"/invoices/{row.credited_invoice_id}").mark(
                    "credited-invoice"
                )

    def _lines(self, lines: list[LineRow]) -> None:
        columns = [
            {"name": "reference", "label": _("Reference"), "field": "reference", "align": "left"},
            {
                "name": "description",
                "label": _("Description"),
                "field": "description",
                "align": "left",
                "style": "white-space: pre-wrap",
                **WRAP,
            },
            {"name": "quantity", "label": _("Quantity"), "field": "quantity", **MONEY},
            {"name": "unit_price", "label": _("Unit price excl. VAT"), "field": "unit_price", **MONEY},
            {"name": "discount", "label": _("Discount"), "field": "discount", **MONEY},
            {"name": "vat", "label": _("VAT"), "field": "vat", **MONEY},
            {"name": "net", "label": _("Net excl. VAT"), "field": "net", **MONEY},
        ]

        def discount(line: LineRow) -> str:
            if not line.discount_type or not line.discount_value:
                return ""
            if line.discount_type.value == "percent":
                return f"{format_decimal(line.discount_value)} %"
            return format_currency(line.discount_value)

        rows = [
            {
                "id": str(line.id),
                "reference": line.reference or "",
                "description": _with_exemption(line),
                "quantity": f"{format_decimal(line.quantity.normalize() + 0)} {unit_label(line.unit, line.quantity)}",
                "unit_price": format_currency(line.unit_price),
                "discount": discount(line),
                "vat": f"{format_decimal(line.vat_rate)} %",
                "net": format_currency(line.net_amount),
            }
            for line in lines
        ]
        lines_table(columns, rows, props="flat bordered hide-pagination").mark("invoice-lines")

    def _settlement(self, detail: InvoiceDetail) -> None:
        row = detail.row
        with ui.row().classes("w-full gap-4 items-start"):
            with ui.card().props("flat bordered").classes("flex-[2] min-w-96 gap-2"):
                ui.label(_("Payments")).classes("text-subtitle1 text-weight-medium")
                self._payments(detail.payments, can_delete=row.can_edit and row.status is not InvoiceStatus.CANCELLED)
                if detail.refunds:
                    ui.label(_("Refunds")).classes("text-subtitle1 text-weight-medium")
                    self._payments(detail.refunds, can_delete=False, marker="invoice-refunds-table")
                with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
                    ui.label(paid_label()).classes("text-grey-7").mark("invoice-paid-label")
                    ui.label(format_currency(row.amount_paid)).mark("invoice-paid")
                    if row.amount_credited:
                        ui.label(_("Credited")).classes("text-grey-7")
                        ui.label(format_currency(row.amount_credited)).mark("invoice-credited")
                    if row.amount_refunded:
                        ui.label(_("Refunded")).classes("text-grey-7")
                        ui.label(format_currency(row.amount_refunded)).mark("invoice-refunded")
                    if detail.refundable > 0:
                        ui.label(_("To refund")).classes("text-grey-7")
                        ui.label(format_currency(detail.refundable)).classes("text-negative").mark("invoice-to-refund")
                    ui.label(_("Balance")).classes("text-weight-bold")
                    ui.label(format_currency(row.remaining)).classes("text-weight-bold").mark("invoice-remaining")
            with ui.card().props("flat bordered").classes("flex-1 min-w-72 gap-1").mark("credit-notes"):
                ui.label(_("Credit notes")).classes("text-subtitle1 text-weight-medium")
                if not detail.credit_notes:
                    ui.label(_("No credit note.")).classes("text-grey-7")
                for note in detail.credit_notes:
                    with ui.row().classes("items-center gap-2"):
                        ui.link(document_name(note), f"/invoices/{note.id}").mark("credit-note-link")
                        ui.label(format_date(note.issue_date)).classes("text-grey-7")
                        ui.label(format_currency(note.total_incl_vat))

    def _refunds_card(self, detail: InvoiceDetail) -> None:
        """A credit note's refunds: what was paid back, and what can still be."""
        row = detail.row
        with ui.card().props("flat bordered").classes("w-full gap-2").mark("credit-note-refunds"):
            ui.label(_("Refunds")).classes("text-subtitle1 text-weight-medium")
            if detail.refunds:
                self._payments(detail.refunds, can_delete=row.can_edit, marker="refunds-table", event="delete_refund")
            else:
                ui.label(_("No refund.")).classes("text-grey-7").mark("no-refunds")
            with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
                ui.label(_("Refunded")).classes("text-grey-7")
                ui.label(format_currency(row.amount_refunded)).mark("credit-note-refunded")
                ui.label(_("Remaining to refund")).classes("text-weight-bold")
                ui.label(format_currency(detail.refundable)).classes("text-weight-bold").mark("credit-note-refundable")

    def _payments(
        self,
        rows: list[PaymentRow],
        *,
        can_delete: bool,
        marker: str = "payments-table",
        event: str = "delete_payment",
    ) -> None:
        if not rows and event == "delete_payment":
            ui.label(_("No payment yet.")).classes("text-grey-7").mark("no-payments")
            return
        refunds = marker == "invoice-refunds-table"
        columns = [
            {"name": "paid_on", "label": _("Date"), "field": "paid_on", "align": "left"},
            {"name": "amount", "label": _("Amount"), "field": "amount", "align": "right"},
            {"name": "method", "label": _("Method"), "field": "method", "align": "left"},
            {"name": "reference", "label": _("Reference"), "field": "reference", "align": "left"},
            {"name": "by", "label": _("Recorded by"), "field": "by", "align": "left"},
        ]
        if refunds:
            columns.insert(0, {"name": "note", "label": _("Credit note"), "field": "note", "align": "left"})
        if can_delete:
            columns.append({"name": "actions", "label": "", "field": "id", "align": "right"})

        def method(value: str) -> str:
            try:
                return _(PAYMENT_METHOD_LABELS[PaymentMethod(value)])
            except ValueError:
                return value

        table = (
            ui.table(
                columns=columns,
                rows=[
                    {
                        "id": str(p.id),
                        "paid_on": format_date(p.paid_on),
                        "amount": format_currency(p.amount),
                        "method": method(p.method),
                        "reference": p.reference or "",
                        "by": p.created_by_name or "",
                        "note": p.credit_note_number or "",
                    }
                    for p in rows
                ],
                row_key="id",
            )
            .props("flat dense hide-pagination")
            .classes("w-full")
            .mark(marker)
        )
        if can_delete:
            table.add_slot(
                "body-cell-actions",
                r'''
                <q-td :props="props">
                  <q-btn flat round dense icon="delete" color="negative" aria-label="'''
                + _("Delete")
                + r""""
                         @click="() => $parent.$emit('"""
                + event
                + r"""', props.row.id)" />
                </q-td>""",
            )
            ask = self.ask_delete_refund if event == "delete_refund" else self.ask_delete_payment
            table.on(event, lambda e: ask(uuid.UUID(str(e.args))))

    async def _history(self) -> None:
        ui.label(_("History")).classes("text-subtitle1 text-weight-medium q-mt-md")

        def convert(entry: audit.HistoryRow) -> dict[str, Any]:
            # Worded as every history words it (`crm_app.sales.history_wording`), by the kind of the entry's
            # document: a credit note's as a credit note's ("Avoir … émis"), an invoice's as an invoice's.
            words = change_words(entry)
            return {
                "id": str(entry.id),
                "at": format_datetime(entry.at, self.zone, style="short"),
                "who": entry.actor_name or "",
                "what": words.what,
                "field": words.field,
                "change": words.change(),
            }

        async def load(state: TableState) -> tuple[list[dict[str, Any]], int] | None:
            page = await call(invoice_history.invoice_history, self.invoice_id, page_request(state))
            return None if page is None else rows_of(page, convert)

        columns = [
            {"name": n, "label": label, "field": n, "align": "left"}
            for n, label in (
                ("at", _("When")),
                ("who", _("Who")),
                ("what", _("What")),
                ("field", _("Field")),
                ("change", _("Change")),
            )
        ]
        table = PagedTable(columns, load, state=TableState(page_size=25))
        table.table.mark("invoice-history")
        await table.refresh()

    # ---- actions

    @property
    def _version(self) -> int | None:
        return self.detail.row.version if self.detail else None

    def ask_issue(self) -> None:
        with self.panel.dialog() as dialog, ui.card().classes("max-w-lg").mark("issue-dialog"):
            ui.label(_("Issue this invoice?")).classes("text-h6")
            ui.label(
                _(
                    "It gets the next invoice number and today's date. An issued invoice can no longer be "
                    "changed or deleted: only a credit note can cancel it."
                )
            ).classes("text-body2")

            detail = self.detail
            buyer = detail.public_buyer if detail else None
            chorus_fields: dict[str, Any] = {}
            if detail is not None and buyer is not None and buyer.is_public_entity:
                chorus_fields = self._chorus_inputs(detail, buyer)
            refusal = ui.column().classes("w-full")

            async def issue() -> None:
                if not chorus_fields:
                    issued = await self.panel.act(
                        invoices.issue_invoice,
                        self.invoice_id,
                        expected_version=self._version,
                        done=lambda issued: _("Invoice {number} issued.", number=issued.number),
                        on_error={ValidationFailed: lambda error: self._refused(refusal, error, {})},
                    )
                    if issued is not None and not dialog.is_deleted:
                        dialog.close()
                    return
                await self._issue_to_public_buyer(dialog, chorus_fields, refusal)

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(_("Issue"), icon="verified", on_click=issue).props("unelevated no-caps").mark("issue-confirm")
        dialog.open()

    def _refused(self, box: ui.element, error: ValidationFailed, fields: dict[str, Any]) -> None:
        """Issuing refused: why, in the dialog, with where each thing is filled in (components/einvoice_refusal)."""
        detail = self.detail
        if detail is None or box.is_deleted:
            return
        show_refusal(
            box,
            error,
            invoice_id=self.invoice_id,
            institution=(detail.row.institution_id, detail.row.institution_name),
            placed=fields,
        )

    def _chorus_inputs(self, detail: InvoiceDetail, buyer: chorus.PublicBuyer) -> dict[str, Any]:
        """A public buyer's service code and engagement number, checked again before issuing (Chorus Pro)."""
        ui.label(_("Public buyer (Chorus Pro)")).classes("text-subtitle2 q-mt-sm")
        options = {code.code: str(code) for code in buyer.service_codes}
        if detail.buyer_reference and detail.buyer_reference not in options:
            options[detail.buyer_reference] = detail.buyer_reference
        return {
            "buyer_reference": ui.select(
                options,
                label=_("Service code") + (" *" if buyer.codes else ""),
                value=detail.buyer_reference,
                with_input=True,
                new_value_mode="add-unique",
                clearable=True,
            )
            .props("outlined")
            .classes("w-full")
            .mark("issue-buyer-reference"),
            "buyer_order_reference": ui.input(
                _("Engagement number") + (" *" if buyer.requires_engagement_number else ""),
                value=detail.buyer_order_reference or "",
            )
            .props(f"outlined maxlength={chorus.BUYER_ORDER_REFERENCE_MAX_LENGTH}")
            .classes("w-full")
            .mark("issue-buyer-order-reference"),
        }

    async def _issue_to_public_buyer(self, dialog: ui.dialog, fields: dict[str, Any], refusal: ui.element) -> None:
        """Save the service code and engagement number as typed, then issue; a refusal stays in the dialog,
        next to its field."""
        detail = self.detail
        if detail is None:
            return
        wanted = {
            "buyer_reference": fields["buyer_reference"].value or None,
            "buyer_order_reference": (fields["buyer_order_reference"].value or "").strip() or None,
        }
        version = self._version
        current = {"buyer_reference": detail.buyer_reference, "buyer_order_reference": detail.buyer_order_reference}
        if wanted != current:
            saved = await call(
                invoices.update_invoice, self.invoice_id, wanted, expected_version=version, fields=fields
            )
            if saved is None:
                return
            version = saved.version
        issued = await call(
            invoices.issue_invoice,
            self.invoice_id,
            expected_version=version,
            fields=fields,
            on_error={ValidationFailed: lambda error: self._refused(refusal, error, fields)},
        )
        if issued is None:
            await self.panel.show()  # the saved values, if any, behind the dialog
            return
        dialog.close()
        await self.panel.show()
        self.panel.notify(_("Invoice {number} issued.", number=issued.number))

    def ask_delete(self) -> None:
        async def delete() -> None:
            with self.panel.frame:
                if await call(_delete_draft, self.invoice_id):
                    ui.notify(_("Draft invoice deleted."), type="positive")
                    ui.navigate.to("/invoices")

        with self.panel.frame:
            confirm(_("Delete this draft invoice?"), delete)

    def ask_delete_payment(self, payment_id: uuid.UUID) -> None:
        async def delete() -> None:
            await self.panel.act(_delete_payment, self.invoice_id, payment_id, done=_("Payment deleted."))

        with self.panel.frame:
            confirm(_("Delete this payment? The invoice's status is recomputed."), delete)

    def ask_delete_refund(self, refund_id: uuid.UUID) -> None:
        async def delete() -> None:
            await self.panel.act(_delete_refund, self.invoice_id, refund_id, done=_("Refund deleted."))

        with self.panel.frame:
            confirm(_("Delete this refund? The money is owed to the client again."), delete)

    def open_refund(self) -> None:
        if self.detail is not None:
            self._record_money(
                "refund",
                title=_("Record a refund"),
                caption=_("Remaining to refund: {amount}", amount=format_currency(self.detail.refundable)),
                amount=self.detail.refundable,
                record=payments.record_refund,
                done=_("Refund recorded."),
            )

    def open_payment(self) -> None:
        if self.detail is not None:
            self._record_money(
                "payment",
                title=_("Record a payment"),
                caption=_("Remaining: {amount}", amount=format_currency(self.detail.remaining)),
                amount=self.detail.remaining,
                record=payments.record_payment,
                done=_("Payment recorded."),
            )

    def _record_money(
        self, kind: str, *, title: str, caption: str, amount: Decimal, record: Callable[..., Any], done: str
    ) -> None:
        """The dialog of a payment in or a refund out (`kind`): amount, date, method, reference."""
        with self.panel.dialog() as dialog, ui.card().classes("w-96").mark(f"{kind}-dialog"):
            ui.label(title).classes("text-h6")
            ui.label(caption).classes("text-grey-8")
            f = _money_fields(self.zone, amount, kind)

            async def save() -> None:
                raw = _money_values(f)
                if raw is None:
                    return
                recorded = await self.panel.act(record, self.invoice_id, raw, fields=f, done=done)
                if recorded is not None and not dialog.is_deleted:
                    dialog.close()

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(_("Record"), icon="check", on_click=save).props("unelevated no-caps").mark(f"{kind}-save")
        dialog.open()

    async def open_credit_note(self) -> None:  # noqa: PLR0915 - one dialog, its parts in order
        detail = self.detail
        if detail is None:
            return
        with self.panel.frame:
            choices = await call(catalog.vat_choices)
        if choices is None:
            return
        rates, default_rate = choices
        row = detail.row
        unpaid = max(Decimal("0.00"), detail.remaining)
        creditable = row.total_incl_vat - row.amount_credited
        paid = row.amount_paid - row.amount_refunded > 0
        with self.panel.dialog() as dialog, ui.card().classes("w-[60rem] max-w-full").mark("credit-dialog"):
            ui.label(_("Credit note on {number}", number=document_name(row))).classes("text-h6")
            ui.label(_("At most what has not been credited yet: {amount}", amount=format_currency(creditable))).classes(
                "text-grey-8"
            )
            if paid:
                ui.label(
                    _(
                        "Paid: {paid}. What the credit note takes beyond what remains due ({due}) was paid "
                        "and is refunded to the client.",
                        paid=format_currency(row.amount_paid - row.amount_refunded),
                        due=format_currency(unpaid),
                    )
                ).classes("text-grey-8").mark("credit-paid-note")
            modes = {FULL: _("Everything that remains due")} if unpaid > 0 else {}
            if paid or unpaid == 0:
                modes[WHOLE] = _("The whole invoice")
            modes |= {AMOUNT: _("An amount incl. VAT"), LINES: _("Chosen lines")}
            mode = ui.radio(modes, value=next(iter(modes))).props("inline").mark("credit-mode")
            amount = (
                ui.input(_("Amount incl. VAT"), value=number_text(unpaid if unpaid > 0 else creditable))
                .props("outlined inputmode=decimal suffix=€")
                .classes("w-64")
                .mark("credit-amount")
            )
            with ui.column().classes("w-full") as lines_box:
                editor = LineEditor(
                    [line_values(line) for line in detail.lines], vat_rates=rates, default_vat_rate=default_rate
                )
            notes = (
                ui.textarea(_("Reason (shown on the credit note)"))
                .props("outlined autogrow")
                .classes("w-full")
                .mark("credit-notes-text")
            )
            amount.bind_visibility_from(mode, "value", value=AMOUNT)
            lines_box.bind_visibility_from(mode, "value", value=LINES)
            refund_now = ui.checkbox(_("Record the refund now")).mark("credit-refund-now")
            refund_now.set_visibility(paid)
            with ui.row().classes("w-full gap-2 items-start") as refund_box:
                refund = _money_fields(self.zone, Decimal("0.00"), "credit-refund", width="w-56")
            refund_box.bind_visibility_from(refund_now, "value")

            def credited_now() -> Decimal | None:
                """What the chosen mode credits, when known before saving."""
                if mode.value == FULL:
                    return unpaid
                if mode.value == WHOLE:
                    return creditable
                if mode.value == AMOUNT:
                    try:
                        return parse_number(amount.value, places=2)
                    except InputError:
                        return None
                return None

            def prefill() -> None:
                """The refund follows the credit note: what it takes beyond what remains due."""
                credit = credited_now()
                if credit is None or not paid:
                    return
                refundable = max(Decimal("0.00"), min(credit, credit - detail.remaining))
                refund["amount"].value = number_text(refundable)
                refund_now.value = refundable > 0

            mode.on_value_change(lambda _e: prefill())
            amount.on_value_change(lambda _e: prefill())
            prefill()

            async def save() -> None:
                fields: dict[str, Any] = {
                    "amount_incl_vat": amount,
                    "notes": notes,
                    **editor.fields(),
                    **{f"refund.{name}": element for name, element in refund.items()},
                }
                kwargs: dict[str, Any] = {"notes": notes.value or None}
                if mode.value == AMOUNT:
                    try:
                        kwargs["amount_incl_vat"] = parse_number(amount.value, places=2)
                    except InputError as exc:
                        amount.error = _(exc.message)
                        return
                    if kwargs["amount_incl_vat"] is None:
                        amount.error = _("This field is required.")
                        return
                elif mode.value == LINES:
                    kwargs["lines"] = editor.value()
                elif mode.value == WHOLE:
                    kwargs["full"] = True
                if refund_now.value:
                    kwargs["refund"] = _money_values(refund)
                    if kwargs["refund"] is None:
                        return
                note = await self.panel.act(
                    invoices.create_credit_note,
                    self.invoice_id,
                    fields=fields,
                    done=lambda note: _("Credit note {number} issued.", number=note.number),
                    **kwargs,
                )
                if note is not None and not dialog.is_deleted:
                    dialog.close()

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(_("Issue the credit note"), icon="check", on_click=save).props("unelevated no-caps").mark(
                    "credit-save"
                )
        dialog.open()

    async def download(self) -> None:
        detail = self.detail
        if detail is None:
            return
        kind = DocumentKind.CREDIT_NOTE if detail.row.kind is InvoiceKind.CREDIT_NOTE else DocumentKind.INVOICE
        with self.panel.frame:  # a live rebuild may delete the button meanwhile
            found = await call(documents.document_pdf, kind, self.invoice_id)
            if found is not None:
                content, filename = found
                ui.download.content(content, filename, "application/pdf")

    async def download_xml(self) -> None:
        detail = self.detail
        if detail is None:
            return
        kind = DocumentKind.CREDIT_NOTE if detail.row.kind is InvoiceKind.CREDIT_NOTE else DocumentKind.INVOICE
        with self.panel.frame:
            found = await call(documents.document_xml, kind, self.invoice_id)
            if found is not None:
                content, filename = found
                ui.download.content(content, filename, "application/xml")

    async def email(self) -> None:
        detail = self.detail
        if detail is None:
            return
        kind = DocumentKind.CREDIT_NOTE if detail.row.kind is InvoiceKind.CREDIT_NOTE else DocumentKind.INVOICE
        with self.panel.frame:
            await open_document_email_dialog(
                kind, self.invoice_id, detail.row.institution_id, contact_id=detail.row.contact_id, on_sent=self.reload
            )


def _delivery_card(address: dict[str, Any]) -> None:
    """Where the goods or services go, when not the buyer's address (printed on the invoice)."""
    with ui.card().props("flat bordered").classes("flex-1 min-w-72 gap-1").mark("invoice-delivery"):
        ui.label(_("Delivery address")).classes("text-caption text-grey-7")
        if address.get("name"):
            ui.label(str(address["name"])).classes("text-weight-medium")
        ui.label(str(address.get("street") or ""))
        town = " ".join(str(address.get(part) or "") for part in ("postal_code", "city")).strip()
        country = str(address.get("country") or "")
        ui.label(town if country in ("", "FR") else f"{town} ({country})")


def _with_exemption(line: LineRow) -> str:
    """A line's description, and on a 0 % line why it carries no VAT (the mention the PDF prints)."""
    if line.vat_rate != 0 or line.vat_exemption is None:
        return line.description
    return f"{line.description}\n{_(EXEMPTIONS[line.vat_exemption].label)}"


def _money_fields(zone: str, amount: Decimal, marker: str, *, width: str = "w-full") -> dict[str, Any]:
    """The fields of a payment or a refund (amount, date, method, reference), keyed as the service's."""
    today = datetime.now(ZoneInfo(zone)).date()
    return {
        "amount": ui.input(_("Amount"), value=number_text(amount))
        .props("outlined inputmode=decimal suffix=€")
        .classes(width)
        .mark(f"{marker}-amount"),
        "paid_on": ui.input(_("Date"), value=today.isoformat())
        .props("outlined type=date stack-label")
        .classes(width)
        .mark(f"{marker}-date"),
        "method": ui.select(
            {m.value: _(label) for m, label in PAYMENT_METHOD_LABELS.items()},
            label=_("Method"),
            value=PaymentMethod.TRANSFER.value,
        )
        .props("outlined")
        .classes(width)
        .mark(f"{marker}-method"),
        "reference": ui.input(_("Reference"))
        .props("outlined maxlength=120")
        .classes(width)
        .mark(f"{marker}-reference"),
    }


def _money_values(f: dict[str, Any]) -> dict[str, Any] | None:
    """The fields' values for the service; None (the error shown next to the amount) when unreadable."""
    try:
        amount = parse_number(f["amount"].value, places=2)
    except InputError as exc:
        f["amount"].error = _(exc.message)
        return None
    return {
        "amount": format(amount, "f") if amount is not None else None,
        "paid_on": f["paid_on"].value,
        "method": f["method"].value,
        "reference": f["reference"].value,
    }


def _delete_refund(session: Any, actor: Any, credit_note_id: uuid.UUID, refund_id: uuid.UUID) -> bool:
    """`delete_refund` returns nothing: True tells the page it went through."""
    payments.delete_refund(session, actor, credit_note_id, refund_id)
    return True


def _delete_payment(session: Any, actor: Any, invoice_id: uuid.UUID, payment_id: uuid.UUID) -> bool:
    """`delete_payment` returns nothing: True tells the page it went through."""
    payments.delete_payment(session, actor, invoice_id, payment_id)
    return True


def _delete_draft(session: Any, actor: Any, invoice_id: uuid.UUID) -> bool:
    """`delete_draft` returns nothing: True tells the page it went through."""
    invoices.delete_draft(session, actor, invoice_id)
    return True
