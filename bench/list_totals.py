"""The institutions list's total, uncached, at the size of a database (issue 20): how long the exact count
of every match takes, against what a page now pays (a count capped at EXACT_COUNT_LIMIT + 1, then
PostgreSQL's estimate beyond it), for the filters of benchmark.py.

    python bench/list_totals.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench_1m

In process, on the service's own statements, p50 of --runs runs each (ms).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from generate import DEFAULT_URL, configure_environment


def _ms(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    samples, value = [], None
    for _ in range(runs):
        started = time.perf_counter()
        value = action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--limit", type=int, help="another EXACT_COUNT_LIMIT than the application's, to compare")
    args = parser.parse_args()
    configure_environment(args.database_url)

    from sqlmodel import Session

    from crm_app.institutions import service
    from crm_app.institutions.service import InstitutionQuery
    from crm_app.platform import paging
    from crm_app.platform.db import get_engine

    if args.limit:
        service.EXACT_COUNT_LIMIT = paging.EXACT_COUNT_LIMIT = args.limit

    queries = {
        "no filter": InstitutionQuery(),
        "status=client": InstitutionQuery.from_params({"status": ["client"]}),
        "type=hospital": InstitutionQuery.from_params({"type": ["hospital"]}),
        "tag=Appel d'offres": InstitutionQuery.from_params({"tag": ["Appel d'offres"]}),
        "beds 200-500": InstitutionQuery.from_params({"beds_min": ["200"], "beds_max": ["500"]}),
        "search q=hopital": InstitutionQuery(q="hopital"),
        "search q=joseph": InstitutionQuery(q="joseph"),
    }
    with Session(get_engine()) as session:
        session.info["records_changed"] = True  # the totals' cache is neither read nor filled
        print(f"{'filter':<22}{'exact count':>14}{'ms':>9}   {'page total':>26}{'ms':>9}")
        for name, query in queries.items():
            full_ms, exact, page_ms, total = _measure(session, service, query, args.runs)
            shown = f"{total.value:,}" + ("" if total.exact else " (estimate)")
            print(f"{name:<22}{exact:>14,}{full_ms:>9.1f}   {shown:>26}{page_ms:>9.1f}")


def _measure(session: Any, service: Any, query: Any, runs: int) -> tuple[float, int, float, Any]:
    """The exact count's p50 and value, then the page total's p50 and value."""
    shape, params = service._filters(query)
    source = service._source(session, query)
    statement = service._count_statement(shape, source)
    full_ms, exact = _ms(lambda: session.execute(statement, params).scalar_one(), runs)
    page_ms, total = _ms(lambda: service._list_total(session, query, shape, params, source), runs)
    return full_ms, exact, page_ms, total


if __name__ == "__main__":
    main()
