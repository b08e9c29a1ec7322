"""Team administration: create, rename, archive, members and managers; rights and the security log."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from crm_app.accounts import teams
from crm_app.platform.errors import Conflict, Forbidden, ValidationFailed
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import Actor
from tests.factories import actor_of, make_team, make_user


@pytest.fixture
def admin(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.ADMIN, email="admin@example.org", name="Ada Admin"))


def _logged(db: Session, action: SecurityAction) -> list[SecurityEvent]:
    return list(
        db.exec(select(SecurityEvent).where(SecurityEvent.action == action.value).order_by(col(SecurityEvent.at))).all()
    )


def test_admin_creates_a_team_and_it_is_logged(db: Session, admin: Actor) -> None:
    team = teams.create_team(db, admin, "  Sud   Est ")
    assert team.name == "Sud Est"
    [event] = _logged(db, SecurityAction.TEAM_CREATED)
    assert event.user_id == admin.id
    assert event.details["team"] == "Sud Est"


def test_team_names_are_unique_ignoring_case(db: Session, admin: Actor) -> None:
    teams.create_team(db, admin, "Nord")
    with pytest.raises(ValidationFailed) as error:
        teams.create_team(db, admin, "NORD")
    assert "name" in error.value.field_errors
    with pytest.raises(ValidationFailed):
        teams.create_team(db, admin, "   ")


@pytest.mark.parametrize("role", [Role.USER, Role.MANAGER, Role.TEAM_ADMIN])
def test_only_admins_administer_teams(db: Session, role: Role) -> None:
    team = make_team(db, "Ouest")
    actor = actor_of(make_user(db, role=role))
    for attempt in (
        lambda: teams.create_team(db, actor, "Est"),
        lambda: teams.rename_team(db, actor, team.id, "Ouest 2"),
        lambda: teams.set_archived(db, actor, team.id, True),
        lambda: teams.list_teams(db, actor),
        lambda: teams.list_members(db, actor, team.id),
    ):
        with pytest.raises(Forbidden):
            attempt()


def test_rename_checks_the_version_and_logs_old_and_new(db: Session, admin: Actor) -> None:
    team = teams.create_team(db, admin, "Alpes")
    renamed = teams.rename_team(db, admin, team.id, "Alpes du Nord", expected_version=1)
    assert renamed.version == 2
    with pytest.raises(Conflict):
        teams.rename_team(db, admin, team.id, "Alpes du Sud", expected_version=1)
    [event] = _logged(db, SecurityAction.TEAM_RENAMED)
    assert (event.details["old"], event.details["new"]) == ("Alpes", "Alpes du Nord")


def test_a_team_with_active_members_cannot_be_archived(db: Session, admin: Actor) -> None:
    team = teams.create_team(db, admin, "Centre")
    member = make_user(db, team=team)
    with pytest.raises(ValidationFailed):
        teams.set_archived(db, admin, team.id, True)
    teams.remove_member(db, admin, team.id, member.id)
    archived = teams.set_archived(db, admin, team.id, True)
    assert archived.is_archived
    assert teams.list_teams(db, admin).total == 0
    assert [row.name for row in teams.list_teams(db, admin, include_archived=True).items] == ["Centre"]
    with pytest.raises(ValidationFailed):
        teams.add_member(db, admin, team.id, member.id)  # nobody joins an archived team
    teams.set_archived(db, admin, team.id, False)
    assert [
        e.action for e in _logged(db, SecurityAction.TEAM_ARCHIVED) + _logged(db, SecurityAction.TEAM_RESTORED)
    ] == ["team.archived", "team.restored"]


def test_adding_a_member_moves_them_from_their_previous_team(db: Session, admin: Actor) -> None:
    first, second = teams.create_team(db, admin, "Un"), teams.create_team(db, admin, "Deux")
    member = make_user(db, team=first, name="Marc Martin")
    teams.add_member(db, admin, second.id, member.id)
    assert db.get(User, member.id).team_id == second.id  # type: ignore[union-attr]
    assert teams.list_members(db, admin, first.id) == []
    assert [m.full_name for m in teams.list_members(db, admin, second.id)] == ["Marc Martin"]
    [event] = _logged(db, SecurityAction.TEAM_MEMBER_ADDED)
    assert event.details["previous_team_id"] == str(first.id)


def test_making_a_member_manager_changes_their_role_and_counts(db: Session, admin: Actor) -> None:
    team = teams.create_team(db, admin, "Rhône")
    rep = make_user(db, team=team, name="Rita Rep")
    make_user(db, team=team, name="Bob Rep")
    row = teams.set_manager(db, admin, team.id, rep.id, True)
    assert row.role is Role.MANAGER and row.is_manager
    listed = teams.list_teams(db, admin).items[0]
    assert (listed.member_count, listed.manager_count) == (2, 1)
    assert teams.list_members(db, admin, team.id)[0].full_name == "Rita Rep"  # managers first
    teams.set_manager(db, admin, team.id, rep.id, False)
    assert Role(db.get(User, rep.id).role) is Role.USER  # type: ignore[union-attr]
    assert len(_logged(db, SecurityAction.TEAM_MANAGER_CHANGED)) == 2


def test_team_admins_role_is_changed_on_the_users_page_only(db: Session, admin: Actor) -> None:
    team = teams.create_team(db, admin, "Loire")
    team_admin = make_user(db, team=team, role=Role.TEAM_ADMIN)
    with pytest.raises(ValidationFailed):
        teams.set_manager(db, admin, team.id, team_admin.id, False)
    outsider = make_user(db)
    with pytest.raises(ValidationFailed):
        teams.set_manager(db, admin, team.id, outsider.id, True)


def test_an_admin_cannot_move_a_super_admin(db: Session, admin: Actor) -> None:
    team = teams.create_team(db, admin, "Siège")
    boss = make_user(db, role=Role.SUPER_ADMIN)
    with pytest.raises(Forbidden):
        teams.add_member(db, admin, team.id, boss.id)


def test_candidates_are_active_users_outside_the_team(db: Session, admin: Actor) -> None:
    team = teams.create_team(db, admin, "Bretagne")
    make_user(db, team=team, name="Anne Dedans", email="anne@example.org")
    make_user(db, name="Anne Dehors", email="anne.d@example.org")
    found = teams.find_candidates(db, admin, team.id, "anne")
    assert [c.full_name for c in found] == ["Anne Dehors"]


def test_list_is_paged_and_searched_in_sql(db: Session, admin: Actor) -> None:
    from crm_app.platform.paging import PageRequest

    for index in range(7):
        teams.create_team(db, admin, f"Équipe {index}")
    teams.create_team(db, admin, "Autre")
    page = teams.list_teams(db, admin, q="équipe", request=PageRequest(2, 5))
    assert page.total == 7
    assert [row.name for row in page.items] == ["Équipe 5", "Équipe 6"]
