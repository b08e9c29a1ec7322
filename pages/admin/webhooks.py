"""/admin/webhooks (super administrators, "webhook.administer"): the webhooks with their state and
latest delivery; create or edit one (its events chosen by group from the public catalogue), its secret
shown once with a copy button, rotate it, enable or disable, delete after confirmation; and a
webhook's delivery log, with "send a test event" and "redeliver"."""

from __future__ import annotations

import html
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from components.backend import call, show_error
from components.dialogs import confirm, disposable
from components.paged_table import WRAP, PagedTable, TableState, page_request, rows_of
from components.shell import app_page
from crm_app.integrations import catalogue, webhooks
from crm_app.integrations.webhooks import DeliveryRow, WebhookRow
from crm_app.platform.config import get_settings
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_, format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import PageRequest

STATUS_LABELS = {
    "pending": N_("Waiting"),
    "sending": N_("Sending"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
}
STATUS_COLOURS = {"pending": "orange", "sending": "blue", "delivered": "positive", "failed": "negative"}


def _when(value: Any) -> str:
    return format_datetime(value, get_settings().timezone, style="short") if value else "—"


def _events_summary(row: WebhookRow) -> str:
    if row.all_events:
        return _("All events")
    return ", ".join(row.events)


def _last_delivery(row: WebhookRow) -> str:
    if row.last_delivery_status is None:
        return _("No delivery yet")
    status = _(STATUS_LABELS.get(row.last_delivery_status, row.last_delivery_status))
    code = f" · HTTP {row.last_status_code}" if row.last_status_code is not None else ""
    return f"{status}{code} · {_when(row.last_delivery_at)}"


def _list(session: Any, actor: Any) -> list[WebhookRow]:
    return webhooks.list_webhooks(session, actor, PageRequest(1, 100)).items


class WebhooksScreen:
    def __init__(self) -> None:
        self.rows: list[WebhookRow] = []
        self.selected: WebhookRow | None = None
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Webhooks")).classes("text-h5")
            ui.space()
            ui.button(_("Add a webhook"), icon="add", on_click=lambda: self.edit(None)).props(
                "unelevated no-caps"
            ).mark("webhook-add")
        ui.label(
            _(
                "Each public event is sent to the chosen addresses as a signed POST request "
                "(see the README: verifying the signature)."
            )
        ).classes("text-caption text-grey-7")
        self.dialogs = ui.element("div")  # a stable parent: the list is redrawn under an open dialog
        self.list = ui.column().classes("w-full gap-2").mark("webhook-list")
        self.log_area = ui.column().classes("w-full").mark("delivery-log-area")

    async def refresh(self) -> None:
        with self.list:
            found = await call(_list)
        if found is None or self.list.is_deleted:
            return
        self.rows = found
        self.list.clear()
        with self.list:
            if not found:
                ui.label(_("No webhook yet.")).classes("text-grey-7").mark("webhook-empty")
            for row in found:
                self._card(row)

    def _card(self, row: WebhookRow) -> None:
        with ui.card().classes("w-full").mark(f"webhook-{row.id}"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.label(row.url).classes("text-subtitle1 text-weight-medium").mark("webhook-url")
                if row.is_active:
                    ui.badge(_("Active"), color="positive").mark("webhook-state")
                else:
                    ui.badge(_("Disabled"), color="grey").mark("webhook-state")
            if row.description:
                ui.label(row.description).classes("text-grey-8")
            ui.label(_("Events: {events}", events=_events_summary(row))).classes("text-caption").mark("webhook-events")
            ui.label(_("Last delivery: {last}", last=_last_delivery(row))).classes("text-caption").mark("webhook-last")
            ui.label(_("Failures in a row: {count}", count=row.consecutive_failures)).classes("text-caption").mark(
                "webhook-failures"
            )
            if row.disabled_reason:
                ui.label(_(row.disabled_reason)).classes("text-caption text-negative").mark("webhook-disabled-reason")
            with ui.row().classes("w-full gap-2"):
                ui.button(_("Deliveries"), icon="list", on_click=lambda r=row: self.show_log(r)).props(
                    "outline no-caps"
                ).mark("webhook-log")
                ui.button(_("Edit"), icon="edit", on_click=lambda r=row: self.edit(r)).props("outline no-caps").mark(
                    "webhook-edit"
                )
                ui.button(
                    _("Disable") if row.is_active else _("Enable"),
                    icon="pause" if row.is_active else "play_arrow",
                    on_click=lambda r=row: self.toggle(r),
                ).props("outline no-caps").mark("webhook-toggle")
                ui.button(_("Rotate the secret"), icon="key", on_click=lambda r=row: self.rotate(r)).props(
                    "outline no-caps"
                ).mark("webhook-rotate")
                ui.button(_("Delete"), icon="delete", on_click=lambda r=row: self.delete(r)).props(
                    "outline no-caps color=negative"
                ).mark("webhook-delete")

    # --- actions ---------------------------------------------------------------------------------

    def edit(self, row: WebhookRow | None) -> None:
        with self.dialogs:
            WebhookDialog(row, self.saved)

    async def saved(self, secret: str | None) -> None:
        with self.dialogs:
            if secret is not None:
                secret_dialog(secret)
            else:
                ui.notify(_("Webhook saved."), type="positive")
        await self.refresh()

    async def toggle(self, row: WebhookRow) -> None:
        with self.list:
            changed = await call(webhooks.set_active, row.id, not row.is_active)
        if changed is not None:
            ui.notify(_("Webhook enabled.") if changed.is_active else _("Webhook disabled."), type="positive")
            await self.refresh()

    async def rotate(self, row: WebhookRow) -> None:
        with self.list:
            secret = await call(webhooks.rotate_secret, row.id)
        if secret is not None:
            with self.dialogs:
                secret_dialog(secret)

    def delete(self, row: WebhookRow) -> None:
        async def go() -> None:
            with self.list:
                done = await call(_delete, row.id)
            if done:
                ui.notify(_("Webhook deleted."), type="positive")
                if self.selected is not None and self.selected.id == row.id:
                    self.selected = None
                    self.log_area.clear()
                await self.refresh()

        with self.dialogs:
            confirm(_("Delete the webhook {url} and its delivery log?", url=row.url), go)

    async def show_log(self, row: WebhookRow) -> None:
        self.selected = row
        self.log_area.clear()
        with self.log_area:
            log = DeliveryLog(row)
        await log.table.refresh()


def _delete(session: Any, actor: Any, webhook_id: uuid.UUID) -> bool:
    webhooks.delete_webhook(session, actor, webhook_id)
    return True


def secret_dialog(secret: str) -> None:
    """The secret, shown this once, with a button that copies it."""
    with disposable(ui.dialog()) as dialog, ui.card().classes("w-[36rem]").mark("secret-dialog"):
        ui.label(_("The webhook's secret")).classes("text-h6")
        ui.label(
            _("Copy it now: it is shown only this once. The receiver checks each request's signature with it.")
        ).classes("text-grey-8")
        ui.input(value=secret).props("readonly outlined dense").classes("w-full").mark("webhook-secret")

        def copy() -> None:
            ui.clipboard.write(secret)
            ui.notify(_("Secret copied."), type="positive")

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Close"), on_click=dialog.close).props("flat no-caps").mark("secret-close")
            ui.button(_("Copy the secret"), icon="content_copy", on_click=copy).props("unelevated no-caps").mark(
                "secret-copy"
            )
    dialog.open()


class WebhookDialog:
    """Create or edit a webhook: URL (https advised), description, all events or some, by group."""

    def __init__(self, row: WebhookRow | None, on_saved: Callable[[str | None], Awaitable[None]]) -> None:
        self.row = row
        self.on_saved = on_saved
        self.boxes: dict[str, ui.checkbox] = {}
        with disposable(ui.dialog()) as self.dialog, ui.card().classes("w-[40rem]").mark("webhook-dialog"):
            ui.label(_("Edit the webhook") if row else _("Add a webhook")).classes("text-h6")
            self.url = (
                ui.input(_("Address (URL)"), value=row.url if row else "", on_change=self._advise)
                .props("outlined dense autofocus")
                .classes("w-full")
                .mark("webhook-url-input")
            )
            self.description = (
                ui.input(_("Description"), value=row.description if row else "")
                .props("outlined dense maxlength=500")
                .classes("w-full")
                .mark("webhook-description")
            )
            self.all_events = ui.checkbox(
                _("All events (and those added later)"),
                value=row.all_events if row else False,
                on_change=self._show_events,
            ).mark("webhook-all-events")
            self.events_error = ui.label().classes("text-caption text-negative").mark("webhook-events-error")
            self.events_error.set_visibility(False)
            chosen = set(row.events) if row else set()
            self.groups = ui.column().classes("w-full gap-1").mark("webhook-events-choice")
            with self.groups:
                for group, entries in _grouped().items():
                    ui.label(_(group)).classes("text-weight-medium q-mt-sm")
                    for entry in entries:
                        self.boxes[entry.name] = ui.checkbox(
                            f"{entry.name} — {_(entry.description)}", value=entry.name in chosen
                        ).mark(f"event-{entry.name}")
            self._show_events()
            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=self.dialog.close).props("flat no-caps")
                ui.button(_("Save"), on_click=self.save).props("unelevated no-caps").mark("webhook-save")
        self._advise()
        self.dialog.open()

    def _advise(self, _event: Any = None) -> None:
        value = (self.url.value or "").strip().lower()
        self.url.props(
            f'hint="{_("https:// is advised: the events then travel encrypted.")}"'
            if value.startswith("http://")
            else 'hint=""'
        )

    def _show_events(self, _event: Any = None) -> None:
        self.groups.set_visibility(not self.all_events.value)

    async def save(self) -> None:
        raw = {
            "url": self.url.value or "",
            "description": self.description.value or "",
            "all_events": bool(self.all_events.value),
            "events": [] if self.all_events.value else [name for name, box in self.boxes.items() if box.value],
        }
        fields: dict[str, Any] = {"url": self.url, "description": self.description, "events": self.events_error}
        self.events_error.set_visibility(False)

        def events_error(error: Any) -> None:
            show_error(error, {"url": self.url, "description": self.description})
            message = getattr(error, "field_errors", {}).get("events")
            if message:
                self.events_error.text = _(message)
                self.events_error.set_visibility(True)

        if self.row is None:
            created = await call(webhooks.create_webhook, raw, fields=fields, on_error={ValidationFailed: events_error})
            if created is None:
                return
            self.dialog.close()
            await self.on_saved(created[1])
            return
        changed = await call(
            webhooks.update_webhook,
            self.row.id,
            raw,
            expected_version=self.row.version,
            fields=fields,
            on_error={ValidationFailed: events_error},
        )
        if changed is None:
            return
        self.dialog.close()
        await self.on_saved(None)


def _grouped() -> dict[str, list[catalogue.PublicEvent]]:
    groups: dict[str, list[catalogue.PublicEvent]] = {}
    for entry in catalogue.CATALOGUE:
        groups.setdefault(entry.group, []).append(entry)
    return groups


def _delivery_row(row: DeliveryRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "event": row.event,
        "at": _when(row.last_attempt_at or row.created_at),
        "attempts": row.attempts,
        "status": _(STATUS_LABELS.get(row.status, row.status)),
        "colour": STATUS_COLOURS.get(row.status, "grey"),
        "code": "" if row.status_code is None else str(row.status_code),
        "duration": "" if row.duration_ms is None else f"{row.duration_ms} ms",
        "answer": (row.response_excerpt or row.error or "")[:1024],
    }


class DeliveryLog:
    """A webhook's deliveries, newest first, each with a redeliver button; a test event button."""

    def __init__(self, webhook: WebhookRow) -> None:
        self.webhook = webhook
        with ui.card().classes("w-full").mark("delivery-log"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(_("Deliveries to {url}", url=webhook.url)).classes("text-h6")
                ui.space()
                ui.button(_("Refresh"), icon="refresh", on_click=self.reload).props("flat no-caps").mark(
                    "delivery-refresh"
                )
                ui.button(_("Send a test event"), icon="send", on_click=self.test).props("unelevated no-caps").mark(
                    "webhook-test"
                )
            columns = [
                {"name": "event", "label": _("Event"), "field": "event", "align": "left"},
                {"name": "at", "label": _("Time"), "field": "at", "align": "left"},
                {"name": "attempts", "label": _("Attempt"), "field": "attempts", "align": "right"},
                {"name": "status", "label": _("State"), "field": "status", "align": "left"},
                {"name": "code", "label": _("Status code"), "field": "code", "align": "right"},
                {"name": "duration", "label": _("Duration"), "field": "duration", "align": "right"},
                {
                    "name": "answer",
                    "label": _("Answer"),
                    "field": "answer",
                    "align": "left",
                    "style": "max-width: 24rem",
                    **WRAP,
                },
                {"name": "actions", "label": "", "field": "id", "align": "right"},
            ]
            self.table = PagedTable(columns, self.load)
            self.table.table.mark("delivery-table")
            self.table.table.add_slot(
                "body-cell-status",
                r"""<q-td :props="props"><q-badge :color="props.row.colour">{{ props.value }}</q-badge></q-td>""",
            )
            self.table.table.add_slot(
                "body-cell-actions",
                '<q-td :props="props"><q-btn flat dense no-caps icon="replay" '
                f'label="{html.escape(_("Redeliver"))}" '
                """@click="() => $parent.$emit('redeliver', props.row.id)" /></q-td>""",
            )
            self.table.table.on("redeliver", self.redeliver)

    async def reload(self) -> None:
        await self.table.refresh()

    async def load(self, state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        page = await call(webhooks.list_deliveries, self.webhook.id, page_request(state))
        return None if page is None else rows_of(page, _delivery_row)

    async def test(self) -> None:
        sent = await call(webhooks.send_test, self.webhook.id)
        if sent is not None:
            ui.notify(_("Test event queued: it leaves within seconds."), type="positive")
            await self.table.refresh()

    async def redeliver(self, event: Any) -> None:
        delivery_id = uuid.UUID(str(event.args))
        again = await call(webhooks.redeliver, self.webhook.id, delivery_id)
        if again is not None:
            ui.notify(_("Delivery queued again."), type="positive")
            await self.table.refresh()


@app_page(
    "/admin/webhooks",
    title=N_("Webhooks"),
    icon="webhook",
    in_navigation=True,
    order=95,
    permission="webhook.administer",
)
async def webhooks_page() -> None:
    screen = WebhooksScreen()
    await screen.refresh()
