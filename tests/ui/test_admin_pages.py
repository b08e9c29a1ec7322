"""/admin/teams, /admin/security-log and the profile's sessions, password and avatar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.testing import User
from sqlmodel import col, select

from crm_app.accounts import auth, passwords
from crm_app.accounts.models import AuthSession, SessionKind
from crm_app.platform import security_log
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role, Team
from crm_app.platform.models.people import User as UserRow
from crm_app.platform.security_log import ClientInfo
from tests.factories import PASSWORD, make_team, make_user
from tests.ui.conftest import element, eventually, log_in, table_rows


def _english(user: User) -> None:
    user.http_client.headers["Accept-Language"] = "en"


def _team(name: str) -> Team | None:
    with unit_of_work() as session:
        return session.exec(select(Team).where(Team.name == name)).first()


def _user(email: str) -> UserRow:
    with unit_of_work() as session:
        return session.exec(select(UserRow).where(UserRow.email == email)).one()


def _actions() -> list[str]:
    with unit_of_work() as session:
        return list(session.exec(select(SecurityEvent.action).order_by(col(SecurityEvent.at))).all())


async def test_admin_creates_and_renames_a_team(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    await log_in(ui_user, account(Role.ADMIN, email="admin@example.org"), path="/login?redirect_to=/admin/teams")
    await ui_user.should_see(marker="teams-table", retries=50)
    ui_user.find(marker="new-team").click()
    ui_user.find(marker="team-name").type("Grand Est")
    ui_user.find(marker="create-team").click()
    await ui_user.should_see(marker="team-title", retries=50)
    assert _team("Grand Est") is not None
    rename = element(ui_user, "rename-input")
    rename.value = "Grand-Est"
    ui_user.find(marker="rename-team").click()
    await eventually(lambda: _team("Grand-Est") is not None, "the team was not renamed")
    await ui_user.should_see("Team renamed.", retries=50)
    assert "team.created" in _actions() and "team.renamed" in _actions()
    # A second team with the same name is refused next to the field.
    await ui_user.open("/admin/teams")
    await ui_user.should_see(marker="teams-table", retries=50)
    await eventually(
        lambda: [r["name"] for r in table_rows(ui_user, "teams-table")] == ["Grand-Est"],
        "the list does not show the team",
    )
    ui_user.find(marker="new-team").click()
    ui_user.find(marker="team-name").type("grand-est")
    ui_user.find(marker="create-team").click()
    await eventually(
        lambda: element(ui_user, "team-name").error == "A team with this name already exists.",
        "the duplicate name was not refused",
    )


async def test_members_managers_and_archiving(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    email = account(Role.ADMIN, email="admin@example.org")
    with unit_of_work() as session:
        team = make_team(session, "Bretagne")
        make_user(session, email="rita@example.org", name="Rita Rep")
        team_id = team.id
    await log_in(ui_user, email, path=f"/login?redirect_to=/admin/teams/{team_id}")
    await ui_user.should_see("This team has no members yet.", retries=50)
    ui_user.find(marker="member-search").type("rita")
    await ui_user.should_see(marker="add-rita@example.org", retries=50)
    ui_user.find(marker="add-rita@example.org").click()
    await ui_user.should_see(marker="manager-rita@example.org", retries=50)
    assert _user("rita@example.org").team_id == team_id
    ui_user.find(marker="manager-rita@example.org").click()
    await eventually(lambda: Role(_user("rita@example.org").role) is Role.MANAGER, "rita did not become manager")
    # Archiving is refused while someone is in the team.
    ui_user.find(marker="archive-team").click()
    await ui_user.should_see("Move this team's active members to another team first.", retries=50)
    ui_user.find(marker="remove-rita@example.org").click()
    await eventually(lambda: _user("rita@example.org").team_id is None, "rita was not removed")
    ui_user.find(marker="archive-team").click()
    await eventually(lambda: _team("Bretagne").is_archived, "not archived")  # type: ignore[union-attr]
    await ui_user.should_see(marker="archived-badge", retries=50)
    assert _team("Bretagne").is_archived  # type: ignore[union-attr]
    assert {"team.member_added", "team.manager_changed", "team.member_removed", "team.archived"} <= set(_actions())


async def test_security_log_filters_and_exports(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    email = account(Role.ADMIN, email="admin@example.org")
    with unit_of_work() as session:
        for address in ("a@example.org", "b@example.org"):
            security_log.record(session, SecurityAction.LOGIN_FAILED, email=address, client=ClientInfo(ip="10.1.1.1"))
        security_log.record(
            session, SecurityAction.TOKEN_REUSE, severity=security_log.Severity.HIGH, email="=cmd|'/c calc'!A1"
        )
    await log_in(ui_user, email, path="/login?redirect_to=/admin/security-log")
    await ui_user.should_see(marker="security-log-table", retries=50)

    def actions() -> list[str]:
        return [row["action"] for row in table_rows(ui_user, "security-log-table")]

    await eventually(lambda: actions().count("Failed login") == 2 and "Login" in actions(), "the log is not shown")
    ui_user.find(marker="filter-severity").click()
    ui_user.find("High").click()
    await eventually(lambda: actions() == ["Token reuse detected"], "the severity filter did nothing")
    ui_user.find(marker="export").click()
    response = await ui_user.download.next(timeout=5)
    lines = response.content.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 2 and "'=cmd" in lines[1]
    ui_user.find(marker="filter-severity").click()
    ui_user.find("All severities").click()
    await eventually(lambda: len(actions()) >= 4, "the severity filter was not cleared")
    element(ui_user, "filter-user").value = "b@example"
    await eventually(lambda: actions() == ["Failed login"], "the user filter did nothing")


async def test_non_admin_sees_the_not_allowed_page(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    await log_in(
        ui_user, account(Role.TEAM_ADMIN, email="ta@example.org"), path="/login?redirect_to=/admin/security-log"
    )
    await ui_user.should_see("You are not allowed to open this page.", retries=50)
    await ui_user.should_not_see(marker="security-log-table")


async def test_pages_are_served_with_the_security_headers(ui_user: User, account: Callable[..., str]) -> None:
    await log_in(ui_user, account(Role.ADMIN, email="admin@example.org"), path="/login?redirect_to=/admin/teams")
    await ui_user.should_see(marker="teams-table", retries=50)
    response = await ui_user.http_client.get("/admin/teams")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline' 'unsafe-eval'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"


def _other_session(email: str, user_agent: str) -> None:
    with unit_of_work() as session:
        auth.open_session(
            session,
            _user_in(session, email),
            kind=SessionKind.WEB,
            client=ClientInfo(ip="192.0.2.7", user_agent=user_agent),
        )


def _user_in(session: Any, email: str) -> UserRow:
    return session.exec(select(UserRow).where(UserRow.email == email)).one()


def _live_sessions(email: str) -> int:
    user_id = _user(email).id
    with unit_of_work() as session:
        return len(
            session.exec(
                select(AuthSession).where(AuthSession.user_id == user_id, col(AuthSession.revoked_at).is_(None))
            ).all()
        )


async def test_profile_lists_sessions_and_signs_out_the_others(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    email = account()
    _other_session(email, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1")
    await log_in(ui_user, email, path="/login?redirect_to=/profile")
    await ui_user.should_see("This session", retries=50)
    await ui_user.should_see("Safari · iPhone", retries=50)
    await ui_user.should_see("192.0.2.7", retries=50)
    assert _live_sessions(email) == 2
    ui_user.find(marker="end-other-sessions").click()
    await eventually(lambda: _live_sessions(email) == 1, "the other session was not ended")
    await ui_user.should_not_see("Safari · iPhone")
    assert "sessions.ended" in _actions()


async def test_profile_changes_the_password(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    email = account()
    _other_session(email, "curl/8.0")
    await log_in(ui_user, email, path="/login?redirect_to=/profile")
    await ui_user.should_see(marker="change-password", retries=50)
    ui_user.find(marker="current-password").type("not-my-password")
    ui_user.find(marker="new-password").type("short")
    await ui_user.should_see("At least 10 characters.")  # the live hint
    ui_user.find(marker="change-password").click()
    await eventually(
        lambda: element(ui_user, "current-password").error == "The current password is not correct.",
        "a wrong current password was accepted",
    )
    element(ui_user, "current-password").value = PASSWORD
    element(ui_user, "new-password").value = "a brand new long passphrase"
    ui_user.find(marker="change-password").click()
    await ui_user.should_see("Your password was changed. Your other sessions were signed out.", retries=50)
    assert passwords.verify_password("a brand new long passphrase", _user(email).password_hash)
    assert _live_sessions(email) == 1  # this browser stays signed in, the other one is out
    assert "password.changed" in _actions()


async def test_avatar_shows_initials_in_a_stable_colour(ui_user: User, account: Callable[..., str]) -> None:
    from components.avatar import PALETTE, avatar_colour, initials

    email = account(name="Jean-Marc Dupont")
    await log_in(ui_user, email, path="/login?redirect_to=/profile")
    await ui_user.should_see(marker="profile-avatar", retries=50)
    colour = avatar_colour(_user(email).id)
    assert colour in PALETTE and avatar_colour(_user(email).id) == colour
    assert initials("Jean-Marc Dupont") == "JM" and initials("") == "?"
    avatars = list(ui_user.find(ui.avatar).elements)
    assert len(avatars) == 1  # the profile card
    menu = element(ui_user, "user-menu")  # the header's: a button that looks like the avatar
    assert isinstance(menu, ui.button) and menu.text == "JM"
    assert all(e._style.get("background-color") == colour for e in (*avatars, menu))
    await ui_user.should_see("JM", retries=50)
