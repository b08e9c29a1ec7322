"""The test command's PostgreSQL fallback: a throwaway server from the local binaries."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from tests.postgres import _start_throwaway


@pytest.mark.skipif(shutil.which("initdb") is None and not shutil.which("pg_ctl"), reason="no PostgreSQL binaries")
def test_throwaway_server_creates_and_drops_databases() -> None:
    server = _start_throwaway()
    try:
        url = server.create_database()
        with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == (url.database,)
        server.drop_database(url)
    finally:
        server.stop()
