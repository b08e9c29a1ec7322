"""A meeting in a dialog: plan or edit it (title, start, end, location, institution, invited users and
contacts, status), answer an invitation, see everyone's answer, download the `.ics`, comment.
`meeting_details` shows the same without the form (the /meetings/{id} page)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from sqlmodel import Session

from components import live
from components.backend import call, current_actor
from components.comments import comment_thread
from components.dialogs import confirm, disposable, opportunity_line
from components.moments import from_local_input, local_input, user_zone
from components.pickers import active_users, institution_picker
from crm_app.activities import meetings
from crm_app.activities.labels import MEETING_STATUS_LABELS, RESPONSE_LABELS
from crm_app.activities.meetings import MeetingRow
from crm_app.activities.models import MeetingStatus, ParticipantResponse
from crm_app.institutions import contacts
from crm_app.platform.events import Event, MeetingAnswered, MeetingChanged, MeetingInvited
from crm_app.platform.i18n import format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import Actor

OnSaved = Callable[[], Awaitable[Any]]
CONTACTS_LIMIT = 100

RESPONSE_COLORS = {
    ParticipantResponse.INVITED: "grey-6",
    ParticipantResponse.ACCEPTED: "positive",
    ParticipantResponse.DECLINED: "negative",
    ParticipantResponse.TENTATIVE: "warning",
}
RESPONSE_ICONS = {
    ParticipantResponse.ACCEPTED: "check_circle",
    ParticipantResponse.DECLINED: "cancel",
    ParticipantResponse.TENTATIVE: "help",
}
STATUS_COLORS = {MeetingStatus.SCHEDULED: "primary", MeetingStatus.DONE: "secondary", MeetingStatus.CANCELLED: "grey"}


def _deleted(session: Session, actor: Actor, meeting_id: uuid.UUID) -> bool:
    meetings.delete_meeting(session, actor, meeting_id)
    return True  # `call` gives None when it failed


def when_text(row: MeetingRow, zone: str) -> str:
    """ "04/03/2026 14:30 – 15:30" (the end's date only when it differs)."""
    tz = ZoneInfo(zone)
    start, end = row.starts_at.astimezone(tz), row.ends_at.astimezone(tz)
    end_text = format_datetime(end, zone, style="short")
    if start.date() == end.date():
        end_text = end_text.rsplit(" ", 1)[-1]
    return f"{format_datetime(start, zone, style='short')} – {end_text}"


async def institution_contacts(institution_id: uuid.UUID | None) -> dict[str, str]:
    if institution_id is None:
        return {}
    page = await call(contacts.list_for_institution, institution_id, request=PageRequest(1, CONTACTS_LIMIT))
    return {} if page is None else {str(c.id): " · ".join(p for p in (c.full_name, c.title) if p) for c in page.items}


class ParticipantsPanel:
    """Everyone invited with their answer, and the actor's own answer buttons when invited."""

    def __init__(self, row: MeetingRow, on_answered: Callable[[MeetingRow], Awaitable[None]]) -> None:
        self.row = row
        self.on_answered = on_answered
        self.root = ui.column().classes("w-full gap-1").mark("participants")
        self.show(row)

    def show(self, row: MeetingRow) -> None:
        self.row = row
        self.root.clear()
        with self.root:
            ui.label(_("Participants")).classes("text-subtitle1 text-weight-medium")
            with ui.row().classes("items-center gap-2"):
                ui.icon("star", color="amber", size="sm")
                ui.label(row.organizer_name)
                ui.badge(_("Organiser"), color="primary").props("outline")
            if not row.participants:
                ui.label(_("Nobody else is invited.")).classes("text-grey-7")
            for person in row.participants:
                key = person.user_id or person.contact_id
                with ui.row().classes("items-center gap-2").mark(f"participant participant-{key}"):
                    ui.icon("person" if person.user_id else "contact_phone", color="grey-7", size="sm")
                    ui.label(person.name)
                    ui.badge(_(RESPONSE_LABELS[person.response]), color=RESPONSE_COLORS[person.response]).mark(
                        f"response response-{key}"
                    )
            if row.my_response is not None:
                self._answer_buttons(row)

    def _answer_buttons(self, row: MeetingRow) -> None:
        scheduled = row.status == MeetingStatus.SCHEDULED
        with ui.row().classes("items-center gap-2 q-mt-sm").mark("my-answer"):
            ui.label(_("Your answer:")).classes("text-weight-medium")
            for answer, label in (
                (ParticipantResponse.ACCEPTED, _("Accept")),
                (ParticipantResponse.TENTATIVE, _("Tentative")),
                (ParticipantResponse.DECLINED, _("Decline")),
            ):
                chosen = row.my_response == answer
                button = (
                    ui.button(label, icon=RESPONSE_ICONS[answer], on_click=lambda a=answer: self.answer(a))
                    .props(f"no-caps {'unelevated' if chosen else 'outline'} color={RESPONSE_COLORS[answer]}")
                    .mark(f"respond-{answer.value}")
                )
                button.set_enabled(scheduled)

    async def answer(self, response: ParticipantResponse) -> None:
        # The answer's own live event may rebuild this panel (and delete the button) meanwhile: carry on
        # in the tab's context, not the button's.
        client = ui.context.client
        if await call(meetings.respond, self.row.id, response) is None:
            return
        with client:
            ui.notify(_("Your answer was sent: {answer}.", answer=_(RESPONSE_LABELS[response])), type="positive")
            row = await call(meetings.get_meeting_row, self.row.id)
        if row is not None and not self.root.is_deleted:
            self.show(row)
            await self.on_answered(row)

    async def reload(self) -> None:
        row = await call(meetings.get_meeting_row, self.row.id)
        if row is not None and not self.root.is_deleted:
            self.show(row)


def watch_answers(panel: ParticipantsPanel) -> live.Watch:
    """Answers (and new invitations) to this meeting show up at once in the panel, while it is shown."""

    def wants(event: Event) -> bool:
        if panel.root.is_deleted:
            live.unwatch(watch)
            return False
        return isinstance(event, MeetingAnswered | MeetingInvited) and event.meeting_id == panel.row.id

    async def changed(_event: Event) -> None:
        await panel.reload()

    watch = live.watch(wants, changed)
    return watch


async def download_ics(meeting_id: uuid.UUID) -> None:
    text = await call(meetings.meeting_ics, meeting_id)
    if text is not None:
        ui.download.content(text.encode(), "meeting.ics", media_type="text/calendar")


def ics_button(meeting_id: uuid.UUID) -> ui.button:
    return (
        ui.button(_("Download .ics"), icon="event", on_click=lambda: download_ics(meeting_id))
        .props("flat no-caps")
        .mark("meeting-ics")
    )


def summary(row: MeetingRow, zone: str) -> None:
    """The meeting's facts, read-only."""
    with ui.grid(columns=2).classes("gap-x-6 gap-y-1").mark("meeting-summary"):
        for label, value in (
            (_("When"), when_text(row, zone)),
            (_("Location"), row.location),
            (_("Institution"), row.institution_name),
            (_("Status"), _(MEETING_STATUS_LABELS[row.status])),
            (_("Organiser"), row.organizer_name),
        ):
            ui.label(label).classes("text-grey-7")
            ui.label(value or "—")
    if row.description:
        ui.label(row.description).classes("whitespace-pre-wrap q-mt-sm").mark("meeting-description")


class MeetingForm:
    """The fields of a meeting; `save()` creates or updates it and returns True when it worked."""

    def __init__(
        self,
        row: MeetingRow | None,
        *,
        zone: str,
        users: dict[str, str],
        contact_options: dict[str, str],
        institution_id: uuid.UUID | None,
        institution_name: str | None,
        starts_at: datetime | None,
        opportunity: tuple[uuid.UUID, str] | None = None,
    ) -> None:
        self.row = row
        self.opportunity = opportunity if row is None else None  # a new meeting's link
        self.zone = zone
        organiser = row.organizer_id if row else current_actor().id
        user_options = {k: v for k, v in users.items() if k != str(organiser)}
        chosen_users = [str(p.user_id) for p in row.participants if p.user_id] if row else []
        for person in row.participants if row else []:  # a deactivated participant stays listed
            if person.user_id and str(person.user_id) not in user_options:
                user_options[str(person.user_id)] = person.name
        chosen_contacts = [str(p.contact_id) for p in row.participants if p.contact_id] if row else []
        self._kept_contacts = {str(p.contact_id): p.name for p in row.participants if p.contact_id} if row else {}
        start = row.starts_at if row else starts_at or _next_hour(zone)
        end = row.ends_at if row else start + timedelta(hours=1)
        self._duration = end - start
        self.fields: dict[str, Any] = {}
        with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1"):
            self.fields["title"] = ui.input(_("Title") + " *", value=row.title if row else "").classes("col-span-2")
            self.fields["starts_at"] = ui.input(
                _("Start") + " *", value=local_input(start, zone), on_change=self._start_changed
            ).props("type=datetime-local stack-label")
            self.fields["ends_at"] = ui.input(_("End") + " *", value=local_input(end, zone)).props(
                "type=datetime-local stack-label"
            )
            self.fields["location"] = ui.input(_("Location"), value=(row.location if row else "") or "")
            self.fields["status"] = ui.select(
                {s.value: _(label) for s, label in MEETING_STATUS_LABELS.items()},
                value=(row.status if row else MeetingStatus.SCHEDULED).value,
                label=_("Status"),
            )
            picked_id = row.institution_id if row else institution_id
            picked_name = row.institution_name if row else institution_name
            self.fields["institution_id"] = institution_picker(
                value=picked_id, value_label=picked_name, on_change=self._institution_changed
            ).classes("col-span-2")
            self.fields["participant_user_ids"] = (
                ui.select(user_options, multiple=True, with_input=True, value=chosen_users, label=_("Invited users"))
                .props("use-chips")
                .classes("col-span-2")
            )
            self.fields["participant_contact_ids"] = (
                ui.select(
                    {**contact_options, **self._kept_contacts},
                    multiple=True,
                    value=chosen_contacts,
                    label=_("Invited contacts"),
                )
                .props("use-chips")
                .classes("col-span-2")
            )
            self.fields["description"] = (
                ui.textarea(_("Description"), value=(row.description if row else "") or "")
                .props("autogrow")
                .classes("col-span-2")
            )
        for name, element in self.fields.items():
            element.mark(f"meeting-{name}")
        if self.opportunity is not None:  # the opportunity's institution
            self.fields["institution_id"].disable()
        self._contacts_hint()

    def _contacts_hint(self) -> None:
        select = self.fields["participant_contact_ids"]
        has_institution = self.fields["institution_id"].selected_id is not None
        select.props["hint"] = "" if has_institution else _("Choose an institution to invite its contacts.")
        select.update()

    def _start_changed(self, event: Any) -> None:
        """Moving the start moves the end with it (the duration stays)."""
        start = from_local_input(event.value, self.zone)
        if isinstance(start, datetime):
            self.fields["ends_at"].value = local_input(start + self._duration, self.zone)

    async def _institution_changed(self, event: Any) -> None:
        picker = self.fields["institution_id"]
        options = await institution_contacts(picker.selected_id)
        select = self.fields["participant_contact_ids"]
        keep = [v for v in select.value or [] if v in options]
        select.set_options(options, value=keep)
        self._kept_contacts = {}
        self._contacts_hint()

    def values(self) -> dict[str, Any]:
        f = self.fields
        link = {"opportunity_id": self.opportunity[0]} if self.opportunity is not None else {}
        return {
            **link,
            "title": f["title"].value,
            "starts_at": from_local_input(f["starts_at"].value, self.zone),
            "ends_at": from_local_input(f["ends_at"].value, self.zone),
            "location": f["location"].value,
            "status": f["status"].value,
            "institution_id": f["institution_id"].selected_id,
            "participant_user_ids": list(f["participant_user_ids"].value or []),
            "participant_contact_ids": list(f["participant_contact_ids"].value or []),
            "description": f["description"].value,
        }

    async def save(self) -> bool:
        raw = self.values()
        if self.row is None:
            saved: Any = await call(meetings.create_meeting, raw, fields=self.fields)
        else:
            saved = await call(
                meetings.update_meeting, self.row.id, raw, expected_version=self.row.version, fields=self.fields
            )
        if saved is None:
            return False
        start, end = raw["starts_at"], raw["ends_at"]
        if isinstance(start, datetime) and isinstance(end, datetime):
            self._duration = end - start
        return True


def _next_hour(zone: str) -> datetime:
    now = utcnow().astimezone(ZoneInfo(zone))
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


class MeetingDialog:
    """The dialog around one meeting (or a new one); see `open_meeting_dialog`."""

    def __init__(
        self,
        row: MeetingRow | None,
        *,
        zone: str,
        users: dict[str, str],
        contact_options: dict[str, str],
        on_saved: OnSaved | None,
        on_deleted: OnSaved | None = None,
        institution_id: uuid.UUID | None,
        institution_name: str | None,
        starts_at: datetime | None,
        opportunity: tuple[uuid.UUID, str] | None = None,
    ) -> None:
        self.row = row
        self.on_saved = on_saved
        self.on_deleted = on_deleted or on_saved
        self.home = ui.context.slot.parent  # where it was opened: confirmations and "Load their version"
        self.form: MeetingForm | None = None
        self.watch: live.Watch | None = None
        self.notice: live.StaleNotice | None = None
        with ui.dialog() as self.dialog, ui.card().classes("w-[48rem] max-w-full").mark("meeting-dialog"):
            self._heading(row)
            if row is None and opportunity is not None:
                opportunity_line(opportunity, marker="meeting-opportunity")
            if row is not None and row.can_edit:
                self.notice = live.StaleNotice(
                    lambda event: (
                        isinstance(event, MeetingChanged) and event.meeting_id == row.id and not event.deleted
                    ),
                    reload=self.reopen,
                    outdated=self._outdated,
                )
            if row is None or row.can_edit:
                self.form = MeetingForm(
                    row,
                    zone=zone,
                    users=users,
                    contact_options=contact_options,
                    institution_id=institution_id,
                    institution_name=institution_name,
                    starts_at=starts_at,
                    opportunity=opportunity,
                )
            else:
                summary(row, zone)
            if row is not None:
                ui.separator()
                self.watch = watch_answers(ParticipantsPanel(row, self._answered))
            self._actions(row)
            if row is not None:
                ui.separator()
                comment_thread(CommentTarget.MEETING, row.id)
        disposable(self.dialog, self._stop_watching)

    def _heading(self, row: MeetingRow | None) -> None:
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(row.title if row else _("New meeting")).classes("text-h6").mark("meeting-dialog-title")
            if row is not None:
                ui.badge(_(MEETING_STATUS_LABELS[row.status]), color=STATUS_COLORS[row.status])
            ui.space()
            ui.button(icon="close", on_click=self.dialog.close).props(f'flat round dense aria-label="{_("Close")}"')

    def _actions(self, row: MeetingRow | None) -> None:
        with ui.row().classes("w-full items-center gap-2 q-mt-sm"):
            if row is not None:
                ics_button(row.id)
                if row.can_edit:
                    ui.button(
                        _("Delete"), icon="delete", on_click=lambda: confirm(_("Delete this meeting?"), self.delete)
                    ).props("flat no-caps color=negative").mark("meeting-delete")
            ui.space()
            ui.button(_("Cancel") if self.form else _("Close"), on_click=self.dialog.close).props("flat no-caps")
            if self.form is not None:
                ui.button(_("Save"), on_click=self.save).props("unelevated no-caps").mark("meeting-save")

    async def _saved(self) -> None:
        if self.on_saved is not None:
            await self.on_saved()

    async def _answered(self, _row: MeetingRow) -> None:
        await self._saved()

    def _stop_watching(self) -> None:
        if self.watch is not None:
            live.unwatch(self.watch)

    async def save(self) -> None:
        if self.form is None:
            return
        if self.notice is not None:
            self.notice.saving()
        with self.home:  # the confirmation outlives the dialog
            saved = await self.form.save()
            if self.notice is not None:
                self.notice.saved(saved)
            if not saved:
                return
            ui.notify(_("Meeting saved."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            await self._saved()

    async def delete(self) -> None:
        assert self.row is not None
        if self.notice is not None:
            self.notice.saving()
        with self.home:
            if not await call(_deleted, self.row.id):
                if self.notice is not None:
                    self.notice.saved(False)
                return
            ui.notify(_("Meeting deleted."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_deleted is not None:
                await self.on_deleted()

    async def _outdated(self) -> bool:
        """An answer changes the meeting's event but not the version its form saves over."""
        assert self.row is not None
        with self.home:
            current = await call(meetings.get_meeting_row, self.row.id)
        return current is not None and current.version != self.row.version

    async def reopen(self) -> None:
        """The meeting as saved now, in a fresh dialog (what was typed here is dropped, as the user chose)."""
        assert self.row is not None
        self.dialog.close()
        if not self.home.is_deleted:
            with self.home:
                await open_meeting_dialog(self.row.id, on_saved=self.on_saved, on_deleted=self.on_deleted)


async def open_meeting_dialog(
    meeting_id: uuid.UUID | None = None,
    *,
    on_saved: OnSaved | None = None,
    on_deleted: OnSaved | None = None,
    institution_id: uuid.UUID | None = None,
    institution_name: str | None = None,
    starts_at: datetime | None = None,
    opportunity: tuple[uuid.UUID, str] | None = None,
) -> None:
    """Open a meeting (`meeting_id`) or plan a new one, optionally at an institution and a start time,
    linked to an `opportunity` (id, name) of that institution.
    `on_saved` runs after a save or an answer, `on_deleted` (by default `on_saved`) after a deletion
    (the list behind refreshes). Open it in an element that the callbacks do not rebuild."""
    row: MeetingRow | None = None
    if meeting_id is not None:
        row = await call(meetings.get_meeting_row, meeting_id)
        if row is None:
            return
    zone, users = await asyncio.gather(user_zone(), active_users())
    if users is None:
        return
    contact_options = await institution_contacts(row.institution_id if row else institution_id)
    MeetingDialog(
        row,
        zone=zone,
        users=users,
        contact_options=contact_options,
        on_saved=on_saved,
        on_deleted=on_deleted,
        institution_id=institution_id,
        institution_name=institution_name,
        starts_at=starts_at,
        opportunity=opportunity,
    ).dialog.open()


def meeting_details(row: MeetingRow, zone: str, *, edit: Callable[[], Any]) -> None:
    """The meeting on its own page: facts, participants and answers, `.ics`, edit (the page draws it
    again at each change, answers included)."""
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(row.title).classes("text-h5").mark("meeting-title-heading")
        ui.badge(_(MEETING_STATUS_LABELS[row.status]), color=STATUS_COLORS[row.status]).mark("meeting-status-badge")
        ui.space()
        ics_button(row.id)
        if row.can_edit:
            ui.button(_("Edit"), icon="edit", on_click=edit).props("unelevated no-caps").mark("meeting-edit")
    with ui.card().classes("w-full max-w-3xl"):
        summary(row, zone)
        ui.separator()

        async def answered(_row: MeetingRow) -> None:
            return None

        ParticipantsPanel(row, answered)
