"""Log a phone call, or correct one, in a dialog: direction, date and time, duration in minutes,
contact (searched as you type, within the institution when one is chosen), summary."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from nicegui import ui
from sqlmodel import Session

from components import live
from components.backend import call
from components.dialogs import confirm, disposable, opportunity_line
from components.moments import from_local_input, local_input, user_zone
from components.pickers import contact_picker, institution_picker
from crm_app.activities import calls
from crm_app.activities.calls import CallRow
from crm_app.activities.labels import CALL_DIRECTION_LABELS
from crm_app.activities.models import CallDirection
from crm_app.platform.events import CallChanged
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.base import utcnow
from crm_app.platform.permissions import Actor

OnSaved = Callable[[], Awaitable[Any]]
DIRECTION_ICONS = {
    CallDirection.IN: "call_received",
    CallDirection.OUT: "call_made",
    CallDirection.MISSED: "call_missed",
}
DIRECTION_COLORS = {CallDirection.IN: "positive", CallDirection.OUT: "primary", CallDirection.MISSED: "negative"}


def duration_text(seconds: int | None) -> str:
    """ "12 min", "1 h 05", "" when unknown."""
    if seconds is None:
        return ""
    minutes = round(seconds / 60)
    if minutes < 60:
        return _("{minutes} min", minutes=minutes)
    return _("{hours} h {minutes:02d}", hours=minutes // 60, minutes=minutes % 60)


def seconds_of(minutes: Any) -> Any:
    """Minutes typed → seconds for the service (what is not a number goes through as typed, for the
    service to refuse it next to the field)."""
    if minutes is None or (isinstance(minutes, str) and not minutes.strip()):
        return None
    try:
        value = Decimal(str(minutes).replace(",", "."))
    except InvalidOperation:
        return minutes
    seconds = value * 60
    return int(seconds) if seconds == seconds.to_integral_value() else str(seconds)


def _deleted(session: Session, actor: Actor, call_id: uuid.UUID) -> bool:
    calls.delete_call(session, actor, call_id)
    return True  # `call` gives None when it failed


class CallDialog:
    """See `open_call_dialog`."""

    def __init__(
        self,
        row: CallRow | None,
        *,
        zone: str,
        on_saved: OnSaved | None,
        institution_id: uuid.UUID | None,
        institution_name: str | None,
        opportunity: tuple[uuid.UUID, str] | None = None,
    ) -> None:
        self.row = row
        self.opportunity = opportunity if row is None else None  # a new call's link
        self.zone = zone
        self.on_saved = on_saved
        self.home = ui.context.slot.parent  # where it was opened: confirmations and "Load their version"
        self.notice: live.StaleNotice | None = None
        editable = row is None or row.can_edit
        picked_institution = row.institution_id if row else institution_id
        with ui.dialog() as self.dialog, ui.card().classes("w-[40rem] max-w-full").mark("call-dialog"):
            with ui.row().classes("w-full items-center"):
                ui.label(_("Log a call") if row is None else _("Call")).classes("text-h6")
                ui.space()
                ui.button(icon="close", on_click=self.dialog.close).props(f'flat round dense aria-label="{_("Close")}"')
            opportunity_line(self.opportunity, marker="call-opportunity")
            if row is not None and editable:
                self.notice = live.StaleNotice(
                    lambda event: isinstance(event, CallChanged) and event.call_id == row.id, reload=self.reopen
                )
            self.fields: dict[str, Any] = {}
            self.fields["direction"] = ui.toggle(
                {d.value: _(CALL_DIRECTION_LABELS[d]) for d in CallDirection},
                value=(row.direction if row else CallDirection.OUT).value,
            ).props("no-caps")
            with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1"):
                self.fields["called_at"] = ui.input(
                    _("Date and time") + " *", value=local_input(row.called_at if row else utcnow(), zone)
                ).props("type=datetime-local stack-label")
                minutes = round(row.duration_seconds / 60) if row and row.duration_seconds is not None else None
                self.fields["duration_seconds"] = ui.number(
                    _("Duration (minutes)"), value=minutes, min=0, max=24 * 60, step=1, format="%d"
                )
                self.fields["institution_id"] = institution_picker(
                    value=picked_institution,
                    value_label=row.institution_name if row else institution_name,
                    on_change=self._institution_changed,
                ).classes("col-span-2")
                self.fields["contact_id"] = contact_picker(
                    institution_id=picked_institution,
                    value=row.contact_id if row else None,
                    value_label=row.contact_name if row else None,
                    on_change=self._contact_changed,
                ).classes("col-span-2")
                self.fields["summary"] = (
                    ui.textarea(_("Summary"), value=(row.summary if row else "") or "")
                    .props("autogrow")
                    .classes("col-span-2")
                )
            for name, element in self.fields.items():
                element.mark(f"call-{name}")
                if not editable:
                    element.disable()
            if self.opportunity is not None:  # the opportunity's institution
                self.fields["institution_id"].disable()
            with ui.row().classes("w-full items-center gap-2 q-mt-sm"):
                if row is not None and row.can_edit:
                    ui.button(
                        _("Delete"), icon="delete", on_click=lambda: confirm(_("Delete this call?"), self.delete)
                    ).props("flat no-caps color=negative").mark("call-delete")
                ui.space()
                ui.button(_("Cancel") if editable else _("Close"), on_click=self.dialog.close).props("flat no-caps")
                if editable:
                    ui.button(_("Save"), on_click=self.save).props("unelevated no-caps").mark("call-save")
        disposable(self.dialog)

    def _institution_changed(self, _event: Any) -> None:
        self.fields["contact_id"].set_institution(self.fields["institution_id"].selected_id)

    def _contact_changed(self, _event: Any) -> None:
        """A contact chosen among all contacts brings its institution."""
        picker = self.fields["contact_id"]
        institution_id = picker.institution_of(picker.selected_id)
        institution = self.fields["institution_id"]
        if institution_id is not None and institution.selected_id is None:
            label = (picker.selected_label or "").split(" · ", 1)[-1]
            institution.select_record(institution_id, label)
            picker.institution_id = institution_id

    def values(self) -> dict[str, Any]:
        f = self.fields
        link = {"opportunity_id": self.opportunity[0]} if self.opportunity is not None else {}
        return {
            **link,
            "direction": f["direction"].value,
            "called_at": from_local_input(f["called_at"].value, self.zone),
            "duration_seconds": seconds_of(f["duration_seconds"].value),
            "summary": f["summary"].value,
            "institution_id": f["institution_id"].selected_id,
            "contact_id": f["contact_id"].selected_id,
        }

    async def save(self) -> None:
        raw = self.values()
        if self.notice is not None:
            self.notice.saving()
        with self.home:  # the confirmation outlives the dialog
            if self.row is None:
                if raw["called_at"] is None:
                    raw.pop("called_at")  # the service logs it as made now
                saved: Any = await call(calls.log_call, raw, fields=self.fields)
            else:
                saved = await call(
                    calls.update_call, self.row.id, raw, expected_version=self.row.version, fields=self.fields
                )
            if self.notice is not None:
                self.notice.saved(saved is not None)
            if saved is None:
                return
            ui.notify(_("Call saved."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_saved is not None:
                await self.on_saved()

    async def delete(self) -> None:
        assert self.row is not None
        if self.notice is not None:
            self.notice.saving()
        with self.home:
            if not await call(_deleted, self.row.id):
                if self.notice is not None:
                    self.notice.saved(False)
                return
            ui.notify(_("Call deleted."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_saved is not None:
                await self.on_saved()

    async def reopen(self) -> None:
        """The call as saved now, in a fresh dialog (what was typed here is dropped, as the user chose)."""
        assert self.row is not None
        self.dialog.close()
        if not self.home.is_deleted:
            with self.home:
                await open_call_dialog(self.row.id, on_saved=self.on_saved)


async def open_call_dialog(
    call_id: uuid.UUID | None = None,
    *,
    on_saved: OnSaved | None = None,
    institution_id: uuid.UUID | None = None,
    institution_name: str | None = None,
    opportunity: tuple[uuid.UUID, str] | None = None,
) -> None:
    """Open a logged call (`call_id`) or log a new one, optionally with an institution (and linked to
    an `opportunity` (id, name) of that institution). `on_saved`
    runs after a save or a deletion (the list behind refreshes). Open it in an element that
    `on_saved` does not rebuild."""
    row: CallRow | None = None
    if call_id is not None:
        row = await call(calls.get_call_row, call_id)
        if row is None:
            return
    zone = await user_zone()
    CallDialog(
        row,
        zone=zone,
        on_saved=on_saved,
        institution_id=institution_id,
        institution_name=institution_name,
        opportunity=opportunity,
    ).dialog.open()
