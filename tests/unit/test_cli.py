"""The opex-crm command line (run as a real process)."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlmodel import select

from crm_app import cli
from crm_app.accounts import passwords
from crm_app.platform.config import Settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role, User


def _cli(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_create_admin_with_password_from_stdin(clean_db: None) -> None:
    result = _cli("create-admin", "--email", "Root@Example.org", "--name", "Root", stdin="a strong passphrase\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created super_admin root@example.org"
    with unit_of_work() as session:
        user = session.exec(select(User).where(User.email == "root@example.org")).one()
        assert Role(user.role) is Role.SUPER_ADMIN
        assert passwords.verify_password("a strong passphrase", user.password_hash)


def test_create_admin_refuses_a_weak_password_with_one_line(clean_db: None) -> None:
    result = _cli("create-admin", "--email", "weak@example.org", "--password", "short")
    assert result.returncode == 1
    assert result.stderr.strip() == "opex-crm: password: At least 10 characters."


def test_seed_demo_is_idempotent(clean_db: None) -> None:
    first, second = _cli("seed", "--demo"), _cli("seed", "--demo")
    assert "demo data created" in first.stdout
    assert "demo data already present" in second.stdout
    with unit_of_work() as session:
        assert len(session.exec(select(User)).all()) == 8  # crm_app.demo.seed._USERS


def test_seed_demo_is_refused_in_production() -> None:
    result = _cli("seed", "--demo", APP_ENV="production")
    assert result.returncode == 1
    assert "refused with APP_ENV=production" in result.stderr


def test_generate_secret_is_long_and_random() -> None:
    first, second = _cli("generate-secret").stdout.strip(), _cli("generate-secret").stdout.strip()
    assert len(first) >= 32 and first != second


def test_health_check_fails_when_no_server_answers() -> None:
    result = _cli("health-check", "--url", "http://127.0.0.1:1", "--timeout", "2")
    assert result.returncode == 1
    assert result.stderr.startswith("opex-crm: unhealthy: http://127.0.0.1:1 does not answer")


def test_the_demo_listens_on_this_machine_only_unless_host_is_set() -> None:
    served, notice = cli.demo_settings(Settings())
    assert served.host == "127.0.0.1"
    assert notice is not None and "HOST=0.0.0.0" in notice
    chosen = Settings(host="0.0.0.0")  # noqa: S104 - the operator's explicit choice
    assert cli.demo_settings(chosen) == (chosen, None)
    assert Settings().host == "0.0.0.0"  # noqa: S104 - without --demo, the usual default
