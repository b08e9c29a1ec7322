"""The "send by email" dialog of a sales document (quote, order, invoice, credit note), shared by the
quote and invoice pages: recipients among the institution's contacts plus other addresses, subject
and body prefilled from the document's template (`documents.email_draft`), then the outbox.

One request key per opened dialog: a double click on "Send" queues nothing more (see
`crm_app.sales.documents`), while opening the dialog again later sends again on purpose."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from components.backend import call
from components.dialogs import disposable
from crm_app.institutions import contacts
from crm_app.institutions.contacts import ContactRow
from crm_app.platform.i18n import N_
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import PageRequest
from crm_app.sales import documents
from crm_app.sales.models.quotes import DocumentKind

CONTACTS_OFFERED = 100
TITLES = {
    DocumentKind.QUOTE: N_("Email the quote"),
    DocumentKind.ORDER: N_("Email the order"),
    DocumentKind.INVOICE: N_("Email the invoice"),
    DocumentKind.CREDIT_NOTE: N_("Email the credit note"),
}


def _addresses(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace(";", ",").replace("\n", ",").split(",") if part.strip()]


def _reachable(rows: list[ContactRow]) -> list[ContactRow]:
    """The contacts one may email: an address, and no objection to emails."""
    return [row for row in rows if row.email and not row.email_opt_out]


async def open_document_email_dialog(
    kind: DocumentKind | str,
    document_id: uuid.UUID,
    institution_id: uuid.UUID,
    *,
    contact_id: uuid.UUID | None = None,
    on_sent: Callable[[], Awaitable[None] | None] | None = None,
) -> None:
    """Open the dialog for one document of `institution_id`. The document's contact (`contact_id`),
    else the institution's primary contact, is chosen at first. `on_sent` runs once the messages
    are queued."""
    kind = DocumentKind(kind)
    found, draft = await asyncio.gather(
        call(contacts.list_for_institution, institution_id, request=PageRequest(1, CONTACTS_OFFERED)),
        call(documents.email_draft, kind, document_id),
    )
    if found is None or draft is None:
        return
    subject_text, body_text = draft
    reachable = _reachable(found.items)
    options = {str(row.id): f"{row.full_name} <{row.email}>" for row in reachable}
    first = next((row for row in reachable if row.id == contact_id), None) or next(
        (row for row in reachable if row.is_primary), None
    )
    chosen = [str(first.id)] if first is not None else []
    request_key = uuid.uuid4().hex

    with ui.dialog() as dialog, ui.card().classes("w-[44rem] max-w-full").mark("email-dialog"):
        ui.label(_(TITLES[kind])).classes("text-h6")
        if not reachable:
            ui.label(_("No contact of this institution has an email address.")).classes("text-grey-7")
        recipients = (
            ui.select(options, multiple=True, value=chosen, label=_("Recipients"))
            .props("outlined use-chips")
            .classes("w-full")
            .mark("email-recipients")
        )
        extra = (
            ui.input(_("Other addresses"), placeholder=_("Separated by commas"))
            .props("outlined")
            .classes("w-full")
            .mark("email-extra")
        )
        subject = ui.input(_("Subject"), value=subject_text).props("outlined").classes("w-full").mark("email-subject")
        body = (
            ui.textarea(_("Message"), value=body_text).props("outlined autogrow").classes("w-full").mark("email-body")
        )
        ui.label(_("The PDF is attached.")).classes("text-caption text-grey-7")
        fields: dict[str, Any] = {"contact_ids": recipients, "extra_emails": extra, "subject": subject, "body": body}

        async def send() -> None:
            if send_button.enabled is False:
                return
            send_button.disable()
            try:
                ids = [uuid.UUID(value) for value in recipients.value or []]
                queued = await call(
                    documents.email_document,
                    kind,
                    document_id,
                    contact_ids=ids,
                    extra_emails=_addresses(extra.value),
                    subject=subject.value or "",
                    body=body.value or "",
                    request_key=request_key,
                    fields=fields,
                )
            finally:
                if not send_button.is_deleted:
                    send_button.enable()
            if queued is None:
                return
            ui.notify(_("The email is on its way."), type="positive")
            dialog.close()
            if on_sent is not None:
                result = on_sent()
                if result is not None:
                    await result

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
            send_button = (
                ui.button(_("Send"), icon="send", on_click=send).props("unelevated no-caps").mark("email-send")
            )
    disposable(dialog).open()
