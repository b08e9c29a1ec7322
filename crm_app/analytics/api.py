"""/api/analytics: the dashboard's figures, the same numbers as the dashboard page (the same service).
Amounts are decimal strings exact to the cent ("1234.50"), rates percentages with one decimal
("33.3", null when there is nothing to divide), dates ISO 8601. `scope` is own, team or all; a scope
wider than the role allows is refused (403); none asked means the widest allowed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field, create_model

from crm_app.analytics import dashboard as analytics
from crm_app.analytics.dashboard import AgeingBucket, DashboardScope, Period
from crm_app.platform.api.deps import ActorDep, Day, SessionDep
from crm_app.platform.api.routes import area_router
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.sales.models.opportunities import OpportunityStage

router = area_router(prefix="/analytics", tags=["analytics"])

ScopeQuery = Annotated[
    DashboardScope | None,
    Query(description="own, team or all; default: the widest your role allows (a wider one is refused: 403)"),
]


class MoneyKpi(BaseModel):
    value: Decimal = Field(description="Decimal string, to the cent")
    previous: Decimal | None = Field(description="The previous period's value; null for a state of today")


class CountKpi(BaseModel):
    value: int
    previous: int | None = Field(description="The previous period's value; null for a state of today")


class RateKpi(BaseModel):
    value: Decimal | None = Field(description="Percentage, one decimal; null when nothing to divide")
    previous: Decimal | None


def _kpi_model(name: str) -> type[BaseModel]:
    if name in analytics.MONEY_KPIS:
        return MoneyKpi
    if name in analytics.RATE_KPIS:
        return RateKpi
    return CountKpi


_KPI_FIELDS: dict[str, Any] = {name: (_kpi_model(name), ...) for name in analytics.KPI_NAMES}
KpisOut: type[BaseModel] = create_model("KpisOut", **_KPI_FIELDS)  # one field per KPI, in the service's order


class DashboardOut(BaseModel):
    period: Period
    scope: DashboardScope
    allowed_scopes: list[DashboardScope]
    today: date = Field(description="Today in the organisation's time zone")
    date_from: date
    date_to: date
    previous_from: date
    previous_to: date
    kpis: KpisOut  # type: ignore[valid-type]


class StageOut(BaseModel):
    stage: OpportunityStage
    count: int
    amount: Decimal = Field(description="Σ amount excl. VAT")
    weighted_amount: Decimal = Field(description="Σ amount × probability / 100, each rounded half-up to the cent")


class PipelineOut(BaseModel):
    scope: DashboardScope
    stages: list[StageOut] = Field(description="The open stages, in the board's order")


class BucketOut(BaseModel):
    count: int
    amount: Decimal
    weighted_amount: Decimal


class ForecastMonthOut(BucketOut):
    month: str = Field(description="YYYY-MM")
    close_from: date
    close_to: date


class ForecastOut(BaseModel):
    scope: DashboardScope
    today: date
    months: list[ForecastMonthOut] = Field(description="By month of expected close, the current month first")
    overdue: BucketOut = Field(description="Open opportunities whose expected close date has passed")
    undated: BucketOut = Field(description="Open opportunities without an expected close date")


class AgeingOut(BaseModel):
    bucket: AgeingBucket
    count: int
    amount: Decimal = Field(description="Outstanding, incl. VAT")
    due_from: date | None
    due_to: date | None


class ReceivablesOut(BaseModel):
    scope: DashboardScope
    today: date
    total: Decimal = Field(description="Outstanding on open invoices, incl. VAT")
    count: int
    buckets: list[AgeingOut] = Field(description="not_due, 1_30, 31_60, 61_90, over_90 days past due")


def _period(period: Period | None, date_from: date | None, date_to: date | None) -> Period:
    if period is None:
        return Period.CUSTOM if date_from is not None or date_to is not None else Period.MONTH
    if period is not Period.CUSTOM and (date_from is not None or date_to is not None):
        message = N_("A date range goes with the period “custom”.")
        raise ValidationFailed({name: message for name, day in (("date_from", date_from), ("date_to", date_to)) if day})
    return period


@router.get(
    "/dashboard",
    response_model=DashboardOut,
    description="The KPIs of a period, each with `value` and `previous` (the period before it). `period`: week "
    "(from Monday), month (default), quarter, year, or custom with `date_from` and `date_to` (inclusive; "
    "compared with as many days just before). Days are the organisation's.",
)
def get_dashboard(
    session: SessionDep,
    actor: ActorDep,
    *,
    period: Period | None = None,
    date_from: Day | None = None,
    date_to: Day | None = None,
    scope: ScopeQuery = None,
) -> dict[str, Any]:
    result = analytics.dashboard(
        session, actor, period=_period(period, date_from, date_to), date_from=date_from, date_to=date_to, scope=scope
    )
    return {
        "period": result.period,
        "scope": result.scope,
        "allowed_scopes": result.allowed_scopes,
        "today": result.today,
        "date_from": result.current.start,
        "date_to": result.current.end,
        "previous_from": result.previous.start,
        "previous_to": result.previous.end,
        "kpis": {name: {"value": k.value, "previous": k.previous} for name, k in result.kpis.items()},
    }


@router.get("/pipeline", response_model=PipelineOut, description="The open pipeline now, per stage.")
def get_pipeline(session: SessionDep, actor: ActorDep, scope: ScopeQuery = None) -> dict[str, Any]:
    resolved = analytics.resolve_scope(actor, scope)
    stages = analytics.pipeline(session, actor, scope=resolved)
    return {"scope": resolved, "stages": [vars_of(stage) for stage in stages]}


@router.get(
    "/forecast",
    response_model=ForecastOut,
    description="Open opportunities by month of expected close for the next `months` months (1–24, default 6), "
    "amount and weighted amount; the overdue ones (close date passed) and the undated ones apart.",
)
def get_forecast(
    session: SessionDep,
    actor: ActorDep,
    months: Annotated[int, Query(ge=1, le=analytics.MAX_FORECAST_MONTHS)] = 6,
    scope: ScopeQuery = None,
) -> dict[str, Any]:
    resolved = analytics.resolve_scope(actor, scope)
    result = analytics.forecast(session, actor, months=months, scope=resolved)
    return {
        "scope": resolved,
        "today": result.today,
        "months": [{**vars_of(m), "month": m.month.strftime("%Y-%m")} for m in result.months],
        "overdue": vars_of(result.overdue),
        "undated": vars_of(result.undated),
    }


@router.get(
    "/receivables",
    response_model=ReceivablesOut,
    description="What remains to be paid on open invoices (incl. VAT), aged by days past the due date.",
)
def get_receivables(session: SessionDep, actor: ActorDep, scope: ScopeQuery = None) -> dict[str, Any]:
    resolved = analytics.resolve_scope(actor, scope)
    result = analytics.receivables(session, actor, scope=resolved)
    return {
        "scope": resolved,
        "today": result.today,
        "total": result.total,
        "count": result.count,
        "buckets": [vars_of(bucket) for bucket in result.buckets],
    }


def vars_of(figures: Any) -> dict[str, Any]:
    """A slotted dataclass's fields as a dict (the response model picks what it shows)."""
    return {name: getattr(figures, name) for name in figures.__dataclass_fields__}
