"""/meetings with NiceGUI's simulated user: planning a meeting with participants through the dialog
(after a field error), the week calendar in the user's time zone, the `.ics` download, and a
participant's answer reaching the organiser's list without reload."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nicegui.testing import User
from sqlmodel import col, select

from crm_app.activities import meetings
from crm_app.activities.models import Meeting, MeetingParticipant, ParticipantResponse
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.base import utcnow
from crm_app.platform.permissions import Actor
from tests.ui.conftest import actor_for, element, eventually, log_in, new_contact, new_institution, table_rows

PARIS = ZoneInfo("Europe/Paris")


def _meeting(actor: Actor, title: str, start: datetime, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return meetings.create_meeting(
            session, actor, {"title": title, "starts_at": start, "ends_at": start + timedelta(hours=1), **values}
        ).id


def _rows(user: User) -> list[dict[str, Any]]:
    return table_rows(user, "meetings-table")


async def test_plan_a_meeting_with_participants_after_an_end_before_its_start(
    ui_user: User, account: Callable[..., str]
) -> None:
    organiser = account(email="claire@example.org", name="Claire Dupont")
    account(email="bruno.blanc@example.org", name="Bruno Blanc")
    institution_id = new_institution("Clinique des Lilas")
    contact_id = new_contact(institution_id, "Jeanne", "Martin", email="martin@ex.org")
    await log_in(ui_user, organiser, path="/login?redirect_to=/meetings")
    await ui_user.should_see(marker="new-meeting")
    ui_user.find(marker="new-meeting").click()
    await ui_user.should_see(marker="meeting-dialog")

    ui_user.find(marker="meeting-title").type("Présentation endoscopie")
    ui_user.find(marker="meeting-starts_at").clear().type("2030-03-06T10:00")
    assert element(ui_user, "meeting-ends_at").value == "2030-03-06T11:00"  # the end follows the start
    ui_user.find(marker="meeting-ends_at").clear().type("2030-03-06T09:30")
    ui_user.find(marker="meeting-participant_user_ids").click()
    ui_user.find("Bruno Blanc").click()
    picker = element(ui_user, "meeting-institution_id")
    picker.select_record(institution_id, "Clinique des Lilas")
    contacts_select = element(ui_user, "meeting-participant_contact_ids")
    await eventually(lambda: str(contact_id) in contacts_select.options, "the institution's contacts were not offered")
    contacts_select.value = [str(contact_id)]
    ui_user.find(marker="meeting-save").click()

    end = element(ui_user, "meeting-ends_at")
    await eventually(lambda: bool(end.error), "no error next to the end")
    assert end.error == gettext("The end must be after the start.")
    with unit_of_work() as session:
        assert session.exec(select(Meeting)).all() == []

    ui_user.find(marker="meeting-ends_at").clear().type("2030-03-06T11:30")
    ui_user.find(marker="meeting-save").click()
    await eventually(
        lambda: [r["title"] for r in _rows(ui_user)] == ["Présentation endoscopie"], "the new meeting is not listed"
    )
    row = _rows(ui_user)[0]
    assert row["institution"] == "Clinique des Lilas"
    assert "Bruno Blanc" in row["participants"] and "Jeanne Martin" in row["participants"]
    with unit_of_work() as session:
        meeting = session.exec(select(Meeting)).one()
        assert meeting.starts_at == datetime(2030, 3, 6, 9, 0, tzinfo=UTC)  # 10:00 in Paris
        assert meeting.ends_at == datetime(2030, 3, 6, 10, 30, tzinfo=UTC)
        invited = session.exec(select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting.id)).all()
        assert {p.contact_id for p in invited if p.contact_id} == {contact_id}
        assert len([p for p in invited if p.user_id]) == 1


async def test_week_calendar_places_meetings_on_their_day_in_paris_time(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    actor = actor_for(email)
    # Thursday 7 March 2030 at 00:30 in Paris is still Wednesday in UTC.
    _meeting(actor, "Visite du bloc", datetime(2030, 3, 6, 23, 30, tzinfo=UTC))
    _meeting(actor, "Comité achats", datetime(2030, 3, 4, 13, 0, tzinfo=UTC))
    await log_in(ui_user, email, path="/login?redirect_to=/meetings?view=week%26week=2030-W10")
    await ui_user.should_see(marker="calendar-day-2030-03-07")
    with ui_user.scope(marker="calendar-day-2030-03-07"):
        await ui_user.should_see("Visite du bloc")
    with ui_user.scope(marker="calendar-day-2030-03-06"):
        await ui_user.should_not_see("Visite du bloc")
    with ui_user.scope(marker="calendar-day-2030-03-04"):
        await ui_user.should_see("Comité achats")

    ui_user.find(marker="week-next").click()
    await ui_user.should_see(marker="calendar-day-2030-03-14")
    await ui_user.should_not_see("Visite du bloc")
    ui_user.find(marker="week-previous").click()
    await ui_user.should_see(marker="calendar-day-2030-03-07")
    ui_user.find(marker="calendar-event").click()  # opens the meeting
    await ui_user.should_see(marker="meeting-dialog")


async def test_the_ics_download_holds_the_meeting(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    start = datetime(2030, 5, 14, 8, 0, tzinfo=UTC)
    meeting_id = _meeting(actor_for(email), "Revue annuelle; contrat", start, location="Salle 2, bâtiment B")
    await log_in(ui_user, email, path=f"/login?redirect_to=/meetings/{meeting_id}")
    await ui_user.should_see(marker="meeting-ics")
    ui_user.find(marker="meeting-ics").click()
    response = await ui_user.download.next(timeout=3)
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert f"UID:{meeting_id}@opex-crm" in text
    assert "SUMMARY:Revue annuelle\\; contrat" in text
    assert "LOCATION:Salle 2\\, bâtiment B" in text
    assert "DTSTART:20300514T080000Z" in text and "DTEND:20300514T090000Z" in text


async def test_a_participants_answer_reaches_the_organisers_list(
    ui_user: User, create_user: Callable[[], User], account: Callable[..., str]
) -> None:
    organiser = account(email="claire@example.org", name="Claire Dupont")
    guest = account(email="bruno.blanc@example.org", name="Bruno Blanc")
    guest_id = actor_for(guest).id
    meeting_id = _meeting(
        actor_for(organiser), "Démonstration", utcnow() + timedelta(days=2), participant_user_ids=[guest_id]
    )
    await log_in(ui_user, organiser, path="/login?redirect_to=/meetings")
    invited = f"Bruno Blanc ({gettext('Invited')})"
    await eventually(lambda: any(r["participants"] == invited for r in _rows(ui_user)), "organiser's list not shown")

    other = create_user()
    await log_in(other, guest, path=f"/login?redirect_to=/meetings/{meeting_id}")
    await other.should_see(marker="respond-accepted", retries=50)  # a second user: not the patient fixture
    other.find(marker="respond-accepted").click()
    accepted = f"Bruno Blanc ({gettext('Accepted')})"
    await eventually(
        lambda: any(r["participants"] == accepted for r in _rows(ui_user)), "the organiser does not see the acceptance"
    )

    other.find(marker="respond-declined").click()
    await eventually(
        lambda: any(r["participants"] == f"Bruno Blanc ({gettext('Declined')})" for r in _rows(ui_user)),
        "the organiser does not see the refusal",
    )
    with unit_of_work() as session:
        answer = session.exec(
            select(MeetingParticipant.response).where(col(MeetingParticipant.user_id) == guest_id)
        ).one()
        assert answer == ParticipantResponse.DECLINED
    # The organiser's meeting view lists the answer next to the participant.
    ui_user.find(marker="meetings-table").trigger("open", str(meeting_id))
    await ui_user.should_see(marker=f"response-{guest_id}")
    badge = element(ui_user, f"response-{guest_id}")
    assert badge.text == gettext("Declined")


def test_week_parameter_round_trips() -> None:
    from components.week_calendar import parse_week, week_param

    monday = parse_week("2030-W10", date(2026, 1, 1))
    assert monday == date(2030, 3, 4)
    assert week_param(monday) == "2030-W10"
    assert parse_week("2030-03-07", date(2026, 1, 1)) == date(2030, 3, 4)
    assert parse_week("nonsense", date(2026, 1, 7)) == date(2026, 1, 5)


async def test_a_form_opened_from_the_week_calendar_outlives_the_weeks_live_refresh(
    ui_user: User, account: Callable[..., str]
) -> None:
    """The dialog opened from a calendar's event lived inside it: any change that refreshed the week
    (another person's, on any of the user's meetings) deleted the form under the user's typing."""
    email = account(name="Claire Dupont")
    me = actor_for(email)
    start = datetime(2030, 3, 7, 14, 30, tzinfo=PARIS)
    meeting_id = _meeting(me, "Revue de bloc", start)
    other_id = _meeting(me, "Formation", start + timedelta(days=1))
    await log_in(ui_user, email, path="/login?redirect_to=/meetings?view=week%26week=2030-W10")
    await ui_user.should_see(marker=f"calendar-event-{meeting_id}")
    ui_user.find(marker=f"calendar-event-{meeting_id}").click()
    await ui_user.should_see(marker="meeting-dialog")
    element(ui_user, "meeting-title").value = "Revue de bloc opératoire"
    with unit_of_work() as session:  # another tab moves the other meeting: the week is drawn again
        version = session.get(Meeting, other_id).version  # type: ignore[union-attr]
        meetings.update_meeting(session, me, other_id, {"location": "Salle C"}, expected_version=version)
    await ui_user.should_see("Salle C")
    await ui_user.should_see(marker="meeting-dialog")
    assert element(ui_user, "meeting-title").value == "Revue de bloc opératoire"
    ui_user.find(marker="meeting-save").click()
    await ui_user.should_see(gettext("Meeting saved."))
    await ui_user.should_not_see(marker="meeting-dialog")
    await ui_user.should_see("Revue de bloc opératoire")


async def test_the_meeting_page_confirms_follows_answers_and_changes_and_keeps_an_open_form(
    ui_user: User, account: Callable[..., str]
) -> None:
    """Saved and deleted say so; a participant's answer and another tab's change show on the open page;
    a form being typed in is warned of a change to the meeting (not of an answer) and keeps the typing."""
    organiser = account(email="claire@example.org", name="Claire Dupont")
    guest = account(email="bruno.blanc@example.org", name="Bruno Blanc")
    me, guest_actor = actor_for(organiser), actor_for(guest)
    meeting_id = _meeting(me, "Démonstration", utcnow() + timedelta(days=2), participant_user_ids=[guest_actor.id])
    await log_in(ui_user, organiser, path=f"/login?redirect_to=/meetings/{meeting_id}")
    await ui_user.should_see(marker="meeting-edit")

    with unit_of_work() as session:  # the guest answers, in their own session
        meetings.respond(session, guest_actor, meeting_id, ParticipantResponse.ACCEPTED)
    await eventually(
        lambda: element(ui_user, f"response-{guest_actor.id}").text == gettext("Accepted"), "the answer is not shown"
    )

    ui_user.find(marker="meeting-edit").click()
    await ui_user.should_see(marker="meeting-dialog")
    element(ui_user, "meeting-location").value = "Salle B"
    with unit_of_work() as session:  # an answer changes nothing the form would save over
        meetings.respond(session, guest_actor, meeting_id, ParticipantResponse.TENTATIVE)
    await eventually(
        lambda: element(ui_user, f"response-{guest_actor.id}").text == gettext("Tentative"), "no second answer"
    )
    await ui_user.should_not_see(marker="stale-message")
    with unit_of_work() as session:  # the organiser, in another tab, moves it
        version = session.get(Meeting, meeting_id).version  # type: ignore[union-attr]
        meetings.update_meeting(session, me, meeting_id, {"location": "Salle A"}, expected_version=version)
    await ui_user.should_see(marker="stale-message")
    assert "Claire Dupont" in element(ui_user, "stale-message").text
    assert element(ui_user, "meeting-location").value == "Salle B"  # the typing is kept
    await ui_user.should_see("Salle A")  # the page behind shows the saved meeting

    ui_user.find(marker="stale-reload").click()
    await eventually(lambda: _values(ui_user, "meeting-location") == ["Salle A"], "their version is not loaded")
    element(ui_user, "meeting-status").value = "done"
    ui_user.find(marker="meeting-save").click()
    await ui_user.should_see(gettext("Meeting saved."))
    await eventually(
        lambda: element(ui_user, "meeting-status-badge").text == gettext("Held"), "the status is not shown"
    )
    await ui_user.should_not_see(marker="meeting-dialog")

    ui_user.find(marker="meeting-edit").click()
    await ui_user.should_see(marker="meeting-delete")
    ui_user.find(marker="meeting-delete").click()
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(gettext("Meeting deleted."))
    await ui_user.should_see(marker="meetings-table")
    await asyncio.sleep(0.3)  # the deletion's own event has come back by now
    assert gettext("This meeting has been deleted.") not in ui_user.notify.messages  # not "someone else"


def _values(user: User, marker: str) -> list[Any]:
    """The values of the fields carrying `marker`; none while they are not shown."""
    found: set[Any] = user._gather_elements(None, None, marker, None)
    return [field.value for field in found]
