"""Logins, lockout and sessions, on the real database."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from crm_app.accounts import auth
from crm_app.accounts.auth import LoginFailure
from crm_app.accounts.models import AuthSession, SessionKind
from crm_app.platform.errors import NotAuthenticated
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.security_log import ClientInfo
from tests.factories import PASSWORD, make_user

CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")


def _login(db: Session, email: str, password: str, ip: str = "203.0.113.7") -> auth.LoginResult:
    return auth.login(db, email, password, client=ClientInfo(ip=ip, user_agent="pytest"), kind=SessionKind.WEB)


def _events(db: Session, action: SecurityAction) -> list[SecurityEvent]:
    return list(db.exec(select(SecurityEvent).where(SecurityEvent.action == action.value)).all())


def test_successful_login_opens_a_session_and_is_logged(db: Session) -> None:
    user = make_user(db, email="Claire.Dupont@Example.org")
    result = _login(db, "  claire.dupont@EXAMPLE.org ", PASSWORD)
    assert result.succeeded and result.actor is not None
    assert result.actor.id == user.id
    stored = db.get(AuthSession, result.session_id)
    assert stored is not None and stored.ip == "203.0.113.7" and stored.kind == SessionKind.WEB
    assert user.last_login_at is not None
    [event] = _events(db, SecurityAction.LOGIN_SUCCEEDED)
    assert event.user_id == user.id and event.ip == "203.0.113.7"


def test_wrong_password_unknown_email_and_inactive_account_get_the_same_answer(db: Session) -> None:
    user = make_user(db)
    inactive = make_user(db)
    inactive.is_active = False
    answers = {
        _login(db, user.email, "wrong password").failure,
        _login(db, "nobody@example.org", PASSWORD).failure,
        _login(db, inactive.email, PASSWORD).failure,
    }
    assert answers == {LoginFailure.INVALID}
    assert len(_events(db, SecurityAction.LOGIN_FAILED)) == 3


def test_five_failures_lock_the_account_even_for_the_right_password(db: Session) -> None:
    user = make_user(db)
    results = [_login(db, user.email, f"wrong {i}").failure for i in range(5)]
    assert results == [LoginFailure.INVALID] * 4 + [LoginFailure.LOCKED]
    assert _login(db, user.email, PASSWORD).failure is LoginFailure.LOCKED
    assert _events(db, SecurityAction.LOGIN_LOCKED)


def test_lockout_gives_no_hint_whether_the_email_exists(db: Session) -> None:
    results = [_login(db, "ghost@example.org", f"wrong {i}").failure for i in range(6)]
    assert results[-1] is LoginFailure.LOCKED


def test_lock_ends_after_fifteen_minutes(db: Session, clock) -> None:
    user = make_user(db)
    for i in range(5):
        _login(db, user.email, f"wrong {i}")
    clock(minutes=14)
    assert _login(db, user.email, PASSWORD).failure is LoginFailure.LOCKED
    clock(minutes=2)
    assert _login(db, user.email, PASSWORD).succeeded


def test_failures_spread_over_more_than_the_window_do_not_lock(db: Session, clock) -> None:
    user = make_user(db)
    for i in range(8):
        _login(db, user.email, f"wrong {i}")
        clock(minutes=4)
    assert _login(db, user.email, PASSWORD).succeeded


def test_a_success_resets_the_count(db: Session) -> None:
    user = make_user(db)
    for i in range(4):
        _login(db, user.email, f"wrong {i}")
    assert _login(db, user.email, PASSWORD).succeeded
    assert _login(db, user.email, "wrong again").failure is LoginFailure.INVALID


def test_one_ip_trying_many_accounts_is_locked(db: Session) -> None:
    emails = [make_user(db).email for _ in range(5)]
    for i in range(20):
        _login(db, emails[i % 5], f"wrong {i}", ip="198.51.100.9")
    victim = make_user(db)
    assert _login(db, victim.email, PASSWORD, ip="198.51.100.9").failure is LoginFailure.LOCKED
    assert _login(db, victim.email, PASSWORD, ip="198.51.100.10").succeeded


def test_a_success_in_between_does_not_reset_the_count_of_an_address(db: Session) -> None:
    """Failures on made-up accounts from one address, with the attacker's own successful login in the
    middle: the address is still locked at the threshold, in a sliding window."""
    own = make_user(db)
    for i in range(19):
        assert _login(db, f"nobody{i}@example.org", "guess", ip="198.51.100.20").failure is LoginFailure.INVALID
    assert _login(db, own.email, PASSWORD, ip="198.51.100.20").succeeded
    assert _login(db, "nobody-else@example.org", "guess", ip="198.51.100.20").failure is LoginFailure.LOCKED
    assert _login(db, own.email, PASSWORD, ip="198.51.100.20").failure is LoginFailure.LOCKED


def test_session_resolves_until_logout(db: Session) -> None:
    user = make_user(db)
    result = _login(db, user.email, PASSWORD)
    actor = auth.resolve_session(db, result.session_id)
    assert actor.id == user.id and actor.session_id == result.session_id
    auth.logout(db, actor, client=CLIENT)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(db, result.session_id)
    assert _events(db, SecurityAction.LOGOUT)


def test_session_expires(db: Session, clock) -> None:
    user = make_user(db)
    result = _login(db, user.email, PASSWORD)
    clock(hours=13)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(db, result.session_id)


def test_remember_me_keeps_the_session_for_thirty_days(db: Session, clock) -> None:
    user = make_user(db)
    result = auth.login(db, user.email, PASSWORD, client=CLIENT, kind=SessionKind.WEB, remember=True)
    clock(days=29)
    assert auth.resolve_session(db, result.session_id).id == user.id
    clock(days=2)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(db, result.session_id)


def test_deactivation_and_revocation_end_every_session(db: Session) -> None:
    user = make_user(db)
    first, second = _login(db, user.email, PASSWORD), _login(db, user.email, PASSWORD)
    assert auth.revoke_all_sessions(db, user.id) == 2
    for result in (first, second):
        with pytest.raises(NotAuthenticated):
            auth.resolve_session(db, result.session_id)
    third = _login(db, user.email, PASSWORD)
    user.is_active = False
    db.flush()
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(db, third.session_id)


@pytest.mark.parametrize("session_id", [None, "", "not-a-uuid", "00000000-0000-0000-0000-000000000001"])
def test_unknown_session_ids_are_not_authenticated(db: Session, session_id: str | None) -> None:
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(db, session_id)


def test_housekeeping_removes_long_expired_sessions(db: Session, clock) -> None:
    user = make_user(db)
    old = _login(db, user.email, PASSWORD)
    clock(days=45)
    recent = _login(db, user.email, PASSWORD)
    assert auth.purge_expired(db) >= 1
    db.expire_all()
    assert db.get(AuthSession, old.session_id) is None
    assert db.get(AuthSession, recent.session_id) is not None
