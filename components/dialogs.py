"""What every dialog shares: deleting it once closed, and asking before an action that cannot be undone."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from crm_app.platform.i18n import gettext as _


def disposable(dialog: ui.dialog, on_close: Callable[[], None] | None = None) -> ui.dialog:
    """Delete the dialog once closed (a tab opens many over its life)."""

    def changed(event: Any) -> None:
        if not event.value and not dialog.is_deleted:
            if on_close is not None:
                on_close()
            dialog.delete()

    dialog.on_value_change(changed)
    return dialog


def confirm(question: str, action: Callable[[], Awaitable[None]]) -> None:
    """Ask before an action that cannot be undone."""
    with ui.dialog() as dialog, ui.card().mark("confirm-dialog"):
        ui.label(question).classes("text-subtitle1")

        async def go() -> None:
            await action()
            if not dialog.is_deleted:  # the action may have closed the dialog holding this one
                dialog.close()

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
            ui.button(_("Delete"), on_click=go).props("unelevated no-caps color=negative").mark("confirm-yes")
    disposable(dialog).open()


def opportunity_line(opportunity: tuple[uuid.UUID, str] | None, *, marker: str) -> None:
    """Under an activity dialog's title: the opportunity the new activity is linked to (its link), if any."""
    if opportunity is None:
        return
    with ui.row().classes("items-center gap-1 text-grey-8").mark(marker):
        ui.icon("trending_up", size="xs")
        ui.label(_("For the opportunity"))
        ui.link(opportunity[1], f"/opportunities/{opportunity[0]}").classes("text-primary")
