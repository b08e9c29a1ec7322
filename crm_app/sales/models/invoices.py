"""Invoices, credit notes (avoirs), their lines, payments and follow-up reminders
(DOMAIN.md "Invoices")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import Tracked, UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk
from crm_app.sales.models.quotes import AMOUNT, RATE, DocumentLine, document_line_checks


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"  # fully credited by credit notes


class PaymentMethod(StrEnum):
    TRANSFER = "transfer"
    CHECK = "check"
    CARD = "card"
    CASH = "cash"
    DIRECT_DEBIT = "direct_debit"
    OTHER = "other"


class PaymentDirection(StrEnum):
    """Money in (a payment of an invoice) or out (a refund, recorded on the credit note it repays)."""

    IN = "in"
    OUT = "out"


#: statuses of an invoice that still waits for money.
OPEN_INVOICE_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE)


class Invoice(Tracked, table=True):
    """An invoice or a credit note. A draft has no number; `issue` gives it one, the issue date and
    the due date, and freezes the buyer's identity (`buyer`): an issued document is never edited."""

    __tablename__ = "invoices"
    __table_args__ = (
        sa.CheckConstraint(in_check("kind", InvoiceKind), name="kind"),
        sa.CheckConstraint(in_check("status", InvoiceStatus), name="status"),
        sa.CheckConstraint("total_excl_vat >= 0 AND total_vat >= 0 AND total_incl_vat >= 0", name="totals"),
        sa.CheckConstraint(
            "global_discount_percent >= 0 AND global_discount_percent <= 100", name="global_discount_percent"
        ),
        sa.CheckConstraint(
            "amount_paid >= 0 AND amount_credited >= 0 AND amount_refunded >= 0", name="settled_amounts"
        ),
        sa.CheckConstraint(
            "amount_credited <= total_incl_vat AND amount_paid - amount_refunded <= total_incl_vat",
            name="settled_within_total",
        ),
        # An invoice refunds only what was paid beyond what remains after its credit notes (so an open
        # invoice has no refund); a credit note refunds at most its total and receives no payment.
        sa.CheckConstraint(
            "(kind = 'invoice' AND amount_refunded <= amount_paid"
            " AND (amount_refunded = 0 OR amount_paid - amount_refunded + amount_credited >= total_incl_vat))"
            " OR (kind = 'credit_note' AND amount_paid = 0 AND amount_refunded <= total_incl_vat)",
            name="refunds_within_paid",
        ),
        sa.CheckConstraint("(status = 'draft') = (number IS NULL)", name="number_when_issued"),
        sa.CheckConstraint("kind = 'invoice' OR credited_invoice_id IS NOT NULL", name="credit_note_reference"),
        sa.Index(
            "uq_invoices_number",
            "number",
            unique=True,
            postgresql_where=sa.text("number IS NOT NULL"),
            sqlite_where=sa.text("number IS NOT NULL"),
        ),
        sa.Index("ix_invoices_list", "issue_date", "id"),
        sa.Index("ix_invoices_owner", "owner_id", "status", "issue_date"),
        # The dashboard's figures (migration 0020): index-only reads of issued invoices by date, each
        # institution's first issued invoice, and what remains to be paid on open ones.
        sa.Index(
            "ix_invoices_issued_figures",
            "issue_date",
            postgresql_include=["kind", "total_excl_vat", "institution_id", "owner_id", "team_id"],
            postgresql_where=sa.text("status <> 'draft'"),
            sqlite_where=sa.text("status <> 'draft'"),
        ),
        sa.Index(
            "ix_invoices_first_issued",
            "institution_id",
            "issue_date",
            postgresql_where=sa.text("kind = 'invoice' AND status <> 'draft'"),
            sqlite_where=sa.text("kind = 'invoice' AND status <> 'draft'"),
        ),
        sa.Index(
            "ix_invoices_receivable",
            "due_date",
            postgresql_include=["total_incl_vat", "amount_paid", "amount_credited", "owner_id", "team_id"],
            postgresql_where=sa.text("kind = 'invoice' AND status IN ('issued', 'partially_paid', 'overdue')"),
            sqlite_where=sa.text("kind = 'invoice' AND status IN ('issued', 'partially_paid', 'overdue')"),
        ),
        sa.Index("ix_invoices_team", "team_id", "status", "issue_date"),
        sa.Index("ix_invoices_institution", "institution_id", "issue_date"),
        sa.Index("ix_invoices_status_due", "status", "due_date"),
        sa.Index("ix_invoices_quote", "quote_id"),
        sa.Index("ix_invoices_credited", "credited_invoice_id"),
        # The header's search: numbers that contain the text (trigram, PostgreSQL), the latest of a kind first.
        sa.Index(
            "ix_invoices_number_trgm", "number", postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops"}
        ),
        sa.Index("ix_invoices_kind_number", "kind", "number"),
    )

    id: uuid.UUID = uuid_pk()
    kind: InvoiceKind = Field(default=InvoiceKind.INVOICE, sa_type=sa.String(12), nullable=False)
    number: str | None = Field(default=None, max_length=40)
    status: InvoiceStatus = Field(default=InvoiceStatus.DRAFT, sa_type=sa.String(16), nullable=False)
    title: str | None = Field(default=None, max_length=200)
    institution_id: uuid.UUID = Field(foreign_key="institutions.id", ondelete="RESTRICT")
    contact_id: uuid.UUID | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    quote_id: uuid.UUID | None = Field(default=None, foreign_key="quotes.id", ondelete="RESTRICT")
    credited_invoice_id: uuid.UUID | None = Field(default=None, foreign_key="invoices.id", ondelete="RESTRICT")
    issue_date: date | None = None
    due_date: date | None = None
    payment_terms_days: int = Field(default=30)
    currency: str = Field(default="EUR", max_length=3)
    global_discount_percent: Decimal = Field(default=Decimal("0"), sa_type=RATE)
    total_excl_vat: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    total_vat: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    total_incl_vat: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    amount_paid: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)  # Σ payments
    amount_credited: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)  # Σ issued credit notes on it
    # Σ refunds: on an invoice those of its credit notes, on a credit note its own.
    amount_refunded: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    notes: str | None = Field(default=None, sa_type=sa.Text)
    buyer: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)  # frozen at issue
    # where the goods or services go when it is not the buyer's address: {name, street, postal_code,
    # city, country}; printed and given in the e-invoice (BG-13)
    delivery_address: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # Chorus Pro: the buyer's service code (EN 16931 BT-10, buyer reference) and its engagement number
    # (BT-13, the buyer's purchase order reference); a credit note copies its invoice's.
    buyer_reference: str | None = Field(default=None, max_length=100)
    buyer_order_reference: str | None = Field(default=None, max_length=50)
    issued_at: datetime | None = timestamp_column()
    issued_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    paid_at: datetime | None = timestamp_column()
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class InvoiceLine(DocumentLine, table=True):
    __tablename__ = "invoice_lines"
    __table_args__ = document_line_checks("invoice_lines", "invoice_id")

    id: uuid.UUID = uuid_pk()
    invoice_id: uuid.UUID = Field(foreign_key="invoices.id", ondelete="CASCADE")


class Payment(SQLModel, table=True):
    """Money received on an invoice (`direction` in), or refunded to the client (`direction` out): a
    refund belongs to the credit note that repays it (`invoice_id` is the credit note's). `amount` is
    positive either way; cash collected is Σ in − Σ out."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount"),
        sa.CheckConstraint(in_check("method", PaymentMethod), name="method"),
        sa.CheckConstraint(in_check("direction", PaymentDirection), name="direction"),
        sa.Index("ix_payments_invoice", "invoice_id", "paid_on"),
        sa.Index("ix_payments_paid_on", "paid_on"),
        sa.Index("ix_payments_paid_figures", "paid_on", postgresql_include=["amount", "direction", "invoice_id"]),
    )

    id: uuid.UUID = uuid_pk()
    invoice_id: uuid.UUID = Field(foreign_key="invoices.id", ondelete="RESTRICT")
    direction: PaymentDirection = Field(default=PaymentDirection.IN, sa_type=sa.String(3), nullable=False)
    amount: Decimal = Field(sa_type=AMOUNT)
    paid_on: date
    method: PaymentMethod = Field(sa_type=sa.String(14))
    reference: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class InvoiceReminder(SQLModel, table=True):
    """One follow-up per invoice and level (days relative to the due date: −7, +1, +15, +30), ever."""

    __tablename__ = "invoice_reminders"

    invoice_id: uuid.UUID = Field(foreign_key="invoices.id", ondelete="CASCADE", primary_key=True)
    level: int = Field(primary_key=True)
    due_on: date
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    emailed_client: bool = Field(default=False, nullable=False)
