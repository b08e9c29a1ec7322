"""/api/invoices (invoices and credit notes), their payments, credit notes and refunds, and invoicing a quote
(/api/quotes/{id}/invoice): the same services as the pages, thin routes. Amounts are decimal
strings ("1234.50"), never floats; dates are ISO 8601."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from crm_app.platform.api.deps import ActorDep, Day, PageDep, PageSizeDep, SessionDep, partial_model, query_params
from crm_app.platform.api.routes import area_router
from crm_app.platform.paging import PageRequest
from crm_app.sales import invoices, payments
from crm_app.sales.invoices import InvoiceDetail, InvoiceList, InvoiceQuery, InvoiceRow

router = area_router(tags=["invoices"])

_VERSION = Field(description="The version you read; a stale one is refused with 409.")
_AMOUNT_DOC = 'Decimal, e.g. "1234.50" (a string is safest)'
_AMOUNT = Field(default=None, description=_AMOUNT_DOC)


# --------------------------------------------------------------------------------------------
# Models


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog_item_id: uuid.UUID | None = None
    reference: str | None = None
    description: str | None = None
    quantity: Decimal = Field(description="Up to 3 decimals")
    unit: str | None = None
    unit_price: Decimal | None = Field(default=None, description="Excl. VAT, up to 2 decimals")
    discount_type: str | None = Field(default=None, description="percent or amount")
    discount_value: Decimal | None = None
    vat_rate: Decimal | None = Field(default=None, description="One of the allowed VAT rates")
    vat_exemption: str | None = Field(
        default=None,
        description="A 0 % line: why it carries no VAT (training, medical_care, franchise, reverse_charge, "
        "outside_scope, zero_rated); required to issue an invoice",
    )
    supply_kind: str | None = Field(default=None, description="goods or services (default: the item's, or by unit)")


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    institution_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = Field(default=None, description="The salesperson; default: you")
    title: str | None = None
    payment_terms_days: int | None = Field(default=None, description="Default: the institution's, else 30")
    global_discount_percent: Decimal | None = None
    notes: str | None = None
    delivery_address: dict[str, str] | None = Field(
        default=None, description="{name, street, postal_code, city, country} when not the buyer's address"
    )
    buyer_reference: str | None = Field(
        default=None,
        description="Chorus Pro service code (EN 16931 BT-10), at most 100 characters: one of the buyer's "
        "service codes when it has some; default: its only one",
    )
    buyer_order_reference: str | None = Field(
        default=None, description="Engagement number: the buyer's purchase order reference (BT-13), at most 50"
    )
    lines: list[LineIn] | None = Field(default=None, description="Replaces every line, in this order")


@partial_model
class InvoicePatch(InvoiceIn):
    version: int = _VERSION


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, description="The version you read (optional)")


class FromQuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: Decimal | None = Field(default=None, description="A deposit: this percentage of the quote's total")
    amount_incl_vat: Decimal | None = _AMOUNT


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(description=_AMOUNT_DOC)
    paid_on: Day | None = Field(default=None, description="Default: today")
    method: str = Field(description="transfer, check, card, cash, direct_debit or other")
    reference: str | None = None


class RefundIn(PaymentIn):
    """Money paid back to the client: a payment out, recorded on a credit note."""


class CreditNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_incl_vat: Decimal | None = Field(
        default=None,
        description="Credit this amount; with neither this, lines nor full: everything that remains unpaid "
        "(the whole invoice when nothing does)",
    )
    lines: list[LineIn] | None = None
    full: bool = Field(default=False, description="Credit the whole invoice (what was not credited yet), paid or not")
    notes: str | None = None
    refund: RefundIn | None = Field(
        default=None,
        description="Money paid back at once: what the credit note takes beyond what remained unpaid was paid "
        "(errors on `refund.<field>`)",
    )


class InvoiceOut(BaseModel):
    id: uuid.UUID
    kind: str
    number: str | None
    status: str
    title: str | None
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    quote_id: uuid.UUID | None
    quote_number: str | None
    credited_invoice_id: uuid.UUID | None
    issue_date: date | None
    due_date: date | None
    payment_terms_days: int
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    amount_paid: Decimal
    amount_credited: Decimal
    amount_refunded: Decimal = Field(
        description="An invoice's: Σ refunds of its credit notes; a credit note's: Σ its refunds"
    )
    remaining: Decimal = Field(description="Total − credited − paid + refunded: below zero, a refund is due")
    created_at: datetime
    updated_at: datetime
    version: int
    is_overdue: bool


class ListTotalsOut(BaseModel):
    total_incl_vat: Decimal
    outstanding: Decimal
    overdue: Decimal


class InvoicePage(BaseModel):
    items: list[InvoiceOut]
    total: int
    page: int
    page_size: int
    totals: ListTotalsOut


class LineOut(BaseModel):
    id: uuid.UUID
    position: int
    catalog_item_id: uuid.UUID | None
    reference: str | None
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_type: str | None
    discount_value: Decimal
    vat_rate: Decimal
    vat_exemption: str | None = None
    supply_kind: str
    net_amount: Decimal


class VatRowOut(BaseModel):
    rate: Decimal
    base: Decimal
    vat: Decimal


class PaymentOut(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Decimal
    paid_on: date
    method: str
    reference: str | None
    created_at: datetime
    created_by_name: str | None
    direction: str = Field(description="in (a payment received) or out (a refund, on a credit note)")
    credit_note_number: str | None = Field(description="A refund's credit note")


class InvoiceDetailOut(InvoiceOut):
    contact_name: str | None
    global_discount_percent: Decimal
    notes: str | None
    currency: str
    buyer: dict[str, Any] | None
    issued_at: datetime | None
    paid_at: datetime | None
    credited_invoice_number: str | None
    buyer_reference: str | None
    buyer_order_reference: str | None
    delivery_address: dict[str, str] | None = Field(
        default=None, description="Where the goods or services go, when not the buyer's address"
    )
    subtotal: Decimal
    global_discount: Decimal
    vat_rows: list[VatRowOut]
    lines: list[LineOut]
    payments: list[PaymentOut]
    credit_notes: list[InvoiceOut]
    refunds: list[PaymentOut] = Field(description="A credit note's refunds; an invoice's, those of its credit notes")
    refundable: Decimal = Field(description="What can still be refunded (overpaid on the invoice)")


def _detail(detail: InvoiceDetail) -> InvoiceDetailOut:
    row = {f.name: getattr(detail.row, f.name) for f in dataclasses.fields(InvoiceRow)}
    return InvoiceDetailOut.model_validate(
        {
            **row,
            "contact_name": detail.contact_name,
            "global_discount_percent": detail.global_discount_percent,
            "notes": detail.notes,
            "currency": detail.currency,
            "buyer": detail.buyer,
            "issued_at": detail.issued_at,
            "paid_at": detail.paid_at,
            "credited_invoice_number": detail.credited_invoice_number,
            "buyer_reference": detail.buyer_reference,
            "buyer_order_reference": detail.buyer_order_reference,
            "delivery_address": detail.delivery_address,
            "subtotal": detail.totals.subtotal,
            "global_discount": detail.totals.global_discount,
            "vat_rows": [dataclasses.asdict(vat) for vat in detail.totals.vat_rows],
            "lines": [dataclasses.asdict(line) for line in detail.lines],
            "payments": [dataclasses.asdict(payment) for payment in detail.payments],
            "credit_notes": [dataclasses.asdict(note) for note in detail.credit_notes],
            "refunds": [dataclasses.asdict(refund) for refund in detail.refunds],
            "refundable": detail.refundable,
        }
    )


def _invoice(session: SessionDep, actor: ActorDep, invoice_id: uuid.UUID) -> InvoiceDetailOut:
    return _detail(invoices.get_invoice(session, actor, invoice_id))


def _raw(body: InvoiceIn) -> dict[str, Any]:
    raw = body.model_dump(exclude_unset=True)
    if body.lines is not None:
        raw["lines"] = [line.model_dump(exclude_unset=True) for line in body.lines]
    return raw


@cache
def _list_adapter() -> TypeAdapter[InvoiceList]:
    return TypeAdapter(InvoiceList)


# --------------------------------------------------------------------------------------------
# Routes

_FILTERS = (
    "Filters: `status` (repeat or comma-separated), `kind` (invoice, credit_note), `institution_id`, "
    "`owner_id`, `team_id`, `quote_id`, `issued_from`, `issued_to`, `due_from`, `due_to` (dates), "
    "`min_amount`, `max_amount` (incl. VAT), `overdue=1`, `outstanding=1` (still waiting for money), "
    "`paid_from`, `paid_to` (a payment dated in the range), `public_buyers=1` (buyers that are public "
    "entities, invoiced through Chorus Pro), `q` (number or institution). `sort`: created "
    "(default, newest first), issued, due, number, amount, remaining, institution, status; `-` for "
    "descending. `totals` covers the whole filtered list (credit notes deducted from `total_incl_vat`)."
)


@router.get("/invoices", response_model=InvoicePage, description=_FILTERS)
def list_invoices(
    request: Request, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    result = invoices.list_invoices(
        session, actor, InvoiceQuery.from_params(query_params(request)), PageRequest(page, page_size)
    )
    hidden = {f.name for f in dataclasses.fields(InvoiceRow) if f.name not in InvoiceOut.model_fields}
    return Response(
        _list_adapter().dump_json(result, exclude={"items": {"__all__": hidden}}), media_type="application/json"
    )


@router.post("/invoices", response_model=InvoiceDetailOut, status_code=201)
def create_invoice(body: InvoiceIn, session: SessionDep, actor: ActorDep) -> InvoiceDetailOut:
    invoice = invoices.create_invoice(session, actor, _raw(body))
    return _invoice(session, actor, invoice.id)


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetailOut)
def get_invoice(invoice_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> InvoiceDetailOut:
    return _invoice(session, actor, invoice_id)


@router.patch(
    "/invoices/{invoice_id}",
    response_model=InvoiceDetailOut,
    responses={409: {"description": "Stale version, or the invoice is issued (current_status)"}},
)
def update_invoice(invoice_id: uuid.UUID, body: InvoicePatch, session: SessionDep, actor: ActorDep) -> InvoiceDetailOut:
    raw = _raw(body)
    version = raw.pop("version")
    invoices.update_invoice(session, actor, invoice_id, raw, expected_version=version)
    return _invoice(session, actor, invoice_id)


@router.delete("/invoices/{invoice_id}", status_code=204, responses={409: {"description": "Not a draft"}})
def delete_invoice(invoice_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    invoices.delete_draft(session, actor, invoice_id)
    return Response(status_code=204)


@router.post(
    "/invoices/{invoice_id}/issue",
    response_model=InvoiceDetailOut,
    responses={409: {"description": "Already issued (current_status) or stale version"}},
)
def issue_invoice(
    invoice_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: VersionIn | None = None
) -> InvoiceDetailOut:
    invoices.issue_invoice(session, actor, invoice_id, expected_version=body.version if body else None)
    return _invoice(session, actor, invoice_id)


@router.get("/invoices/{invoice_id}/payments", response_model=list[PaymentOut])
def list_payments(invoice_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[PaymentOut]:
    return [
        PaymentOut.model_validate(row, from_attributes=True)
        for row in payments.list_payments(session, actor, invoice_id)
    ]


@router.post(
    "/invoices/{invoice_id}/payments",
    response_model=InvoiceDetailOut,
    status_code=201,
    responses={409: {"description": "Not an invoice waiting for payment (current_status)"}},
)
def record_payment(invoice_id: uuid.UUID, body: PaymentIn, session: SessionDep, actor: ActorDep) -> InvoiceDetailOut:
    payments.record_payment(session, actor, invoice_id, body.model_dump(exclude_unset=True))
    return _invoice(session, actor, invoice_id)


@router.delete("/invoices/{invoice_id}/payments/{payment_id}", response_model=InvoiceDetailOut)
def delete_payment(
    invoice_id: uuid.UUID, payment_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> InvoiceDetailOut:
    payments.delete_payment(session, actor, invoice_id, payment_id)
    return _invoice(session, actor, invoice_id)


@router.post(
    "/invoices/{invoice_id}/credit-note",
    response_model=InvoiceDetailOut,
    status_code=201,
    responses={409: {"description": "Not an issued invoice that is not fully credited (current_status)"}},
)
def create_credit_note(
    invoice_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: CreditNoteIn | None = None
) -> InvoiceDetailOut:
    body = body or CreditNoteIn()
    lines = [line.model_dump(exclude_unset=True) for line in body.lines] if body.lines is not None else None
    note = invoices.create_credit_note(
        session,
        actor,
        invoice_id,
        amount_incl_vat=body.amount_incl_vat,
        lines=lines,
        notes=body.notes,
        full=body.full,
        refund=body.refund.model_dump(exclude_unset=True) if body.refund is not None else None,
    )
    return _invoice(session, actor, note.id)


@router.get("/invoices/{credit_note_id}/refunds", response_model=list[PaymentOut])
def list_refunds(credit_note_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[PaymentOut]:
    return [
        PaymentOut.model_validate(row, from_attributes=True)
        for row in payments.list_refunds(session, actor, credit_note_id)
    ]


@router.post(
    "/invoices/{credit_note_id}/refunds",
    response_model=InvoiceDetailOut,
    status_code=201,
    responses={409: {"description": "Not a credit note (current_status)"}},
)
def record_refund(credit_note_id: uuid.UUID, body: RefundIn, session: SessionDep, actor: ActorDep) -> InvoiceDetailOut:
    payments.record_refund(session, actor, credit_note_id, body.model_dump(exclude_unset=True))
    return _invoice(session, actor, credit_note_id)


@router.delete("/invoices/{credit_note_id}/refunds/{refund_id}", response_model=InvoiceDetailOut)
def delete_refund(
    credit_note_id: uuid.UUID, refund_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> InvoiceDetailOut:
    payments.delete_refund(session, actor, credit_note_id, refund_id)
    return _invoice(session, actor, credit_note_id)


@router.post(
    "/quotes/{quote_id}/invoice",
    response_model=InvoiceDetailOut,
    status_code=201,
    responses={409: {"description": "The quote is not accepted nor ordered (current_status)"}},
)
def invoice_quote(
    quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: FromQuoteIn | None = None
) -> InvoiceDetailOut:
    body = body or FromQuoteIn()
    invoice = invoices.create_invoice_from_quote(
        session, actor, quote_id, percent=body.percent, amount_incl_vat=body.amount_incl_vat
    )
    return _invoice(session, actor, invoice.id)
