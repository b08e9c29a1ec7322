"""What a PDF shows, as plain values: the services build a `PdfDocument` from the database (amounts
from `services.money`, never recomputed here) and `crm_app.sales.pdf.render` draws it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from crm_app.sales.document_settings import Branding
from crm_app.sales.models.quotes import DocumentKind
from crm_app.sales.money import Totals


@dataclass(frozen=True, slots=True)
class Party:
    """The buyer as printed: name and postal address lines, with identifiers when known."""

    name: str
    address_lines: tuple[str, ...] = ()
    contact_name: str | None = None
    siret: str | None = None
    accounting_number: str | None = None
    email: str | None = None
    siren: str | None = None  # the reform's mention: the buyer's SIREN
    vat_number: str | None = None


@dataclass(frozen=True, slots=True)
class PdfLine:
    reference: str | None
    description: str
    quantity: Decimal
    unit: str  # the unit's code (unit, day, hour, lot, ...); the renderer translates it
    unit_price: Decimal
    discount_label: str | None  # "10 %" or "50,00 €" already formatted, None without a discount
    vat_rate: Decimal
    net_amount: Decimal


@dataclass(frozen=True, slots=True)
class PdfDocument:
    kind: DocumentKind
    number: str
    language: str  # fr, en, es, de: labels, dates and amounts
    issue_date: date
    seller: Branding
    buyer: Party
    lines: tuple[PdfLine, ...]
    totals: Totals
    title: str | None = None
    valid_until: date | None = None  # quotes
    due_date: date | None = None  # invoices
    payment_terms_days: int | None = None  # invoices
    late_penalty_rate: Decimal | None = None  # invoices: percent per year
    recovery_indemnity: Decimal | None = None  # invoices: the fixed €40
    references: tuple[tuple[str, str], ...] = ()  # (label id, value): "Quote" DEV-…, "Purchase order" …
    notes: str | None = None
    salesperson: str | None = None
    extra_mentions: tuple[str, ...] = field(default_factory=tuple)  # e.g. "VAT exemption, art. 293 B"
    draft: bool = False  # a draft invoice carries a watermark and no number
    refunded: Decimal | None = None  # credit notes: the money paid back to the client with it
    delivery: Party | None = None  # invoices: where the goods or services go, when not the buyer's address
