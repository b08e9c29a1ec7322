"""Request dependencies shared by every router: the unit of work, the bearer actor, client info."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from crm_app.platform.db import get_engine
from crm_app.platform.errors import NotAuthenticated
from crm_app.platform.permissions import Actor
from crm_app.platform.security_log import ClientInfo

#: Turns a bearer token into the actor it was issued to, or raises NotAuthenticated; the accounts
#: area provides it and `crm_app.bootstrap` sets it (`set_authenticator`).
Authenticator = Callable[[Session, str], Actor]
_authenticator: Authenticator | None = None


def set_authenticator(authenticator: Authenticator) -> None:
    global _authenticator
    _authenticator = authenticator


_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/auth/login")


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent"))


async def db_session() -> AsyncIterator[Session]:
    """One unit of work per request. Opening a session does no I/O, so it happens on the event loop;
    the commit (or rollback) and close run in the thread pool. With the actor check and the route
    itself, a request makes three thread-pool hops instead of four."""
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_finish, session, commit=False)
        raise
    await run_in_threadpool(_finish, session, commit=True)


def _finish(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def current_actor(
    request: Request,
    session: Annotated[Session, Depends(db_session, scope="function")],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated()
    if _authenticator is None:
        raise RuntimeError("no bearer authenticator: crm_app.bootstrap.wire() was not called")
    actor = _authenticator(session, credentials.credentials)
    request.state.actor = actor
    return actor


# scope="function": the unit of work commits before the response is sent, so a client that reads
# the answer (a new token, a saved record) never races the commit.
SessionDep = Annotated[Session, Depends(db_session, scope="function")]
ActorDep = Annotated[Actor, Depends(current_actor, scope="function")]
ClientDep = Annotated[ClientInfo, Depends(client_info)]
