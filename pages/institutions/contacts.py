"""/contacts: every contact with its institution, searched and paged in SQL; /contacts/{id}: one contact."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components import live
from components.backend import call
from components.contact_dialog import open_contact_dialog
from components.paged_table import WRAP, PagedTable, TableState, page_request, rows_of
from components.shell import app_page, set_title
from crm_app.institutions import contacts
from crm_app.institutions.contacts import ContactRow
from crm_app.platform.events import InstitutionChanged
from crm_app.platform.i18n import N_, ngettext, pgettext
from crm_app.platform.i18n import gettext as _


def _row(row: ContactRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.full_name,
        "institution": row.institution_name,
        "institution_id": str(row.institution_id),
        "title": row.title or "",
        "email": row.email or "",
        "phone": row.phone or row.mobile or "",
        "archived": row.is_archived,
    }


@app_page("/contacts", title=N_("Contacts"), icon="contacts", in_navigation=True, order=20, permission="contact.view")
async def contacts_page(query: dict[str, list[str]]) -> None:
    state = {"q": (query.get("q") or [""])[0], "archived": (query.get("archived") or ["active"])[0]}

    async def load(table_state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        params = {k: v for k, v in state.items() if v and not (k == "archived" and v == "active")}
        ui.navigate.history.replace("/contacts" + (f"?{urlencode(params)}" if params else ""))
        page = await call(
            contacts.list_contacts, q=state["q"], archived=state["archived"], request=page_request(table_state)
        )
        if page is None:
            return None
        count.text = ngettext("{count} contact", "{count} contacts", page.total, count=page.total)
        return rows_of(page, _row)

    async def change(name: str, value: str) -> None:
        state[name] = value
        await table.refresh(first_page=True)

    with ui.row().classes("w-full items-center gap-4"):
        ui.label(_("Contacts")).classes("text-h5")
        count = ui.label().classes("text-grey-7").mark("contact-count")
    with ui.row().classes("w-full items-center gap-2"):
        ui.input(_("Search"), value=state["q"], on_change=lambda e: change("q", e.value or "")).props(
            "dense outlined clearable debounce=300"
        ).classes("w-80").mark("search")
        ui.select(
            {
                "active": pgettext("filter", "Active"),
                "archived": pgettext("filter", "Archived"),
                "all": pgettext("filter", "All"),
            },
            value=state["archived"],
            label=pgettext("filter", "Archived"),
            on_change=lambda e: change("archived", e.value),
        ).props("dense outlined").classes("w-36")
    columns = [
        {"name": "name", "label": _("Name"), "field": "name", "align": "left", **WRAP},
        {"name": "institution", "label": _("Institution"), "field": "institution", "align": "left", **WRAP},
        {"name": "title", "label": _("Function"), "field": "title", "align": "left", **WRAP},
        {"name": "email", "label": _("Email"), "field": "email", "align": "left"},
        {"name": "phone", "label": _("Phone"), "field": "phone", "align": "left"},
    ]
    table = PagedTable(columns, load, list_key="contacts")
    table.table.add_slot(
        "body-cell-name",
        r"""
        <q-td :props="props">
          <a :href="'/contacts/' + props.row.id" class="text-primary"
             @click.prevent="() => $parent.$emit('open', '/contacts/' + props.row.id)">{{ props.value }}</a>
        </q-td>""",
    )
    table.table.add_slot(
        "body-cell-institution",
        r"""
        <q-td :props="props">
          <a :href="'/institutions/' + props.row.institution_id" class="text-primary"
             @click.prevent="() => $parent.$emit('open', '/institutions/' + props.row.institution_id)"
          >{{ props.value }}</a>
        </q-td>""",
    )
    table.table.on("open", lambda e: ui.navigate.to(e.args))
    table.table.mark("contacts-table")
    await table.refresh()


@app_page("/contacts/{contact_id}", title=N_("Contact"), permission="contact.view", parent="/contacts")
async def contact_page(contact_id: uuid.UUID) -> None:
    """One contact: a `live.RecordPanel` redrawn after an edit (which once navigated to the page's own
    address, a no-op: the page kept the old values) and at each change someone else saves to it."""

    async def load() -> ContactRow | None:
        row = await call(contacts.get_contact_row, contact_id)
        if row is not None:
            set_title(row.full_name)
        return row

    def edit(row: ContactRow) -> None:
        with panel.frame:  # the dialog outlives the content it was opened from
            open_contact_dialog(row.institution_id, row, panel.show)

    panel: live.RecordPanel[ContactRow] = live.RecordPanel(
        load,
        lambda row: _contact(row, edit),
        wants=lambda event: isinstance(event, InstitutionChanged) and event.contact_id == contact_id,
    )
    await panel.show()


def _contact(row: ContactRow, edit: Callable[[ContactRow], None]) -> None:
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(row.full_name).classes("text-h5").mark("contact-name")
        if row.is_primary:
            ui.badge(_("Primary contact")).props("color=secondary")
        if row.is_archived:
            ui.badge(_("Archived")).props("color=grey")
        ui.space()
        if row.can_edit:
            ui.button(_("Edit"), icon="edit", on_click=lambda: edit(row)).props("unelevated").mark("edit-contact")
    with ui.card().classes("w-full max-w-2xl"):
        with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
            ui.label(_("Institution")).classes("text-grey-7")
            ui.link(row.institution_name, f"/institutions/{row.institution_id}")
            for label, value in (
                (_("Function"), row.title),
                (_("Department"), row.department),
                (_("Email"), row.email),
                (_("Phone"), row.phone),
                (_("Mobile"), row.mobile),
                (_("Does not want emails"), _("Yes") if row.email_opt_out else _("No")),
            ):
                ui.label(label).classes("text-grey-7")
                ui.label(value or "—")
