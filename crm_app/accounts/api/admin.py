"""/api/teams, /api/security-log and /api/auth/sessions: team administration, the security log and
the caller's own sessions. Rights are checked by the services ("team.administer",
"security_log.view"); a refusal is a 403 written to the security log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Response
from pydantic import BaseModel, Field

from crm_app.accounts import auth, teams
from crm_app.accounts.models import SessionKind
from crm_app.accounts.teams import TeamRow
from crm_app.platform import security_log
from crm_app.platform.api.deps import ActorDep, ClientDep, Day, PageDep, PageSizeDep, SessionDep
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.i18n import negotiate, use_locale
from crm_app.platform.models.audit import Severity
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest
from crm_app.platform.security_log import SecurityEventRow, SecurityLogQuery

router = area_router(tags=["administration"])


class TeamOut(BaseModel):
    id: uuid.UUID
    name: str
    is_archived: bool
    member_count: int
    manager_count: int
    version: int


class TeamPage(BaseModel):
    items: list[TeamOut]
    total: int
    page: int
    page_size: int


class TeamIn(BaseModel):
    name: str = Field(max_length=200)


class TeamUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    is_archived: bool | None = None
    version: int | None = Field(default=None, description="The version read; a stale one answers 409")


class MemberOut(BaseModel):
    id: uuid.UUID
    full_name: str
    email: str
    role: Role
    is_active: bool
    is_manager: bool


class MemberIn(BaseModel):
    user_id: uuid.UUID
    is_manager: bool | None = Field(default=None, description="Also make them a manager (or a sales rep again)")


class ManagerIn(BaseModel):
    is_manager: bool


def _team(row: TeamRow) -> TeamOut:
    return TeamOut.model_validate(row, from_attributes=True)


def _member(row: teams.MemberRow) -> MemberOut:
    return MemberOut(
        id=row.id,
        full_name=row.full_name,
        email=row.email,
        role=row.role,
        is_active=row.is_active,
        is_manager=row.is_manager,
    )


@router.get("/teams", response_model=TeamPage, description="Teams by name; `archived=1` includes archived ones.")
def list_teams(
    session: SessionDep,
    actor: ActorDep,
    *,
    q: str = "",
    archived: bool = False,
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    result = teams.list_teams(session, actor, q=q, include_archived=archived, request=PageRequest(page, page_size))
    return page_response(result, TeamRow, TeamOut)


@router.post("/teams", response_model=TeamOut, status_code=201)
def create_team(body: TeamIn, session: SessionDep, actor: ActorDep) -> TeamOut:
    team = teams.create_team(session, actor, body.name)
    return _team(teams.get_team(session, actor, team.id))


@router.get("/teams/{team_id}", response_model=TeamOut)
def get_team(team_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> TeamOut:
    return _team(teams.get_team(session, actor, team_id))


@router.patch("/teams/{team_id}", response_model=TeamOut, description="Rename, archive or restore a team.")
def update_team(team_id: uuid.UUID, body: TeamUpdate, session: SessionDep, actor: ActorDep) -> TeamOut:
    version = body.version
    if body.name is not None:
        version = teams.rename_team(session, actor, team_id, body.name, expected_version=version).version
    if body.is_archived is not None:
        teams.set_archived(session, actor, team_id, body.is_archived, expected_version=version)
    return _team(teams.get_team(session, actor, team_id))


@router.get("/teams/{team_id}/members", response_model=list[MemberOut])
def list_members(team_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[MemberOut]:
    return [_member(row) for row in teams.list_members(session, actor, team_id)]


@router.post(
    "/teams/{team_id}/members",
    response_model=MemberOut,
    status_code=201,
    description="Put a user in this team (they leave their previous team).",
)
def add_member(team_id: uuid.UUID, body: MemberIn, session: SessionDep, actor: ActorDep) -> MemberOut:
    row = teams.add_member(session, actor, team_id, body.user_id)
    if body.is_manager is not None:
        row = teams.set_manager(session, actor, team_id, body.user_id, body.is_manager)
    return _member(row)


@router.put("/teams/{team_id}/members/{user_id}/manager", response_model=MemberOut)
def set_manager(
    team_id: uuid.UUID, user_id: uuid.UUID, body: ManagerIn, session: SessionDep, actor: ActorDep
) -> MemberOut:
    return _member(teams.set_manager(session, actor, team_id, user_id, body.is_manager))


@router.delete("/teams/{team_id}/members/{user_id}", status_code=204)
def remove_member(team_id: uuid.UUID, user_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Response:
    teams.remove_member(session, actor, team_id, user_id)
    return Response(status_code=204)


class SecurityEventOut(BaseModel):
    id: uuid.UUID
    at: datetime
    user_id: uuid.UUID | None
    user_name: str | None
    email: str | None
    action: str
    severity: Severity
    ip: str | None
    user_agent: str | None
    details: dict[str, object]


class SecurityEventPage(BaseModel):
    items: list[SecurityEventOut]
    total: int
    page: int
    page_size: int


async def _log_query(
    *,
    user: str = "",
    user_id: uuid.UUID | None = None,
    action: str | None = None,
    severity: Severity | None = None,
    date_from: Day | None = None,
    date_to: Day | None = None,
) -> SecurityLogQuery:
    """The filters of the security log (async: it awaits nothing, and FastAPI would send a sync one through
    the thread pool)."""
    return SecurityLogQuery(
        user=user, user_id=user_id, action=action or None, severity=severity, date_from=date_from, date_to=date_to
    )


LogQueryDep = Annotated[SecurityLogQuery, Depends(_log_query)]


_LOG_FILTERS = (
    "Filters: `user` (part of the email or name), `user_id`, `action` (e.g. login.failed), "
    "`severity` (low, medium, high), `date_from` and `date_to` (days in the server's time zone, "
    "both included)."
)


@router.get("/security-log", response_model=SecurityEventPage, description="Newest first. " + _LOG_FILTERS)
def list_security_log(
    session: SessionDep, actor: ActorDep, query: LogQueryDep, *, page: PageDep = 1, page_size: PageSizeDep = 25
) -> Response:
    result = security_log.list_events(session, actor, query, PageRequest(page, page_size))
    return page_response(result, SecurityEventRow, SecurityEventOut)


@router.get(
    "/security-log/export",
    description="The filtered log as CSV. " + _LOG_FILTERS,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_security_log(
    session: SessionDep, actor: ActorDep, query: LogQueryDep, *, accept_language: Annotated[str | None, Header()] = None
) -> Response:
    with use_locale(negotiate(accept_language) or "en"):
        content = security_log.export_events(session, actor, query)
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="security-log.csv"'},
    )


class SessionOut(BaseModel):
    id: uuid.UUID
    kind: SessionKind
    device: str
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    is_current: bool


class Ended(BaseModel):
    ended: int


@router.get(
    "/auth/sessions",
    response_model=list[SessionOut],
    tags=["auth"],
    description="The caller's live sessions (browsers and API token families), the current one first.",
)
def list_sessions(session: SessionDep, actor: ActorDep) -> list[SessionOut]:
    return [SessionOut.model_validate(row, from_attributes=True) for row in auth.list_sessions(session, actor)]


@router.delete(
    "/auth/sessions",
    response_model=Ended,
    tags=["auth"],
    description="Sign out everywhere else: every session but the one of this token ends now.",
)
def end_other_sessions(session: SessionDep, actor: ActorDep, client: ClientDep) -> Ended:
    return Ended(ended=auth.end_other_sessions(session, actor, client=client))
