"""The institution page's Activity and Timeline tabs with NiceGUI's simulated user: a note and a call
added in place, then listed newest first; a task for the institution; the timeline a page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from components.note_dialog import NoteMarkdown
from crm_app.activities import notes
from crm_app.activities.models import Call, Meeting, MeetingParticipant, Note, Task
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as UserRow
from tests.factories import actor_of
from tests.html_checks import runnable_parts
from tests.ui.conftest import element, eventually, log_in, new_contact, new_institution


def _institution(name: str = "Clinique Pasteur") -> uuid.UUID:
    institution_id = new_institution(name, city="Toulouse", postal_code="31300")
    new_contact(institution_id, "Inès", "Garnier", title="Cadre de bloc")
    return institution_id


def _kinds(user: User, marker: str) -> list[str]:
    """The kinds of the entries of a timeline, top to bottom."""
    found = user._gather_elements(None, ui.timeline, marker, None)  # no public "find or none"
    if not found:
        return []
    return [
        next(m.removeprefix("timeline-") for m in child._markers if m != "timeline-entry")
        for child in next(iter(found)).default_slot.children
        if "timeline-entry" in child._markers
    ]


async def _open_tab(user: User, tab: str) -> None:
    await user.should_see(marker=f"tab-{tab}", retries=50)
    user.find(marker=f"tab-{tab}").click()


async def test_activity_tab_adds_a_note_and_a_call_then_the_timeline_lists_them_newest_first(
    ui_user: User, account: Callable[..., str]
) -> None:
    institution_id = _institution()
    await log_in(ui_user, account(), path=f"/login?redirect_to=/institutions/{institution_id}")
    await _open_tab(ui_user, "activity")
    await ui_user.should_see(marker="add-note")

    ui_user.find(marker="add-note").click()
    await ui_user.should_see(marker="note-dialog")
    assert element(ui_user, "note-institution_id").selected_id == institution_id  # written here
    ui_user.find(marker="note-save").click()
    body = element(ui_user, "note-body")
    await eventually(lambda: bool(body.error), "no error next to the note")
    assert body.error == gettext("This field is required.")
    body.value = "Le bloc veut une démonstration en mars."
    element(ui_user, "note-visibility").value = "shared"
    ui_user.find(marker="note-save").click()
    await eventually(lambda: _kinds(ui_user, "recent-activity") == ["note"], "the note is not in the recent activity")

    # A call logged afterwards, but that took place an hour before the note: listed after it.
    ui_user.find(marker="add-call").click()
    await ui_user.should_see(marker="call-dialog")
    element(ui_user, "call-direction").value = "in"
    an_hour_ago = (utcnow() - timedelta(hours=1)).astimezone(ZoneInfo("Europe/Paris"))
    element(ui_user, "call-called_at").value = an_hour_ago.strftime("%Y-%m-%dT%H:%M")
    element(ui_user, "call-duration_seconds").value = 7
    picker = element(ui_user, "call-contact_id")
    ui_user.find(marker="call-contact_id").trigger("popupShow")  # the institution's contacts, before typing
    await eventually(lambda: len(picker.options) == 1, f"the contact picker offers {picker.options}")
    picker.value = next(iter(picker.options))
    element(ui_user, "call-summary").value = "Rappel au sujet de la démonstration"
    ui_user.find(marker="call-save").click()
    await eventually(lambda: _kinds(ui_user, "recent-activity") == ["note", "call"], "the call is not listed")
    with unit_of_work() as session:
        logged = session.exec(select(Call)).one()
        note = session.exec(select(Note)).one()
    assert logged.direction == "in" and logged.duration_seconds == 7 * 60
    assert logged.institution_id == institution_id and logged.contact_id == uuid.UUID(picker.value)
    assert note.visibility == "shared" and note.institution_id == institution_id

    await _open_tab(ui_user, "timeline")
    # The institution and its contact were created a moment ago, after the call took place.
    await eventually(
        lambda: _kinds(ui_user, "timeline") == ["note", "change", "change", "call"], "the timeline is not newest first"
    )
    entries = next(iter(ui_user.find(marker="timeline").elements))
    links = {link.text: link.props["href"] for link in entries.descendants() if isinstance(link, ui.link)}
    assert links[gettext("Open")] == f"/notes/{note.id}"  # each entry opens its record
    texts = [e for e in entries.descendants() if isinstance(e, NoteMarkdown)]  # the note reads as written
    assert [t.content for t in texts] == ["Le bloc veut une démonstration en mars."]
    assert (
        links[gettext("Incoming") + " · Inès Garnier · " + gettext("{minutes} min", minutes=7)] == f"/calls/{logged.id}"
    )


async def test_a_task_added_in_place_belongs_to_the_institution(ui_user: User, account: Callable[..., str]) -> None:
    institution_id = _institution()
    await log_in(ui_user, account(), path=f"/login?redirect_to=/institutions/{institution_id}")
    await _open_tab(ui_user, "activity")
    await ui_user.should_see(marker="add-task")
    ui_user.find(marker="add-task").click()
    await ui_user.should_see(marker="task-dialog")
    assert element(ui_user, "task-institution").selected_id == institution_id
    element(ui_user, "task-title").value = "Envoyer le devis endoscopie"
    ui_user.find(marker="task-save").click()
    await eventually(lambda: element(ui_user, "open-task-count").text == "1", "the open task is not listed")
    await ui_user.should_see("Envoyer le devis endoscopie")
    with unit_of_work() as session:
        assert session.exec(select(Task)).one().institution_id == institution_id


async def test_the_timeline_loads_a_page_at_a_time(ui_user: User, account: Callable[..., str]) -> None:
    institution_id = _institution()
    email = account(role=Role.MANAGER)
    with unit_of_work() as session:
        author = actor_of(session.exec(select(UserRow).where(UserRow.email == email)).one())
        for number in range(1, 24):
            notes.create_note(session, author, {"body": f"Note {number:02d}", "institution_id": institution_id})
    await log_in(ui_user, email, path=f"/login?redirect_to=/institutions/{institution_id}")
    await _open_tab(ui_user, "timeline")
    await eventually(lambda: len(_kinds(ui_user, "timeline")) == 20, "the first page is not shown")
    assert element(ui_user, "timeline-count").text == gettext("{shown} of {total}", shown=20, total=25)
    ui_user.find(marker="timeline-more").click()
    await eventually(lambda: len(_kinds(ui_user, "timeline")) == 25, "the second page is not added")
    await ui_user.should_not_see(marker="timeline-more")
    element(ui_user, "timeline-kinds").value = ["change"]
    await eventually(lambda: _kinds(ui_user, "timeline") == ["change", "change"], "the kinds filter is not applied")


async def test_a_meeting_planned_in_place_invites_the_chosen_contacts(
    ui_user: User, account: Callable[..., str]
) -> None:
    institution_id = _institution()
    await log_in(ui_user, account(), path=f"/login?redirect_to=/institutions/{institution_id}")
    await _open_tab(ui_user, "activity")
    await ui_user.should_see(marker="add-meeting")
    ui_user.find(marker="add-meeting").click()
    await ui_user.should_see(marker="meeting-dialog")
    element(ui_user, "meeting-title").value = "Démonstration au bloc"
    element(ui_user, "meeting-starts_at").value = "2031-03-12T14:00"
    end = element(ui_user, "meeting-ends_at")
    end.value = "2031-03-12T13:00"
    invited = element(ui_user, "meeting-participant_contact_ids")
    assert len(invited.options) == 1  # the institution's contacts
    invited.value = list(invited.options)
    ui_user.find(marker="meeting-save").click()
    await eventually(lambda: bool(end.error), "no error next to the end")
    assert end.error == gettext("The end must be after the start.")
    end.value = "2031-03-12T15:30"
    ui_user.find(marker="meeting-save").click()
    await eventually(lambda: _kinds(ui_user, "recent-activity") == ["meeting"], "the meeting is not listed")
    with unit_of_work() as session:
        meeting = session.exec(select(Meeting)).one()
        guests = session.exec(select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting.id)).all()
    assert meeting.institution_id == institution_id and meeting.title == "Démonstration au bloc"
    assert (meeting.ends_at - meeting.starts_at).total_seconds() == 90 * 60
    assert [str(guest.contact_id) for guest in guests] == list(invited.options)


async def test_a_note_on_the_timeline_reads_as_markdown_and_nothing_typed_in_it_runs(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(Role.ADMIN)
    institution_id = _institution()
    with unit_of_work() as session:
        author = actor_of(session.exec(select(UserRow).where(UserRow.email == email)).one())
        body = "**Démo** en mars\n- bloc A\n\n<script>alert(1)</script><img src=x onerror=alert(2)>"
        notes.create_note(session, author, {"body": body, "institution_id": institution_id})
    await log_in(ui_user, email, path=f"/login?redirect_to=/institutions/{institution_id}")
    await _open_tab(ui_user, "timeline")
    await eventually(lambda: "note" in _kinds(ui_user, "timeline"), "the note is not on the timeline")
    shown = [e.props["innerHTML"] for e in ui_user.find(marker="timeline-note-text").elements]
    assert shown
    for html in shown:
        assert "<strong>Démo</strong>" in html and "<li>bloc A</li>" in html
        assert "<script" not in html and "&lt;script&gt;" in html and "<img" not in html
        assert runnable_parts(html) == []
