"""The dashboard's figures computed by hand on a small data set, on PostgreSQL and on SQLite: totals,
weighted sums (half-up to the cent), forecast buckets (overdue apart), ageing, conversion and win rate,
the previous period, the time zone's day boundaries, and the scope each role may ask for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from crm_app.activities import calls, meetings, notes, tasks
from crm_app.activities.calls import CallQuery
from crm_app.activities.meetings import MeetingQuery
from crm_app.activities.notes import NoteQuery
from crm_app.activities.tasks import TaskQuery
from crm_app.analytics import dashboard as analytics
from crm_app.analytics.dashboard import AgeingBucket, DashboardScope, Period
from crm_app.institutions import service as institutions
from crm_app.institutions.service import InstitutionQuery
from crm_app.operations import migrate
from crm_app.platform.db import get_engine
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.sales import invoices, quotes
from crm_app.sales.invoices import InvoiceQuery
from crm_app.sales.quotes import QuoteQuery
from tests.activity_factories import make_meeting, make_task
from tests.analytics_factories import TODAY, at, build
from tests.conftest import seed_seller
from tests.sales_factories import make_sent_quote


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A session on the test PostgreSQL database or on a fresh SQLite file, rolled back afterwards."""
    if request.param == "sqlite":
        override = request.getfixturevalue("settings_override")
        override(database_url=f"sqlite:///{tmp_path / 'analytics.sqlite3'}")
        migrate.upgrade()
        # The company's identity an e-invoice needs, in this database too: the settings are cached per
        # process, and an empty identity read here would stay for the tests after this one.
        seed_seller()
    connection = get_engine().connect()
    assert connection.dialect.name == request.param
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


def kpis(session: Session, actor: Any, **options: Any) -> dict[str, tuple[Any, Any]]:
    result = analytics.dashboard(session, actor, today=TODAY, **options)
    return {name: (figure.value, figure.previous) for name, figure in result.kpis.items()}


def test_kpis_of_the_month_and_the_previous_one(database: Session) -> None:
    data = build(database)
    figures = kpis(database, data.org.admin.actor, period=Period.MONTH)
    assert figures["open_pipeline"] == (Decimal("4845.73"), None)
    assert figures["weighted_pipeline"] == (Decimal("1686.47"), None)
    assert figures["open_opportunities"] == (4, None)
    assert figures["won_count"] == (1, 1)
    assert figures["won_amount"] == (Decimal("3000.00"), Decimal("1200.00"))
    assert figures["lost_count"] == (1, 0)
    assert figures["win_rate"] == (Decimal("50.0"), Decimal("100.0"))
    assert figures["quotes_sent"] == (3, 1)
    assert figures["quotes_accepted"] == (2, 0)
    assert figures["quote_conversion_rate"] == (Decimal("33.3"), Decimal("100.0"))
    assert figures["revenue_invoiced"] == (Decimal("950.00"), Decimal("200.00"))  # 1000 + 50 − 100; Feb 200
    assert figures["cash_collected"] == (Decimal("200.00"), Decimal("20.00"))
    assert figures["receivables"] == (Decimal("1880.00"), None)  # 880 + 600 + 100 + 240 + 60
    assert figures["receivables_overdue"] == (Decimal("940.00"), None)  # 600 + 100 + 240
    assert figures["tasks_open"] == (2, None)
    assert figures["tasks_overdue"] == (1, None)
    assert figures["tasks_done"] == (1, 1)
    assert figures["new_institutions"] == (1, 1)  # inst1 in March (inst3 is April in Paris), inst2 in February
    assert figures["new_clients"] == (1, 1)  # inst4's first invoice in March, inst3's in February


def test_new_clients_over_short_and_long_spans(database: Session) -> None:
    """A week and a month probe for an earlier invoice per institution; a quarter and a year read every
    institution's first issued invoice (LONG_SPAN_DAYS): the same definition either way."""
    data = build(database)
    actor = data.org.admin.actor
    # first issued invoices: inst2 2025-11-01, inst1 2026-01-20, inst3 2026-02-10, inst4 2026-03-15
    assert kpis(database, actor, period=Period.WEEK)["new_clients"] == (0, 1)  # inst4 the week before
    assert kpis(database, actor, period=Period.QUARTER)["new_clients"] == (3, 1)
    assert kpis(database, actor, period=Period.YEAR)["new_clients"] == (3, 1)
    long_range = kpis(database, actor, period=Period.CUSTOM, date_from=date(2026, 1, 21), date_to=date(2026, 3, 31))
    assert long_range["new_clients"] == (2, 1)  # inst3 and inst4; inst1 in the 70 days before


def test_periods_start_on_monday_and_compare_with_the_one_before() -> None:
    week, before = analytics.period_ranges(Period.WEEK, TODAY)
    assert (week.start, week.end, before.start, before.end) == (
        date(2026, 3, 16),
        date(2026, 3, 22),
        date(2026, 3, 9),
        date(2026, 3, 15),
    )
    quarter, before = analytics.period_ranges(Period.QUARTER, TODAY)
    assert (quarter.start, quarter.end, before.start, before.end) == (
        date(2026, 1, 1),
        date(2026, 3, 31),
        date(2025, 10, 1),
        date(2025, 12, 31),
    )
    year, before = analytics.period_ranges(Period.YEAR, TODAY)
    assert (year.start, year.end, before.start) == (date(2026, 1, 1), date(2026, 12, 31), date(2025, 1, 1))
    _, before = analytics.period_ranges(Period.CUSTOM, TODAY, date(2026, 3, 1), date(2026, 3, 10))
    assert (before.start, before.end) == (date(2026, 2, 19), date(2026, 2, 28))
    with pytest.raises(ValidationFailed) as refused:
        analytics.period_ranges(Period.CUSTOM, TODAY, date(2026, 3, 10), date(2026, 3, 1))
    assert set(refused.value.field_errors) == {"date_to"}
    with pytest.raises(ValidationFailed) as refused:
        analytics.period_ranges(Period.CUSTOM, TODAY, None, None)
    assert set(refused.value.field_errors) == {"date_from", "date_to"}


def test_a_custom_range_counts_the_days_it_names(database: Session) -> None:
    data = build(database)
    figures = kpis(
        database, data.org.admin.actor, period=Period.CUSTOM, date_from=date(2026, 3, 1), date_to=date(2026, 3, 5)
    )
    assert figures["won_count"] == (1, 0)  # 5 March; the previous five days hold nothing
    assert figures["quotes_sent"] == (3, 0)
    assert figures["revenue_invoiced"] == (Decimal("1000.00"), Decimal("0.00"))


def test_pipeline_by_stage(database: Session) -> None:
    data = build(database)
    rows = analytics.pipeline(database, data.org.admin.actor)
    assert [(r.stage.value, r.count, r.amount, r.weighted_amount) for r in rows] == [
        ("prospecting", 1, Decimal("1000.00"), Decimal("100.00")),
        ("qualification", 1, Decimal("2345.67"), Decimal("586.42")),
        ("proposal", 1, Decimal("500.01"), Decimal("250.01")),
        ("negotiation", 1, Decimal("1000.05"), Decimal("750.04")),
    ]


def test_forecast_by_month_with_overdue_and_undated_apart(database: Session) -> None:
    data = build(database)
    result = analytics.forecast(database, data.org.admin.actor, months=3, today=TODAY)
    assert [(m.month, m.close_from, m.count, m.amount, m.weighted_amount) for m in result.months] == [
        (date(2026, 3, 1), TODAY, 1, Decimal("1000.00"), Decimal("100.00")),
        (date(2026, 4, 1), date(2026, 4, 1), 1, Decimal("2345.67"), Decimal("586.42")),
        (date(2026, 5, 1), date(2026, 5, 1), 0, Decimal("0.00"), Decimal("0.00")),
    ]
    assert (result.overdue.count, result.overdue.amount, result.overdue.weighted_amount) == (
        1,
        Decimal("1000.05"),
        Decimal("750.04"),
    )  # closing on 10 March, still open: not hidden in March
    assert (result.undated.count, result.undated.amount) == (1, Decimal("500.01"))
    with pytest.raises(ValidationFailed):
        analytics.forecast(database, data.org.admin.actor, months=0)


def test_receivables_aged_by_days_past_due(database: Session) -> None:
    data = build(database)
    result = analytics.receivables(database, data.org.admin.actor, today=TODAY)
    assert (result.total, result.count) == (Decimal("1880.00"), 5)
    assert {b.bucket: (b.count, b.amount) for b in result.buckets} == {
        AgeingBucket.NOT_DUE: (2, Decimal("940.00")),  # i1 1200 − 200 paid − 120 credited, i5 60
        AgeingBucket.DAYS_1_30: (1, Decimal("600.00")),  # 27 days
        AgeingBucket.DAYS_31_60: (0, Decimal("0.00")),
        AgeingBucket.DAYS_61_90: (1, Decimal("240.00")),  # 88 days
        AgeingBucket.OVER_90: (1, Decimal("100.00")),  # 107 days, 20 paid
    }
    thirty = next(b for b in result.buckets if b.bucket is AgeingBucket.DAYS_1_30)
    assert (thirty.due_from, thirty.due_to) == (date(2026, 2, 16), date(2026, 3, 17))


def test_invoiced_vs_collected_per_month(database: Session) -> None:
    data = build(database)
    months = analytics.invoiced_vs_collected(database, data.org.admin.actor, months=12, today=TODAY)
    assert len(months) == 12 and months[0].month == date(2025, 4, 1) and months[-1].month == date(2026, 3, 1)
    by_month = {m.month: (m.invoiced, m.collected) for m in months}
    assert by_month[date(2026, 3, 1)] == (Decimal("950.00"), Decimal("200.00"))
    assert by_month[date(2026, 2, 1)] == (Decimal("200.00"), Decimal("20.00"))
    assert by_month[date(2026, 1, 1)] == (Decimal("500.00"), Decimal("0.00"))
    assert by_month[date(2025, 11, 1)] == (Decimal("100.00"), Decimal("0.00"))


def test_activities_per_salesperson(database: Session) -> None:
    data = build(database)
    people = analytics.activities_by_person(database, data.org.admin.actor, today=TODAY)
    assert [(p.name, p.tasks_done, p.meetings, p.calls, p.notes) for p in people] == [
        ("Anne Aubert", 1, 1, 2, 1),
        ("Bruno Blanc", 0, 0, 1, 0),
    ]


def test_each_role_sees_its_scope_and_no_wider(database: Session) -> None:
    data = build(database)
    org = data.org
    assert analytics.allowed_scopes(org.rep_a.actor) == [DashboardScope.OWN]
    assert analytics.allowed_scopes(org.manager_a.actor) == [DashboardScope.OWN, DashboardScope.TEAM]
    assert analytics.allowed_scopes(org.admin.actor) == [DashboardScope.OWN, DashboardScope.ALL]  # no team
    mine = kpis(database, org.rep_a.actor)
    assert mine["open_pipeline"][0] == Decimal("3345.67") and mine["weighted_pipeline"][0] == Decimal("686.42")
    assert mine["revenue_invoiced"][0] == Decimal("950.00") and mine["receivables"][0] == Decimal("1540.00")
    team = kpis(database, org.manager_a.actor)  # the widest allowed: the team (rep_a and rep_a2)
    assert team["open_pipeline"][0] == Decimal("4345.72") and team["weighted_pipeline"][0] == Decimal("1436.46")
    assert team["won_amount"] == (Decimal("3000.00"), Decimal("1200.00"))
    assert kpis(database, org.manager_a.actor, scope=DashboardScope.OWN)["open_pipeline"][0] == Decimal("0.00")
    with pytest.raises(Forbidden):
        analytics.dashboard(database, org.rep_a.actor, scope=DashboardScope.TEAM, today=TODAY)
    with pytest.raises(Forbidden):
        analytics.pipeline(database, org.manager_a.actor, scope=DashboardScope.ALL)
    assert [r.count for r in analytics.pipeline(database, org.rep_b.actor)] == [0, 0, 1, 0]


def test_my_day(database: Session) -> None:
    data = build(database)
    rep = data.org.rep_a
    make_task(database, rep.actor, title="Call the pharmacist", due_at=at("2026-03-18", "08:00"))
    make_task(database, rep.actor, title="Next week", due_at=at("2026-03-25", "08:00"))
    make_meeting(database, rep.actor, starts_at=at("2026-03-18", "13:00"), title="Today's visit")
    sent = make_sent_quote(database, rep.actor, data.institutions[0])
    sent.valid_until = TODAY + timedelta(days=3)
    database.flush()
    result = analytics.my_day(database, rep.actor, today=TODAY)
    assert [t.title for t in result.tasks] == ["Call the pharmacist"] and result.tasks_total == 1
    assert [m.title for m in result.meetings] == ["Today's visit"]
    assert [q.id for q in result.expiring_quotes] == [sent.id]
    # Due before 18 March: i2 (600 left) of rep_a; i4 is rep_a2's.
    assert [(i.amount, i.day) for i in result.overdue_invoices] == [(Decimal("600.00"), date(2026, 2, 19))]
    assert result.overdue_invoices_total == 1


def test_the_lists_behind_the_figures_hold_the_same_records(database: Session) -> None:
    """What a figure links to (pages/dashboard.ListLinks) lists exactly what the figure counts."""
    data = build(database)
    admin = data.org.admin.actor
    march = {"sent_from": "2026-03-01", "sent_to": "2026-03-31"}
    assert quotes.list_quotes(database, admin, QuoteQuery.from_params(march)).total == 3
    decided = {"status": "accepted,ordered", "decided_from": "2026-03-01", "decided_to": "2026-03-31"}
    assert quotes.list_quotes(database, admin, QuoteQuery.from_params(decided)).total == 2
    outstanding = invoices.list_invoices(database, admin, InvoiceQuery.from_params({"outstanding": "1"}))
    assert outstanding.total == 5
    thirty = {"outstanding": "1", "due_from": "2026-02-16", "due_to": "2026-03-17"}
    assert invoices.list_invoices(database, admin, InvoiceQuery.from_params(thirty)).total == 1
    paid = {"paid_from": "2026-03-01", "paid_to": "2026-03-31"}
    assert invoices.list_invoices(database, admin, InvoiceQuery.from_params(paid)).total == 1
    done = {"status": "done", "completed_from": "2026-03-01", "completed_to": "2026-03-31"}
    assert [t.title for t in tasks.list_tasks(database, admin, TaskQuery.from_params(done)).items] == ["Done in March"]
    team = TaskQuery.from_params({"team_id": str(data.org.rep_a.user.team_id)})
    assert tasks.list_tasks(database, admin, team).total == 4
    created = InstitutionQuery.from_params({"created_from": "2026-03-01", "created_to": "2026-03-31"})
    assert [r.id for r in institutions.list_institutions(database, admin, created).items] == [data.institutions[0].id]
    clients = InstitutionQuery.from_params({"client_from": "2026-03-01", "client_to": "2026-03-31"})
    assert [r.id for r in institutions.list_institutions(database, admin, clients).items] == [data.institutions[3].id]
    since = InstitutionQuery.from_params({"client_from": "2026-02-01"})  # first invoice in Feb (inst3) or later
    assert {r.id for r in institutions.list_institutions(database, admin, since).items} == {
        data.institutions[2].id,
        data.institutions[3].id,
    }
    by = InstitutionQuery.from_params({"client_to": "2026-01-31"})  # clients by the end of January
    assert {r.id for r in institutions.list_institutions(database, admin, by).items} == {
        data.institutions[0].id,
        data.institutions[1].id,
    }
    assert created.to_params()["created_from"] == "2026-03-01" and clients.to_params()["client_to"] == "2026-03-31"
    rep = data.org.rep_a
    calls_of_march = CallQuery(user_id=rep.id, days_from=date(2026, 3, 1), days_to=date(2026, 3, 31))
    assert calls.list_calls(database, admin, calls_of_march).total == 2
    meetings_of_march = MeetingQuery(organizer_id=rep.id, start_from=date(2026, 3, 1), start_to=date(2026, 3, 31))
    assert meetings.list_meetings(database, admin, meetings_of_march).total == 1
    notes_of_march = NoteQuery(author_id=rep.id, created_from=date(2026, 3, 1), created_to=date(2026, 3, 31))
    assert notes.list_notes(database, rep.actor, notes_of_march).total == 1
