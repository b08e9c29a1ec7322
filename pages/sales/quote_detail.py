"""/quotes/{id}: header with the status, lines and totals, the actions the workflow allows now
(`quotes.allowed_actions`: send, accept / reject with the client's comment, purchase order, cancel,
new revision, invoice), the PDF (preview in a new tab, download), email to the institution's contacts,
the reminders sent so far, comments and history.

/quotes/{id}/pdf serves the PDF to the signed-in browser (its session cookie), through the same
service and rights as everything else; `?download=1` makes it an attachment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote as url_quote

from fastapi import Response
from nicegui import ui

from components import backend, live
from components.backend import call
from components.comments import comment_thread
from components.dialogs import disposable
from components.document_email_dialog import open_document_email_dialog
from components.history_values import change_words
from components.line_editor import lines_table, number_text, parse_number, rate_label, show_totals, unit_label
from components.moments import user_zone
from components.paged_table import MONEY, WRAP, PagedTable, TableState, page_request, rows_of
from components.shell import app_page, not_allowed, not_found, set_title
from crm_app.platform import audit
from crm_app.platform.errors import DomainError, Forbidden, NotAuthenticated, NotFound
from crm_app.platform.events import QuoteChanged
from crm_app.platform.i18n import N_, format_currency, format_date, format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.comments import CommentTarget
from crm_app.sales import documents, invoices, money, quotes
from crm_app.sales import quote_reminders as quote_views
from crm_app.sales.invoices import KIND_LABELS
from crm_app.sales.models.invoices import InvoiceKind
from crm_app.sales.models.quotes import DiscountType, DocumentKind
from crm_app.sales.quote_reminders import ReminderRow
from crm_app.sales.quotes import QUOTE_STATUS_LABELS, QuoteAction, QuoteDetail
from crm_app.sales.reminder_kinds import QUOTE_REMINDER_SPECS
from pages.sales.invoices import document_name, status_badge
from pages.sales.quotes import STATUS_COLORS

FACT_COLUMNS = "repeat(auto-fill, minmax(10rem, 1fr))"


# --------------------------------------------------------------------------------------------
# The PDF for the browser


def _pdf(session: Any, actor: Any, quote_id: uuid.UUID) -> tuple[bytes, str]:
    return documents.document_pdf(session, actor, DocumentKind.QUOTE, quote_id)


# A NiceGUI page (not a bare route): it carries the browser's session like every screen, and returns
# the file itself instead of HTML.
@ui.page("/quotes/{quote_id}/pdf")
async def quote_pdf(quote_id: uuid.UUID, download: int = 0) -> Response:
    """The quote's PDF for the signed-in browser; 404 for anyone who may not see it."""

    try:
        found: tuple[bytes, str] | None = await backend.call_for_file(_pdf, quote_id)
    except NotAuthenticated:
        return Response(status_code=401)
    except DomainError:
        return Response(status_code=404)
    if found is None:  # the server is shutting down
        return Response(status_code=503)
    data, filename = found
    disposition = "attachment" if download else "inline"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{url_quote(filename)}",
            "Cache-Control": "no-store",
        },
    )


# --------------------------------------------------------------------------------------------
# The screen


@app_page("/quotes/{quote_id}", title=N_("Quote"), parent="/quotes")
async def quote_page(quote_id: uuid.UUID) -> None:
    await QuoteScreen(quote_id).show()


class QuoteScreen:
    """The quote's page: a `live.RecordPanel` whose content (header, facts, lines, invoices) is redrawn
    from the service after each action and each change someone else commits to the quote; its frame
    holds the dialogs, the confirmations and, built once below the content, the tabs of comments,
    reminders and history, so that a redraw neither erases a comment being typed nor resets the tab or
    the history's page (the history and the reminders are refreshed in place)."""

    def __init__(self, quote_id: uuid.UUID) -> None:
        self.quote_id = quote_id
        self.zone = "Europe/Paris"
        self.panel: live.RecordPanel[QuoteDetail] = live.RecordPanel(
            self._load,
            self._draw,
            wants=lambda event: isinstance(event, QuoteChanged) and event.quote_id == quote_id,
        )
        self.frame = self.panel.frame
        self.root = self.panel.content
        self.history: PagedTable | None = None
        self.reminders: ui.column | None = None

    @property
    def detail(self) -> QuoteDetail | None:
        return self.panel.record

    async def _load(self) -> QuoteDetail | None:
        detail = await call(
            quotes.get_quote,
            self.quote_id,
            on_error={
                Forbidden: self._refuse(not_allowed, "not-allowed"),
                NotFound: self._refuse(not_found, "not-found"),
            },
        )
        self.zone = await user_zone()
        if detail is not None:
            set_title(detail.number)
        return detail

    def _refuse(self, show: Callable[[], None], marker: str) -> Callable[[Any], None]:
        """A quote the reader may not open, or that does not exist: say so in place of its content."""

        def handler(_error: Any) -> None:
            content = self.panel.content
            if content.is_deleted:
                return
            content.clear()
            with content, ui.column().classes("w-full").mark(marker):
                show()

        return handler

    async def show(self) -> None:
        """Draw the quote, then (once) the tabs below it."""
        if await self.panel.show() and self.history is None and not self.frame.is_deleted:
            with self.frame:
                await self._tabs()

    async def _draw(self, detail: QuoteDetail) -> None:
        self._header(detail, self.zone)
        self._lines(detail)
        await self._invoices()
        if self.history is not None:  # a redraw: the tabs stay, their lists follow the quote
            with self.frame:
                await self._refresh_lists()

    async def _tabs(self) -> None:
        with ui.tabs().classes("w-full").props("align=left no-caps").mark("quote-tabs") as tabs:
            comments_tab = ui.tab("comments", _("Comments"), icon="forum")
            ui.tab("reminders", _("Reminders"), icon="notifications_active").mark("tab-reminders")
            ui.tab("history", _("History"), icon="history").mark("tab-history")
        with ui.tab_panels(tabs, value=comments_tab).classes("w-full"):
            with ui.tab_panel("comments"):
                comment_thread(CommentTarget.QUOTE, self.quote_id).root.classes("max-w-3xl")
            with ui.tab_panel("reminders"):
                self.reminders = ui.column().classes("w-full")
            with ui.tab_panel("history"):
                self.history = self._history()
        await self._refresh_lists()

    async def _refresh_lists(self) -> None:
        if self.reminders is not None and not self.reminders.is_deleted:
            await self._reminders(self.reminders)
        if self.history is not None and not self.history.table.is_deleted:
            await self.history.refresh()

    # ---- parts

    def _header(self, d: QuoteDetail, zone: str) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(d.number).classes("text-h5").mark("quote-number")
            ui.badge(_(QUOTE_STATUS_LABELS[d.status]), color=STATUS_COLORS[d.status]).mark("quote-status")
            if d.title:
                ui.label(d.title).classes("text-subtitle1 text-grey-8")
            ui.space()
            self._actions(d)
        # As many columns of facts as fit (four at 1440 px, two on a phone), rather than four squeezed.
        with ui.card().classes("w-full"), ui.grid(columns=FACT_COLUMNS).classes("w-full gap-x-6 gap-y-1"):

            def fact(label: str, value: str | None, link: str | None = None) -> None:
                with ui.column().classes("gap-0"):
                    ui.label(label).classes("text-caption text-grey-7")
                    if link and value:
                        ui.link(value, link).classes("text-primary")
                    else:
                        ui.label(value or "—")

            fact(_("Institution"), d.institution_name, f"/institutions/{d.institution_id}")
            fact(_("Contact"), " · ".join(p for p in (d.contact_name, d.contact_email) if p))
            fact(_("Salesperson"), d.owner_name)
            fact(_("Date"), format_date(d.issue_date))
            fact(_("Valid until"), format_date(d.valid_until))
            if d.sent_at:
                fact(_("Sent"), format_datetime(d.sent_at, zone, style="short"))
            if d.decided_at:
                fact(
                    _("Decided"),
                    _(
                        "{when} by {name}",
                        when=format_datetime(d.decided_at, zone, style="short"),
                        name=d.decided_by_name or "—",
                    ),
                )
            if d.client_comment:
                fact(_("Client's comment"), d.client_comment)
            if d.order_number:
                fact(_("Order number"), d.order_number + (f" · {d.purchase_order_ref}" if d.purchase_order_ref else ""))
            if d.invoiced_amount:
                fact(_("Invoiced"), format_currency(d.invoiced_amount))
            if len(d.revisions) > 1:
                with ui.column().classes("gap-0"):
                    ui.label(_("Revisions")).classes("text-caption text-grey-7")
                    with ui.row().classes("gap-2"):
                        for revision in d.revisions:
                            if revision.id == d.id:
                                ui.label(revision.number).classes("text-weight-medium")
                            else:
                                ui.link(revision.number, f"/quotes/{revision.id}").classes("text-primary")

    def _actions(self, d: QuoteDetail) -> None:
        allowed = d.allowed_actions
        with ui.row().classes("items-center gap-2").mark("quote-actions"):
            ui.button(
                _("Preview PDF"),
                icon="picture_as_pdf",
                on_click=lambda: ui.navigate.to(f"/quotes/{d.id}/pdf", new_tab=True),
            ).props("outline no-caps").mark("pdf-preview")
            ui.button(
                _("Download PDF"),
                icon="download",
                on_click=lambda: ui.download.from_url(f"/quotes/{d.id}/pdf?download=1"),
            ).props("outline no-caps").mark("pdf-download")
            if d.status.value != "draft" and d.can_edit:
                ui.button(_("Email"), icon="mail", on_click=self.email_dialog).props("outline no-caps").mark(
                    "action-email"
                )
            if QuoteAction.EDIT in allowed:
                ui.button(_("Edit"), icon="edit", on_click=lambda: ui.navigate.to(f"/quotes/{d.id}/edit")).props(
                    "outline no-caps"
                ).mark("action-edit")
            if QuoteAction.SEND in allowed:
                ui.button(_("Mark as sent"), icon="send", on_click=self.send).props("unelevated no-caps").mark(
                    "action-send"
                )
            if QuoteAction.ACCEPT in allowed:
                ui.button(_("Accept"), icon="thumb_up", on_click=lambda: self.decision_dialog(accept=True)).props(
                    "unelevated no-caps color=positive"
                ).mark("action-accept")
            if QuoteAction.REJECT in allowed:
                ui.button(_("Reject"), icon="thumb_down", on_click=lambda: self.decision_dialog(accept=False)).props(
                    "outline no-caps color=negative"
                ).mark("action-reject")
            if QuoteAction.ORDER in allowed:
                ui.button(
                    _("Record the purchase order"), icon="assignment_turned_in", on_click=self.order_dialog
                ).props("unelevated no-caps").mark("action-order")
            if QuoteAction.INVOICE in allowed:
                ui.button(_("Create an invoice"), icon="receipt_long", on_click=self.invoice_dialog).props(
                    "unelevated no-caps"
                ).mark("action-invoice")
            if QuoteAction.REVISE in allowed:
                ui.button(_("New revision"), icon="difference", on_click=self.revise).props("outline no-caps").mark(
                    "action-revise"
                )
            if QuoteAction.CANCEL in allowed:
                ui.button(_("Cancel the quote"), icon="block", on_click=self.cancel_dialog).props(
                    "flat no-caps color=negative"
                ).mark("action-cancel")

    def _lines(self, d: QuoteDetail) -> None:
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
            {"name": "unit", "label": _("Unit"), "field": "unit", "align": "left"},
            {"name": "unit_price", "label": _("Unit price excl. VAT"), "field": "unit_price", **MONEY},
            {"name": "discount", "label": _("Discount"), "field": "discount", **MONEY},
            {"name": "vat", "label": _("VAT"), "field": "vat", **MONEY},
            {"name": "net", "label": _("Net excl. VAT"), "field": "net", **MONEY},
        ]
        rows = []
        for line in d.lines:
            if not line.discount_value:
                discount = ""
            elif line.discount_type is DiscountType.PERCENT:
                discount = f"{number_text(line.discount_value)} %"
            else:
                discount = format_currency(line.discount_value)
            rows.append(
                {
                    "id": str(line.id),
                    "reference": line.reference or "",
                    "description": line.description,
                    "quantity": number_text(line.quantity),
                    "unit": unit_label(line.unit, line.quantity),
                    "unit_price": format_currency(line.unit_price),
                    "discount": discount,
                    "vat": rate_label(line.vat_rate),
                    "net": format_currency(line.net_amount),
                }
            )
        with ui.card().classes("w-full"):
            lines_table(columns, rows, props="flat dense").mark("quote-lines")
            with ui.row().classes("w-full"):
                if d.notes:
                    ui.label(d.notes).classes("whitespace-pre-wrap text-grey-8 max-w-xl").mark("quote-notes")
                ui.space()
                with ui.column().classes("gap-1 min-w-72").mark("totals"):
                    show_totals(
                        money.Totals(
                            lines=(),
                            subtotal=d.subtotal,
                            global_discount=d.global_discount,
                            total_excl_vat=d.total_excl_vat,
                            vat_rows=d.vat_rows,
                            total_vat=d.total_vat,
                            total_incl_vat=d.total_incl_vat,
                        )
                    )

    async def _invoices(self) -> None:
        """The quote's invoices (number or "Draft", status, total), each a link to its page; nothing
        while the quote has none."""
        found = await call(invoices.quote_invoices, self.quote_id)
        if not found or not found.items:
            return
        with ui.card().classes("w-full gap-1").mark("quote-invoices"):
            ui.label(_("Invoices")).classes("text-subtitle1 text-weight-medium")
            for row in found.items:
                with ui.row().classes("items-center gap-3").mark("quote-invoice"):
                    ui.link(document_name(row), f"/invoices/{row.id}").classes("text-primary").mark(
                        f"quote-invoice-link-{row.id}"
                    )
                    if row.kind is InvoiceKind.CREDIT_NOTE:
                        ui.label(_(KIND_LABELS[row.kind])).classes("text-grey-7")
                    status_badge(row.kind, row.status)
                    ui.label(format_currency(row.total_incl_vat))
            if found.total > len(found.items):
                ui.link(_("All {count} invoices", count=found.total), f"/invoices?quote_id={self.quote_id}").classes(
                    "text-primary"
                ).mark("quote-invoices-all")

    async def _reminders(self, box: ui.column) -> None:
        found = await call(quote_views.quote_reminders, self.quote_id)
        if found is None or box.is_deleted:
            return
        box.clear()
        with box:
            self._reminder_list(found)

    def _reminder_list(self, found: list[ReminderRow]) -> None:
        zone = self.zone
        if not found:
            ui.label(_("No reminder has been sent for this quote.")).classes("text-grey-7").mark("no-reminders")
            return
        with ui.list().props("separator dense").classes("max-w-xl").mark("reminders"):
            for reminder in found:
                with ui.item(), ui.item_section():
                    ui.item_label(_(QUOTE_REMINDER_SPECS[reminder.kind].label))
                    ui.item_label(
                        _(
                            "Sent to the salesperson on {when}",
                            when=format_datetime(reminder.sent_at, zone, style="short"),
                        )
                    ).props("caption")

    def _history(self) -> PagedTable:
        def convert(row: audit.HistoryRow) -> dict[str, Any]:
            # Worded as every history words it (`crm_app.sales.history_wording`): the quote's entries as a
            # quote's, its order's emails as the order's.
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
            page = await call(quotes.quote_history, self.quote_id, page_request(state))
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
        table.table.mark("history-table")
        return table

    # ---- actions

    async def _act(
        self, fn: Any, *args: Any, done: str | Callable[[Any], str], fields: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """Run one workflow action, rebuild the page and confirm with `done` (`live.RecordPanel.act`).
        No expected version: the service locks the quote and checks its status, so a move someone
        else made meanwhile is refused with what the status is now."""
        if self.detail is None:
            return None
        return await self.panel.act(fn, self.quote_id, *args, done=done, fields=fields, **kwargs)

    async def send(self) -> None:
        await self._act(quotes.send_quote, done=_("The quote is marked as sent."))

    def decision_dialog(self, *, accept: bool) -> None:
        with self.frame, disposable(ui.dialog()) as dialog, ui.card().classes("w-[32rem]").mark("decision-dialog"):
            ui.label(_("The client accepted the quote") if accept else _("The client rejected the quote")).classes(
                "text-h6"
            )
            comment = (
                ui.textarea(_("Client's comment")).props("outlined autogrow").classes("w-full").mark("client-comment")
            )

            async def confirm() -> None:
                fn = quotes.accept_quote if accept else quotes.reject_quote
                done = _("Quote accepted.") if accept else _("Quote rejected.")
                result = await self._act(
                    fn, client_comment=comment.value or None, done=done, fields={"client_comment": comment}
                )
                if result is not None and not dialog.is_deleted:  # refused: the comment and why stay in view
                    dialog.close()

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Confirm"), on_click=confirm).props("unelevated").mark("decision-confirm")
        dialog.open()

    def order_dialog(self) -> None:
        with self.frame, disposable(ui.dialog()) as dialog, ui.card().classes("w-96").mark("order-dialog"):
            ui.label(_("Record the purchase order")).classes("text-h6")
            reference = (
                ui.input(_("Client's purchase order reference"))
                .props("outlined maxlength=80")
                .classes("w-full")
                .mark("order-reference")
            )

            async def confirm() -> None:
                result = await self._act(
                    quotes.record_order,
                    purchase_order_ref=reference.value or None,
                    done=lambda quote: _("Order {number} recorded.", number=quote.order_number),
                    fields={"purchase_order_ref": reference},
                )
                if result is not None and not dialog.is_deleted:
                    dialog.close()

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Record"), on_click=confirm).props("unelevated").mark("order-confirm")
        dialog.open()

    def cancel_dialog(self) -> None:
        with self.frame, disposable(ui.dialog()) as dialog, ui.card().mark("cancel-dialog"):
            ui.label(_("Cancel this quote? It cannot be undone.")).classes("text-subtitle1")

            async def confirm() -> None:
                dialog.close()
                await self._act(quotes.cancel_quote, done=_("Quote cancelled."))

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Keep it"), on_click=dialog.close).props("flat")
                ui.button(_("Cancel the quote"), on_click=confirm).props("unelevated color=negative").mark(
                    "cancel-confirm"
                )
        dialog.open()

    async def revise(self) -> None:
        if self.panel.busy or self.detail is None:
            return
        self.panel.busy = True
        try:
            with self.frame:
                successor = await call(quotes.revise_quote, self.quote_id)
        finally:
            self.panel.busy = False
        if successor is None:
            await self.show()
            return
        with self.frame:
            ui.notify(_("Revision {number} created.", number=successor.number), type="positive")
            ui.navigate.to(f"/quotes/{successor.id}/edit")

    def invoice_dialog(self) -> None:
        d = self.detail
        if d is None:
            return
        remaining = d.total_incl_vat - d.invoiced_amount
        with self.frame, disposable(ui.dialog()) as dialog, ui.card().classes("w-[28rem]").mark("invoice-dialog"):
            ui.label(_("Create an invoice")).classes("text-h6")
            ui.label(_("Remaining to invoice: {amount}", amount=format_currency(remaining))).classes("text-grey-8")
            kind = (
                ui.radio({"full": _("All that remains"), "deposit": _("A deposit (percentage)")}, value="full")
                .props("inline")
                .mark("invoice-kind")
            )
            percent = (
                ui.input(_("Deposit (%)"), value="30")
                .props("outlined dense inputmode=decimal suffix=%")
                .classes("w-40")
                .mark("invoice-percent")
            )
            percent.bind_visibility_from(kind, "value", value="deposit")
            button = None

            async def create() -> None:
                assert button is not None
                value: Decimal | None = None
                if kind.value == "deposit":
                    try:
                        value = parse_number(percent.value, places=2)
                    except ValueError:
                        value = None
                    if value is None:
                        percent.error = _("Enter a number.")
                        return
                button.disable()
                with self.frame:
                    invoice = await call(
                        invoices.create_invoice_from_quote, self.quote_id, percent=value, fields={"percent": percent}
                    )
                    if invoice is None:
                        if not button.is_deleted:
                            button.enable()
                        return
                    dialog.close()
                    ui.notify(_("Draft invoice created."), type="positive")
                    ui.navigate.to(f"/invoices/{invoice.id}")

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                button = ui.button(_("Create"), on_click=create).props("unelevated").mark("invoice-confirm")
        dialog.open()

    async def email_dialog(self) -> None:
        if self.detail is None:
            return
        with self.frame:
            await open_document_email_dialog(
                DocumentKind.QUOTE, self.quote_id, self.detail.institution_id, contact_id=self.detail.contact_id
            )
