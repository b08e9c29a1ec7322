"""An institution's timeline: its activities and the changes made to it, newest first, paged in SQL.

Every source is a query returning the same columns (`entry_columns`); the timeline is their
UNION ALL, sorted and paged by the database, so a page costs the same whatever the history's
length. Each source filters what the actor may see. Other areas add theirs with
`register_source` (quotes, invoices, payments):

    def quotes_source(actor, institution_id):
        return sa.select(*entry_columns("quote", q.id, q.sent_at, title=q.number, status=q.status,
                                        user_name=owner.full_name)).where(q.institution_id == institution_id)
    timeline.register_source("quote", quotes_source, link="/quotes/{id}")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlmodel import Session

from crm_app.activities import meetings, notes
from crm_app.activities.models import Call, Meeting, Note, Task
from crm_app.institutions.models import Contact
from crm_app.institutions.service import get_institution
from crm_app.platform import audit
from crm_app.platform import notifications as notification_service
from crm_app.platform.db import fetch_all
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.base import table_of
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.records import scope_condition
from crm_app.platform.settings import KIND_MODULES, disabled_modules

#: `source(actor, institution_id)` → a SELECT of `entry_columns(...)` limited to what the actor sees.
Source = Callable[[Actor, uuid.UUID], Select[Any]]

TITLE_LENGTH = 200


@dataclass(frozen=True)
class _Registered:
    source: Source
    link: str | None


_SOURCES: dict[str, _Registered] = {}


def register_source(kind: str, source: Source, *, link: str | None = None) -> None:
    """Add (or replace) the source of one kind of entry; `link` is its page, `{id}` its record id."""
    _SOURCES[kind] = _Registered(source, link)


def source_kinds() -> list[str]:
    return list(_SOURCES)


def entry_columns(kind: str, record_id: Any, at: Any, *, title: Any = None, detail: Any = None, status: Any = None,
                  user_name: Any = None, old_value: Any = None, new_value: Any = None) -> list[Any]:
    """The columns of a timeline entry, typed alike in every source (UNION ALL needs it)."""
    def text(value: Any, name: str) -> Any:
        return sa.cast(sa.null() if value is None else value, sa.Text).label(name)

    return [sa.cast(sa.literal(kind), sa.String(20)).label("kind"), record_id.label("record_id"), at.label("at"),
            text(title, "title"), text(detail, "detail"), text(status, "status"), text(user_name, "user_name"),
            text(old_value, "old_value"), text(new_value, "new_value")]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: str  # "task", "note", "meeting", "call", "change", ... (the registered sources)
    record_id: uuid.UUID
    at: datetime
    title: str | None
    detail: str | None
    status: str | None
    user_name: str | None
    old_value: str | None
    new_value: str | None
    link: str | None
    old_name: str | None = None  # for a change: the name of the record `old_value` refers to
    new_name: str | None = None


def timeline(session: Session, actor: Actor, institution_id: uuid.UUID, request: PageRequest | None = None, *,
             kinds: Sequence[str] | None = None) -> Page[TimelineEntry]:
    """Everything that happened on the institution that the actor may see, newest first, paged."""
    institution = get_institution(session, institution_id)
    authorize(actor, "institution.view", institution)
    request = request or PageRequest()
    off = disabled_modules(session)
    chosen = [kind for kind in _SOURCES if (kinds is None or kind in kinds) and KIND_MODULES.get(kind) not in off]
    if not chosen:
        return Page([], 0, request.page, request.page_size)
    union = sa.union_all(*(_SOURCES[kind].source(actor, institution.id) for kind in chosen)).subquery("timeline")
    total = fetch_all(session, sa.select(sa.func.count()).select_from(union))[0][0]
    statement = (sa.select(union).order_by(union.c.at.desc(), union.c.kind, union.c.record_id.desc())
                 .offset(request.offset).limit(request.page_size))
    rows = fetch_all(session, statement)
    names = audit.referenced_names(session, ((row.title, value) for row in rows if row.kind == "change"
                                             for value in (row.old_value, row.new_value)))
    entries = []
    for row in rows:
        link = _SOURCES[row.kind].link
        entries.append(TimelineEntry(**row._asdict(), link=link.format(id=row.record_id) if link else None,
                                     old_name=names.get(row.old_value or "") if row.kind == "change" else None,
                                     new_name=names.get(row.new_value or "") if row.kind == "change" else None))
    return Page(entries, int(total), request.page, request.page_size)


# --------------------------------------------------------------------------------------------
# The activity sources and the audit trail


def _tasks(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    t, assignee = table_of(Task).c, table_of(User).alias("task_assignee")
    return (sa.select(*entry_columns("task", t.id, t.created_at, title=t.title, status=t.status,
                                     detail=sa.func.substr(t.description, 1, TITLE_LENGTH),
                                     user_name=assignee.c.full_name))
            .select_from(table_of(Task)).join(assignee, assignee.c.id == t.assignee_id)
            .where(t.institution_id == institution_id,
                   scope_condition(actor, "record.view", team_column=t.team_id,
                                   owner_columns=(t.assignee_id, t.created_by))))


def _notes(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    n, author = table_of(Note).c, table_of(User).alias("note_author")
    return (sa.select(*entry_columns("note", n.id, n.created_at, title=sa.func.substr(n.body, 1, TITLE_LENGTH),
                                     status=n.visibility, user_name=author.c.full_name))
            .select_from(table_of(Note)).outerjoin(author, author.c.id == n.created_by)
            .where(n.institution_id == institution_id, notes.readable_condition(actor)))


def _meetings(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    m, organizer = table_of(Meeting).c, table_of(User).alias("meeting_organizer")
    return (sa.select(*entry_columns("meeting", m.id, m.starts_at, title=m.title, status=m.status,
                                     detail=m.location, user_name=organizer.c.full_name))
            .select_from(table_of(Meeting)).join(organizer, organizer.c.id == m.organizer_id)
            .where(m.institution_id == institution_id, meetings.visible_condition(actor)))


def _calls(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    k, caller, contact = table_of(Call).c, table_of(User).alias("call_user"), table_of(Contact).c
    contact_name = sa.func.trim(sa.func.coalesce(contact.first_name, "") + " " + contact.last_name)
    return (sa.select(*entry_columns("call", k.id, k.called_at, title=sa.func.substr(k.summary, 1, TITLE_LENGTH),
                                     status=k.direction, detail=contact_name, user_name=caller.c.full_name,
                                     new_value=sa.cast(k.duration_seconds, sa.Text)))
            .select_from(table_of(Call)).join(caller, caller.c.id == k.user_id)
            .outerjoin(table_of(Contact), contact.id == k.contact_id)
            .where(k.institution_id == institution_id,
                   scope_condition(actor, "record.view", team_column=k.team_id,
                                   owner_columns=(k.user_id, k.created_by))))


def _changes(actor: Actor, institution_id: uuid.UUID) -> Select[Any]:
    """The audit trail (institution and contacts): title = field, detail = action, status = entity."""
    a = table_of(AuditEntry).c
    return sa.select(*entry_columns("change", a.id, a.at, title=a.field, detail=a.action, status=a.entity_type,
                                    user_name=a.actor_name, old_value=a.old_value, new_value=a.new_value)) \
        .where(a.institution_id == institution_id)


register_source("task", _tasks, link=notification_service.LINKS["task"])
register_source("note", _notes, link=notification_service.LINKS["note"])
register_source("meeting", _meetings, link=notification_service.LINKS["meeting"])
register_source("call", _calls, link=notification_service.LINKS["call"])
register_source("change", _changes)
