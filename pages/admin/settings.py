"""/admin/settings: organisation, email (SMTP) with a test message, modules on/off, sessions and
retention (super administrators, "settings.system"); the sales documents' numbering and VAT, the company
identity and branding with the logo, the email templates with a preview from a real document, and the
reminder rules (administrators too: "document_template.edit", "reminder_rule.edit"), the lost reasons of
sales ("opportunity_settings.edit", pages/admin/lost_reasons.py). Each section is shown
to those with its right, saved on its own with its version, and every change is written to the security
log by the service."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import available_timezones

from nicegui import events, ui

from components.backend import call, client_info, current_actor
from components.shell import app_page
from crm_app.platform import settings as app_settings
from crm_app.platform import smtp
from crm_app.platform.i18n import LANGUAGE_NAMES, N_, format_decimal
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import can
from crm_app.platform.settings import MODULES, PASSWORD_SET, SMTP_FIELDS, SectionView, section_title
from crm_app.sales import document_settings, documents, templates
from crm_app.sales.reminder_kinds import QUOTE_REMINDERS
from pages.admin.lost_reasons import lost_reasons_section

SMTP_LABELS = {
    "smtp_host": N_("SMTP server"),
    "smtp_port": N_("Port"),
    "smtp_secure": N_("TLS from the start (SMTPS)"),
    "smtp_user": N_("User name"),
    "smtp_password": N_("Password"),
    "smtp_from": N_("Sender"),
}


# Administrators reach the page for the sales documents' sections; super administrators hold that right too.
@app_page(
    "/admin/settings",
    title=N_("Settings"),
    icon="settings",
    in_navigation=True,
    order=98,
    permission="document_template.edit",
)
async def settings_page() -> None:
    view = await call(app_settings.get_settings_view)
    if view is None:
        return
    ui.label(_("Settings")).classes("text-h5")
    for name, section in view.sections.items():
        with ui.card().classes("w-full q-mb-md").mark(f"section-{name}"):
            ui.label(_(section_title(name))).classes("text-h6")
            _BUILDERS[name](_Section(section))
    if can(current_actor(), "opportunity_settings.edit"):
        await lost_reasons_section()


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
        saved: SectionView | None = await call(
            app_settings.update_section,
            self.name,
            values,
            expected_version=self.version,
            client=client_info(),
            fields=self.fields,
        )
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
    fields["name"] = (
        ui.input(_("Organisation name"), value=values["name"])
        .props("outlined maxlength=200")
        .classes("w-96")
        .mark("org-name")
    )
    fields["default_language"] = (
        ui.select(LANGUAGE_NAMES, label=_("Default language"), value=values["default_language"])
        .props("outlined")
        .classes("w-96")
        .mark("org-language")
    )
    fields["timezone"] = (
        ui.input(_("Time zone"), value=values["timezone"], autocomplete=sorted(available_timezones()))
        .props("outlined")
        .classes("w-96")
        .mark("org-timezone")
    )
    section.save_button(lambda: {name: fields[name].value for name in ("name", "default_language", "timezone")})


def _email(section: _Section) -> None:
    view = section.view
    fields = section.fields
    ui.label(_("From the environment (SMTP_* variables):")).classes("text-weight-medium")
    with ui.grid(columns=2).classes("gap-x-6 gap-y-1").mark("smtp-environment"):
        for name in SMTP_FIELDS:
            ui.label(_smtp_label(name))
            ui.label(
                _password_state(view.environment[name])
                if name == "smtp_password"
                else shown_value(view.environment[name])
            ).mark(f"smtp-environment-{name}")
    override = ui.switch(_("Use other values, set here"), value=bool(view.overridden)).mark("smtp-override")
    with ui.column().classes("w-full gap-2").bind_visibility_from(override, "value"):
        values = view.values
        fields["smtp_host"] = (
            ui.input(_smtp_label("smtp_host"), value=values["smtp_host"])
            .props("outlined")
            .classes("w-96")
            .mark("smtp-host")
        )
        fields["smtp_port"] = (
            ui.input(_smtp_label("smtp_port"), value=str(values["smtp_port"]))
            .props("outlined")
            .classes("w-40")
            .mark("smtp-port")
        )
        fields["smtp_secure"] = ui.switch(_smtp_label("smtp_secure"), value=bool(values["smtp_secure"])).mark(
            "smtp-secure"
        )
        fields["smtp_user"] = (
            ui.input(_smtp_label("smtp_user"), value=values["smtp_user"])
            .props("outlined")
            .classes("w-96")
            .mark("smtp-user")
        )
        fields["smtp_password"] = (
            ui.input(_smtp_label("smtp_password"), password=True, placeholder=_password_state(values["smtp_password"]))
            .props('outlined autocomplete="new-password"')
            .classes("w-96")
            .mark("smtp-password")
        )
        ui.label(_("Leave the password empty to keep the current one.")).classes("text-caption text-grey-7")
        fields["smtp_from"] = (
            ui.input(_smtp_label("smtp_from"), value=values["smtp_from"])
            .props("outlined")
            .classes("w-96")
            .mark("smtp-from")
        )

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


def shown_value(value: Any) -> str:
    """A stored setting as read: a boolean in words (never "True"/"False"), a decimal in the locale's
    writing (a whole number, such as a port, as it is: no grouping), a list one item after the other,
    "—" when empty."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Decimal | float):
        return format_decimal(Decimal(str(value)))
    if isinstance(value, list | tuple):
        return ", ".join(shown_value(item) for item in value) or "—"
    return str(value) if value not in (None, "") else "—"


def rate_text(value: Any) -> str:
    """A stored rate ("5.5") as the locale writes it ("5,5" in French), for an input the service reads back."""
    try:
        return format_decimal(Decimal(str(value)).normalize() + 0)
    except (ArithmeticError, ValueError):
        return str(value)


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
            result = await call(
                smtp.send_test_email, to.value or "", fields={"to": to, "smtp_host": fields.get("smtp_host")}
            )
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
    ui.label(_('A module switched off disappears from the menu; its pages and its API answer "not found".')).classes(
        "text-caption text-grey-7"
    )
    for name, label in MODULES.items():
        section.fields[name] = ui.switch(_(label), value=bool(section.view.values[name])).mark(f"module-{name}")
    section.save_button(lambda: {name: bool(section.fields[name].value) for name in MODULES})


def _sessions(section: _Section) -> None:
    values = section.view.values
    fields = section.fields
    fields["lifetime_minutes"] = (
        ui.input(_("Session lifetime (minutes)"), value=str(values["lifetime_minutes"]))
        .props("outlined")
        .classes("w-72")
        .mark("session-lifetime")
    )
    fields["idle_timeout_minutes"] = (
        ui.input(_("Idle timeout (minutes, 0 for none)"), value=str(values["idle_timeout_minutes"]))
        .props("outlined")
        .classes("w-72")
        .mark("session-idle")
    )
    ui.label(
        _('Applies to new sessions; "remember me" sessions keep their own lifetime and have no idle timeout.')
    ).classes("text-caption text-grey-7")
    section.save_button(lambda: {name: fields[name].value for name in ("lifetime_minutes", "idle_timeout_minutes")})


def _retention(section: _Section) -> None:
    values = section.view.values
    fields = section.fields
    labels = {
        "security_log_low_days": _("Security log, low severity (days)"),
        "security_log_high_days": _("Security log, medium and high severity (days)"),
        "notifications_days": _("Read notifications (days)"),
    }
    for name, label in labels.items():
        fields[name] = (
            ui.input(label, value=str(values[name])).props("outlined").classes("w-72").mark(f"retention-{name}")
        )
    section.save_button(lambda: {name: fields[name].value for name in labels})


def _inputs(
    section: _Section, labels: dict[str, str], *, prefix: str, width: str = "w-96", textarea: tuple[str, ...] = ()
) -> None:
    for name, label in labels.items():
        value = section.view.values[name]
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        widget = ui.textarea(label, value=shown) if name in textarea else ui.input(label, value=shown)
        section.fields[name] = (
            widget.props("outlined autogrow" if name in textarea else "outlined")
            .classes(width)
            .mark(f"{prefix}-{name}")
        )


def _documents(section: _Section) -> None:
    fields = section.fields
    prefixes = {
        "quote_prefix": _("Quote prefix"),
        "order_prefix": _("Order prefix"),
        "invoice_prefix": _("Invoice prefix"),
        "credit_note_prefix": _("Credit note prefix"),
    }
    ui.label(_("Numbers read PREFIX-YEAR-00001; a new prefix applies to the next numbers.")).classes(
        "text-caption text-grey-7"
    )
    with ui.row().classes("gap-4"):
        _inputs(section, prefixes, prefix="documents", width="w-40")
    values = section.view.values
    with ui.row().classes("gap-4"):
        # Rates in the locale's writing ("5,5" in French): separated by semicolons, which no locale
        # uses inside a number (the service also reads "20, 10, 5.5").
        fields["vat_rates"] = (
            ui.input(
                _("VAT rates (%), separated by semicolons"),
                value=" ; ".join(rate_text(rate) for rate in values["vat_rates"]),
            )
            .props("outlined")
            .classes("w-72")
            .mark("documents-vat_rates")
        )
        fields["default_vat_rate"] = (
            ui.input(_("Default VAT rate (%)"), value=rate_text(values["default_vat_rate"]))
            .props("outlined")
            .classes("w-72")
            .mark("documents-default_vat_rate")
        )
    with ui.row().classes("gap-4"):
        _inputs(
            section,
            {"payment_terms_days": _("Payment terms (days)"), "quote_validity_days": _("Quote validity (days)")},
            prefix="documents",
            width="w-72",
        )
        fields["late_penalty_rate"] = (
            ui.input(_("Late payment penalty rate (% per year)"), value=rate_text(values["late_penalty_rate"]))
            .props("outlined")
            .classes("w-72")
            .mark("documents-late_penalty_rate")
        )
        _inputs(section, {"recovery_indemnity": _("Recovery indemnity (€)")}, prefix="documents", width="w-72")
    fields["vat_on_debits"] = ui.switch(
        _("VAT on debits: the company opted to pay VAT on its services when invoiced (printed on invoices)"),
        value=bool(values["vat_on_debits"]),
    ).mark("documents-vat_on_debits")

    def changes() -> dict[str, Any]:
        return {name: fields[name].value for name in fields}

    section.save_button(changes)


BRANDING_LABELS = {
    "legal_name": N_("Legal name"),
    "address": N_("Address"),
    "siret": N_("SIRET"),
    "vat_number": N_("VAT number"),
    "rcs": N_("RCS (trade register)"),
    "share_capital": N_("Share capital"),
    "phone": N_("Phone"),
    "email": N_("Email"),
    "website": N_("Website"),
    "iban": N_("IBAN"),
    "bic": N_("BIC"),
    "payment_instructions": N_("Payment instructions"),
    "footer": N_("Footer text"),
    "terms": N_("Terms and conditions of sale (printed after quotes)"),
}


def _branding(section: _Section) -> None:
    fields = section.fields
    values = section.view.values
    with ui.row().classes("items-start gap-6"):
        logo = ui.image().classes("w-48 h-20").props("fit=contain").mark("branding-logo-preview")
        with ui.column().classes("gap-1"):
            ui.label(_("Logo (PNG or JPEG, at most 2 MB)")).classes("text-weight-medium")
            upload = (
                ui.upload(auto_upload=True, max_file_size=document_settings.LOGO_MAX_BYTES)
                .props('accept=".png,.jpg,.jpeg,image/png,image/jpeg" flat bordered hide-upload-btn no-thumbnails')
                .classes("w-72")
                .mark("branding-logo")
            )
            # Our own header: Quasar's shows an untranslated "0.0B / 0.00%" (size and progress).
            upload.add_slot(
                "header",
                UPLOAD_HEADER.format(
                    title=html.escape(_("Choose an image")), add=html.escape(_("Choose a file"), quote=True)
                ),
            )
            logo_error = ui.label().classes("text-negative text-caption").mark("branding-logo-error")

    async def show_logo() -> None:
        found = await call(document_settings.logo_image)
        logo.set_source(f"data:{found[1]};base64,{base64.b64encode(found[0]).decode()}" if found else "")
        logo.set_visibility(found is not None)

    async def uploaded(event: events.UploadEventArguments) -> None:
        logo_error.text = ""
        content = await event.file.read()
        errors = _ErrorSink()
        saved = await call(
            document_settings.upload_logo, event.file.name, content, client=client_info(), fields={"logo": errors}
        )
        upload.reset()
        if saved is None:
            logo_error.text = errors.error or ""
            return
        section.version = saved.version
        section._show_changed(saved)
        ui.notify(_("Logo saved."), type="positive")
        await show_logo()

    upload.on_upload(uploaded)
    upload.on_rejected(lambda: setattr(logo_error, "text", _("The logo is larger than 2 MB.")))
    ui.timer(0, show_logo, once=True)

    labels = {name: _(label) for name, label in BRANDING_LABELS.items()}
    with ui.grid(columns=2).classes("w-full gap-x-6 gap-y-2"):
        _inputs(
            section,
            {
                k: labels[k]
                for k in (
                    "legal_name",
                    "siret",
                    "vat_number",
                    "rcs",
                    "share_capital",
                    "phone",
                    "email",
                    "website",
                    "iban",
                    "bic",
                )
            },
            prefix="branding",
            width="w-full",
        )
    _inputs(
        section,
        {k: labels[k] for k in ("address", "payment_instructions", "footer", "terms")},
        prefix="branding",
        width="w-full",
        textarea=("address", "payment_instructions", "footer", "terms"),
    )
    with ui.row().classes("items-center gap-4"):
        fields["accent_color"] = (
            ui.color_input(_("Accent colour"), value=values["accent_color"])
            .props("outlined")
            .classes("w-60")
            .mark("branding-accent_color")
        )

    def changes() -> dict[str, Any]:
        return {name: fields[name].value for name in fields}

    section.save_button(changes)


#: the logo uploader's header (the scope is the QUploader): a title, a spinner while sending, the "+" button.
UPLOAD_HEADER = """
<div class="row no-wrap items-center q-pa-sm q-gutter-xs">
  <q-spinner v-if="props.isUploading" size="sm" />
  <div class="col text-body2">{title}</div>
  <q-btn v-if="props.canAddFiles" type="a" icon="add_box" round dense flat aria-label="{add}"
         @click="props.pickFiles"><q-uploader-add-trigger /></q-btn>
</div>"""


class _ErrorSink:
    """Receives a field's message from the error helper (the upload has no error slot of its own)."""

    error: str | None = None


def _templates(section: _Section) -> None:
    fields = section.fields
    kinds = {kind: _(templates.TEMPLATE_TITLES[kind]) for kind in templates.TEMPLATE_KINDS}
    ui.label(_("Leave a text empty to use the built-in one, translated into the recipient's language.")).classes(
        "text-caption text-grey-7"
    )
    with ui.row().classes("w-full items-start gap-6 no-wrap"):
        with ui.column().classes("grow gap-2"):
            for kind in templates.TEMPLATE_KINDS:
                with ui.expansion(kinds[kind]).classes("w-full").mark(f"template-{kind}"):
                    fields[f"{kind}_subject"] = (
                        ui.input(_("Subject"), value=section.view.values[f"{kind}_subject"])
                        .props("outlined")
                        .classes("w-full")
                        .mark(f"template-{kind}_subject")
                    )
                    fields[f"{kind}_body"] = (
                        ui.textarea(_("Message"), value=section.view.values[f"{kind}_body"])
                        .props("outlined autogrow")
                        .classes("w-full")
                        .mark(f"template-{kind}_body")
                    )
        with ui.column().classes("w-72 gap-1").mark("template-placeholders"):
            ui.label(_("Placeholders")).classes("text-weight-medium")
            for name, meaning in templates.PLACEHOLDERS.items():
                ui.label(f"{{{name}}} — {_(meaning)}").classes("text-caption")
    section.save_button(lambda: {name: fields[name].value for name in fields})

    ui.separator()
    with ui.row().classes("items-center gap-4"):
        preview_kind = (
            ui.select(kinds, value="quote", label=_("Preview of"))
            .props("outlined")
            .classes("w-80")
            .mark("template-preview-kind")
        )
        button = ui.button(_("Preview"), icon="visibility").props("outline").mark("template-preview")
    subject = ui.label().classes("text-weight-medium").mark("template-preview-subject")
    body = ui.label().classes("whitespace-pre-wrap text-body2").mark("template-preview-body")

    async def preview() -> None:
        result = await call(documents.template_preview, preview_kind.value)
        if result is not None:
            subject.text, body.text = result

    button.on_click(preview)
    ui.label(_("The preview uses the saved texts and the most recent document of that kind.")).classes(
        "text-caption text-grey-7"
    )


def _reminders(section: _Section) -> None:
    fields = section.fields
    values = section.view.values
    names = {spec.kind.value: _(spec.setting_label) for spec in QUOTE_REMINDERS}
    ui.label(_("Quote reminders to the salesperson")).classes("text-weight-medium")
    fields["quote_reminders"] = (
        ui.select(names, value=list(values["quote_reminders"]), multiple=True, label=_("Reminders sent"))
        .props("outlined use-chips")
        .classes("w-96")
        .mark("reminders-quote_reminders")
    )
    fields["quote_followup_task"] = ui.switch(
        _("Also create a follow-up task"), value=bool(values["quote_followup_task"])
    ).mark("reminders-quote_followup_task")
    ui.label(_("Invoice follow-up")).classes("text-weight-medium")
    fields["invoice_levels"] = (
        ui.input(
            _("Days from the due date (negative: before), separated by commas"),
            value=", ".join(str(v) for v in values["invoice_levels"]),
        )
        .props("outlined")
        .classes("w-96")
        .mark("reminders-invoice_levels")
    )
    fields["invoice_email_client"] = ui.switch(
        _("Also email the client's contact (payment reminder template)"), value=bool(values["invoice_email_client"])
    ).mark("reminders-invoice_email_client")
    section.save_button(
        lambda: {
            "quote_reminders": list(fields["quote_reminders"].value or []),
            "quote_followup_task": bool(fields["quote_followup_task"].value),
            "invoice_levels": fields["invoice_levels"].value,
            "invoice_email_client": bool(fields["invoice_email_client"].value),
        }
    )


_BUILDERS: dict[str, Callable[[_Section], None]] = {
    "organisation": _organisation,
    "email": _email,
    "modules": _modules,
    "sessions": _sessions,
    "retention": _retention,
    "documents": _documents,
    "branding": _branding,
    "templates": _templates,
    "reminders": _reminders,
}
