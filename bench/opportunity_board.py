"""The opportunities' board and list at 50,000 opportunities on PostgreSQL, in process (the services
the pages and the API call, each in its own unit of work).

    python bench/opportunity_board.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench_opportunities \
        [--opportunities 50000] [--institutions 2000] [--runs 50] [--seed 42]

Drops and recreates the database, runs the migrations, creates teams and users through the services
(bench/generate.py's `create_staff`) and institutions through the institutions service, then loads the
opportunities with COPY (stages, amounts, probabilities and close dates spread like a real pipeline).
Prints the median and 95th percentile in milliseconds of: a board column's first page (the issue's
target: ≤ 15 ms), the whole board (the six columns' totals over the filter and their first pages), the
list's first page with its sums, a text search, for an administrator (all) and a sales rep (own).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from generate import configure_environment, create_staff, prepare_database, psycopg_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_opportunities"
STAGES = [("prospecting", 30), ("qualification", 20), ("proposal", 15), ("negotiation", 10), ("won", 15), ("lost", 10)]
WORDS = ["Scanner", "IRM", "Bloc opératoire", "Stérilisation", "Lits", "Échographes", "Endoscopes", "Moniteurs"]


def opportunity_rows(
    rng: random.Random, count: int, owners: list[tuple[uuid.UUID, uuid.UUID]], institutions: list[uuid.UUID]
) -> list[dict[str, Any]]:
    from crm_app.platform.text import fold
    from crm_app.sales.models.opportunities import STAGE_PROBABILITY, OpportunityStage

    now = datetime.now(UTC)
    today = now.date()
    names, weights = zip(*STAGES, strict=True)
    rows = []
    for i in range(count):
        stage = OpportunityStage(rng.choices(names, weights)[0])
        owner, team = rng.choice(owners)
        name = f"{rng.choice(WORDS)} {i:05d}"
        closed = now - timedelta(days=rng.randint(0, 365)) if stage.is_closed else None
        rows.append(
            {
                "id": uuid.uuid4(),
                "name": name,
                "name_key": fold(name),
                "institution_id": rng.choice(institutions),
                "owner_id": owner,
                "team_id": team,
                "stage": stage.value,
                "amount": Decimal(rng.randint(500, 250_000)) + Decimal(rng.randint(0, 99)) / 100,
                "probability": STAGE_PROBABILITY[stage],
                "probability_is_manual": False,
                "expected_close_date": today + timedelta(days=rng.randint(-60, 270)) if rng.random() > 0.1 else None,
                "lost_reason_text": "Prix" if stage is OpportunityStage.LOST else None,
                "closed_at": closed,
                "stage_changed_at": closed or now,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    return rows


def copy_rows(conninfo: str, table: str, rows: list[dict[str, Any]]) -> None:
    from sqlmodel import SQLModel

    import crm_app.tables  # noqa: F401 - registers the tables

    columns = [c.name for c in SQLModel.metadata.tables[table].columns]
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row.get(name) for name in columns])
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"VACUUM ANALYZE {table}")


def timed(runs: int, call: Callable[[Any], Any]) -> tuple[float, float]:
    from crm_app.platform.db import unit_of_work

    for _ in range(3):  # warm up
        with unit_of_work() as session:
            call(session)
    samples = []
    for _ in range(runs):
        with unit_of_work() as session:
            started = time.perf_counter()
            call(session)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--opportunities", type=int, default=50_000)
    parser.add_argument("--institutions", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
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
    from crm_app.platform.models.people import User
    from crm_app.platform.paging import PageRequest
    from crm_app.platform.permissions import SYSTEM_ACTOR, actor_from
    from crm_app.sales import opportunities
    from crm_app.sales.models.opportunities import OpportunityStage
    from crm_app.sales.opportunities import OpportunityFilter

    owners = [(seller, team_id) for team, team_id in staff.team_ids.items() for seller in staff.sellers[team]]
    with unit_of_work() as session:
        institution_ids = [
            institutions.create_institution(
                session, SYSTEM_ACTOR, {"name": f"Clinique Bench {i:05d}"}, allow_duplicate=True
            ).id
            for i in range(args.institutions)
        ]
    copy_rows(
        psycopg_url(args.database_url),
        "opportunities",
        opportunity_rows(rng, args.opportunities, owners, institution_ids),
    )
    elapsed = time.perf_counter() - started
    print(f"loaded {args.opportunities:,} opportunities, {args.institutions:,} institutions in {elapsed:.1f} s")

    with unit_of_work() as session:
        admin = actor_from(session.get(User, staff.admin_id))  # type: ignore[arg-type]
        rep = actor_from(session.get(User, owners[0][0]))  # type: ignore[arg-type]
    everything = OpportunityFilter()
    scenarios: list[tuple[str, Callable[[Any], Any]]] = []
    for who, actor in (("admin", admin), ("rep", rep)):
        scenarios += [
            (
                f"{who}: board column, first page",
                lambda s, a=actor: opportunities.board_page(s, a, everything, OpportunityStage.PROPOSAL),
            ),
            (
                f"{who}: board column, page 3",
                lambda s, a=actor: opportunities.board_page(
                    s, a, everything, OpportunityStage.PROPOSAL, PageRequest(3, 20)
                ),
            ),
            (f"{who}: whole board (6 columns)", lambda s, a=actor: opportunities.board(s, a, everything)),
            (
                f"{who}: list, first page and sums",
                lambda s, a=actor: opportunities.list_opportunities(s, a, everything),
            ),
            (
                f"{who}: list, text 'scanner 01'",
                lambda s, a=actor: opportunities.list_opportunities(s, a, OpportunityFilter(q="scanner 01")),
            ),
            (
                f"{who}: list, sorted by amount",
                lambda s, a=actor: opportunities.list_opportunities(
                    s, a, OpportunityFilter(sort="amount", descending=True)
                ),
            ),
        ]
    print(f"\n{'scenario':<42}{'p50 ms':>9}{'p95 ms':>9}")
    for name, call in scenarios:
        p50, p95 = timed(args.runs, call)
        print(f"{name:<42}{p50:>9.1f}{p95:>9.1f}")


if __name__ == "__main__":
    main()
