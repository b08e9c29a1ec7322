"""Payments of issued invoices (DOMAIN.md "Invoices"): partial payments allowed, Σ payments + Σ credit
notes never above the invoice's total, the invoice's status recomputed on every payment recorded or
deleted (issued / partially_paid / paid / overdue, see `invoices.settle`).

Refunds (DOMAIN.md "E-invoicing (France)"): money paid back to the client on a credit note of a paid or
partly paid invoice, recorded as payments out on the credit note (`invoices.add_refund`), with the
same rights as payments."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from crm_app.platform import cleaners as fields
from crm_app.platform import events
from crm_app.platform.errors import InvalidTransition, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.records import actor_id
from crm_app.sales.invoices import (
    SETTLEABLE_STATUSES,
    PaymentRow,
    add_refund,
    audit_change,
    clean_refund,
    editable_invoice,
    get_invoice_record,
    payment_rows,
    placement,
    remaining_amount,
    settle,
    today,
)
from crm_app.sales.lines import amount_field
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentDirection, PaymentMethod

PAYMENT_METHOD_LABELS: dict[PaymentMethod, str] = {
    PaymentMethod.TRANSFER: N_("Bank transfer"),
    PaymentMethod.CHECK: N_("Cheque"),
    PaymentMethod.CARD: N_("Card"),
    PaymentMethod.CASH: N_("Cash"),
    PaymentMethod.DIRECT_DEBIT: N_("Direct debit"),
    PaymentMethod.OTHER: N_("Other"),
}

CLEANERS: dict[str, fields.Cleaner] = {
    "amount": amount_field(positive=True, required=True),
    "paid_on": fields.day(),
    "method": fields.choice(PaymentMethod, required=True),
    "reference": fields.text(120),
}


def record_payment(session: Session, actor: Actor, invoice_id: uuid.UUID, raw: Mapping[str, Any]) -> Payment:
    """Record a payment: `amount` (> 0), `paid_on` (default today, never in the future), `method`
    (transfer, check, card, cash, direct_debit, other), `reference`. Refused on a draft, a credit note,
    a paid or cancelled invoice (InvalidTransition), and above what remains due (ValidationFailed
    on `amount`). The invoice's status is recomputed; becoming paid tells its owner."""
    values = fields.clean_all(raw, CLEANERS, partial=False)
    invoice = editable_invoice(session, actor, invoice_id)
    if invoice.kind != InvoiceKind.INVOICE:
        raise InvalidTransition(
            InvoiceStatus(invoice.status).value, N_("Payments are recorded on invoices, not on credit notes.")
        )
    if invoice.status not in SETTLEABLE_STATUSES:
        raise InvalidTransition(
            InvoiceStatus(invoice.status).value, N_("Payments are recorded on issued invoices that are not fully paid.")
        )
    day = today(session)
    paid_on = values.get("paid_on") or day
    if paid_on > day:
        raise ValidationFailed({"paid_on": N_("A payment date cannot be in the future.")})
    if values["amount"] > remaining_amount(invoice):
        raise ValidationFailed({"amount": N_("A payment cannot exceed what remains due on the invoice.")})
    payment = Payment(
        invoice_id=invoice.id,
        amount=values["amount"],
        paid_on=paid_on,
        method=values["method"],
        reference=values.get("reference"),
        created_by=actor_id(actor),
    )
    session.add(payment)
    old_paid = invoice.amount_paid
    invoice.amount_paid += payment.amount
    invoice.updated_by = actor_id(actor)
    invoice.touch()
    session.add(invoice)
    session.flush()
    audit_change(session, actor, invoice, "payment", {"amount_paid": (old_paid, invoice.amount_paid)})
    settle(session, actor, invoice, on=day)
    events.publish(
        session, events.PaymentRecorded(payment_id=payment.id, invoice_id=invoice.id, actor_id=actor_id(actor))
    )
    return payment


def delete_payment(session: Session, actor: Actor, invoice_id: uuid.UUID, payment_id: uuid.UUID) -> None:
    """Remove a payment recorded by mistake; the invoice's status is recomputed."""
    invoice = editable_invoice(session, actor, invoice_id)
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is None or payment.invoice_id != invoice.id or payment.direction != PaymentDirection.IN:
        raise NotFound(N_("This payment does not exist."))
    if invoice.amount_refunded > 0 and remaining_amount(invoice) + payment.amount > 0:
        raise InvalidTransition(
            InvoiceStatus(invoice.status).value,
            N_("Part of this payment was refunded: delete the refund on the credit note first."),
        )
    old_paid = invoice.amount_paid
    invoice.amount_paid -= payment.amount
    invoice.updated_by = actor_id(actor)
    invoice.touch()
    session.delete(payment)
    session.add(invoice)
    session.flush()
    audit_change(session, actor, invoice, "payment_delete", {"amount_paid": (old_paid, invoice.amount_paid)})
    settle(session, actor, invoice)


def list_payments(session: Session, actor: Actor, invoice_id: uuid.UUID) -> list[PaymentRow]:
    """The payments of an invoice the actor may see, oldest first."""
    invoice = get_invoice_record(session, invoice_id)
    authorize(actor, "record.view", placement(invoice))
    return payment_rows(session, invoice.id)


# --------------------------------------------------------------------------------------------
# Refunds


def _credit_note_and_invoice(session: Session, actor: Actor, credit_note_id: uuid.UUID) -> tuple[Invoice, Invoice]:
    """The credit note and the invoice it credits, both locked (the invoice first, as crediting does),
    when the actor may edit the credit note."""
    note = get_invoice_record(session, credit_note_id)
    if note.kind != InvoiceKind.CREDIT_NOTE or note.credited_invoice_id is None:
        raise InvalidTransition(
            InvoiceStatus(note.status).value, N_("Refunds are recorded on credit notes, not on invoices.")
        )
    invoice = editable_invoice(session, actor, note.credited_invoice_id)
    return editable_invoice(session, actor, note.id), invoice


def record_refund(session: Session, actor: Actor, credit_note_id: uuid.UUID, raw: Mapping[str, Any]) -> Payment:
    """Record money paid back to the client on an issued credit note: `amount` (> 0), `paid_on`
    (default today, never in the future), `method`, `reference`, as a payment. Refused on an invoice
    (InvalidTransition) and above what remains refundable: the part of the credited invoice's payments
    its credit notes left unowed, at most the credit note's total (ValidationFailed on `amount`)."""
    values = clean_refund(raw)
    note, invoice = _credit_note_and_invoice(session, actor, credit_note_id)
    return add_refund(session, actor, note, invoice, values)


def delete_refund(session: Session, actor: Actor, credit_note_id: uuid.UUID, refund_id: uuid.UUID) -> None:
    """Remove a refund recorded by mistake: the money is owed to the client again."""
    note, invoice = _credit_note_and_invoice(session, actor, credit_note_id)
    refund = session.get(Payment, refund_id, with_for_update=True)
    if refund is None or refund.invoice_id != note.id or refund.direction != PaymentDirection.OUT:
        raise NotFound(N_("This refund does not exist."))
    session.delete(refund)
    for document in (note, invoice):
        old = document.amount_refunded
        document.amount_refunded -= refund.amount
        document.updated_by = actor_id(actor)
        document.touch()
        session.add(document)
        session.flush()
        audit_change(session, actor, document, "refund_delete", {"amount_refunded": (old, document.amount_refunded)})
    settle(session, actor, invoice)


def list_refunds(session: Session, actor: Actor, credit_note_id: uuid.UUID) -> list[PaymentRow]:
    """The refunds of a credit note the actor may see, oldest first."""
    note = get_invoice_record(session, credit_note_id)
    authorize(actor, "record.view", placement(note))
    return payment_rows(session, note.id, direction=PaymentDirection.OUT)
