"""Settings changed at run time: validation per field, versions, the security log with old and new
values, the cache, the SMTP overrides and the test email, sessions and retention applied."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from crm_app.accounts import auth
from crm_app.accounts.models import AuthSession, SessionKind
from crm_app.operations import migrate
from crm_app.platform import retention, smtp
from crm_app.platform import settings as app_settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Conflict, Forbidden, NotAuthenticated, ValidationFailed
from crm_app.platform.models.audit import SecurityEvent, Severity
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.platform.security_log import ClientInfo
from tests.conftest import TEST_SELLER
from tests.factories import actor_of, make_user
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture


@pytest.fixture
def boss(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.SUPER_ADMIN, email="boss@example.org", name="Sam Super"))


def _changes(db: Session) -> list[SecurityEvent]:
    return list(
        db.exec(
            select(SecurityEvent)
            .where(SecurityEvent.action == app_settings.ACTION_CHANGED)
            .order_by(col(SecurityEvent.at))
        ).all()
    )


@pytest.mark.parametrize("role", [Role.USER, Role.MANAGER, Role.TEAM_ADMIN, Role.ADMIN])
def test_only_super_admins_see_and_change_settings(db: Session, role: Role) -> None:
    actor = actor_of(make_user(db, role=role))
    if role is Role.ADMIN:  # administrators see the sales documents' sections only
        assert set(app_settings.get_settings_view(db, actor).sections) == {
            "documents",
            "branding",
            "templates",
            "reminders",
        }
    else:
        with pytest.raises(Forbidden):
            app_settings.get_settings_view(db, actor)
    with pytest.raises(Forbidden):
        app_settings.update_section(db, actor, "organisation", {"name": "X"})
    with pytest.raises(Forbidden):
        smtp.send_test_email(db, actor, "x@example.org")


def test_defaults_come_from_the_environment(db: Session, boss: Actor) -> None:
    view = app_settings.get_settings_view(db, boss)
    assert list(view.sections) == app_settings.section_names()
    organisation = view.sections["organisation"]
    assert organisation.version == 0
    assert organisation.values["timezone"] == "Europe/Paris"
    assert view.sections["modules"].values == {"tasks": True, "meetings": True, "notes": True, "calls": True}
    assert view.sections["retention"].values == {
        "security_log_low_days": 90,
        "security_log_high_days": 365,
        "notifications_days": 180,
    }
    assert view.sections["email"].values["smtp_password"] == "not set"


def test_each_invalid_field_is_named(db: Session, boss: Actor) -> None:
    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(
            db, boss, "organisation", {"name": " ", "default_language": "it", "timezone": "Mars/Olympus"}
        )
    assert set(error.value.field_errors) == {"name", "default_language", "timezone"}
    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(db, boss, "sessions", {"lifetime_minutes": "60", "idle_timeout_minutes": "90"})
    assert set(error.value.field_errors) == {"idle_timeout_minutes"}
    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(
            db, boss, "email", {"smtp_port": "99999", "smtp_from": "not an address", "smtp_host": "bad host"}
        )
    assert set(error.value.field_errors) == {"smtp_port", "smtp_from", "smtp_host"}
    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(db, boss, "retention", {"security_log_low_days": 400})
    assert set(error.value.field_errors) == {"security_log_high_days"}
    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(db, boss, "modules", {"quotes": False})
    assert set(error.value.field_errors) == {"quotes"}


def test_a_change_is_logged_with_old_and_new_values_and_checks_the_version(db: Session, boss: Actor) -> None:
    saved = app_settings.update_section(
        db,
        boss,
        "organisation",
        {"name": "Clinique Lumière", "timezone": "America/Montreal"},
        expected_version=0,
        client=ClientInfo(ip="10.0.0.1"),
    )
    assert (saved.version, saved.values["name"], saved.updated_by_name) == (1, "Clinique Lumière", "Sam Super")
    [event] = _changes(db)
    assert event.user_id == boss.id and event.severity == Severity.MEDIUM and event.ip == "10.0.0.1"
    assert event.details["section"] == "organisation"
    assert event.details["changes"] == {
        "name": {"old": "OPEx CRM", "new": "Clinique Lumière"},
        "timezone": {"old": "Europe/Paris", "new": "America/Montreal"},
    }
    with pytest.raises(Conflict) as conflict:
        app_settings.update_section(db, boss, "organisation", {"name": "Autre"}, expected_version=0)
    assert conflict.value.changed_by == "Sam Super"
    unchanged = app_settings.update_section(db, boss, "organisation", {"name": "Clinique Lumière"}, expected_version=1)
    assert unchanged.version == 1 and len(_changes(db)) == 1  # nothing changed: nothing logged


def test_the_smtp_password_is_never_shown_nor_logged(db: Session, boss: Actor) -> None:
    saved = app_settings.update_section(
        db, boss, "email", {"smtp_host": "mail.example.org", "smtp_password": "s3cret-pass"}
    )
    assert saved.values["smtp_password"] == "set" and saved.values["smtp_host"] == "mail.example.org"
    assert set(saved.overridden) == {"smtp_host", "smtp_password"}
    assert saved.environment["smtp_host"] == ""
    [event] = _changes(db)
    assert event.details["changes"]["smtp_password"] == {"old": "not set", "new": "set"}
    assert "s3cret-pass" not in str(event.details)
    assert app_settings.smtp_settings(db).smtp_password == "s3cret-pass"
    back = app_settings.update_section(db, boss, "email", {name: None for name in app_settings.SMTP_FIELDS})
    assert back.overridden == () and back.values["smtp_host"] == "" and back.values["smtp_password"] == "not set"


def test_effective_values_are_cached_and_forgotten_on_commit(clean_db: None) -> None:
    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.SUPER_ADMIN, email="boss@example.org"))
    assert app_settings.is_module_enabled("tasks")
    with unit_of_work() as session:
        app_settings.update_section(session, actor, "modules", {"tasks": False})
        assert not app_settings.is_module_enabled("tasks", session)  # its own change, before the commit
    assert not app_settings.is_module_enabled("tasks")  # the commit cleared the cache at once
    assert app_settings.disabled_modules() == {"tasks"}
    assert app_settings.module_of_path("/api/tasks/123") == "tasks"
    assert app_settings.module_of_path("/tasks") == "tasks"
    assert app_settings.module_of_path("/institutions") is None


def test_the_cache_holds_each_database_apart(tmp_path: Path, settings_override: Callable[..., None]) -> None:
    """A process that opens a second database (a test on SQLite, the CLI pointed elsewhere) reads that
    database's settings, not the company identity cached from the first one."""
    seller = TEST_SELLER["legal_name"]
    assert app_settings.section_values("branding")["legal_name"] == seller  # now cached
    settings_override(database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    migrate.upgrade()
    assert app_settings.section_values("branding")["legal_name"] == ""  # this database has none


def test_session_lifetime_and_idle_timeout_apply(db: Session, boss: Actor, clock: Callable[..., object]) -> None:
    app_settings.update_section(db, boss, "sessions", {"lifetime_minutes": 120, "idle_timeout_minutes": 10})
    user = make_user(db, email="rep@example.org")
    opened = auth.open_session(db, user, kind=SessionKind.WEB, client=ClientInfo())
    assert opened.expires_at - opened.created_at == timedelta(minutes=120)
    clock(minutes=9)
    auth.resolve_session(db, opened.id)  # still active: refreshes last seen
    clock(minutes=9)
    auth.resolve_session(db, opened.id)
    clock(minutes=11)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(db, opened.id)
    remembered = auth.open_session(db, user, kind=SessionKind.WEB, client=ClientInfo(), remember=True)
    clock(minutes=30)
    assert auth.resolve_session(db, remembered.id).email == "rep@example.org"
    assert db.get(AuthSession, remembered.id) is not None


def test_retention_reads_the_settings(db: Session, boss: Actor, clock: Callable[..., object]) -> None:
    from crm_app.platform import security_log

    app_settings.update_section(db, boss, "retention", {"security_log_low_days": 10, "security_log_high_days": 20})
    security_log.record(db, "test.low", severity=Severity.LOW)
    security_log.record(db, "test.high", severity=Severity.HIGH)
    db.flush()
    clock(days=15)
    retention.apply_retention(db)
    left = set(db.exec(select(SecurityEvent.action).where(col(SecurityEvent.action).like("test.%"))).all())
    assert left == {"test.high"}
    clock(days=10)
    retention.apply_retention(db)
    assert not db.exec(select(SecurityEvent.action).where(col(SecurityEvent.action).like("test.%"))).all()


def test_test_email_arrives_and_reports_the_server_answer(db: Session, boss: Actor, smtp_server: SMTPServer) -> None:
    result = smtp.send_test_email(db, boss, "it@example.org")
    assert result.ok, result.answer
    assert result.answer.startswith("250") and "accepted" in result.answer
    [message] = smtp_server.messages
    assert message["To"] == "it@example.org" and "test email" in message["Subject"]
    smtp_server.refused.add("nobody@example.org")
    refused = smtp.send_test_email(db, boss, "nobody@example.org")
    assert not refused.ok and "550" in refused.answer and "No such user here" in refused.answer
    smtp_server.stop()
    down = smtp.send_test_email(db, boss, "it@example.org")
    assert not down.ok and ("Connection refused" in down.answer or "ConnectionRefusedError" in down.answer), down.answer
    with pytest.raises(ValidationFailed) as error:
        smtp.send_test_email(db, boss, "not-an-address")
    assert set(error.value.field_errors) == {"to"}


def test_test_email_uses_the_values_set_here(
    db: Session, boss: Actor, smtp_server: SMTPServer, settings_override: Callable[..., None]
) -> None:
    settings_override(smtp_host="", smtp_port="25")
    with pytest.raises(ValidationFailed):
        smtp.send_test_email(db, boss, "it@example.org")
    app_settings.update_section(
        db,
        boss,
        "email",
        {"smtp_host": smtp_server.host, "smtp_port": smtp_server.port, "smtp_from": "Clinique <crm@clinique.example>"},
    )
    result = smtp.send_test_email(db, boss, "it@example.org")
    assert result.ok, result.answer
    assert smtp_server.received[-1].mail_from == "crm@clinique.example"
