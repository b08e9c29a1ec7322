"""/admin/teams: create, rename, archive and restore teams; /admin/teams/{id}: members and managers.

Only for those with "team.administer" (admins); the services check the same right on every action
and write each change to the security log."""

from __future__ import annotations

import uuid
from typing import Any

from nicegui import ui

from components.backend import call
from components.dialogs import disposable
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.shell import app_page, set_title
from crm_app.accounts import teams
from crm_app.accounts.teams import MemberRow, TeamRow
from crm_app.platform.i18n import N_
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import ROLE_LABELS


def _team_row(row: TeamRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "members": row.member_count,
        "managers": row.manager_count,
        "archived": _("Archived") if row.is_archived else "",
    }


@app_page("/admin/teams", title=N_("Teams"), icon="groups", in_navigation=True, order=92, permission="team.administer")
async def teams_page() -> None:
    state: dict[str, Any] = {"q": "", "archived": False}

    async def load(table_state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        page = await call(
            teams.list_teams, q=state["q"], include_archived=state["archived"], request=page_request(table_state)
        )
        return rows_of(page, _team_row) if page is not None else None

    async def change(name: str, value: Any) -> None:
        state[name] = value
        await table.refresh(first_page=True)

    with ui.row().classes("w-full items-center gap-4"):
        ui.label(_("Teams")).classes("text-h5")
        ui.space()
        ui.button(_("New team"), icon="add", on_click=_new_team_dialog).props("unelevated").mark("new-team")
    with ui.row().classes("w-full items-center gap-4"):
        ui.input(_("Search"), on_change=lambda e: change("q", e.value or "")).props(
            "dense outlined clearable debounce=300"
        ).classes("w-80").mark("search")
        ui.switch(_("Show archived teams"), on_change=lambda e: change("archived", bool(e.value))).mark("show-archived")
    columns = [
        {"name": "name", "label": _("Name"), "field": "name", "align": "left"},
        {"name": "members", "label": _("Members"), "field": "members", "align": "right"},
        {"name": "managers", "label": _("Managers"), "field": "managers", "align": "right"},
        {"name": "archived", "label": "", "field": "archived", "align": "left"},
    ]
    table = PagedTable(columns, load)
    table.table.add_slot(
        "body-cell-name",
        r"""
        <q-td :props="props">
          <a :href="'/admin/teams/' + props.row.id" class="text-primary"
             @click.prevent="() => $parent.$emit('open', '/admin/teams/' + props.row.id)">{{ props.value }}</a>
        </q-td>""",
    )
    table.table.on("open", lambda e: ui.navigate.to(e.args))
    table.table.mark("teams-table")
    await table.refresh()


def _new_team_dialog() -> None:
    async def create() -> None:
        team = await call(teams.create_team, name.value or "", fields={"name": name})
        if team is None:
            return
        dialog.close()
        ui.notify(_("Team created."), type="positive")
        ui.navigate.to(f"/admin/teams/{team.id}")

    with disposable(ui.dialog()) as dialog, ui.card().classes("w-96").mark("team-dialog"):
        ui.label(_("New team")).classes("text-h6")
        name = (
            ui.input(_("Name"))
            .props("autofocus maxlength=120")
            .classes("w-full")
            .mark("team-name")
            .on("keydown.enter", create)
        )
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat")
            ui.button(_("Create"), on_click=create).props("unelevated").mark("create-team")
    dialog.open()


@app_page("/admin/teams/{team_id}", title=N_("Team"), permission="team.administer", parent="/admin/teams")
async def team_page(team_id: uuid.UUID) -> None:
    container = ui.column().classes("w-full gap-0")
    await _show_team(container, team_id)


async def _show_team(container: ui.column, team_id: uuid.UUID) -> None:
    """(Re)build the team's screen inside `container` (after archiving, say)."""
    with container:  # the element that asked for a rebuild may be gone: act in the container
        team: TeamRow | None = await call(teams.get_team, team_id)
    if team is None:
        return
    set_title(team.name)
    version = team.version

    async def rename() -> None:
        nonlocal version
        renamed = await call(
            teams.rename_team, team_id, name.value or "", expected_version=version, fields={"name": name}
        )
        if renamed is not None:
            version = renamed.version
            set_title(renamed.name)
            title.text = renamed.name
            ui.notify(_("Team renamed."), type="positive")

    async def archive(archived: bool) -> None:
        if await call(teams.set_archived, team_id, archived, expected_version=version) is not None:
            ui.notify(_("Team archived.") if archived else _("Team restored."), type="positive")
            await _show_team(container, team_id)

    container.clear()
    with container:
        with ui.row().classes("w-full items-center gap-3 q-mb-md"):
            title = ui.label(team.name).classes("text-h5").mark("team-title")
            if team.is_archived:
                ui.badge(_("Archived")).props("color=grey").mark("archived-badge")
            ui.space()
            if team.is_archived:
                ui.button(_("Restore"), icon="unarchive", on_click=lambda: archive(False)).props("outline").mark(
                    "restore-team"
                )
            else:
                ui.button(_("Archive"), icon="archive", on_click=lambda: archive(True)).props("outline").mark(
                    "archive-team"
                )
        with ui.card().classes("w-full max-w-2xl"):
            with ui.row().classes("w-full items-start gap-2"):
                name = (
                    ui.input(_("Name"), value=team.name)
                    .props("maxlength=120 outlined dense")
                    .classes("grow")
                    .mark("rename-input")
                )
                ui.button(_("Rename"), on_click=rename).props("unelevated").mark("rename-team")
        await _members_card(team_id, archived=team.is_archived)


async def _members_card(team_id: uuid.UUID, *, archived: bool) -> None:
    @ui.refreshable
    def member_list(members: list[MemberRow]) -> None:
        if not members:
            ui.label(_("This team has no members yet.")).classes("text-grey-7")
            return
        with ui.list().props("separator").classes("w-full").mark("members"):
            for member in members:
                with ui.item():
                    with ui.item_section():
                        ui.item_label(member.full_name)
                        ui.item_label(
                            f"{member.email} · {_(ROLE_LABELS[member.role])}"
                            + ("" if member.is_active else f" · {_('Deactivated')}")
                        ).props("caption")
                    with ui.item_section().props("side"):
                        with ui.row().classes("items-center gap-2 no-wrap"):
                            can_toggle = member.role in (Role.USER, Role.MANAGER)  # others: users page
                            ui.switch(
                                _("Manager"),
                                value=member.is_manager,
                                on_change=lambda e, m=member: set_manager(m, bool(e.value)),
                            ).props("dense" + ("" if can_toggle else " disable")).mark(f"manager-{member.email}")
                            ui.button(icon="person_remove", on_click=lambda m=member: remove(m)).props(
                                f'flat round dense color=negative aria-label="{_("Remove from the team")}"'
                            ).tooltip(_("Remove from the team")).mark(f"remove-{member.email}")

    async def refresh() -> None:
        members = await call(teams.list_members, team_id)
        if members is not None:
            member_list.refresh(members)

    async def set_manager(member: MemberRow, is_manager: bool) -> None:
        if is_manager == member.is_manager:
            return
        if await call(teams.set_manager, team_id, member.id, is_manager) is not None:
            ui.notify(
                _("{name} is now a manager of this team.", name=member.full_name)
                if is_manager
                else _("{name} is no longer a manager of this team.", name=member.full_name),
                type="positive",
            )
        await refresh()

    async def remove(member: MemberRow) -> None:
        if await call(teams.remove_member, team_id, member.id) is not None:
            ui.notify(_("{name} left the team.", name=member.full_name), type="positive")
        await refresh()

    async def search(q: str) -> None:
        found = await call(teams.find_candidates, team_id, q) if q.strip() else []
        candidates.clear()
        with candidates:
            for person in found or []:
                with ui.row().classes("w-full items-center gap-2"):
                    ui.label(f"{person.full_name} · {person.email}").classes("grow")
                    ui.button(_("Add"), icon="person_add", on_click=lambda p=person: add(p)).props("flat dense").mark(
                        f"add-{person.email}"
                    )
            if q.strip() and not found:
                ui.label(_("Nobody found.")).classes("text-grey-7")

    async def add(person: MemberRow) -> None:
        with card:  # the clicked button disappears with the candidates: keep a live context
            if await call(teams.add_member, team_id, person.id) is not None:
                ui.notify(_("{name} joined the team.", name=person.full_name), type="positive")
                finder.value = ""
                candidates.clear()
                await refresh()

    with ui.card().classes("w-full max-w-2xl q-mt-md") as card:
        ui.label(_("Members")).classes("text-h6")
        member_list(await call(teams.list_members, team_id) or [])
        if not archived:
            ui.separator()
            finder = (
                ui.input(_("Add a member (name or email)"), on_change=lambda e: search(e.value or ""))
                .props("dense outlined clearable debounce=300")
                .classes("w-full")
                .mark("member-search")
            )
            candidates = ui.column().classes("w-full gap-1").mark("candidates")
