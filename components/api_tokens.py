"""Personal API tokens on screen: the list with last use and a revoke button (the profile's own tokens,
and a managed user's on /admin/users), and the dialog that creates one and shows it once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from components.backend import call, client_info
from components.dialogs import disposable
from components.pickers import as_day
from crm_app.integrations import api_tokens
from crm_app.integrations.api_tokens import NewToken, TokenRow
from crm_app.integrations.scopes import ACCESS_LABELS, AREA_LABELS, Access, Area, TokenScope, describe, scope_of
from crm_app.platform.i18n import format_datetime
from crm_app.platform.i18n import gettext as _


class FieldMessage:
    """A message under a group of inputs that has no error slot of its own (the scope checkboxes): it
    takes `error` as an input does, so the service's refusal lands next to the group."""

    def __init__(self, marker: str) -> None:
        self.label = ui.label().classes("text-caption text-negative").mark(marker)
        self.label.set_visibility(False)

    @property
    def error(self) -> str | None:
        return self.label.text or None

    @error.setter
    def error(self, message: str | None) -> None:
        self.label.text = message or ""
        self.label.set_visibility(bool(message))


def scope_words(scope: str) -> str:
    area, access = describe(scope)
    return f"{_(area)} · {_(access)}" if access else _(area)


def token_list(
    rows: list[TokenRow], zone: str, revoke: Callable[[TokenRow], Awaitable[None]], *, marker: str = "api-tokens"
) -> None:
    """The tokens, newest first: name, scopes, dates and last use, with a revoke button each."""
    if not rows:
        ui.label(_("No API token.")).classes("text-grey-7").mark(f"{marker}-empty")
        return
    with ui.list().props("separator").classes("w-full").mark(marker):
        for row in rows:
            with ui.item().mark("api-token"):
                with ui.item_section().props("avatar"):
                    ui.icon("key_off" if row.is_expired else "key")
                with ui.item_section():
                    with ui.row().classes("items-center gap-2"):
                        ui.item_label(f"{row.name} · {row.prefix}…")
                        if row.is_expired:
                            ui.badge(_("Expired")).props("color=grey")
                    ui.item_label(", ".join(scope_words(scope) for scope in row.scopes)).props("caption")
                    last_use = (
                        format_datetime(row.last_used_at, zone, style="short") if row.last_used_at else _("never")
                    )
                    ui.item_label(
                        _(
                            "Created {created} · expires {expires} · last used {last_use}",
                            created=format_datetime(row.created_at, zone, style="short"),
                            expires=format_datetime(row.expires_at, zone, style="short"),
                            last_use=last_use,
                        )
                    ).props("caption")
                with ui.item_section().props("side"):
                    ui.button(_("Revoke"), icon="block", on_click=lambda row=row: _confirm_revoke(row, revoke)).props(
                        "flat no-caps color=negative"
                    ).mark("revoke-token")


def _confirm_revoke(row: TokenRow, revoke: Callable[[TokenRow], Awaitable[None]]) -> None:
    with ui.dialog() as dialog, ui.card().mark("confirm-dialog"):
        ui.label(_("Revoke the token {name}? What uses it is refused from its next request.", name=row.name)).classes(
            "text-subtitle1"
        )

        async def go() -> None:
            await revoke(row)
            if not dialog.is_deleted:
                dialog.close()

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
            ui.button(_("Revoke"), on_click=go).props("unelevated no-caps color=negative").mark("confirm-yes")
    disposable(dialog).open()


async def create_dialog(on_created: Callable[[], Awaitable[None]]) -> None:
    """Name, scopes (read and write per area, and admin when the role administers something) and expiry;
    then the token, shown once with a copy button."""
    choice = await call(_choices)
    if choice is None:
        return
    available, (first, default, last) = choice
    with ui.dialog() as dialog, ui.card().classes("w-[36rem]").mark("token-dialog"):
        ui.label(_("New API token")).classes("text-h6")
        name = (
            ui.input(_("Name"), placeholder=_("What will use it (e.g. n8n, Zapier)"))
            .props("maxlength=100 autofocus")
            .classes("w-full")
            .mark("token-name")
        )
        ui.label(_("Scopes")).classes("text-subtitle2 q-mt-sm")
        boxes: dict[TokenScope, ui.checkbox] = {}
        with ui.grid(columns="auto auto auto").classes("items-center gap-x-6").mark("token-scopes"):
            for area in Area:
                ui.label(_(AREA_LABELS[area]))
                for access in Access:
                    scope = scope_of(area, access)
                    boxes[scope] = ui.checkbox(_(ACCESS_LABELS[access])).mark(f"scope-{scope.value}")
        if TokenScope.ADMIN in available:
            boxes[TokenScope.ADMIN] = ui.checkbox(_(describe(TokenScope.ADMIN)[0])).mark("scope-admin")
        scopes_message = FieldMessage("token-scopes-error")
        expires = (
            ui.input(_("Expires on"), value=default.isoformat())
            .props(f"type=date stack-label min={first.isoformat()} max={last.isoformat()}")
            .classes("w-full")
            .mark("token-expires")
        )
        ui.label(_("At most one year. The token stops working at the end of that day.")).classes(
            "text-caption text-grey-7"
        )

        async def create() -> None:
            created: NewToken | None = await call(
                api_tokens.create_token,
                name=name.value or "",
                scopes=[scope.value for scope, box in boxes.items() if box.value],
                expires_on=as_day(expires.value),
                client=client_info(),
                fields={"name": name, "scopes": scopes_message, "expires_on": expires},
            )
            if created is None:
                return
            await on_created()  # in the page's context, before the dialog goes
            page = ui.context.client.content
            dialog.close()
            with page:
                _show_once(created)

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
            ui.button(_("Create the token"), on_click=create).props("unelevated no-caps").mark("token-create")
    disposable(dialog).open()


def _choices(session: Any, actor: Any) -> tuple[tuple[TokenScope, ...], Any]:
    return api_tokens.available_scopes(actor), api_tokens.expiry_bounds(session)


def _show_once(created: NewToken) -> None:
    with disposable(ui.dialog().props("persistent")) as dialog, ui.card().classes("w-[36rem]").mark("token-shown"):
        ui.label(_("Your new API token")).classes("text-h6")
        with ui.row().classes("items-center gap-2 text-warning"):
            ui.icon("warning")
            ui.label(_("Copy it now: it is shown this once and cannot be read again. Keep it secret.")).classes(
                "text-weight-medium"
            )
        ui.input(value=created.token).props("readonly outlined dense").classes("w-full").mark("token-value")
        ui.label(_("Send it as the header: Authorization: Bearer <token>")).classes("text-caption text-grey-7")

        def copy() -> None:
            ui.clipboard.write(created.token)
            ui.notify(_("Token copied."), type="positive")

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Copy the token"), icon="content_copy", on_click=copy).props("outline no-caps").mark(
                "copy-token"
            )
            ui.button(_("I have copied it"), on_click=dialog.close).props("unelevated no-caps").mark("token-done")
    dialog.open()
