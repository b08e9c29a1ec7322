"""French numbering on PostgreSQL: 20 invoices issued at once from 20 connections get 1..20 with no gap,
no duplicate and in issue order; a rolled-back issue gives its number back. Each thread has its own
unit of work (session, connection, transaction), as 20 users clicking "Issue" together would."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from sqlmodel import select

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.sales import invoices
from crm_app.sales.models.invoices import Invoice, InvoiceStatus
from tests.factories import actor_of, make_user
from tests.institution_factories import make_buyer

COUNT = 20
pytestmark = pytest.mark.usefixtures("clean_db")


def _drafts(count: int) -> tuple[Actor, list[uuid.UUID]]:
    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.ADMIN, name="Ada Admin"))
        institution = make_buyer(session)
        ids = [
            invoices.create_invoice(
                session,
                actor,
                {
                    "institution_id": institution.id,
                    "lines": [
                        {"description": f"Line {n}", "quantity": "1", "unit_price": f"{100 + n}.00", "vat_rate": "20"}
                    ],
                },
            ).id
            for n in range(count)
        ]
    return actor, ids


def _number(text: str | None) -> int:
    assert text is not None
    return int(text.rsplit("-", 1)[1])


def test_twenty_concurrent_issues_get_consecutive_chronological_numbers() -> None:
    actor, ids = _drafts(COUNT)
    start = threading.Barrier(COUNT)
    connections: set[int] = set()

    def issue(invoice_id: uuid.UUID) -> tuple[str | None, datetime | None]:
        start.wait()  # all 20 transactions begin together
        with unit_of_work() as session:
            connections.add(id(session.connection().connection.dbapi_connection))
            invoice = invoices.issue_invoice(session, actor, invoice_id)
            time.sleep(0.02)  # hold the sequence lock a little: the others must queue behind it
            return invoice.number, invoice.issued_at

    with ThreadPoolExecutor(max_workers=COUNT) as pool:
        results = list(pool.map(issue, ids))

    assert len(connections) == COUNT
    numbers = sorted(_number(number) for number, _ in results)
    assert numbers == list(range(1, COUNT + 1))  # no gap, no duplicate
    with unit_of_work() as session:
        stored = session.exec(select(Invoice).where(Invoice.status == InvoiceStatus.ISSUED)).all()
        by_issue = sorted(stored, key=lambda invoice: (invoice.issued_at, _number(invoice.number)))
        assert [_number(invoice.number) for invoice in by_issue] == list(range(1, COUNT + 1))
        issued_at = [
            invoice.issued_at
            for invoice in sorted(stored, key=lambda i: _number(i.number))
            if invoice.issued_at is not None
        ]
        assert len(issued_at) == COUNT
        assert issued_at == sorted(issued_at)  # number order is issue order
        assert len({invoice.issue_date for invoice in stored}) == 1
        year = stored[0].issue_date.year if stored[0].issue_date else 0
        assert {invoice.number for invoice in stored} == {f"FAC-{year}-{n:05d}" for n in range(1, COUNT + 1)}


def test_a_rolled_back_issue_gives_its_number_back() -> None:
    actor, (first, second, third) = _drafts(3)
    with unit_of_work() as session:
        assert _number(invoices.issue_invoice(session, actor, first).number) == 1

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), unit_of_work() as session:
        assert _number(invoices.issue_invoice(session, actor, second).number) == 2
        raise Abandoned  # e.g. the PDF or the e-mail failed after the number was taken
    with unit_of_work() as session:
        assert session.get(Invoice, second).status == InvoiceStatus.DRAFT  # type: ignore[union-attr]
        assert _number(invoices.issue_invoice(session, actor, third).number) == 2
    with unit_of_work() as session:
        assert _number(invoices.issue_invoice(session, actor, second).number) == 3
