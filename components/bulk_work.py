"""The institution list's bulk work: a task, or a meeting invitation, for every institution of the
selection or of the whole current filter (a segment). One unit of work off the event loop; the dialog
follows its progress, then sums up what was created (or why nothing was)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from components.backend import call
from components.moments import from_local_input, join_moment, user_zone
from crm_app.activities import bulk
from crm_app.activities import tasks as task_service
from crm_app.activities.bulk import AssignTo, BulkKind, BulkProgress, BulkResult
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import format_decimal, ngettext
from crm_app.platform.i18n import gettext as _

SELECTION, FILTER = "selection", "filter"


class BulkWorkDialog:
    """Built when asked for: `query` is the list's current filter, `selected` the rows ticked."""

    def __init__(
        self,
        kind: BulkKind,
        query: InstitutionQuery,
        selected: list[uuid.UUID],
        on_done: Callable[[], Awaitable[None]],
    ) -> None:
        self.kind = kind
        self.query = dataclasses.replace(query, ids=())
        self.selected = selected
        self.on_done = on_done
        self.progress = BulkProgress()
        self.fields: dict[str, Any] = {}

    async def open(self) -> None:
        zone_read = user_zone()
        total = await call(bulk.count_targets, self.query)
        users = await call(task_service.assignable_users)
        self.zone = await zone_read
        if total is None or users is None:
            return
        self.filter_total = total
        with ui.dialog() as self.dialog, ui.card().classes("w-full max-w-xl"):
            self.dialog.mark("bulk-work-dialog")
            ui.label(_("Create a task") if self.kind is BulkKind.TASK else _("Invite to a meeting")).classes("text-h6")
            self.form = ui.column().classes("w-full gap-2")
            with self.form:
                self._form(users)
            self.running = ui.column().classes("w-full gap-2")
            self.running.set_visibility(False)
        self.dialog.on("hide", self.dialog.delete)
        self.dialog.open()

    def _form(self, users: list[tuple[uuid.UUID, str]]) -> None:
        f = self.fields
        targets = {
            FILTER: ngettext(
                "Every institution of the current filter ({count})",
                "Every institution of the current filter ({count})",
                self.filter_total,
                count=format_decimal(self.filter_total),
            )
        }
        if self.selected:
            count = len(self.selected)
            targets = {
                SELECTION: ngettext(
                    "The selected institution ({count})", "The selected institutions ({count})", count, count=count
                ),
                **targets,
            }
        f["target"] = ui.radio(targets, value=next(iter(targets))).mark("bulk-target")
        f["institutions"] = ui.label().classes("text-negative text-caption").mark("bulk-refusal")
        f["institutions"].set_visibility(False)
        f["title"] = ui.input(_("Title")).classes("w-full").mark("bulk-title")
        f["description"] = ui.textarea(_("Description")).classes("w-full").props("autogrow").mark("bulk-description")
        if self.kind is BulkKind.TASK:
            with ui.row().classes("w-full gap-2 no-wrap"):
                f["due_at"] = (
                    ui.input(_("Due date")).props("type=date stack-label clearable").classes("flex-1").mark("bulk-due")
                )
                f["due_time"] = ui.input(_("Due time")).props("type=time stack-label clearable").classes("flex-1")
        else:
            with ui.row().classes("w-full gap-2 no-wrap"):
                f["starts_at"] = (
                    ui.input(_("Starts")).props("type=datetime-local stack-label").classes("flex-1").mark("bulk-starts")
                )
                f["ends_at"] = (
                    ui.input(_("Ends")).props("type=datetime-local stack-label").classes("flex-1").mark("bulk-ends")
                )
        f["assign_to"] = (
            ui.radio(
                {
                    AssignTo.OWNER.value: _("Each institution's owner"),
                    AssignTo.USER.value: _("One user for all"),
                },
                value=AssignTo.OWNER.value,
            )
            .props("inline")
            .mark("bulk-assign-to")
        )
        f["user_id"] = (
            ui.select(
                {str(user_id): name for user_id, name in users},
                label=_("User (also for institutions without an owner)"),
                with_input=True,
                clearable=True,
            )
            .classes("w-full")
            .mark("bulk-user")
        )
        ui.label(
            _("At most {limit} institutions at once; all are created, or none.", limit=format_decimal(bulk.BULK_LIMIT))
        ).classes("text-caption text-grey-7")
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=self.dialog.close).props("flat")
            ui.button(_("Create"), on_click=self._run).props("unelevated").mark("bulk-create")

    def _raw(self) -> dict[str, Any]:
        f = self.fields
        raw: dict[str, Any] = {
            "title": f["title"].value or "",
            "description": f["description"].value or None,
            "assign_to": f["assign_to"].value,
            "user_id": f["user_id"].value or None,
        }
        if self.kind is BulkKind.TASK:
            raw["due_at"] = join_moment(f["due_at"].value, f["due_time"].value, self.zone)
        else:
            raw["starts_at"] = from_local_input(f["starts_at"].value, self.zone)
            raw["ends_at"] = from_local_input(f["ends_at"].value, self.zone)
        return raw

    async def _run(self) -> None:
        f = self.fields
        on_selection = f["target"].value == SELECTION
        query = dataclasses.replace(self.query, ids=tuple(self.selected)) if on_selection else self.query
        f["institutions"].set_visibility(False)
        self.progress.set(0, len(self.selected) if on_selection else self.filter_total)
        self.form.set_visibility(False)
        self.running.clear()
        with self.running:
            ui.label(_("Creating…")).classes("text-subtitle2")
            bar = ui.linear_progress(value=0, show_value=False, size="12px").props("rounded").mark("bulk-progress")
            counter = ui.label().classes("text-caption text-grey-7").mark("bulk-progress-count")

        def follow() -> None:
            done, total = self.progress.read()
            bar.value = done / total if total else 0
            counter.text = _("{done} of {total}", done=format_decimal(done), total=format_decimal(total))

        self.running.set_visibility(True)
        timer = ui.timer(0.2, follow)
        result = await call(
            bulk.create_for_institutions,
            query,
            self._raw(),
            kind=self.kind,
            progress=self.progress,
            fields={
                name: f[name]
                for name in ("title", "description", "due_at", "starts_at", "ends_at", "user_id")
                if name in f
            },
            on_error={ValidationFailed: self._refused},
        )
        timer.cancel()
        if result is None:
            self.running.set_visibility(False)
            self.form.set_visibility(True)
            return
        follow()
        self._summary(result)
        await self.on_done()

    def _refused(self, error: Any) -> None:
        """Field errors next to their field; a refusal of the whole (the limit) above the form."""
        for name, message in error.field_errors.items():
            element = self.fields.get(name)
            if name == "institutions" and element is not None:
                element.text = _(message)
                element.set_visibility(True)
            elif element is not None and hasattr(element, "error"):
                element.error = _(message)
            else:
                ui.notify(_(message), type="negative")

    def _summary(self, result: BulkResult) -> None:
        """Below the full progress bar: what was created, for whom, and what was left out."""
        with self.running:
            created = (
                ngettext("{count} task created.", "{count} tasks created.", result.created, count=result.created)
                if result.kind is BulkKind.TASK
                else ngettext(
                    "{count} meeting invitation created.",
                    "{count} meeting invitations created.",
                    result.created,
                    count=result.created,
                )
            )
            with ui.row().classes("items-center gap-2"):
                ui.icon("check_circle").classes("text-positive text-h5")
                ui.label(created).classes("text-subtitle1").mark("bulk-summary")
            ui.label(
                _(
                    "For their owner: {owners}; for the chosen user: {chosen}.",
                    owners=result.to_owners,
                    chosen=result.to_chosen,
                )
            ).classes("text-grey-8")
            if result.left_out:
                more = "…" if result.left_out > len(result.left_out_names) else ""
                ui.label(
                    ngettext(
                        "{count} institution left out (no owner you may assign to, and no user chosen): {names}",
                        "{count} institutions left out (no owner you may assign to, and no user chosen): {names}",
                        result.left_out,
                        count=result.left_out,
                        names=", ".join(result.left_out_names) + more,
                    )
                ).classes("text-orange-10").mark("bulk-left-out")
            with ui.row().classes("w-full justify-end"):
                ui.button(_("Close"), on_click=self.dialog.close).props("unelevated").mark("bulk-close")
