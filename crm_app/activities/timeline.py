"""The activities' entries in an institution's timeline (`crm_app.institutions.timeline`): tasks, notes,
meetings and calls, each limited to what the reader may see; the same entries for an opportunity (its
page's activities: `opportunity_activities`); and who may read each of them (`RECORD_VISIBILITY`:
their notifications, their comments' mentions).

The sources' `by` names the column they are read by: `institution_id` (the timeline) or
`opportunity_id` (an opportunity's activities)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlmodel import Session

from crm_app.activities import meetings, notes
from crm_app.activities.models import Call, Meeting, Note, Task
from crm_app.activities.notifications import RECORD_LINKS
from crm_app.institutions.links import OPPORTUNITY
from crm_app.institutions.models import Contact
from crm_app.institutions.timeline import TITLE_LENGTH, TimelineEntry, TimelineSource, entry_columns
from crm_app.platform import records
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Forbidden
from crm_app.platform.models.base import table_of
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import Actor
from crm_app.platform.records import Visibility, exists_visible, scope_condition
from crm_app.platform.settings import KIND_MODULES, disabled_modules


def _tasks(actor: Actor, institution_id: uuid.UUID, *, by: str = "institution_id") -> Select[Any]:
    t, assignee = table_of(Task).c, table_of(User).alias("task_assignee")
    return (
        sa.select(
            *entry_columns(
                "task",
                t.id,
                t.created_at,
                title=t.title,
                status=t.status,
                detail=sa.func.substr(t.description, 1, TITLE_LENGTH),
                user_name=assignee.c.full_name,
            )
        )
        .select_from(table_of(Task))
        .join(assignee, assignee.c.id == t.assignee_id)
        .where(
            t[by] == institution_id,
            scope_condition(actor, "record.view", team_column=t.team_id, owner_columns=(t.assignee_id, t.created_by)),
        )
    )


def _notes(actor: Actor, institution_id: uuid.UUID, *, by: str = "institution_id") -> Select[Any]:
    n, author = table_of(Note).c, table_of(User).alias("note_author")
    return (
        sa.select(
            *entry_columns(
                "note",
                n.id,
                n.created_at,
                title=sa.func.substr(n.body, 1, TITLE_LENGTH),
                status=n.visibility,
                user_name=author.c.full_name,
            )
        )
        .select_from(table_of(Note))
        .outerjoin(author, author.c.id == n.created_by)
        .where(n[by] == institution_id, notes.readable_condition(actor))
    )


def _meetings(actor: Actor, institution_id: uuid.UUID, *, by: str = "institution_id") -> Select[Any]:
    m, organizer = table_of(Meeting).c, table_of(User).alias("meeting_organizer")
    return (
        sa.select(
            *entry_columns(
                "meeting",
                m.id,
                m.starts_at,
                title=m.title,
                status=m.status,
                detail=m.location,
                user_name=organizer.c.full_name,
            )
        )
        .select_from(table_of(Meeting))
        .join(organizer, organizer.c.id == m.organizer_id)
        .where(m[by] == institution_id, meetings.visible_condition(actor))
    )


def _calls(actor: Actor, institution_id: uuid.UUID, *, by: str = "institution_id") -> Select[Any]:
    k, caller, contact = table_of(Call).c, table_of(User).alias("call_user"), table_of(Contact).c
    contact_name = sa.func.trim(sa.func.coalesce(contact.first_name, "") + " " + contact.last_name)
    return (
        sa.select(
            *entry_columns(
                "call",
                k.id,
                k.called_at,
                title=sa.func.substr(k.summary, 1, TITLE_LENGTH),
                status=k.direction,
                detail=contact_name,
                user_name=caller.c.full_name,
                new_value=sa.cast(k.duration_seconds, sa.Text),
            )
        )
        .select_from(table_of(Call))
        .join(caller, caller.c.id == k.user_id)
        .outerjoin(table_of(Contact), contact.id == k.contact_id)
        .where(
            k[by] == institution_id,
            scope_condition(actor, "record.view", team_column=k.team_id, owner_columns=(k.user_id, k.created_by)),
        )
    )


_SOURCES = (("task", _tasks), ("note", _notes), ("meeting", _meetings), ("call", _calls))
TIMELINE_SOURCES: tuple[TimelineSource, ...] = tuple(
    TimelineSource(kind, source, RECORD_LINKS[kind]) for kind, source in _SOURCES
)


def opportunity_activities(
    session: Session,
    actor: Actor,
    opportunity_id: uuid.UUID,
    request: PageRequest | None = None,
    *,
    kinds: Sequence[str] | None = None,
) -> Page[TimelineEntry]:
    """The tasks, notes, meetings and calls linked to the opportunity that the actor may see, newest
    first, paged in SQL (one UNION ALL); the kinds of the modules switched off are left out. Refused
    when the actor may not see the opportunity."""
    linked = records.linked(session, actor, OPPORTUNITY, opportunity_id)
    if not linked.is_visible:
        raise Forbidden("opportunity.view")
    request = request or PageRequest()
    off = disabled_modules(session)
    chosen = [
        (kind, source)
        for kind, source in _SOURCES
        if (kinds is None or kind in kinds) and KIND_MODULES.get(kind) not in off
    ]
    if not chosen:
        return Page([], 0, request.page, request.page_size)
    union = sa.union_all(*(source(actor, opportunity_id, by="opportunity_id") for _kind, source in chosen)).subquery(
        "opportunity_activities"
    )
    total = fetch_all(session, sa.select(sa.func.count()).select_from(union))[0][0]
    rows = fetch_all(
        session,
        sa.select(union)
        .order_by(union.c.at.desc(), union.c.kind, union.c.record_id.desc())
        .offset(request.offset)
        .limit(request.page_size),
    )
    entries = [TimelineEntry(**row._asdict(), link=RECORD_LINKS[row.kind].format(id=row.record_id)) for row in rows]
    return Page(entries, int(total), request.page, request.page_size)


def _visible_task(actor: Actor, task_id: Any) -> Any:
    t = table_of(Task).c
    condition = scope_condition(
        actor, "record.view", team_column=t.team_id, owner_columns=(t.assignee_id, t.created_by)
    )
    return exists_visible(t.id, condition, task_id)


def _visible_note(actor: Actor, note_id: Any) -> Any:
    return exists_visible(table_of(Note).c.id, notes.readable_condition(actor), note_id)


def _visible_meeting(actor: Actor, meeting_id: Any) -> Any:
    return exists_visible(table_of(Meeting).c.id, meetings.visible_condition(actor), meeting_id)


def _visible_call(actor: Actor, call_id: Any) -> Any:
    k = table_of(Call).c
    condition = scope_condition(actor, "record.view", team_column=k.team_id, owner_columns=(k.user_id, k.created_by))
    return exists_visible(k.id, condition, call_id)


#: Who may read each activity: the rights of its own page, as SQL.
RECORD_VISIBILITY: dict[str, Visibility] = {
    "task": _visible_task,
    "note": _visible_note,
    "meeting": _visible_meeting,
    "call": _visible_call,
}
