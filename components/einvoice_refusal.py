"""When an invoice cannot be issued as an e-invoice (Factur-X), where each missing thing is filled in.

Issuing answers `ValidationFailed` keyed by what the e-invoice lacks (`crm_app.sales.facturx`): the
company's (`seller.siret`, `seller.iban`...: the company settings, which administrators edit), the
buyer's (`buyer.address`, `buyer.siren`...: the institution's form) and the lines' (`lines.2.vat_exemption`:
the draft's line editor). `show_refusal` lists them by where they are fixed, with a link there; the
lines' messages are kept for the editor (`remember_refused_lines`), which shows each one next to its
line's field (`take_refused_lines`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from nicegui import app, ui

from components.backend import current_actor
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import can

#: app.storage.user's key of the lines' messages a refused issue leaves for the draft's editor.
REFUSED_LINES_KEY = "refused_issue_lines"
#: who may open the company settings (pages/admin/settings.py: the company identity section).
SETTINGS_RIGHT = "document_template.edit"
SETTINGS_PATH = "/admin/settings"


def line_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """The messages about lines (`lines.<index>.<field>`), those the line editor shows."""
    return {key: message for key, message in errors.items() if key.startswith("lines.")}


def remember_refused_lines(invoice_id: uuid.UUID, errors: Mapping[str, str]) -> None:
    """Keep the lines' messages for this browser's next opening of the draft's editor."""
    app.storage.user[REFUSED_LINES_KEY] = {"invoice_id": str(invoice_id), "errors": line_errors(errors)}


def take_refused_lines(invoice_id: uuid.UUID) -> dict[str, str]:
    """The lines' messages a refused issue of this invoice left (once), else none."""
    kept = app.storage.user.get(REFUSED_LINES_KEY)
    if not isinstance(kept, dict) or kept.get("invoice_id") != str(invoice_id):
        return {}
    app.storage.user.pop(REFUSED_LINES_KEY, None)
    return line_errors({str(key): str(message) for key, message in (kept.get("errors") or {}).items()})


def _line_number(key: str) -> int | None:
    parts = key.split(".")
    return int(parts[1]) + 1 if len(parts) > 2 and parts[1].isdigit() else None


def show_refusal(
    box: ui.element,
    error: ValidationFailed,
    *,
    invoice_id: uuid.UUID,
    institution: tuple[uuid.UUID, str],
    placed: Mapping[str, Any] | None = None,
    on_lines: Callable[[], Any] | None = None,
) -> None:
    """In `box` (cleared first): why the invoice was not issued, grouped by where it is fixed, each group
    with its link. A message whose field is in `placed` goes next to it instead. The lines' messages are
    remembered for the editor, which `on_lines` opens (by default: the draft's edit page)."""
    seller, buyer, lines, others = _sorted(error.field_errors, placed or {})
    box.clear()
    if not (seller or buyer or lines or others):
        return
    with box, ui.column().classes("w-full gap-2 q-pa-sm bg-red-1 rounded-borders").mark("issue-refusal"):
        ui.label(_(error.message) or _("Some fields are not valid.")).classes("text-weight-medium text-negative")
        for message in others:
            ui.label(message).mark("refusal-other")
        if seller:
            _group(_("In the company settings"), seller, "refusal-seller")
            if can(current_actor(), SETTINGS_RIGHT):
                ui.link(_("Open the company settings"), SETTINGS_PATH).mark("refusal-settings-link")
            else:
                ui.label(_("Only an administrator can change the company settings: ask one to fill them in.")).classes(
                    "text-grey-8"
                ).mark("refusal-ask-admin")
        if buyer:
            institution_id, name = institution
            _group(_("On the institution {name}", name=name), buyer, "refusal-buyer")
            ui.link(_("Complete the institution {name}", name=name), f"/institutions/{institution_id}/edit").mark(
                "refusal-institution-link"
            )
        if lines:
            _group(
                _("In the lines"),
                [
                    _("Line {number}: {message}", number=number, message=_(message))
                    if (number := _line_number(key))
                    else _(message)
                    for key, message in lines.items()
                ],
                "refusal-lines",
            )

            def open_lines() -> None:
                remember_refused_lines(invoice_id, lines)
                if on_lines is not None:
                    on_lines()
                else:
                    ui.navigate.to(f"/invoices/{invoice_id}/edit")

            ui.button(_("Correct the lines"), icon="edit", on_click=open_lines).props("outline no-caps").mark(
                "refusal-lines-edit"
            )


def _sorted(
    errors: Mapping[str, str], placed: Mapping[str, Any]
) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """The messages of the company's, the buyer's, the lines' and other fields (translated but the lines'),
    those of `placed` fields shown next to them."""
    seller: list[str] = []
    buyer: list[str] = []
    lines: dict[str, str] = {}
    others: list[str] = []
    for key, message in errors.items():
        element = placed.get(key)
        if element is not None and hasattr(element, "error"):
            element.error = _(message)
        elif key.startswith("seller."):
            seller.append(_(message))
        elif key.startswith("buyer."):
            buyer.append(_(message))
        elif key.startswith("lines."):
            lines[key] = message
        else:
            others.append(_(message))
    return seller, buyer, lines, others


def _group(title: str, messages: list[str], marker: str) -> None:
    ui.label(title).classes("text-subtitle2")
    with ui.column().classes("gap-0 q-pl-sm").mark(marker):
        for message in messages:
            with ui.row().classes("no-wrap items-start gap-2"):
                ui.icon("error_outline", color="negative", size="xs").classes("q-mt-xs")
                ui.label(message)
