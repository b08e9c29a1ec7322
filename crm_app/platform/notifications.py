"""The notification centre: notifications stored per user (read or unread), created from domain
events in the unit of work that caused them, listed, counted and marked read.

A notification keeps its `kind` and `params`; its title is the kind's message translated when shown
(`render_title`), so each recipient reads it in their own language. Other areas add their kinds
with `register_kind` and their record pages with `LINKS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.platform import events
from crm_app.platform.db import insert_rows
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import N_, gettext
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.notifications import Notification
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor
from crm_app.platform.records import readable, user_names

#: kind → title (English message id; `{name}` placeholders from the params; a param whose name
#: ends with `_label` is itself a message id, translated too). Each area declares its kinds
#: (`NOTIFICATION_KINDS`) and `crm_app.bootstrap` registers them.
TITLES: dict[str, str] = {}

#: record kind → the path of the page that shows it (`RECORD_LINKS` of each area).
LINKS: dict[str, str] = {}

RETENTION = timedelta(days=180)
EXCERPT_LENGTH = 80


def register_kinds(kinds: dict[str, str]) -> None:
    """Declare notification kinds: kind → title (an N_() message id)."""
    TITLES.update(kinds)


def register_links(links: dict[str, str]) -> None:
    """Declare the pages of record kinds: kind → path with `{id}` ("/tasks/{id}")."""
    LINKS.update(links)


def link_for(record_kind: str | None, record_id: uuid.UUID | None) -> str | None:
    """The page of a record, e.g. `/tasks/<id>`."""
    if record_kind is None or record_id is None or record_kind not in LINKS:
        return None
    return LINKS[record_kind].format(id=record_id)


def render_title(kind: str, params: dict[str, Any]) -> str:
    """The title in the current locale."""
    template = TITLES.get(kind)
    if template is None:
        return str(params.get("title") or kind)
    values = {
        name: gettext(value) if name.endswith("_label") and isinstance(value, str) else value
        for name, value in params.items()
    }
    try:
        return gettext(template, **values)
    except (KeyError, IndexError):  # a param missing from an old row: show the message untouched
        return gettext(template)


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# Creating


def notify(
    session: Session,
    recipients: Iterable[uuid.UUID | None],
    *,
    kind: str,
    params: dict[str, Any],
    record_kind: str | None = None,
    record_id: uuid.UUID | None = None,
    link: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> list[Notification]:
    """Store one notification per active recipient, never for `actor_id` (nobody is told about their
    own action), and publish `NotificationCreated` for each (the live bell listens)."""
    wanted = {r for r in recipients if r is not None and r != actor_id}
    if not wanted:
        return []
    active = session.exec(select(User.id).where(col(User.id).in_(wanted), col(User.is_active))).all()
    link = link or link_for(record_kind, record_id)
    created = [
        Notification(
            recipient_id=recipient,
            kind=kind,
            params=params,
            record_kind=record_kind,
            record_id=record_id,
            link=link,
            actor_id=actor_id,
        )
        for recipient in sorted(active)
    ]
    session.add_all(created)
    session.flush()
    for notification in created:
        events.publish(
            session,
            events.NotificationCreated(
                notification_id=notification.id, recipient_id=notification.recipient_id, kind=kind, actor_id=actor_id
            ),
        )
    return created


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification for `notify_many` (the arguments of `notify`, for one recipient)."""

    recipient_id: uuid.UUID
    kind: str
    params: dict[str, Any]
    record_kind: str | None = None
    record_id: uuid.UUID | None = None
    link: str | None = None
    actor_id: uuid.UUID | None = None


def notify_many(session: Session, items: Sequence[NewNotification], *, now: datetime | None = None) -> int:
    """Store many notifications in two statements whatever their number (the active recipients, one
    INSERT), with `notify`'s rules: none for an inactive user, none for the actor. Publishes one
    `NotificationCreated` per recipient (their newest: the bell recounts and shows it) rather than one
    per notification. Returns how many were stored."""
    wanted = {item.recipient_id for item in items if item.recipient_id != item.actor_id}
    if not wanted:
        return 0
    users = table_of(User)
    session.flush()
    active = set(
        session.connection()
        .execute(sa.select(users.c.id).where(users.c.id.in_(sorted(wanted)), users.c.is_active))
        .scalars()
    )
    created = utcnow() if now is None else now
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "recipient_id": item.recipient_id,
            "kind": item.kind,
            "params": item.params,
            "record_kind": item.record_kind,
            "record_id": item.record_id,
            "link": item.link or link_for(item.record_kind, item.record_id),
            "actor_id": item.actor_id,
            "created_at": created,
            "read_at": None,
        }
        for item in items
        if item.recipient_id in active and item.recipient_id != item.actor_id
    ]
    insert_rows(session, table_of(Notification), rows)
    newest: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        newest[row["recipient_id"]] = row
    for recipient_id, row in sorted(newest.items()):
        events.publish(
            session,
            events.NotificationCreated(
                notification_id=row["id"], recipient_id=recipient_id, kind=row["kind"], actor_id=row["actor_id"]
            ),
        )
    return len(rows)


def actor_name(session: Session, actor_id: uuid.UUID | None) -> str:
    """The name to show for who acted ("OPEx CRM" for the system)."""
    if actor_id is None:
        return "OPEx CRM"
    return user_names(session, [actor_id]).get(actor_id, "OPEx CRM")


# --------------------------------------------------------------------------------------------
# Reading and marking read


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: uuid.UUID
    kind: str
    title: str  # in the locale current when the row was read
    params: dict[str, Any]
    link: str | None
    record_kind: str | None
    record_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


def _row(notification: Notification) -> NotificationRow:
    return NotificationRow(
        id=notification.id,
        kind=notification.kind,
        title=render_title(notification.kind, notification.params),
        params=dict(notification.params),
        link=notification.link,
        record_kind=notification.record_kind,
        record_id=notification.record_id,
        actor_id=notification.actor_id,
        created_at=notification.created_at,
        read_at=notification.read_at,
    )


_N = table_of(Notification).c


def _readable(actor: Actor) -> list[Any]:
    """SQL: the actor's notifications whose record (if any) the actor may still open. One about a record
    since reassigned, shared no more or refused otherwise is left out of the list, the bell and the
    count: its title would tell what the record's page refuses."""
    return [
        _N.recipient_id == actor.id,
        sa.or_(_N.record_kind.is_(None), _N.record_id.is_(None), readable(actor, _N.record_kind, _N.record_id)),
    ]


def list_notifications(
    session: Session, actor: Actor, *, unread_only: bool = False, request: PageRequest | None = None
) -> Page[NotificationRow]:
    """The actor's notifications, newest first, paged (all, or the unread ones); only those about
    records the actor may still open."""
    request = request or PageRequest()
    conditions = _readable(actor)
    if unread_only:
        conditions.append(_N.read_at.is_(None))
    found = session.exec(
        select(Notification)
        .where(*conditions)
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        .offset(request.offset)
        .limit(request.page_size)
    ).all()
    total = session.exec(select(sa.func.count()).select_from(Notification).where(*conditions)).one()
    return Page([_row(n) for n in found], int(total), request.page, request.page_size)


def unread_count(session: Session, actor: Actor) -> int:
    """How many unread notifications the actor has (the bell)."""
    return int(
        session.exec(
            select(sa.func.count())
            .select_from(Notification)
            .where(*_readable(actor), col(Notification.read_at).is_(None))
        ).one()
    )


def mark_read(session: Session, actor: Actor, notification_id: uuid.UUID) -> NotificationRow:
    """Mark one of the actor's notifications read (someone else's, or one the list leaves out, is not
    found)."""
    notification = session.exec(select(Notification).where(_N.id == notification_id, *_readable(actor))).first()
    if notification is None:
        raise NotFound(N_("This notification does not exist."))
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.add(notification)
        session.flush()
        events.publish(session, events.NotificationsRead(recipient_id=actor.id, actor_id=actor.id))
    return _row(notification)


def mark_all_read(session: Session, actor: Actor) -> int:
    """Mark every unread notification of the actor that the list shows read; returns how many."""
    result = session.exec(
        sa.update(Notification).where(*_readable(actor), col(Notification.read_at).is_(None)).values(read_at=utcnow())
    )
    count = int(result.rowcount or 0)
    if count:
        events.publish(session, events.NotificationsRead(recipient_id=actor.id, actor_id=actor.id))
    return count


def purge_read(session: Session, *, older_than: timedelta = RETENTION) -> int:
    """Delete read notifications created more than `older_than` ago (the retention job)."""
    result = session.exec(
        sa.delete(Notification).where(
            col(Notification.read_at).is_not(None), col(Notification.created_at) < utcnow() - older_than
        )
    )
    return int(result.rowcount or 0)
