"""The catalog, quotes (and the orders they become), document numbering and stored PDFs
(DOMAIN.md "Sales documents"). Invoices, credit notes and payments are in `billing`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm_app.platform.models.base import Tracked, UTCDateTime, in_check, timestamp_column, utcnow, uuid_pk
from crm_app.sales.tax_codes import SupplyKind, VatExemption

AMOUNT = sa.Numeric(14, 2)
QUANTITY = sa.Numeric(12, 3)
RATE = sa.Numeric(5, 2)


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ORDERED = "ordered"


class DiscountType(StrEnum):
    PERCENT = "percent"
    AMOUNT = "amount"


class SequenceKind(StrEnum):
    """Each numbered kind of document has its own per-year sequence."""

    QUOTE = "quote"
    ORDER = "order"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class DocumentKind(StrEnum):
    """What a stored PDF is of."""

    QUOTE = "quote"
    ORDER = "order"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class QuoteReminderKind(StrEnum):
    """DOMAIN.md: sent quotes expiring in 7 days, 3 days, today, and 7 days after expiry."""

    BEFORE_7 = "j-7"
    BEFORE_3 = "j-3"
    DAY_0 = "j0"
    AFTER_7 = "j+7"


def tax_checks(rate_column: str) -> tuple[Any, ...]:
    """A VAT exemption only on a 0 % rate; known exemptions and kinds of supply."""
    return (
        sa.CheckConstraint(
            f"vat_exemption IS NULL OR ({rate_column} = 0 AND " + in_check("vat_exemption", VatExemption) + ")",
            name="vat_exemption",
        ),
        sa.CheckConstraint(in_check("supply_kind", SupplyKind), name="supply_kind"),
    )


class CatalogItem(Tracked, table=True):
    __tablename__ = "catalog_items"
    __table_args__ = (
        sa.CheckConstraint("unit_price >= 0", name="unit_price"),
        sa.CheckConstraint("default_vat_rate >= 0 AND default_vat_rate <= 100", name="default_vat_rate"),
        *tax_checks("default_vat_rate"),
        sa.Index("ix_catalog_items_list", "is_active", "name_key", "id"),
        sa.Index("ix_catalog_items_category", "category", "name_key"),
    )

    id: uuid.UUID = uuid_pk()
    reference: str = Field(max_length=60, unique=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=sa.Text)
    category: str | None = Field(default=None, max_length=100)
    unit: str = Field(default="unit", max_length=20)
    unit_price: Decimal = Field(sa_type=AMOUNT)
    default_vat_rate: Decimal = Field(default=Decimal("20"), sa_type=RATE)
    vat_exemption: VatExemption | None = Field(default=None, sa_type=sa.String(20))  # why a 0 % item has no VAT
    supply_kind: SupplyKind = Field(default=SupplyKind.GOODS, sa_type=sa.String(10), nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    name_key: str = Field(default="", max_length=200)  # lower case, no accents: sort and search
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class Quote(Tracked, table=True):
    """A quote; once accepted and its purchase order recorded, it is the order too (`order_number`).

    A revision is a new row sharing `root_id` with `revision` + 1 and the number suffix `-R<n>`; the
    revised quote is cancelled with `superseded_by_id` pointing at its successor.
    """

    __tablename__ = "quotes"
    __table_args__ = (
        sa.CheckConstraint(in_check("status", QuoteStatus), name="status"),
        sa.CheckConstraint("total_excl_vat >= 0 AND total_vat >= 0 AND total_incl_vat >= 0", name="totals"),
        sa.CheckConstraint(
            "global_discount_percent >= 0 AND global_discount_percent <= 100", name="global_discount_percent"
        ),
        sa.CheckConstraint("revision >= 1", name="revision"),
        sa.CheckConstraint("status <> 'ordered' OR order_number IS NOT NULL", name="ordered_has_number"),
        sa.UniqueConstraint("root_id", "revision", name="uq_quotes_root_revision"),
        sa.Index(
            "uq_quotes_order_number",
            "order_number",
            unique=True,
            postgresql_where=sa.text("order_number IS NOT NULL"),
            sqlite_where=sa.text("order_number IS NOT NULL"),
        ),
        sa.Index("ix_quotes_list", "issue_date", "id"),
        sa.Index("ix_quotes_owner", "owner_id", "status", "issue_date"),
        sa.Index("ix_quotes_team", "team_id", "status", "issue_date"),
        # The dashboard's figures (migration 0020): current revisions by the moment sent and accepted.
        sa.Index(
            "ix_quotes_sent_figures",
            "sent_at",
            postgresql_include=["status", "owner_id", "team_id"],
            postgresql_where=sa.text("superseded_by_id IS NULL"),
            sqlite_where=sa.text("superseded_by_id IS NULL"),
        ),
        sa.Index(
            "ix_quotes_accepted_figures",
            "decided_at",
            postgresql_include=["owner_id", "team_id"],
            postgresql_where=sa.text("superseded_by_id IS NULL AND status IN ('accepted', 'ordered')"),
            sqlite_where=sa.text("superseded_by_id IS NULL AND status IN ('accepted', 'ordered')"),
        ),
        sa.Index("ix_quotes_institution", "institution_id", "issue_date"),
        sa.Index("ix_quotes_opportunity", "opportunity_id", "issue_date"),
        sa.Index("ix_quotes_status", "status", "issue_date"),
        # The dashboard's quotes sent and accepted in a period.
        sa.Index("ix_quotes_sent_at", "sent_at"),
        sa.Index("ix_quotes_decided_at", "decided_at"),
        # The daily jobs read the sent quotes by validity date.
        sa.Index(
            "ix_quotes_sent_validity",
            "valid_until",
            postgresql_where=sa.text("status = 'sent'"),
            sqlite_where=sa.text("status = 'sent'"),
        ),
        # The header's search: numbers that contain the text (trigram, PostgreSQL).
        sa.Index("ix_quotes_number_trgm", "number", postgresql_using="gin", postgresql_ops={"number": "gin_trgm_ops"}),
    )

    id: uuid.UUID = uuid_pk()
    number: str = Field(max_length=40, unique=True)
    root_id: uuid.UUID  # the first revision's id (its own id for the first one)
    revision: int = Field(default=1)
    superseded_by_id: uuid.UUID | None = Field(default=None, foreign_key="quotes.id", ondelete="SET NULL")
    status: QuoteStatus = Field(default=QuoteStatus.DRAFT, sa_type=sa.String(12), nullable=False)
    title: str | None = Field(default=None, max_length=200)
    institution_id: uuid.UUID = Field(foreign_key="institutions.id", ondelete="RESTRICT")
    contact_id: uuid.UUID | None = Field(default=None, foreign_key="contacts.id", ondelete="SET NULL")
    # The sale it was made for: accepting the quote wins that opportunity.
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id", ondelete="SET NULL")
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="RESTRICT")  # the salesperson
    team_id: uuid.UUID | None = Field(default=None, foreign_key="teams.id", ondelete="SET NULL")
    issue_date: date
    valid_until: date
    currency: str = Field(default="EUR", max_length=3)
    global_discount_percent: Decimal = Field(default=Decimal("0"), sa_type=RATE)
    total_excl_vat: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    total_vat: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    total_incl_vat: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    notes: str | None = Field(default=None, sa_type=sa.Text)  # shown on the PDF
    sent_at: datetime | None = timestamp_column()
    decided_at: datetime | None = timestamp_column()  # accepted or rejected
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    client_comment: str | None = Field(default=None, sa_type=sa.Text)
    order_number: str | None = Field(default=None, max_length=40)
    purchase_order_ref: str | None = Field(default=None, max_length=80)  # the client's own reference
    ordered_at: datetime | None = timestamp_column()
    cancelled_at: datetime | None = timestamp_column()
    updated_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class DocumentLine(SQLModel):
    """The columns every line of a quote or an invoice has (their tables add the parent's id)."""

    position: int
    catalog_item_id: uuid.UUID | None = Field(default=None, foreign_key="catalog_items.id", ondelete="SET NULL")
    reference: str | None = Field(default=None, max_length=60)
    description: str = Field(sa_type=sa.Text)
    quantity: Decimal = Field(sa_type=QUANTITY)
    unit: str = Field(default="unit", max_length=20)
    unit_price: Decimal = Field(sa_type=AMOUNT)
    discount_type: DiscountType | None = Field(default=None, sa_type=sa.String(10))
    discount_value: Decimal = Field(default=Decimal("0"), sa_type=AMOUNT)
    vat_rate: Decimal = Field(sa_type=RATE)
    vat_exemption: VatExemption | None = Field(default=None, sa_type=sa.String(20))  # a 0 % line: why
    supply_kind: SupplyKind = Field(default=SupplyKind.GOODS, sa_type=sa.String(10), nullable=False)
    net_amount: Decimal = Field(sa_type=AMOUNT)  # the line's net excl. VAT, from services.money


def document_line_checks(table: str, parent_column: str) -> tuple[Any, ...]:
    """The constraints of a lines table: amounts within bounds, one line per position."""
    return (
        sa.CheckConstraint("quantity >= 0", name="quantity"),
        sa.CheckConstraint("unit_price >= 0", name="unit_price"),
        sa.CheckConstraint("vat_rate >= 0 AND vat_rate <= 100", name="vat_rate"),
        sa.CheckConstraint("discount_value >= 0", name="discount_value"),
        sa.CheckConstraint("discount_type IS NULL OR " + in_check("discount_type", DiscountType), name="discount_type"),
        *tax_checks("vat_rate"),
        sa.UniqueConstraint(parent_column, "position", name=f"uq_{table}_position"),
    )


class QuoteLine(DocumentLine, table=True):
    __tablename__ = "quote_lines"
    __table_args__ = document_line_checks("quote_lines", "quote_id")

    id: uuid.UUID = uuid_pk()
    quote_id: uuid.UUID = Field(foreign_key="quotes.id", ondelete="CASCADE")


class QuoteReminder(SQLModel, table=True):
    """One reminder of a kind per quote, ever: the primary key is what prevents a second one."""

    __tablename__ = "quote_reminders"
    __table_args__ = (sa.CheckConstraint(in_check("kind", QuoteReminderKind), name="kind"),)

    quote_id: uuid.UUID = Field(foreign_key="quotes.id", ondelete="CASCADE", primary_key=True)
    kind: QuoteReminderKind = Field(sa_type=sa.String(5), primary_key=True)
    due_on: date  # the day the reminder was meant for (a missed day is caught up later)
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    task_id: uuid.UUID | None = Field(default=None, foreign_key="tasks.id", ondelete="SET NULL")


class DocumentSequence(SQLModel, table=True):
    """The last number given per kind and year. Numbers are taken by an UPDATE of this row inside
    the transaction that uses them: concurrent issuers wait on the row lock, and a rollback gives
    the number back, so issued numbers have no gap and no duplicate."""

    __tablename__ = "document_sequences"
    __table_args__ = (
        sa.CheckConstraint(in_check("kind", SequenceKind), name="kind"),
        sa.CheckConstraint("last_number >= 0", name="last_number"),
    )

    kind: SequenceKind = Field(sa_type=sa.String(12), primary_key=True)
    year: int = Field(primary_key=True)
    last_number: int = Field(default=0)


class StoredDocument(SQLModel, table=True):
    """A PDF as it was sent or downloaded, kept so that the identical file can be sent again."""

    __tablename__ = "stored_documents"
    __table_args__ = (
        sa.CheckConstraint(in_check("kind", DocumentKind), name="kind"),
        sa.UniqueConstraint("kind", "document_id", "number", name="uq_stored_documents_document"),
    )

    id: uuid.UUID = uuid_pk()
    kind: DocumentKind = Field(sa_type=sa.String(12))
    document_id: uuid.UUID  # the quote's or the invoice's id
    number: str = Field(max_length=40)  # the document number the file shows
    path: str = Field(max_length=300)  # relative to DATA_DIR/files (crm_app.platform.storage)
    sha256: str = Field(max_length=64)
    size: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
