"""The demo's pipeline and year of activity: opportunities in every stage with a consistent stage
history, quotes linked to their sale, invoices in every ageing bucket, payments and credit notes over
the year, twelve months of tasks, meetings, calls and notes for every salesperson; a second run adds
nothing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from crm_app.activities.models import Call, Meeting, MeetingStatus, Note, Task, TaskStatus
from crm_app.demo import pipeline as demo_pipeline
from crm_app.demo import seed as demo
from crm_app.platform.models import base
from crm_app.platform.models.people import Role, User
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus, Payment
from crm_app.sales.models.opportunities import (
    STAGE_PROBABILITY,
    LostReason,
    Opportunity,
    OpportunityStage,
    OpportunityStageChange,
)
from crm_app.sales.models.quotes import Quote, QuoteStatus


@pytest.fixture(scope="module")
def seeded() -> Iterator[Session]:
    """One demo for the whole module, rolled back at the end (seeding takes seconds)."""
    from crm_app.platform.db import get_engine

    connection = get_engine().connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        assert demo.seed_demo(session).created
        session.flush()
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


def _months_ago(moment: datetime | date, today: date) -> int:
    """Which 30-day window before today (0: the last 30 days), whatever today's day of the month."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return (today - day).days // 30


def test_opportunities_in_every_stage_with_a_consistent_history(seeded: Session) -> None:
    db = seeded
    today = base.clock().date()
    opportunities = db.exec(select(Opportunity)).all()
    stages = Counter(OpportunityStage(o.stage) for o in opportunities)
    assert set(stages) == set(OpportunityStage)
    assert min(stages.values()) >= 5

    changes: dict[object, list[OpportunityStageChange]] = defaultdict(list)
    for change in db.exec(select(OpportunityStageChange).order_by(col(OpportunityStageChange.changed_at))).all():
        changes[change.opportunity_id].append(change)
    teams = {user.id: user.team_id for user in db.exec(select(User)).all()}
    now = base.clock()
    for opportunity in opportunities:
        history = changes[opportunity.id]
        assert history[0].from_stage is None  # the creation
        assert [c.from_stage for c in history[1:]] == [c.to_stage for c in history[:-1]]
        assert history[-1].to_stage == opportunity.stage
        assert history[-1].changed_at == opportunity.stage_changed_at <= now
        assert history[0].changed_at == opportunity.created_at
        assert opportunity.probability == STAGE_PROBABILITY[OpportunityStage(opportunity.stage)]
        assert all(c.probability == STAGE_PROBABILITY[OpportunityStage(c.to_stage)] for c in history)
        assert opportunity.team_id == teams[opportunity.owner_id]
        closed = OpportunityStage(opportunity.stage).is_closed
        assert (opportunity.closed_at is not None) == closed
        if closed:
            assert opportunity.closed_at == history[-1].changed_at
        else:
            assert opportunity.expected_close_date is not None
        if opportunity.stage == OpportunityStage.LOST:
            assert opportunity.lost_reason_id is not None
    assert len(changes) == len(opportunities)

    # won and lost over the whole year; every listed reason used
    closed_months = {_months_ago(o.closed_at, today) for o in opportunities if o.closed_at}
    assert set(range(12)) <= closed_months
    reasons = {r.id: r.label for r in db.exec(select(LostReason)).all()}
    used = {reasons[o.lost_reason_id] for o in opportunities if o.lost_reason_id}
    assert used == set(demo_pipeline.LOST_REASONS)

    # several owners in several teams: each scope sees something different
    owners = {o.owner_id for o in opportunities}
    assert len(owners) >= 6 and len({teams[owner] for owner in owners}) == 3
    # an open pipeline in the coming months for the forecast
    coming = {
        -_months_ago(o.expected_close_date, today) - 1
        for o in opportunities
        if o.stage not in ("won", "lost") and o.expected_close_date
    }
    assert {1, 2, 3, 4, 5} <= coming


def test_quotes_are_linked_to_their_sale(seeded: Session) -> None:
    db = seeded
    linked = db.exec(select(Quote).where(col(Quote.opportunity_id).is_not(None))).all()
    assert len(linked) >= 40
    assert {QuoteStatus(q.status) for q in linked} >= {
        QuoteStatus.DRAFT,
        QuoteStatus.SENT,
        QuoteStatus.ACCEPTED,
        QuoteStatus.ORDERED,
        QuoteStatus.REJECTED,
        QuoteStatus.EXPIRED,
    }
    for quote in linked:
        opportunity = db.get(Opportunity, quote.opportunity_id)
        assert opportunity is not None
        assert opportunity.institution_id == quote.institution_id and opportunity.owner_id == quote.owner_id
        if quote.status in (QuoteStatus.ACCEPTED, QuoteStatus.ORDERED):
            assert opportunity.stage == OpportunityStage.WON
            assert opportunity.amount == quote.total_excl_vat
            assert opportunity.closed_at == quote.decided_at
        if quote.status in (QuoteStatus.REJECTED, QuoteStatus.EXPIRED):
            assert opportunity.stage == OpportunityStage.LOST
    assert db.exec(select(func.count()).select_from(Quote).where(col(Quote.opportunity_id).is_(None))).one() > 0


def test_invoices_in_every_ageing_bucket_and_money_over_the_year(seeded: Session) -> None:
    db = seeded
    today = base.clock().date()
    invoices = db.exec(select(Invoice)).all()
    buckets: Counter[str] = Counter()
    for invoice in invoices:
        if invoice.kind != InvoiceKind.INVOICE or invoice.due_date is None:
            continue
        if invoice.total_incl_vat - invoice.amount_paid - invoice.amount_credited <= 0:
            continue
        late = (today - invoice.due_date).days
        bucket = (
            "not due"
            if late <= 0
            else "1-30"
            if late <= 30
            else "31-60"
            if late <= 60
            else "61-90"
            if late <= 90
            else "90+"
        )
        buckets[bucket] += 1
        if late > 0:
            assert invoice.status in (InvoiceStatus.OVERDUE, InvoiceStatus.PARTIALLY_PAID), invoice.number
    assert set(buckets) == {"not due", "1-30", "31-60", "61-90", "90+"}
    partly_paid_late = [
        i
        for i in invoices
        if i.due_date and i.due_date < today and 0 < i.amount_paid < i.total_incl_vat - i.amount_credited
    ]
    assert partly_paid_late

    issued_months = {
        _months_ago(i.issue_date, today) for i in invoices if i.issue_date and i.kind == InvoiceKind.INVOICE
    }
    assert set(range(12)) <= issued_months
    paid_months = {_months_ago(p.paid_on, today) for p in db.exec(select(Payment)).all()}
    assert len(paid_months & set(range(12))) >= 10
    credit_notes = [i for i in invoices if i.kind == InvoiceKind.CREDIT_NOTE]
    assert len({_months_ago(i.issue_date, today) for i in credit_notes if i.issue_date}) >= 3


def test_twelve_months_of_activity_for_every_salesperson(seeded: Session) -> None:
    db = seeded
    now = base.clock()
    today = now.date()
    reps = db.exec(select(User).where(col(User.role).in_((Role.USER, Role.MANAGER, Role.TEAM_ADMIN)))).all()
    assert len(reps) >= 6
    tasks, meetings = db.exec(select(Task)).all(), db.exec(select(Meeting)).all()
    calls, notes = db.exec(select(Call)).all(), db.exec(select(Note)).all()
    kinds: dict[str, tuple[Sequence[Any], str, str]] = {
        "tasks": (tasks, "created_at", "assignee_id"),
        "meetings": (meetings, "starts_at", "organizer_id"),
        "calls": (calls, "called_at", "user_id"),
        "notes": (notes, "created_at", "created_by"),
    }
    for kind, (rows, when, who) in kinds.items():
        months = {_months_ago(getattr(row, when), today) for row in rows}
        assert set(range(12)) <= months, kind
        assert {getattr(row, who) for row in rows} >= {rep.id for rep in reps}, kind
        linked = [row for row in rows if row.opportunity_id is not None]
        assert len(linked) >= len(rows) // 4, kind
        assert all(row.institution_id is not None for row in linked), kind

    open_statuses = (TaskStatus.TODO, TaskStatus.IN_PROGRESS)
    overdue = [t for t in tasks if t.status in open_statuses and t.due_at and t.due_at < now]
    done = [t for t in tasks if t.status == TaskStatus.DONE]
    assert len(overdue) >= 10 and len(done) >= 100
    assert all(t.completed_at is not None and t.created_at <= t.completed_at for t in done)
    due_today = [t for t in tasks if t.status in open_statuses and t.due_at and t.due_at.date() == today]
    assert {t.assignee_id for t in due_today} >= {rep.id for rep in reps}
    assert [t for t in tasks if t.status in open_statuses and t.due_at and t.due_at > now + timedelta(days=7)]

    assert {MeetingStatus(m.status) for m in meetings} == set(MeetingStatus)
    assert all(m.starts_at.date() >= today for m in meetings if m.status == MeetingStatus.SCHEDULED)
    assert all(m.starts_at <= now for m in meetings if m.status == MeetingStatus.DONE)
    assert all(c.called_at <= now for c in calls)


def test_a_second_run_adds_nothing(seeded: Session) -> None:
    db = seeded
    counted = (Opportunity, OpportunityStageChange, Task, Meeting, Call, Note, Quote, Invoice, LostReason)
    before = [db.exec(select(func.count()).select_from(model)).one() for model in counted]
    assert not demo.seed_demo(seeded).created
    assert demo_pipeline.seed_pipeline(db) is False
    assert [db.exec(select(func.count()).select_from(model)).one() for model in counted] == before
