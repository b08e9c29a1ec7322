"""A small data set for the analytics tests whose figures are computed by hand (tests/unit/test_analytics.py
states them): opportunities in every stage, quotes, invoices, a credit note, payments and activities
around March 2026, built through the services (the opportunities as rows: their service is another
area's), dates moved where a service stamps "now"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from crm_app.activities import calls
from crm_app.activities.models import TaskStatus
from crm_app.institutions.models import Institution
from crm_app.platform.models.base import utcnow
from crm_app.sales import invoices, payments, quotes
from crm_app.sales.models.invoices import Invoice
from crm_app.sales.models.opportunities import Opportunity, OpportunityStage
from tests.activity_factories import Org, make_meeting, make_note, make_org, make_task
from tests.institution_factories import make_buyer
from tests.sales_factories import make_sent_quote, quote_line

TODAY = date(2026, 3, 18)  # a Wednesday; the month is March 2026, the previous one February


def at(day: str, clock: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00").astimezone(UTC)


@dataclass
class Data:
    org: Org
    institutions: list[Institution]


def _opportunity(session: Session, owner: Any, institution: Institution, **values: Any) -> Opportunity:
    stage = values.get("stage", OpportunityStage.PROSPECTING)
    opportunity = Opportunity(
        name=values.pop("name", f"Sale {stage}"),
        institution_id=institution.id,
        owner_id=owner.id,
        team_id=owner.user.team_id,
        amount=Decimal(values.pop("amount")),
        **values,
    )
    session.add(opportunity)
    session.flush()
    return opportunity


def _invoice(
    session: Session, owner: Any, institution: Institution, unit_price: str, *, issued: date, due: date
) -> Invoice:
    draft = invoices.create_invoice(
        session, owner.actor, {"institution_id": institution.id, "lines": [quote_line(unit_price=unit_price)]}
    )
    invoice = invoices.issue_invoice(session, owner.actor, draft.id)
    invoice.issue_date, invoice.due_date = issued, due
    session.flush()
    return invoice


def _quote(
    session: Session,
    owner: Any,
    institution: Institution,
    *,
    sent: datetime,
    decision: str | None = None,
    decided: datetime | None = None,
) -> None:
    quote = make_sent_quote(session, owner.actor, institution)
    if decision == "accept":
        quote = quotes.accept_quote(session, owner.actor, quote.id)
    elif decision == "reject":
        quote = quotes.reject_quote(session, owner.actor, quote.id)
    quote.sent_at, quote.decided_at = sent, decided
    session.flush()


def build(session: Session) -> Data:
    org = make_org(session)
    a, a2, b = org.rep_a, org.rep_a2, org.rep_b
    inst1 = make_buyer(session, assigned_to=a.user)
    inst2 = make_buyer(session, assigned_to=b.user)
    inst3 = make_buyer(session, assigned_to=a2.user)
    inst4 = make_buyer(session, assigned_to=a.user)
    inst1.created_at = at("2026-03-02")
    inst2.created_at = at("2026-02-02")
    inst3.created_at = at("2026-03-31", "22:30")  # 1 April 00:30 in Paris: not March
    inst4.created_at = at("2025-06-01")

    # Open: the pipeline now. Weighted: 100.00, 586.4175 → 586.42, 750.0375 → 750.04, 250.005 → 250.01.
    stage = OpportunityStage
    _opportunity(
        session,
        a,
        inst1,
        stage=stage.PROSPECTING,
        amount="1000.00",
        probability=10,
        expected_close_date=date(2026, 3, 25),
    )
    _opportunity(
        session,
        a,
        inst1,
        stage=stage.QUALIFICATION,
        amount="2345.67",
        probability=25,
        expected_close_date=date(2026, 4, 10),
    )
    _opportunity(
        session,
        a2,
        inst3,
        stage=stage.NEGOTIATION,
        amount="1000.05",
        probability=75,
        expected_close_date=date(2026, 3, 10),
    )
    _opportunity(session, b, inst2, stage=stage.PROPOSAL, amount="500.01", probability=50)
    # Closed: March won 3000 and lost 800 (rep_a); February won 1200 (rep_a2);
    # won at 23:30 UTC on 31 March: April in Paris.
    _opportunity(session, a, inst1, stage=stage.WON, amount="3000.00", probability=100, closed_at=at("2026-03-05"))
    _opportunity(
        session,
        a,
        inst1,
        stage=stage.LOST,
        amount="800.00",
        probability=0,
        closed_at=at("2026-03-06"),
        lost_reason_text="Price",
    )
    _opportunity(session, a2, inst3, stage=stage.WON, amount="1200.00", probability=100, closed_at=at("2026-02-15"))
    _opportunity(
        session, a, inst4, stage=stage.WON, amount="999.00", probability=100, closed_at=at("2026-03-31", "23:30")
    )

    # Quotes: sent in March q1 (accepted in March), q2 (still sent), q4 (rejected);
    # q3 sent in February, accepted in March.
    _quote(session, a, inst1, sent=at("2026-03-02"), decision="accept", decided=at("2026-03-10"))
    _quote(session, a, inst1, sent=at("2026-03-03"))
    _quote(session, a, inst1, sent=at("2026-02-20"), decision="accept", decided=at("2026-03-01"))
    _quote(session, b, inst2, sent=at("2026-03-04"), decision="reject", decided=at("2026-03-05"))

    # Invoices (20 % VAT): i2 Jan 500 (inst1's first), i1 Mar 1000 (inst1), i3 Nov 2025 100 (inst2),
    # i4 Feb 200 (inst3, due 20 Dec: 88 days late), i5 Mar 50 (inst4's first: a new client in March).
    i1 = _invoice(session, a, inst1, "1000.00", issued=date(2026, 3, 3), due=date(2026, 4, 2))
    _invoice(session, a, inst1, "500.00", issued=date(2026, 1, 20), due=date(2026, 2, 19))
    i3 = _invoice(session, b, inst2, "100.00", issued=date(2025, 11, 1), due=date(2025, 12, 1))
    _invoice(session, a2, inst3, "200.00", issued=date(2026, 2, 10), due=date(2025, 12, 20))
    _invoice(session, a, inst4, "50.00", issued=date(2026, 3, 15), due=date(2026, 4, 14))
    payments.record_payment(
        session, a.actor, i1.id, {"amount": "200.00", "paid_on": "2026-03-10", "method": "transfer"}
    )
    payments.record_payment(session, b.actor, i3.id, {"amount": "20.00", "paid_on": "2026-02-05", "method": "check"})
    credit = invoices.create_credit_note(session, a.actor, i1.id, amount_incl_vat=Decimal("120.00"))
    credit.issue_date = date(2026, 3, 12)
    session.flush()
    assert credit.total_excl_vat == Decimal("100.00")

    # Activities in March: rep_a 1 task done, 1 meeting, 2 calls, 1 note; rep_b 1 call; outside March: nothing counted.
    done = make_task(session, a.actor, title="Done in March")
    done.status, done.completed_at = TaskStatus.DONE, at("2026-03-09")
    late = make_task(session, a.actor, title="Done in February")
    late.status, late.completed_at = TaskStatus.DONE, at("2026-02-09")
    make_meeting(session, a.actor, starts_at=at("2026-03-11"))
    make_meeting(session, a.actor, starts_at=at("2026-04-11"))
    calls.log_call(session, a.actor, {"direction": "out", "called_at": at("2026-03-12")})
    calls.log_call(session, a.actor, {"direction": "in", "called_at": at("2026-03-13")})
    calls.log_call(session, b.actor, {"direction": "out", "called_at": at("2026-03-14")})
    note = make_note(session, a.actor)
    note.created_at = at("2026-03-16")
    # Tasks now: one overdue and one due tomorrow (open), for rep_a.
    make_task(session, a.actor, title="Overdue", due_at=utcnow() - timedelta(days=1))
    make_task(session, a.actor, title="Tomorrow", due_at=utcnow() + timedelta(days=1))
    session.flush()
    return Data(org, [inst1, inst2, inst3, inst4])
