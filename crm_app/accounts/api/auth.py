"""POST /api/auth/login, /refresh, /logout and GET /api/auth/me."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from crm_app.accounts import auth, tokens, users
from crm_app.accounts.auth import LoginFailure
from crm_app.platform.api.deps import ActorDep, ClientDep, SessionDep
from crm_app.platform.api.errors import error_body
from crm_app.platform.api.routes import area_router
from crm_app.platform.errors import NotAuthenticated
from crm_app.platform.i18n import gettext, negotiate, use_locale

router = area_router(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=200)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=2000)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class MeResponse(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: str
    team_id: uuid.UUID | None
    team_name: str | None
    language: str | None
    theme: str


@router.post("/login", response_model=TokenResponse, responses={401: {"description": "Invalid credentials"}})
def login(
    body: LoginRequest, session: SessionDep, client: ClientDep, accept_language: Annotated[str | None, Header()] = None
) -> TokenResponse | JSONResponse:
    """Exchange an email and a password for an access token (15 min) and a refresh token (7 days)."""
    outcome = tokens.login(session, body.email, body.password, client=client)
    if isinstance(outcome, auth.LoginResult):
        # Returned, not raised: the failed attempt must be committed to count towards the lockout.
        failure = outcome.failure or LoginFailure.INVALID
        with use_locale(negotiate(accept_language) or "en"):
            message = gettext(failure.message)
        return JSONResponse(
            error_body(f"login_{failure.value}", message), status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return TokenResponse(**asdict(outcome))


@router.post("/refresh", response_model=TokenResponse, responses={401: {"description": "Invalid token"}})
def refresh(body: RefreshRequest, session: SessionDep, client: ClientDep) -> TokenResponse | JSONResponse:
    """Rotate: the refresh token is spent and a new pair returned. Reusing a spent token revokes the family."""
    try:
        pair = tokens.rotate(session, body.refresh_token, client=client)
    except NotAuthenticated as exc:
        # Returned, not raised: a detected reuse revokes the family, and that must be committed.
        return JSONResponse(error_body(exc.code, exc.message), status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return TokenResponse(**asdict(pair))


@router.post("/logout", status_code=204, responses={401: {"description": "Not authenticated"}})
def logout(actor: ActorDep, session: SessionDep, client: ClientDep) -> None:
    """End the session behind the access token: its refresh and access tokens stop working."""
    auth.logout(session, actor, client=client)


@router.get("/me", response_model=MeResponse, responses={401: {"description": "Not authenticated"}})
async def me(actor: ActorDep) -> MeResponse:
    """The authenticated user."""
    return MeResponse(
        id=actor.id,
        email=actor.email,
        full_name=actor.full_name,
        role=actor.role.value,
        team_id=actor.team_id,
        team_name=await users.current_team_name(actor.team_id),  # no unit of work, no thread
        language=actor.language,
        theme=actor.theme,
    )
