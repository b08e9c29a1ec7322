"""Find a PostgreSQL server for the test run, and make or drop throwaway databases on it.

Order: TEST_DATABASE_URL if set; else the server on 127.0.0.1:5432 when it answers; else a
server started for this run from the local PostgreSQL binaries (stopped at the end).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class PostgresServer:
    admin_url: URL
    cleanup: list[str] = field(default_factory=list)  # data directory of a server started here

    def _connect(self) -> psycopg.Connection:
        url = self.admin_url
        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self, prefix: str = "opex_test") -> URL:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self._connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.admin_url.set(database=name)

    def drop_database(self, url: URL) -> None:
        with self._connect() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.database or ""))
            )

    def stop(self) -> None:
        for data_dir in self.cleanup:
            _run_as_postgres([_binary("pg_ctl"), "-D", data_dir, "-m", "immediate", "stop"])
            shutil.rmtree(os.path.dirname(data_dir), ignore_errors=True)


def _answers(url: URL) -> bool:
    try:
        with psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            connect_timeout=3,
        ):
            return True
    except psycopg.OperationalError:
        return False


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"no PostgreSQL server answers and `{name}` is not installed: set TEST_DATABASE_URL")
    return found


def _run_as_postgres(command: list[str]) -> None:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_throwaway() -> PostgresServer:
    base = tempfile.mkdtemp(prefix="opex-pg-")
    data_dir = os.path.join(base, "data")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    _run_as_postgres([_binary("initdb"), "-D", data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    _run_as_postgres(
        [
            _binary("pg_ctl"),
            "-D",
            data_dir,
            "-w",
            "-l",
            os.path.join(base, "log"),
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ]
    )
    url = make_url(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    for _ in range(50):
        if _answers(url):
            break
        time.sleep(0.1)
    return PostgresServer(admin_url=url, cleanup=[data_dir])


def find_server() -> PostgresServer:
    if os.environ.get("TEST_DATABASE_URL"):
        url = make_url(os.environ["TEST_DATABASE_URL"])
        if url.drivername in {"postgres", "postgresql"}:
            url = url.set(drivername="postgresql+psycopg")
        return PostgresServer(admin_url=url)
    default = make_url(DEFAULT_SERVER)
    if _answers(default):
        return PostgresServer(admin_url=default)
    return _start_throwaway()
