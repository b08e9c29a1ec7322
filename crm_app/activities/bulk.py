"""Bulk work on institutions: a task, or a meeting invitation, for every institution of a selection
or of a whole filter (a segment), assigned to each institution's owner or to a chosen user.

All or nothing: the rows are written in the caller's one unit of work, a chunk at a time so that the
screen can show the progress (`BulkProgress`, read from another thread), and an error anywhere rolls
every chunk back. Refused as a whole above BULK_LIMIT institutions. The assignee must be within the
actor's `task.assign` reach: an institution without an owner, or whose owner the actor cannot assign
to, goes to the chosen user; without one it is left out and named in the result.

Tasks and meetings are inserted set-based (one statement per chunk): one notification per assignee,
not one per row, and one live event per assignee so that open lists refresh."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm_app.activities.models import (
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    ParticipantResponse,
    Task,
    TaskPriority,
    TaskStatus,
)
from crm_app.institutions.models import Contact, Institution
from crm_app.institutions.service import InstitutionQuery, count_institutions, matching_ids
from crm_app.platform import cleaners as fields
from crm_app.platform import events
from crm_app.platform.cleaners import long_text, moment
from crm_app.platform.db import fetch_all, insert_rows
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import User
from crm_app.platform.permissions import Actor, Placement, authorize, can
from crm_app.platform.records import active_user, actor_id

#: The most institutions one bulk action works on (a larger segment is refused as a whole).
BULK_LIMIT = 5000
#: Rows written per statement; the progress moves by this much.
CHUNK = 250
TOO_MANY = N_("A bulk action works on 5,000 institutions at most: narrow the selection or the filter.")


class BulkKind(StrEnum):
    TASK = "task"
    MEETING = "meeting"


class AssignTo(StrEnum):
    OWNER = "owner"  # each institution's owner (assigned user); the chosen user when it has none
    USER = "user"  # the chosen user, for every institution


CLEANERS: dict[str, fields.Cleaner] = {
    "title": fields.text(200, required=True),
    "description": long_text(10_000),
    "due_at": moment(end_of_day=True),
    "starts_at": moment(),
    "ends_at": moment(),
    "assign_to": fields.choice(AssignTo),
    "user_id": fields.identifier(),
}


@dataclass
class BulkProgress:
    """How far a running bulk action is: written by the service's thread, read by the screen."""

    done: int = 0
    total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, done: int, total: int) -> None:
        with self._lock:
            self.done, self.total = done, total

    def read(self) -> tuple[int, int]:
        with self._lock:
            return self.done, self.total


@dataclass(frozen=True)
class BulkResult:
    kind: BulkKind
    created: int
    to_owners: int  # assigned to the institution's own owner
    to_chosen: int  # assigned to the chosen user
    left_out: int  # institutions without a reachable owner, and no chosen user
    left_out_names: tuple[str, ...] = ()  # the first ones, for the summary


def count_targets(session: Session, actor: Actor, query: InstitutionQuery) -> int:
    """How many institutions a bulk action on `query` (a filter, or a selection through `ids`) covers."""
    authorize(actor, "institution.view")
    return len(set(query.ids)) if query.ids else count_institutions(session, query)


_I = table_of(Institution).c
_CONTACT = table_of(Contact).c
_U = table_of(User).c


def _targets(session: Session, query: InstitutionQuery) -> list[Any]:
    """id, name, owner and the owner's team (active owners only) of every institution of `query`."""
    ids: Any = sorted(set(query.ids)) if query.ids else matching_ids(query).scalar_subquery()
    statement = (
        sa.select(_I.id, _I.name, _U.id.label("owner_id"), _U.team_id.label("owner_team_id"))
        .select_from(table_of(Institution))
        .outerjoin(table_of(User), sa.and_(_U.id == _I.assigned_user_id, _U.is_active))
        .where(_I.id.in_(ids))
        .order_by(_I.name_key, _I.id)
    )
    return list(fetch_all(session, statement))


def _clean(raw: Mapping[str, Any], kind: BulkKind) -> dict[str, Any]:
    values = fields.clean_all(raw, CLEANERS, partial=False)
    now = utcnow()
    errors: dict[str, str] = {}
    if kind is BulkKind.TASK:
        if values.get("due_at") is not None and values["due_at"] < now:
            errors["due_at"] = N_("The due date cannot be in the past.")
    else:
        starts, ends = values.get("starts_at"), values.get("ends_at")
        if starts is None:
            errors["starts_at"] = N_("This field is required.")
        elif starts < now:
            errors["starts_at"] = N_("A meeting invitation must be in the future.")
        if ends is None:
            errors["ends_at"] = N_("This field is required.")
        elif starts is not None and ends <= starts:
            errors["ends_at"] = N_("The end must be after the start.")
    assign_to = values.get("assign_to") or AssignTo.OWNER
    if assign_to is AssignTo.USER and values.get("user_id") is None:
        errors["user_id"] = N_("Choose the user.")
    if errors:
        raise ValidationFailed(errors)
    return {**values, "assign_to": assign_to}


def _chosen(session: Session, actor: Actor, user_id: uuid.UUID | None) -> User | None:
    if user_id is None:
        return None
    user = active_user(session, user_id, "user_id")
    authorize(actor, "task.assign", Placement(team_id=user.team_id, assigned_user_id=user.id))
    return user


def create_for_institutions(
    session: Session,
    actor: Actor,
    query: InstitutionQuery,
    raw: Mapping[str, Any],
    *,
    kind: BulkKind = BulkKind.TASK,
    progress: BulkProgress | None = None,
) -> BulkResult:
    """A task (`title`, `description`, `due_at`) or a meeting (`title`, `description`, `starts_at`,
    `ends_at`, the institution's primary contact invited) for every institution of `query` (a filter, or
    `ids` for a selection), assigned (`assign_to`) to each one's `owner`, or to the chosen `user_id`
    (also the fallback for institutions without an owner the actor may assign to). One unit of work."""
    values = _clean(raw, kind)
    query = replace(query, sort="name", descending=False)
    total = count_targets(session, actor, query)
    if total > BULK_LIMIT:
        raise ValidationFailed({"institutions": TOO_MANY}, TOO_MANY)
    if total == 0:
        raise ValidationFailed({"institutions": N_("No institution to work on.")})
    chosen = _chosen(session, actor, values.get("user_id"))
    targets = _targets(session, query)
    if len(targets) > BULK_LIMIT:  # the list grew since it was counted
        raise ValidationFailed({"institutions": TOO_MANY}, TOO_MANY)
    reachable: dict[uuid.UUID, bool] = {}

    def assignee(row: Any) -> tuple[uuid.UUID, uuid.UUID | None, bool] | None:
        """(user, team, is the owner) for one institution, or None: left out."""
        if values["assign_to"] is AssignTo.OWNER and row.owner_id is not None:
            if row.owner_id not in reachable:
                placement = Placement(team_id=row.owner_team_id, assigned_user_id=row.owner_id)
                reachable[row.owner_id] = can(actor, "task.assign", placement)
            if reachable[row.owner_id]:
                return row.owner_id, row.owner_team_id, True
        if chosen is not None:
            return chosen.id, chosen.team_id, False
        return None

    plan = [(row, assignee(row)) for row in targets]
    kept = [(row, who) for row, who in plan if who is not None]
    left_out = [row.name for row, who in plan if who is None]
    if progress is not None:
        progress.set(0, len(kept))
    first_of: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]] = {}
    for start in range(0, len(kept), CHUNK):
        chunk = kept[start : start + CHUNK]
        written = (
            _write_tasks(session, actor, values, chunk)
            if kind is BulkKind.TASK
            else _write_meetings(session, actor, values, chunk)
        )
        for (_row, who), record_id in zip(chunk, written, strict=True):
            first_of.setdefault(who[0], (record_id, who[1]))
        if progress is not None:
            progress.set(start + len(chunk), len(kept))
    _announce(session, actor, kind, values["title"], first_of)
    to_owners = sum(1 for _row, who in kept if who[2])
    return BulkResult(kind, len(kept), to_owners, len(kept) - to_owners, len(left_out), tuple(left_out[:20]))


def _write_tasks(
    session: Session, actor: Actor, values: Mapping[str, Any], chunk: Sequence[tuple[Any, Any]]
) -> list[uuid.UUID]:
    now, author = utcnow(), actor_id(actor)
    rows = [
        {
            "id": uuid.uuid4(),
            "title": values["title"],
            "description": values.get("description"),
            "status": TaskStatus.TODO.value,
            "priority": TaskPriority.NORMAL.value,
            "due_at": values.get("due_at"),
            "assignee_id": who[0],
            "team_id": who[1],
            "institution_id": row.id,
            "created_at": now,
            "updated_at": now,
            "created_by": author,
            "updated_by": author,
            "version": 1,
        }
        for row, who in chunk
    ]
    insert_rows(session, table_of(Task), rows)
    return [r["id"] for r in rows]


def _write_meetings(
    session: Session, actor: Actor, values: Mapping[str, Any], chunk: Sequence[tuple[Any, Any]]
) -> list[uuid.UUID]:
    now, author = utcnow(), actor_id(actor)
    rows = [
        {
            "id": uuid.uuid4(),
            "title": values["title"],
            "description": values.get("description"),
            "starts_at": values["starts_at"],
            "ends_at": values["ends_at"],
            "status": MeetingStatus.SCHEDULED.value,
            "organizer_id": who[0],
            "team_id": who[1],
            "institution_id": row.id,
            "created_at": now,
            "updated_at": now,
            "created_by": author,
            "updated_by": author,
            "version": 1,
        }
        for row, who in chunk
    ]
    insert_rows(session, table_of(Meeting), rows)
    meeting_of = {r["institution_id"]: r["id"] for r in rows}
    contacts = fetch_all(
        session,
        sa.select(_CONTACT.id, _CONTACT.institution_id).where(
            _CONTACT.institution_id.in_(list(meeting_of)), _CONTACT.is_primary, ~_CONTACT.is_archived
        ),
    )
    participants = [
        {
            "id": uuid.uuid4(),
            "meeting_id": meeting_of[contact.institution_id],
            "contact_id": contact.id,
            "response": ParticipantResponse.INVITED.value,
        }
        for contact in contacts
    ]
    insert_rows(session, table_of(MeetingParticipant), participants)
    return [r["id"] for r in rows]


def _announce(
    session: Session,
    actor: Actor,
    kind: BulkKind,
    title: str,
    first_of: Mapping[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]],
) -> None:
    """One event per assignee (their open lists refresh; a task assignee other than the actor is told
    once, about the first of their tasks)."""
    for user_id, (record_id, team_id) in sorted(first_of.items()):
        if kind is BulkKind.TASK:
            events.publish(
                session,
                events.TaskAssigned(task_id=record_id, title=title, assignee_id=user_id, actor_id=actor_id(actor)),
            )
            events.publish(
                session,
                events.TaskChanged(task_id=record_id, assignee_id=user_id, team_id=team_id, actor_id=actor_id(actor)),
            )
        else:
            events.publish(
                session,
                events.MeetingChanged(meeting_id=record_id, organizer_id=user_id, actor_id=actor_id(actor)),
            )
