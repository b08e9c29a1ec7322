"""The header bell: the unread count, the latest notifications in a menu, and a toast when one
arrives. Every open tab of the recipient updates within a second, from any server process."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from components import live
from components.backend import call
from components.menus import LazyMenu
from crm_app.platform import notifications
from crm_app.platform.events import Event, NotificationCreated, NotificationsRead
from crm_app.platform.i18n import format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.notifications import NotificationRow
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import Actor

LATEST = 8


class NotificationBell:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.count = 0
        with (
            ui.button(icon="notifications")
            .props(f'flat round color=white aria-label="{_("Notifications")}"')
            .mark("bell") as self.button
        ):
            self.badge = ui.badge("", color="red").props("floating").mark("bell-count")
            self.badge.set_visibility(False)
            # Beside the button, not under it: below, it covered the open menu's "Mark all as read"
            # (and, placed by Quasar, could cover the bell itself on a narrow header).
            self.tooltip = ui.tooltip(_("Notifications")).props("anchor='center left' self='center right'")
            self.tooltip.props["offset"] = [8, 0]
        # The menu is built on the bell's first click (components/menus.py): most tabs never open it.
        self.lazy = LazyMenu(self.button, self._build_menu, props="anchor='bottom right' self='top right'")
        live.watch(self.concerns_me, self.on_event)

    @property
    def menu(self) -> ui.menu | None:
        return self.lazy.menu

    def _build_menu(self) -> None:
        menu = self.lazy.menu
        assert menu is not None
        menu.classes("w-96").props["offset"] = [0, 8]
        menu.on("before-show", self.show_latest)
        menu.on("before-show", js_handler=f"() => getElement({self.tooltip.id})?.hide()")
        self.items = ui.column().classes("w-full gap-0")

    def concerns_me(self, event: Event) -> bool:
        return isinstance(event, NotificationCreated | NotificationsRead) and event.recipient_id == self.actor.id

    def set_count(self, count: int) -> None:
        self.count = count
        self.badge.set_text("99+" if count > 99 else str(count))
        self.badge.set_visibility(count > 0)
        self.button.props(f'aria-label="{_("Notifications")} ({count})"')

    async def refresh(self) -> None:
        count = await call(notifications.unread_count)
        if count is not None:
            self.set_count(count)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, NotificationCreated):
            count, latest = await asyncio.gather(
                call(notifications.unread_count),
                call(notifications.list_notifications, unread_only=True, request=PageRequest(1, 1)),
            )
            if count is not None:
                self.set_count(count)
            if latest is not None and latest.items and latest.items[0].id == event.notification_id:
                ui.notify(latest.items[0].title, type="info", position="top-right", icon="notifications", timeout=6000)
        else:
            await self.refresh()
        if self.menu is not None and self.menu.value:
            await self.show_latest()

    async def show_latest(self, _event: Any = None) -> None:
        page = await call(notifications.list_notifications, request=PageRequest(1, LATEST))
        if page is None:
            return
        self.items.clear()
        with self.items:
            with ui.row().classes("w-full items-center q-px-md q-py-sm"):
                ui.label(_("Notifications")).classes("text-subtitle1 text-weight-medium")
                ui.space()
                ui.button(_("Mark all as read"), on_click=self.mark_all_read).props("flat dense no-caps").mark(
                    "bell-mark-all"
                )
            ui.separator()
            if not page.items:
                ui.label(_("No notifications yet.")).classes("q-pa-md text-grey-7")
            with ui.list().classes("w-full"):
                for row in page.items:
                    self._item(row)
            ui.separator()
            ui.button(_("See all notifications"), on_click=lambda: ui.navigate.to("/notifications")).props(
                "flat no-caps"
            ).classes("w-full")

    def _item(self, row: NotificationRow) -> None:
        async def open_it() -> None:
            if not row.is_read:
                await call(notifications.mark_read, row.id)
            if self.menu is not None:
                self.menu.close()
            ui.navigate.to(row.link or "/notifications")

        with ui.item(on_click=open_it).props("clickable").mark("bell-item"):
            with ui.item_section().props("avatar"):
                ui.icon("fiber_manual_record", color="primary" if not row.is_read else "grey-4", size="xs")
            with ui.item_section():
                ui.item_label(row.title).classes("text-weight-medium" if not row.is_read else "")
                ui.item_label(format_datetime(row.created_at, style="short")).props("caption")

    async def mark_all_read(self) -> None:
        if await call(notifications.mark_all_read) is not None:
            self.set_count(0)
            await self.show_latest()


def notification_bell(actor: Actor) -> NotificationBell:
    """The bell; its first `refresh` is for the caller to start (the shell does once the page is out)."""
    return NotificationBell(actor)
