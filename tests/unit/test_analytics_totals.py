"""The per-day totals PostgreSQL keeps for the dashboard (crm_app/analytics/rollup.py, migration 0021):
after every kind of write (through the services, attribute changes, multi-row statements, a team deleted)
they hold exactly what a rebuild from the rows gives, and the dashboard read from them equals the
dashboard computed from the rows, for every scope and period. Totals built in another time zone are
not used; changing the organisation's zone re-days them in the same transaction."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from crm_app.activities.models import Task, TaskStatus
from crm_app.analytics import dashboard as analytics
from crm_app.analytics import rollup
from crm_app.analytics.dashboard import DashboardScope, Period
from crm_app.platform import settings
from crm_app.platform.models.base import table_of
from crm_app.platform.models.people import Team
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import invoices, payments, quotes
from crm_app.sales.models.invoices import Invoice, InvoiceKind, Payment
from crm_app.sales.models.opportunities import Opportunity, OpportunityStage
from crm_app.sales.models.quotes import Quote
from tests.activity_factories import make_org
from tests.analytics_factories import TODAY, Data, at, build
from tests.institution_factories import make_buyer
from tests.sales_factories import quote_line

PERIODS: list[dict[str, Any]] = [
    {"period": Period.WEEK},
    {"period": Period.MONTH},
    {"period": Period.QUARTER},
    {"period": Period.YEAR},
    {"period": Period.CUSTOM, "date_from": date(2025, 6, 1), "date_to": date(2026, 4, 30)},
]


@pytest.fixture(autouse=True)
def _postgresql(db: Session) -> None:
    if not rollup.is_available(db):
        pytest.skip("the per-day totals are kept by PostgreSQL")
    rollup.ensure(db)  # in the tests' zone (a test that committed another zone may have run before)


def totals(db: Session) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    """The totals per (metric, day, scope, subject), deltas summed, those that cancelled out left out."""
    db.flush()
    rows = db.connection().execute(
        sa.text(
            "SELECT metric, day, scope, subject_id, sum(count), sum(amount) FROM analytics_daily "
            "GROUP BY metric, day, scope, subject_id HAVING sum(count) <> 0 OR sum(amount) <> 0"
        )
    )
    return {tuple(row[:4]): (int(row[4]), Decimal(row[5])) for row in rows}


def figures(db: Session, actor: Any, scope: DashboardScope, *, from_rows: bool) -> list[dict[str, Any]]:
    result = []
    for options in PERIODS:
        dashboard = analytics.dashboard(db, actor, today=TODAY, scope=scope, from_rows=from_rows, **options)
        result.append({name: (figure.value, figure.previous) for name, figure in dashboard.kpis.items()})
    return result


def assert_exact(db: Session, data: Data) -> None:
    """The kept totals equal a rebuild's, and every actor's dashboard reads the same from them as from
    the rows."""
    kept = totals(db)
    rollup.rebuild(db, "Europe/Paris")
    assert totals(db) == kept
    org = data.org
    for person in (org.admin, org.rep_a, org.rep_a2, org.manager_a, org.rep_b):
        for scope in analytics.allowed_scopes(person.actor):
            assert figures(db, person.actor, scope, from_rows=False) == figures(
                db, person.actor, scope, from_rows=True
            ), (person.user.email, scope)
            cash = [
                analytics.invoiced_vs_collected(db, person.actor, scope=scope, today=TODAY, from_rows=rows)
                for rows in (False, True)
            ]
            assert cash[0] == cash[1], (person.user.email, scope)


def test_the_totals_follow_every_kind_of_write(db: Session) -> None:
    assert rollup.built_zone(db) == "Europe/Paris"  # the tests' zone
    data = build(db)  # services, then dates moved by attribute changes
    org = data.org
    assert totals(db), "the triggers wrote the data set's totals"
    assert_exact(db, data)

    # Salespeople and teams change: the totals move with them.
    inst1, inst2, _inst3, inst4 = data.institutions
    inst1.assigned_user_id, inst1.team_id = org.rep_b.user.id, org.rep_b.user.team_id
    won = db.exec(select(Opportunity).where(Opportunity.stage == OpportunityStage.WON)).all()
    won[0].owner_id = org.rep_a2.user.id
    paid_invoice = db.exec(
        select(Invoice).where(Invoice.amount_paid > 0, Invoice.owner_id == org.rep_a.user.id)
    ).first()
    assert paid_invoice is not None
    paid_invoice.owner_id, paid_invoice.team_id = org.rep_b.user.id, org.rep_b.user.team_id  # with its payment
    assert_exact(db, data)

    # Reopened, undone, paid back, superseded, redated.
    won[1].stage, won[1].closed_at, won[1].probability = OpportunityStage.NEGOTIATION, None, 75
    done = db.exec(select(Task).where(Task.status == TaskStatus.DONE)).first()
    assert done is not None
    done.status, done.completed_at = TaskStatus.TODO, None
    paid = db.exec(select(Invoice).where(Invoice.amount_paid > 0)).first()
    assert paid is not None
    payment = payments.list_payments(db, org.admin.actor, paid.id)[0]
    payments.delete_payment(db, org.admin.actor, paid.id, payment.id)
    sent = db.exec(select(Quote).where(Quote.sent_at.is_not(None))).all()  # type: ignore[union-attr]
    sent[0].superseded_by_id = sent[1].id
    inst4_invoice = db.exec(select(Invoice).where(Invoice.institution_id == inst4.id)).one()
    inst4_invoice.issue_date = date(2026, 2, 1)  # inst4 became a client a month earlier
    assert_exact(db, data)

    # Multi-row statements, new rows through the services, a team deleted (its rows lose their team).
    db.flush()
    db.connection().execute(
        sa.update(table_of(Task)).values(status=TaskStatus.DONE.value, completed_at=at("2026-03-17"))
    )
    db.expire_all()
    fresh = make_buyer(db, assigned_to=org.rep_a.user)
    fresh.created_at = at("2026-03-16")
    draft = invoices.create_invoice(
        db,
        org.rep_a.actor,
        {"institution_id": fresh.id, "lines": [{"description": "Pump", "quantity": "2", "unit_price": "99.99"}]},
    )
    issued = invoices.issue_invoice(db, org.rep_a.actor, draft.id)
    issued.issue_date = date(2026, 3, 16)
    payments.record_payment(
        db, org.rep_a.actor, issued.id, {"amount": "50.00", "paid_on": "2026-03-17", "method": "card"}
    )
    db.flush()
    team = db.get(Team, org.rep_b.user.team_id)
    db.delete(team)
    db.flush()
    db.expire_all()
    assert_exact(db, data)
    assert inst2.id  # the data set is still there


def test_the_figures_read_from_the_totals_are_the_hand_computed_ones(db: Session) -> None:
    data = build(db)
    month = analytics.dashboard(db, data.org.admin.actor, today=TODAY, period=Period.MONTH).kpis
    assert (month["won_amount"].value, month["won_amount"].previous) == (Decimal("3000.00"), Decimal("1200.00"))
    assert (month["revenue_invoiced"].value, month["revenue_invoiced"].previous) == (
        Decimal("950.00"),
        Decimal("200.00"),
    )
    assert (month["new_institutions"].value, month["new_clients"].value) == (1, 1)
    # the totals the dashboard read are there: a month's "everyone" row of revenue
    assert totals(db)[("invoiced", date(2026, 3, 3), "all", rollup.NIL)] == (1, Decimal("1000.00"))


def test_totals_built_in_another_zone_are_not_read(db: Session) -> None:
    data = build(db)
    rollup.rebuild(db, "UTC")  # inst3 was created on 31 March in UTC, 1 April in Paris
    assert totals(db)[("institution_created", date(2026, 3, 31), "all", rollup.NIL)] == (1, Decimal(0))
    month = analytics.dashboard(db, data.org.admin.actor, today=TODAY, period=Period.MONTH).kpis
    assert month["new_institutions"].value == 1  # read from the rows, in Paris: inst1 only


def test_changing_the_time_zone_redays_the_totals_in_the_same_transaction(db: Session) -> None:
    build(db)
    assert totals(db)[("institution_created", date(2026, 4, 1), "all", rollup.NIL)] == (1, Decimal(0))
    settings.update_section(db, SYSTEM_ACTOR, "organisation", {"timezone": "UTC"})
    assert rollup.built_zone(db) == "UTC"
    moved = totals(db)
    assert ("institution_created", date(2026, 4, 1), "all", rollup.NIL) not in moved
    assert moved[("institution_created", date(2026, 3, 31), "all", rollup.NIL)] == (1, Decimal(0))


def test_compacting_merges_the_deltas_and_keeps_the_totals(db: Session) -> None:
    data = build(db)
    before = totals(db)
    rows_before = db.connection().execute(sa.text("SELECT count(*) FROM analytics_daily")).scalar_one()
    assert "rows merged" in rollup.compact(db)
    rows_after = db.connection().execute(sa.text("SELECT count(*) FROM analytics_daily")).scalar_one()
    assert rows_after < rows_before
    assert totals(db) == before
    duplicated = db.connection().execute(
        sa.text("SELECT count(*) FROM analytics_daily GROUP BY metric, day, scope, subject_id HAVING count(*) > 1")
    )
    assert duplicated.first() is None
    assert data.org.admin.actor


def test_a_full_credit_note_and_a_revised_quote_are_counted_as_the_rows_say(db: Session) -> None:
    data = build(db)
    actor = data.org.rep_a.actor
    invoice = db.exec(
        select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE, Invoice.issue_date == date(2026, 1, 20))
    ).one()
    invoices.create_credit_note(db, actor, invoice.id, amount_incl_vat=Decimal("600.00"))  # all of it
    undecided = db.exec(select(Quote).where(Quote.sent_at.is_not(None), Quote.decided_at.is_(None))).all()  # type: ignore[union-attr]
    mine = next(quote for quote in undecided if quote.owner_id == data.org.rep_a.user.id)
    quotes.revise_quote(db, actor, mine.id)  # the sent revision is superseded by a draft
    db.flush()
    db.refresh(mine)
    assert mine.superseded_by_id is not None
    assert_exact(db, data)
    month = analytics.dashboard(db, data.org.admin.actor, today=TODAY, period=Period.MONTH).kpis
    assert month["quotes_sent"].value == 2  # 3 sent in March, one of them now superseded


def test_refunds_are_taken_out_of_the_cash_collected_as_the_rows_say(db: Session) -> None:
    """A paid invoice credited and refunded: "collected" is net of the refunds, by refund date, in the
    kept totals as in a rebuild and the rows, through every change of a refund."""
    data = build(db)
    actor = data.org.rep_a.actor
    paid = db.exec(select(Invoice).where(Invoice.amount_paid > 0, Invoice.owner_id == data.org.rep_a.user.id)).first()
    assert paid is not None
    before = analytics.dashboard(db, actor, today=TODAY, period=Period.MONTH, scope=DashboardScope.OWN).kpis
    note = invoices.create_credit_note(
        db, actor, paid.id, full=True, refund={"amount": "10.00", "method": "check", "paid_on": "2026-03-17"}
    )
    assert invoices.refundable_amount(paid) == paid.amount_paid - Decimal("10.00")
    later = payments.record_refund(
        db, actor, note.id, {"amount": "5.00", "method": "transfer", "paid_on": "2026-02-10"}
    )
    assert_exact(db, data)
    after = analytics.dashboard(db, actor, today=TODAY, period=Period.MONTH, scope=DashboardScope.OWN).kpis
    collected = [(kpis["cash_collected"].value, kpis["cash_collected"].previous) for kpis in (before, after)]
    assert collected[1] == (Decimal(collected[0][0] or 0) - 10, Decimal(collected[0][1] or 0) - 5)

    # A refund redated, turned into a payment in by hand, back out; the credit note changes hands.
    refund = db.get(Payment, later.id)
    assert refund is not None
    refund.paid_on = date(2026, 3, 1)
    db.flush()
    assert_exact(db, data)
    db.connection().execute(
        sa.update(table_of(Payment)).where(table_of(Payment).c.id == later.id).values(direction="in")
    )
    assert_exact(db, data)
    db.connection().execute(
        sa.update(table_of(Payment)).where(table_of(Payment).c.id == later.id).values(direction="out")
    )
    db.expire_all()
    credit_note = db.get(Invoice, note.id)
    assert credit_note is not None
    credit_note.owner_id, credit_note.team_id = data.org.rep_b.user.id, data.org.rep_b.user.team_id
    assert_exact(db, data)
    payments.delete_refund(db, data.org.admin.actor, note.id, later.id)
    assert_exact(db, data)


def test_first_invoices_issued_at_once_in_two_transactions_make_one_new_client(clean_db: None) -> None:
    """Two transactions issue the first two invoices of one institution at the same time: the second
    waits for the first (the trigger locks the institution) and then sees its first invoice, so the
    institution becomes a client once."""
    from crm_app.platform.db import get_engine, unit_of_work

    with unit_of_work() as db:
        if not rollup.is_available(db):
            pytest.skip("the per-day totals are kept by PostgreSQL")
        org = make_org(db)
        client = make_buyer(db, assigned_to=org.rep_a.user)
        drafts = [
            invoices.create_invoice(db, org.rep_a.actor, {"institution_id": client.id, "lines": [quote_line()]}).id
            for _ in range(2)
        ]
        client_id = client.id
    # Issued by hand, without the service (its numbering would make the second wait anyway): what a
    # script or another process writing the table could do.
    issue = sa.text("UPDATE invoices SET status = 'issued', number = :number, issue_date = :day WHERE id = :id")
    first, second = get_engine().connect(), get_engine().connect()
    try:
        first.begin()
        first.execute(issue, {"number": "F-TEST-1", "day": date(2026, 3, 10), "id": drafts[0]})
        done = threading.Event()

        def issue_second() -> None:
            with second.begin():
                second.execute(issue, {"number": "F-TEST-2", "day": date(2026, 3, 12), "id": drafts[1]})
            done.set()

        waiting = threading.Thread(target=issue_second)
        waiting.start()
        assert not done.wait(0.5), "the second transaction waits for the first"
        first.commit()
        waiting.join(10)
        assert done.is_set()
    finally:
        first.close()
        second.close()
    with unit_of_work() as db:
        kept = totals(db)
        assert kept[("client_first", date(2026, 3, 10), "all", rollup.NIL)] == (1, Decimal(0))
        assert ("client_first", date(2026, 3, 12), "all", rollup.NIL) not in kept
        day = db.connection().execute(
            sa.text("SELECT day FROM analytics_first_invoices WHERE institution_id = :id"), {"id": client_id}
        )
        assert day.scalar_one() == date(2026, 3, 10)
        rollup.rebuild(db, "Europe/Paris")
        assert totals(db) == kept
