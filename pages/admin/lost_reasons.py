"""The lost reasons, a section of /admin/settings for those who may edit them
("opportunity_settings.edit"): the list a salesperson picks from when a sale is lost. Add one, rename
it, move it up or down, retire it (no longer offered; the sales lost for it keep it) or bring it back,
delete one no sale was lost for. Each change is saved at once, with the service's message next to
its field."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from nicegui import ui
from sqlmodel import Session

from components.backend import call
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor
from crm_app.sales import opportunities
from crm_app.sales.opportunities import LostReasonRow


def _all_reasons(session: Session, _actor: Actor) -> list[LostReasonRow]:
    return opportunities.list_lost_reasons(session, include_retired=True)


def _changed(
    session: Session, actor: Actor, change: Callable[..., Any], *args: Any, **kwargs: Any
) -> list[LostReasonRow]:
    """`change(session, actor, *args, **kwargs)`, then the list as it now is (what the section redraws)."""
    change(session, actor, *args, **kwargs)
    return _all_reasons(session, actor)


class LostReasonsSection:
    """The section's card: the list, redrawn from what each change returns. A row's buttons read the
    reason's version from `self.reasons` when clicked, not when drawn: a click that follows the
    user's own change before the redraw acts on the version that change left, not on a stale one
    (a conflict is only another user's change)."""

    def __init__(self) -> None:
        self.reasons: list[LostReasonRow] = []
        with ui.card().classes("w-full q-mb-md").mark("section-lost-reasons") as self.card:
            ui.label(_("Lost reasons")).classes("text-h6")
            ui.label(
                _(
                    "The reasons offered when a sale is marked lost, in this order. A retired reason is no "
                    "longer offered; the sales lost for it keep it."
                )
            ).classes("text-caption text-grey-7")
            self.list = ui.column().classes("w-full gap-1").mark("lost-reasons")
            with ui.row().classes("w-full items-start gap-2"):
                self.new = (
                    ui.input(_("New reason"))
                    .props("outlined dense maxlength=120")
                    .classes("w-80 max-w-full")
                    .mark("lost-reason-new")
                    .on("keydown.enter", self.add)
                )
                ui.button(_("Add"), icon="add", on_click=self.add).props("unelevated no-caps").mark("lost-reason-add")

    async def refresh(self) -> None:
        # In the card's context: the button clicked (a row's) is deleted by the redraw.
        with self.card:
            found = await call(_all_reasons)
        if found is not None:
            self.redraw(found)

    def redraw(self, found: list[LostReasonRow]) -> None:
        self.reasons = found
        if self.list.is_deleted:
            return
        self.list.clear()
        with self.list:
            for index, reason in enumerate(found):
                self._row(index, reason)

    def _row(self, index: int, reason: LostReasonRow) -> None:
        active = [r for r in self.reasons if r.is_active]
        with ui.row().classes("w-full items-center no-wrap gap-1").mark(f"lost-reason-{reason.id}"):
            label = (
                ui.input(value=opportunities.lost_reason_label(reason.label))
                .props(f'outlined dense maxlength=120 aria-label="{_("Reason")}"')
                .classes("flex-1 min-w-0")
                .mark(f"lost-reason-label-{reason.id}")
            )
            label.on("keydown.enter", lambda r=reason.id, f=label: self.rename(r, f))
            if not reason.is_active:
                ui.badge(_("Retired"), color="grey").mark(f"lost-reason-retired-{reason.id}")
            ui.button(icon="save", on_click=lambda r=reason.id, f=label: self.rename(r, f)).props(
                f'flat round dense aria-label="{_("Save")}"'
            ).tooltip(_("Save")).mark(f"lost-reason-save-{reason.id}")
            up = ui.button(icon="arrow_upward", on_click=lambda r=reason.id: self.move(r, -1)).props(
                f'flat round dense aria-label="{_("Move up")}"'
            )
            up.tooltip(_("Move up")).mark(f"lost-reason-up-{reason.id}")
            down = ui.button(icon="arrow_downward", on_click=lambda r=reason.id: self.move(r, 1)).props(
                f'flat round dense aria-label="{_("Move down")}"'
            )
            down.tooltip(_("Move down")).mark(f"lost-reason-down-{reason.id}")
            if not reason.is_active or index == 0:
                up.disable()
            if not reason.is_active or index >= len(active) - 1:
                down.disable()
            ui.button(
                _("Bring back") if not reason.is_active else _("Retire"),
                icon="unarchive" if not reason.is_active else "archive",
                on_click=lambda r=reason.id: self.toggle_active(r),
            ).props("flat dense no-caps").mark(f"lost-reason-retire-{reason.id}")
            ui.button(icon="delete", on_click=lambda r=reason.id, f=label: self.delete(r, f)).props(
                f'flat round dense color=negative aria-label="{_("Delete")}"'
            ).tooltip(_("Delete")).mark(f"lost-reason-delete-{reason.id}")

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`call` in the card's context, where the confirmation outlives the row clicked."""
        with self.card:
            return await call(fn, *args, **kwargs)

    def _current(self, reason_id: uuid.UUID) -> LostReasonRow | None:
        return next((r for r in self.reasons if r.id == reason_id), None)

    async def add(self) -> None:
        found = await self._call(
            _changed, opportunities.create_lost_reason, self.new.value or "", fields={"label": self.new}
        )
        if found is not None:
            self.new.set_value("")
            with self.card:
                ui.notify(_("Reason added."), type="positive")
            self.redraw(found)

    async def rename(self, reason_id: uuid.UUID, field: Any) -> None:
        reason = self._current(reason_id)
        if reason is None or (field.value or "") == opportunities.lost_reason_label(reason.label):
            return  # unchanged (a default reason shown translated stays a message id)
        found = await self._call(
            _changed,
            opportunities.update_lost_reason,
            reason.id,
            label=field.value or "",
            expected_version=reason.version,
            fields={"label": field},
        )
        if found is not None:
            with self.card:
                ui.notify(_("Reason saved."), type="positive")
            self.redraw(found)

    async def toggle_active(self, reason_id: uuid.UUID) -> None:
        reason = self._current(reason_id)
        if reason is None:
            return
        active = not reason.is_active
        found = await self._call(
            _changed, opportunities.update_lost_reason, reason.id, is_active=active, expected_version=reason.version
        )
        if found is None:
            await self.refresh()  # refused (another user's change): show the list as it now is
            return
        with self.card:
            ui.notify(_("Reason brought back.") if active else _("Reason retired."), type="positive")
        self.redraw(found)

    async def move(self, reason_id: uuid.UUID, step: int) -> None:
        order = [r.id for r in self.reasons if r.is_active]
        if reason_id not in order:
            return
        index = order.index(reason_id)
        target = index + step
        if not 0 <= target < len(order):
            return
        order[index], order[target] = order[target], order[index]
        found = await self._call(opportunities.reorder_lost_reasons, order)
        if found is None:
            await self.refresh()
            return
        self.redraw(found)

    async def delete(self, reason_id: uuid.UUID, field: Any) -> None:
        found = await self._call(_changed, opportunities.delete_lost_reason, reason_id, fields={"label": field})
        if found is not None:
            with self.card:
                ui.notify(_("Reason deleted."), type="positive")
            self.redraw(found)


async def lost_reasons_section() -> None:
    section = LostReasonsSection()
    await section.refresh()
