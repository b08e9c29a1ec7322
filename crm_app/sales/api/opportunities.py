"""/api/opportunities: the list (with the sums of the filtered list), the board by stage, the export,
one opportunity with its stage history and linked quotes, creation, editing, stage moves, deletion,
its history; /api/opportunity-lost-reasons: the admin-editable list of reasons a sale is lost.
Amounts are decimal strings ("1234.50"), never floats; dates are ISO 8601."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from fastapi import Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from crm_app.platform import audit
from crm_app.platform.api.deps import ActorDep, Day, PageDep, PageSizeDep, SessionDep, partial_model, query_params
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.i18n import negotiate, use_locale
from crm_app.platform.paging import MAX_PAGE_SIZE, PageRequest
from crm_app.platform.tabular import ExportFormat
from crm_app.sales import opportunities
from crm_app.sales.models.opportunities import OpportunitySource, OpportunityStage
from crm_app.sales.opportunities import OpportunityFilter, OpportunityPage, OpportunityRow

router = area_router(tags=["opportunities"])

Amount = Decimal | str | int
_VERSION = Field(description="The version you read; a stale one is refused with 409.")
_VERSION_OPTIONAL = Field(default=None, description="The version you read; a stale one is refused with 409.")


class OpportunityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    institution_id: uuid.UUID
    contact_id: uuid.UUID | None = Field(default=None, description="A contact of that institution")
    owner_id: uuid.UUID | None = Field(default=None, description="Default: you; the team follows the owner")
    stage: OpportunityStage | None = Field(default=None, description="Default: prospecting")
    amount: Amount | None = Field(default=None, description="Excl. VAT, ≥ 0, decimal string")
    probability: int | None = Field(
        default=None, ge=0, le=100, description="0-100 set by hand; empty: the stage's default"
    )
    expected_close_date: Day | None = None
    source: OpportunitySource | None = None
    lost_reason_id: uuid.UUID | None = Field(default=None, description="Stage lost: a listed reason")
    lost_reason_text: str | None = Field(default=None, description="Stage lost: the reason in words")
    description: str | None = None


@partial_model
class OpportunityPatch(OpportunityIn):
    version: int = _VERSION


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: OpportunityStage
    lost_reason_id: uuid.UUID | None = Field(default=None, description="Lost: a listed reason and/or a text")
    lost_reason_text: str | None = None
    version: int | None = _VERSION_OPTIONAL


class StageRowOut(BaseModel):
    from_stage: str | None
    to_stage: str
    entered_at: datetime
    left_at: datetime | None
    duration_seconds: int | None = Field(description="Time spent in the stage (so far, for the current open one)")
    changed_by: uuid.UUID | None
    changed_by_name: str | None
    amount: Decimal
    probability: int


class LinkedQuoteOut(BaseModel):
    id: uuid.UUID
    number: str
    status: str
    title: str | None
    issue_date: date
    total_excl_vat: Decimal
    total_incl_vat: Decimal


class OpportunityOut(BaseModel):
    id: uuid.UUID
    name: str
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    contact_name: str | None
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    team_name: str | None
    stage: str
    amount: Decimal
    probability: int
    probability_is_manual: bool
    weighted_amount: Decimal
    expected_close_date: date | None
    source: str | None
    lost_reason_id: uuid.UUID | None
    lost_reason: str | None = Field(description="The listed reason, in the request's language")
    lost_reason_text: str | None
    description: str | None
    closed_at: datetime | None
    stage_changed_at: datetime
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    updated_by_name: str | None
    version: int
    can_edit: bool
    stage_history: list[StageRowOut]
    quotes: list[LinkedQuoteOut]


class OpportunityRowOut(BaseModel):
    id: uuid.UUID
    name: str
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    stage: str
    amount: Decimal
    probability: int
    weighted_amount: Decimal
    expected_close_date: date | None
    source: str | None
    closed_at: datetime | None
    stage_changed_at: datetime
    updated_at: datetime
    version: int


class OpportunityListOut(BaseModel):
    items: list[OpportunityRowOut]
    total: int
    page: int
    page_size: int
    sum_amount: Decimal = Field(description="Σ amount excl. VAT of the whole filtered list")
    sum_weighted: Decimal = Field(description="Σ amount × probability / 100 of the whole filtered list, to the cent")


class OpportunityPageOut(BaseModel):
    items: list[OpportunityRowOut]
    total: int
    page: int
    page_size: int


class BoardColumnOut(BaseModel):
    stage: str
    count: int = Field(description="Opportunities of the stage matching the filter")
    amount: Decimal = Field(description="Σ amount excl. VAT of the stage")
    weighted_amount: Decimal = Field(description="Σ amount × probability / 100 of the stage, to the cent")
    items: list[OpportunityRowOut] = Field(description="The first cards, nearest expected close first")
    has_more: bool = Field(description="More cards: GET /api/opportunities/board/{stage}?page=2")


class HistoryEntryOut(BaseModel):
    id: uuid.UUID
    at: datetime
    actor_name: str | None
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    old_name: str | None
    new_name: str | None


class HistoryPageOut(BaseModel):
    items: list[HistoryEntryOut]
    total: int
    page: int
    page_size: int


_HIDDEN = {"can_edit"}
_FILTERS = (
    "Filters (the /opportunities page's names): `q` (name, institution name), `stage` (repeat or separate "
    "with commas), `owner` (a user id, or `me`), `team`, `institution`, `close_from`, `close_to` (expected "
    "close date), `closed_from`, `closed_to` (closing day, in the organisation's time zone), `amount_min`, "
    "`amount_max` (excl. VAT), `source`."
)
_SORTS = (
    " `sort`: expected_close_date (default), name, institution, owner, stage, amount, probability, "
    "weighted_amount, closed_at, created, updated; `-` for descending."
)


def _row(row: OpportunityRow) -> OpportunityRowOut:
    return OpportunityRowOut.model_validate(row, from_attributes=True)


def _opportunity(session: SessionDep, actor: ActorDep, opportunity_id: uuid.UUID) -> OpportunityOut:
    detail = opportunities.get_detail(session, actor, opportunity_id)
    values: dict[str, Any] = {
        name: getattr(detail, name)
        for name in OpportunityOut.model_fields
        if name not in {"stage_history", "quotes", "lost_reason"}
    }
    values["lost_reason"] = opportunities.lost_reason_label(detail.lost_reason) if detail.lost_reason else None
    values["stage_history"] = [
        StageRowOut.model_validate(
            {
                "from_stage": row.from_stage,
                "to_stage": row.to_stage,
                "entered_at": row.entered_at,
                "left_at": row.left_at,
                "duration_seconds": int(row.duration.total_seconds()) if row.duration is not None else None,
                "changed_by": row.changed_by,
                "changed_by_name": row.changed_by_name,
                "amount": row.amount,
                "probability": row.probability,
            }
        )
        for row in detail.stage_history
    ]
    values["quotes"] = [LinkedQuoteOut.model_validate(q, from_attributes=True) for q in detail.quotes]
    return OpportunityOut.model_validate(values)


def _raw(body: BaseModel) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    values.pop("version", None)
    return values


@cache
def _page_adapter() -> TypeAdapter[OpportunityPage]:
    return TypeAdapter(OpportunityPage)


@router.get("/opportunities", response_model=OpportunityListOut, description=_FILTERS + _SORTS)
def list_opportunities(
    request: Request, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    result = opportunities.list_opportunities(
        session, actor, OpportunityFilter.from_params(query_params(request)), PageRequest(page, page_size)
    )
    body = _page_adapter().dump_json(result, exclude={"items": {"__all__": _HIDDEN}})
    return Response(body, media_type="application/json")


@router.get(
    "/opportunities/board",
    response_model=list[BoardColumnOut],
    description="A column per stage (the `stage` filter's, else all six) with its count, sum and weighted sum "
    "over the whole filter and its first `page_size` cards. " + _FILTERS,
)
def board(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = opportunities.BOARD_PAGE_SIZE,
) -> list[BoardColumnOut]:
    columns = opportunities.board(
        session, actor, OpportunityFilter.from_params(query_params(request)), page_size=page_size
    )
    return [
        BoardColumnOut(
            stage=column.stage.value,
            count=column.count,
            amount=column.amount,
            weighted_amount=column.weighted_amount,
            items=[_row(row) for row in column.items],
            has_more=column.has_more,
        )
        for column in columns
    ]


@router.get(
    "/opportunities/board/{stage}",
    response_model=OpportunityPageOut,
    description="A page of one board column's cards (nearest expected close first). " + _FILTERS,
)
def board_column(
    stage: OpportunityStage,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    *,
    page: PageDep = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = opportunities.BOARD_PAGE_SIZE,
) -> Response:
    result = opportunities.board_page(
        session, actor, OpportunityFilter.from_params(query_params(request)), stage, PageRequest(page, page_size)
    )
    return page_response(result, OpportunityRow, OpportunityRowOut)


@router.get(
    "/opportunities/export",
    description="The filtered list as CSV or XLSX, in the request's language. " + _FILTERS + _SORTS,
    responses={
        200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}
    },
)
def export_opportunities(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    format: ExportFormat = ExportFormat.CSV,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    with use_locale(negotiate(accept_language) or "en"):
        content = opportunities.export_opportunities(
            session, actor, OpportunityFilter.from_params(query_params(request)), format
        )
    media = (
        "text/csv; charset=utf-8"
        if format is ExportFormat.CSV
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="opportunities.{format.value}"'},
    )


@router.post("/opportunities", response_model=OpportunityOut, status_code=201)
def create_opportunity(
    body: OpportunityIn,
    session: SessionDep,
    actor: ActorDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> OpportunityOut:
    opportunity = opportunities.create_opportunity(session, actor, _raw(body))
    with use_locale(negotiate(accept_language) or "en"):
        return _opportunity(session, actor, opportunity.id)


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityOut)
def get_opportunity(
    opportunity_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> OpportunityOut:
    with use_locale(negotiate(accept_language) or "en"):
        return _opportunity(session, actor, opportunity_id)


@router.patch(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityOut,
    responses={409: {"description": "Stale version"}},
)
def update_opportunity(
    opportunity_id: uuid.UUID,
    body: OpportunityPatch,
    session: SessionDep,
    actor: ActorDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> OpportunityOut:
    opportunities.update_opportunity(session, actor, opportunity_id, _raw(body), expected_version=body.version)
    with use_locale(negotiate(accept_language) or "en"):
        return _opportunity(session, actor, opportunity_id)


@router.post(
    "/opportunities/{opportunity_id}/stage",
    response_model=OpportunityOut,
    responses={409: {"description": "Stale version"}},
    description="Move to a stage; `lost` needs `lost_reason_id` and/or `lost_reason_text`.",
)
def move_stage(
    opportunity_id: uuid.UUID,
    body: StageIn,
    session: SessionDep,
    actor: ActorDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> OpportunityOut:
    opportunities.move_stage(
        session,
        actor,
        opportunity_id,
        body.stage,
        lost_reason_id=body.lost_reason_id,
        lost_reason_text=body.lost_reason_text,
        expected_version=body.version,
    )
    with use_locale(negotiate(accept_language) or "en"):
        return _opportunity(session, actor, opportunity_id)


@router.delete("/opportunities/{opportunity_id}", status_code=204, responses={409: {"description": "Stale version"}})
def delete_opportunity(
    opportunity_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    version: Annotated[int | None, Query(description="The version you read; a stale one is refused with 409.")] = None,
) -> Response:
    opportunities.delete_opportunity(session, actor, opportunity_id, expected_version=version)
    return Response(status_code=204)


@router.get("/opportunities/{opportunity_id}/history", response_model=HistoryPageOut)
def opportunity_history(
    opportunity_id: uuid.UUID, session: SessionDep, actor: ActorDep, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    result = opportunities.opportunity_history(session, actor, opportunity_id, PageRequest(page, page_size))
    return page_response(result, audit.HistoryRow, HistoryEntryOut)


# --------------------------------------------------------------------------------------------
# Lost reasons


class LostReasonOut(BaseModel):
    id: uuid.UUID
    label: str = Field(description="In the request's language (a default reason is translated)")
    position: int
    is_active: bool
    version: int


class LostReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str


class LostReasonPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, description="A new label")
    is_active: bool | None = Field(default=None, description="false: retired (no longer offered)")
    version: int | None = _VERSION_OPTIONAL


class LostReasonOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_ids: list[uuid.UUID] = Field(description="The reasons in their new order (the others follow)")


def _reason_out(row: opportunities.LostReasonRow) -> LostReasonOut:
    return LostReasonOut(
        id=row.id,
        label=opportunities.lost_reason_label(row.label),
        position=row.position,
        is_active=row.is_active,
        version=row.version,
    )


def _reason_by_id(session: SessionDep, reason_id: uuid.UUID) -> LostReasonOut:
    [row] = [r for r in opportunities.list_lost_reasons(session, include_retired=True) if r.id == reason_id]
    return _reason_out(row)


@router.get("/opportunity-lost-reasons", response_model=list[LostReasonOut])
def list_lost_reasons(
    session: SessionDep,
    actor: ActorDep,
    include_retired: bool = False,
    accept_language: Annotated[str | None, Header()] = None,
) -> list[LostReasonOut]:
    with use_locale(negotiate(accept_language) or "en"):
        return [_reason_out(r) for r in opportunities.list_lost_reasons(session, include_retired=include_retired)]


@router.post("/opportunity-lost-reasons", response_model=LostReasonOut, status_code=201)
def create_lost_reason(
    body: LostReasonIn, session: SessionDep, actor: ActorDep, accept_language: Annotated[str | None, Header()] = None
) -> LostReasonOut:
    reason = opportunities.create_lost_reason(session, actor, body.label)
    with use_locale(negotiate(accept_language) or "en"):
        return _reason_by_id(session, reason.id)


@router.post("/opportunity-lost-reasons/order", response_model=list[LostReasonOut])
def reorder_lost_reasons(
    body: LostReasonOrderIn,
    session: SessionDep,
    actor: ActorDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> list[LostReasonOut]:
    rows = opportunities.reorder_lost_reasons(session, actor, body.reason_ids)
    with use_locale(negotiate(accept_language) or "en"):
        return [_reason_out(r) for r in rows]


@router.patch(
    "/opportunity-lost-reasons/{reason_id}",
    response_model=LostReasonOut,
    responses={409: {"description": "Stale version"}},
)
def update_lost_reason(
    reason_id: uuid.UUID,
    body: LostReasonPatch,
    session: SessionDep,
    actor: ActorDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> LostReasonOut:
    opportunities.update_lost_reason(
        session, actor, reason_id, label=body.label, is_active=body.is_active, expected_version=body.version
    )
    with use_locale(negotiate(accept_language) or "en"):
        return _reason_by_id(session, reason_id)


@router.delete("/opportunity-lost-reasons/{reason_id}", status_code=204)
def delete_lost_reason(reason_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    opportunities.delete_lost_reason(session, actor, reason_id)
    return Response(status_code=204)
