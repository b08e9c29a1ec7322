"""The institutions' health score (DOMAIN.md "Analytics"): 0-100, from five components.

| component          | measure                                                       | points |
|--------------------|---------------------------------------------------------------|--------|
| recency            | days since the last activity                                  | 0-30   |
| activities         | activities in the last 90 days                                | 0-20   |
| revenue            | invoiced in the last 12 months, minus credit notes, excl. VAT | 0-25   |
| overdue invoices   | issued invoices past their due date and not settled           | 0-15   |
| overdue tasks      | open tasks past their due date                                | 0-10   |

An activity is a task done (at its completion), a meeting held (at its start, not cancelled, not in
the future), a call (at its time) or a note on the institution (at its writing). Each component's
bands (`BANDS`) are the one definition of the formula: the set-based SQL of `recompute` and the
explanation of `score_breakdown` both read them. The README's "Health score" section repeats them.

The score is kept in `institutions.health_score` so that the list sorts and filters on it through
`ix_institutions_health`: the daily `health_score` job recomputes every institution in one UPDATE
(time passing moves recency and overdue), and each unit of work that touches an institution's
activities or invoices recomputes that institution as it commits (`SUBSCRIBERS`), once per unit of
work whatever the number of events (a bulk action creating 5,000 tasks runs one statement).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlmodel import Session

from crm_app.activities.models import Call, Meeting, MeetingStatus, Note, Task, TaskStatus
from crm_app.institutions.models import Institution
from crm_app.institutions.service import get_institution
from crm_app.platform import events
from crm_app.platform.db import fetch_all
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import UTCDateTime, table_of, utcnow
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.records import scope_condition
from crm_app.platform.scheduler import Job, cron
from crm_app.sales.invoices import today

# Activities name an opportunity by foreign key: its table must be known before they are queried, in a
# command (`opex-crm seed`) that imports no other module of opportunities.
from crm_app.sales.models import opportunities as _opportunities  # noqa: F401
from crm_app.sales.models.invoices import OPEN_INVOICE_STATUSES, Invoice, InvoiceKind, InvoiceStatus


class Component(StrEnum):
    RECENCY = "recency"
    ACTIVITIES = "activities"
    REVENUE = "revenue"
    OVERDUE_INVOICES = "overdue_invoices"
    OVERDUE_TASKS = "overdue_tasks"


class Bound(StrEnum):
    """How a band's threshold reads: the measure is at most it, or at least it."""

    AT_MOST = "at_most"
    AT_LEAST = "at_least"


@dataclass(frozen=True)
class Bands:
    """A component's points: the first band whose threshold the measure meets gives its points; none
    gives 0. A missing measure (no activity ever) meets no AT_MOST band and counts as 0 otherwise."""

    bound: Bound
    bands: tuple[tuple[Any, int], ...]

    @property
    def maximum(self) -> int:
        return max(points for _, points in self.bands)

    def points(self, measure: Any) -> int:
        for threshold, points in self.bands:
            if measure is None:
                if self.bound is Bound.AT_MOST:
                    return 0
                measure = 0
            if (measure <= threshold) if self.bound is Bound.AT_MOST else (measure >= threshold):
                return points
        return 0


#: The formula. Hospital sales run on long cycles: a visit or a call a month keeps an account warm,
#: a quarter without one is a warning, half a year is cold. Revenue bands follow a hospital's yearly
#: purchases of consumables and small equipment.
BANDS: dict[Component, Bands] = {
    # days since the last activity
    Component.RECENCY: Bands(Bound.AT_MOST, ((14, 30), (30, 24), (60, 15), (90, 8), (180, 3))),
    # number of activities in the last 90 days
    Component.ACTIVITIES: Bands(Bound.AT_LEAST, ((8, 20), (4, 14), (2, 8), (1, 4))),
    # net revenue excl. VAT of the last 12 months, in euros
    Component.REVENUE: Bands(
        Bound.AT_LEAST,
        ((Decimal(50000), 25), (Decimal(20000), 20), (Decimal(5000), 14), (Decimal(1000), 8), (Decimal("0.01"), 4)),
    ),
    # overdue invoices
    Component.OVERDUE_INVOICES: Bands(Bound.AT_MOST, ((0, 15), (1, 8), (2, 4))),
    # overdue tasks
    Component.OVERDUE_TASKS: Bands(Bound.AT_MOST, ((0, 10), (1, 6), (2, 3))),
}

COMPONENT_LABELS: dict[Component, str] = {
    Component.RECENCY: N_("Last activity"),
    Component.ACTIVITIES: N_("Activities in the last 90 days"),
    Component.REVENUE: N_("Revenue of the last 12 months"),
    Component.OVERDUE_INVOICES: N_("Overdue invoices"),
    Component.OVERDUE_TASKS: N_("Overdue tasks"),
}

MAXIMUM = sum(b.maximum for b in BANDS.values())  # 100
#: Below this, an account needs attention (red); from HEALTHY_FROM it is healthy (green); amber between.
ATTENTION_BELOW = 40
HEALTHY_FROM = 70
RECENT_DAYS = 90


class Health(StrEnum):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


def health_of(score: int | None) -> Health | None:
    """The colour band of a score (None: not scored yet)."""
    if score is None:
        return None
    if score >= HEALTHY_FROM:
        return Health.GOOD
    return Health.FAIR if score >= ATTENTION_BELOW else Health.POOR


# --------------------------------------------------------------------------------------------
# The measures, set-based

_I = table_of(Institution).c
_T, _M, _C, _N = (table_of(m).c for m in (Task, Meeting, Call, Note))
_V = table_of(Invoice).c
_OPEN_TASKS = [TaskStatus.TODO.value, TaskStatus.IN_PROGRESS.value]
_OPEN_INVOICES = [s.value for s in OPEN_INVOICE_STATUSES]


@dataclass(frozen=True)
class Moment:
    """The "now" a computation reads: the instant, and today in the organisation's time zone."""

    now: datetime
    today: date

    @classmethod
    def of(cls, session: Session) -> Moment:
        return cls(utcnow(), today(session))

    @property
    def revenue_from(self) -> date:
        """The first day of the last 12 months (today included)."""
        try:
            return self.today.replace(year=self.today.year - 1) + timedelta(days=1)
        except ValueError:  # 29 February
            return self.today.replace(year=self.today.year - 1, day=28) + timedelta(days=1)


def _at(value: datetime) -> Any:
    return sa.literal(value, UTCDateTime())


def _within(column: Any, ids: Sequence[uuid.UUID] | None) -> list[Any]:
    return [column.is_not(None)] if ids is None else [column.in_(ids)]


def _measures(moment: Moment, ids: Sequence[uuid.UUID] | None) -> Any:
    """One row per institution (all, or `ids`): id, health_score, last_at, recent, revenue,
    overdue_invoices, overdue_tasks."""
    now = _at(moment.now)
    activities = sa.union_all(
        sa.select(_T.institution_id, _T.completed_at.label("at")).where(
            *_within(_T.institution_id, ids), _T.status == TaskStatus.DONE.value, _T.completed_at <= now
        ),
        sa.select(_M.institution_id, _M.starts_at).where(
            *_within(_M.institution_id, ids), _M.status != MeetingStatus.CANCELLED.value, _M.starts_at <= now
        ),
        sa.select(_C.institution_id, _C.called_at).where(*_within(_C.institution_id, ids), _C.called_at <= now),
        sa.select(_N.institution_id, _N.created_at).where(*_within(_N.institution_id, ids), _N.created_at <= now),
    ).subquery("activities")
    since = _at(moment.now - timedelta(days=RECENT_DAYS))
    activity = (
        sa.select(
            activities.c.institution_id,
            sa.func.max(activities.c.at).label("last_at"),
            sa.func.sum(sa.case((activities.c.at >= since, 1), else_=0)).label("recent"),
        )
        .group_by(activities.c.institution_id)
        .subquery("activity")
    )
    in_year = sa.and_(_V.issue_date >= moment.revenue_from, _V.issue_date <= moment.today)
    overdue = sa.and_(_V.kind == InvoiceKind.INVOICE.value, _V.status.in_(_OPEN_INVOICES), _V.due_date < moment.today)
    invoices = (
        sa.select(
            _V.institution_id,
            sa.func.sum(
                sa.case(
                    (sa.and_(in_year, _V.kind == InvoiceKind.INVOICE.value), _V.total_excl_vat),
                    (in_year, -_V.total_excl_vat),
                    else_=0,
                )
            ).label("revenue"),
            sa.func.sum(sa.case((overdue, 1), else_=0)).label("overdue_invoices"),
        )
        .where(
            *_within(_V.institution_id, ids),
            _V.status != InvoiceStatus.DRAFT.value,
            sa.or_(_V.issue_date >= moment.revenue_from, _V.status.in_(_OPEN_INVOICES)),
        )
        .group_by(_V.institution_id)
        .subquery("invoices")
    )
    tasks = (
        sa.select(_T.institution_id, sa.func.count().label("overdue_tasks"))
        .where(*_within(_T.institution_id, ids), _T.status.in_(_OPEN_TASKS), _T.due_at < now)
        .group_by(_T.institution_id)
        .subquery("overdue")
    )
    statement = (
        sa.select(
            _I.id,
            activity.c.last_at,
            sa.func.coalesce(activity.c.recent, 0).label("recent"),
            sa.func.coalesce(invoices.c.revenue, 0).label("revenue"),
            sa.func.coalesce(invoices.c.overdue_invoices, 0).label("overdue_invoices"),
            sa.func.coalesce(tasks.c.overdue_tasks, 0).label("overdue_tasks"),
        )
        .select_from(table_of(Institution))
        .outerjoin(activity, activity.c.institution_id == _I.id)
        .outerjoin(invoices, invoices.c.institution_id == _I.id)
        .outerjoin(tasks, tasks.c.institution_id == _I.id)
    )
    return statement if ids is None else statement.where(_I.id.in_(ids))


def _case(measure: Any, bands: Bands) -> Any:
    """The SQL of `bands.points(measure)`."""
    compare = (lambda t: measure <= t) if bands.bound is Bound.AT_MOST else (lambda t: measure >= t)
    return sa.case(*((compare(threshold), points) for threshold, points in bands.bands), else_=0)


def _score_sql(measures: Any, moment: Moment) -> Any:
    """The score over `_measures`' columns: recency compares the last activity with the instants
    `days` before now (portable: no date arithmetic in SQL)."""
    recency = BANDS[Component.RECENCY]
    recency_case = sa.case(
        *((measures.c.last_at >= _at(moment.now - timedelta(days=days)), points) for days, points in recency.bands),
        else_=0,
    )
    return (
        recency_case
        + _case(measures.c.recent, BANDS[Component.ACTIVITIES])
        + _case(measures.c.revenue, BANDS[Component.REVENUE])
        + _case(measures.c.overdue_invoices, BANDS[Component.OVERDUE_INVOICES])
        + _case(measures.c.overdue_tasks, BANDS[Component.OVERDUE_TASKS])
    )


def recompute(session: Session, institution_ids: Iterable[uuid.UUID] | None = None) -> int:
    """Recompute the score of every institution, or of `institution_ids`, and store those that changed,
    in one UPDATE; returns how many rows it wrote. Idempotent: the same data gives the same scores,
    and a second run writes nothing."""
    ids = None if institution_ids is None else sorted(set(institution_ids))
    if ids is not None and not ids:
        return 0
    session.flush()
    moment = Moment.of(session)
    measures = _measures(moment, ids).subquery("measures")
    scores = sa.select(measures.c.id, _score_sql(measures, moment).label("score")).subquery("scores")
    institutions = table_of(Institution)
    # Only the scores that move are written: an institution row is wide and indexed many times over
    # (a trigram index among them), and writing all 100,000 costs about a minute where the scores
    # themselves take two seconds to compute. `health_scored_at` is therefore when the stored score
    # last changed (or was first computed).
    statement = (
        sa.update(institutions)
        .where(
            institutions.c.id == scores.c.id,
            sa.or_(institutions.c.health_score.is_(None), institutions.c.health_score != scores.c.score),
        )
        .values(health_score=scores.c.score, health_scored_at=_at(moment.now))
    )
    result = session.connection().execute(statement)
    # The ORM's copies of these institutions hold the old score: read it again when asked.
    for institution in session.identity_map.values():
        if isinstance(institution, Institution) and (ids is None or institution.id in ids):
            session.expire(institution, ["health_score", "health_scored_at"])
    return int(getattr(result, "rowcount", 0) or 0)


def recompute_all(session: Session) -> int:
    """The daily job: every institution (recency and overdue move with time alone)."""
    return recompute(session)


# --------------------------------------------------------------------------------------------
# The explanation


@dataclass(frozen=True)
class ComponentScore:
    component: Component
    value: Any  # days (None: never), a count, or Decimal euros
    points: int
    maximum: int


@dataclass(frozen=True)
class HealthBreakdown:
    institution_id: uuid.UUID
    score: int  # the sum of the components' points, now
    computed_at: datetime
    stored_score: int | None  # what the list sorts and filters on (recomputed daily and on changes)
    stored_at: datetime | None
    last_activity_at: datetime | None
    components: list[ComponentScore]

    @property
    def health(self) -> Health | None:
        return health_of(self.score)

    @property
    def weakest(self) -> ComponentScore:
        """The component that loses the most points (the first in order on a tie)."""
        return max(self.components, key=lambda c: c.maximum - c.points)


def _components(row: Any, moment: Moment) -> list[ComponentScore]:
    days = None if row.last_at is None else max(0, (moment.now - row.last_at).days)
    values: dict[Component, Any] = {
        Component.RECENCY: days,
        Component.ACTIVITIES: int(row.recent),
        Component.REVENUE: Decimal(row.revenue).quantize(Decimal("0.01")),
        Component.OVERDUE_INVOICES: int(row.overdue_invoices),
        Component.OVERDUE_TASKS: int(row.overdue_tasks),
    }
    return [
        ComponentScore(component, value, BANDS[component].points(value), BANDS[component].maximum)
        for component, value in values.items()
    ]


def score_breakdown(session: Session, actor: Actor, institution_id: uuid.UUID) -> HealthBreakdown:
    """Each component's measure and points for one institution, computed now (the page's explanation
    and the API); NotFound for an unknown institution."""
    authorize(actor, "institution.view")
    institution = get_institution(session, institution_id)
    moment = Moment.of(session)
    row = fetch_all(session, _measures(moment, [institution_id]))[0]
    components = _components(row, moment)
    return HealthBreakdown(
        institution_id=institution_id,
        score=sum(c.points for c in components),
        computed_at=moment.now,
        stored_score=institution.health_score,
        stored_at=institution.health_scored_at,
        last_activity_at=row.last_at,
        components=components,
    )


# --------------------------------------------------------------------------------------------
# Accounts needing attention


@dataclass(frozen=True)
class AttentionRow:
    id: uuid.UUID
    name: str
    score: int
    weakest: ComponentScore


def needing_attention(session: Session, actor: Actor, *, limit: int = 10) -> list[AttentionRow]:
    """The actor's institutions (the dashboard's scope: own, team or all, by assignee and team) scored
    below ATTENTION_BELOW, lowest first, archived ones left out; each with its weakest component."""
    authorize(actor, "dashboard.view")
    in_scope = scope_condition(actor, "dashboard.view", team_column=_I.team_id, owner_columns=(_I.assigned_user_id,))
    found = fetch_all(
        session,
        sa.select(_I.id, _I.name, _I.health_score)
        .where(~_I.is_archived, _I.health_score < ATTENTION_BELOW, in_scope)
        .order_by(_I.health_score, _I.name_key, _I.id)
        .limit(max(1, min(limit, 100))),
    )
    if not found:
        return []
    moment = Moment.of(session)
    measured = {row.id: row for row in fetch_all(session, _measures(moment, [row.id for row in found]))}
    rows = []
    for row in found:
        components = _components(measured[row.id], moment)
        weakest = max(components, key=lambda c: c.maximum - c.points)
        rows.append(AttentionRow(row.id, row.name, row.health_score, weakest))
    return rows


# --------------------------------------------------------------------------------------------
# Keeping the stored score current

_PENDING = "health_pending_institutions"
_LISTENING = "health_listening"


def note_change(session: Session, event: events.Event) -> None:
    """Subscriber: an institution's activity or invoice changed in this unit of work; its score is
    recomputed as the unit of work commits, once for all the institutions it touched."""
    institution_id = getattr(event, "institution_id", None)
    if institution_id is None:
        return
    session.info.setdefault(_PENDING, set()).add(institution_id)
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        sa_event.listen(session, "before_commit", _recompute_pending)


def _recompute_pending(session: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        recompute(session, pending)


SUBSCRIBERS = tuple(
    events.Subscription(kind, note_change)
    for kind in (
        events.TaskChanged,
        events.MeetingChanged,
        events.CallChanged,
        events.NoteChanged,
        events.InvoiceChanged,
    )
)

JOBS = (
    Job(
        "health_score",
        cron(hour=2, minute=15),
        recompute_all,
        "Recompute every institution's health score (recency and overdue move with time).",
    ),
)
