"""The central permission mechanism against DOMAIN.md's role table."""

from __future__ import annotations

import ast
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from crm_app.accounts import users
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.platform.models.audit import SecurityAction, SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import POLICY, RIGHT_LABELS, Actor, Scope, authorize, can, can_grant_role, scope_for
from crm_app.platform.security_log import log_refusal
from tests.factories import actor_of, make_team, make_user

TEAM_A, TEAM_B = uuid.uuid4(), uuid.uuid4()


def _actor(role: Role, team: uuid.UUID | None = TEAM_A) -> Actor:
    return Actor(id=uuid.uuid4(), email=f"{role}@example.org", full_name=role.value, role=role, team_id=team)


@dataclass
class Record:
    assigned_user_id: uuid.UUID | None = None
    created_by: uuid.UUID | None = None
    team_id: uuid.UUID | None = None


def test_every_action_names_every_role() -> None:
    for action, rule in POLICY.items():
        assert set(rule) == set(Role), action


def test_sales_rep_edits_own_or_unassigned_institutions_only() -> None:
    rep = _actor(Role.USER)
    assert can(rep, "institution.view", Record(assigned_user_id=uuid.uuid4()))
    assert can(rep, "institution.edit", Record(assigned_user_id=rep.id))
    assert can(rep, "institution.edit", Record(created_by=rep.id, assigned_user_id=uuid.uuid4()))
    assert can(rep, "institution.edit", Record(assigned_user_id=None))
    assert not can(rep, "institution.edit", Record(assigned_user_id=uuid.uuid4(), team_id=TEAM_A))
    assert not can(rep, "institution.import")


def test_sales_rep_sees_only_own_tasks_and_documents() -> None:
    rep = _actor(Role.USER)
    assert can(rep, "record.view", Record(assigned_user_id=rep.id))
    assert not can(rep, "record.view", Record(assigned_user_id=uuid.uuid4(), team_id=TEAM_A))
    assert not can(rep, "record.view", Record(assigned_user_id=None))


@pytest.mark.parametrize("role", [Role.MANAGER, Role.TEAM_ADMIN])
def test_managers_act_within_their_team(role: Role) -> None:
    manager = _actor(role)
    assert can(manager, "record.edit", Record(assigned_user_id=uuid.uuid4(), team_id=TEAM_A))
    assert not can(manager, "record.edit", Record(assigned_user_id=uuid.uuid4(), team_id=TEAM_B))
    assert can(manager, "institution.import")


def test_manager_without_a_team_reaches_only_own_records() -> None:
    manager = _actor(Role.MANAGER, team=None)
    assert not can(manager, "record.edit", Record(assigned_user_id=uuid.uuid4(), team_id=None))
    assert can(manager, "record.edit", Record(assigned_user_id=manager.id))


def test_only_team_admins_and_above_reassign_and_administer_users() -> None:
    assert not can(_actor(Role.MANAGER), "institution.reassign", Record(team_id=TEAM_A))
    assert can(_actor(Role.TEAM_ADMIN), "institution.reassign", Record(team_id=TEAM_A))
    assert not can(_actor(Role.TEAM_ADMIN), "user.administer", Record(team_id=TEAM_B))
    assert can(_actor(Role.ADMIN), "user.administer", Record(team_id=TEAM_B))


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.USER, False),
        (Role.MANAGER, False),
        (Role.TEAM_ADMIN, False),
        (Role.ADMIN, False),
        (Role.SUPER_ADMIN, True),
    ],
)
def test_system_settings_are_for_super_admins(role: Role, allowed: bool) -> None:
    assert can(_actor(role), "settings.system") is allowed
    assert can(_actor(role), "catalog.edit") is (role in {Role.ADMIN, Role.SUPER_ADMIN})


@pytest.mark.parametrize(
    ("granter", "ceiling"),
    [
        (Role.USER, None),
        (Role.MANAGER, None),
        (Role.TEAM_ADMIN, Role.MANAGER),
        (Role.ADMIN, Role.ADMIN),
        (Role.SUPER_ADMIN, Role.SUPER_ADMIN),
    ],
)
def test_nobody_grants_a_role_above_their_own_rights(granter: Role, ceiling: Role | None) -> None:
    actor = _actor(granter)
    granted = {role for role in Role if can_grant_role(actor, role)}
    expected = set() if ceiling is None else {r for r in Role if r.rank <= ceiling.rank}
    assert granted == expected


def test_unknown_action_is_refused() -> None:
    assert scope_for(_actor(Role.SUPER_ADMIN), "no.such.action") is Scope.NONE
    with pytest.raises(Forbidden) as refused:
        authorize(_actor(Role.SUPER_ADMIN), "no.such.action")
    assert refused.value.action == "no.such.action"


def test_services_enforce_the_rules(db: Session) -> None:
    team, other_team = make_team(db), make_team(db)
    team_admin = actor_of(make_user(db, role=Role.TEAM_ADMIN, team=team))
    member = users.create_user(
        db,
        team_admin,
        email="new.rep@example.org",
        full_name="New Rep",
        role=Role.MANAGER,
        team_id=team.id,
        password="a fine password",
    )
    assert member.team_id == team.id
    with pytest.raises(Forbidden):
        users.create_user(db, team_admin, email="boss@example.org", full_name="Boss", role=Role.ADMIN, team_id=team.id)
    with pytest.raises(Forbidden):
        users.create_user(
            db, team_admin, email="elsewhere@example.org", full_name="Elsewhere", role=Role.USER, team_id=other_team.id
        )
    rep = actor_of(make_user(db, role=Role.USER, team=team))
    with pytest.raises(Forbidden):
        users.create_user(db, rep, email="friend@example.org", full_name="Friend", role=Role.USER)


def test_user_creation_validates_fields(db: Session) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    make_user(db, email="taken@example.org")
    with pytest.raises(ValidationFailed) as invalid:
        users.create_user(db, admin, email="TAKEN@example.org", full_name=" ", role=Role.USER, password="short")
    assert set(invalid.value.field_errors) == {"email", "full_name", "password"}


def test_refused_actions_are_written_to_the_security_log(clean_db: None) -> None:
    from crm_app.platform.db import unit_of_work

    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.USER))
    log_refusal(actor, "settings.system")
    with unit_of_work() as session:
        [event] = session.exec(
            select(SecurityEvent).where(SecurityEvent.action == SecurityAction.ACTION_REFUSED.value)
        ).all()
        assert event.details == {"refused": "settings.system"}
        assert (event.user_id, event.email) == (actor.id, actor.email)


def test_every_right_a_service_names_has_its_words() -> None:
    """The security log names a refused right in words: every right of the policy and every one a
    service refuses by name (`Forbidden("note.view")`, `authorize(actor, "...")`) has a label."""
    root = Path(__file__).resolve().parents[2] / "crm_app"
    named = set(POLICY)
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in {
                "Forbidden",
                "authorize",
                "can",
            }:
                named |= {
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "." in arg.value
                }
    assert "note.view" in named and "record.view" in named  # the scan sees both kinds
    assert named - set(RIGHT_LABELS) == set()
