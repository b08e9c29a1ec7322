"""Payments: partial payments, never above what remains due, statuses recomputed on every payment
recorded or deleted (issued / partially_paid / paid / overdue), who may record them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from crm_app.institutions.models import Institution
from crm_app.platform.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from crm_app.sales import invoices, payments
from crm_app.sales.models.invoices import Invoice, InvoiceStatus, Payment, PaymentMethod
from tests.activity_factories import Org, make_org
from tests.institution_factories import make_buyer

D = Decimal


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


@pytest.fixture
def institution(db: Session) -> Institution:
    return make_buyer(db)


@pytest.fixture
def invoice(db: Session, org: Org, institution: Institution) -> Invoice:
    """An issued invoice of rep A: 1,000.00 excl. VAT, 1,200.00 incl., due in 30 days."""
    draft = invoices.create_invoice(
        db,
        org.rep_a.actor,
        {
            "institution_id": institution.id,
            "lines": [{"description": "Maintenance", "quantity": "1", "unit_price": "1000.00", "vat_rate": "20"}],
        },
    )
    return invoices.issue_invoice(db, org.rep_a.actor, draft.id)


def pay(db: Session, org: Org, invoice: Invoice, amount: str, **values: Any) -> Payment:
    return payments.record_payment(
        db, org.rep_a.actor, invoice.id, {"amount": amount, "method": values.pop("method", "transfer"), **values}
    )


def test_partial_payments_then_paid(db: Session, org: Org, invoice: Invoice) -> None:
    first = pay(db, org, invoice, "200.00", reference="VIR-1")
    assert (invoice.status, invoice.amount_paid, invoice.paid_at) == (InvoiceStatus.PARTIALLY_PAID, D("200.00"), None)
    assert first.paid_on == invoices.today(db) and first.method == PaymentMethod.TRANSFER
    pay(db, org, invoice, "1000,00", method="check")
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_at is not None
    assert invoices.remaining_amount(invoice) == D("0.00")


def test_a_payment_never_exceeds_what_remains_due(db: Session, org: Org, invoice: Invoice) -> None:
    with pytest.raises(ValidationFailed) as too_much:
        pay(db, org, invoice, "1200.01")
    assert too_much.value.field_errors == {"amount": "A payment cannot exceed what remains due on the invoice."}
    pay(db, org, invoice, "1199.99")
    with pytest.raises(ValidationFailed):
        pay(db, org, invoice, "0.02")
    pay(db, org, invoice, "0.01")
    with pytest.raises(InvalidTransition) as when_paid:
        pay(db, org, invoice, "0.01")
    assert when_paid.value.current_status == "paid"


def test_credited_amounts_count_against_payments(db: Session, org: Org, invoice: Invoice) -> None:
    invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("1000.00"))
    with pytest.raises(ValidationFailed):
        pay(db, org, invoice, "200.01")
    pay(db, org, invoice, "200.00")
    assert invoice.status == InvoiceStatus.PAID


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ({"amount": "0", "method": "cash"}, {"amount": "Out of range."}),
        ({"amount": "-5", "method": "cash"}, {"amount": "Out of range."}),
        ({"amount": "10.001", "method": "cash"}, {"amount": "Too many decimals."}),
        ({"amount": "abc", "method": "bitcoin"}, {"amount": "Enter a number.", "method": "Unknown value."}),
        ({"method": "cash"}, {"amount": "This field is required."}),
        ({"amount": "10"}, {"method": "This field is required."}),
        ({"amount": "10", "method": "cash", "paid_on": "yesterday"}, {"paid_on": "Enter a date."}),
        ({"amount": "10", "method": "cash", "tip": "1"}, {"tip": "Unknown field."}),
    ],
)
def test_payment_input_is_checked(
    db: Session, org: Org, invoice: Invoice, raw: dict[str, Any], errors: dict[str, str]
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        payments.record_payment(db, org.rep_a.actor, invoice.id, raw)
    assert refused.value.field_errors == errors


def test_a_payment_date_cannot_be_in_the_future(db: Session, org: Org, invoice: Invoice) -> None:
    with pytest.raises(ValidationFailed) as refused:
        pay(db, org, invoice, "10", paid_on=(invoices.today(db) + timedelta(days=1)).isoformat())
    assert set(refused.value.field_errors) == {"paid_on"}
    earlier = pay(db, org, invoice, "10", paid_on=(invoices.today(db) - timedelta(days=3)).isoformat())
    assert earlier.paid_on == invoices.today(db) - timedelta(days=3)


def test_no_payment_on_a_draft_or_a_credit_note(
    db: Session, org: Org, institution: Institution, invoice: Invoice
) -> None:
    draft = invoices.create_invoice(
        db,
        org.rep_a.actor,
        {
            "institution_id": institution.id,
            "lines": [{"description": "x", "quantity": "1", "unit_price": "10", "vat_rate": "20"}],
        },
    )
    with pytest.raises(InvalidTransition) as on_draft:
        pay(db, org, draft, "1")
    assert on_draft.value.current_status == "draft"
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("12"))
    with pytest.raises(InvalidTransition):
        pay(db, org, note, "1")


def test_deleting_payments_recomputes_the_status(db: Session, org: Org, invoice: Invoice) -> None:
    first = pay(db, org, invoice, "200.00")
    second = pay(db, org, invoice, "1000.00")
    assert invoice.status == InvoiceStatus.PAID
    payments.delete_payment(db, org.rep_a.actor, invoice.id, second.id)
    assert (invoice.status, invoice.amount_paid, invoice.paid_at) == (InvoiceStatus.PARTIALLY_PAID, D("200.00"), None)
    payments.delete_payment(db, org.rep_a.actor, invoice.id, first.id)
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.ISSUED, D("0.00"))
    assert payments.list_payments(db, org.rep_a.actor, invoice.id) == []
    with pytest.raises(NotFound):
        payments.delete_payment(db, org.rep_a.actor, invoice.id, first.id)


def test_a_payment_of_another_invoice_is_not_found(
    db: Session, org: Org, institution: Institution, invoice: Invoice
) -> None:
    other = invoices.issue_invoice(
        db,
        org.rep_a.actor,
        invoices.create_invoice(
            db,
            org.rep_a.actor,
            {
                "institution_id": institution.id,
                "lines": [{"description": "x", "quantity": "1", "unit_price": "10", "vat_rate": "20"}],
            },
        ).id,
    )
    payment = pay(db, org, other, "1")
    with pytest.raises(NotFound):
        payments.delete_payment(db, org.rep_a.actor, invoice.id, payment.id)


def test_past_due_invoices_are_overdue_until_fully_paid(
    db: Session, org: Org, invoice: Invoice, clock: Callable[..., datetime]
) -> None:
    clock(days=31)
    pay(db, org, invoice, "100.00")
    assert invoice.status == InvoiceStatus.OVERDUE
    last = pay(db, org, invoice, "1100.00")
    assert invoice.status == InvoiceStatus.PAID
    payments.delete_payment(db, org.rep_a.actor, invoice.id, last.id)
    assert invoice.status == InvoiceStatus.OVERDUE
    assert invoices.settle(db, org.rep_a.actor, invoice, on=invoice.due_date) == InvoiceStatus.PARTIALLY_PAID


def test_rights_on_payments(db: Session, org: Org, invoice: Invoice) -> None:
    with pytest.raises(Forbidden):
        payments.record_payment(db, org.rep_b.actor, invoice.id, {"amount": "1", "method": "cash"})
    with pytest.raises(Forbidden):
        payments.record_payment(db, org.rep_a2.actor, invoice.id, {"amount": "1", "method": "cash"})
    by_manager = payments.record_payment(db, org.manager_a.actor, invoice.id, {"amount": "1", "method": "cash"})
    with pytest.raises(Forbidden):
        payments.delete_payment(db, org.rep_b.actor, invoice.id, by_manager.id)
    payments.delete_payment(db, org.admin.actor, invoice.id, by_manager.id)
    assert [row.amount for row in payments.list_payments(db, org.manager_a.actor, invoice.id)] == []
