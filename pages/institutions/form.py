"""/institutions/new and /institutions/{id}/edit: one form with the medical profile, messages next
to each field, a duplicate warning before saving, and a refused stale save that keeps the edits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.service_codes_editor import ServiceCodesEditor
from components.shell import app_page, set_title
from crm_app.institutions import service as institutions
from crm_app.institutions.duplicates import RULE_LABELS
from crm_app.institutions.fields import FIELD_SPECS
from crm_app.institutions.models import CommercialStatus, ComplianceStatus, InstitutionType
from crm_app.institutions.service import (
    COMPLIANCE_LABELS,
    STATUS_LABELS,
    TYPE_LABELS,
    DuplicateSuspected,
    FilterChoices,
    InstitutionDetail,
)
from crm_app.platform.events import InstitutionChanged
from crm_app.platform.i18n import N_
from crm_app.platform.i18n import gettext as _


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


class InstitutionForm:
    """The inputs, keyed by service field name (errors land next to the right input)."""

    def __init__(self, values: dict[str, Any], choices: FilterChoices, *, can_reassign: bool) -> None:
        self.fields: dict[str, Any] = {}
        f = self.fields
        with ui.card().classes("w-full"):
            ui.label(_("Identity")).classes("text-subtitle1 text-weight-medium")
            with ui.grid(columns=3).classes("w-full gap-x-4"):
                f["name"] = ui.input(_("Name") + " *", value=_text(values.get("name"))).props("maxlength=200")
                f["type"] = ui.select(
                    {t.value: _(TYPE_LABELS[t]) for t in InstitutionType},
                    label=_("Type"),
                    value=str(values.get("type") or InstitutionType.OTHER.value),
                )
                f["commercial_status"] = ui.select(
                    {s.value: _(STATUS_LABELS[s]) for s in CommercialStatus},
                    label=_("Status"),
                    value=str(values.get("commercial_status") or CommercialStatus.PROSPECT.value),
                )
                f["finess"] = ui.input("FINESS", value=_text(values.get("finess"))).props("maxlength=12")
                f["siret"] = ui.input("SIRET", value=_text(values.get("siret"))).props("maxlength=20")
                f["accounting_number"] = ui.input(_("Accounting number"), value=_text(values.get("accounting_number")))
                f["group_name"] = ui.input(_("Group"), value=_text(values.get("group_name")))
                f["annual_revenue"] = ui.input(_("Annual revenue (€)"), value=_text(values.get("annual_revenue")))
                f["payment_terms_days"] = ui.number(
                    _("Payment terms (days)"), value=values.get("payment_terms_days"), min=0, max=365, precision=0
                ).props(f'hint="{_("Empty: the organisation’s terms")}"')
        with ui.card().classes("w-full"):
            ui.label(_("Address and contact details")).classes("text-subtitle1 text-weight-medium")
            with ui.grid(columns=3).classes("w-full gap-x-4"):
                f["street"] = ui.input(_("Street"), value=_text(values.get("street"))).classes("col-span-3")
                f["postal_code"] = ui.input(_("Postal code"), value=_text(values.get("postal_code")))
                f["city"] = ui.input(_("City"), value=_text(values.get("city")))
                f["region"] = ui.select(
                    choices.regions,
                    label=_("Region"),
                    value=values.get("region"),
                    with_input=True,
                    new_value_mode="add-unique",
                ).props("clearable")
                f["country"] = ui.input(_("Country (ISO code)"), value=_text(values.get("country") or "FR")).props(
                    "maxlength=2"
                )
                f["phone"] = ui.input(_("Phone"), value=_text(values.get("phone")))
                f["website"] = ui.input(_("Website"), value=_text(values.get("website")))
        with ui.card().classes("w-full"):
            ui.label(_("Assignment and labels")).classes("text-subtitle1 text-weight-medium")
            with ui.grid(columns=3).classes("w-full gap-x-4"):
                users = {"": _("Unassigned"), **{str(k): v for k, v in choices.assignable}}
                current_user = str(values.get("assigned_user_id") or "")
                if current_user and current_user not in users:  # assigned to someone outside the actor's reach
                    users[current_user] = dict((str(k), v) for k, v in choices.users).get(current_user, "…")
                f["assigned_user_id"] = ui.select(users, label=_("Assigned to"), value=current_user)
                if not can_reassign and current_user:
                    f["assigned_user_id"].disable()
                f["tags"] = ui.select(
                    choices.tags,
                    label=_("Tags"),
                    multiple=True,
                    with_input=True,
                    new_value_mode="add-unique",
                    value=list(values.get("tags") or []),
                ).props("use-chips")
                f["specialties"] = ui.select(
                    choices.specialties,
                    label=_("Specialties"),
                    multiple=True,
                    with_input=True,
                    new_value_mode="add-unique",
                    value=list(values.get("specialties") or []),
                ).props("use-chips")
        self._public_buyer(values)
        with ui.card().classes("w-full"):
            ui.label(_("Medical profile")).classes("text-subtitle1 text-weight-medium")
            with ui.grid(columns=4).classes("w-full gap-x-4"):
                for name, label in (
                    ("bed_capacity", _("Beds")),
                    ("surgical_rooms", _("Operating rooms")),
                    ("endoscopy_rooms", _("Endoscopy rooms")),
                    ("staff_count", _("Staff")),
                ):
                    f[name] = ui.number(label, value=values.get(name), min=0, precision=0)
                f["departments"] = ui.input(
                    _("Departments (comma-separated)"), value=_text(values.get("departments"))
                ).classes("col-span-2")
                f["equipment_types"] = ui.input(
                    _("Equipment (comma-separated)"), value=_text(values.get("equipment_types"))
                ).classes("col-span-2")
                f["certifications"] = ui.input(
                    _("Certifications (comma-separated)"), value=_text(values.get("certifications"))
                ).classes("col-span-2")
                f["compliance_status"] = ui.select(
                    {"": "—", **{c.value: _(COMPLIANCE_LABELS[c]) for c in ComplianceStatus}},
                    label=_("Compliance"),
                    value=str(values.get("compliance_status") or ""),
                )
                f["audit_date"] = _date_input(_("Audit date"), values.get("audit_date"))
                f["compliance_expiry"] = _date_input(_("Compliance expiry"), values.get("compliance_expiry"))
        for name, element in f.items():
            element.mark(f"field-{name}")

    def _public_buyer(self, values: dict[str, Any]) -> None:
        """Chorus Pro: whether it is a public buyer, its service codes, whether it needs an engagement number."""
        f = self.fields
        with ui.card().classes("w-full").mark("public-buyer-card"):
            ui.label(_("Public buyer (Chorus Pro)")).classes("text-subtitle1 text-weight-medium")
            with ui.row().classes("w-full items-center gap-6"):
                for name in ("is_public_entity", "requires_engagement_number"):
                    f[name] = ui.switch(_(FIELD_SPECS[name].label), value=bool(values.get(name)))
            ui.label(_("A public entity needs its SIRET: Chorus Pro identifies the buyer by it.")).classes(
                "text-caption text-grey-7"
            )
            f["service_codes"] = ServiceCodesEditor(
                list(values.get("service_codes") or []), label=_(FIELD_SPECS["service_codes"].label)
            )

    def values(self) -> dict[str, Any]:
        return {name: element.value for name, element in self.fields.items() if element.enabled}


def _date_input(label: str, value: Any) -> ui.input:
    with ui.input(label, value=_text(value)) as date_input:
        with ui.menu().props("no-parent-event") as menu:
            ui.date(mask="YYYY-MM-DD").bind_value(date_input)
        with date_input.add_slot("append"):
            ui.icon("edit_calendar").on("click", menu.open).classes("cursor-pointer")
    return date_input


def _duplicate_dialog(error: DuplicateSuspected, create_anyway: Callable[[], Any]) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[32rem]").mark("duplicate-dialog"):
        ui.label(_("This institution may already exist")).classes("text-h6")
        for match in error.matches:
            with ui.row().classes("items-center gap-2"):
                ui.icon("warning", color="warning")
                ui.link(match.name, f"/institutions/{match.ref}", new_tab=True)
                ui.label(f"({_(RULE_LABELS[match.rule])})").classes("text-grey-7")
        with ui.row().classes("q-mt-md"):
            ui.button(_("Go back to the form"), on_click=dialog.close).props("flat")

            async def confirm() -> None:
                dialog.close()
                await create_anyway()

            ui.button(_("Create anyway"), on_click=confirm).props("unelevated color=warning").mark("create-anyway")
    dialog.open()


@app_page("/institutions/new", title=N_("New institution"), permission="institution.create", parent="/institutions")
async def new_institution_page() -> None:
    choices = await call(institutions.filter_choices)
    if choices is None:
        return
    actor = current_actor()
    ui.label(_("New institution")).classes("text-h5")
    form = InstitutionForm({"assigned_user_id": actor.id}, choices, can_reassign=True)

    async def save(*, allow_duplicate: bool = False) -> None:
        created = await call(
            institutions.create_institution,
            form.values(),
            allow_duplicate=allow_duplicate,
            fields=form.fields,
            on_error={DuplicateSuspected: lambda e: _duplicate_dialog(e, lambda: save(allow_duplicate=True))},
        )
        if created is not None:
            ui.notify(_("Institution created."), type="positive")
            ui.navigate.to(f"/institutions/{created.id}")

    with ui.row().classes("q-mt-md"):
        ui.button(_("Cancel"), on_click=lambda: ui.navigate.to("/institutions")).props("flat")
        ui.button(_("Create"), on_click=lambda: save()).props("unelevated").mark("save")  # noqa: PLW0108


@app_page(
    "/institutions/{institution_id}/edit",
    title=N_("Edit institution"),
    permission="institution.view",
    parent="/institutions",
)
async def edit_institution_page(institution_id: uuid.UUID) -> None:
    box = ui.column().classes("w-full gap-4")
    await _edit_form(box, institution_id)


async def _edit_form(box: ui.column, institution_id: uuid.UUID) -> None:
    """The form, drawn (again, for "Load their version") in `box` from the institution as saved."""
    with box:  # not the context of the button that asked: the redraw deletes it
        detail: InstitutionDetail | None = await call(institutions.get_detail, institution_id)
        choices = await call(institutions.filter_choices)
    if detail is None or choices is None or box.is_deleted:
        return
    box.clear()
    with box:
        if not detail.can_edit:
            ui.label(_("You are not allowed to edit this institution.")).classes("text-negative")
            return
        version = detail.institution.version
        set_title(detail.institution.name)
        ui.label(detail.institution.name).classes("text-h5")
        # Someone else's save while the user types: said here (the typing stays), not only when saving.
        notice = live.StaleNotice(
            lambda event: (
                isinstance(event, InstitutionChanged)
                and event.institution_id == institution_id
                and event.contact_id is None
            ),
            reload=lambda: _edit_form(box, institution_id),
        )
        form = InstitutionForm(detail.values(), choices, can_reassign=detail.can_reassign)

        async def save() -> None:
            nonlocal version
            notice.saving()
            saved = await call(
                institutions.update_institution,
                institution_id,
                form.values(),
                expected_version=version,
                fields=form.fields,
            )
            notice.saved(saved is not None)
            if saved is not None:
                version = saved.version
                ui.notify(_("Changes saved."), type="positive")
                ui.navigate.to(f"/institutions/{institution_id}")

        with ui.row().classes("q-mt-md"):
            ui.button(_("Cancel"), on_click=lambda: ui.navigate.to(f"/institutions/{institution_id}")).props("flat")
            ui.button(_("Save"), on_click=save).props("unelevated").mark("save")
