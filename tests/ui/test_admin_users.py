"""/admin/users, the invitation and password-reset pages, and the "forgot password" link of /login."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import pytest
from nicegui.testing import User
from sqlmodel import Session, select

from crm_app.accounts import administration as accounts
from crm_app.accounts import auth
from crm_app.accounts.models import AccountAction, SessionKind
from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import InvalidTransition
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as UserRow
from crm_app.platform.security_log import ClientInfo
from tests.account_links import link_path, text_of
from tests.factories import PASSWORD, actor_of, make_team, make_user
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows

NEW_PASSWORD = "violet-tractor-sunrise"


def _can_log_in(email: str, password: str) -> bool:
    with unit_of_work() as session:
        return auth.login(session, email, password, client=ClientInfo(), kind=SessionKind.WEB).succeeded


def _received_link(smtp_server: SMTPServer) -> str:
    assert smtp.send_pending()["sent"] == 1
    return link_path(text_of(smtp_server.messages[-1]))


async def _rows(user: User) -> list[dict[str, object]]:
    await eventually(lambda: bool(table_rows(user, "users-table")), "the users table did not load")
    return table_rows(user, "users-table")


async def test_admin_invites_and_the_person_sets_a_password_from_the_email(
    ui_user: User, account: Callable[..., str], smtp_server: SMTPServer
) -> None:
    await log_in(ui_user, account(role=Role.ADMIN), path="/login?redirect_to=/admin/users")
    await _rows(ui_user)
    ui_user.find(marker="invite").click()
    await ui_user.should_see(marker="invite-dialog")
    ui_user.find(marker="invite-email").type("nina@example.org")
    ui_user.find(marker="invite-name").type("Nina Neu")
    element(ui_user, "invite-role").value = "manager"
    ui_user.find(marker="invite-send").click()
    await eventually(
        lambda: any(
            r["email"] == "nina@example.org" and r["status"] == "invited" for r in table_rows(ui_user, "users-table")
        ),
        "the invited person is not listed",
    )
    path = _received_link(smtp_server)
    assert path.startswith("/invitation/")

    await ui_user.open(path)
    await ui_user.should_see("Compte : nina@example.org")
    await ui_user.should_see(marker="rule-length-todo")
    ui_user.find(marker="new-password").type("nina-secret")  # contains the email's local part
    await ui_user.should_see(marker="rule-length-ok")
    await ui_user.should_see(marker="rule-not_email-todo")
    element(ui_user, "new-password").value = "azertyuiop"
    await ui_user.should_see(marker="rule-not_common-todo")
    element(ui_user, "new-password").value = NEW_PASSWORD
    await ui_user.should_see(marker="rule-not_common-ok")
    await ui_user.should_see(marker="rule-not_email-ok")
    ui_user.find(marker="repeat-password").type(NEW_PASSWORD)
    ui_user.find(marker="set-password").click()
    await ui_user.should_see(marker="password-set")
    assert _can_log_in("nina@example.org", NEW_PASSWORD)

    await ui_user.open(path)  # the link was spent
    await ui_user.should_see(marker="invalid-link")


async def test_forgot_password_from_the_login_page_end_to_end(
    ui_user: User, account: Callable[..., str], smtp_server: SMTPServer
) -> None:
    email = account()
    await ui_user.open("/login")
    ui_user.find(marker="forgot-password").click()
    await ui_user.should_see(marker="reset-email")
    ui_user.find(marker="reset-email").type(email)
    ui_user.find(marker="send-reset").click()
    await ui_user.should_see(marker="reset-requested")
    path = _received_link(smtp_server)
    assert path.startswith("/reset-password/")

    await ui_user.open(path)
    ui_user.find(marker="new-password").type("short")
    ui_user.find(marker="repeat-password").type("short")
    ui_user.find(marker="set-password").click()
    await eventually(lambda: bool(element(ui_user, "new-password").error), "the password error is not shown")
    await ui_user.should_not_see(marker="password-set")
    element(ui_user, "new-password").value = NEW_PASSWORD
    element(ui_user, "repeat-password").value = "a-different-phrase"
    ui_user.find(marker="set-password").click()
    await ui_user.should_see("Les deux mots de passe diffèrent.")
    element(ui_user, "repeat-password").value = NEW_PASSWORD
    ui_user.find(marker="set-password").click()
    await ui_user.should_see(marker="password-set")
    assert _can_log_in(email, NEW_PASSWORD)
    assert not _can_log_in(email, PASSWORD)


async def test_unknown_address_gets_the_same_answer_and_no_email(ui_user: User, smtp_server: SMTPServer) -> None:
    await ui_user.open("/forgot-password")
    ui_user.find(marker="reset-email").type("nobody@example.org")
    ui_user.find(marker="send-reset").click()
    await ui_user.should_see(marker="reset-requested")
    assert smtp.send_pending()["sent"] == 0


async def test_an_expired_reset_link_is_refused(
    ui_user: User, account: Callable[..., str], smtp_server: SMTPServer, clock: Callable[..., datetime]
) -> None:
    email = account()
    with unit_of_work() as session:
        accounts.request_password_reset(session, email)
    path = _received_link(smtp_server)
    clock(minutes=31)
    await ui_user.open(path)
    await ui_user.should_see(marker="invalid-link")
    await ui_user.should_see(marker="ask-new-link")
    await ui_user.should_not_see(marker="new-password")


async def test_deactivation_sends_the_open_tab_to_login_at_its_next_action(
    ui_user: User, account: Callable[..., str]
) -> None:
    admin_email = account(role=Role.ADMIN, email="admin@example.org", name="Alice Admin")
    rep_email = account()
    await log_in(ui_user, rep_email, path="/login?redirect_to=/contacts")
    await ui_user.should_see(marker="search")
    with unit_of_work() as session:
        rep = session.exec(select(UserRow).where(UserRow.email == rep_email)).one()
        accounts.deactivate_user(session, actor_for(admin_email), rep.id)
    ui_user.find(marker="search").type("clinique")
    await ui_user.should_see("Se connecter")
    await ui_user.should_see(marker="login")


async def test_admin_deactivates_and_reactivates_from_the_list(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(role=Role.ADMIN, email="admin@example.org"), path="/login?redirect_to=/admin/users")
    rep_email = account(email="rita@example.org", name="Rita Rep")
    await ui_user.should_see(marker="user-search")
    ui_user.find(marker="user-search").type("rita")
    await eventually(
        lambda: [r["email"] for r in table_rows(ui_user, "users-table")] == [rep_email],
        "the search did not narrow the list",
    )
    [row] = table_rows(ui_user, "users-table")
    assert row["manage"] is True
    ui_user.find(marker="users-table").trigger("manage", row["id"])
    await ui_user.should_see(marker="manage-dialog")
    await ui_user.should_not_see(marker="reactivate")
    ui_user.find(marker="deactivate").click()
    ui_user.find(marker="confirm-yes").click()
    await eventually(
        lambda: [r["status"] for r in table_rows(ui_user, "users-table")] == ["deactivated"],
        "the row is not shown deactivated",
    )
    assert not _can_log_in(rep_email, PASSWORD)
    ui_user.find(marker="users-table").trigger("manage", row["id"])
    await ui_user.should_see(marker="reactivate")
    await ui_user.should_not_see(marker="deactivate")
    ui_user.find(marker="reactivate").click()
    await eventually(
        lambda: [r["status"] for r in table_rows(ui_user, "users-table")] == ["active"],
        "the row is not shown active again",
    )
    assert _can_log_in(rep_email, PASSWORD)


async def test_team_admin_sees_their_team_and_manages_only_below_them(ui_user: User) -> None:
    with unit_of_work() as session:
        north, south = make_team(session, "North"), make_team(session, "South")
        make_user(session, role=Role.TEAM_ADMIN, team=north, email="ta@example.org", name="Tara Admin")
        make_user(session, role=Role.TEAM_ADMIN, team=north, email="peer@example.org", name="Paul Peer")
        make_user(session, role=Role.USER, team=north, email="rep@example.org", name="Rita Rep")
        make_user(session, role=Role.USER, team=south, email="far@example.org", name="Far Away")
    await log_in(ui_user, "ta@example.org", path="/login?redirect_to=/admin/users")
    await eventually(lambda: len(table_rows(ui_user, "users-table")) == 3, "the team's users are not listed")
    manageable = {r["email"]: r["manage"] for r in table_rows(ui_user, "users-table")}
    assert manageable == {"ta@example.org": False, "peer@example.org": False, "rep@example.org": True}
    ui_user.find(marker="invite").click()
    await ui_user.should_see(marker="invite-dialog")
    assert set(element(ui_user, "invite-role").options) == {"user", "manager"}
    assert list(element(ui_user, "invite-team").options.values()) == ["North"]


async def test_a_sales_rep_may_not_open_the_page(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(), path="/login?redirect_to=/admin/users")
    await ui_user.should_see("Vous n'êtes pas autorisé à ouvrir cette page.")
    await asyncio.sleep(0.1)
    assert table_rows(ui_user, "users-table") == []


async def test_without_mail_the_admin_gets_the_link_to_pass_on(ui_user: User, account: Callable[..., str]) -> None:
    """No SMTP server (a first install): an invitation or a reset by email reaches nobody, so the
    administrator is given the link, with a button that copies it; the security log says who took it."""
    await log_in(ui_user, account(role=Role.ADMIN, email="ada@example.org"), path="/login?redirect_to=/admin/users")
    await _rows(ui_user)
    ui_user.find(marker="invite").click()
    ui_user.find(marker="invite-email").type("nina@example.org")
    ui_user.find(marker="invite-name").type("Nina Neu")
    ui_user.find(marker="invite-send").click()
    await ui_user.should_see(marker="link-dialog")
    await ui_user.should_see("Aucun e-mail ne peut être envoyé : transmettez vous-même ce lien à nina@example.org.")
    link = str(element(ui_user, "account-link").value)
    assert link_path(link).startswith("/invitation/")
    ui_user.find(marker="copy-link").click()
    await ui_user.should_see("Lien copié.")

    await ui_user.open(link_path(link))
    await ui_user.should_see("Compte : nina@example.org")
    with unit_of_work() as session:
        assert (
            accounts.accept_invitation(session, link_path(link).rsplit("/", 1)[1], NEW_PASSWORD) == "nina@example.org"
        )
    assert _can_log_in("nina@example.org", NEW_PASSWORD)
    with unit_of_work() as session:
        nina = session.exec(select(UserRow).where(UserRow.email == "nina@example.org")).one()
        reset = accounts.copyable_link(session, actor_for("ada@example.org"), nina.id)
        shown = session.exec(select(SecurityEvent).where(SecurityEvent.action == AccountAction.LINK_SHOWN)).all()
    assert "/reset-password/" in reset
    assert [event.email for event in shown] == ["ada@example.org", "ada@example.org"]


def test_with_mail_the_links_go_by_email_only(db: Session, settings_override: Callable[..., None]) -> None:
    settings_override(SMTP_HOST="127.0.0.1")
    admin = make_user(db, role=Role.ADMIN)
    rep = make_user(db)
    with pytest.raises(InvalidTransition):
        accounts.copyable_link(db, actor_of(admin), rep.id)
