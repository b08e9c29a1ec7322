"""`opex-crm doctor`: one line per check, exit 0 on a healthy installation, exit 1 naming every failure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crm_app.operations import migrate
from tests.servers import free_port
from tests.smtp_server import SMTPServer


def _doctor(*prefix: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "crm_app.cli", "doctor"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
        cwd="/",
    )


def test_a_healthy_installation_passes_every_check(tmp_path: Path) -> None:
    url = os.environ["DATABASE_URL"]
    shown_url = re.escape(url)  # the test server has no password
    with SMTPServer() as smtp:
        result = _doctor(DATA_DIR=str(tmp_path), SMTP_HOST=smtp.host, SMTP_PORT=str(smtp.port), SMTP_SECURE="false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not smtp.received  # connect and EHLO only
    lines = result.stdout.splitlines()
    expected = [
        r"ok    configuration development \(secrets generated under DATA_DIR when unset\)",
        rf"ok    database      {shown_url} answers in \d+\.\d ms",
        rf"ok    migrations    at head {migrate.head_revision()}",
        rf"ok    smtp          127\.0\.0\.1:{smtp.port} answers EHLO \(no TLS offered\)",
        rf"ok    data-dir      {re.escape(str(tmp_path))} writable",
        rf"ok    disk          \d+\.\d GB free of \d+\.\d GB \(\d+%\) under {re.escape(str(tmp_path))}",
        r"ok    clock         \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T \(Europe/Paris\), \d+\.\d s from the database "
        r"server's clock",
        r"7 checks: 7 ok, 0 warning\(s\), 0 failed",
    ]
    assert len(lines) == len(expected), result.stdout
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None, reason="root without setpriv")
def test_a_broken_installation_names_each_failure_and_exits_1(tmp_path: Path) -> None:
    read_only = tmp_path / "data"
    read_only.mkdir()
    read_only.chmod(0o500)
    # root writes anywhere: drop the capability that lets it, so that the mode bits count.
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    db_port, smtp_port = free_port(), free_port()
    result = _doctor(
        *prefix,
        APP_ENV="production",
        JWT_SECRET="short",
        BASE_URL="https://crm.example.org",
        DATABASE_URL=f"postgresql://opex_crm:Pw-9f3kQ@127.0.0.1:{db_port}/opex_crm",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_SECURE="false",
        DATA_DIR=str(read_only),
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    expected = [
        r"FAIL  configuration JWT_SECRET is too short \(5 characters\): production needs at least 32 "
        r"\(opex-crm generate-secret\)",
        rf"FAIL  database      postgresql\+psycopg://opex_crm:\*\*\*@127\.0\.0\.1:{db_port}/opex_crm does not "
        r"answer: .*(refused|failed).*",
        r"FAIL  migrations    not checked: the database does not answer",
        rf"FAIL  smtp          127\.0\.0\.1:{smtp_port} does not answer: \[Errno 111\] Connection refused",
        rf"FAIL  data-dir      {re.escape(str(read_only))} is not writable: Permission denied",
        r"ok    disk          .*",
        r"ok    clock         .* \(Europe/Paris\)",
        r"7 checks: 2 ok, 0 warning\(s\), 5 failed \(configuration, database, migrations, smtp, data-dir\)",
    ]
    assert len(lines) == len(expected), result.stdout + result.stderr
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert "Pw-9f3kQ" not in result.stdout  # the password is never printed


def test_pending_migrations_fail_the_check(tmp_path: Path, pg_server: object) -> None:
    from tests.postgres import PostgresServer

    assert isinstance(pg_server, PostgresServer)
    url = pg_server.create_database("opex_doctor")
    try:
        result = _doctor(DATABASE_URL=url.render_as_string(hide_password=False), DATA_DIR=str(tmp_path))
    finally:
        pg_server.drop_database(url)
    assert result.returncode == 1
    migrations = next(line for line in result.stdout.splitlines() if " migrations " in line)
    assert re.fullmatch(
        rf"FAIL  migrations    \d+ pending \(database at base, head {migrate.head_revision()}\): "
        r"run `opex-crm db upgrade`",
        migrations,
    ), migrations
