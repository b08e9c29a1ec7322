"""Add or edit a contact in a dialog (institution page, contact page)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from components import live
from components.backend import call
from components.dialogs import disposable
from crm_app.institutions import contacts
from crm_app.institutions.contacts import ContactRow
from crm_app.platform.events import InstitutionChanged
from crm_app.platform.i18n import gettext as _


def open_contact_dialog(
    institution_id: uuid.UUID, contact: ContactRow | None, on_saved: Callable[[], Awaitable[Any]]
) -> None:
    values: dict[str, Any] = {name: getattr(contact, name) for name in contacts.CONTACT_FIELDS} if contact else {}
    version = contact.version if contact else 0
    home = ui.context.slot.parent
    with ui.dialog() as dialog, ui.card().classes("w-[36rem]").mark("contact-dialog"):
        ui.label(_("Edit contact") if contact else _("New contact")).classes("text-h6")
        notice: live.StaleNotice | None = None
        if contact is not None:

            async def reopen() -> None:
                dialog.close()
                with home:
                    fresh = await call(contacts.get_contact_row, contact.id)
                    if fresh is not None:
                        open_contact_dialog(institution_id, fresh, on_saved)

            # Someone else's save while the user types: said here (the typing stays), not only at save.
            notice = live.StaleNotice(
                lambda event: isinstance(event, InstitutionChanged) and event.contact_id == contact.id, reload=reopen
            )
        fields: dict[str, Any] = {}
        with ui.grid(columns=2).classes("w-full gap-x-4"):
            fields["first_name"] = ui.input(_("First name"), value=values.get("first_name") or "")
            fields["last_name"] = ui.input(_("Last name") + " *", value=values.get("last_name") or "")
            fields["title"] = ui.input(_("Function"), value=values.get("title") or "")
            fields["department"] = ui.input(_("Department"), value=values.get("department") or "")
            fields["email"] = ui.input(_("Email"), value=values.get("email") or "")
            fields["phone"] = ui.input(_("Phone"), value=values.get("phone") or "")
            fields["mobile"] = ui.input(_("Mobile"), value=values.get("mobile") or "")
            fields["is_primary"] = ui.checkbox(_("Primary contact"), value=bool(values.get("is_primary")))
            fields["email_opt_out"] = ui.checkbox(_("Does not want emails"), value=bool(values.get("email_opt_out")))
        for name, element in fields.items():
            element.mark(f"contact-{name}")

        async def save() -> None:
            raw = {name: element.value for name, element in fields.items()}
            if notice is not None:
                notice.saving()
            if contact is None:
                saved = await call(contacts.create_contact, institution_id, raw, fields=fields)
            else:
                saved = await call(contacts.update_contact, contact.id, raw, expected_version=version, fields=fields)
            if notice is not None:
                notice.saved(saved is not None)
            if saved is not None:
                with home:  # the dialog, deleted once closed, takes this button with it
                    ui.notify(_("Contact saved."), type="positive")
                    dialog.close()
                    await on_saved()

        with ui.row().classes("q-mt-md"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat")
            ui.button(_("Save"), on_click=save).props("unelevated").mark("contact-save")
    disposable(dialog).open()  # deleted once closed: its live notice stops watching with it
