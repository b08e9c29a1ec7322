"""/api/quotes: the quote list (with the totals of the filtered list), one quote with its lines,
creation, editing of drafts and the workflow actions. Amounts are decimal strings ("1234.50"), never
floats; dates are ISO 8601. The PDF, email and invoice sub-routes live with their own areas."""

from __future__ import annotations

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
from crm_app.sales import quotes
from crm_app.sales.quotes import QuotePage, QuoteQuery

router = area_router(tags=["quotes"])

Amount = Decimal | str | int
_VERSION_OPTIONAL = Field(default=None, description="The version you read; a stale one is refused with 409.")


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog_item_id: uuid.UUID | None = None
    reference: str | None = None
    description: str | None = Field(default=None, description="Default: the catalog item's name")
    quantity: Amount
    unit: str | None = None
    unit_price: Amount | None = Field(default=None, description="Excl. VAT; default: the catalog item's")
    discount_type: str | None = Field(default=None, description="percent or amount")
    discount_value: Amount | None = None
    vat_rate: Amount | None = Field(default=None, description="One of the allowed rates (20, 10, 5.5, 2.1, 0)")
    vat_exemption: str | None = Field(
        default=None,
        description="A 0 % line: why it carries no VAT (training, medical_care, franchise, reverse_charge, "
        "outside_scope, zero_rated); required to issue an invoice",
    )
    supply_kind: str | None = Field(default=None, description="goods or services (default: the item's, or by unit)")


class QuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    institution_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = Field(default=None, description="Default: you")
    title: str | None = None
    issue_date: Day | None = None
    valid_until: Day | None = Field(default=None, description="Default: issue date + the configured validity")
    notes: str | None = None
    global_discount_percent: Amount | None = None
    lines: list[LineIn] | None = Field(default=None, description="All the lines, in order (replaces them on PATCH)")
    opportunity_id: uuid.UUID | None = Field(
        default=None, description="The opportunity it is made for (same institution); accepting the quote wins it"
    )


@partial_model
class QuotePatch(QuoteIn):
    version: int = Field(description="The version you read; a stale one is refused with 409.")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_comment: str | None = None
    version: int | None = _VERSION_OPTIONAL


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purchase_order_ref: str | None = Field(default=None, description="The client's purchase order reference")
    version: int | None = _VERSION_OPTIONAL


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = _VERSION_OPTIONAL


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


class RevisionOut(BaseModel):
    id: uuid.UUID
    number: str
    revision: int
    status: str


class QuoteOut(BaseModel):
    id: uuid.UUID
    number: str
    root_id: uuid.UUID
    revision: int
    superseded_by_id: uuid.UUID | None
    status: str
    title: str | None
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    contact_name: str | None
    owner_id: uuid.UUID
    owner_name: str
    issue_date: date
    valid_until: date
    currency: str
    global_discount_percent: Decimal
    subtotal: Decimal
    global_discount: Decimal
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    vat_rows: list[VatRowOut]
    notes: str | None
    sent_at: datetime | None
    decided_at: datetime | None
    decided_by_name: str | None
    client_comment: str | None
    order_number: str | None
    purchase_order_ref: str | None
    ordered_at: datetime | None
    cancelled_at: datetime | None
    invoiced_amount: Decimal
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    lines: list[LineOut]
    revisions: list[RevisionOut]
    opportunity_id: uuid.UUID | None
    opportunity_name: str | None
    allowed_actions: list[str]


class QuoteRowOut(BaseModel):
    id: uuid.UUID
    number: str
    revision: int
    status: str
    title: str | None
    institution_id: uuid.UUID
    institution_name: str
    owner_id: uuid.UUID
    owner_name: str
    issue_date: date
    valid_until: date
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    order_number: str | None
    sent_at: datetime | None
    updated_at: datetime
    version: int


class QuoteListOut(BaseModel):
    items: list[QuoteRowOut]
    total: int
    page: int
    page_size: int
    sum_excl_vat: Decimal = Field(
        description="Σ total excl. VAT of the whole filtered list, superseded revisions left out"
    )
    sum_incl_vat: Decimal = Field(
        description="Σ total incl. VAT of the whole filtered list, superseded revisions left out"
    )


_HIDDEN_ROW_FIELDS = {"team_id", "created_by", "can_edit"}


@cache
def _page_adapter() -> TypeAdapter[QuotePage]:
    return TypeAdapter(QuotePage)


def _raw(body: BaseModel) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    values.pop("version", None)
    return values


def _quote(session: SessionDep, actor: ActorDep, quote_id: uuid.UUID) -> QuoteOut:
    detail = quotes.get_quote(session, actor, quote_id)
    return QuoteOut.model_validate(
        {
            **{
                name: getattr(detail, name)
                for name in QuoteOut.model_fields
                if name not in {"vat_rows", "lines", "revisions", "allowed_actions"}
            },
            "vat_rows": [VatRowOut.model_validate(row, from_attributes=True) for row in detail.vat_rows],
            "lines": [LineOut.model_validate(line, from_attributes=True) for line in detail.lines],
            "revisions": [RevisionOut.model_validate(r, from_attributes=True) for r in detail.revisions],
            "allowed_actions": sorted(action.value for action in detail.allowed_actions),
        }
    )


_FILTERS = (
    "Filters: `status` (repeat or separate with commas), `institution_id`, `owner_id`, `team_id`, `mine=1`, "
    "`issued_from`, `issued_to` (issue date), `valid_from`, `valid_to` (validity date), `sent_from`, `sent_to` "
    "(day sent), `decided_from`, `decided_to` (day accepted or rejected), `amount_min`, "
    "`amount_max` (total excl. VAT), `q` (number, title, institution name). `sort`: issue_date (default, "
    "newest first), number, valid_until, institution, owner, status, amount, updated; `-` for descending. "
    "`sum_excl_vat` and `sum_incl_vat` total the whole filtered list, counting a revised quote once: "
    "a revision superseded by another one is listed but not summed."
)


@router.get("/quotes", response_model=QuoteListOut, description=_FILTERS)
def list_quotes(
    request: Request, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    result = quotes.list_quotes(
        session, actor, QuoteQuery.from_params(query_params(request)), PageRequest(page, page_size)
    )
    body = _page_adapter().dump_json(result, exclude={"items": {"__all__": _HIDDEN_ROW_FIELDS}})
    return Response(body, media_type="application/json")


@router.post("/quotes", response_model=QuoteOut, status_code=201)
def create_quote(body: QuoteIn, session: SessionDep, actor: ActorDep) -> QuoteOut:
    quote = quotes.create_quote(session, actor, _raw(body))
    return _quote(session, actor, quote.id)


@router.get("/quotes/{quote_id}", response_model=QuoteOut)
def get_quote(quote_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> QuoteOut:
    return _quote(session, actor, quote_id)


@router.patch(
    "/quotes/{quote_id}",
    response_model=QuoteOut,
    responses={409: {"description": "Stale version, or the quote is no longer a draft"}},
)
def update_quote(quote_id: uuid.UUID, body: QuotePatch, session: SessionDep, actor: ActorDep) -> QuoteOut:
    quotes.update_quote(session, actor, quote_id, _raw(body), expected_version=body.version)
    return _quote(session, actor, quote_id)


_TRANSITION: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not possible in the current status (`current_status` in the error)"}
}


@router.post("/quotes/{quote_id}/send", response_model=QuoteOut, responses=_TRANSITION)
def send_quote(quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: VersionIn | None = None) -> QuoteOut:
    quotes.send_quote(session, actor, quote_id, expected_version=body.version if body else None)
    return _quote(session, actor, quote_id)


@router.post("/quotes/{quote_id}/accept", response_model=QuoteOut, responses=_TRANSITION)
def accept_quote(quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: DecisionIn | None = None) -> QuoteOut:
    body = body or DecisionIn()
    quotes.accept_quote(session, actor, quote_id, client_comment=body.client_comment, expected_version=body.version)
    return _quote(session, actor, quote_id)


@router.post("/quotes/{quote_id}/reject", response_model=QuoteOut, responses=_TRANSITION)
def reject_quote(quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: DecisionIn | None = None) -> QuoteOut:
    body = body or DecisionIn()
    quotes.reject_quote(session, actor, quote_id, client_comment=body.client_comment, expected_version=body.version)
    return _quote(session, actor, quote_id)


@router.post("/quotes/{quote_id}/order", response_model=QuoteOut, responses=_TRANSITION)
def record_order(quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: OrderIn | None = None) -> QuoteOut:
    body = body or OrderIn()
    quotes.record_order(
        session, actor, quote_id, purchase_order_ref=body.purchase_order_ref, expected_version=body.version
    )
    return _quote(session, actor, quote_id)


@router.post("/quotes/{quote_id}/cancel", response_model=QuoteOut, responses=_TRANSITION)
def cancel_quote(quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: VersionIn | None = None) -> QuoteOut:
    quotes.cancel_quote(session, actor, quote_id, expected_version=body.version if body else None)
    return _quote(session, actor, quote_id)


@router.post(
    "/quotes/{quote_id}/revise",
    response_model=QuoteOut,
    status_code=201,
    responses=_TRANSITION,
    description="Answers the new draft revision; the revised quote is cancelled.",
)
def revise_quote(quote_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: VersionIn | None = None) -> QuoteOut:
    revision = quotes.revise_quote(session, actor, quote_id, expected_version=body.version if body else None)
    return _quote(session, actor, revision.id)
