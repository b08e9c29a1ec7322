"""`opex-crm create-user`, `users list` and `users deactivate` (run as real processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlmodel import select

from crm_app.accounts import administration as accounts
from crm_app.accounts import auth
from crm_app.accounts.models import SessionKind
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import NotAuthenticated
from crm_app.platform.models.people import Role, User
from crm_app.platform.security_log import ClientInfo
from tests.factories import make_team

PASSWORD = "violet-tractor-sunrise"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )


def test_create_user_with_a_password_in_a_team(clean_db: None) -> None:
    with unit_of_work() as session:
        make_team(session, "North")
    result = _cli(
        "create-user", "--email", "Max@Example.org", "--role", "manager", "--team", "North", "--password", PASSWORD
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created manager max@example.org"
    with unit_of_work() as session:
        user = session.exec(select(User).where(User.email == "max@example.org")).one()
        assert (Role(user.role), user.full_name) == (Role.MANAGER, "Max")
        assert auth.login(session, "max@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded


def test_create_user_without_password_invites_and_prints_the_link(clean_db: None) -> None:
    result = _cli("create-user", "--email", "nina@example.org", "--role", "user", "--name", "Nina Neu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("invited user nina@example.org; invitation link (72 h): http")
    token = result.stdout.strip().rsplit("/", 1)[1]
    with unit_of_work() as session:
        accounts.accept_invitation(session, token, PASSWORD)
    with unit_of_work() as session:
        assert auth.login(session, "nina@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded


def test_create_user_refuses_an_unknown_team_and_a_common_password(clean_db: None) -> None:
    unknown = _cli("create-user", "--email", "a@example.org", "--role", "user", "--team", "Nowhere")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "opex-crm: team: This team does not exist."
    common = _cli("create-user", "--email", "a@example.org", "--role", "user", "--password", "Password2024!")
    assert common.returncode == 1
    assert common.stderr.strip() == "opex-crm: password: Must not be a commonly used password."


def test_users_list_and_deactivate(clean_db: None) -> None:
    assert _cli("create-user", "--email", "rep@example.org", "--role", "user", "--password", PASSWORD).returncode == 0
    assert _cli("create-user", "--email", "new@example.org", "--role", "user").returncode == 0
    with unit_of_work() as session:
        web = auth.login(session, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB)
    listed = _cli("users", "list")
    assert listed.returncode == 0, listed.stderr
    lines = [line.split("\t") for line in listed.stdout.strip().splitlines()]
    assert [(cols[0], cols[2], cols[4]) for cols in lines] == [
        ("new@example.org", "user", "invited"),
        ("rep@example.org", "user", "active"),
    ]
    result = _cli("users", "deactivate", "REP@example.org")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deactivated rep@example.org"
    with unit_of_work() as session:
        assert session.exec(select(User.is_active).where(User.email == "rep@example.org")).one() is False
        assert not auth.login(session, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded
        with pytest.raises(NotAuthenticated):  # the open session ended with the deactivation
            auth.resolve_session(session, web.session_id)
    inactive = _cli("users", "list", "--status", "deactivated")
    assert [line.split("\t")[0] for line in inactive.stdout.strip().splitlines()] == ["rep@example.org"]
    missing = _cli("users", "deactivate", "ghost@example.org")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "opex-crm: No user has this email."
