"""What the REST API's rate limit costs each request (crm_app/platform/rate_limit.py; see bench/README.md).

    python bench/rate_limit.py [--database-url postgresql://postgres@127.0.0.1:5432/opex_bench_rate_limit]
                               [--requests 2000]

Drops and recreates its own database (and a SQLite file in a temporary folder), runs the migrations,
then times `rate_limit.count` in process: the reserving statement (under a limit that leases one
request at a time), for one bucket (a request
without a token: its address) and two (address and token), each `--requests` times on 50 clients
(new rows, then increments), after a warm-up; and the same on 4 threads at once; beside a bare
`SELECT 1` on a pooled connection, the cheapest thing a request can ask the database; and a call
under a large limit, mostly served from the process's lease. Prints the median, 95th percentile and
the calls per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from generate import configure_environment
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_rate_limit"


def recreate(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{parsed.database}"')


def timed(call: Callable[[int], None], requests: int) -> list[float]:
    times = []
    for i in range(requests):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p50, p95 = statistics.median(ordered), ordered[int(len(ordered) * 0.95)]
    print(f"  {label:<34} p50 {p50 * 1e6:7.0f} µs   p95 {p95 * 1e6:7.0f} µs   {1 / statistics.mean(ordered):7.0f} /s")


def run(database: str, url: str, requests: int) -> None:
    configure_environment(url)
    from crm_app.operations import migrate
    from crm_app.platform import rate_limit
    from crm_app.platform.db import dispose_engines
    from crm_app.platform.models.base import utcnow

    dispose_engines()
    migrate.upgrade()
    print(f"{database}:")
    # A limit under 40 leases one request at a time: every call pays the reserving statement.
    each = rate_limit.LEASE_SHARE * 2 - 1
    frozen = rate_limit.window_of(utcnow())  # one minute: the counters pass the limit, which costs the same
    one = lambda i: rate_limit.count([f"ip:10.0.{i % 50}.1"], limit=each, now=frozen)  # noqa: E731
    two = lambda i: rate_limit.count([f"ip:10.1.{i % 50}.1", f"token:{i % 50:064x}"], limit=each, now=frozen)  # noqa: E731
    # Under a large limit most calls are served from the process's lease, in memory.
    leased = lambda i: rate_limit.count([f"ip:10.2.{i % 50}.1"], limit=10**9)  # noqa: E731
    from crm_app.platform.db import get_engine

    def round_trip(_i: int) -> None:
        with get_engine().connect() as connection:
            connection.exec_driver_sql("SELECT 1").all()

    timed(one, 200)  # warm-up: pool, statement cache
    report("baseline: SELECT 1 (pooled)", timed(round_trip, requests))
    report("1 bucket (address)", timed(one, requests))
    report("2 buckets (address + token)", timed(two, requests))
    report("1 bucket, from leases of 50", timed(leased, requests))
    results: list[list[float]] = []

    def worker() -> None:
        results.append(timed(two, requests // 4))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report("2 buckets, 4 threads at once", [t for chunk in results for t in chunk])
    dispose_engines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    recreate(args.database_url)
    run("PostgreSQL", args.database_url, args.requests)
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite", f"sqlite:///{Path(folder) / 'rate_limit.sqlite3'}", args.requests)


if __name__ == "__main__":
    main()
