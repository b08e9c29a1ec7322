"""/admin/users: the accounts an administrator manages (admins: everyone; team admins: their team).

Paged and searched in SQL. A row the viewer may administer opens a dialog holding only the actions
that fit its status (the services refuse the rest anyway)."""

from __future__ import annotations

import html
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components import api_tokens as token_widgets
from components.backend import call, client_info
from components.dialogs import disposable
from components.moments import user_zone
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.shell import app_page
from crm_app.accounts import administration as accounts
from crm_app.accounts.administration import STATUS_LABELS, AdminChoices, UserRow, UserStatus
from crm_app.integrations import api_tokens
from crm_app.integrations.api_tokens import TokenRow
from crm_app.platform.i18n import N_, format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import ROLE_LABELS

STATUS_COLORS = {UserStatus.ACTIVE: "positive", UserStatus.INVITED: "info", UserStatus.DEACTIVATED: "grey"}
NO_TEAM = ""


def _row(row: UserRow, zone: str) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.full_name,
        "email": row.email,
        "role": _(ROLE_LABELS[row.role]),
        "team": row.team_name or "—",
        "status": row.status.value,
        "status_label": _(STATUS_LABELS[row.status]),
        "status_color": STATUS_COLORS[row.status],
        "last_login": format_datetime(row.last_login_at, zone, style="short") if row.last_login_at else "—",
        "manage": row.can_administer,
    }


def _team_options(choices: AdminChoices) -> dict[str, str]:
    options = {NO_TEAM: _("No team")} if choices.can_choose_no_team else {}
    options.update({str(team_id): name for team_id, name in choices.teams})
    return options


def _role_options(choices: AdminChoices) -> dict[str, str]:
    return {role.value: _(ROLE_LABELS[role]) for role in choices.roles}


def _team_id(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _ask(question: str, confirm_label: str, action: Callable[[], Awaitable[None]], *, danger: bool = False) -> None:
    """Ask before an action with consequences for someone else."""
    with ui.dialog() as dialog, ui.card().mark("confirm-dialog"):
        ui.label(question).classes("text-subtitle1")

        async def go() -> None:
            await action()
            if not dialog.is_deleted:
                dialog.close()

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
            ui.button(confirm_label, on_click=go).props(
                f"unelevated no-caps color={'negative' if danger else 'primary'}"
            ).mark("confirm-yes")
    disposable(dialog).open()


def _status_actions(
    row: UserRow,
    choices: AdminChoices,
    run: Callable[[Callable[..., Any], str], Awaitable[None]],
    show_link: Callable[[], Awaitable[None]],
) -> None:
    """What can be done to the account in its status: invitation, reset link, (de)activation."""
    with ui.row().classes("w-full gap-2"):
        if row.status is UserStatus.INVITED and not choices.mail_configured:
            ui.button(_("Get the invitation link"), icon="link", on_click=show_link).props("outline no-caps").mark(
                "get-link"
            )
        elif row.status is UserStatus.INVITED:
            ui.button(
                _("Resend the invitation"),
                icon="send",
                on_click=lambda: run(accounts.resend_invitation, _("Invitation sent to {email}.", email=row.email)),
            ).props("outline no-caps").mark("resend-invitation")
        if row.status is UserStatus.INVITED:
            ui.button(
                _("Revoke the invitation"),
                icon="cancel",
                on_click=lambda: _ask(
                    _("Revoke the invitation of {email}? The link stops working.", email=row.email),
                    _("Revoke"),
                    lambda: run(accounts.revoke_invitation, _("Invitation revoked.")),
                    danger=True,
                ),
            ).props("outline no-caps color=negative").mark("revoke-invitation")
        if row.status is UserStatus.ACTIVE and not choices.mail_configured:
            ui.button(_("Get a password reset link"), icon="key", on_click=show_link).props("outline no-caps").mark(
                "get-link"
            )
        elif row.status is UserStatus.ACTIVE:
            ui.button(
                _("Send a password reset link"),
                icon="key",
                on_click=lambda: run(accounts.send_reset_link, _("Reset link sent to {email}.", email=row.email)),
            ).props("outline no-caps").mark("send-reset-link")
        if row.status is UserStatus.ACTIVE:
            ui.button(
                _("Deactivate"),
                icon="block",
                on_click=lambda: _ask(
                    _(
                        "Deactivate {name}? They are signed out at once and can no longer log in.",
                        name=row.full_name,
                    ),
                    _("Deactivate"),
                    lambda: run(accounts.deactivate_user, _("Account deactivated.")),
                    danger=True,
                ),
            ).props("outline no-caps color=negative").mark("deactivate")
        if row.status is UserStatus.DEACTIVATED:
            ui.button(
                _("Reactivate"),
                icon="restart_alt",
                on_click=lambda: run(accounts.reactivate_user, _("Account reactivated.")),
            ).props("outline no-caps").mark("reactivate")


def _link_dialog(email: str, link: str) -> None:
    """The link to pass on by hand (no SMTP server is set), with a button that copies it."""
    with disposable(ui.dialog()) as dialog, ui.card().classes("w-[36rem]").mark("link-dialog"):
        ui.label(_("No email can be sent: give {email} this link yourself.", email=email)).classes("text-subtitle1")
        ui.input(value=link).props("readonly outlined dense").classes("w-full").mark("account-link")

        def copy() -> None:
            ui.clipboard.write(link)
            ui.notify(_("Link copied."), type="positive")

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Close"), on_click=dialog.close).props("flat no-caps")
            ui.button(_("Copy the link"), icon="content_copy", on_click=copy).props("unelevated no-caps").mark(
                "copy-link"
            )
    dialog.open()


def _invite_dialog(choices: AdminChoices, on_done: Callable[[], Awaitable[None]]) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-96").mark("invite-dialog"):
        ui.label(_("Invite a user")).classes("text-h6")
        email = ui.input(_("Email")).props("type=email autofocus").classes("w-full").mark("invite-email")
        name = ui.input(_("Name")).classes("w-full").mark("invite-name")
        roles = _role_options(choices)
        role = (
            ui.select(
                roles, value=Role.USER.value if Role.USER.value in roles else next(iter(roles), None), label=_("Role")
            )
            .classes("w-full")
            .mark("invite-role")
        )
        teams = _team_options(choices)
        team = ui.select(teams, value=next(iter(teams), None), label=_("Team")).classes("w-full").mark("invite-team")
        ui.label(_("They receive an email with a link, valid for 72 hours, to choose their password.")).classes(
            "text-caption text-grey-7"
        )

        async def send() -> None:
            fields = {"email": email, "full_name": name, "role": role, "team_id": team}
            invited = await call(
                accounts.invite_user,
                email=email.value or "",
                full_name=name.value or "",
                role=Role(role.value),
                team_id=_team_id(team.value),
                client=client_info(),
                fields=fields,
            )
            if invited is None:
                return
            link = None
            if choices.mail_configured:
                ui.notify(_("Invitation sent to {email}.", email=invited.email), type="positive")
            else:  # nobody receives mail: the administrator passes the link on
                link = await call(accounts.copyable_link, invited.id, client=client_info())
            await on_done()  # in the page's context, before the dialog goes
            page = ui.context.client.content
            dialog.close()
            if link is not None:
                with page:
                    _link_dialog(invited.email, link)

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps")
            ui.button(_("Send the invitation"), on_click=send).props("unelevated no-caps").mark("invite-send")
    disposable(dialog).open()


async def _user_tokens(row: UserRow) -> None:
    """The account's personal API tokens, each with a revoke button."""
    zone = await user_zone()

    @ui.refreshable
    def token_list(rows: list[TokenRow]) -> None:
        token_widgets.token_list(rows, zone, revoke, marker="user-api-tokens")

    async def revoke(token: TokenRow) -> None:
        if await call(api_tokens.revoke_user_token, row.id, token.id, client=client_info()) is not None:
            ui.notify(_("Token revoked: it no longer works."), type="positive")
            token_list.refresh(await call(api_tokens.list_user_tokens, row.id) or [])

    ui.separator()
    ui.label(_("API tokens")).classes("text-subtitle2")
    token_list(await call(api_tokens.list_user_tokens, row.id) or [])


async def _manage_dialog(row: UserRow, choices: AdminChoices, on_done: Callable[[], Awaitable[None]]) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[28rem]").mark("manage-dialog"):
        with ui.row().classes("items-center gap-2"):
            ui.label(row.full_name).classes("text-h6")
            ui.badge(_(STATUS_LABELS[row.status])).props(f"color={STATUS_COLORS[row.status]}")
        ui.label(row.email).classes("text-grey-7")

        async def run(service: Callable[..., Any], done_message: str) -> None:
            result = await call(service, row.id, client=client_info())
            if result is None:
                return
            ui.notify(done_message, type="positive")
            await on_done()  # in the page's context, before the dialog goes
            dialog.close()

        async def show_link() -> None:
            link = await call(accounts.copyable_link, row.id, client=client_info())
            if link is not None:
                page = ui.context.client.content
                dialog.close()
                with page:
                    _link_dialog(row.email, link)

        if row.status is not UserStatus.INVITED:
            ui.separator()
            ui.label(_("Role and team")).classes("text-subtitle2")
            roles = _role_options(choices)
            if row.role.value not in roles:
                roles[row.role.value] = _(ROLE_LABELS[row.role])
            role = ui.select(roles, value=row.role.value, label=_("Role")).classes("w-full").mark("manage-role")
            teams = _team_options(choices)
            if row.team_id is not None and str(row.team_id) not in teams:
                teams[str(row.team_id)] = row.team_name or "?"
            team = (
                ui.select(teams, value=str(row.team_id) if row.team_id else NO_TEAM, label=_("Team"))
                .classes("w-full")
                .mark("manage-team")
            )

            async def save() -> None:
                changed = await call(
                    accounts.change_role_and_team,
                    row.id,
                    role=Role(role.value),
                    team_id=_team_id(team.value),
                    change_team=True,
                    expected_version=row.version,
                    client=client_info(),
                    fields={"role": role, "team_id": team},
                )
                if changed is None:
                    return
                ui.notify(_("Saved."), type="positive")
                await on_done()
                dialog.close()

            ui.button(_("Save"), on_click=save).props("unelevated no-caps").mark("manage-save")
        if row.status is not UserStatus.INVITED:
            await _user_tokens(row)
        ui.separator()
        _status_actions(row, choices, run, show_link)
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Close"), on_click=dialog.close).props("flat no-caps")
    disposable(dialog).open()


@app_page(
    "/admin/users",
    title=N_("Users"),
    icon="manage_accounts",
    in_navigation=True,
    order=90,
    permission="user.administer",
)
async def admin_users_page(query: dict[str, list[str]]) -> None:
    state = {"q": (query.get("q") or [""])[0], "status": (query.get("status") or [""])[0]}
    if state["status"] not in {s.value for s in UserStatus}:
        state["status"] = ""
    zone = await user_zone()
    choices: AdminChoices | None = await call(accounts.admin_choices)
    if choices is None:
        return

    async def load(table_state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        params = {k: v for k, v in state.items() if v}
        ui.navigate.history.replace("/admin/users" + (f"?{urlencode(params)}" if params else ""))
        page = await call(
            accounts.list_users,
            q=state["q"],
            status=UserStatus(state["status"]) if state["status"] else None,
            request=page_request(table_state),
            sort=table_state.sort or "full_name",
            descending=table_state.descending,
        )
        if page is None:
            return None
        count.text = _("{count} users", count=page.total)
        return rows_of(page, lambda row: _row(row, zone))

    async def change(name: str, value: str) -> None:
        state[name] = value
        await table.refresh(first_page=True)

    async def reload() -> None:
        await table.refresh()

    async def manage(event: Any) -> None:
        row = await call(accounts.get_user_row, uuid.UUID(str(event.args)))
        if row is not None and choices is not None:
            await _manage_dialog(row, choices, reload)

    with ui.row().classes("w-full items-center gap-4"):
        ui.label(_("Users")).classes("text-h5")
        count = ui.label().classes("text-grey-7").mark("user-count")
        ui.space()
        ui.button(_("Invite"), icon="person_add", on_click=lambda: _invite_dialog(choices, reload)).props(
            "unelevated no-caps"
        ).mark("invite")
    with ui.row().classes("w-full items-center gap-2"):
        ui.input(_("Search"), value=state["q"], on_change=lambda e: change("q", e.value or "")).props(
            "dense outlined clearable debounce=300"
        ).classes("w-80").mark("user-search")
        ui.select(
            {"": _("All"), **{s.value: _(STATUS_LABELS[s]) for s in UserStatus}},
            value=state["status"],
            label=_("Status"),
            on_change=lambda e: change("status", e.value or ""),
        ).props("dense outlined").classes("w-40").mark("status-filter")
    columns: list[dict[str, Any]] = [
        {"name": "full_name", "label": _("Name"), "field": "name", "align": "left", "sortable": True},
        {"name": "email", "label": _("Email"), "field": "email", "align": "left", "sortable": True},
        {"name": "role", "label": _("Role"), "field": "role", "align": "left", "sortable": True},
        {"name": "team_name", "label": _("Team"), "field": "team", "align": "left", "sortable": True},
        {"name": "status", "label": _("Status"), "field": "status_label", "align": "left"},
        {"name": "last_login_at", "label": _("Last login"), "field": "last_login", "align": "left", "sortable": True},
        {"name": "actions", "label": "", "field": "id", "align": "right"},
    ]
    table = PagedTable(columns, load, state=TableState(sort="full_name"))
    table.table.add_slot(
        "body-cell-status",
        r"""
        <q-td :props="props"><q-badge :color="props.row.status_color" :label="props.value" /></q-td>""",
    )
    manage_label = html.escape(_("Manage"))
    table.table.add_slot(
        "body-cell-actions",
        rf'''
        <q-td :props="props">
          <q-btn v-if="props.row.manage" flat dense no-caps icon="settings" label="{manage_label}"
                 @click="() => $parent.$emit('manage', props.row.id)" />
        </q-td>''',
    )
    table.table.on("manage", manage)
    table.table.mark("users-table")
    await table.refresh()
