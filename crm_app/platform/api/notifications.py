"""/api/notifications: the caller's notification centre (list, unread count, mark read). Titles come
in the language of `Accept-Language`, else the user's chosen one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import BaseModel

from crm_app.platform import notifications
from crm_app.platform.api.deps import ActorDep, PageDep, PageSizeDep, SessionDep
from crm_app.platform.api.pages import page_response
from crm_app.platform.api.routes import area_router
from crm_app.platform.i18n import negotiate, use_locale
from crm_app.platform.notifications import NotificationRow
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import Actor

router = area_router(prefix="/notifications", tags=["notifications"])
LanguageDep = Annotated[str | None, Header(alias="accept-language")]


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    params: dict[str, Any]
    link: str | None
    record_kind: str | None
    record_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int
    page: int
    page_size: int


class Count(BaseModel):
    count: int


@contextmanager
def _reader_locale(actor: Actor, accept_language: str | None) -> Iterator[None]:
    with use_locale(negotiate(accept_language) or actor.language):
        yield


@router.get("", response_model=NotificationPage, description="Newest first; `unread=1` for the unread ones only.")
def list_notifications(
    session: SessionDep,
    actor: ActorDep,
    *,
    accept_language: LanguageDep = None,
    unread: bool = False,
    page: PageDep = 1,
    page_size: PageSizeDep = 25,
) -> Response:
    with _reader_locale(actor, accept_language):
        result = notifications.list_notifications(
            session, actor, unread_only=unread, request=PageRequest(page, page_size)
        )
    return page_response(result, NotificationRow, NotificationOut)


@router.get("/unread-count", response_model=Count)
def unread_count(session: SessionDep, actor: ActorDep) -> Count:
    """The number on the bell."""
    return Count(count=notifications.unread_count(session, actor))


@router.post("/read-all", response_model=Count)
def mark_all_read(session: SessionDep, actor: ActorDep) -> Count:
    """Mark every unread notification read; answers how many were."""
    return Count(count=notifications.mark_all_read(session, actor))


@router.post("/{notification_id}/read", response_model=NotificationOut)
def mark_read(
    notification_id: uuid.UUID, session: SessionDep, actor: ActorDep, accept_language: LanguageDep = None
) -> NotificationOut:
    with _reader_locale(actor, accept_language):
        row = notifications.mark_read(session, actor, notification_id)
    return NotificationOut.model_validate(row, from_attributes=True)
