"""The audit trail of one invoice or credit note (created, changed, issued, paid, credited...), newest
first, paged, for the invoice page's History."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col

from crm_app.platform import audit
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, authorize
from crm_app.sales.invoices import get_invoice_record, placement

ENTITY_TYPES = ("invoice", "credit_note")


def invoice_history(
    session: Session, actor: Actor, invoice_id: uuid.UUID, request: PageRequest | None = None
) -> Page[audit.HistoryRow]:
    """What happened to the invoice, newest first; the actor must be allowed to see the invoice."""
    invoice = get_invoice_record(session, invoice_id)
    authorize(actor, "record.view", placement(invoice))
    return audit.history_page(
        session,
        (col(AuditEntry.entity_type).in_(ENTITY_TYPES), col(AuditEntry.entity_id) == invoice_id),
        request or PageRequest(),
    )
