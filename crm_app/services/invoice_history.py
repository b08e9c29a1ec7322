"""The audit trail of one invoice or credit note (created, changed, issued, paid, credited...), newest
first, paged, for the invoice page's History."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ..models import AuditEntry
from . import audit
from .invoices import get_invoice_record, placement
from .paging import Page, PageRequest
from .permissions import Actor, authorize

ENTITY_TYPES = ("invoice", "credit_note")


def invoice_history(session: Session, actor: Actor, invoice_id: uuid.UUID,
                    request: PageRequest | None = None) -> Page[audit.HistoryRow]:
    """What happened to the invoice, newest first; the actor must be allowed to see the invoice."""
    invoice = get_invoice_record(session, invoice_id)
    authorize(actor, "record.view", placement(invoice))
    request = request or PageRequest()
    where = (col(AuditEntry.entity_type).in_(ENTITY_TYPES), col(AuditEntry.entity_id) == invoice_id)
    total = session.exec(select(sa.func.count()).select_from(AuditEntry).where(*where)).one()
    rows = session.exec(select(AuditEntry).where(*where).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id))
                        .offset(request.offset).limit(request.page_size)).all()
    return Page([audit.HistoryRow(r.id, r.at, r.actor_name, r.entity_type, r.action, r.field, r.old_value,
                                  r.new_value) for r in rows], int(total), request.page, request.page_size)
