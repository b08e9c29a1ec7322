"""/admin/settings: organisation, email (SMTP) with a test message, modules on/off, sessions and
retention. Only for "settings.system" (super administrators); each section is shown to those with its
right, saved on its own with its version, and every change is written to the security log by the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import available_timezones

from nicegui import ui

from components.backend import call, client_info
from components.shell import app_page
from crm_app.i18n import LANGUAGE_NAMES, N_
from crm_app.i18n import gettext as _
from crm_app.services import settings as app_settings
from crm_app.services.settings import MODULES, PASSWORD_SET, SECTION_TITLES, SMTP_FIELDS, SectionView

SMTP_LABELS = {"smtp_host": N_("SMTP server"), "smtp_port": N_("Port"), "smtp_secure": N_("TLS from the start (SMTPS)"),
               "smtp_user": N_("User name"), "smtp_password": N_("Password"), "smtp_from": N_("Sender")}


@app_page("/admin/settings", title=N_("Settings"), icon="settings", in_navigation=True, order=98,
          permission="settings.system")
async def settings_page() -> None:
    view = await call(app_settings.get_settings_view)
    if view is None:
        return
    ui.label(_("Settings")).classes("text-h5")
    for name, section in view.sections.items():
        with ui.card().classes("w-full q-mb-md").mark(f"section-{name}"):
            ui.label(_(SECTION_TITLES[name])).classes("text-h6")
            _BUILDERS[name](_Section(section))


class _Section:
    """One section's form: its version, its inputs, the save action and the "last changed" line."""

    def __init__(self, view: SectionView) -> None:
        self.view = view
        self.name = view.name
        self.version = view.version
        self.fields: dict[str, Any] = {}
        self.changed = ui.label().classes("text-caption text-grey-7")
        self._show_changed(view)

    def _show_changed(self, view: SectionView) -> None:
        if view.updated_by_name:
            self.changed.text = _("Last changed by {name}.", name=view.updated_by_name)

    async def save(self, values: dict[str, Any]) -> SectionView | None:
        saved: SectionView | None = await call(app_settings.update_section, self.name, values,
                                               expected_version=self.version, client=client_info(),
                                               fields=self.fields)
        if saved is not None:
            self.version = saved.version
            self._show_changed(saved)
            ui.notify(_("Settings saved."), type="positive")
        return saved

    def save_button(self, values: Callable[[], dict[str, Any]]) -> None:
        async def save() -> None:
            await self.save(values())
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Save"), icon="save", on_click=save).props("unelevated").mark(f"save-{self.name}")


def _organisation(section: _Section) -> None:
    values = section.view.values
    fields = section.fields
    fields["name"] = ui.input(_("Organisation name"), value=values["name"]).props("outlined maxlength=200") \
        .classes("w-96").mark("org-name")
    fields["default_language"] = ui.select(LANGUAGE_NAMES, label=_("Default language"),
                                           value=values["default_language"]).props("outlined") \
        .classes("w-96").mark("org-language")
    fields["timezone"] = ui.input(_("Time zone"), value=values["timezone"],
                                  autocomplete=sorted(available_timezones())).props("outlined") \
        .classes("w-96").mark("org-timezone")
    section.save_button(lambda: {name: fields[name].value for name in ("name", "default_language", "timezone")})


def _email(section: _Section) -> None:
    view = section.view
    fields = section.fields
    ui.label(_("From the environment (SMTP_* variables):")).classes("text-weight-medium")
    with ui.grid(columns=2).classes("gap-x-6 gap-y-1").mark("smtp-environment"):
        for name in SMTP_FIELDS:
            ui.label(_smtp_label(name))
            ui.label(_password_state(view.environment[name]) if name == "smtp_password"
                     else str(view.environment[name]) or "—")
    override = ui.switch(_("Use other values, set here"), value=bool(view.overridden)).mark("smtp-override")
    with ui.column().classes("w-full gap-2").bind_visibility_from(override, "value"):
        values = view.values
        fields["smtp_host"] = ui.input(_smtp_label("smtp_host"), value=values["smtp_host"]) \
            .props("outlined").classes("w-96").mark("smtp-host")
        fields["smtp_port"] = ui.input(_smtp_label("smtp_port"), value=str(values["smtp_port"])) \
            .props("outlined").classes("w-40").mark("smtp-port")
        fields["smtp_secure"] = ui.switch(_smtp_label("smtp_secure"), value=bool(values["smtp_secure"])) \
            .mark("smtp-secure")
        fields["smtp_user"] = ui.input(_smtp_label("smtp_user"), value=values["smtp_user"]) \
            .props("outlined").classes("w-96").mark("smtp-user")
        fields["smtp_password"] = ui.input(_smtp_label("smtp_password"), password=True,
                                           placeholder=_password_state(values["smtp_password"])) \
            .props('outlined autocomplete="new-password"').classes("w-96").mark("smtp-password")
        ui.label(_("Leave the password empty to keep the current one.")).classes("text-caption text-grey-7")
        fields["smtp_from"] = ui.input(_smtp_label("smtp_from"), value=values["smtp_from"]) \
            .props("outlined").classes("w-96").mark("smtp-from")

    def changes() -> dict[str, Any]:
        if not override.value:
            return {name: None for name in SMTP_FIELDS}  # the environment's values apply again
        chosen = {name: fields[name].value for name in SMTP_FIELDS if name != "smtp_password"}
        if fields["smtp_password"].value:
            chosen["smtp_password"] = fields["smtp_password"].value
        return chosen

    section.save_button(changes)
    _test_email(fields)


def _smtp_label(name: str) -> str:
    return _(SMTP_LABELS[name])


def _password_state(state: str) -> str:
    return _("Set") if state == PASSWORD_SET else _("Not set")


def _test_email(fields: dict[str, Any]) -> None:
    ui.separator()
    with ui.row().classes("w-full items-start gap-4"):
        to = ui.input(_("Send a test email to")).props("outlined").classes("w-96").mark("test-to")
        button = ui.button(_("Send a test email"), icon="send").props("outline").mark("send-test")
    answer = ui.label().classes("text-body2").mark("test-result")

    async def send() -> None:
        button.disable()
        answer.text = _("Sending…")
        answer.classes(remove="text-positive text-negative")
        try:
            result = await call(app_settings.send_test_email, to.value or "",
                                fields={"to": to, "smtp_host": fields.get("smtp_host")})
        finally:
            button.enable()
        if result is None:
            answer.text = ""
            return
        prefix = _("The server accepted the message:") if result.ok else _("The message was not sent:")
        answer.text = f"{prefix} {result.answer}"
        answer.classes(add="text-positive" if result.ok else "text-negative")

    button.on_click(send)


def _modules(section: _Section) -> None:
    ui.label(_("A module switched off disappears from the menu; its pages and its API answer \"not found\"."))\
        .classes("text-caption text-grey-7")
    for name, label in MODULES.items():
        section.fields[name] = ui.switch(_(label), value=bool(section.view.values[name])).mark(f"module-{name}")
    section.save_button(lambda: {name: bool(section.fields[name].value) for name in MODULES})


def _sessions(section: _Section) -> None:
    values = section.view.values
    fields = section.fields
    fields["lifetime_minutes"] = ui.input(_("Session lifetime (minutes)"), value=str(values["lifetime_minutes"])) \
        .props("outlined").classes("w-72").mark("session-lifetime")
    fields["idle_timeout_minutes"] = ui.input(_("Idle timeout (minutes, 0 for none)"),
                                              value=str(values["idle_timeout_minutes"])) \
        .props("outlined").classes("w-72").mark("session-idle")
    ui.label(_("Applies to new sessions; \"remember me\" sessions keep their own lifetime and have no idle timeout."))\
        .classes("text-caption text-grey-7")
    section.save_button(lambda: {name: fields[name].value for name in ("lifetime_minutes", "idle_timeout_minutes")})


def _retention(section: _Section) -> None:
    values = section.view.values
    fields = section.fields
    labels = {"security_log_low_days": _("Security log, low severity (days)"),
              "security_log_high_days": _("Security log, medium and high severity (days)"),
              "notifications_days": _("Read notifications (days)")}
    for name, label in labels.items():
        fields[name] = ui.input(label, value=str(values[name])).props("outlined").classes("w-72") \
            .mark(f"retention-{name}")
    section.save_button(lambda: {name: fields[name].value for name in labels})


_BUILDERS: dict[str, Callable[[_Section], None]] = {
    "organisation": _organisation, "email": _email, "modules": _modules, "sessions": _sessions,
    "retention": _retention,
}
