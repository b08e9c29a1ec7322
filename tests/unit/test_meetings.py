"""Meetings: participants and their answers, status, visibility, the calendar window and the .ics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from crm_app.activities import meetings
from crm_app.activities.meetings import MeetingQuery
from crm_app.activities.models import MeetingStatus, ParticipantResponse
from crm_app.platform import events
from crm_app.platform.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from tests.activity_factories import Org, make_meeting, make_org, notifications_of
from tests.institution_factories import make_contact, make_institution

START = datetime(2026, 3, 5, 13, 30, tzinfo=UTC)


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def _ids(page: meetings.Page[meetings.MeetingRow]) -> set[uuid.UUID]:
    return {row.id for row in page.items}


def test_a_meeting_invites_users_and_contacts(db: Session, org: Org) -> None:
    institution = make_institution(db, name="CHU de Bordeaux")
    contact = make_contact(db, institution, first_name="Jeanne", last_name="Dupont", email="j.dupont@chu.fr")
    meeting = make_meeting(
        db,
        org.rep_a.actor,
        title="Démo endoscopie",
        institution_id=institution.id,
        starts_at=START,
        participant_user_ids=[org.rep_a2.id, org.rep_a.id],
        participant_contact_ids=[contact.id],
    )
    row = meetings.get_meeting_row(db, org.rep_a.actor, meeting.id)
    assert row.organizer_name == "Anne Aubert" and row.institution_name == "CHU de Bordeaux"
    assert [(p.name, p.response) for p in row.participants] == [
        ("Alain Amiel", ParticipantResponse.INVITED),
        ("Jeanne Dupont", ParticipantResponse.INVITED),
    ]
    [invitation] = notifications_of(db, org.rep_a2)
    assert invitation.kind == "meeting.invited" and invitation.link == f"/meetings/{meeting.id}"
    assert notifications_of(db, org.rep_a) == []  # the organiser is not invited to their own meeting


def test_meeting_validation(db: Session, org: Org) -> None:
    with pytest.raises(ValidationFailed) as refused:
        meetings.create_meeting(db, org.rep_a.actor, {"title": "X", "starts_at": START, "ends_at": START})
    assert refused.value.field_errors == {"ends_at": "The end must be after the start."}
    with pytest.raises(ValidationFailed) as refused:
        meetings.create_meeting(db, org.rep_a.actor, {"title": "", "starts_at": "soon"})
    assert refused.value.field_errors == {
        "title": "This field is required.",
        "starts_at": "Enter a date and time.",
        "ends_at": "This field is required.",
    }
    with pytest.raises(ValidationFailed) as refused:
        make_meeting(db, org.rep_a.actor, participant_contact_ids=[uuid.uuid4()])
    assert refused.value.field_errors == {"participant_contact_ids": "This contact does not exist."}


def test_only_the_participant_answers_and_the_organiser_is_told(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.rep_a.actor, participant_user_ids=[org.rep_a2.id])
    with pytest.raises(Forbidden):
        meetings.respond(db, org.rep_b.actor, meeting.id, "accepted")
    with pytest.raises(Forbidden):
        meetings.respond(db, org.rep_a.actor, meeting.id, "accepted")  # the organiser is not a participant
    with pytest.raises(ValidationFailed):
        meetings.respond(db, org.rep_a2.actor, meeting.id, "invited")
    meetings.respond(db, org.rep_a2.actor, meeting.id, "tentative")
    row = meetings.get_meeting_row(db, org.rep_a2.actor, meeting.id)
    assert row.my_response == ParticipantResponse.TENTATIVE and row.participants[0].responded_at is not None
    [answer] = notifications_of(db, org.rep_a)
    assert answer.kind == "meeting.answered" and answer.params["response"] == "tentative"
    meetings.respond(db, org.rep_a2.actor, meeting.id, "tentative")  # the same answer again: nobody is told
    assert len(notifications_of(db, org.rep_a)) == 1


def test_a_cancelled_meeting_cannot_be_answered(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.rep_a.actor, participant_user_ids=[org.rep_a2.id])
    meetings.set_meeting_status(db, org.rep_a.actor, meeting.id, "cancelled", expected_version=1)
    with pytest.raises(InvalidTransition) as refused:
        meetings.respond(db, org.rep_a2.actor, meeting.id, "accepted")
    assert refused.value.current_status == "cancelled"


def test_status_moves(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.rep_a.actor)
    meetings.set_meeting_status(db, org.rep_a.actor, meeting.id, "done", expected_version=1)
    with pytest.raises(InvalidTransition) as refused:
        meetings.set_meeting_status(db, org.rep_a.actor, meeting.id, "cancelled", expected_version=2)
    assert refused.value.current_status == "done"
    meetings.set_meeting_status(db, org.rep_a.actor, meeting.id, "scheduled", expected_version=2)
    assert meeting.status == MeetingStatus.SCHEDULED and meeting.version == 3


def test_participants_see_a_meeting_others_of_another_team_do_not(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.rep_a.actor, participant_user_ids=[org.rep_b.id])
    for person in (org.rep_a, org.rep_b, org.manager_a, org.admin):
        assert meeting.id in _ids(meetings.list_meetings(db, person.actor))
    with pytest.raises(Forbidden):
        meetings.get_meeting_row(db, org.rep_a2.actor, meeting.id)
    assert meeting.id not in _ids(meetings.list_meetings(db, org.rep_a2.actor))
    # A participant sees it but does not edit it.
    assert not meetings.get_meeting_row(db, org.rep_b.actor, meeting.id).can_edit
    with pytest.raises(Forbidden):
        meetings.update_meeting(db, org.rep_b.actor, meeting.id, {"title": "Mine"}, expected_version=1)


def test_changing_participants_keeps_answers_and_invites_only_the_new_ones(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.manager_a.actor, participant_user_ids=[org.rep_a.id])
    meetings.respond(db, org.rep_a.actor, meeting.id, "accepted")
    meetings.update_meeting(
        db, org.manager_a.actor, meeting.id, {"participant_user_ids": [org.rep_a.id, org.rep_a2.id]}, expected_version=1
    )
    row = meetings.get_meeting_row(db, org.manager_a.actor, meeting.id)
    assert {p.user_id: p.response for p in row.participants} == {
        org.rep_a.id: ParticipantResponse.ACCEPTED,
        org.rep_a2.id: ParticipantResponse.INVITED,
    }
    assert [n.kind for n in notifications_of(db, org.rep_a)] == ["meeting.invited"]
    assert [n.kind for n in notifications_of(db, org.rep_a2)] == ["meeting.invited"]
    meetings.update_meeting(
        db, org.manager_a.actor, meeting.id, {"participant_user_ids": [org.rep_a2.id]}, expected_version=2
    )
    assert [p.user_id for p in meetings.get_meeting_row(db, org.manager_a.actor, meeting.id).participants] == [
        org.rep_a2.id
    ]


def test_stale_version_and_bad_times_on_update(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.rep_a.actor, starts_at=START)
    meetings.update_meeting(db, org.manager_a.actor, meeting.id, {"location": "Salle 2"}, expected_version=1)
    with pytest.raises(Conflict) as refused:
        meetings.update_meeting(db, org.rep_a.actor, meeting.id, {"location": "Salle 3"}, expected_version=1)
    assert refused.value.changed_by == "Marc Manager"
    with pytest.raises(ValidationFailed):
        meetings.update_meeting(
            db, org.rep_a.actor, meeting.id, {"ends_at": START - timedelta(minutes=1)}, expected_version=2
        )


def test_the_calendar_window_lists_meetings_overlapping_it(db: Session, org: Org) -> None:
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    inside = make_meeting(db, org.rep_a.actor, starts_at=monday + timedelta(days=2))
    overlapping = make_meeting(db, org.rep_a.actor, starts_at=monday - timedelta(minutes=30))
    make_meeting(db, org.rep_a.actor, starts_at=monday + timedelta(days=7))
    page = meetings.list_meetings(
        db, org.rep_a.actor, MeetingQuery(starts_from=monday, starts_to=monday + timedelta(days=7))
    )
    assert [row.id for row in page.items] == [overlapping.id, inside.id]


def test_ics_file(db: Session, org: Org) -> None:
    institution = make_institution(db)
    contact = make_contact(db, institution, first_name="Jeanne", last_name="Dupont", email="j.dupont@chu.fr")
    no_email = make_contact(db, institution, last_name="Sans Courriel")
    meeting = make_meeting(
        db,
        org.rep_a.actor,
        title="Démo, bloc; suite",
        starts_at=START,
        location="Bâtiment B",
        description="Ordre du jour :\n1. démo\n2. prix " + "x" * 80,
        participant_user_ids=[org.rep_a2.id],
        participant_contact_ids=[contact.id, no_email.id],
    )
    meetings.respond(db, org.rep_a2.actor, meeting.id, "accepted")
    ics = meetings.meeting_ics(db, org.rep_a.actor, meeting.id)
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    unfolded = ics.replace("\r\n ", "")
    lines = unfolded.split("\r\n")
    assert f"UID:{meeting.id}@opex-crm" in lines
    assert "DTSTART:20260305T133000Z" in lines and "DTEND:20260305T143000Z" in lines
    assert "SUMMARY:Démo\\, bloc\\; suite" in lines and "LOCATION:Bâtiment B" in lines
    assert f"DESCRIPTION:Ordre du jour :\\n1. démo\\n2. prix {'x' * 80}" in lines
    assert "STATUS:CONFIRMED" in lines and "SEQUENCE:0" in lines
    assert any(line.startswith("DTSTAMP:") and line.endswith("Z") for line in lines)
    assert f'ORGANIZER;CN="Anne Aubert":mailto:{org.rep_a.user.email}' in lines
    attendees = [line for line in lines if line.startswith("ATTENDEE")]
    assert len(attendees) == 2  # the contact without an email address is no calendar address
    assert any("PARTSTAT=ACCEPTED" in a and org.rep_a2.user.email in a for a in attendees)
    assert any('CN="Jeanne Dupont"' in a and "PARTSTAT=NEEDS-ACTION" in a and "j.dupont@chu.fr" in a for a in attendees)
    # The same meeting gives the same file; the UID stays when it changes, the sequence moves on.
    assert meetings.meeting_ics(db, org.rep_a.actor, meeting.id) == ics
    meetings.set_meeting_status(db, org.rep_a.actor, meeting.id, "cancelled", expected_version=1)
    changed = meetings.meeting_ics(db, org.rep_a.actor, meeting.id, method="cancel")
    assert "METHOD:CANCEL\r\n" in changed and "STATUS:CANCELLED\r\n" in changed and "SEQUENCE:1\r\n" in changed
    assert f"UID:{meeting.id}@opex-crm\r\n" in changed
    with pytest.raises(Forbidden):
        meetings.meeting_ics(db, org.rep_b.actor, meeting.id)


def _changes(db: Session) -> list[events.MeetingChanged]:
    return [event for event in events.pending(db) if isinstance(event, events.MeetingChanged)]


def test_every_change_to_a_meeting_is_published_to_its_organiser_and_participants(db: Session, org: Org) -> None:
    meeting = make_meeting(db, org.rep_a.actor, participant_user_ids=[org.rep_a2.id, org.rep_b.id])
    assert _changes(db) == []  # a new meeting reaches its participants as an invitation
    meetings.update_meeting(
        db,
        org.rep_a.actor,
        meeting.id,
        {"title": "Démo", "participant_user_ids": [org.rep_a2.id]},
        expected_version=meeting.version,
    )
    meetings.respond(db, org.rep_a2.actor, meeting.id, ParticipantResponse.ACCEPTED)
    meetings.set_meeting_status(
        db, org.rep_a.actor, meeting.id, MeetingStatus.CANCELLED, expected_version=meeting.version
    )
    meetings.delete_meeting(db, org.rep_a.actor, meeting.id)

    published = _changes(db)
    assert [(e.meeting_id, e.organizer_id, e.deleted, e.actor_id) for e in published] == [
        (meeting.id, org.rep_a.id, False, org.rep_a.id),
        (meeting.id, org.rep_a.id, False, org.rep_a2.id),
        (meeting.id, org.rep_a.id, False, org.rep_a.id),
        (meeting.id, org.rep_a.id, True, org.rep_a.id),
    ]
    assert [set(e.participant_user_ids) for e in published] == [
        {org.rep_a2.id, org.rep_b.id},
        {org.rep_a2.id},
        {org.rep_a2.id},
        {org.rep_a2.id},
    ]
