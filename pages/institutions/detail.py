"""/institutions/{id}: header, and the tab bar (Overview, Contacts, History here; other areas add theirs)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from nicegui import ui

from components import live
from components.backend import call
from components.contact_dialog import open_contact_dialog
from components.health import health_card, health_chip
from components.history_values import change_words
from components.institution_tabs import institution_tab, tab_bar
from components.moments import user_zone
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.shell import app_page, set_title
from crm_app.institutions import contacts, timeline
from crm_app.institutions import service as institutions
from crm_app.institutions.contacts import ContactRow
from crm_app.institutions.fields import FIELD_SPECS
from crm_app.institutions.service import COMPLIANCE_LABELS, STATUS_LABELS, TYPE_LABELS, InstitutionDetail
from crm_app.institutions.service_codes import service_codes
from crm_app.platform import audit
from crm_app.platform.events import Event, InstitutionChanged
from crm_app.platform.i18n import N_, format_currency, format_datetime, ngettext
from crm_app.platform.i18n import gettext as _


def _fact(label: str, value: Any) -> None:
    ui.label(label).classes("text-grey-7")
    ui.label("—" if value in (None, "", []) else str(value))


def _shown(detail: InstitutionDetail) -> tuple[Any, ...]:
    """What the header and the overview show: a change elsewhere redraws them only when it differs
    (the stored institution object itself never compares equal to a fresh read)."""
    return (
        detail.institution.version,
        detail.institution.is_archived,
        detail.contact_count,
        detail.assigned_user_name,
        detail.team_name,
        detail.can_edit,
        detail.updated_by_name,
        detail.institution.health_score,
    )


def _own_change(institution_id: uuid.UUID) -> Callable[[Event], bool]:
    """The institution's own fields or its archiving (not one of its contacts)."""
    return lambda event: (
        isinstance(event, InstitutionChanged) and event.institution_id == institution_id and event.contact_id is None
    )


@app_page(
    "/institutions/{institution_id}", title=N_("Institution"), permission="institution.view", parent="/institutions"
)
async def institution_page(institution_id: uuid.UUID, query: dict[str, list[str]]) -> None:
    header = InstitutionHeader(institution_id)
    if not await header.panel.show():
        return
    detail = header.panel.record
    assert detail is not None
    with header.panel.frame:
        # The open tab is in the URL (?tab=contacts): a reload or a shared link opens it again.
        await tab_bar(detail, selected=next(iter(query.get("tab", [])), None), path=f"/institutions/{institution_id}")


class InstitutionHeader:
    """The name, status, assignment and actions: a `live.RecordPanel` redrawn after archiving or
    restoring (with its confirmation) and at each change someone else saves, a contact's included
    (the count). The tabs live in its frame, below it, and are not redrawn."""

    def __init__(self, institution_id: uuid.UUID) -> None:
        self.institution_id = institution_id
        self.panel: live.RecordPanel[InstitutionDetail] = live.RecordPanel(
            self._load,
            self._draw,
            wants=lambda event: isinstance(event, InstitutionChanged) and event.institution_id == institution_id,
            key=_shown,
            classes="w-full gap-1",
        )

    async def _load(self) -> InstitutionDetail | None:
        detail = await call(institutions.get_detail, self.institution_id)
        if detail is not None:
            set_title(detail.institution.name)
        return detail

    def _draw(self, detail: InstitutionDetail) -> None:
        institution = detail.institution
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(institution.name).classes("text-h5").mark("institution-name")
            ui.badge(_(TYPE_LABELS[institution.type])).props("outline color=primary")
            ui.badge(_(STATUS_LABELS[institution.commercial_status])).props("color=secondary")
            if institution.is_archived:
                ui.badge(_("Archived")).props("color=grey").mark("archived-badge")
            health_chip(institution.health_score)
            ui.space()
            if detail.can_edit:
                ui.button(
                    _("Edit"),
                    icon="edit",
                    on_click=lambda: ui.navigate.to(f"/institutions/{self.institution_id}/edit"),
                ).props("unelevated").mark("edit")
                ui.button(
                    _("Restore") if institution.is_archived else _("Archive"),
                    icon="unarchive" if institution.is_archived else "archive",
                    on_click=lambda: self.set_archived(not institution.is_archived),
                ).props("outline").mark("archive")
        with ui.row().classes("gap-6 text-grey-8 q-mb-sm"):
            ui.label(_("Assigned to: {name}", name=detail.assigned_user_name or _("nobody"))).mark("assigned-to")
            if detail.team_name:
                ui.label(_("Team: {name}", name=detail.team_name))
            count = detail.contact_count
            ui.label(ngettext("{count} contact", "{count} contacts", count, count=count)).mark("contact-count")

    async def set_archived(self, archived: bool) -> None:
        await self.panel.act(
            institutions.set_archived,
            self.institution_id,
            archived,
            done=_("Institution archived.") if archived else _("Institution restored."),
        )


@institution_tab("overview", label=N_("Overview"), icon="info", order=10)
async def overview_tab(detail: InstitutionDetail) -> None:
    """The institution's facts, redrawn at each change someone saves to its own fields."""
    institution_id = detail.institution.id
    panel: live.RecordPanel[InstitutionDetail] = live.RecordPanel(
        lambda: call(institutions.get_detail, institution_id),
        _overview,
        wants=_own_change(institution_id),
        key=_shown,
        classes="w-full",
    )
    await panel.present(detail)
    await health_card(institution_id)


def _overview(detail: InstitutionDetail) -> None:
    i, p = detail.institution, detail.profile
    with ui.row().classes("w-full gap-4 items-start"):
        with ui.card().classes("flex-1 min-w-80"):
            ui.label(_("Identity")).classes("text-subtitle1 text-weight-medium")
            with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
                _fact("FINESS", i.finess)
                _fact("SIRET", i.siret)
                _fact(_("Accounting number"), i.accounting_number)
                _fact(_("Group"), i.group_name)
                _fact(_("Annual revenue (€)"), format_currency(i.annual_revenue) if i.annual_revenue else None)
                _fact(_("Payment terms (days)"), i.payment_terms_days)
                _fact(_("Tags"), ", ".join(detail.tags))
                if detail.created_by_name:  # nobody for the rows of an import or the API's system actor
                    _fact(_("Created by"), detail.created_by_name)
                _fact(
                    _("Last change"),
                    " · ".join(p for p in (format_datetime(i.updated_at), detail.updated_by_name) if p),
                )
        with ui.card().classes("flex-1 min-w-80"):
            ui.label(_("Address")).classes("text-subtitle1 text-weight-medium")
            with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
                _fact(_("Street"), i.street)
                _fact(_("City"), " ".join(x for x in (i.postal_code, i.city) if x))
                _fact(_("Region"), i.region)
                _fact(_("Country"), i.country)
                _fact(_("Phone"), i.phone)
                ui.label(_("Website")).classes("text-grey-7")
                if i.website:
                    ui.link(i.website, i.website, new_tab=True)
                else:
                    ui.label("—")
        with ui.card().classes("flex-1 min-w-80"):
            ui.label(_("Medical profile")).classes("text-subtitle1 text-weight-medium")
            with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
                _fact(_("Beds"), p.bed_capacity)
                _fact(_("Operating rooms"), p.surgical_rooms)
                _fact(_("Endoscopy rooms"), p.endoscopy_rooms)
                _fact(_("Staff"), p.staff_count)
                _fact(_("Specialties"), ", ".join(detail.specialties))
                _fact(_("Departments"), ", ".join(p.departments))
                _fact(_("Equipment"), ", ".join(p.equipment_types))
                _fact(_("Certifications"), ", ".join(p.certifications))
                _fact(_("Compliance"), _(COMPLIANCE_LABELS[p.compliance_status]) if p.compliance_status else None)
                _fact(_("Audit date"), p.audit_date)
                _fact(_("Compliance expiry"), p.compliance_expiry)
        if i.is_public_entity or i.service_codes:
            _public_buyer(i.is_public_entity, i.service_codes, i.requires_engagement_number)


def _public_buyer(is_public: bool, codes: list[dict[str, Any]], requires_engagement: bool) -> None:
    """Chorus Pro: whether it is a public buyer, its service codes and whether it needs an engagement number."""
    with ui.card().classes("flex-1 min-w-80").mark("public-buyer"):
        ui.label(_("Public buyer (Chorus Pro)")).classes("text-subtitle1 text-weight-medium")
        with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
            _fact(_(FIELD_SPECS["is_public_entity"].label), _("Yes") if is_public else _("No"))
            _fact(_(FIELD_SPECS["requires_engagement_number"].label), _("Yes") if requires_engagement else _("No"))
            ui.label(_(FIELD_SPECS["service_codes"].label)).classes("text-grey-7")
            with ui.column().classes("gap-0").mark("service-codes"):
                for code in service_codes(codes):
                    ui.label(str(code))
                if not codes:
                    ui.label("—")


def _contact_row(row: ContactRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.full_name,
        "title": row.title or "",
        "email": row.email or "",
        "phone": row.phone or row.mobile or "",
        "primary": "★" if row.is_primary else "",
        "archived": row.is_archived,
        "can_edit": row.can_edit,
    }


@institution_tab("contacts", label=N_("Contacts"), icon="contacts", order=20)
async def contacts_tab(detail: InstitutionDetail) -> None:
    institution_id = detail.institution.id
    show_archived = {"value": False}
    found: dict[str, ContactRow] = {}

    async def load(state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        page = await call(
            contacts.list_for_institution,
            institution_id,
            include_archived=show_archived["value"],
            request=page_request(state),
        )
        if page is None:
            return None
        found.clear()
        found.update({str(r.id): r for r in page.items})
        return rows_of(page, _contact_row)

    toolbar = ui.row().classes("w-full items-center")
    columns = [
        {"name": "primary", "label": "", "field": "primary"},
        {"name": "name", "label": _("Name"), "field": "name", "align": "left"},
        {"name": "title", "label": _("Function"), "field": "title", "align": "left"},
        {"name": "email", "label": _("Email"), "field": "email", "align": "left"},
        {"name": "phone", "label": _("Phone"), "field": "phone", "align": "left"},
        {"name": "actions", "label": "", "field": "id"},
    ]
    table = PagedTable(columns, load, state=TableState(page_size=25))
    table.table.add_slot(
        "body-cell-name",
        r"""
        <q-td :props="props">
          <a :href="'/contacts/' + props.row.id" class="text-primary"
             @click.prevent="() => $parent.$emit('open', props.row.id)">{{ props.value }}</a>
          <q-badge v-if="props.row.archived" color="grey" class="q-ml-sm">"""
        + _("Archived")
        + r"""</q-badge>
        </q-td>""",
    )
    table.table.add_slot(
        "body-cell-actions",
        r"""
        <q-td :props="props" auto-width>
          <q-btn v-if="props.row.can_edit" flat dense round icon="edit"
                 @click="() => $parent.$emit('edit', props.row.id)" />
          <q-btn v-if="props.row.can_edit" flat dense round :icon="props.row.archived ? 'unarchive' : 'archive'"
                 @click="() => $parent.$emit('archive', props.row.id)" />
        </q-td>""",
    )
    table.table.on("open", lambda e: ui.navigate.to(f"/contacts/{e.args}"))
    table.table.on("edit", lambda e: open_contact_dialog(institution_id, found[e.args], table.refresh))

    async def archive(event: Any) -> None:
        row = found[event.args]
        with table.table:  # not the row's slot: the refresh draws the rows again
            if await call(contacts.set_archived, row.id, not row.is_archived):
                if row.is_archived:
                    ui.notify(_("Contact {name} restored.", name=row.full_name), type="positive")
                else:
                    ui.notify(_("Contact {name} archived.", name=row.full_name), type="positive")
            await table.refresh()

    table.table.on("archive", archive)
    table.table.mark("contacts-table")

    async def toggle(event: Any) -> None:
        show_archived["value"] = bool(event.value)
        await table.refresh(first_page=True)

    with toolbar:
        if detail.can_edit:
            ui.button(
                _("Add a contact"),
                icon="person_add",
                on_click=lambda: open_contact_dialog(institution_id, None, table.refresh),
            ).props("unelevated").mark("add-contact")
        ui.space()
        ui.switch(_("Show archived"), on_change=toggle)
    # A contact added, changed or archived in another tab shows here without a reload.
    live.follow(
        lambda event: (
            isinstance(event, InstitutionChanged)
            and event.institution_id == institution_id
            and event.contact_id is not None
        ),
        table.refresh,
        owner=table.table,
    )
    await table.refresh()


@institution_tab("history", label=N_("History"), icon="history", order=90)
async def history_tab(detail: InstitutionDetail) -> None:
    institution_id = detail.institution.id
    zone = await user_zone()

    def convert(row: audit.HistoryRow) -> dict[str, Any]:
        words = change_words(row)  # each audited kind as its area words it: institutions, contacts, invoices...
        return {
            "id": str(row.id),
            "at": format_datetime(row.at, zone, style="short"),
            "who": row.actor_name or "",
            "what": words.what,
            "field": words.field,
            "old": words.old,
            "new": words.new,
        }

    async def load(state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        page = await call(timeline.history, institution_id, page_request(state))
        return None if page is None else rows_of(page, convert)

    columns = [
        {"name": n, "label": label, "field": n, "align": "left"}
        for n, label in (
            ("at", _("When")),
            ("who", _("Who")),
            ("what", _("What")),
            ("field", _("Field")),
            ("old", _("Before")),
            ("new", _("After")),
        )
    ]
    table = PagedTable(columns, load, state=TableState(page_size=25))
    table.table.mark("history-table")
    await table.refresh()
