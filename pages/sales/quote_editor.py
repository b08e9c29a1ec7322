"""/quotes/new and /quotes/{id}/edit: institution and contact pickers, title, validity date, the lines
(components/line_editor.py, totals as you type), notes. Saving a draft someone else saved meanwhile
is refused with their name; every message appears next to its field."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

from nicegui import ui

from components.backend import call
from components.empty_state import empty_state
from components.line_editor import LineEditor
from components.pickers import as_uuid, contact_picker, institution_picker
from components.shell import app_page, set_title
from crm_app.institutions import service as institutions
from crm_app.platform.i18n import N_
from crm_app.platform.i18n import gettext as _
from crm_app.sales import catalog, money, opportunities, quotes
from crm_app.sales.quotes import QuoteAction, QuoteDetail


@app_page("/quotes/new", title=N_("New quote"), parent="/quotes")
async def new_quote_page(query: dict[str, list[str]]) -> None:
    """A new quote; `?institution_id=` makes it out to that institution, `?opportunity_id=` to the
    opportunity's institution and contact, linked to the opportunity (accepting it wins the sale)."""
    wanted = as_uuid(next(iter(query.get("institution_id") or []), None))
    sale_id = as_uuid(next(iter(query.get("opportunity_id") or []), None))
    choices, detail, sale = await asyncio.gather(
        call(catalog.vat_choices),
        call(institutions.get_detail, wanted) if wanted and not sale_id else _nothing(),
        call(opportunities.get_detail, sale_id) if sale_id else _nothing(),
    )
    if choices is None:
        return
    if sale is not None:
        QuoteForm(
            None,
            choices,
            institution=(sale.institution_id, sale.institution_name),
            contact=(sale.contact_id, sale.contact_name),
            opportunity=(sale.id, sale.name),
        )
        return
    institution = (wanted, detail.institution.name) if wanted and detail else (None, None)
    QuoteForm(None, choices, institution=institution)


@app_page("/quotes/{quote_id}/edit", title=N_("Edit quote"), parent="/quotes")
async def edit_quote_page(quote_id: uuid.UUID) -> None:
    detail, choices = await asyncio.gather(call(quotes.get_quote, quote_id), call(catalog.vat_choices))
    if detail is None or choices is None:
        return
    set_title(_("Edit {number}", number=detail.number))
    if QuoteAction.EDIT not in detail.allowed_actions:
        empty_state(
            "lock", _("This quote cannot be edited."), back=(_("Back to the quote"), f"/quotes/{quote_id}")
        ).mark("not-editable")
        return
    QuoteForm(detail, choices, institution=(detail.institution_id, detail.institution_name))


async def _nothing() -> None:
    return None


class QuoteForm:
    def __init__(
        self,
        detail: QuoteDetail | None,
        choices: Any,
        *,
        institution: tuple[uuid.UUID | None, str | None],
        contact: tuple[uuid.UUID | None, str | None] = (None, None),
        opportunity: tuple[uuid.UUID, str] | None = None,
    ) -> None:
        self.detail = detail
        self.opportunity = opportunity
        self.version = detail.version if detail else None
        rates, default_rate = choices
        with ui.column().classes("w-full gap-3").mark("quote-form") as self.root:
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(_("New quote") if detail is None else _("Edit {number}", number=detail.number)).classes(
                    "text-h5"
                ).mark("form-title")
                if opportunity is not None:
                    with ui.row().classes("items-center gap-1 text-grey-8").mark("quote-opportunity"):
                        ui.icon("trending_up", size="xs")
                        ui.label(_("For the opportunity"))
                        ui.link(opportunity[1], f"/opportunities/{opportunity[0]}").classes("text-primary")
                ui.space()
                ui.button(_("Cancel"), on_click=self.leave).props("flat").mark("cancel-edit")
                self.save_button = (
                    ui.button(_("Save"), icon="save", on_click=self.save).props("unelevated").mark("save-quote")
                )
            with ui.card().classes("w-full"), ui.grid().classes("w-full gap-3 opex-form-grid"):
                self.institution = (
                    institution_picker(
                        value=institution[0],
                        value_label=institution[1],
                        on_change=self._institution_changed,
                        clearable=False,
                    )
                    .props("outlined dense")
                    .mark("quote-institution")
                )
                self.contact = (
                    contact_picker(
                        institution_id=institution[0],
                        value=detail.contact_id if detail else contact[0],
                        value_label=detail.contact_name if detail else contact[1],
                    )
                    .props("outlined dense")
                    .mark("quote-contact")
                )
                self.title = (
                    ui.input(
                        _("Title"), value=(detail.title or "") if detail else (opportunity[1] if opportunity else "")
                    )
                    .props("outlined dense maxlength=200")
                    .mark("quote-title")
                )
                self.valid_until = (
                    ui.input(_("Valid until"), value=detail.valid_until.isoformat() if detail else "")
                    .props("outlined dense type=date stack-label")
                    .mark("quote-valid_until")
                )
            with ui.card().classes("w-full"):
                ui.label(_("Lines")).classes("text-subtitle1 text-weight-medium")
                lines = [dataclasses.asdict(line) for line in detail.lines] if detail else []
                self.editor = LineEditor(
                    lines,
                    vat_rates=rates,
                    default_vat_rate=default_rate,
                    global_discount_percent=detail.global_discount_percent if detail else money.ZERO,
                )
                if detail is None:
                    self.editor.add_line()
            self.notes = (
                ui.textarea(_("Notes (printed on the quote)"), value=(detail.notes or "") if detail else "")
                .props("outlined autogrow")
                .classes("w-full")
                .mark("quote-notes")
            )

    def _institution_changed(self, event: Any) -> None:
        self.contact.set_institution(as_uuid(event.value))

    def values(self) -> dict[str, Any]:
        values = {
            "institution_id": self.institution.value,
            "contact_id": self.contact.value,
            "title": self.title.value or "",
            "valid_until": self.valid_until.value or None,
            "notes": self.notes.value or "",
            "global_discount_percent": self.editor.global_discount_value(),
            "lines": self.editor.value(),
        }
        if self.opportunity is not None:
            values["opportunity_id"] = str(self.opportunity[0])
        return values

    def fields(self) -> dict[str, Any]:
        return {
            "institution_id": self.institution,
            "contact_id": self.contact,
            "title": self.title,
            "valid_until": self.valid_until,
            "issue_date": self.valid_until,
            "notes": self.notes,
            **self.editor.fields(),
        }

    async def save(self) -> None:
        self.save_button.disable()  # one click, one save
        try:
            if self.detail is None:
                saved = await call(quotes.create_quote, self.values(), fields=self.fields())
            else:
                saved = await call(
                    quotes.update_quote,
                    self.detail.id,
                    self.values(),
                    expected_version=self.version,
                    fields=self.fields(),
                )
        finally:
            if not self.save_button.is_deleted:
                self.save_button.enable()
        if saved is None:
            return
        ui.notify(_("Quote {number} saved.", number=saved.number), type="positive")
        ui.navigate.to(f"/quotes/{saved.id}")

    def leave(self) -> None:
        if self.detail is None and self.opportunity is not None:
            ui.navigate.to(f"/opportunities/{self.opportunity[0]}")
            return
        ui.navigate.to(f"/quotes/{self.detail.id}" if self.detail else "/quotes")
