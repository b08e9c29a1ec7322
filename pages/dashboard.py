"""/: the dashboard. Figures arrive with the areas that produce them; nothing is invented."""

from __future__ import annotations

from nicegui import ui

from components.backend import call, current_actor
from components.shell import app_page
from crm_app.accounts import users
from crm_app.platform.i18n import N_, format_datetime
from crm_app.platform.i18n import gettext as _


@app_page("/", title=N_("Dashboard"), icon="dashboard", in_navigation=True, order=0, permission="dashboard.view")
async def dashboard_page() -> None:
    actor = current_actor()
    profile = await call(users.get_profile)
    ui.label(_("Welcome, {name}", name=actor.full_name)).classes("text-h5")
    if profile is None:
        return
    with ui.card().classes("w-full"):
        with ui.grid(columns=2).classes("gap-x-8 gap-y-1"):
            ui.label(_("Role")).classes("text-grey-7")
            ui.label(_(profile.role_label))
            ui.label(_("Team")).classes("text-grey-7")
            ui.label(profile.team_name or _("No team"))
            ui.label(_("Previous login")).classes("text-grey-7")
            ui.label(
                format_datetime(profile.previous_login_at, profile.timezone)
                if profile.previous_login_at
                else _("This is your first login.")
            )
