"""The benchmark data generators on a small scale: bench/generate.py's institutions, then
bench/generate_sales.py's sales side, whose own checks (foreign keys, the services' rules in SQL,
totals against the services, documents created through the services after the load) must pass;
a second load is refused without --replace."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch(pg_server: PostgresServer) -> Iterator[URL]:
    url = pg_server.create_database("opex_bench_test")
    try:
        yield url
    finally:
        pg_server.drop_database(url)


def _run(script: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--database-url", url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_the_sales_generator_writes_rows_the_services_accept(scratch: URL) -> None:
    url = scratch.render_as_string(hide_password=False)
    made = _run("generate.py", url, "--institutions", "400", "--contacts", "800", "--verify", "10")
    assert made.returncode == 0, made.stderr[-2000:]

    sizes = ("--opportunities", "300", "--activities", "3000", "--quotes", "400", "--invoices", "400")
    sales = _run("generate_sales.py", url, *sizes, "--verify", "20")
    assert sales.returncode == 0, sales.stderr[-3000:]
    assert "rules of the services in SQL: none broken" in sales.stdout
    assert "created through them (rolled back)" in sales.stdout

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        counts: dict[str, int] = dict(
            connection.execute(
                "SELECT 'opportunities', count(*) FROM opportunities UNION ALL "
                "SELECT 'quotes', count(*) FROM quotes UNION ALL "
                "SELECT 'activities', (SELECT count(*) FROM tasks) + (SELECT count(*) FROM meetings) "
                "+ (SELECT count(*) FROM calls) + (SELECT count(*) FROM notes) UNION ALL "
                "SELECT 'invoices', count(*) FROM invoices WHERE kind = 'invoice' UNION ALL "
                "SELECT 'stages', count(DISTINCT stage) FROM opportunities"
            ).fetchall()
        )
    assert counts["opportunities"] == 300 and counts["quotes"] == 400 and counts["activities"] == 3000
    assert 380 <= counts["invoices"] <= 400 and counts["stages"] == 6

    again = _run("generate_sales.py", url, *sizes, "--verify", "0")
    assert again.returncode != 0 and "--replace" in again.stderr
