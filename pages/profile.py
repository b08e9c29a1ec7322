"""/profile: the signed-in user's own name, language and theme."""

from __future__ import annotations

from nicegui import app, ui

from components.backend import call
from components.shell import LOCALE_KEY, app_page
from crm_app.i18n import LANGUAGE_NAMES, N_, current_locale
from crm_app.i18n import gettext as _
from crm_app.models import Theme
from crm_app.services import users


@app_page("/profile", title=N_("Profile"), icon="person")
async def profile_page() -> None:
    profile = await call(users.get_profile)
    if profile is None:
        return
    version = profile.version
    themes = {Theme.AUTO.value: _("Like the system"), Theme.LIGHT.value: _("Light"), Theme.DARK.value: _("Dark")}

    async def save() -> None:
        nonlocal version
        updated = await call(users.update_preferences, full_name=name.value or "", language=language.value,
                             theme=Theme(theme.value), expected_version=version, fields={"full_name": name})
        if updated is None:
            return
        version += 1
        changed_language = language.value != profile.language
        app.storage.user[LOCALE_KEY] = language.value
        ui.notify(_("Your profile was saved."), type="positive")
        if changed_language or theme.value != profile.theme.value:
            ui.navigate.reload()

    with ui.card().classes("w-full max-w-xl"):
        ui.label(_("Profile")).classes("text-h6")
        with ui.grid(columns=2).classes("gap-x-8 gap-y-1 q-mb-md"):
            ui.label(_("Email")).classes("text-grey-7")
            ui.label(profile.email)
            ui.label(_("Role")).classes("text-grey-7")
            ui.label(_(profile.role_label))
            ui.label(_("Team")).classes("text-grey-7")
            ui.label(profile.team_name or _("No team"))
        name = ui.input(_("Name"), value=profile.full_name).classes("w-full").props("maxlength=200") \
            .mark("full-name")
        language = ui.select(LANGUAGE_NAMES, label=_("Language"),
                             value=profile.language or current_locale()).classes("w-full")
        theme = ui.select(themes, label=_("Theme"), value=profile.theme.value).classes("w-full")
        ui.button(_("Save"), on_click=save).props("unelevated").classes("q-mt-md")
