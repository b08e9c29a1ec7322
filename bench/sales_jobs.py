"""The daily sales jobs over 100,000 quotes and 100,000 invoices on PostgreSQL.

    python bench/sales_jobs.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench_sales \
        [--quotes 100000] [--invoices 100000] [--institutions 2000] [--seed 42]

Drops and recreates the database, runs the migrations, creates teams and users through the services
(bench/generate.py's `create_staff`) and institutions through the institutions service, then loads the
quotes and invoices with COPY (totals from crm_app.sales.money.compute_totals). Dates are spread
around today so that each job has a few thousand documents to act on.

Then, --repeat times (default 3), on a fresh copy of that database (CREATE DATABASE ... TEMPLATE):
each job runs in its own unit of work for the backlog (the first run ever: every reminder window
caught up at once), then again (the idempotent second run), and once every job has caught up, each
runs again with the clock one day later (a normal day). Prints seconds and SQL statements of every
run, then the median over the repeats.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from generate import configure_environment, create_staff, prepare_database, psycopg_url
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_sales"
PRICES = [Decimal(p) for p in ("120.00", "450.00", "980.00", "1250.00", "3400.00", "12500.00")]
RATES = [Decimal("20"), Decimal("10"), Decimal("5.5")]


def _copy(conninfo: str, table: str, rows: list[dict[str, Any]]) -> None:
    from sqlmodel import SQLModel

    import crm_app.tables  # noqa: F401 - registers the tables

    columns = [c.name for c in SQLModel.metadata.tables[table].columns]
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row.get(name) for name in columns])
        connection.execute(f"ANALYZE {table}")


def _totals(rng: random.Random) -> tuple[Decimal, Decimal, Decimal]:
    from crm_app.sales.money import LineAmounts, compute_totals

    totals = compute_totals(
        [LineAmounts(quantity=Decimal(rng.randint(1, 5)), unit_price=rng.choice(PRICES), vat_rate=rng.choice(RATES))]
    )
    return totals.total_excl_vat, totals.total_vat, totals.total_incl_vat


def quote_rows(
    rng: random.Random,
    count: int,
    today: date,
    *,
    owners: list[tuple[uuid.UUID, uuid.UUID | None]],
    institutions: list[uuid.UUID],
    now: datetime,
) -> list[dict[str, Any]]:
    """Validity dates over today − 90 … today + 45 days (≈ 740 a day). Still valid: 70 % sent; past:
    expired by earlier runs, decided or cancelled; sent and past by 1–3 days: to expire today."""
    rows = []
    for index in range(count):
        valid_until = today + timedelta(days=rng.randint(-90, 45))
        days = (valid_until - today).days
        if days >= 0:
            status = rng.choices(("sent", "draft", "accepted"), weights=(70, 15, 15))[0]
        elif days >= -3:
            status = rng.choices(("sent", "accepted", "rejected"), weights=(80, 15, 5))[0]
        else:
            status = rng.choices(("expired", "accepted", "rejected", "cancelled"), weights=(55, 25, 10, 10))[0]
        owner, team = rng.choice(owners)
        excl, vat, incl = _totals(rng)
        quote_id = uuid.uuid4()
        rows.append(
            {
                "id": quote_id,
                "created_at": now,
                "updated_at": now,
                "created_by": owner,
                "version": 1,
                "number": f"DEV-B-{index:07d}",
                "root_id": quote_id,
                "revision": 1,
                "status": status,
                "institution_id": rng.choice(institutions),
                "owner_id": owner,
                "team_id": team,
                "issue_date": valid_until - timedelta(days=30),
                "valid_until": valid_until,
                "currency": "EUR",
                "global_discount_percent": Decimal("0"),
                "total_excl_vat": excl,
                "total_vat": vat,
                "total_incl_vat": incl,
                "sent_at": now if status != "draft" else None,
            }
        )
    return rows


def invoice_rows(
    rng: random.Random,
    count: int,
    today: date,
    *,
    owners: list[tuple[uuid.UUID, uuid.UUID | None]],
    institutions: list[uuid.UUID],
    now: datetime,
) -> list[dict[str, Any]]:
    """Due dates over today − 90 … today + 30 (≈ 830 a day): not yet due all open; past due 80 %
    paid, the rest overdue (or issued / partially paid for the last three days: to mark today)."""
    rows = []
    for index in range(count):
        due = today + timedelta(days=rng.randint(-90, 30))
        days = (due - today).days
        excl, vat, incl = _totals(rng)
        paid = Decimal("0")
        if days >= 0:
            status = rng.choices(("issued", "partially_paid"), weights=(90, 10))[0]
        elif rng.random() < 0.8:
            status, paid = "paid", incl
        else:
            status = rng.choice(("issued", "partially_paid")) if days >= -3 else "overdue"
        if status == "partially_paid":
            paid = (incl / 2).quantize(Decimal("0.01"))
        owner, team = rng.choice(owners)
        rows.append(
            {
                "id": uuid.uuid4(),
                "kind": "invoice",
                "number": f"FAC-B-{index:07d}",
                "status": status,
                "created_at": now,
                "updated_at": now,
                "created_by": owner,
                "version": 1,
                "institution_id": rng.choice(institutions),
                "owner_id": owner,
                "team_id": team,
                "issue_date": due - timedelta(days=30),
                "due_date": due,
                "payment_terms_days": 30,
                "currency": "EUR",
                "global_discount_percent": Decimal("0"),
                "total_excl_vat": excl,
                "total_vat": vat,
                "total_incl_vat": incl,
                "amount_paid": paid,
                "amount_credited": Decimal("0"),
                "issued_at": now,
                "paid_at": now if status == "paid" else None,
            }
        )
    return rows


def timed(job: Any, now: datetime | None = None) -> tuple[float, int, Any]:
    """(seconds, SQL statements, result) of one run in its own unit of work."""
    from sqlalchemy import event

    from crm_app.platform.db import get_engine, unit_of_work

    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        with unit_of_work() as session:
            result = job(session, now=now)
        return time.perf_counter() - started, statements[0], result
    finally:
        event.remove(engine, "before_cursor_execute", count)


JOBS = ("quote_expiry", "invoice_overdue", "quote_reminders", "invoice_followup")
RUNS = ("backlog", "second", "next day")


def copy_database(conninfo: str, url: str, template: str) -> str:
    """A fresh copy of `template` (the loaded database); the application's settings point at it."""
    from crm_app.platform import cache
    from crm_app.platform.config import reset_settings
    from crm_app.platform.db import dispose_engines

    dispose_engines()  # no connection may remain on the template
    name = f"{template}_run"
    with psycopg.connect(make_conninfo(conninfo, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    reset_settings()
    cache.forget_all()
    return name


def drop_database(conninfo: str, name: str) -> None:
    from crm_app.platform.db import dispose_engines

    dispose_engines()
    with psycopg.connect(make_conninfo(conninfo, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_all(functions: dict[str, Any]) -> dict[tuple[str, str], tuple[float, int, Any]]:
    """Every job: backlog run, second run; then, all caught up, every job one day later."""
    figures = {}
    now = datetime.now(UTC)
    for name in JOBS:
        for run in RUNS[:2]:
            figures[name, run] = timed(functions[name], now)
    for name in JOBS:
        figures[name, "next day"] = timed(functions[name], now + timedelta(days=1))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--quotes", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--institutions", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("the benchmark needs PostgreSQL")
    configure_environment(args.database_url)
    prepare_database(args.database_url, replace=True)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    staff = create_staff(rng)

    from crm_app.institutions import service as institutions
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.permissions import SYSTEM_ACTOR
    from crm_app.sales import reminders as sales_jobs

    owners = [(seller, team_id) for team, team_id in staff.team_ids.items() for seller in staff.sellers[team]]
    with unit_of_work() as session:
        institution_ids = [
            institutions.create_institution(
                session, SYSTEM_ACTOR, {"name": f"Clinique Bench {i:05d}"}, allow_duplicate=True
            ).id
            for i in range(args.institutions)
        ]
        today = sales_jobs.organisation_today(session)
    now = datetime.now(UTC)
    conninfo = psycopg_url(args.database_url)
    placed: dict[str, Any] = {"owners": owners, "institutions": institution_ids, "now": now}
    _copy(conninfo, "quotes", quote_rows(rng, args.quotes, today, **placed))
    _copy(conninfo, "invoices", invoice_rows(rng, args.invoices, today, **placed))
    print(
        f"loaded {args.quotes:,} quotes, {args.invoices:,} invoices, {args.institutions:,} institutions, "
        f"{staff.count} users in {time.perf_counter() - started:.1f} s"
    )

    functions = {
        "quote_expiry": sales_jobs.expire_quotes,
        "invoice_overdue": sales_jobs.mark_invoices_overdue,
        "quote_reminders": sales_jobs.send_quote_reminders,
        "invoice_followup": sales_jobs.send_invoice_followups,
    }
    template = str(conninfo_to_dict(conninfo)["dbname"])
    repeats = []
    for repeat in range(1, args.repeat + 1):
        copy = copy_database(conninfo, args.database_url, template)
        figures = run_all(functions)
        drop_database(conninfo, copy)
        repeats.append(figures)
        print(f"\nrepeat {repeat}")
        print(f"{'job':<18}{'run':<10}{'seconds':>9}{'SQL':>6}  result")
        for (name, run), (seconds, statements, result) in figures.items():
            print(f"{name:<18}{run:<10}{seconds:>9.3f}{statements:>6}  {result}")
    print(f"\nmedian of {len(repeats)}")
    print(f"{'job':<18}{'run':<10}{'seconds':>9}{'SQL':>6}  result")
    for key in repeats[0]:
        seconds = statistics.median(figures[key][0] for figures in repeats)
        counts = sorted({figures[key][1] for figures in repeats})
        print(f"{key[0]:<18}{key[1]:<10}{seconds:>9.3f}{'/'.join(map(str, counts)):>6}  {repeats[0][key][2]}")


if __name__ == "__main__":
    main()
