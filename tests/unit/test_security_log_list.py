"""Reading the security log: filters, paging in SQL, rights, and the neutralised CSV export."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from crm_app.platform import security_log
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.platform.i18n import use_locale
from crm_app.platform.models.audit import SecurityAction, SecurityEvent, Severity
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.platform.security_log import ClientInfo, SecurityLogQuery
from tests.factories import actor_of, make_team, make_user

PARIS = "Europe/Paris"


@pytest.fixture
def admin(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.ADMIN, email="admin@example.org", name="Ada Admin"))


def _event(
    db: Session,
    action: SecurityAction | str,
    at: datetime,
    *,
    email: str | None = None,
    severity: Severity = Severity.LOW,
    **details: Any,
) -> SecurityEvent:
    event = security_log.record(
        db,
        action,
        severity=severity,
        email=email,
        client=ClientInfo(ip="10.0.0.1", user_agent="Firefox/120"),
        **details,
    )
    event.at = at
    db.flush()
    return event


@pytest.fixture
def events(db: Session) -> None:
    _event(db, SecurityAction.LOGIN_SUCCEEDED, datetime(2026, 3, 1, 8, tzinfo=UTC), email="rita@example.org")
    _event(
        db,
        SecurityAction.LOGIN_FAILED,
        datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        email="rita@example.org",
        severity=Severity.MEDIUM,
    )  # 2 March 00:30 in Paris
    _event(
        db,
        SecurityAction.LOGIN_FAILED,
        datetime(2026, 3, 5, 9, tzinfo=UTC),
        email="bob@example.org",
        severity=Severity.MEDIUM,
    )
    _event(
        db,
        SecurityAction.TOKEN_REUSE,
        datetime(2026, 3, 6, 9, tzinfo=UTC),
        email="bob@example.org",
        severity=Severity.HIGH,
    )


def _actions(db: Session, admin: Actor, **filters: object) -> list[str]:
    query = SecurityLogQuery(timezone=PARIS, **filters)  # type: ignore[arg-type]
    return [
        row.action
        for row in security_log.list_events(db, admin, query, PageRequest(1, 100)).items
        if row.email != admin.email
    ]


def test_newest_first_and_each_filter(db: Session, admin: Actor, events: None) -> None:
    assert _actions(db, admin) == ["token.reuse_detected", "login.failed", "login.failed", "login.succeeded"]
    assert _actions(db, admin, user="RITA") == ["login.failed", "login.succeeded"]
    assert _actions(db, admin, action="login.failed") == ["login.failed", "login.failed"]
    assert _actions(db, admin, severity=Severity.HIGH) == ["token.reuse_detected"]
    assert _actions(db, admin, user="bob", severity=Severity.MEDIUM) == ["login.failed"]


def test_date_range_is_whole_days_in_the_time_zone(db: Session, admin: Actor, events: None) -> None:
    # 23:30 UTC on 1 March is 2 March in Paris: it belongs to the 2nd, not the 1st.
    assert _actions(db, admin, date_from=date(2026, 3, 1), date_to=date(2026, 3, 1)) == ["login.succeeded"]
    assert _actions(db, admin, date_from=date(2026, 3, 2), date_to=date(2026, 3, 5)) == ["login.failed", "login.failed"]
    assert _actions(db, admin, date_from=date(2026, 3, 6)) == ["token.reuse_detected"]
    with pytest.raises(ValidationFailed):
        _actions(db, admin, date_from=date(2026, 3, 6), date_to=date(2026, 3, 1))


def test_paging_happens_in_sql(db: Session, admin: Actor, events: None) -> None:
    query = SecurityLogQuery(user="example.org", action="login.failed", timezone=PARIS)
    first = security_log.list_events(db, admin, query, PageRequest(1, 1))
    second = security_log.list_events(db, admin, query, PageRequest(2, 1))
    assert (first.total, len(first.items), len(second.items)) == (2, 1, 1)
    assert first.items[0].email == "bob@example.org" and second.items[0].email == "rita@example.org"


def test_user_name_comes_from_the_account(db: Session, admin: Actor) -> None:
    rep = make_user(db, name="Rita Rep", email="rita@example.org")
    security_log.record(db, SecurityAction.LOGOUT, user_id=rep.id)
    [row] = security_log.list_events(db, admin, SecurityLogQuery(user="rita rep")).items
    assert (row.user_name, row.action) == ("Rita Rep", "logout")


@pytest.mark.parametrize("role", [Role.USER, Role.MANAGER, Role.TEAM_ADMIN])
def test_only_admins_read_the_log(db: Session, role: Role) -> None:
    actor = actor_of(make_user(db, role=role))
    with pytest.raises(Forbidden):
        security_log.list_events(db, actor, SecurityLogQuery())
    with pytest.raises(Forbidden):
        security_log.export_events(db, actor, SecurityLogQuery())
    with pytest.raises(Forbidden):
        security_log.list_actions(db, actor)


def test_known_and_found_actions_are_offered(db: Session, admin: Actor) -> None:
    security_log.record(db, "plugin.installed")
    actions = security_log.list_actions(db, admin)
    assert "plugin.installed" in actions and "team.created" in actions and "login.failed" in actions
    assert security_log.action_label("plugin.installed") == "plugin.installed"


def test_export_is_neutralised_csv_and_is_itself_logged(db: Session, admin: Actor) -> None:
    _event(
        db,
        SecurityAction.LOGIN_FAILED,
        datetime(2026, 3, 1, 8, tzinfo=UTC),
        email='=HYPERLINK("x")',
        severity=Severity.MEDIUM,
    )
    with use_locale("en"):
        content = security_log.export_events(db, admin, SecurityLogQuery(action="login.failed", timezone=PARIS))
    text = content.decode("utf-8-sig")
    lines = text.strip().split("\r\n")
    assert lines[0].startswith("Date;User;Email;Action;Severity")
    assert len(lines) == 2
    assert "2026-03-01 09:00:00" in lines[1]  # shown in the time zone
    assert ";\"'=HYPERLINK" in lines[1]  # a formula is neutralised (quoted by csv for its own quotes)
    assert "Failed login" in lines[1] and "Medium" in lines[1]
    [export] = db.exec(select(SecurityEvent).where(SecurityEvent.action == SecurityAction.EXPORT.value)).all()
    assert export.details["list"] == "security_log" and export.details["rows"] == 1
    assert export.details["filters"] == {"action": "login.failed"}


def test_details_read_in_words_with_names_not_ids(db: Session, admin: Actor) -> None:
    """The log's details showed JSON with UUIDs; they read in the reader's language, with names."""
    team = make_team(db, "Grand Ouest")
    _event(
        db,
        "user.role_changed",
        datetime(2026, 3, 7, 9, tzinfo=UTC),
        target="rita@example.org",
        role="manager",
        team_id=str(team.id),
    )
    _event(
        db,
        "settings.changed",
        datetime(2026, 3, 8, 9, tzinfo=UTC),
        section="sessions",
        changes={"idle_timeout_minutes": {"old": 0, "new": 30}},
    )
    with use_locale("fr"):
        rows = security_log.list_events(db, admin, SecurityLogQuery(timezone=PARIS)).items
    texts = {row.action: row.details_text for row in rows}
    assert texts["user.role_changed"] == "Compte : rita@example.org; Rôle : Manager; Équipe : Grand Ouest"
    assert str(team.id) not in texts["user.role_changed"]
    assert texts["settings.changed"] == "Section : sessions; Modifications : idle_timeout_minutes 0 → 30"
    with use_locale("fr"):
        exported = security_log.export_events(db, admin, SecurityLogQuery(timezone=PARIS)).decode("utf-8-sig")
    assert "Équipe : Grand Ouest" in exported and str(team.id) not in exported


def test_a_refused_action_and_the_system_read_in_words(db: Session, admin: Actor) -> None:
    """A refusal named its right by code ("note.view") and the set-up's events by an address
    ("system@opex-crm"), in every language."""
    _event(db, "action.refused", datetime(2026, 3, 9, 9, tzinfo=UTC), refused="note.view")
    security_log.record(db, "team.created", email=SYSTEM_ACTOR.email, team="Sud")
    with use_locale("fr"):
        rows = security_log.list_events(db, admin, SecurityLogQuery(timezone=PARIS)).items
    texts = {row.action: row for row in rows}
    assert texts["action.refused"].details_text == "Action refusée : lire une note"
    assert texts["team.created"].user_name == "OPEx CRM"
    with use_locale("en"):
        rows = security_log.list_events(db, admin, SecurityLogQuery(timezone=PARIS)).items
    assert {row.action: row for row in rows}["action.refused"].details_text == "Refused action: read a note"
