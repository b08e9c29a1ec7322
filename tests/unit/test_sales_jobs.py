"""The daily sales jobs driven by a controlled clock over simulated days: quote reminders (j-7, j-3, j0,
j+7, once each, with catch-up), quote expiry, invoice follow-up levels and overdue; concurrent runs;
switched-off rules; client emails read back from a real SMTP server; a constant number of queries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from crm_app.activities.models import Task
from crm_app.operations import migrate
from crm_app.platform import events, smtp
from crm_app.platform import settings as app_settings
from crm_app.platform.db import get_engine, unit_of_work
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.notifications import Notification
from crm_app.platform.models.outbox import OutboxAttachment, OutboxMessage
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import invoices, payments, quotes
from crm_app.sales import reminders as sales_jobs
from crm_app.sales.models.invoices import Invoice, InvoiceReminder
from crm_app.sales.models.quotes import Quote, QuoteReminder
from tests.activity_factories import Org, make_org
from tests.conftest import TEST_SELLER
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_accepted_quote, make_sent_quote, quote_line
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture

PARIS = ZoneInfo("Europe/Paris")
D0 = date(2031, 3, 3)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Callable[..., datetime]:
    """`at(day, hour, minute)`: set the application's clock to that local time in Paris."""
    from crm_app.platform.models import base

    now = [datetime.combine(D0, time(8, 0), tzinfo=PARIS)]
    monkeypatch.setattr(base, "clock", lambda: now[0])

    def move(day: date, hour: int = 8, minute: int = 0) -> datetime:
        now[0] = datetime.combine(day, time(hour, minute), tzinfo=PARIS)
        return now[0]

    return move


@pytest.fixture
def org(db: Session, at: Callable[..., datetime]) -> Org:
    return make_org(db)


def _quote(db: Session, org: Org, valid_until: date, **values: Any) -> Quote:
    institution = make_buyer(db)
    contact = make_contact(db, institution, email="client@example.org")
    return make_sent_quote(db, org.rep_a.actor, institution, contact_id=contact.id, valid_until=valid_until, **values)


def _day(db: Session, at: Callable[..., datetime], day: date) -> dict[str, Any]:
    """One simulated day: expiry at 00:05, reminders at 08:00 (each run twice: the second does nothing)."""
    at(day, 0, 5)
    expired = sales_jobs.expire_quotes(db)
    assert sales_jobs.expire_quotes(db) == 0
    at(day, 8, 0)
    sent = sales_jobs.send_quote_reminders(db)
    assert sales_jobs.send_quote_reminders(db)["reminders"] == 0
    return {"expired": expired, **sent}


def _reminders(db: Session, quote: Quote) -> list[tuple[str, date]]:
    return [
        (r.kind, r.due_on)
        for r in db.exec(
            select(QuoteReminder).where(QuoteReminder.quote_id == quote.id).order_by(col(QuoteReminder.due_on))
        ).all()
    ]


def _set_rules(db: Session, **values: Any) -> None:
    app_settings.update_section(db, SYSTEM_ACTOR, "reminders", values)


def test_a_quote_gets_each_reminder_once_on_its_day_and_expires_the_day_after(
    db: Session, org: Org, at: Callable[..., datetime]
) -> None:
    valid_until = D0 + timedelta(days=10)
    quote = _quote(db, org, valid_until)
    log = {}
    for offset in range(0, 30):
        day = D0 + timedelta(days=offset)
        result = _day(db, at, day)
        if result["reminders"] or result["expired"]:
            log[(day - valid_until).days] = (result["reminders"], result["expired"])
    assert log == {-7: (1, 0), -3: (1, 0), 0: (1, 0), 1: (0, 1), 7: (1, 0)}
    assert _reminders(db, quote) == [
        ("j-7", valid_until - timedelta(days=7)),
        ("j-3", valid_until - timedelta(days=3)),
        ("j0", valid_until),
        ("j+7", valid_until + timedelta(days=7)),
    ]
    db.refresh(quote)
    assert quote.status == "expired" and quote.version >= 2
    kinds = [
        n.kind
        for n in db.exec(
            select(Notification).where(
                Notification.recipient_id == org.rep_a.id, col(Notification.kind).like("quote.%")
            )
        ).all()
    ]
    assert sorted(kinds) == ["quote.expired"] + ["quote.expiring"] * 4
    outbox = db.exec(select(OutboxMessage).where(OutboxMessage.related_id == quote.id)).all()
    assert sorted(m.dedupe_key or "" for m in outbox) == sorted(
        f"quote-reminder:{quote.id}:{k}" for k in ("j-7", "j-3", "j0", "j+7")
    )
    assert all(org.rep_a.user.email in m.to_addresses[0] and quote.number in m.subject for m in outbox)
    follow_ups = db.exec(select(Task).where(Task.assignee_id == org.rep_a.id)).all()
    assert len(follow_ups) == 4 and all(
        t.title.startswith(("Relancer", "Follow up"))
        and quote.number in t.title
        and t.institution_id == quote.institution_id
        and t.contact_id == quote.contact_id
        for t in follow_ups
    )
    assert {r.task_id for r in db.exec(select(QuoteReminder).where(QuoteReminder.quote_id == quote.id))} == {
        t.id for t in follow_ups
    }


def test_the_owners_email_is_in_their_language(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    org.rep_a.user.language = "en"
    db.add(org.rep_a.user)
    quote = _quote(db, org, D0 + timedelta(days=7))
    sales_jobs.send_quote_reminders(db)
    [message] = db.exec(select(OutboxMessage).where(OutboxMessage.related_id == quote.id)).all()
    assert "is valid until" in message.text_body and f"/quotes/{quote.id}" in message.text_body


def test_missed_days_are_caught_up_while_still_relevant(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    valid_until = D0 + timedelta(days=10)
    late = _quote(db, org, valid_until)  # the server was down from j-7 to j-5
    later = _quote(db, org, valid_until + timedelta(days=1))  # ... and for this one j-7 is never caught up
    at(valid_until - timedelta(days=4))
    assert sales_jobs.send_quote_reminders(db)["reminders"] == 2
    assert _reminders(db, late) == [("j-7", valid_until - timedelta(days=7))]
    at(valid_until - timedelta(days=2))  # down again over j-3 of `later`: j-3 both now
    sales_jobs.send_quote_reminders(db)
    assert [k for k, _d in _reminders(db, late)] == ["j-7", "j-3"]
    at(valid_until + timedelta(days=1), 0, 5)  # j0 of `late` missed: no longer relevant once it has expired
    assert sales_jobs.expire_quotes(db) == 1
    at(valid_until + timedelta(days=1))
    sales_jobs.send_quote_reminders(db)
    assert [k for k, _d in _reminders(db, late)] == ["j-7", "j-3"]
    assert [k for k, _d in _reminders(db, later)] == ["j-7", "j-3", "j0"]
    at(valid_until + timedelta(days=13))  # j+7 is caught up for a week...
    sales_jobs.send_quote_reminders(db)
    assert [k for k, _d in _reminders(db, late)][-1] == "j+7"
    at(valid_until + timedelta(days=30))  # ... not after
    assert sales_jobs.send_quote_reminders(db)["reminders"] == 0


def test_a_week_late_j_plus_7_is_no_longer_sent(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    quote = _quote(db, org, D0 + timedelta(days=1))
    at(D0 + timedelta(days=15))
    sales_jobs.expire_quotes(db)
    assert sales_jobs.send_quote_reminders(db)["reminders"] == 0
    assert _reminders(db, quote) == []


def test_rules_switched_off_send_nothing(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    _set_rules(db, quote_reminders=[], invoice_levels=[], quote_followup_task=False)
    _quote(db, org, D0 + timedelta(days=7))
    invoice = _invoice(db, org, terms=7)
    for offset in range(0, 20):
        day = D0 + timedelta(days=offset)
        assert _day(db, at, day)["reminders"] == 0
        assert sales_jobs.send_invoice_followups(db)["reminders"] == 0
    assert db.exec(select(InvoiceReminder).where(InvoiceReminder.invoice_id == invoice.id)).all() == []


def test_only_the_kinds_switched_on_and_no_task_when_off(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    _set_rules(db, quote_reminders=["j0"], quote_followup_task=False)
    quote = _quote(db, org, D0 + timedelta(days=7))
    for offset in range(0, 20):
        _day(db, at, D0 + timedelta(days=offset))
    assert [(k, d) for k, d in _reminders(db, quote)] == [("j0", D0 + timedelta(days=7))]
    assert db.exec(select(Task).where(Task.assignee_id == org.rep_a.id)).all() == []


def test_decided_cancelled_and_superseded_quotes_get_nothing(
    db: Session, org: Org, at: Callable[..., datetime]
) -> None:
    valid_until = D0 + timedelta(days=10)
    institution = make_buyer(db)
    accepted = make_accepted_quote(db, org.rep_a.actor, institution, valid_until=valid_until)
    rejected = make_sent_quote(db, org.rep_a.actor, institution, valid_until=valid_until)
    quotes.reject_quote(db, org.rep_a.actor, rejected.id, client_comment="non")
    cancelled = make_sent_quote(db, org.rep_a.actor, institution, valid_until=valid_until)
    quotes.cancel_quote(db, org.rep_a.actor, cancelled.id)
    revised = make_sent_quote(db, org.rep_a.actor, institution, valid_until=valid_until)
    quotes.revise_quote(db, org.rep_a.actor, revised.id)
    for offset in range(0, 25):
        result = _day(db, at, D0 + timedelta(days=offset))
        assert result["reminders"] == 0 and result["expired"] == 0
    for quote in (accepted, rejected, cancelled, revised):
        assert _reminders(db, quote) == []


# --------------------------------------------------------------------------------------------
# Invoices


def _invoice(
    db: Session, org: Org, *, terms: int = 30, amount: str = "1000.00", contact: bool = True, **values: Any
) -> Invoice:
    institution = make_buyer(db)
    raw: dict[str, Any] = {
        "institution_id": institution.id,
        "payment_terms_days": terms,
        "lines": [quote_line(unit_price=amount)],
        **values,
    }
    if contact:
        raw["contact_id"] = make_contact(db, institution, email="compta@clinique.example.org", first_name="Claire").id
    invoice = invoices.create_invoice(db, org.rep_a.actor, raw)
    return invoices.issue_invoice(db, org.rep_a.actor, invoice.id)


def _invoice_day(db: Session, at: Callable[..., datetime], day: date) -> tuple[int, int]:
    at(day, 0, 10)
    overdue = sales_jobs.mark_invoices_overdue(db)
    assert sales_jobs.mark_invoices_overdue(db) == 0
    at(day, 8, 0)
    sent = sales_jobs.send_invoice_followups(db)["reminders"]
    assert sales_jobs.send_invoice_followups(db)["reminders"] == 0
    return overdue, sent


def _levels(db: Session, invoice: Invoice) -> list[tuple[int, date]]:
    return [
        (r.level, r.due_on)
        for r in db.exec(
            select(InvoiceReminder).where(InvoiceReminder.invoice_id == invoice.id).order_by(col(InvoiceReminder.level))
        ).all()
    ]


def test_invoice_levels_and_overdue_over_simulated_days(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    invoice = _invoice(db, org)
    due = invoice.due_date
    assert due == D0 + timedelta(days=30)
    log = {}
    for offset in range(0, 70):
        day = D0 + timedelta(days=offset)
        overdue, sent = _invoice_day(db, at, day)
        if overdue or sent:
            log[(day - due).days] = (overdue, sent)
    assert log == {-7: (0, 1), 1: (1, 1), 15: (0, 1), 30: (0, 1)}
    assert _levels(db, invoice) == [(level, due + timedelta(days=level)) for level in (-7, 1, 15, 30)]
    db.refresh(invoice)
    assert invoice.status == "overdue"
    kinds = sorted(
        n.kind
        for n in db.exec(
            select(Notification).where(
                Notification.recipient_id == org.rep_a.id, col(Notification.kind).like("invoice.%")
            )
        ).all()
    )
    assert kinds == ["invoice.followup"] * 4 + ["invoice.overdue"]
    owner_mails = db.exec(select(OutboxMessage).where(OutboxMessage.related_id == invoice.id)).all()
    assert len(owner_mails) == 4 and all(str(invoice.number) in m.subject for m in owner_mails)


def test_a_payment_stops_the_follow_up(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    invoice = _invoice(db, org, terms=10)
    for offset in range(0, 13):
        _invoice_day(db, at, D0 + timedelta(days=offset))
    assert [level for level, _d in _levels(db, invoice)] == [-7, 1]
    payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": "1200.00", "method": "transfer"})
    for offset in range(13, 60):
        assert _invoice_day(db, at, D0 + timedelta(days=offset)) == (0, 0)
    assert [level for level, _d in _levels(db, invoice)] == [-7, 1]


def test_a_partial_payment_keeps_the_follow_up(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    invoice = _invoice(db, org, terms=10)
    payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": "200.00", "method": "transfer"})
    for offset in range(0, 12):
        _invoice_day(db, at, D0 + timedelta(days=offset))
    db.refresh(invoice)
    assert invoice.status == "overdue" and [level for level, _d in _levels(db, invoice)] == [-7, 1]


def test_missed_levels_send_only_the_highest_reached(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    invoice = _invoice(db, org, terms=10)
    at(D0 + timedelta(days=10 + 16))  # down from before −7 until +16
    sales_jobs.mark_invoices_overdue(db)
    assert sales_jobs.send_invoice_followups(db)["reminders"] == 1
    assert _levels(db, invoice) == [(15, D0 + timedelta(days=25))]
    at(D0 + timedelta(days=10 + 30 + 8))  # and again over +30: a week later it is no longer sent
    assert sales_jobs.send_invoice_followups(db)["reminders"] == 0


def test_credit_notes_and_drafts_are_not_followed_up(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    invoice = _invoice(db, org, terms=10)
    invoices.create_credit_note(db, org.rep_a.actor, invoice.id)  # fully credited: cancelled
    draft = invoices.create_invoice(
        db, org.rep_a.actor, {"institution_id": invoice.institution_id, "lines": [quote_line()]}
    )
    for offset in range(0, 45):
        assert _invoice_day(db, at, D0 + timedelta(days=offset)) == (0, 0)
    assert _levels(db, invoice) == [] and _levels(db, draft) == []


# --------------------------------------------------------------------------------------------
# Committed runs: two at once, the client's email through a real SMTP server


@pytest.fixture
def committed(clean_db: None, at: Callable[..., datetime]) -> Iterator[Callable[..., datetime]]:
    yield at


def test_two_concurrent_runs_send_each_reminder_once(committed: Callable[..., datetime]) -> None:
    with unit_of_work() as session:
        org = make_org(session)
        for _ in range(5):
            _quote(session, org, D0 + timedelta(days=7))
        for _ in range(3):
            _invoice(session, org, terms=7)
    committed(D0)
    barrier = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(job: Callable[..., Any]) -> None:
        try:
            with unit_of_work() as session:
                barrier.wait(10)
                results.append(job(session))
        except BaseException as exc:
            errors.append(exc)

    for job in (sales_jobs.send_quote_reminders, sales_jobs.send_invoice_followups):
        threads = [threading.Thread(target=run, args=(job,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors, errors
    assert sorted(r["reminders"] for r in results) == [0, 0, 3, 5]
    with unit_of_work() as session:
        assert len(session.exec(select(QuoteReminder)).all()) == 5
        assert len(session.exec(select(InvoiceReminder)).all()) == 3
        assert (
            len(
                session.exec(
                    select(Notification).where(col(Notification.kind).in_(["quote.expiring", "invoice.followup"]))
                ).all()
            )
            == 8
        )
        assert len(session.exec(select(OutboxMessage)).all()) == 8
        assert len(session.exec(select(Task)).all()) == 5


def test_the_client_is_emailed_once_with_the_pdf(committed: Callable[..., datetime], smtp_server: SMTPServer) -> None:
    with unit_of_work() as session:
        org = make_org(session)
        _set_rules(session, invoice_email_client=True)
        invoice = _invoice(session, org, terms=10)
        no_address = _invoice(session, org, terms=10, contact=False)
    committed(D0 + timedelta(days=11))
    for _run in range(2):
        with unit_of_work() as session:
            sales_jobs.mark_invoices_overdue(session)
            sales_jobs.send_invoice_followups(session)
    smtp.send_pending(utcnow())
    to_client = [m for m in smtp_server.messages if "compta@clinique.example.org" in m["To"]]
    assert len(to_client) == 1
    [message] = to_client
    assert invoice.number in message["Subject"]
    [pdf] = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"{invoice.number}.pdf" and pdf.get_content().startswith(b"%PDF")
    assert org.rep_a.user.email in message["Reply-To"]
    with unit_of_work() as session:
        flags = {r.invoice_id: r.emailed_client for r in session.exec(select(InvoiceReminder)).all()}
    assert flags == {invoice.id: True, no_address.id: False}
    assert len([m for m in smtp_server.messages if org.rep_a.user.email in m["To"]]) == 2  # the owner's two


# --------------------------------------------------------------------------------------------
# A constant number of SQL statements, whatever the number of documents


def _count_statements(db: Session, job: Callable[[Session], Any]) -> int:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "app_settings" not in statement:  # the settings are cached: read once or not at all
            statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        job(db)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _documents(db: Session, org: Org, at: Callable[..., datetime], size: int, *, day: date) -> None:
    """`size` quotes valid until day + 7 and `size` invoices due on day + 7 (issued at day − 7)."""
    institution = make_buyer(db)
    contact = make_contact(db, institution, email="compta@example.org")
    at(day - timedelta(days=7))
    for _ in range(size):
        draft = invoices.create_invoice(
            db,
            org.rep_a.actor,
            {
                "institution_id": institution.id,
                "payment_terms_days": 14,
                "contact_id": contact.id,
                "lines": [quote_line()],
            },
        )
        invoices.issue_invoice(db, org.rep_a.actor, draft.id)
    at(day)
    for _ in range(size):
        make_sent_quote(db, org.rep_a.actor, institution, contact_id=contact.id, valid_until=day + timedelta(days=7))
    db.flush()


def _job_counts(db: Session, at: Callable[..., datetime], day: date) -> dict[str, int]:
    at(day)
    counts = {
        "reminders": _count_statements(db, sales_jobs.send_quote_reminders),
        "followups": _count_statements(db, sales_jobs.send_invoice_followups),
    }
    at(day + timedelta(days=8), 0, 5)
    counts["expiry"] = _count_statements(db, sales_jobs.expire_quotes)
    counts["overdue"] = _count_statements(db, sales_jobs.mark_invoices_overdue)
    return counts


def test_the_number_of_queries_does_not_grow_with_the_documents(
    db: Session, org: Org, at: Callable[..., datetime]
) -> None:
    _set_rules(db, invoice_email_client=False)
    _documents(db, org, at, 10, day=D0)
    small = _job_counts(db, at, D0)
    later = D0 + timedelta(days=30)
    _documents(db, org, at, 200, day=later)
    large = _job_counts(db, at, later)
    assert len(db.exec(select(Quote).where(Quote.status == "expired")).all()) == 210
    assert len(db.exec(select(InvoiceReminder)).all()) >= 210
    assert small == large, (small, large)
    assert all(value <= 12 for value in large.values()), large


def test_jobs_are_registered() -> None:
    from crm_app.platform import scheduler as jobs

    assert {"quote_expiry", "quote_reminders", "invoice_followup", "invoice_overdue"} <= set(jobs.job_names())


def test_money_amount_in_email_is_formatted(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    quote = _quote(db, org, D0 + timedelta(days=3), lines=[quote_line(unit_price="1234.50")])
    sales_jobs.send_quote_reminders(db)
    [message] = db.exec(select(OutboxMessage).where(OutboxMessage.related_id == quote.id)).all()
    assert "1 481,40" in message.text_body.replace("\u202f", " ").replace("\xa0", " ")
    assert Decimal(quote.total_incl_vat) == Decimal("1481.40")


# --------------------------------------------------------------------------------------------
# SQLite, the embedded default database


def test_the_jobs_over_simulated_days_on_sqlite(
    tmp_path: Path, settings_override: Callable[..., None], at: Callable[..., datetime]
) -> None:
    """The day-by-day scenario in committed units of work on SQLite: INSERT ... ON CONFLICT DO NOTHING
    RETURNING, the task written before its reminder, the client's email with its PDF."""
    settings_override(database_url=f"sqlite:///{tmp_path / 'sales.sqlite3'}")
    migrate.upgrade()
    with unit_of_work() as session:
        assert session.get_bind().dialect.name == "sqlite"
        org = make_org(session)
        _set_rules(session, invoice_email_client=True)
        # a fresh database: the company's identity, which an e-invoice needs, set as the test run's
        app_settings.update_section(session, SYSTEM_ACTOR, "branding", dict(TEST_SELLER))
        quote = _quote(session, org, D0 + timedelta(days=10))
        invoice = _invoice(session, org)
    assert invoice.due_date is not None
    due = invoice.due_date
    quote_log, invoice_log = {}, {}
    for offset in range(0, 62):
        day = D0 + timedelta(days=offset)
        with unit_of_work() as session:
            result = _day(session, at, day)
        with unit_of_work() as session:
            overdue, sent = _invoice_day(session, at, day)
        if result["reminders"] or result["expired"]:
            quote_log[(day - quote.valid_until).days] = (result["reminders"], result["expired"], result["tasks"])
        if overdue or sent:
            invoice_log[(day - due).days] = (overdue, sent)
    assert quote_log == {-7: (1, 0, 1), -3: (1, 0, 1), 0: (1, 0, 1), 1: (0, 1, 0), 7: (1, 0, 1)}
    assert invoice_log == {-7: (0, 1), 1: (1, 1), 15: (0, 1), 30: (0, 1)}
    with unit_of_work() as session:
        assert _reminders(session, quote) == [
            (kind, quote.valid_until + timedelta(days=offset))
            for kind, offset in (("j-7", -7), ("j-3", -3), ("j0", 0), ("j+7", 7))
        ]
        assert _levels(session, invoice) == [(level, due + timedelta(days=level)) for level in (-7, 1, 15, 30)]
        reminders = session.exec(select(QuoteReminder).where(QuoteReminder.quote_id == quote.id)).all()
        tasks = session.exec(select(Task).where(Task.assignee_id == org.rep_a.id)).all()
        assert {r.task_id for r in reminders} == {t.id for t in tasks} and len(tasks) == 4
        assert all(quote.number in t.title and t.due_at is not None and t.due_at.tzinfo is not None for t in tasks)
        assert {r.emailed_client for r in session.exec(select(InvoiceReminder))} == {True}
        assert session.get(Quote, quote.id).status == "expired"  # type: ignore[union-attr]
        assert session.get(Invoice, invoice.id).status == "overdue"  # type: ignore[union-attr]
        kinds = sorted(
            n.kind for n in session.exec(select(Notification).where(Notification.recipient_id == org.rep_a.id))
        )
        assert kinds == ["invoice.followup"] * 4 + ["invoice.overdue", "quote.expired"] + ["quote.expiring"] * 4
        outbox = session.exec(select(OutboxMessage)).all()
        keys = sorted(m.dedupe_key or "" for m in outbox)
        assert keys == sorted(
            [f"quote-reminder:{quote.id}:{k}" for k in ("j-7", "j-3", "j0", "j+7")]
            + [
                f"invoice-followup:{invoice.id}:{level}:{who}"
                for level in (-7, 1, 15, 30)
                for who in ("owner", "client")
            ]
        )
        attachments = session.exec(select(OutboxAttachment)).all()
        assert len(attachments) == 4 and all(a.content.startswith(b"%PDF") for a in attachments)


def test_the_daily_jobs_tell_open_lists_what_they_changed(db: Session, org: Org, at: Callable[..., datetime]) -> None:
    quote = _quote(db, org, D0 + timedelta(days=1))
    invoice = _invoice(db, org, terms=1)
    already = len(events.pending(db))
    at(D0 + timedelta(days=3), 0, 5)
    assert sales_jobs.expire_quotes(db) == 1 and sales_jobs.mark_invoices_overdue(db) == 1
    changed = [e for e in events.pending(db)[already:] if isinstance(e, events.SalesDocumentChanged)]
    assert changed == [
        events.QuoteChanged(
            quote_id=quote.id,
            institution_id=quote.institution_id,
            owner_id=org.rep_a.id,
            team_id=quote.team_id,
            action="expire",  # the public `quote.expired` follows it
        ),
        events.InvoiceChanged(
            invoice_id=invoice.id,
            institution_id=invoice.institution_id,
            owner_id=org.rep_a.id,
            team_id=invoice.team_id,
            action="overdue",  # the public `invoice.overdue` follows it
        ),
    ]


def test_every_saved_change_to_a_quote_or_an_invoice_is_an_event(db: Session, org: Org) -> None:
    quote = _quote(db, org, D0 + timedelta(days=30))  # created, then sent
    invoice = _invoice(db, org)  # created, then issued (the year's first number takes a savepoint)
    payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": "100.00", "method": "transfer"})
    changed = [e for e in events.pending(db) if isinstance(e, events.SalesDocumentChanged)]
    # The payment is two changes: its amount, then the status it leads to.
    assert [type(e).__name__ for e in changed] == ["QuoteChanged"] * 2 + ["InvoiceChanged"] * 4
    assert {e.quote_id for e in changed if isinstance(e, events.QuoteChanged)} == {quote.id}
    assert {e.invoice_id for e in changed if isinstance(e, events.InvoiceChanged)} == {invoice.id}
    assert all(e.actor_id == org.rep_a.id and e.owner_id == org.rep_a.id for e in changed)
