"""Invitations, password resets, roles and deactivation (services on the real database)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlmodel import Session, col, select

from crm_app.accounts import administration as accounts
from crm_app.accounts import auth, passwords, users
from crm_app.accounts.administration import UserStatus
from crm_app.accounts.models import AccountToken, SessionKind, TokenPurpose
from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Forbidden, InvalidTransition, NotAuthenticated, ValidationFailed
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.outbox import OutboxMessage
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.platform.security_log import ClientInfo
from tests.account_links import text_of, token_of
from tests.factories import PASSWORD, actor_of, make_team, make_user
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture

NEW_PASSWORD = "violet-tractor-sunrise"


def _queued_token(session: Session, email: str) -> str:
    message = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.created_at).desc())).first()
    assert message is not None and email in message.to_addresses[0]
    return token_of(message.text_body)


def _actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(SecurityEvent).order_by(col(SecurityEvent.at))).all()]


# --- password rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("short1!", "At least 10 characters."),
        ("claire-dupont-2026", "Must not contain the email address."),
        ("azertyuiop", "Must not be a commonly used password."),
        ("Password2024!", "Must not be a commonly used password."),
        ("QWERTYUIOP", "Must not be a commonly used password."),
    ],
)
def test_password_rules_refuse_weak_passwords(password: str, broken: str) -> None:
    assert broken in passwords.password_problems(password, "claire@example.org")


def test_a_long_uncommon_password_follows_every_rule() -> None:
    assert passwords.password_problems("violet-tractor-sunrise", "claire@example.org") == []
    assert all(passwords.password_checklist("violet-tractor-sunrise", "claire@example.org").values())


def test_the_shipped_common_password_list_has_hundreds_of_entries() -> None:
    assert len(passwords.common_passwords()) >= 300


# --- invitations ---------------------------------------------------------------------------------------


def test_invitation_creates_an_inactive_account_and_queues_a_link(db: Session) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    invited = accounts.invite_user(db, admin, email="Nina@Example.org", full_name="Nina Neu", role=Role.USER)
    assert accounts.status_of(invited) is UserStatus.INVITED
    token = _queued_token(db, "nina@example.org")
    stored = db.exec(select(AccountToken).where(AccountToken.user_id == invited.id)).one()
    assert stored.token_hash == accounts.hash_token(token) and token not in stored.token_hash
    assert TokenPurpose(stored.purpose) is TokenPurpose.INVITATION
    assert "user.invited" in _actions(db)
    # The invited person cannot log in before choosing a password.
    assert not auth.login(db, "nina@example.org", "", client=ClientInfo(), kind=SessionKind.WEB).succeeded


def test_accepting_an_invitation_sets_the_password_once(db: Session) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    accounts.invite_user(db, admin, email="nina@example.org", full_name="Nina Neu", role=Role.USER)
    token = _queued_token(db, "nina@example.org")
    with pytest.raises(ValidationFailed) as weak:
        accounts.accept_invitation(db, token, "nina-password")
    assert weak.value.field_errors == {"password": "Must not contain the email address."}
    assert accounts.accept_invitation(db, token, NEW_PASSWORD) == "nina@example.org"
    assert auth.login(db, "nina@example.org", NEW_PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded
    with pytest.raises(ValidationFailed) as reused:
        accounts.accept_invitation(db, token, "another-long-phrase")
    assert reused.value.field_errors == {"token": accounts.INVALID_LINK}


def test_an_invitation_link_expires_after_72_hours(db: Session, clock: Callable[..., datetime]) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    accounts.invite_user(db, admin, email="nina@example.org", full_name="Nina Neu", role=Role.USER)
    token = _queued_token(db, "nina@example.org")
    clock(hours=71)
    accounts.check_token(db, token, TokenPurpose.INVITATION)
    clock(hours=1, seconds=1)
    with pytest.raises(ValidationFailed):
        accounts.accept_invitation(db, token, NEW_PASSWORD)


def test_resending_replaces_the_link_and_revoking_removes_the_account(db: Session) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    invited = accounts.invite_user(db, admin, email="nina@example.org", full_name="Nina Neu", role=Role.USER)
    first = _queued_token(db, "nina@example.org")
    accounts.resend_invitation(db, admin, invited.id)
    second = _queued_token(db, "nina@example.org")
    assert first != second
    with pytest.raises(ValidationFailed):
        accounts.check_token(db, first, TokenPurpose.INVITATION)
    accounts.revoke_invitation(db, admin, invited.id)
    assert db.exec(select(User).where(User.email == "nina@example.org")).first() is None
    with pytest.raises(ValidationFailed):
        accounts.accept_invitation(db, second, NEW_PASSWORD)
    assert {"user.invitation_resent", "user.invitation_revoked"} <= set(_actions(db))


def test_nobody_invites_above_their_own_rights(db: Session) -> None:
    team = make_team(db)
    team_admin = actor_of(make_user(db, role=Role.TEAM_ADMIN, team=team))
    with pytest.raises(Forbidden):
        accounts.invite_user(
            db, team_admin, email="boss@example.org", full_name="Boss", role=Role.ADMIN, team_id=team.id
        )
    with pytest.raises(Forbidden):
        accounts.invite_user(
            db, team_admin, email="peer@example.org", full_name="Peer", role=Role.TEAM_ADMIN, team_id=team.id
        )
    manager = accounts.invite_user(
        db, team_admin, email="m@example.org", full_name="Max Manager", role=Role.MANAGER, team_id=team.id
    )
    assert Role(manager.role) is Role.MANAGER
    with pytest.raises(Forbidden):
        accounts.invite_user(
            db,
            actor_of(make_user(db, role=Role.MANAGER, team=team)),
            email="x@example.org",
            full_name="X",
            role=Role.USER,
            team_id=team.id,
        )


def test_a_team_admin_administers_only_their_own_team(db: Session) -> None:
    mine, other = make_team(db, "Mine"), make_team(db, "Other")
    team_admin = actor_of(make_user(db, role=Role.TEAM_ADMIN, team=mine))
    outsider = make_user(db, role=Role.USER, team=other)
    no_team = make_user(db, role=Role.USER)
    for target in (outsider, no_team):
        with pytest.raises(Forbidden):
            accounts.deactivate_user(db, team_admin, target.id)
        with pytest.raises(Forbidden):
            accounts.send_reset_link(db, team_admin, target.id)
    with pytest.raises(Forbidden):
        accounts.invite_user(db, team_admin, email="x@example.org", full_name="X", role=Role.USER, team_id=other.id)
    with pytest.raises(Forbidden):
        accounts.invite_user(db, team_admin, email="y@example.org", full_name="Y", role=Role.USER)
    member = make_user(db, role=Role.USER, team=mine)
    with pytest.raises(Forbidden):  # moving a member out of the team
        accounts.change_role_and_team(db, team_admin, member.id, team_id=other.id, change_team=True)
    accounts.change_role_and_team(db, team_admin, member.id, role=Role.MANAGER)
    listed = accounts.list_users(db, team_admin)
    assert {row.email for row in listed.items} == {member.email, users.get_user(db, team_admin.id).email}


def test_role_changes_are_logged_with_old_and_new_values(db: Session) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    team = make_team(db)
    rep = make_user(db, role=Role.USER)
    accounts.change_role_and_team(db, admin, rep.id, role=Role.MANAGER, team_id=team.id, change_team=True)
    event = db.exec(select(SecurityEvent).where(SecurityEvent.action == "user.role_changed")).one()
    assert event.details["changes"]["role"] == {"old": "user", "new": "manager"}
    assert event.details["changes"]["team_id"]["new"] == str(team.id)
    with pytest.raises(Forbidden):  # an admin does not make a super admin
        accounts.change_role_and_team(db, admin, rep.id, role=Role.SUPER_ADMIN)
    with pytest.raises(Forbidden):  # nor changes their own account
        accounts.change_role_and_team(db, admin, admin.id, role=Role.USER)


# --- deactivation --------------------------------------------------------------------------------------


def test_deactivation_ends_every_session_and_token_at_once(db: Session) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    rep = make_user(db, role=Role.USER, email="rep@example.org")
    web = auth.login(db, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB)
    accounts.send_reset_link(db, admin, rep.id)
    reset_token = _queued_token(db, "rep@example.org")
    accounts.deactivate_user(db, admin, rep.id)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(db, web.session_id)
    with pytest.raises(ValidationFailed):
        accounts.reset_password(db, reset_token, NEW_PASSWORD)
    assert not auth.login(db, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded
    assert accounts.get_user_row(db, admin, rep.id).status is UserStatus.DEACTIVATED
    with pytest.raises(InvalidTransition):
        accounts.deactivate_user(db, admin, rep.id)
    accounts.reactivate_user(db, admin, rep.id)
    assert auth.login(db, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded
    assert {"user.deactivated", "user.reactivated", "password.reset_link_sent"} <= set(_actions(db))


# --- password reset ------------------------------------------------------------------------------------


def test_reset_request_queues_mail_only_for_an_existing_account(db: Session) -> None:
    make_user(db, email="rep@example.org")
    accounts.request_password_reset(db, "nobody@example.org")
    assert db.exec(select(OutboxMessage)).first() is None
    accounts.request_password_reset(db, " REP@example.org ")
    accounts.request_password_reset(db, "rep@example.org")  # within a minute: no second email
    assert len(db.exec(select(OutboxMessage)).all()) == 1


def test_reset_link_expires_after_30_minutes(db: Session, clock: Callable[..., datetime]) -> None:
    make_user(db, email="rep@example.org")
    accounts.request_password_reset(db, "rep@example.org")
    token = _queued_token(db, "rep@example.org")
    clock(minutes=30, seconds=1)
    with pytest.raises(ValidationFailed):
        accounts.reset_password(db, token, NEW_PASSWORD)


def test_reset_by_email_end_to_end(smtp_server: SMTPServer, clean_db: None) -> None:
    with unit_of_work() as session:
        make_user(session, email="rep@example.org", name="Rita Rep")
        web = auth.login(session, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB)
    with unit_of_work() as session:
        accounts.request_password_reset(session, "rep@example.org")
    assert smtp.send_pending()["sent"] == 1
    [message] = smtp_server.messages
    assert message["To"] == "Rita Rep <rep@example.org>"
    token = token_of(text_of(message))
    with unit_of_work() as session:
        accounts.reset_password(session, token, NEW_PASSWORD)
    with unit_of_work() as session:
        with pytest.raises(NotAuthenticated):  # the reset ended the open session
            auth.resolve_session(session, web.session_id)
        assert auth.login(session, "rep@example.org", NEW_PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded
    with pytest.raises(ValidationFailed), unit_of_work() as session:
        accounts.reset_password(session, token, "yet-another-phrase")


def test_invitation_by_email_end_to_end(smtp_server: SMTPServer, clean_db: None) -> None:
    with unit_of_work() as session:
        admin = actor_of(make_user(session, role=Role.ADMIN, name="Alice Admin"))
        accounts.invite_user(session, admin, email="nina@example.org", full_name="Nina Neu", role=Role.USER)
    assert smtp.send_pending()["sent"] == 1
    [message] = smtp_server.messages
    body = text_of(message)
    assert "Alice Admin" in body and "/invitation/" in body
    with unit_of_work() as session:
        accounts.accept_invitation(session, token_of(body), NEW_PASSWORD)
    with unit_of_work() as session:
        assert auth.login(
            session, "nina@example.org", NEW_PASSWORD, client=ClientInfo(), kind=SessionKind.WEB
        ).succeeded
        assert "user.invitation_accepted" in _actions(session)


def test_system_actor_may_invite_without_a_team(db: Session) -> None:
    invited = accounts.invite_user(db, SYSTEM_ACTOR, email="ops@example.org", full_name="Ops", role=Role.ADMIN)
    assert invited.team_id is None
