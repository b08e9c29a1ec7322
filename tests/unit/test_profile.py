"""The signed-in user's own profile: phone and time zone, and changing the email address by a link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlmodel import Session, col, select

from crm_app.accounts import administration as accounts
from crm_app.accounts import auth, users
from crm_app.accounts.models import AccountToken, SessionKind, TokenPurpose
from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import NotAuthenticated, ValidationFailed
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.outbox import OutboxMessage
from crm_app.platform.models.people import User
from crm_app.platform.security_log import ClientInfo
from tests.account_links import link_path, text_of, token_of
from tests.factories import PASSWORD, actor_of, make_user
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture

# --- phone and time zone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("01 42 34 56 78", "+33 1 42 34 56 78"),
        ("0590 12 34 56", "+590 590 12 34 56"),  # Guadeloupe, dialled nationally
        ("+49 30 12345678", "+49 30 12345678"),
    ],
)
def test_a_phone_is_stored_in_international_format(db: Session, typed: str, stored: str) -> None:
    user = make_user(db)
    users.update_preferences(db, actor_of(user), phone=typed)
    assert db.get(User, user.id).phone == stored  # type: ignore[union-attr]
    assert users.get_profile(db, actor_of(user)).phone == stored


def test_an_empty_phone_removes_it(db: Session) -> None:
    user = make_user(db)
    users.update_preferences(db, actor_of(user), phone="01 42 34 56 78")
    users.update_preferences(db, actor_of(user), phone="  ")
    assert users.get_profile(db, actor_of(user)).phone is None


def test_an_invalid_phone_and_time_zone_are_refused_next_to_their_fields(db: Session) -> None:
    user = make_user(db)
    with pytest.raises(ValidationFailed) as refused:
        users.update_preferences(db, actor_of(user), phone="12", timezone="Europe/Atlantis")
    assert refused.value.field_errors == {
        "phone": "This phone number is not valid.",
        "timezone": "This time zone is not known.",
    }
    assert db.get(User, user.id).phone is None  # type: ignore[union-attr]


def test_a_time_zone_is_saved_and_shown(db: Session) -> None:
    user = make_user(db)
    users.update_preferences(db, actor_of(user), timezone="America/Cayenne")
    assert users.get_profile(db, actor_of(user)).timezone == "America/Cayenne"


def test_the_time_zone_list_puts_france_first_and_knows_every_zone() -> None:
    zones = users.timezone_choices()
    assert zones[0] == "Europe/Paris"
    assert {"Indian/Reunion", "America/Martinique", "Pacific/Noumea"} <= set(zones[:11])
    assert "Asia/Tokyo" in zones and len(zones) == len(set(zones))


# --- email change --------------------------------------------------------------------------------------


def _actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(SecurityEvent).order_by(col(SecurityEvent.at))).all()]


def test_an_email_change_needs_the_password_and_a_free_valid_address(db: Session) -> None:
    user = make_user(db, email="rep@example.org")
    make_user(db, email="taken@example.org")
    with pytest.raises(ValidationFailed) as refused:
        accounts.request_email_change(db, actor_of(user), new_email="new@example.org", password="wrong")
    assert refused.value.field_errors == {"password": "The current password is not correct."}
    with pytest.raises(ValidationFailed) as refused:
        accounts.request_email_change(db, actor_of(user), new_email="Taken@example.org", password=PASSWORD)
    assert set(refused.value.field_errors) == {"new_email"}
    with pytest.raises(ValidationFailed):
        accounts.request_email_change(db, actor_of(user), new_email="not-an-address", password=PASSWORD)
    assert db.exec(select(OutboxMessage)).first() is None


def test_the_token_is_stored_hashed_with_the_new_address(db: Session) -> None:
    user = make_user(db, email="rep@example.org")
    accounts.request_email_change(db, actor_of(user), new_email=" New@Example.org ", password=PASSWORD)
    message = db.exec(select(OutboxMessage)).one()
    assert "new@example.org" in message.to_addresses[0]
    token = token_of(message.text_body)
    stored = db.exec(select(AccountToken).where(AccountToken.purpose == TokenPurpose.EMAIL_CHANGE.value)).one()
    assert stored.token_hash == accounts.hash_token(token) != token
    assert stored.new_email == "new@example.org"
    assert db.get(User, user.id).email == "rep@example.org"  # type: ignore[union-attr]  # not before the link


def test_an_email_change_link_expires_after_24_hours(db: Session, clock: Callable[..., datetime]) -> None:
    user = make_user(db, email="rep@example.org")
    accounts.request_email_change(db, actor_of(user), new_email="new@example.org", password=PASSWORD)
    token = token_of(db.exec(select(OutboxMessage)).one().text_body)
    clock(hours=24, seconds=1)
    with pytest.raises(ValidationFailed):
        accounts.confirm_email_change(db, token)
    assert db.get(User, user.id).email == "rep@example.org"  # type: ignore[union-attr]


def test_a_link_is_refused_when_the_address_was_taken_meanwhile(db: Session) -> None:
    user = make_user(db, email="rep@example.org")
    accounts.request_email_change(db, actor_of(user), new_email="new@example.org", password=PASSWORD)
    token = token_of(db.exec(select(OutboxMessage)).one().text_body)
    make_user(db, email="new@example.org")
    with pytest.raises(ValidationFailed):
        accounts.confirm_email_change(db, token)
    assert db.get(User, user.id).email == "rep@example.org"  # type: ignore[union-attr]


def test_email_change_by_email_end_to_end(smtp_server: SMTPServer, clean_db: None) -> None:
    with unit_of_work() as session:
        user = make_user(session, email="rep@example.org", name="Rita Rep")
        other = auth.login(session, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB)
        here = auth.login(session, "rep@example.org", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB)
        user_id = user.id
    with unit_of_work() as session:
        actor = auth.resolve_session(session, here.session_id)
        accounts.request_email_change(session, actor, new_email="rita@example.net", password=PASSWORD)
    assert smtp.send_pending()["sent"] == 1
    [confirmation] = smtp_server.messages
    assert confirmation["To"] == "Rita Rep <rita@example.net>"
    path = link_path(text_of(confirmation))
    assert path.startswith("/confirm-email/")
    token = path.rsplit("/", 1)[1]

    with unit_of_work() as session:
        assert accounts.confirm_email_change(session, token, keep_session_id=here.session_id) == "rita@example.net"
    with unit_of_work() as session:
        assert session.get(User, user_id).email == "rita@example.net"  # type: ignore[union-attr]
        with pytest.raises(NotAuthenticated):  # the other session ended
            auth.resolve_session(session, other.session_id)
        assert auth.resolve_session(session, here.session_id).email == "rita@example.net"
        assert {"email.change_requested", "email.changed"} <= set(_actions(session))
        assert auth.login(session, "rita@example.net", PASSWORD, client=ClientInfo(), kind=SessionKind.WEB).succeeded

    assert smtp.send_pending()["sent"] == 1
    notice = smtp_server.messages[-1]
    assert notice["To"] == "Rita Rep <rep@example.org>"
    assert "rita@example.net" in text_of(notice)

    with pytest.raises(ValidationFailed), unit_of_work() as session:  # the link was spent
        accounts.confirm_email_change(session, token)
