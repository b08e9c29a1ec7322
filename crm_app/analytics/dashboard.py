"""The dashboard's figures (DOMAIN.md "Analytics"): KPIs of a period compared with the previous one,
the pipeline by stage, the forecast by month of expected close, receivables aged by days past due,
invoiced vs collected per month, activities per salesperson and the actor's day.

Every figure is an aggregate computed in SQL on each call (no cache: the numbers are exact while the
data changes), over the scope the actor asked for and the role allows (`dashboard.view`):

- `own`: the records whose salesperson is the actor (opportunity, quote and invoice `owner_id`, task
  assignee, meeting organiser, call author, note author, institution assigned user);
- `team`: the records placed in the actor's team (`team_id`);
- `all`: everything.

A scope wider than the role allows is refused (Forbidden "dashboard.view"); no scope asked means the
widest allowed one.

Periods are local days in the organisation's time zone; weeks start on Monday. A week, month, quarter
or year is compared with the calendar period just before it (the previous week, month, quarter,
year); a date range with the range of the same number of days just before it.

Definitions:
- open pipeline: the open opportunities now (prospecting to negotiation), their amounts excl. VAT;
  weighted: Σ amount × probability / 100, each opportunity rounded half-up to the cent.
- won / lost: opportunities closed (`closed_at`) in the period; win rate = won / (won + lost), in %.
- quotes sent: quotes sent in the period (`sent_at`), counted once at their current revision
  (a revision superseded by a newer one is left out); quotes accepted: accepted in the period
  (`decided_at`, accepted or since ordered); conversion rate: of the quotes sent in the period, the
  share accepted (or ordered) so far, in %.
- revenue invoiced: issued invoices minus issued credit notes, excl. VAT, by issue date.
- cash collected: payments by payment date, net of refunds (money paid back on credit notes, by
  refund date).
- receivables: what remains to be paid (incl. VAT) on issued, partly paid and overdue invoices now,
  aged by days past the due date (total − paid − credited: an open invoice has no refund, which the
  database checks, so the covering index of open invoices need not carry the refunded amount).
- tasks open / overdue: open tasks now, and those of them past their due time.
- new institutions: institutions created in the period.
- new clients: institutions whose first issued invoice (credit notes aside) has its issue date in the
  period: the day the institution became a client.
- Figures that are a state of today (pipeline, receivables, open tasks) have no previous value.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from crm_app.activities.models import Call, Meeting, MeetingParticipant, MeetingStatus, Note, Task, TaskStatus
from crm_app.analytics import rollup
from crm_app.institutions.models import Institution
from crm_app.platform.db import fetch_all, is_postgresql
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import User
from crm_app.platform.permissions import Actor, Scope, scope_for
from crm_app.platform.settings import timezone
from crm_app.sales.models.invoices import (
    OPEN_INVOICE_STATUSES,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentDirection,
)
from crm_app.sales.models.opportunities import OPEN_STAGES, Opportunity, OpportunityStage
from crm_app.sales.models.quotes import Quote, QuoteStatus

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_RANGE_DAYS = 366 * 10  # a custom range reads at most ten years
MAX_FORECAST_MONTHS = 24

_O = table_of(Opportunity).c
_Q = table_of(Quote).c
_INV = table_of(Invoice).c
_PAY = table_of(Payment).c
#: a payment's contribution to cash collected: its amount in, a refund's out
_NET_PAID = sa.case((_PAY.direction == PaymentDirection.OUT.value, -_PAY.amount), else_=_PAY.amount)
_T = table_of(Task).c
_M = table_of(Meeting).c
_MP = table_of(MeetingParticipant).c
_C = table_of(Call).c
_N = table_of(Note).c
_INST = table_of(Institution).c
_U = table_of(User).c

_OPEN_STAGE_VALUES = [stage.value for stage in OPEN_STAGES]
_OPEN_INVOICES = [status.value for status in OPEN_INVOICE_STATUSES]
_OPEN_TASKS = [TaskStatus.TODO.value, TaskStatus.IN_PROGRESS.value]
_ACCEPTED_QUOTES = [QuoteStatus.ACCEPTED.value, QuoteStatus.ORDERED.value]


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"  # date_from .. date_to


class DashboardScope(StrEnum):
    OWN = "own"
    TEAM = "team"
    ALL = "all"


PERIOD_LABELS: dict[Period, str] = {
    Period.WEEK: N_("Week"),
    Period.MONTH: N_("Month"),
    Period.QUARTER: N_("Quarter"),
    Period.YEAR: N_("Year"),
    Period.CUSTOM: N_("Date range"),
}
SCOPE_LABELS: dict[DashboardScope, str] = {
    DashboardScope.OWN: N_("Mine"),
    DashboardScope.TEAM: N_("My team"),
    DashboardScope.ALL: N_("Everyone"),
}


# --------------------------------------------------------------------------------------------
# Periods and scopes


@dataclass(frozen=True, slots=True)
class DateRange:
    """Local days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def local_today(session: Session | None = None) -> date:
    """Today in the organisation's time zone."""
    return utcnow().astimezone(ZoneInfo(timezone(session))).date()


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_ranges(
    period: Period, today: date, date_from: date | None = None, date_to: date | None = None
) -> tuple[DateRange, DateRange]:
    """The period and the one it is compared with. Weeks start on Monday; a calendar period is
    compared with the calendar period before it, a date range with as many days just before it."""
    if period is Period.CUSTOM:
        errors: dict[str, str] = {}
        if date_from is None:
            errors["date_from"] = N_("Choose the first day of the range.")
        if date_to is None:
            errors["date_to"] = N_("Choose the last day of the range.")
        if errors:
            raise ValidationFailed(errors)
        assert date_from is not None and date_to is not None
        if date_to < date_from:
            raise ValidationFailed({"date_to": N_("The last day comes before the first one.")})
        current = DateRange(date_from, date_to)
        if current.days > MAX_RANGE_DAYS:
            raise ValidationFailed({"date_to": N_("A range covers at most ten years.")})
        before = current.start - timedelta(days=1)
        return current, DateRange(before - timedelta(days=current.days - 1), before)
    if period is Period.WEEK:
        start = today - timedelta(days=today.weekday())
        current = DateRange(start, start + timedelta(days=6))
        return current, DateRange(start - timedelta(days=7), start - timedelta(days=1))
    months = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[period]
    start = {
        Period.MONTH: today.replace(day=1),
        Period.QUARTER: _quarter_start(today),
        Period.YEAR: date(today.year, 1, 1),
    }[period]
    current = DateRange(start, _add_months(start, months) - timedelta(days=1))
    return current, DateRange(_add_months(start, -months), start - timedelta(days=1))


def allowed_scopes(actor: Actor) -> list[DashboardScope]:
    """The scopes the actor's role allows, narrowest first (a team scope needs a team)."""
    reach = scope_for(actor, "dashboard.view")
    scopes: list[DashboardScope] = []
    if reach >= Scope.OWN:
        scopes.append(DashboardScope.OWN)
    if reach >= Scope.TEAM and actor.team_id is not None:
        scopes.append(DashboardScope.TEAM)
    if reach >= Scope.ALL:
        scopes.append(DashboardScope.ALL)
    return scopes


def resolve_scope(actor: Actor, requested: DashboardScope | None) -> DashboardScope:
    """The scope to compute: the one asked for when the role allows it (else Forbidden), or the widest
    allowed one."""
    scopes = allowed_scopes(actor)
    if not scopes:
        raise Forbidden("dashboard.view")
    if requested is None:
        return scopes[-1]
    if requested not in scopes:
        raise Forbidden("dashboard.view")
    return requested


def _scoped(actor: Actor, scope: DashboardScope, owner: Any, team: Any) -> Any:
    if scope is DashboardScope.OWN:
        return owner == actor.id
    if scope is DashboardScope.TEAM:
        return team == actor.team_id
    return sa.true()


@dataclass(frozen=True, slots=True)
class _Window:
    """A range of local days as the [start, end) instants that bound it."""

    days: DateRange
    start: datetime
    end: datetime


def _window(days: DateRange, zone: ZoneInfo) -> _Window:
    start = datetime.combine(days.start, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(days.end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return _Window(days, start, end)


def _instant_in(column: Any, window: _Window) -> Any:
    return sa.and_(column >= window.start, column < window.end)


def _day_in(column: Any, days: DateRange) -> Any:
    return column.between(days.start, days.end)


# --------------------------------------------------------------------------------------------
# Exact money in SQL: sums of whole cents (SQLite keeps NUMERIC as binary floating point)


def _cents(column: Any) -> Any:
    return sa.cast(sa.func.round(column * 100), sa.BigInteger)


def _weighted_cents() -> Any:
    """An opportunity's weighted amount in cents: amount × probability / 100, half-up to the cent."""
    return (_cents(_O.amount) * _O.probability + 50) // 100


def _sum_cents(expression: Any, condition: Any = None) -> Any:
    summed = sa.func.sum(expression) if condition is None else sa.func.sum(expression).filter(condition)
    return sa.func.coalesce(summed, 0)


def _count(condition: Any) -> Any:
    return sa.func.count().filter(condition)


def _money(cents: Any) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(CENT)


def _rate(part: int, whole: int) -> Decimal | None:
    """part / whole in %, to one decimal (None when there is nothing to divide by)."""
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


# --------------------------------------------------------------------------------------------
# KPIs


@dataclass(frozen=True, slots=True)
class Figure:
    """One KPI: its value in the period and in the previous one (None for a state of today)."""

    value: Decimal | int | None
    previous: Decimal | int | None = None


#: The KPIs, in the order the API and the page show them; money figures are Decimal, counts int,
#: rates Decimal % (one decimal) or None when undefined.
KPI_NAMES: tuple[str, ...] = (
    "open_pipeline",
    "weighted_pipeline",
    "open_opportunities",
    "won_count",
    "won_amount",
    "lost_count",
    "win_rate",
    "quotes_sent",
    "quotes_accepted",
    "quote_conversion_rate",
    "revenue_invoiced",
    "cash_collected",
    "receivables",
    "receivables_overdue",
    "tasks_open",
    "tasks_overdue",
    "tasks_done",
    "new_institutions",
    "new_clients",
)
MONEY_KPIS = frozenset(
    {
        "open_pipeline",
        "weighted_pipeline",
        "won_amount",
        "revenue_invoiced",
        "cash_collected",
        "receivables",
        "receivables_overdue",
    }
)
RATE_KPIS = frozenset({"win_rate", "quote_conversion_rate"})
#: The KPIs that are a state of today rather than a period's (no previous value).
STATE_KPIS = frozenset(
    {
        "open_pipeline",
        "weighted_pipeline",
        "open_opportunities",
        "receivables",
        "receivables_overdue",
        "tasks_open",
        "tasks_overdue",
    }
)


@dataclass(frozen=True, slots=True)
class Dashboard:
    period: Period
    scope: DashboardScope
    allowed_scopes: list[DashboardScope]
    current: DateRange
    previous: DateRange
    today: date
    kpis: dict[str, Figure]
    team_id: uuid.UUID | None = None  # the team of the `team` scope


def _money_sum(postgresql: bool, column: Any, condition: Any = None) -> Any:
    """Σ column in cents, exact: PostgreSQL sums NUMERIC exactly (no conversion per row); SQLite keeps
    NUMERIC as binary floating point, so it sums each value's whole cents."""
    if not postgresql:
        return _sum_cents(_cents(column), condition)
    summed = sa.func.sum(column) if condition is None else sa.func.sum(column).filter(condition)
    return sa.func.coalesce(summed, 0) * 100


def _one_row(parts: list[Any]) -> Any:
    """One-row aggregates (SELECTs of labelled columns, each over its own table and index) as one
    statement, one round trip: their cross join."""
    subqueries = [part.subquery(f"part_{index}") for index, part in enumerate(parts)]
    joined: Any = subqueries[0]
    for subquery in subqueries[1:]:
        joined = joined.join(subquery, sa.true())
    return sa.select(*(column for subquery in subqueries for column in subquery.c)).select_from(joined)


class _ParamActor:
    """The actor of a statement built once: their id and team as bound parameters."""

    id: Any = sa.bindparam("actor_id")
    team_id: Any = sa.bindparam("team_id")


def _param_window(key: str) -> _Window:
    """A window whose bounds are bound parameters: `{key}_first`, `{key}_last` (local days),
    `{key}_start`, `{key}_end` (instants)."""
    days = DateRange(cast(date, sa.bindparam(f"{key}_first")), cast(date, sa.bindparam(f"{key}_last")))
    return _Window(days, cast(datetime, sa.bindparam(f"{key}_start")), cast(datetime, sa.bindparam(f"{key}_end")))


def _window_params(key: str, window: _Window) -> dict[str, Any]:
    return {
        f"{key}_first": window.days.start,
        f"{key}_last": window.days.end,
        f"{key}_start": window.start,
        f"{key}_end": window.end,
    }


@functools.cache
def _kpi_statement(postgresql: bool, scope: DashboardScope, long_span: bool, totals: bool = False) -> Any:
    """Every KPI of the dashboard in one statement, built once per dialect, scope, kind of span and
    source (the actor, the windows, today and now are bound parameters): building and compiling it is
    no longer paid on each call. With `totals`, the period figures come from the per-day totals
    (`crm_app.analytics.rollup`), else from the rows."""
    actor = cast(Actor, _ParamActor())
    windows = {"cur": _param_window("cur"), "prev": _param_window("prev")}
    today, now = cast(date, sa.bindparam("today")), cast(datetime, sa.bindparam("now"))
    period = [rollup.period_part()] if totals else _period_parts(postgresql, actor, scope, windows, long_span=long_span)
    return _one_row([*_state_parts(postgresql, actor, scope, today, now), *period])


def _period_parts(
    postgresql: bool, actor: Actor, scope: DashboardScope, windows: dict[str, _Window], *, long_span: bool = False
) -> list[Any]:
    """The aggregates of the period KPIs for each window (`cur`, `prev`), each table read once over the
    span of both windows (they are adjacent) through its covering index, the windows told apart by
    FILTER clauses."""
    start, end = windows["prev"].start, windows["cur"].end  # the previous window ends where the current starts
    first_day, last_day = windows["prev"].days.start, windows["cur"].days.end
    won, lost = OpportunityStage.WON.value, OpportunityStage.LOST.value
    opportunities: list[Any] = []
    quotes_sent: list[Any] = []
    quotes_decided: list[Any] = []
    invoiced: list[Any] = []
    collected: list[Any] = []
    tasks_done: list[Any] = []
    created: list[Any] = []
    for key, window in windows.items():
        closed = _instant_in(_O.closed_at, window)
        opportunities += [
            _count(sa.and_(closed, _O.stage == won)).label(f"won_{key}"),
            _count(sa.and_(closed, _O.stage == lost)).label(f"lost_{key}"),
            _money_sum(postgresql, _O.amount, sa.and_(closed, _O.stage == won)).label(f"won_cents_{key}"),
        ]
        sent = _instant_in(_Q.sent_at, window)
        quotes_sent += [
            _count(sent).label(f"sent_{key}"),
            _count(sa.and_(sent, _Q.status.in_(_ACCEPTED_QUOTES))).label(f"sent_accepted_{key}"),
        ]
        quotes_decided.append(_count(_instant_in(_Q.decided_at, window)).label(f"accepted_{key}"))
        issued = _day_in(_INV.issue_date, window.days)
        invoiced += [
            _money_sum(postgresql, _INV.total_excl_vat, sa.and_(issued, _INV.kind == InvoiceKind.INVOICE.value)).label(
                f"invoiced_{key}"
            ),
            _money_sum(
                postgresql, _INV.total_excl_vat, sa.and_(issued, _INV.kind == InvoiceKind.CREDIT_NOTE.value)
            ).label(f"credited_{key}"),
        ]
        collected.append(
            _money_sum(postgresql, _NET_PAID, _day_in(_PAY.paid_on, window.days)).label(f"collected_{key}")
        )
        tasks_done.append(_count(_instant_in(_T.completed_at, window)).label(f"tasks_done_{key}"))
        created.append(_count(_instant_in(_INST.created_at, window)).label(f"new_institutions_{key}"))
    opportunity_scope = _scoped(actor, scope, _O.owner_id, _O.team_id)
    quote_scope = _scoped(actor, scope, _Q.owner_id, _Q.team_id)
    invoice_scope = _scoped(actor, scope, _INV.owner_id, _INV.team_id)
    institution_scope = _scoped(actor, scope, _INST.assigned_user_id, _INST.team_id)
    return [
        sa.select(*opportunities).where(opportunity_scope, _O.closed_at >= start, _O.closed_at < end),
        sa.select(*quotes_sent).where(
            quote_scope, _Q.superseded_by_id.is_(None), _Q.sent_at >= start, _Q.sent_at < end
        ),
        sa.select(*quotes_decided).where(
            quote_scope,
            _Q.superseded_by_id.is_(None),
            _Q.status.in_(_ACCEPTED_QUOTES),
            _Q.decided_at >= start,
            _Q.decided_at < end,
        ),
        sa.select(*invoiced).where(
            invoice_scope, _INV.status != InvoiceStatus.DRAFT.value, _INV.issue_date.between(first_day, last_day)
        ),
        sa.select(*collected)
        .select_from(_payments(scope))
        .where(invoice_scope, _PAY.paid_on.between(first_day, last_day)),
        sa.select(*tasks_done).where(
            _scoped(actor, scope, _T.assignee_id, _T.team_id),
            _T.status == TaskStatus.DONE.value,
            _T.completed_at >= start,
            _T.completed_at < end,
        ),
        sa.select(*created).where(institution_scope, _INST.created_at >= start, _INST.created_at < end),
        _new_clients(windows, scope, institution_scope, long_span=long_span),
    ]


#: Spans of more days than this find the new clients from every institution's first issued invoice
#: (one pass over the (institution, issue date) index, about 12 ms at 100,000 invoices whatever the
#: span); shorter ones from the invoices of the span and an index probe each for an earlier one.
LONG_SPAN_DAYS = 62


def _new_clients(
    windows: dict[str, _Window], scope: DashboardScope, institution_scope: Any, *, long_span: bool = False
) -> Any:
    """The institutions whose first issued invoice (credit notes aside) is dated in each window, counted
    by the day of that first invoice."""
    first_day, last_day = windows["prev"].days.start, windows["cur"].days.end
    first_issue = sa.func.min(_INV.issue_date)
    columns = (_INV.institution_id.label("institution_id"), first_issue.label("first_day"))
    if long_span:
        first = (
            sa.select(*columns)
            .where(_issued_invoice(_INV))
            .group_by(_INV.institution_id)
            .having(first_issue.between(first_day, last_day))
            .subquery("first_invoice")
        )
    else:
        earlier = table_of(Invoice).alias("earlier_invoice").c
        first = (
            sa.select(*columns)
            .where(
                _issued_invoice(_INV),
                _INV.issue_date.between(first_day, last_day),
                ~sa.exists().where(
                    earlier.institution_id == _INV.institution_id,
                    _issued_invoice(earlier),
                    earlier.issue_date < first_day,
                ),
            )
            .group_by(_INV.institution_id)
            .subquery("first_invoice")
        )
    source: Any = first
    if scope is not DashboardScope.ALL:  # the institution's salesperson or team
        source = first.join(table_of(Institution), _INST.id == first.c.institution_id)
    return (
        sa.select(
            *(
                _count(_day_in(first.c.first_day, window.days)).label(f"new_clients_{key}")
                for key, window in windows.items()
            )
        )
        .select_from(source)
        .where(institution_scope)
    )


def _payments(scope: DashboardScope) -> Any:
    """The payments, with their invoice when the scope reads its salesperson or team."""
    if scope is DashboardScope.ALL:
        return table_of(Payment)
    return table_of(Payment).join(table_of(Invoice), _INV.id == _PAY.invoice_id)


def _issued_invoice(columns: Any) -> Any:
    return sa.and_(columns.kind == InvoiceKind.INVOICE.value, columns.status != InvoiceStatus.DRAFT.value)


def _outstanding_sum(postgresql: bool, condition: Any = None) -> Any:
    """Σ what remains to be paid on invoices (incl. VAT), in cents."""
    if postgresql:
        return _money_sum(postgresql, _INV.total_incl_vat - _INV.amount_paid - _INV.amount_credited, condition)
    outstanding = _cents(_INV.total_incl_vat) - _cents(_INV.amount_paid) - _cents(_INV.amount_credited)
    return _sum_cents(outstanding, condition)


def _state_parts(postgresql: bool, actor: Actor, scope: DashboardScope, today: date, now: datetime) -> list[Any]:
    """The aggregates of the KPIs that are a state of today: the open pipeline, receivables, open tasks
    (each read through a covering partial index: open opportunities, open invoices, open tasks)."""
    return [
        sa.select(
            sa.func.count().label("open_opportunities"),
            _money_sum(postgresql, _O.amount).label("open_pipeline"),
            _sum_cents(_weighted_cents()).label("weighted_pipeline"),
        ).where(_scoped(actor, scope, _O.owner_id, _O.team_id), _O.stage.in_(_OPEN_STAGE_VALUES)),
        sa.select(
            _outstanding_sum(postgresql).label("receivables"),
            _outstanding_sum(postgresql, _INV.due_date < today).label("receivables_overdue"),
        ).where(*_receivable_conditions(actor, scope)),
        sa.select(sa.func.count().label("tasks_open"), _count(_T.due_at < now).label("tasks_overdue")).where(
            _scoped(actor, scope, _T.assignee_id, _T.team_id), _T.status.in_(_OPEN_TASKS)
        ),
    ]


def _state_kpis(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "open_pipeline": _money(row["open_pipeline"]),
        "weighted_pipeline": _money(row["weighted_pipeline"]),
        "open_opportunities": int(row["open_opportunities"]),
        "receivables": _money(row["receivables"]),
        "receivables_overdue": _money(row["receivables_overdue"]),
        "tasks_open": int(row["tasks_open"]),
        "tasks_overdue": int(row["tasks_overdue"]),
    }


def _period_kpis(row: dict[str, Any], key: str) -> dict[str, Any]:
    """The period KPIs of one window (`cur` or `prev`) from the one row of `_period_parts`."""
    won, lost, sent = int(row[f"won_{key}"]), int(row[f"lost_{key}"]), int(row[f"sent_{key}"])
    return {
        "won_count": won,
        "won_amount": _money(row[f"won_cents_{key}"]),
        "lost_count": lost,
        "win_rate": _rate(won, won + lost),
        "quotes_sent": sent,
        "quotes_accepted": int(row[f"accepted_{key}"]),
        "quote_conversion_rate": _rate(int(row[f"sent_accepted_{key}"]), sent),
        "revenue_invoiced": _money(int(row[f"invoiced_{key}"]) - int(row[f"credited_{key}"])),
        "cash_collected": _money(row[f"collected_{key}"]),
        "tasks_done": int(row[f"tasks_done_{key}"]),
        "new_institutions": int(row[f"new_institutions_{key}"]),
        "new_clients": int(row[f"new_clients_{key}"]),
    }


def _receivable_conditions(actor: Actor, scope: DashboardScope) -> list[Any]:
    return [
        _scoped(actor, scope, _INV.owner_id, _INV.team_id),
        _INV.kind == InvoiceKind.INVOICE.value,
        _INV.status.in_(_OPEN_INVOICES),
    ]


def dashboard(
    session: Session,
    actor: Actor,
    *,
    period: Period = Period.MONTH,
    date_from: date | None = None,
    date_to: date | None = None,
    scope: DashboardScope | None = None,
    today: date | None = None,
    from_rows: bool = False,
) -> Dashboard:
    """The KPIs of the period and of the previous one, in the scope asked (or the widest allowed), in
    one statement. On PostgreSQL the period figures are sums of the per-day totals the database keeps
    (`crm_app.analytics.rollup`); elsewhere, when those are not built in the organisation's time zone,
    or with `from_rows` (the tests compare both), each table is read once for both periods."""
    resolved = resolve_scope(actor, scope)
    day = today or local_today(session)
    current, previous = period_ranges(period, day, date_from, date_to)
    zone = ZoneInfo(timezone(session))
    params = {
        "actor_id": actor.id,
        "team_id": actor.team_id,
        "today": day,
        "now": utcnow(),
        **_window_params("cur", _window(current, zone)),
        **_window_params("prev", _window(previous, zone)),
    }
    long_span = current.days + previous.days > LONG_SPAN_DAYS
    postgresql = is_postgresql(session)
    row: dict[str, Any] | None = None
    if postgresql and not from_rows:
        params.update(rollup.subject(resolved.value, actor.id, actor.team_id))
        row = dict(fetch_all(session, _kpi_statement(True, resolved, long_span, True), params)[0]._mapping)
        if row["rollup_zone"] != zone.key:  # not (yet) built in the organisation's zone: from the rows
            row = None
    if row is None:
        row = dict(fetch_all(session, _kpi_statement(postgresql, resolved, long_span), params)[0]._mapping)
    now_figures = _state_kpis(row)
    this, before = _period_kpis(row, "cur"), _period_kpis(row, "prev")
    kpis: dict[str, Figure] = {}
    for name in KPI_NAMES:
        if name in STATE_KPIS:
            kpis[name] = Figure(now_figures[name])
        else:
            kpis[name] = Figure(this[name], before[name])
    return Dashboard(
        period=period,
        scope=resolved,
        allowed_scopes=allowed_scopes(actor),
        current=current,
        previous=previous,
        today=day,
        kpis=kpis,
        team_id=actor.team_id if resolved is DashboardScope.TEAM else None,
    )


# --------------------------------------------------------------------------------------------
# Pipeline, forecast, receivables, invoiced vs collected


@dataclass(frozen=True, slots=True)
class StageFigures:
    stage: OpportunityStage
    count: int
    amount: Decimal
    weighted_amount: Decimal


def pipeline(session: Session, actor: Actor, *, scope: DashboardScope | None = None) -> list[StageFigures]:
    """The open pipeline now, per open stage in the board's order (stages without opportunity too)."""
    resolved = resolve_scope(actor, scope)
    rows = fetch_all(
        session,
        sa.select(_O.stage, sa.func.count(), _sum_cents(_cents(_O.amount)), _sum_cents(_weighted_cents()))
        .where(_scoped(actor, resolved, _O.owner_id, _O.team_id), _O.stage.in_(_OPEN_STAGE_VALUES))
        .group_by(_O.stage),
    )
    found = {row[0]: row for row in rows}
    result = []
    for stage in OPEN_STAGES:
        _, count, amount, weighted = found.get(stage.value, (stage.value, 0, 0, 0))
        result.append(StageFigures(stage, int(count), _money(amount), _money(weighted)))
    return result


@dataclass(frozen=True, slots=True)
class Bucket:
    """Open opportunities of one forecast bucket."""

    count: int
    amount: Decimal
    weighted_amount: Decimal


@dataclass(frozen=True, slots=True)
class ForecastMonth(Bucket):
    month: date  # its first day
    close_from: date  # the bounds of expected close dates it holds (the current month starts today)
    close_to: date


@dataclass(frozen=True, slots=True)
class Forecast:
    """Open opportunities by month of expected close, from the current month on. Those whose expected
    close date has passed are not moved into the current month: they are counted apart, as `overdue`
    (still open, the date needs updating); those without a date are `undated`."""

    today: date
    months: list[ForecastMonth]
    overdue: Bucket
    undated: Bucket


def forecast(
    session: Session, actor: Actor, *, months: int = 6, scope: DashboardScope | None = None, today: date | None = None
) -> Forecast:
    """The forecast for `months` months (1–24) in one query."""
    if not 1 <= months <= MAX_FORECAST_MONTHS:
        raise ValidationFailed({"months": N_("Choose between 1 and 24 months.")})
    resolved = resolve_scope(actor, scope)
    day = today or local_today(session)
    first = day.replace(day=1)
    spans = [
        (_add_months(first, i), max(day, _add_months(first, i)), _add_months(first, i + 1) - timedelta(days=1))
        for i in range(months)
    ]
    close = _O.expected_close_date
    buckets: list[tuple[Any, ...]] = [(close.between(low, high),) for _, low, high in spans]
    buckets += [(close < day,), (close.is_(None),)]
    columns: list[Any] = []
    for (condition,) in buckets:
        columns += [
            _count(condition),
            _sum_cents(_cents(_O.amount), condition),
            _sum_cents(_weighted_cents(), condition),
        ]
    row = fetch_all(
        session,
        sa.select(*columns).where(_scoped(actor, resolved, _O.owner_id, _O.team_id), _O.stage.in_(_OPEN_STAGE_VALUES)),
    )[0]

    def bucket(index: int) -> tuple[int, Decimal, Decimal]:
        count, amount, weighted = row[3 * index : 3 * index + 3]
        return int(count), _money(amount), _money(weighted)

    result = [
        ForecastMonth(*bucket(i), month=month, close_from=low, close_to=high)
        for i, (month, low, high) in enumerate(spans)
    ]
    return Forecast(day, result, Bucket(*bucket(months)), Bucket(*bucket(months + 1)))


class AgeingBucket(StrEnum):
    NOT_DUE = "not_due"
    DAYS_1_30 = "1_30"
    DAYS_31_60 = "31_60"
    DAYS_61_90 = "61_90"
    OVER_90 = "over_90"


AGEING_LABELS: dict[AgeingBucket, str] = {
    AgeingBucket.NOT_DUE: N_("Not yet due"),
    AgeingBucket.DAYS_1_30: N_("1–30 days"),
    AgeingBucket.DAYS_31_60: N_("31–60 days"),
    AgeingBucket.DAYS_61_90: N_("61–90 days"),
    AgeingBucket.OVER_90: N_("Over 90 days"),
}

#: days past due of each bucket (inclusive bounds; None: unbounded).
AGEING_DAYS: dict[AgeingBucket, tuple[int | None, int | None]] = {
    AgeingBucket.NOT_DUE: (None, 0),
    AgeingBucket.DAYS_1_30: (1, 30),
    AgeingBucket.DAYS_31_60: (31, 60),
    AgeingBucket.DAYS_61_90: (61, 90),
    AgeingBucket.OVER_90: (91, None),
}


def due_date_bounds(bucket: AgeingBucket, today: date) -> tuple[date | None, date | None]:
    """The due dates (inclusive, None: unbounded) of the invoices of a bucket on `today`."""
    least, most = AGEING_DAYS[bucket]
    due_from = today - timedelta(days=most) if most is not None else None
    due_to = today - timedelta(days=least) if least is not None else None
    return due_from, due_to


@dataclass(frozen=True, slots=True)
class AgeingFigures:
    bucket: AgeingBucket
    count: int
    amount: Decimal  # outstanding, incl. VAT
    due_from: date | None
    due_to: date | None


@dataclass(frozen=True, slots=True)
class Receivables:
    today: date
    total: Decimal
    count: int
    buckets: list[AgeingFigures] = field(default_factory=list)


def receivables(
    session: Session, actor: Actor, *, scope: DashboardScope | None = None, today: date | None = None
) -> Receivables:
    """What remains to be paid (incl. VAT) on open invoices, aged by days past due, in one query."""
    resolved = resolve_scope(actor, scope)
    day = today or local_today(session)
    outstanding = _cents(_INV.total_incl_vat) - _cents(_INV.amount_paid) - _cents(_INV.amount_credited)
    conditions: list[tuple[AgeingBucket, Any]] = []
    for bucket in AgeingBucket:
        due_from, due_to = due_date_bounds(bucket, day)
        parts = []
        if due_from is not None:
            parts.append(_INV.due_date >= due_from)
        if due_to is not None:
            parts.append(_INV.due_date <= due_to)
        conditions.append((bucket, sa.and_(*parts)))
    columns: list[Any] = [sa.func.count(), _sum_cents(outstanding)]
    for _, condition in conditions:
        columns += [_count(condition), _sum_cents(outstanding, condition)]
    row = fetch_all(session, sa.select(*columns).where(*_receivable_conditions(actor, resolved)))[0]
    buckets = []
    for index, (bucket, _) in enumerate(conditions):
        due_from, due_to = due_date_bounds(bucket, day)
        buckets.append(AgeingFigures(bucket, int(row[2 + 2 * index]), _money(row[3 + 2 * index]), due_from, due_to))
    return Receivables(day, _money(row[1]), int(row[0]), buckets)


@dataclass(frozen=True, slots=True)
class MonthCash:
    month: date
    invoiced: Decimal  # issued invoices minus credit notes, excl. VAT, by issue date
    collected: Decimal  # payments by payment date, net of refunds


def invoiced_vs_collected(
    session: Session,
    actor: Actor,
    *,
    months: int = 12,
    scope: DashboardScope | None = None,
    today: date | None = None,
    from_rows: bool = False,
) -> list[MonthCash]:
    """The last `months` months, the current one last: from the per-day totals on PostgreSQL (one query),
    else two queries of conditional sums over the rows."""
    resolved = resolve_scope(actor, scope)
    day = today or local_today(session)
    first = day.replace(day=1)
    spans = [
        (_add_months(first, i - months + 1), _add_months(first, i - months + 2) - timedelta(days=1))
        for i in range(months)
    ]
    if is_postgresql(session) and not from_rows:
        from_totals = rollup.cash_by_month(session, spans, rollup.subject(resolved.value, actor.id, actor.team_id))
        if from_totals is not None:
            return [
                MonthCash(low, _money(invoiced), _money(collected))
                for (low, _), (invoiced, collected) in zip(spans, from_totals, strict=True)
            ]
    invoice_scope = _scoped(actor, resolved, _INV.owner_id, _INV.team_id)
    signed = sa.case(
        (_INV.kind == InvoiceKind.CREDIT_NOTE.value, -_cents(_INV.total_excl_vat)), else_=_cents(_INV.total_excl_vat)
    )
    invoiced = fetch_all(
        session,
        sa.select(*(_sum_cents(signed, _INV.issue_date.between(low, high)) for low, high in spans)).where(
            invoice_scope, _INV.status != InvoiceStatus.DRAFT.value, _INV.issue_date.between(spans[0][0], spans[-1][1])
        ),
    )[0]
    collected = fetch_all(
        session,
        sa.select(*(_sum_cents(_cents(_NET_PAID), _PAY.paid_on.between(low, high)) for low, high in spans))
        .select_from(_payments(resolved))
        .where(invoice_scope, _PAY.paid_on.between(spans[0][0], spans[-1][1])),
    )[0]
    return [MonthCash(low, _money(invoiced[i]), _money(collected[i])) for i, (low, _) in enumerate(spans)]


# --------------------------------------------------------------------------------------------
# Activities per salesperson


@dataclass(frozen=True, slots=True)
class PersonActivity:
    user_id: uuid.UUID
    name: str
    tasks_done: int = 0
    meetings: int = 0
    calls: int = 0
    notes: int = 0

    @property
    def total(self) -> int:
        return self.tasks_done + self.meetings + self.calls + self.notes


def activities_by_person(
    session: Session,
    actor: Actor,
    *,
    period: Period = Period.MONTH,
    date_from: date | None = None,
    date_to: date | None = None,
    scope: DashboardScope | None = None,
    today: date | None = None,
) -> list[PersonActivity]:
    """Per salesperson in the period: tasks done (completion time), meetings held or planned (start,
    cancelled ones left out, counted for their organiser), calls logged and notes written; one UNION ALL
    query grouped by person. Most active first."""
    resolved = resolve_scope(actor, scope)
    day = today or local_today(session)
    current, _ = period_ranges(period, day, date_from, date_to)
    window = _window(current, ZoneInfo(timezone(session)))
    kinds: list[tuple[str, Any]] = [
        (
            "tasks_done",
            sa.select(_T.assignee_id.label("user_id"), sa.literal("tasks_done").label("kind")).where(
                _scoped(actor, resolved, _T.assignee_id, _T.team_id),
                _T.status == TaskStatus.DONE.value,
                _instant_in(_T.completed_at, window),
            ),
        ),
        (
            "meetings",
            sa.select(_M.organizer_id, sa.literal("meetings")).where(
                _scoped(actor, resolved, _M.organizer_id, _M.team_id),
                _M.status != MeetingStatus.CANCELLED.value,
                _instant_in(_M.starts_at, window),
            ),
        ),
        (
            "calls",
            sa.select(_C.user_id, sa.literal("calls")).where(
                _scoped(actor, resolved, _C.user_id, _C.team_id), _instant_in(_C.called_at, window)
            ),
        ),
        (
            "notes",
            sa.select(_N.created_by, sa.literal("notes")).where(
                _scoped(actor, resolved, _N.created_by, _N.team_id),
                _N.created_by.is_not(None),
                _instant_in(_N.created_at, window),
            ),
        ),
    ]
    union = sa.union_all(*(statement for _, statement in kinds)).subquery("activity")
    rows = fetch_all(
        session,
        sa.select(union.c.user_id, _U.full_name, union.c.kind, sa.func.count())
        .select_from(union.join(table_of(User), _U.id == union.c.user_id))
        .group_by(union.c.user_id, _U.full_name, union.c.kind),
    )
    people: dict[uuid.UUID, dict[str, Any]] = {}
    for user_id, name, kind, count in rows:
        people.setdefault(user_id, {"user_id": user_id, "name": name})[kind] = int(count)
    result = [PersonActivity(**values) for values in people.values()]
    return sorted(result, key=lambda person: (-person.total, person.name))


# --------------------------------------------------------------------------------------------
# My day


@dataclass(frozen=True, slots=True)
class DayItem:
    id: uuid.UUID
    title: str
    at: datetime | None = None  # a task's due time, a meeting's start
    day: date | None = None  # a quote's validity, an invoice's due date
    amount: Decimal | None = None
    institution_name: str | None = None


@dataclass(frozen=True, slots=True)
class MyDay:
    today: date
    tasks: list[DayItem]
    meetings: list[DayItem]
    expiring_quotes: list[DayItem]
    overdue_invoices: list[DayItem]
    tasks_total: int = 0
    overdue_invoices_total: int = 0


MY_DAY_LIMIT = 8


def _items(session: Session, statement: Any, make: Callable[[Any], DayItem]) -> list[DayItem]:
    return [make(row) for row in fetch_all(session, statement.limit(MY_DAY_LIMIT))]


def my_day(session: Session, actor: Actor, *, today: date | None = None) -> MyDay:
    """The actor's own day: open tasks due today (or already overdue), today's meetings they organise
    or take part in (not cancelled), their sent quotes whose validity ends within 7 days, their overdue
    invoices. At most MY_DAY_LIMIT of each, the most urgent first."""
    zone = ZoneInfo(timezone(session))
    day = today or local_today(session)
    window = _window(DateRange(day, day), zone)
    inst = table_of(Institution).alias("day_institution")
    task_where = [_T.assignee_id == actor.id, _T.status.in_(_OPEN_TASKS), _T.due_at < window.end]
    tasks = _items(
        session,
        sa.select(_T.id, _T.title, _T.due_at, inst.c.name)
        .select_from(table_of(Task).outerjoin(inst, inst.c.id == _T.institution_id))
        .where(*task_where)
        .order_by(_T.due_at, _T.id),
        lambda r: DayItem(r.id, r.title, at=r.due_at, institution_name=r.name),
    )
    tasks_total = fetch_all(session, sa.select(sa.func.count()).where(*task_where))[0][0]
    attending = sa.exists().where(_MP.meeting_id == _M.id, _MP.user_id == actor.id)
    meetings = _items(
        session,
        sa.select(_M.id, _M.title, _M.starts_at, inst.c.name)
        .select_from(table_of(Meeting).outerjoin(inst, inst.c.id == _M.institution_id))
        .where(
            sa.or_(_M.organizer_id == actor.id, attending),
            _M.status != MeetingStatus.CANCELLED.value,
            _instant_in(_M.starts_at, window),
        )
        .order_by(_M.starts_at, _M.id),
        lambda r: DayItem(r.id, r.title, at=r.starts_at, institution_name=r.name),
    )
    quotes = _items(
        session,
        sa.select(_Q.id, _Q.number, _Q.valid_until, _Q.total_excl_vat, inst.c.name)
        .select_from(table_of(Quote).join(inst, inst.c.id == _Q.institution_id))
        .where(
            _Q.owner_id == actor.id,
            _Q.status == QuoteStatus.SENT.value,
            _Q.valid_until.between(day, day + timedelta(days=7)),
        )
        .order_by(_Q.valid_until, _Q.number),
        lambda r: DayItem(
            r.id, r.number, day=r.valid_until, amount=Decimal(r.total_excl_vat).quantize(CENT), institution_name=r.name
        ),
    )
    overdue_where = [*_receivable_conditions(actor, DashboardScope.OWN), _INV.due_date < day]
    outstanding = _INV.total_incl_vat - _INV.amount_paid - _INV.amount_credited
    invoices = _items(
        session,
        sa.select(_INV.id, _INV.number, _INV.due_date, outstanding.label("outstanding"), inst.c.name)
        .select_from(table_of(Invoice).join(inst, inst.c.id == _INV.institution_id))
        .where(*overdue_where)
        .order_by(_INV.due_date, _INV.number),
        lambda r: DayItem(
            r.id, r.number or "", day=r.due_date, amount=Decimal(r.outstanding).quantize(CENT), institution_name=r.name
        ),
    )
    invoices_total = fetch_all(session, sa.select(sa.func.count()).where(*overdue_where))[0][0]
    return MyDay(day, tasks, meetings, quotes, invoices, int(tasks_total), int(invoices_total))


# --------------------------------------------------------------------------------------------
# The page's one call


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the dashboard page draws, from one call (one unit of work)."""

    dashboard: Dashboard
    pipeline: list[StageFigures]
    forecast: Forecast
    receivables: Receivables
    cash: list[MonthCash]
    activities: list[PersonActivity]
    my_day: MyDay


def overview(
    session: Session,
    actor: Actor,
    *,
    period: Period = Period.MONTH,
    date_from: date | None = None,
    date_to: date | None = None,
    scope: DashboardScope | None = None,
    today: date | None = None,
) -> Overview:
    """The dashboard page's figures, all computed in the same transaction on the same day."""
    day = today or local_today(session)
    figures = dashboard(session, actor, period=period, date_from=date_from, date_to=date_to, scope=scope, today=day)
    resolved = figures.scope
    return Overview(
        dashboard=figures,
        pipeline=pipeline(session, actor, scope=resolved),
        forecast=forecast(session, actor, months=6, scope=resolved, today=day),
        receivables=receivables(session, actor, scope=resolved, today=day),
        cash=invoiced_vs_collected(session, actor, months=12, scope=resolved, today=day),
        activities=activities_by_person(
            session, actor, period=period, date_from=date_from, date_to=date_to, scope=resolved, today=day
        ),
        my_day=my_day(session, actor, today=day),
    )
