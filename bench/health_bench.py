"""The institutions' health score at scale: on a database made by `generate.py` (100,000 institutions),
adds activities and invoices spread over 15 months with set-based SQL (once: `--load`), then times the
daily recompute of every institution, the recompute of one institution (what a logged call costs at
commit), the explanation of one, "accounts needing attention" per scope, and the list's first page
sorted and filtered by the score. Prints its figures; not a timed test.

    .venv/bin/python bench/health_bench.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench \\
        --load --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

LOAD = [
    # 300,000 calls over the last 15 months, on 60 % of the institutions
    """
    INSERT INTO calls (id, created_at, updated_at, version, direction, called_at, user_id, institution_id)
    SELECT gen_random_uuid(), now(), now(), 1, 'out', now() - (random() * 450) * interval '1 day',
           (SELECT id FROM users ORDER BY id LIMIT 1), i.id
    FROM (SELECT id FROM institutions ORDER BY md5(id::text) LIMIT 60000) i, generate_series(1, 5)
    """,
    # 100,000 tasks: two thirds done at some time, a third open with a due date around today
    """
    INSERT INTO tasks (id, created_at, updated_at, version, title, status, priority, assignee_id,
                       institution_id, completed_at, due_at)
    SELECT gen_random_uuid(), now(), now(), 1, 'Relance', CASE WHEN r < 0.33 THEN 'todo' ELSE 'done' END,
           'normal', (SELECT id FROM users ORDER BY id LIMIT 1), id,
           CASE WHEN r < 0.33 THEN NULL ELSE now() - (random() * 400) * interval '1 day' END,
           now() + (random() * 60 - 30) * interval '1 day'
    FROM (
        SELECT i.id, random() AS r
        FROM (SELECT id FROM institutions ORDER BY md5(id::text || 't') LIMIT 50000) i, generate_series(1, 2)
    ) t
    """,
    # 100,000 notes
    """
    INSERT INTO notes (id, created_at, updated_at, version, body, visibility, institution_id)
    SELECT gen_random_uuid(), now() - (random() * 450) * interval '1 day', now(), 1, 'Note', 'shared', i.id
    FROM (SELECT id FROM institutions ORDER BY md5(id::text || 'n') LIMIT 50000) i, generate_series(1, 2)
    """,
    # 100,000 issued invoices over 15 months, 30 days to pay, a fifth of them still open
    """
    INSERT INTO invoices (id, created_at, updated_at, version, kind, status, number, institution_id, owner_id,
                          payment_terms_days, currency, global_discount_percent, total_excl_vat, total_vat,
                          total_incl_vat, amount_paid, amount_credited, issue_date, due_date)
    SELECT gen_random_uuid(), now(), now(), 1, 'invoice', CASE WHEN n % 5 = 0 THEN 'issued' ELSE 'paid' END,
           'BENCH-' || n, i.id, (SELECT id FROM users ORDER BY id LIMIT 1), 30, 'EUR', 0, t, t * 0.2, t * 1.2,
           CASE WHEN n % 5 = 0 THEN 0 ELSE t * 1.2 END, 0, d, d + 30
    FROM (
        SELECT id, row_number() OVER () AS n, round((random() * 20000)::numeric, 2) AS t,
               current_date - (random() * 450)::int AS d
        FROM (SELECT id FROM institutions ORDER BY md5(id::text || 'i') LIMIT 50000) s, generate_series(1, 2)
    ) i
    """,
]


def _time(run: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median of `runs` calls in milliseconds, and the last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:  # noqa: PLR0915 - one scenario after the other, in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--load", action="store_true", help="add the activities and invoices first (once)")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    os.environ["DATABASE_URL"] = options.database_url
    os.environ.setdefault("APP_ENV", "development")

    import sqlalchemy as sa
    from sqlmodel import Session, select

    from crm_app import bootstrap
    from crm_app.analytics import health
    from crm_app.institutions import service as institutions
    from crm_app.institutions.models import Institution
    from crm_app.institutions.service import InstitutionQuery
    from crm_app.platform.db import get_engine, unit_of_work
    from crm_app.platform.models.people import Role, User
    from crm_app.platform.paging import PageRequest
    from crm_app.platform.permissions import SYSTEM_ACTOR, actor_from

    bootstrap.wire()
    if options.load:
        with get_engine().begin() as connection:
            for statement in LOAD:
                started = time.perf_counter()
                count = connection.execute(sa.text(statement)).rowcount
                print(f"loaded {count:,} rows in {time.perf_counter() - started:.1f} s")
            for table in ("calls", "tasks", "notes", "invoices", "institutions"):
                connection.execute(sa.text(f"ANALYZE {table}"))

    with Session(get_engine()) as session:
        counts = {
            table: session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("institutions", "calls", "tasks", "notes", "invoices")
        }
    print(", ".join(f"{name} {count:,}" for name, count in counts.items()))

    def recompute_all() -> int:
        with unit_of_work() as session:
            return health.recompute(session)

    first, written = _time(recompute_all, 1)
    print(f"recompute every institution, first run: {first:,.0f} ms, {written:,} scores changed and written")
    median, written = _time(recompute_all, options.runs)
    print(f"recompute every institution again (nothing moved): {median:,.0f} ms median, {written:,} written")

    with Session(get_engine()) as session:
        some = list(session.exec(select(Institution.id).order_by(Institution.name_key).limit(options.runs)).all())
        rep = session.exec(select(User).where(User.role == Role.USER.value).limit(1)).one()
        manager = session.exec(select(User).where(User.role == Role.MANAGER.value).limit(1)).one()
        actors = {"rep": actor_from(rep), "manager": actor_from(manager), "all": SYSTEM_ACTOR}
    one = iter(some * 2)

    def recompute_one() -> int:
        with unit_of_work() as session:
            return health.recompute(session, [next(one)])

    print(f"recompute one institution (at a call's commit): {_time(recompute_one, options.runs)[0]:.1f} ms median")

    def explain() -> Any:
        with unit_of_work() as session:
            return health.score_breakdown(session, SYSTEM_ACTOR, some[0])

    print(f"explain one institution (page, API): {_time(explain, options.runs)[0]:.1f} ms median")
    for name, actor in actors.items():

        def attention(actor: Any = actor) -> Any:
            with unit_of_work() as session:
                return health.needing_attention(session, actor, limit=8)

        median, rows = _time(attention, options.runs)
        print(f"needing attention, scope {name}: {median:.1f} ms median ({len(rows)} rows)")
    for label, query in (
        ("list sorted by health, first page", InstitutionQuery(sort="health_score")),
        ("list sorted by health descending, first page", InstitutionQuery(sort="health_score", descending=True)),
        ("list filtered health 0-39, first page and count", InstitutionQuery(health_max=39, sort="health_score")),
        ("list filtered health 70-100, by name", InstitutionQuery(health_min=70)),
    ):

        def page(query: InstitutionQuery = query) -> Any:
            with Session(get_engine()) as session:
                session.info["records_changed"] = True  # no cached total: each run counts
                return institutions.list_institutions(session, SYSTEM_ACTOR, query, PageRequest(1, 25))

        median, result = _time(page, options.runs)
        print(f"{label}: {median:.1f} ms median (total {result.total:,})")
    with Session(get_engine()) as session:
        bands = session.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE health_score < 40),"
                " count(*) FILTER (WHERE health_score BETWEEN 40 AND 69),"
                " count(*) FILTER (WHERE health_score >= 70) FROM institutions"
            )
        ).one()
    print(f"scores: {bands[0]:,} below 40, {bands[1]:,} from 40 to 69, {bands[2]:,} from 70")


if __name__ == "__main__":
    main()
