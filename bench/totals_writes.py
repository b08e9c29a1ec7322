"""What the dashboard's per-day totals (migration 0021) cost the writes that keep them (see bench/README.md).

    python bench/totals_writes.py [--database-url ...] [--rounds 5] [--writes 200]

On the generated analytics database (`generate.py` then `generate_sales.py`), times in process, through
the services, the writes whose triggers add to the totals: completing a task, winning an opportunity,
recording a payment, issuing an invoice and creating an institution; each `--writes` times in one
transaction, then rolled back, so the database is left as it was. Each round times every write with the
totals kept and with the triggers idle (the same transaction makes `analytics_zone()` NULL first: the
triggers' first test), in turns after a warm-up, and prints the median time per write of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from generate import BENCH_EMAIL, configure_environment
from sqlmodel import Session, select

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_analytics"
IDLE = "CREATE OR REPLACE FUNCTION analytics_zone() RETURNS text LANGUAGE sql STABLE AS 'SELECT NULL::text'"


def scenarios(session: Session, actor: Any, count: int) -> dict[str, Callable[[], None]]:
    """Each scenario's `count` writes, through the services (rows picked before the clock starts)."""
    from crm_app.activities import tasks
    from crm_app.activities.models import Task, TaskStatus
    from crm_app.institutions import service as institutions
    from crm_app.sales import invoices, opportunities, payments
    from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus
    from crm_app.sales.models.opportunities import Opportunity, OpportunityStage

    open_tasks = session.exec(select(Task.id, Task.version).where(Task.status == TaskStatus.TODO).limit(count)).all()
    open_deals = session.exec(
        select(Opportunity.id).where(Opportunity.stage == OpportunityStage.NEGOTIATION).limit(count)
    ).all()
    unpaid = session.exec(
        select(Invoice.id)
        .where(Invoice.kind == InvoiceKind.INVOICE, Invoice.status == InvoiceStatus.ISSUED)
        .limit(count)
    ).all()
    drafts = session.exec(select(Invoice.id).where(Invoice.status == InvoiceStatus.DRAFT).limit(count)).all()
    today = date.today().isoformat()

    def complete() -> None:
        for task_id, version in open_tasks:
            tasks.set_task_status(session, actor, task_id, TaskStatus.DONE, expected_version=version)
            session.flush()

    def win() -> None:
        for deal_id in open_deals:
            opportunities.move_stage(session, actor, deal_id, OpportunityStage.WON)
            session.flush()

    def pay() -> None:
        for invoice_id in unpaid:
            payments.record_payment(
                session, actor, invoice_id, {"amount": Decimal("1.00"), "paid_on": today, "method": "transfer"}
            )
            session.flush()

    def issue() -> None:
        for invoice_id in drafts:
            invoices.issue_invoice(session, actor, invoice_id)
            session.flush()

    def create() -> None:
        stamp = datetime.now(UTC).strftime("%H%M%S%f")
        for index in range(count):
            institutions.create_institution(
                session,
                actor,
                {"name": f"Clinique du banc {stamp}-{index}", "type": "private_clinic"},
                allow_duplicate=True,
            )
            session.flush()

    found = {"task done": (complete, open_tasks), "opportunity won": (win, open_deals), "payment": (pay, unpaid)}
    found |= {"invoice issued": (issue, drafts), "institution created": (create, list(range(count)))}
    return {name: run for name, (run, rows) in found.items() if len(rows) == count}


def time_once(name: str, *, idle: bool, count: int) -> float:
    """Milliseconds per write of one scenario, in a transaction rolled back afterwards."""
    from crm_app.platform.db import get_engine
    from crm_app.platform.models.people import User
    from crm_app.platform.permissions import actor_from

    with get_engine().connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, expire_on_commit=False)
        try:
            user = session.exec(select(User).where(User.email == BENCH_EMAIL)).one()
            actor = actor_from(user)
            if idle:
                session.connection().execute(sa.text(IDLE))
            run = scenarios(session, actor, count).get(name)
            if run is None:
                return float("nan")
            started = time.perf_counter()
            run()
            return (time.perf_counter() - started) * 1000 / count
        finally:
            session.close()
            transaction.rollback()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args(argv)
    configure_environment(args.database_url)
    from crm_app import bootstrap

    bootstrap.wire()
    names = ["task done", "opportunity won", "payment", "invoice issued", "institution created"]
    print(f"{'write':22} {'kept ms':>9} {'idle ms':>9} {'ratio':>7}   ({args.rounds} rounds of {args.writes} writes)")
    for name in names:
        kept, idle = [], []
        time_once(name, idle=False, count=args.writes)  # warm-up: the rows read into the cache
        for round_number in range(args.rounds):  # in turns, each first every other round
            order = (False, True) if round_number % 2 == 0 else (True, False)
            for idle_now in order:
                (idle if idle_now else kept).append(time_once(name, idle=idle_now, count=args.writes))
        ratios = [a / b for a, b in zip(kept, idle, strict=True)]
        print(
            f"{name:22} {statistics.median(kept):9.2f} {statistics.median(idle):9.2f} {statistics.median(ratios):7.2f}"
        )


if __name__ == "__main__":
    main()
