"""/notifications: the notification centre (all or unread, newest first, paged; mark read, mark all
read; each links to its record). It follows new notifications live, like the bell."""

from __future__ import annotations

import uuid
from typing import Any

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.shell import app_page
from crm_app.platform import notifications
from crm_app.platform.events import Event, NotificationCreated, NotificationsRead
from crm_app.platform.i18n import N_, format_datetime, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.notifications import NotificationRow


def _row(row: NotificationRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "title": row.title,
        "at": format_datetime(row.created_at, style="short"),
        "link": row.link or "",
        "unread": not row.is_read,
    }


@app_page("/notifications", title=N_("Notifications"), icon="notifications", in_navigation=True, order=90)
async def notifications_page(query: dict[str, list[str]]) -> None:
    actor = current_actor()
    state = {"unread": (query.get("unread") or [""])[0] == "1"}

    async def load(table_state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        ui.navigate.history.replace("/notifications" + ("?unread=1" if state["unread"] else ""))
        page = await call(
            notifications.list_notifications, unread_only=state["unread"], request=page_request(table_state)
        )
        if page is None:
            return None
        count.text = ngettext("{count} notification", "{count} notifications", page.total, count=page.total)
        return rows_of(page, _row)

    async def show(unread: bool) -> None:
        state["unread"] = unread
        await table.refresh(first_page=True)

    async def open_row(event: Any) -> None:
        row = event.args
        if row.get("unread"):
            await call(notifications.mark_read, uuid.UUID(row["id"]))
        if row.get("link"):
            ui.navigate.to(row["link"])
        else:
            await table.refresh()

    async def mark_all() -> None:
        marked = await call(notifications.mark_all_read)
        if marked is not None:
            ui.notify(
                ngettext(
                    "{count} notification marked as read.",
                    "{count} notifications marked as read.",
                    marked,
                    count=marked,
                ),
                type="positive",
            )
            await table.refresh()

    async def on_event(_event: Event) -> None:
        await table.refresh()

    with ui.row().classes("w-full items-center gap-4"):
        ui.label(_("Notifications")).classes("text-h5")
        count = ui.label().classes("text-grey-7").mark("notification-count")
        ui.space()
        ui.button(_("Mark all as read"), icon="done_all", on_click=mark_all).props("flat no-caps").mark("mark-all-read")
    ui.toggle({False: _("All"), True: _("Unread")}, value=state["unread"], on_change=lambda e: show(e.value)).props(
        "no-caps"
    ).mark("unread-toggle")
    columns = [
        {"name": "title", "label": _("Notification"), "field": "title", "align": "left"},
        {"name": "at", "label": _("When"), "field": "at", "align": "left"},
    ]
    table = PagedTable(columns, load)
    table.table.add_slot(
        "body-cell-title",
        r"""
        <q-td :props="props">
          <a href="#" :class="props.row.unread ? 'text-weight-bold text-primary' : 'text-grey-8'"
             @click.prevent="() => $parent.$emit('open', props.row)">{{ props.value }}</a>
          <q-badge v-if="props.row.unread" color="primary" class="q-ml-sm" rounded />
        </q-td>""",
    )
    table.table.on("open", open_row)
    table.table.mark("notifications-table")
    live.watch(
        lambda e: isinstance(e, NotificationCreated | NotificationsRead) and e.recipient_id == actor.id, on_event
    )
    await table.refresh()
