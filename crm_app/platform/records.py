"""What tasks, notes, meetings and calls share: who sees them (in SQL and for one record), the
links to an institution and a contact, loading one record, date-time input, user names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from crm_app.activities.models import (
    CallDirection,
    MeetingStatus,
    NoteVisibility,
    ParticipantResponse,
    TaskPriority,
    TaskStatus,
)
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import cleaners as fields
from crm_app.platform.errors import NotFound, ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.models.people import User
from crm_app.platform.permissions import Actor, Scope, scope_for

TASK_STATUS_LABELS: dict[TaskStatus, str] = {
    TaskStatus.TODO: N_("To do"),
    TaskStatus.IN_PROGRESS: N_("In progress"),
    TaskStatus.DONE: N_("Done"),
    TaskStatus.CANCELLED: N_("Cancelled"),
}
TASK_PRIORITY_LABELS: dict[TaskPriority, str] = {
    TaskPriority.LOW: N_("Low"),
    TaskPriority.NORMAL: N_("Normal"),
    TaskPriority.HIGH: N_("High"),
    TaskPriority.URGENT: N_("Urgent"),
}
NOTE_VISIBILITY_LABELS: dict[NoteVisibility, str] = {
    NoteVisibility.PRIVATE: N_("Private"),
    NoteVisibility.SHARED: N_("Shared"),
}
MEETING_STATUS_LABELS: dict[MeetingStatus, str] = {
    MeetingStatus.SCHEDULED: N_("Scheduled"),
    MeetingStatus.DONE: N_("Held"),
    MeetingStatus.CANCELLED: N_("Cancelled"),
}
RESPONSE_LABELS: dict[ParticipantResponse, str] = {
    ParticipantResponse.INVITED: N_("Invited"),
    ParticipantResponse.ACCEPTED: N_("Accepted"),
    ParticipantResponse.DECLINED: N_("Declined"),
    ParticipantResponse.TENTATIVE: N_("Tentative"),
}
CALL_DIRECTION_LABELS: dict[CallDirection, str] = {
    CallDirection.IN: N_("Incoming"),
    CallDirection.OUT: N_("Outgoing"),
    CallDirection.MISSED: N_("Missed"),
}


R = TypeVar("R", bound=SQLModel)


def get_record(session: Session, model: type[R], record_id: uuid.UUID, *, missing: str,
               for_update: bool = False) -> R:
    """The row, or NotFound(`missing`). `for_update` locks it until the end of the unit of work (two saves
    of the same version cannot both pass the version check)."""
    record = session.get(model, record_id, with_for_update=for_update or None, populate_existing=for_update)
    if record is None:
        raise NotFound(missing)
    return record


def actor_id(actor: Actor) -> uuid.UUID | None:
    """The actor's id as stored in `created_by` / `updated_by` (None for the system)."""
    return actor.id if actor.id.int else None


def scope_condition(actor: Actor, action: str, *, team_column: Any, owner_columns: Iterable[Any]) -> Any:
    """The SQL condition equivalent to `can(actor, action, row)` for rows owned through
    `owner_columns` (assignee, organiser, author...) and placed in a team by `team_column`."""
    scope = scope_for(actor, action)
    if scope is Scope.NONE:
        return sa.false()
    if scope is Scope.ALL:
        return sa.true()
    owned = sa.or_(*(column == actor.id for column in owner_columns))
    if scope is Scope.TEAM and actor.team_id is not None:
        return sa.or_(owned, team_column == actor.team_id)
    return owned


# --------------------------------------------------------------------------------------------
# Input


def _zone() -> ZoneInfo:
    from crm_app.platform.settings import organisation  # settings imports nothing from the activities

    return ZoneInfo(organisation()["timezone"])


def moment(*, required: bool = False, end_of_day: bool = False) -> fields.Cleaner:
    """A date and time: an aware datetime, ISO text with or without offset (without: the configured
    time zone), or a date alone (its start, or its last second with `end_of_day`). Stored in UTC,
    to the second."""
    day_time = time(23, 59, 59) if end_of_day else time.min

    def clean(value: Any) -> datetime | None:
        if fields.is_blank(value):
            if required:
                raise ValueError(N_("This field is required."))
            return None
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime.combine(value, day_time)
        else:
            raw = str(value).strip()
            try:
                parsed = datetime.fromisoformat(raw)
                if len(raw) <= 10:  # a date alone
                    parsed = datetime.combine(parsed.date(), day_time)
            except ValueError:
                try:
                    day = fields.day()(raw)
                except ValueError:
                    raise ValueError(N_("Enter a date and time.")) from None
                parsed = datetime.combine(day, day_time)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone())
        return parsed.astimezone(UTC).replace(microsecond=0)
    return clean


def long_text(max_length: int, *, required: bool = False) -> fields.Cleaner:
    """Free text on several lines (descriptions, notes, comments): trimmed, line breaks kept."""
    def clean(value: Any) -> str | None:
        if fields.is_blank(value):
            if required:
                raise ValueError(N_("This field is required."))
            return None
        result = "\n".join(line.rstrip() for line in str(value).replace("\r\n", "\n").split("\n")).strip()
        if len(result) > max_length:
            raise ValueError(N_("Too long."))
        return result
    return clean


def positive_duration(*, maximum: int = 24 * 3600) -> fields.Cleaner:
    return fields.whole_number(minimum=0, maximum=maximum)


# --------------------------------------------------------------------------------------------
# Links to an institution, a contact, users


def check_links(session: Session, values: dict[str, Any], *, current_institution: uuid.UUID | None = None) -> None:
    """The institution and contact exist and agree; a contact alone brings its institution.
    Mutates `values` (fills `institution_id`); raises ValidationFailed naming the field."""
    errors: dict[str, str] = {}
    institution_id = values.get("institution_id", current_institution)
    if values.get("institution_id") is not None and session.get(Institution, values["institution_id"]) is None:
        errors["institution_id"] = N_("This institution does not exist.")
    if values.get("contact_id") is not None:
        contact = session.get(Contact, values["contact_id"])
        if contact is None:
            errors["contact_id"] = N_("This contact does not exist.")
        elif institution_id is None:
            values["institution_id"] = contact.institution_id
        elif contact.institution_id != institution_id:
            errors["contact_id"] = N_("This contact belongs to another institution.")
    if errors:
        raise ValidationFailed(errors)


def active_user(session: Session, user_id: uuid.UUID | None, field: str) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        raise ValidationFailed({field: N_("This user does not exist or is deactivated.")})
    return user


def user_names(session: Session, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Full names of the given users in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.full_name).where(col(User.id).in_(wanted))).all())


def changed_by_name(session: Session, user_id: uuid.UUID | None) -> str:
    """Who saved a record last, for the stale-version message."""
    name = user_names(session, [user_id]).get(user_id) if user_id is not None else None
    return name or N_("Someone")
