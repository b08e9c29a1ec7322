"""The institutions' health score: the formula on hand-made data (PostgreSQL and SQLite), the daily job,
the recompute of one institution as a change commits, and the accounts needing attention per scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from crm_app.activities import calls, meetings, tasks
from crm_app.analytics import health
from crm_app.analytics.health import BANDS, Component
from crm_app.institutions.models import Institution
from crm_app.operations import migrate
from crm_app.platform import scheduler
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import NotFound
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.sales import invoices
from tests.activity_factories import Org, make_meeting, make_org, make_person
from tests.conftest import seed_seller
from tests.institution_factories import make_buyer


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _line(amount: str) -> dict[str, str]:
    return {"description": "Consommables", "quantity": "1", "unit_price": amount, "vat_rate": "20"}


def _issue(session: Session, actor: Actor, institution: Institution, amount: str, **values: str | int) -> None:
    draft = invoices.create_invoice(
        session, actor, {"institution_id": institution.id, "lines": [_line(amount)], **values}
    )
    invoices.issue_invoice(session, actor, draft.id)


@dataclass
class Sample:
    lively: Institution  # expected 79
    silent: Institution  # expected 25
    late_payer: Institution  # expected 22 once its invoice is 15 days overdue


def build_sample(session: Session, actor: Actor, clock: Callable[..., datetime] | None = None) -> Sample:
    """Hand-made data whose scores are worked out by hand below."""
    lively, silent, late_payer = (make_buyer(session, actor, name=n) for n in ("Lively", "Silent", "Late payer"))
    # Late payer: a 100 € invoice due in 30 days, then 45 days pass (nothing else happens to it).
    _issue(session, actor, late_payer, "100.00", payment_terms_days=30)
    if clock is not None:
        clock(days=45)
    now = utcnow()
    # Lively: calls 10, 20, 40, 80 and 100 days ago; a task done now; a cancelled meeting and a future
    # one (neither counts); one open task overdue; 6,000 € invoiced and 1,000 € credited.
    for days in (10, 20, 40, 80, 100):
        calls.log_call(
            session, actor, {"direction": "out", "institution_id": lively.id, "called_at": now - timedelta(days=days)}
        )
    done = tasks.create_task(session, actor, {"title": "Relance", "institution_id": lively.id})
    tasks.set_task_status(session, actor, done.id, "done", expected_version=done.version)
    tasks.create_task(
        session, actor, {"title": "Devis", "institution_id": lively.id, "due_at": now - timedelta(days=2)}
    )
    cancelled = make_meeting(session, actor, starts_at=now - timedelta(days=3), institution_id=lively.id)
    meetings.set_meeting_status(session, actor, cancelled.id, "cancelled", expected_version=cancelled.version)
    make_meeting(session, actor, starts_at=now + timedelta(days=3), institution_id=lively.id)
    _issue(session, actor, lively, "6000.00")
    invoice = invoices.list_invoices(session, actor, invoices.InvoiceQuery(institution_id=lively.id)).items[0]
    invoices.create_credit_note(session, actor, invoice.id, amount_incl_vat=Decimal("1200.00"))
    return Sample(lively, silent, late_payer)


def points(breakdown: health.HealthBreakdown) -> dict[Component, tuple[object, int]]:
    return {c.component: (c.value, c.points) for c in breakdown.components}


def check_sample(session: Session, actor: Actor, sample: Sample) -> None:
    health.recompute(session)
    assert health.recompute(session) == 0  # nothing moved: nothing written again
    lively = health.score_breakdown(session, actor, sample.lively.id)
    assert points(lively) == {
        Component.RECENCY: (0, 30),  # the task done now
        Component.ACTIVITIES: (5, 14),  # 4 calls within 90 days and the task
        Component.REVENUE: (Decimal("5000.00"), 14),
        Component.OVERDUE_INVOICES: (0, 15),
        Component.OVERDUE_TASKS: (1, 6),
    }
    assert lively.score == 79 and lively.health is health.Health.GOOD
    silent = health.score_breakdown(session, actor, sample.silent.id)
    assert points(silent) == {
        Component.RECENCY: (None, 0),
        Component.ACTIVITIES: (0, 0),
        Component.REVENUE: (Decimal("0.00"), 0),
        Component.OVERDUE_INVOICES: (0, 15),
        Component.OVERDUE_TASKS: (0, 10),
    }
    assert silent.score == 25 and silent.health is health.Health.POOR
    late = health.score_breakdown(session, actor, sample.late_payer.id)
    assert points(late)[Component.OVERDUE_INVOICES] == (1, 8)
    assert points(late)[Component.REVENUE] == (Decimal("100.00"), 4)
    assert late.score == 22
    # What the list sorts on is what the explanation adds up to.
    for institution, expected in ((sample.lively, 79), (sample.silent, 25), (sample.late_payer, 22)):
        stored = session.get(Institution, institution.id)
        assert stored is not None and stored.health_score == expected and stored.health_scored_at is not None


def test_the_formula_on_hand_made_data(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    sample = build_sample(db, org.admin.actor, clock)
    check_sample(db, org.admin.actor, sample)


@pytest.fixture
def sqlite_database(tmp_path: Path, settings_override: Callable[..., None]) -> Iterator[None]:
    settings_override(database_url=f"sqlite:///{tmp_path / 'health.sqlite3'}")
    migrate.upgrade()
    seed_seller()  # a fresh database: the company's identity an e-invoice needs
    yield


def test_the_formula_on_sqlite(sqlite_database: None, clock: Callable[..., datetime]) -> None:
    with unit_of_work() as session:
        assert session.get_bind().dialect.name == "sqlite"
        admin = make_person(session, role=Role.ADMIN, name="Ada Admin")
        sample = build_sample(session, admin.actor, clock)
    with unit_of_work() as session:
        check_sample(session, admin.actor, sample)


def test_the_bands_add_up_to_100_and_read_their_thresholds() -> None:
    assert health.MAXIMUM == 100
    recency = BANDS[Component.RECENCY]
    assert [recency.points(d) for d in (0, 14, 15, 30, 60, 90, 180, 181, None)] == [30, 30, 24, 24, 15, 8, 3, 0, 0]
    revenue = BANDS[Component.REVENUE]
    assert [revenue.points(Decimal(v)) for v in ("-5", "0", "0.01", "999.99", "1000", "50000")] == [0, 0, 4, 4, 8, 25]
    assert [BANDS[Component.OVERDUE_TASKS].points(n) for n in (0, 1, 2, 3)] == [10, 6, 3, 0]


def test_the_daily_job_recomputes_every_institution_and_is_idempotent(db: Session, org: Org) -> None:
    assert "health_score" in scheduler.job_names()
    first, second = make_buyer(db), make_buyer(db)
    assert first.health_score is None
    job = next(j for j in health.JOBS if j.name == "health_score")
    job.func(db)
    db.refresh(first)
    assert (first.health_score, first.version) == (25, 1)  # the score does not bump the record's version
    scored_at = first.health_scored_at
    job.func(db)
    db.refresh(first)
    db.refresh(second)
    assert first.health_score == second.health_score == 25
    assert first.health_scored_at is not None and scored_at is not None and first.health_scored_at >= scored_at


def test_logging_a_call_rescores_its_institution_as_it_commits(db: Session, org: Org) -> None:
    institution = make_buyer(db)
    health.recompute(db, [institution.id])
    assert institution.health_score == 25
    calls.log_call(db, org.rep_a.actor, {"direction": "out", "institution_id": institution.id})
    db.commit()
    assert institution.health_score == 25 + 30 + 4  # recency: today; one activity in 90 days
    tasks.create_task(
        db, org.rep_a.actor, {"title": "x", "institution_id": institution.id, "due_at": utcnow() - timedelta(days=1)}
    )
    db.commit()
    assert institution.health_score == 59 - 4


def test_needing_attention_follows_the_scope(db: Session, org: Org) -> None:
    mine = make_buyer(db, name="Mine", assigned_to=org.rep_a.user)
    teammate = make_buyer(db, name="Teammate", assigned_to=org.rep_a2.user)
    other_team = make_buyer(db, name="Other team", assigned_to=org.rep_b.user)
    archived = make_buyer(db, name="Archived", assigned_to=org.rep_a.user)
    healthy = make_buyer(db, name="Healthy", assigned_to=org.rep_a.user)
    for days in (1, 2, 3, 4, 5, 6, 7, 8):
        calls.log_call(
            db,
            org.rep_a.actor,
            {"direction": "out", "institution_id": healthy.id, "called_at": utcnow() - timedelta(days=days)},
        )
    from crm_app.institutions import service as institutions

    institutions.set_archived(db, SYSTEM_ACTOR, archived.id, True)
    health.recompute(db)

    def names(actor: Actor) -> set[str]:
        return {row.name for row in health.needing_attention(db, actor, limit=50)} & {
            "Mine",
            "Teammate",
            "Other team",
            "Archived",
            "Healthy",
        }

    assert names(org.rep_a.actor) == {"Mine"}
    assert names(org.manager_a.actor) == {"Mine", "Teammate"}
    assert names(org.admin.actor) == {"Mine", "Teammate", "Other team"}
    row = next(r for r in health.needing_attention(db, org.rep_a.actor, limit=5) if r.id == mine.id)
    assert (row.score, row.weakest.component) == (25, Component.RECENCY)
    assert teammate.id and other_team.id


def test_an_unknown_institution_has_no_health(db: Session, org: Org) -> None:
    import uuid

    with pytest.raises(NotFound):
        health.score_breakdown(db, org.rep_a.actor, uuid.uuid4())
