"""Teams: a user belongs to at most one; managers and team admins act within theirs.

Administering teams (create, rename, archive, members, managers) is the "team.administer" right.
A team's managers are its members holding the manager (or team administrator) role: making a
member a manager gives them that role, so the rights of DOMAIN.md follow without a second list.
Every change is written to the security log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from crm_app.platform import security_log
from crm_app.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import SecurityAction, Severity
from crm_app.platform.models.people import Role, Team, User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, authorize, can_grant_role

MANAGER_ROLES = (Role.MANAGER, Role.TEAM_ADMIN)
MAX_NAME_LENGTH = 120
_MEMBER_COLUMNS: tuple[Any, ...] = (User.id, User.full_name, User.email, User.role, User.is_active)


@dataclass(frozen=True, slots=True)
class TeamRow:
    id: uuid.UUID
    name: str
    is_archived: bool
    member_count: int
    manager_count: int
    version: int


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: uuid.UUID
    full_name: str
    email: str
    role: Role
    is_active: bool

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES


def _actor_id(actor: Actor) -> uuid.UUID | None:
    return actor.id if actor.id.int else None  # the system actor is no row of users


def _log(session: Session, actor: Actor, action: SecurityAction, team: Team, **details: Any) -> None:
    security_log.record(
        session,
        action,
        severity=Severity.MEDIUM,
        user_id=_actor_id(actor),
        email=actor.email,
        team_id=str(team.id),
        team=team.name,
        **details,
    )


def _clean_name(session: Session, name: str, *, team_id: uuid.UUID | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed({"name": N_("Enter a name.")})
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed({"name": N_("At most 120 characters.")})
    same = select(Team.id).where(func.lower(Team.name) == name.lower())
    if team_id is not None:
        same = same.where(Team.id != team_id)
    if session.exec(same).first() is not None:
        raise ValidationFailed({"name": N_("A team with this name already exists.")})
    return name


def _get_team(session: Session, team_id: uuid.UUID) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(N_("This team does not exist."))
    return team


def _check_version(team: Team, expected_version: int | None) -> None:
    if expected_version is not None and team.version != expected_version:
        raise Conflict()


def create_team(session: Session, actor: Actor, name: str) -> Team:
    """A new, empty team with a unique name (case-insensitive)."""
    authorize(actor, "team.administer")
    team = Team(name=_clean_name(session, name), created_by=_actor_id(actor))
    session.add(team)
    session.flush()
    _log(session, actor, SecurityAction.TEAM_CREATED, team)
    return team


def rename_team(
    session: Session, actor: Actor, team_id: uuid.UUID, name: str, *, expected_version: int | None = None
) -> Team:
    authorize(actor, "team.administer")
    team = _get_team(session, team_id)
    _check_version(team, expected_version)
    new_name = _clean_name(session, name, team_id=team.id)
    if new_name == team.name:
        return team
    old_name = team.name
    team.name = new_name
    team.touch()
    session.add(team)
    session.flush()
    _log(session, actor, SecurityAction.TEAM_RENAMED, team, old=old_name, new=new_name)
    return team


def set_archived(
    session: Session, actor: Actor, team_id: uuid.UUID, archived: bool, *, expected_version: int | None = None
) -> Team:
    """Archive (or restore) a team. A team that still has active members cannot be archived:
    they would silently lose their team's rights, so they are moved first."""
    authorize(actor, "team.administer")
    team = _get_team(session, team_id)
    _check_version(team, expected_version)
    if team.is_archived == archived:
        return team
    if archived:
        active = session.exec(
            select(func.count()).select_from(User).where(User.team_id == team.id, col(User.is_active))
        ).one()
        if active:
            raise ValidationFailed({"team": N_("Move this team's active members to another team first.")})
    team.is_archived = archived
    team.touch()
    session.add(team)
    session.flush()
    _log(session, actor, SecurityAction.TEAM_ARCHIVED if archived else SecurityAction.TEAM_RESTORED, team)
    return team


def list_teams(
    session: Session, actor: Actor, *, q: str = "", include_archived: bool = False, request: PageRequest | None = None
) -> Page[TeamRow]:
    """Teams with their member and manager counts, by name, paged in SQL."""
    authorize(actor, "team.administer")
    request = request or PageRequest()
    members = (
        select(
            col(User.team_id).label("team_id"),
            func.count().label("members"),
            func.sum(case((col(User.role).in_([r.value for r in MANAGER_ROLES]), 1), else_=0)).label("managers"),
        )
        .where(col(User.is_active), col(User.team_id).is_not(None))
        .group_by(col(User.team_id))
        .subquery()
    )
    where = []
    if not include_archived:
        where.append(~col(Team.is_archived))
    if q.strip():
        where.append(func.lower(Team.name).contains(q.strip().lower(), autoescape=True))
    total = int(session.exec(select(func.count()).select_from(Team).where(*where)).one())
    columns: tuple[Any, ...] = (
        Team.id,
        Team.name,
        Team.is_archived,
        func.coalesce(members.c.members, 0),
        func.coalesce(members.c.managers, 0),
        Team.version,
    )
    rows = session.execute(
        sa.select(*columns)
        .outerjoin(members, members.c.team_id == Team.id)
        .where(*where)
        .order_by(func.lower(Team.name), col(Team.id))
        .offset(request.offset)
        .limit(request.page_size)
    ).all()
    items = [
        TeamRow(id=r[0], name=r[1], is_archived=r[2], member_count=int(r[3]), manager_count=int(r[4]), version=r[5])
        for r in rows
    ]
    return Page(items=items, total=total, page=request.page, page_size=request.page_size)


def get_team(session: Session, actor: Actor, team_id: uuid.UUID) -> TeamRow:
    authorize(actor, "team.administer")
    team = _get_team(session, team_id)
    members = list_members(session, actor, team_id)
    return TeamRow(
        id=team.id,
        name=team.name,
        is_archived=team.is_archived,
        member_count=sum(m.is_active for m in members),
        manager_count=sum(m.is_active and m.is_manager for m in members),
        version=team.version,
    )


def list_members(session: Session, actor: Actor, team_id: uuid.UUID) -> list[MemberRow]:
    """Everyone in the team, managers first, then by name (a team is tens of people)."""
    authorize(actor, "team.administer")
    _get_team(session, team_id)
    rows = session.execute(
        sa.select(*_MEMBER_COLUMNS)
        .where(col(User.team_id) == team_id)
        .order_by(~col(User.is_active), col(User.full_name), col(User.id))
    ).all()
    members = [MemberRow(id=r[0], full_name=r[1], email=r[2], role=Role(r[3]), is_active=r[4]) for r in rows]
    return sorted(members, key=lambda m: (not m.is_active, not m.is_manager))


def find_candidates(
    session: Session, actor: Actor, team_id: uuid.UUID, q: str = "", *, limit: int = 20
) -> list[MemberRow]:
    """Active users outside this team whose name or email matches `q`: whom one may add."""
    authorize(actor, "team.administer")
    statement: Any = sa.select(*_MEMBER_COLUMNS).where(
        col(User.is_active), (col(User.team_id).is_(None)) | (User.team_id != team_id)
    )
    if q.strip():
        needle = q.strip().lower()
        statement = statement.where(
            func.lower(User.full_name).contains(needle, autoescape=True)
            | col(User.email).contains(needle, autoescape=True)
        )
    rows = session.execute(statement.order_by(col(User.full_name), col(User.id)).limit(limit)).all()
    return [MemberRow(id=r[0], full_name=r[1], email=r[2], role=Role(r[3]), is_active=r[4]) for r in rows]


def _get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("This user does not exist."))
    return user


def add_member(session: Session, actor: Actor, team_id: uuid.UUID, user_id: uuid.UUID) -> MemberRow:
    """Put a user in this team (a user belongs to at most one: they leave their previous team)."""
    authorize(actor, "team.administer")
    team = _get_team(session, team_id)
    if team.is_archived:
        raise ValidationFailed({"team": N_("This team is archived.")})
    user = _get_user(session, user_id)
    if Role(user.role).rank > actor.role.rank:  # never move someone above one's own rights
        raise Forbidden("team.administer")
    previous = user.team_id
    if previous != team.id:
        user.team_id = team.id
        user.touch()
        session.add(user)
        session.flush()
        _log(
            session,
            actor,
            SecurityAction.TEAM_MEMBER_ADDED,
            team,
            member=user.email,
            previous_team_id=str(previous) if previous else None,
        )
    return MemberRow(
        id=user.id, full_name=user.full_name, email=user.email, role=Role(user.role), is_active=user.is_active
    )


def remove_member(session: Session, actor: Actor, team_id: uuid.UUID, user_id: uuid.UUID) -> MemberRow:
    """Take a user out of this team (they stay a user, with no team); returns who left."""
    authorize(actor, "team.administer")
    team = _get_team(session, team_id)
    user = _get_user(session, user_id)
    if user.team_id != team.id:
        raise ValidationFailed({"user_id": N_("This person is not a member of this team.")})
    if Role(user.role).rank > actor.role.rank:
        raise Forbidden("team.administer")
    user.team_id = None
    user.touch()
    session.add(user)
    session.flush()
    _log(session, actor, SecurityAction.TEAM_MEMBER_REMOVED, team, member=user.email)
    return MemberRow(
        id=user.id, full_name=user.full_name, email=user.email, role=Role(user.role), is_active=user.is_active
    )


def set_manager(session: Session, actor: Actor, team_id: uuid.UUID, user_id: uuid.UUID, is_manager: bool) -> MemberRow:
    """Make a member one of the team's managers (role manager) or a sales rep again.

    Team administrators and administrators keep their role here: changing it is user
    administration, with its own page and rules."""
    authorize(actor, "team.administer")
    if not can_grant_role(actor, Role.MANAGER):
        raise Forbidden("user.grant_role")
    team = _get_team(session, team_id)
    user = _get_user(session, user_id)
    if user.team_id != team.id:
        raise ValidationFailed({"user_id": N_("This person is not a member of this team.")})
    role = Role(user.role)
    if role not in (Role.USER, Role.MANAGER):
        raise ValidationFailed({"role": N_("Change this person's role on the users page.")})
    new_role = Role.MANAGER if is_manager else Role.USER
    if new_role is not role:
        user.role = new_role
        user.touch()
        session.add(user)
        session.flush()
        _log(
            session,
            actor,
            SecurityAction.TEAM_MANAGER_CHANGED,
            team,
            member=user.email,
            old=role.value,
            new=new_role.value,
        )
    return MemberRow(id=user.id, full_name=user.full_name, email=user.email, role=new_role, is_active=user.is_active)
