"""/api/users (list, invite, role and team, deactivate, reactivate, links) and the self-service
account routes /api/auth/forgot-password, /api/auth/reset-password, /api/auth/accept-invitation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Header, Response
from pydantic import BaseModel, Field

from crm_app.accounts import administration as accounts
from crm_app.accounts.administration import UserRow, UserStatus
from crm_app.platform.api.deps import ActorDep, ClientDep, PageDep, PageSizeDep, SessionDep
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.i18n import N_, gettext, negotiate, use_locale
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest

router = area_router(prefix="/users", tags=["users"])
auth_router = area_router(prefix="/auth", tags=["auth"])

RESET_REQUESTED = N_("If an account exists for this address, we have sent it a link to choose a new password.")


class UserItem(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    team_id: uuid.UUID | None
    team_name: str | None
    status: UserStatus
    last_login_at: datetime | None
    version: int


class UserPage(BaseModel):
    items: list[UserItem]
    total: int
    page: int
    page_size: int


class InviteRequest(BaseModel):
    email: str = Field(max_length=254)
    full_name: str = Field(max_length=200)
    role: Role = Role.USER
    team_id: uuid.UUID | None = None


class UserPatch(BaseModel):
    """Only the fields sent change; `team_id: null` takes the user out of their team."""

    role: Role | None = None
    team_id: uuid.UUID | None = None
    version: int | None = None


class ForgotPasswordRequest(BaseModel):
    email: str = Field(max_length=254)


class SetPasswordRequest(BaseModel):
    token: str = Field(max_length=200)
    password: str = Field(max_length=200)


class MessageResponse(BaseModel):
    message: str


def _item(row: UserRow) -> UserItem:
    return UserItem(
        id=row.id,
        email=row.email,
        full_name=row.full_name,
        role=row.role,
        team_id=row.team_id,
        team_name=row.team_name,
        status=row.status,
        last_login_at=row.last_login_at,
        version=row.version,
    )


@router.get("", response_model=UserPage)
def list_users(
    session: SessionDep,
    actor: ActorDep,
    *,
    q: str = "",
    status: UserStatus | None = None,
    sort: str = "full_name",
    descending: bool = False,
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    """Users the caller may see (admins: everyone; managers and team admins: their team)."""
    result = accounts.list_users(
        session, actor, q=q, status=status, request=PageRequest(page, page_size), sort=sort, descending=descending
    )
    return page_response(result, UserRow, UserItem)


@router.post("", status_code=201, response_model=UserItem)
def invite_user(body: InviteRequest, session: SessionDep, actor: ActorDep, client: ClientDep) -> UserItem:
    """Create an inactive account and email it a single-use link (72 h) to choose a password."""
    user = accounts.invite_user(
        session, actor, email=body.email, full_name=body.full_name, role=body.role, team_id=body.team_id, client=client
    )
    return _item(accounts.get_user_row(session, actor, user.id))


@router.get("/{user_id}", response_model=UserItem)
def get_user(user_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> UserItem:
    return _item(accounts.get_user_row(session, actor, user_id))


@router.patch("/{user_id}", response_model=UserItem)
def update_user(
    user_id: uuid.UUID, body: UserPatch, session: SessionDep, actor: ActorDep, client: ClientDep
) -> UserItem:
    """Change the role and/or the team (never above the caller's own rights)."""
    accounts.change_role_and_team(
        session,
        actor,
        user_id,
        role=body.role,
        team_id=body.team_id,
        change_team="team_id" in body.model_fields_set,
        expected_version=body.version,
        client=client,
    )
    return _item(accounts.get_user_row(session, actor, user_id))


@router.post("/{user_id}/deactivate", response_model=UserItem)
def deactivate_user(user_id: uuid.UUID, session: SessionDep, actor: ActorDep, client: ClientDep) -> UserItem:
    """End the account's sessions and tokens at once; its records stay."""
    accounts.deactivate_user(session, actor, user_id, client=client)
    return _item(accounts.get_user_row(session, actor, user_id))


@router.post("/{user_id}/reactivate", response_model=UserItem)
def reactivate_user(user_id: uuid.UUID, session: SessionDep, actor: ActorDep, client: ClientDep) -> UserItem:
    accounts.reactivate_user(session, actor, user_id, client=client)
    return _item(accounts.get_user_row(session, actor, user_id))


@router.post("/{user_id}/resend-invitation", response_model=UserItem)
def resend_invitation(user_id: uuid.UUID, session: SessionDep, actor: ActorDep, client: ClientDep) -> UserItem:
    accounts.resend_invitation(session, actor, user_id, client=client)
    return _item(accounts.get_user_row(session, actor, user_id))


@router.delete("/{user_id}/invitation", status_code=204)
def revoke_invitation(user_id: uuid.UUID, session: SessionDep, actor: ActorDep, client: ClientDep) -> None:
    """Withdraw an invitation never accepted (the empty account is removed)."""
    accounts.revoke_invitation(session, actor, user_id, client=client)


@router.post("/{user_id}/send-reset-link", status_code=204)
def send_reset_link(user_id: uuid.UUID, session: SessionDep, actor: ActorDep, client: ClientDep) -> None:
    accounts.send_reset_link(session, actor, user_id, client=client)


@auth_router.post("/forgot-password", status_code=202, response_model=MessageResponse)
def forgot_password(
    body: ForgotPasswordRequest,
    session: SessionDep,
    client: ClientDep,
    accept_language: Annotated[str | None, Header()] = None,
) -> MessageResponse:
    """Email a reset link (30 min) when the address has an account. The answer is the same either way."""
    accounts.request_password_reset(session, body.email, client=client)
    with use_locale(negotiate(accept_language) or "en"):
        return MessageResponse(message=gettext(RESET_REQUESTED))


@auth_router.post("/reset-password", status_code=204)
def reset_password(body: SetPasswordRequest, session: SessionDep, client: ClientDep) -> None:
    """Set a new password with the emailed token; every session and token of the account ends."""
    accounts.reset_password(session, body.token, body.password, client=client)


@auth_router.post("/accept-invitation", status_code=204)
def accept_invitation(body: SetPasswordRequest, session: SessionDep, client: ClientDep) -> None:
    """Choose the password of an invited account with the emailed token; the account becomes active."""
    accounts.accept_invitation(session, body.token, body.password, client=client)
