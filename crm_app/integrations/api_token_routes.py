"""/api/tokens (the caller's personal API tokens) and /api/users/{user_id}/tokens (the tokens of a user
the caller administers). None of them accepts a personal API token: only a login's access token."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from crm_app.integrations import api_tokens
from crm_app.integrations.api_tokens import TokenRow
from crm_app.integrations.scopes import TokenScope
from crm_app.platform.api.deps import ActorDep, ClientDep, Day, SessionDep
from crm_app.platform.api.routes import area_router

router = area_router(tags=["API tokens"])

_LOGIN_ONLY = (
    " Needs a login's access token (POST /api/auth/login): a personal API token is refused here with "
    "403 `token_not_accepted`, so that a token can never create, list or revoke tokens."
)


class TokenIn(BaseModel):
    name: str = Field(max_length=200, description="What uses the token (unique among your live tokens)")
    scopes: list[TokenScope] = Field(
        max_length=len(TokenScope),
        description="`<area>:read` or `<area>:write` (write implies read) for institutions, contacts, "
        "activities, opportunities, quotes, invoices; `admin` for the administration routes",
    )
    expires_on: Day | None = Field(
        default=None, description="Last day the token works (at most one year ahead; default: in 90 days)"
    )


class TokenOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute")
    is_expired: bool


class CreatedToken(TokenOut):
    token: str = Field(description="The token itself: shown this once, never again (only its hash is kept)")


def _out(row: TokenRow) -> TokenOut:
    return TokenOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        is_expired=row.is_expired,
    )


@router.get(
    "/tokens", response_model=list[TokenOut], description="Your tokens not revoked, newest first." + _LOGIN_ONLY
)
def list_tokens(session: SessionDep, actor: ActorDep) -> list[TokenOut]:
    return [_out(row) for row in api_tokens.list_tokens(session, actor)]


@router.post(
    "/tokens",
    response_model=CreatedToken,
    status_code=201,
    description="Create a personal API token; the answer holds the token, the only time it is shown. Use it as "
    "`Authorization: Bearer opx_...`: it acts as you, limited to its scopes." + _LOGIN_ONLY,
)
def create_token(body: TokenIn, session: SessionDep, actor: ActorDep, client: ClientDep) -> CreatedToken:
    expires_on: date | None = body.expires_on
    created = api_tokens.create_token(
        session, actor, name=body.name, scopes=body.scopes, expires_on=expires_on, client=client
    )
    return CreatedToken(**_out(created.row).model_dump(), token=created.token)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    description="Revoke one of your tokens: its next request is refused with 401." + _LOGIN_ONLY,
)
def revoke_token(token_id: uuid.UUID, session: SessionDep, actor: ActorDep, client: ClientDep) -> None:
    api_tokens.revoke_token(session, actor, token_id, client=client)


@router.get(
    "/users/{user_id}/tokens",
    response_model=list[TokenOut],
    tags=["users"],
    description="The tokens of a user you administer." + _LOGIN_ONLY,
)
def list_user_tokens(user_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[TokenOut]:
    return [_out(row) for row in api_tokens.list_user_tokens(session, actor, user_id)]


@router.delete(
    "/users/{user_id}/tokens/{token_id}",
    status_code=204,
    tags=["users"],
    description="Revoke a token of a user you administer." + _LOGIN_ONLY,
)
def revoke_user_token(
    user_id: uuid.UUID, token_id: uuid.UUID, session: SessionDep, actor: ActorDep, client: ClientDep
) -> None:
    api_tokens.revoke_user_token(session, actor, user_id, token_id, client=client)
