"""Crediting a paid or partly paid invoice and refunding the client (DOMAIN.md "E-invoicing (France)"):
the credit note records the money paid back as payments out, never more than was overpaid; the
invoice's balance and status, the client's receivables and the cash collected stay exact."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from crm_app.analytics import dashboard as analytics
from crm_app.analytics.dashboard import DashboardScope, Period
from crm_app.institutions import timeline
from crm_app.institutions.models import Institution
from crm_app.platform import events
from crm_app.platform.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from crm_app.sales import invoice_history, invoices, payments
from crm_app.sales.invoices import InvoiceQuery
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


def issued(db: Session, org: Org, institution: Institution, unit_price: str = "1000.00") -> Invoice:
    """An issued invoice of rep A, at 20 % VAT (1,000.00 excl. → 1,200.00 incl.)."""
    draft = invoices.create_invoice(
        db,
        org.rep_a.actor,
        {
            "institution_id": institution.id,
            "lines": [{"description": "Maintenance", "quantity": "1", "unit_price": unit_price, "vat_rate": "20"}],
        },
    )
    return invoices.issue_invoice(db, org.rep_a.actor, draft.id)


def pay(db: Session, org: Org, invoice: Invoice, amount: str) -> Payment:
    return payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": amount, "method": "transfer"})


def refund_of(amount: str, **values: Any) -> dict[str, Any]:
    return {"amount": amount, "method": values.pop("method", "transfer"), **values}


def balances(invoice: Invoice) -> tuple[Any, ...]:
    return (
        InvoiceStatus(invoice.status),
        invoice.amount_paid,
        invoice.amount_credited,
        invoice.amount_refunded,
        invoices.remaining_amount(invoice),
    )


def test_a_fully_paid_invoice_is_credited_with_its_refund_and_settles_at_zero(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org, institution)
    pay(db, org, invoice, "1200.00")
    assert invoice.status == InvoiceStatus.PAID
    note = invoices.create_credit_note(
        db, org.rep_a.actor, invoice.id, refund={**refund_of("1200.00", reference="VIR-RBT-1")}
    )
    # Nothing remained unpaid: the credit note is the whole invoice, its lines copied.
    assert note.total_incl_vat == D("1200.00") and note.amount_refunded == D("1200.00")
    assert balances(invoice) == (InvoiceStatus.CANCELLED, D("1200.00"), D("1200.00"), D("1200.00"), D("0.00"))
    [refund] = payments.list_refunds(db, org.rep_a.actor, note.id)
    assert (refund.amount, refund.direction, refund.method, refund.reference) == (
        D("1200.00"),
        "out",
        "transfer",
        "VIR-RBT-1",
    )
    assert refund.paid_on == invoices.today(db)
    # The invoice lists its payment and, apart, the refund with its credit note.
    detail = invoices.get_invoice(db, org.rep_a.actor, invoice.id)
    assert [p.amount for p in detail.payments] == [D("1200.00")]
    assert [(r.amount, r.credit_note_number) for r in detail.refunds] == [(D("1200.00"), note.number)]
    assert detail.refundable == D("0.00") and detail.remaining == D("0.00")
    [published] = [e for e in events.pending(db) if isinstance(e, events.RefundRecorded)]
    assert (published.credit_note_id, published.invoice_id, published.amount) == (note.id, invoice.id, "1200.00")


def test_the_refund_can_come_later_and_in_parts_never_above_what_was_overpaid(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org, institution)
    pay(db, org, invoice, "1200.00")
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("300.00"))
    # Paid 1,200, owed 900 after the credit note: 300 to pay back, the balance is negative meanwhile.
    assert balances(invoice) == (InvoiceStatus.PAID, D("1200.00"), D("300.00"), D("0.00"), D("-300.00"))
    assert invoices.get_invoice(db, org.rep_a.actor, note.id).refundable == D("300.00")
    with pytest.raises(ValidationFailed) as too_much:
        payments.record_refund(db, org.rep_a.actor, note.id, refund_of("300.01"))
    assert too_much.value.field_errors == {"amount": "A refund cannot exceed what remains to refund."}
    with pytest.raises(ValidationFailed) as future:
        payments.record_refund(
            db, org.rep_a.actor, note.id, refund_of("10", paid_on=(invoices.today(db) + timedelta(days=1)).isoformat())
        )
    assert set(future.value.field_errors) == {"paid_on"}
    payments.record_refund(db, org.rep_a.actor, note.id, refund_of("100.00", method="check"))
    payments.record_refund(db, org.rep_a.actor, note.id, refund_of("200.00"))
    assert balances(invoice) == (InvoiceStatus.PAID, D("1200.00"), D("300.00"), D("300.00"), D("0.00"))
    with pytest.raises(ValidationFailed) as nothing_left:
        payments.record_refund(db, org.rep_a.actor, note.id, refund_of("0.01"))
    assert nothing_left.value.field_errors == {"amount": "Nothing remains to refund on this credit note."}


def test_a_partly_paid_invoice_refunds_only_what_the_credit_note_takes_beyond_the_unpaid_part(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org, institution)
    pay(db, org, invoice, "700.00")
    # The default credit note cancels what remains unpaid: nothing to refund.
    with pytest.raises(ValidationFailed) as no_refund:
        invoices.create_credit_note(db, org.rep_a.actor, invoice.id, refund=refund_of("1"))
    assert no_refund.value.field_errors == {"refund.amount": "Nothing remains to refund on this credit note."}
    # The whole invoice: the 700 paid are owed back; a refund at creation above it is refused.
    with pytest.raises(ValidationFailed) as too_much:
        invoices.create_credit_note(db, org.rep_a.actor, invoice.id, full=True, refund=refund_of("700.01"))
    assert set(too_much.value.field_errors) == {"refund.amount"}
    assert balances(invoice)[2] == D("0.00")  # the refused credit note left nothing behind
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, full=True, refund=refund_of("450.00"))
    assert note.total_incl_vat == D("1200.00")
    assert balances(invoice) == (InvoiceStatus.CANCELLED, D("700.00"), D("1200.00"), D("450.00"), D("-250.00"))
    payments.record_refund(db, org.rep_a.actor, note.id, refund_of("250.00"))
    assert invoices.remaining_amount(invoice) == D("0.00")


def test_refund_input_is_checked_next_to_its_fields(db: Session, org: Org, institution: Institution) -> None:
    invoice = issued(db, org, institution)
    pay(db, org, invoice, "1200.00")
    with pytest.raises(ValidationFailed) as refused:
        invoices.create_credit_note(
            db, org.rep_a.actor, invoice.id, refund={"amount": "-1", "method": "bitcoin", "paid_on": "hier"}
        )
    assert refused.value.field_errors == {
        "refund.amount": "Out of range.",
        "refund.method": "Unknown value.",
        "refund.paid_on": "Enter a date.",
    }
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id)
    with pytest.raises(ValidationFailed) as missing:
        payments.record_refund(db, org.rep_a.actor, note.id, {"amount": "10"})
    assert missing.value.field_errors == {"method": "This field is required."}


def test_refunds_go_on_credit_notes_only_and_follow_the_rights_of_payments(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org, institution)
    pay(db, org, invoice, "1200.00")
    with pytest.raises(InvalidTransition):
        payments.record_refund(db, org.rep_a.actor, invoice.id, refund_of("10"))
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id)
    for action in (
        lambda a: payments.record_refund(db, a, note.id, refund_of("10")),
        lambda a: payments.list_refunds(db, a, note.id),
    ):
        with pytest.raises(Forbidden):
            action(org.rep_b.actor)
    payments.record_refund(db, org.manager_a.actor, note.id, refund_of("10"))  # the owner's manager
    # A refund is not a payment of the credit note, nor deleted as one of the invoice.
    [refund] = payments.list_refunds(db, org.rep_a.actor, note.id)
    with pytest.raises(NotFound):
        payments.delete_payment(db, org.rep_a.actor, note.id, refund.id)
    with pytest.raises(NotFound):
        payments.delete_payment(db, org.rep_a.actor, invoice.id, refund.id)


def test_deleting_a_refund_owes_the_money_again_and_a_refunded_payment_stays(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org, institution)
    payment = pay(db, org, invoice, "1200.00")
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("240.00"))
    refund = payments.record_refund(db, org.rep_a.actor, note.id, refund_of("240.00"))
    with pytest.raises(InvalidTransition):
        payments.delete_payment(db, org.rep_a.actor, invoice.id, payment.id)
    payments.delete_refund(db, org.rep_a.actor, note.id, refund.id)
    assert balances(invoice) == (InvoiceStatus.PAID, D("1200.00"), D("240.00"), D("0.00"), D("-240.00"))
    assert note.amount_refunded == D("0.00")
    payments.delete_payment(db, org.rep_a.actor, invoice.id, payment.id)  # nothing refunded any more
    assert balances(invoice) == (InvoiceStatus.ISSUED, D("0.00"), D("240.00"), D("0.00"), D("960.00"))


def test_the_database_refuses_a_refund_above_what_was_overpaid(db: Session, org: Org, institution: Institution) -> None:
    invoice = issued(db, org, institution)
    pay(db, org, invoice, "1200.00")
    invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("100.00"))
    db.flush()
    with pytest.raises(sa.exc.IntegrityError), db.begin_nested():
        db.execute(sa.update(Invoice).where(col(Invoice.id) == invoice.id).values(amount_refunded=D("100.01")))
    with pytest.raises(sa.exc.IntegrityError), db.begin_nested():
        db.execute(
            sa.insert(Payment).values(
                invoice_id=invoice.id,
                direction="up",
                amount=D("1"),
                paid_on=invoices.today(db),
                method=PaymentMethod.CASH.value,
            )
        )


def test_history_timeline_and_receivables_follow_the_refund(db: Session, org: Org, institution: Institution) -> None:
    invoice = issued(db, org, institution)
    other = issued(db, org, institution, unit_price="500.00")  # 600.00 still due
    pay(db, org, invoice, "1200.00")
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, full=True, refund=refund_of("1200.00"))
    for document, kind in ((invoice, "invoice"), (note, "credit_note")):
        entries = invoice_history.invoice_history(db, org.rep_a.actor, document.id).items
        assert [(e.entity_type, e.field, e.new_value) for e in entries if e.action == "refund"] == [
            (kind, "amount_refunded", "1200.00")
        ]
    page = timeline.timeline(db, org.rep_a.actor, institution.id, kinds=["payment", "refund"])
    assert sorted((e.kind, e.title, e.new_value) for e in page.items) == [
        ("payment", invoice.number, "1200.00"),
        ("refund", note.number, "1200.00"),
    ]
    # The client owes the other invoice only; the credited, refunded one weighs nothing.
    client = invoices.list_invoices(db, org.rep_a.actor, InvoiceQuery(institution_id=institution.id))
    assert client.totals.outstanding == D("600.00")
    assert {row.id: row.remaining for row in client.items}[invoice.id] == D("0.00")
    receivables = analytics.receivables(db, org.rep_a.actor, scope=DashboardScope.OWN)
    assert (receivables.total, receivables.count) == (D("600.00"), 1)
    assert other.status == InvoiceStatus.ISSUED


def test_cash_collected_is_net_of_refunds_by_refund_date(db: Session, org: Org, institution: Institution) -> None:
    today = invoices.today(db)
    invoice = issued(db, org, institution)
    payments.record_payment(
        db, org.rep_a.actor, invoice.id, {"amount": "1200.00", "method": "transfer", "paid_on": today.isoformat()}
    )
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("480.00"))
    payments.record_refund(db, org.rep_a.actor, note.id, refund_of("480.00", paid_on=today.isoformat()))
    for from_rows in (True, False):
        kpis = analytics.dashboard(
            db, org.rep_a.actor, today=today, period=Period.MONTH, scope=DashboardScope.OWN, from_rows=from_rows
        ).kpis
        assert kpis["cash_collected"].value == D("720.00"), from_rows
        months = analytics.invoiced_vs_collected(
            db, org.rep_a.actor, today=today, scope=DashboardScope.OWN, from_rows=from_rows
        )
        assert months[-1].collected == D("720.00"), from_rows


def test_round_trip_issued_paid_credited_refunded_leaves_every_balance_at_zero(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org, institution, unit_price="250.00")  # 300.00
    pay(db, org, invoice, "100.00")
    pay(db, org, invoice, "200.00")
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id)
    assert note.total_incl_vat == D("300.00") and invoices.remaining_amount(invoice) == D("-300.00")
    payments.record_refund(db, org.rep_a.actor, note.id, refund_of("300.00", method="card"))
    detail = invoices.get_invoice(db, org.rep_a.actor, invoice.id)
    assert (detail.row.status, detail.remaining, detail.refundable) == (InvoiceStatus.CANCELLED, D("0.00"), D("0.00"))
    assert (detail.row.amount_paid, detail.row.amount_credited, detail.row.amount_refunded) == (
        D("300.00"),
        D("300.00"),
        D("300.00"),
    )
    client = invoices.list_invoices(db, org.rep_a.actor, InvoiceQuery(institution_id=institution.id))
    assert client.totals.outstanding == D("0.00")
    assert invoices.get_invoice(db, org.rep_a.actor, note.id).refundable == D("0.00")
