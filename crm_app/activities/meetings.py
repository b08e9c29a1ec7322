"""Meetings: organiser, participants (users or contacts) and their answers, status, lists and the
week calendar paged in SQL, and the `.ics` file (RFC 5545).

Who may do what: the organiser and the creator own a meeting; it is seen within the `record.view`
scope and by its participants, edited within the `record.edit` scope. Only a participant answers
for themselves (accepted, declined, tentative), and only while the meeting is scheduled.
Status: scheduled → done | cancelled; done or cancelled → scheduled (reopened).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.activities.models import Meeting, MeetingParticipant, MeetingStatus, ParticipantResponse
from crm_app.institutions.links import check_links, check_opportunity
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import cleaners as fields
from crm_app.platform import comments, events
from crm_app.platform import outbox as mail
from crm_app.platform.cleaners import long_text, moment
from crm_app.platform.days import within_days
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from crm_app.platform.i18n import N_, format_datetime, gettext, use_locale
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.models.people import User
from crm_app.platform.paging import Page, PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor, Placement, authorize, can
from crm_app.platform.records import active_user, actor_id, changed_by_name, get_record, scope_condition
from crm_app.platform.settings import organisation
from crm_app.platform.text import contains_pattern

CLEANERS: dict[str, fields.Cleaner] = {
    "title": fields.text(200, required=True),
    "description": long_text(10_000),
    "starts_at": moment(required=True),
    "ends_at": moment(required=True),
    "location": fields.text(250),
    "status": fields.choice(MeetingStatus),
    "institution_id": fields.identifier(),
    "opportunity_id": fields.identifier(),
}
PARTICIPANT_FIELDS = ("participant_user_ids", "participant_contact_ids")

#: Allowed status moves (staying put is always allowed).
TRANSITIONS: dict[MeetingStatus, set[MeetingStatus]] = {
    MeetingStatus.SCHEDULED: {MeetingStatus.DONE, MeetingStatus.CANCELLED},
    MeetingStatus.DONE: {MeetingStatus.SCHEDULED},
    MeetingStatus.CANCELLED: {MeetingStatus.SCHEDULED},
}
ANSWERS = (ParticipantResponse.ACCEPTED, ParticipantResponse.DECLINED, ParticipantResponse.TENTATIVE)


def _ids(raw: Any, name: str) -> list[uuid.UUID]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple | set):
        raise ValidationFailed({name: N_("Unknown value.")})
    try:
        found = [fields.identifier()(value) for value in raw]
    except ValueError as exc:
        raise ValidationFailed({name: str(exc)}) from None
    return list(dict.fromkeys(i for i in found if i is not None))


def clean(raw: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    return fields.clean_all({k: v for k, v in raw.items() if k not in PARTICIPANT_FIELDS}, CLEANERS, partial=partial)


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValidationFailed({"ends_at": N_("The end must be after the start.")})


def placement(meeting: Meeting) -> Placement:
    return Placement(team_id=meeting.team_id, assigned_user_id=meeting.organizer_id, created_by=meeting.created_by)


def _participant_user_ids(session: Session, meeting_id: uuid.UUID) -> set[uuid.UUID]:
    return {
        uid
        for uid in session.exec(
            select(MeetingParticipant.user_id).where(
                MeetingParticipant.meeting_id == meeting_id, col(MeetingParticipant.user_id).is_not(None)
            )
        ).all()
        if uid
    }


def can_view(session: Session, actor: Actor, meeting: Meeting) -> bool:
    return can(actor, "record.view", placement(meeting)) or actor.id in _participant_user_ids(session, meeting.id)


def _set_users(
    session: Session, meeting: Meeting, current: list[MeetingParticipant], user_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    wanted = [u for u in user_ids if u != meeting.organizer_id]
    for user_id in wanted:
        active_user(session, user_id, "participant_user_ids")
    have = {p.user_id: p for p in current if p.user_id is not None}
    for user_id, participant in have.items():
        if user_id not in wanted:
            session.delete(participant)
    invited = [user_id for user_id in wanted if user_id not in have]
    session.add_all(MeetingParticipant(meeting_id=meeting.id, user_id=user_id) for user_id in invited)
    return invited


def _set_contacts(
    session: Session, meeting: Meeting, current: list[MeetingParticipant], contact_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    if contact_ids:
        known = set(session.exec(select(Contact.id).where(col(Contact.id).in_(contact_ids))).all())
        if any(c not in known for c in contact_ids):
            raise ValidationFailed({"participant_contact_ids": N_("This contact does not exist.")})
    have = {p.contact_id: p for p in current if p.contact_id is not None}
    for contact_id, participant in have.items():
        if contact_id not in contact_ids:
            session.delete(participant)
    invited = [contact_id for contact_id in contact_ids if contact_id not in have]
    session.add_all(MeetingParticipant(meeting_id=meeting.id, contact_id=contact_id) for contact_id in invited)
    return invited


def _set_participants(
    session: Session, meeting: Meeting, user_ids: list[uuid.UUID] | None, contact_ids: list[uuid.UUID] | None
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Replace the invited users and/or contacts (answers kept for those who stay); returns the users
    and the contacts newly invited."""
    current = list(session.exec(select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting.id)).all())
    users = _set_users(session, meeting, current, user_ids) if user_ids is not None else []
    contacts = _set_contacts(session, meeting, current, contact_ids) if contact_ids is not None else []
    session.flush()
    return users, contacts


def _publish_changed(
    session: Session, actor: Actor, meeting: Meeting, participant_user_ids: set[uuid.UUID], *, deleted: bool = False
) -> None:
    events.publish(
        session,
        events.MeetingChanged(
            meeting_id=meeting.id,
            organizer_id=meeting.organizer_id,
            participant_user_ids=tuple(sorted(participant_user_ids)),
            deleted=deleted,
            institution_id=meeting.institution_id,
            actor_id=actor_id(actor),
        ),
    )


def _invite(session: Session, actor: Actor, meeting: Meeting, invited: tuple[list[uuid.UUID], list[uuid.UUID]]) -> None:
    user_ids, contact_ids = invited
    if (user_ids or contact_ids) and meeting.status == MeetingStatus.SCHEDULED:
        events.publish(
            session,
            events.MeetingInvited(
                meeting_id=meeting.id,
                title=meeting.title,
                starts_at=meeting.starts_at,
                user_ids=tuple(user_ids),
                contact_ids=tuple(contact_ids),
                actor_id=actor_id(actor),
            ),
        )


def create_meeting(session: Session, actor: Actor, raw: Mapping[str, Any]) -> Meeting:
    """Plan a meeting organised by the actor; `participant_user_ids` and `participant_contact_ids`
    list the invited. Invited users are told."""
    values = clean(raw, partial=False)
    _check_times(values["starts_at"], values["ends_at"])
    check_links(session, values)
    check_opportunity(session, actor, values)
    if actor_id(actor) is None:
        raise Forbidden("meeting.organize")  # a meeting needs a real organiser
    status = values.get("status") or MeetingStatus.SCHEDULED
    meeting = Meeting(
        title=values["title"],
        description=values.get("description"),
        starts_at=values["starts_at"],
        ends_at=values["ends_at"],
        location=values.get("location"),
        status=status,
        organizer_id=actor.id,
        team_id=actor.team_id,
        institution_id=values.get("institution_id"),
        opportunity_id=values.get("opportunity_id"),
        created_by=actor.id,
        updated_by=actor.id,
    )
    session.add(meeting)
    session.flush()
    invited = _set_participants(
        session,
        meeting,
        _ids(raw.get("participant_user_ids"), "participant_user_ids"),
        _ids(raw.get("participant_contact_ids"), "participant_contact_ids"),
    )
    _invite(session, actor, meeting, invited)
    events.publish(
        session,
        events.MeetingScheduled(
            meeting_id=meeting.id, status=MeetingStatus(meeting.status).value, actor_id=actor_id(actor)
        ),
    )
    return meeting


def get_meeting(session: Session, meeting_id: uuid.UUID, *, for_update: bool = False) -> Meeting:
    return get_record(session, Meeting, meeting_id, missing=N_("This meeting does not exist."), for_update=for_update)


def update_meeting(
    session: Session, actor: Actor, meeting_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Meeting:
    """Change the fields, the status (see TRANSITIONS) and the participants; users newly invited are told."""
    meeting = get_meeting(session, meeting_id, for_update=True)
    authorize(actor, "record.edit", placement(meeting))
    if meeting.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, meeting.updated_by))
    values = clean(raw, partial=True)
    for name in ("title", "starts_at", "ends_at"):
        if name in values and not values[name]:
            raise ValidationFailed({name: N_("This field is required.")})
    if "status" in values and values["status"] is None:
        del values["status"]
    changes = {name: value for name, value in values.items() if getattr(meeting, name) != value}
    if "status" in changes and changes["status"] not in TRANSITIONS[MeetingStatus(meeting.status)]:
        raise InvalidTransition(MeetingStatus(meeting.status).value)
    _check_times(changes.get("starts_at", meeting.starts_at), changes.get("ends_at", meeting.ends_at))
    if "institution_id" in changes:
        check_links(session, changes)
    if "institution_id" in changes or "opportunity_id" in changes:
        check_opportunity(
            session,
            actor,
            changes,
            current_institution=meeting.institution_id,
            current_opportunity=meeting.opportunity_id,
        )
    users = _ids(raw["participant_user_ids"], "participant_user_ids") if "participant_user_ids" in raw else None
    contacts = (
        _ids(raw["participant_contact_ids"], "participant_contact_ids") if "participant_contact_ids" in raw else None
    )
    for name, value in changes.items():
        setattr(meeting, name, value)
    before = _participant_user_ids(session, meeting.id)  # those no longer invited see it go too
    invited = _set_participants(session, meeting, users, contacts)
    if not changes and users is None and contacts is None:
        return meeting
    meeting.updated_by = actor_id(actor)
    meeting.touch()
    session.add(meeting)
    session.flush()
    _invite(session, actor, meeting, invited)
    _publish_changed(session, actor, meeting, before | _participant_user_ids(session, meeting.id))
    return meeting


def set_meeting_status(
    session: Session, actor: Actor, meeting_id: uuid.UUID, status: MeetingStatus | str, *, expected_version: int
) -> Meeting:
    return update_meeting(session, actor, meeting_id, {"status": status}, expected_version=expected_version)


def respond(
    session: Session, actor: Actor, meeting_id: uuid.UUID, response: ParticipantResponse | str
) -> MeetingParticipant:
    """The actor answers an invitation (accepted, declined, tentative); the organiser is told."""
    try:
        answer = ParticipantResponse(response)
    except ValueError:
        answer = None
    if answer not in ANSWERS:
        raise ValidationFailed({"response": N_("Unknown value.")})
    meeting = get_meeting(session, meeting_id)
    participant = session.exec(
        select(MeetingParticipant)
        .where(MeetingParticipant.meeting_id == meeting.id, MeetingParticipant.user_id == actor.id)
        .with_for_update()
    ).first()
    if participant is None:
        raise Forbidden("meeting.respond")
    if meeting.status != MeetingStatus.SCHEDULED:
        raise InvalidTransition(MeetingStatus(meeting.status).value, N_("Only a scheduled meeting can be answered."))
    if participant.response != answer:
        participant.response = answer
        participant.responded_at = utcnow()
        session.add(participant)
        session.flush()
        events.publish(
            session,
            events.MeetingAnswered(
                meeting_id=meeting.id,
                title=meeting.title,
                organizer_id=meeting.organizer_id,
                participant_id=actor.id,
                response=answer.value,
                actor_id=actor.id,
            ),
        )
        _publish_changed(session, actor, meeting, _participant_user_ids(session, meeting.id))
    return participant


def delete_meeting(session: Session, actor: Actor, meeting_id: uuid.UUID) -> None:
    """Delete a meeting with its participants and comments (cancelling keeps it instead)."""
    meeting = get_meeting(session, meeting_id, for_update=True)
    authorize(actor, "record.edit", placement(meeting))
    participant_user_ids = _participant_user_ids(session, meeting.id)
    comments.delete_for_target(session, CommentTarget.MEETING, meeting.id)
    session.delete(meeting)
    session.flush()
    _publish_changed(session, actor, meeting, participant_user_ids, deleted=True)


def _comment_target(session: Session, meeting_id: uuid.UUID) -> comments.Target:
    meeting = get_meeting(session, meeting_id)
    return comments.Target(
        CommentTarget.MEETING, meeting.id, meeting.title, lambda actor: can_view(session, actor, meeting)
    )


COMMENT_TARGETS: dict[CommentTarget, comments.TargetResolver] = {CommentTarget.MEETING: _comment_target}


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    id: uuid.UUID
    user_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    name: str
    email: str | None
    response: ParticipantResponse
    responded_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeetingRow:
    id: uuid.UUID
    title: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    location: str | None
    status: MeetingStatus
    organizer_id: uuid.UUID
    organizer_name: str
    organizer_email: str
    team_id: uuid.UUID | None
    institution_id: uuid.UUID | None
    institution_name: str | None
    opportunity_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    participants: list[ParticipantRow] = field(default_factory=list)
    my_response: ParticipantResponse | None = None  # when the actor is invited
    can_edit: bool = False


_M = table_of(Meeting).c
_P = table_of(MeetingParticipant).c
_I = table_of(Institution).c
_ORGANIZER = table_of(User).alias("organizer")


def visible_condition(actor: Actor) -> Any:
    """SQL: the meetings the actor may see (scope, or invited)."""
    invited = sa.exists().where(_P.meeting_id == _M.id, _P.user_id == actor.id)
    return sa.or_(
        scope_condition(actor, "record.view", team_column=_M.team_id, owner_columns=(_M.organizer_id, _M.created_by)),
        invited,
    )


@dataclass(frozen=True)
class MeetingQuery:
    mine: bool = False  # organised by the actor or inviting them
    starts_from: datetime | None = None  # the calendar's window: meetings overlapping [from, to)
    starts_to: datetime | None = None
    statuses: tuple[MeetingStatus, ...] = ()
    institution_id: uuid.UUID | None = None
    opportunity_id: uuid.UUID | None = None
    q: str = ""
    descending: bool = False
    organizer_id: uuid.UUID | None = None
    start_from: date | None = None  # starting on these days (the organisation's time zone)
    start_to: date | None = None


def _conditions(actor: Actor, query: MeetingQuery) -> list[Any]:
    conditions = [visible_condition(actor)]
    if query.mine:
        conditions.append(
            sa.or_(_M.organizer_id == actor.id, sa.exists().where(_P.meeting_id == _M.id, _P.user_id == actor.id))
        )
    if query.starts_from is not None:
        conditions.append(_M.ends_at > query.starts_from)
    if query.starts_to is not None:
        conditions.append(_M.starts_at < query.starts_to)
    if query.statuses:
        conditions.append(_M.status.in_([s.value for s in query.statuses]))
    if query.institution_id is not None:
        conditions.append(_M.institution_id == query.institution_id)
    if query.opportunity_id is not None:
        conditions.append(_M.opportunity_id == query.opportunity_id)
    if query.organizer_id is not None:
        conditions.append(_M.organizer_id == query.organizer_id)
    conditions += within_days(_M.starts_at, query.start_from, query.start_to)
    if query.q.strip():
        conditions.append(sa.func.lower(_M.title).like(contains_pattern(query.q.strip().lower()), escape="\\"))
    return conditions


def _select() -> Any:
    return (
        sa.select(
            _M.id,
            _M.title,
            _M.description,
            _M.starts_at,
            _M.ends_at,
            _M.location,
            _M.status,
            _M.organizer_id,
            _ORGANIZER.c.full_name.label("organizer_name"),
            _ORGANIZER.c.email.label("organizer_email"),
            _M.team_id,
            _M.institution_id,
            _I.name.label("institution_name"),
            _M.opportunity_id,
            _M.created_by,
            _M.created_at,
            _M.updated_at,
            _M.version,
        )
        .select_from(table_of(Meeting))
        .join(_ORGANIZER, _ORGANIZER.c.id == _M.organizer_id)
        .outerjoin(table_of(Institution), _I.id == _M.institution_id)
    )


def _participants(session: Session, meeting_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ParticipantRow]]:
    if not meeting_ids:
        return {}
    users, contacts = table_of(User), table_of(Contact)
    contact_name = sa.func.trim(sa.func.coalesce(contacts.c.first_name, "") + " " + contacts.c.last_name)
    statement = (
        sa.select(
            _P.meeting_id,
            _P.id,
            _P.user_id,
            _P.contact_id,
            sa.func.coalesce(users.c.full_name, contact_name).label("name"),
            sa.func.coalesce(users.c.email, contacts.c.email).label("email"),
            _P.response,
            _P.responded_at,
        )
        .select_from(table_of(MeetingParticipant))
        .outerjoin(users, users.c.id == _P.user_id)
        .outerjoin(contacts, contacts.c.id == _P.contact_id)
        .where(_P.meeting_id.in_(meeting_ids))
        .order_by(_P.meeting_id, _P.user_id.is_(None), sa.text("name"))
    )
    found: dict[uuid.UUID, list[ParticipantRow]] = {}
    for row in fetch_all(session, statement):
        found.setdefault(row.meeting_id, []).append(
            ParticipantRow(
                row.id,
                row.user_id,
                row.contact_id,
                row.name,
                row.email,
                ParticipantResponse(row.response),
                row.responded_at,
            )
        )
    return found


def _rows(session: Session, actor: Actor, statement: Any) -> list[MeetingRow]:
    found = fetch_all(session, statement)
    participants = _participants(session, [row.id for row in found])
    rows = []
    for row in found:
        people = participants.get(row.id, [])
        mine = next((p.response for p in people if p.user_id == actor.id), None)
        rows.append(
            MeetingRow(
                **{**row._asdict(), "status": MeetingStatus(row.status)},
                participants=people,
                my_response=mine,
                can_edit=can(
                    actor,
                    "record.edit",
                    Placement(team_id=row.team_id, assigned_user_id=row.organizer_id, created_by=row.created_by),
                ),
            )
        )
    return rows


def list_meetings(
    session: Session, actor: Actor, query: MeetingQuery | None = None, request: PageRequest | None = None
) -> Page[MeetingRow]:
    """Meetings the actor may see, by start time (a window for the calendar), paged in SQL."""
    query = query or MeetingQuery()
    request = request or PageRequest()
    conditions = _conditions(actor, query)
    order = (_M.starts_at.desc(), _M.id.desc()) if query.descending else (_M.starts_at.asc(), _M.id.asc())
    statement = _select().where(*conditions).order_by(*order).offset(request.offset).limit(request.page_size)
    total = session.exec(select(sa.func.count()).select_from(Meeting).where(*conditions)).one()
    return Page(_rows(session, actor, statement), int(total), request.page, request.page_size)


def get_meeting_row(session: Session, actor: Actor, meeting_id: uuid.UUID) -> MeetingRow:
    meeting = get_meeting(session, meeting_id)
    if not can_view(session, actor, meeting):
        raise Forbidden("record.view")
    return _rows(session, actor, _select().where(_M.id == meeting_id))[0]


# --------------------------------------------------------------------------------------------
# iCalendar (RFC 5545): short enough to write by hand; no dependency for one VEVENT


_PARTSTAT = {
    ParticipantResponse.INVITED: "NEEDS-ACTION",
    ParticipantResponse.ACCEPTED: "ACCEPTED",
    ParticipantResponse.DECLINED: "DECLINED",
    ParticipantResponse.TENTATIVE: "TENTATIVE",
}
_ICS_STATUS = {
    MeetingStatus.SCHEDULED: "CONFIRMED",
    MeetingStatus.DONE: "CONFIRMED",
    MeetingStatus.CANCELLED: "CANCELLED",
}


def _ics_text(value: str) -> str:
    """TEXT value escaping (3.3.11)."""
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _ics_param(value: str) -> str:
    """A parameter value (3.2): quoted, without the characters a quoted value cannot hold."""
    return '"' + "".join(c for c in value if c not in '"\r\n') + '"'


def _ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with CRLF + space (3.1), never splitting a character."""
    parts: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not parts else 74
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = char
        else:
            current += char
    parts.append(current)
    return "\r\n ".join(parts)


def render_ics(meeting: MeetingRow, *, method: str | None = None, stamp: datetime | None = None) -> str:
    """The meeting as an iCalendar file. Without `method` (a download) DTSTAMP is the last change;
    with one (an emailed REQUEST or CANCEL) it is `stamp`, by default now. UID is stable, SEQUENCE
    follows the version, times are in UTC."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//OPEx CRM//Meetings//EN", "CALSCALE:GREGORIAN"]
    if method:
        lines.append(f"METHOD:{method.upper()}")
    lines += [
        "BEGIN:VEVENT",
        f"UID:{meeting.id}@opex-crm",
        f"DTSTAMP:{_ics_time((stamp or utcnow()) if method else meeting.updated_at)}",
        f"CREATED:{_ics_time(meeting.created_at)}",
        f"LAST-MODIFIED:{_ics_time(meeting.updated_at)}",
        f"SEQUENCE:{meeting.version - 1}",
        f"DTSTART:{_ics_time(meeting.starts_at)}",
        f"DTEND:{_ics_time(meeting.ends_at)}",
        f"SUMMARY:{_ics_text(meeting.title)}",
        f"STATUS:{_ICS_STATUS[meeting.status]}",
    ]
    if meeting.location:
        lines.append(f"LOCATION:{_ics_text(meeting.location)}")
    if meeting.description:
        lines.append(f"DESCRIPTION:{_ics_text(meeting.description)}")
    lines.append(f"ORGANIZER;CN={_ics_param(meeting.organizer_name)}:mailto:{meeting.organizer_email}")
    for person in meeting.participants:
        if person.email:  # an attendee is a calendar address: people without email cannot be one
            lines.append(
                f"ATTENDEE;CN={_ics_param(person.name)};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;"
                f"PARTSTAT={_PARTSTAT[person.response]};RSVP=TRUE:mailto:{person.email}"
            )
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(_fold(line) + "\r\n" for line in lines)


def meeting_ics(session: Session, actor: Actor, meeting_id: uuid.UUID, *, method: str | None = None) -> str:
    """The `.ics` of a meeting the actor may see."""
    return render_ics(get_meeting_row(session, actor, meeting_id), method=method)


# --------------------------------------------------------------------------------------------
# Invitations by email: one message per newly invited person, in their language, with the .ics


def _email_invitations(session: Session, event: events.MeetingInvited) -> None:
    """Queue the invitations in the inviting unit of work (sent after the commit, once: the outbox's
    key names the participant and the meeting's version)."""
    [meeting] = _rows(session, SYSTEM_ACTOR, _select().where(_M.id == event.meeting_id))
    wanted = set(event.user_ids) | set(event.contact_ids)
    languages = (
        dict(session.exec(select(User.id, User.language).where(col(User.id).in_(event.user_ids))).all())
        if event.user_ids
        else {}
    )
    ics = render_ics(meeting, method="REQUEST").encode()
    org = organisation(session)
    for person in meeting.participants:
        if not person.email or (person.user_id or person.contact_id) not in wanted:
            continue
        with use_locale((languages.get(person.user_id) if person.user_id else None) or org["default_language"]):
            when = format_datetime(meeting.starts_at, org["timezone"], style="full")
            text = "\n\n".join(
                part
                for part in (
                    gettext(
                        "{organizer} invites you to “{title}” on {when}.",
                        organizer=meeting.organizer_name,
                        title=meeting.title,
                        when=when,
                    ),
                    gettext("Location: {location}", location=meeting.location) if meeting.location else "",
                    meeting.description or "",
                    gettext("The invitation is attached: open it to add the meeting to your calendar and answer."),
                    f"{meeting.organizer_name} · {org['name']}",
                )
                if part
            )
            subject = gettext("Invitation: {title}", title=meeting.title)
        mail.enqueue(
            session,
            to=[(person.name, person.email)],
            subject=subject,
            text=text,
            reply_to=(meeting.organizer_name, meeting.organizer_email),
            attachments=[mail.Attachment("invitation.ics", "text/calendar; method=REQUEST; charset=UTF-8", ics)],
            dedupe_key=f"meeting-invitation:{meeting.id}:{person.id}:{meeting.version}",
            related=("meeting", meeting.id),
        )


SUBSCRIBERS: tuple[events.Subscription, ...] = (events.Subscription(events.MeetingInvited, _email_invitations),)
