"""One entry of a record's timeline (an institution's, an opportunity's): icon and colour by kind, a
headline that links to its record, when and who, and the details in words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from nicegui import ui

from components.call_dialog import duration_text
from components.history_values import change_words
from components.note_dialog import NoteMarkdown, excerpt
from crm_app.activities.labels import (
    CALL_DIRECTION_LABELS,
    MEETING_STATUS_LABELS,
    NOTE_VISIBILITY_LABELS,
    TASK_STATUS_LABELS,
)
from crm_app.activities.models import CallDirection, MeetingStatus, NoteVisibility, TaskStatus
from crm_app.institutions.timeline import TimelineEntry
from crm_app.platform import audit
from crm_app.platform.i18n import N_, format_currency, format_date, format_datetime, pgettext
from crm_app.platform.i18n import gettext as _
from crm_app.sales.invoices import KIND_LABELS as INVOICE_KIND_LABELS
from crm_app.sales.invoices import STATUS_LABELS as INVOICE_STATUS_LABELS
from crm_app.sales.invoices import status_label
from crm_app.sales.models.invoices import InvoiceKind, InvoiceStatus, PaymentMethod
from crm_app.sales.models.opportunities import OpportunityStage
from crm_app.sales.models.quotes import QuoteStatus
from crm_app.sales.opportunities import STAGE_LABELS
from crm_app.sales.payments import PAYMENT_METHOD_LABELS
from crm_app.sales.quotes import QUOTE_STATUS_LABELS

KIND_LABELS = {
    "task": N_("Tasks"),
    "note": N_("Notes"),
    "meeting": N_("Meetings"),
    "call": N_("Calls"),
    "change": N_("Changes"),
    "quote": N_("Quotes"),
    "invoice": N_("Invoices"),
    "payment": N_("Payments"),
    "refund": N_("Refunds"),
    "opportunity": N_("Opportunities"),
}
KIND_NAMES = {
    "task": N_("Task"),
    "note": N_("Note"),
    "meeting": N_("Meeting"),
    "call": N_("Call"),
    "change": N_("Change"),
    "quote": N_("Quote"),
    "invoice": N_("Invoice"),
    "payment": N_("Payment"),
    "refund": N_("Refund"),
    "opportunity": N_("Opportunity"),
}
KIND_ICONS = {
    "task": "task_alt",
    "note": "sticky_note_2",
    "meeting": "groups",
    "call": "call",
    "change": "edit",
    "quote": "request_quote",
    "invoice": "receipt_long",
    "payment": "payments",
    "refund": "currency_exchange",
    "opportunity": "trending_up",
}
KIND_COLORS = {
    "task": "primary",
    "note": "amber-8",
    "meeting": "purple",
    "call": "teal",
    "change": "grey",
    "opportunity": "deep-orange",
}


def _status_label(kind: str, status: str | None) -> str:
    """The entry's status in words, for the kinds this area knows; other areas' statuses as stored."""
    if not status:
        return ""
    enums: dict[str, tuple[Any, dict[Any, str]]] = {
        "task": (TaskStatus, TASK_STATUS_LABELS),
        "meeting": (MeetingStatus, MEETING_STATUS_LABELS),
        "note": (NoteVisibility, NOTE_VISIBILITY_LABELS),
        "call": (CallDirection, CALL_DIRECTION_LABELS),
        "quote": (QuoteStatus, QUOTE_STATUS_LABELS),
        "invoice": (InvoiceStatus, INVOICE_STATUS_LABELS),
        "payment": (PaymentMethod, PAYMENT_METHOD_LABELS),
        "refund": (PaymentMethod, PAYMENT_METHOD_LABELS),
        "opportunity": (OpportunityStage, STAGE_LABELS),
    }
    if kind in enums:
        enum, labels = enums[kind]
        try:
            return _(labels[enum(status)])
        except ValueError:
            return status
    return status


def _duration(seconds: str | None) -> str:
    return duration_text(int(seconds)) if seconds and seconds.isdigit() else ""


def describe(entry: TimelineEntry) -> tuple[str, str]:
    """The entry's headline and its details, in words."""
    status = _status_label(entry.kind, entry.status)
    if entry.kind == "change":
        return _describe_change(entry)
    if entry.kind == "call":
        parts = [status, entry.detail or "", _duration(entry.new_value)]
        return " · ".join(p for p in parts if p), entry.title or ""
    if entry.kind == "note":
        return excerpt(entry.title or ""), status
    if entry.kind in _SALES_KINDS:
        return _describe_sale(entry, status)
    if entry.kind == "opportunity":
        return entry.title or "", _describe_stage_move(entry, status)
    return entry.title or "", " · ".join(p for p in (status, entry.detail or "") if p)


_SALES_KINDS = ("quote", "invoice", "payment", "refund")


def _describe_change(entry: TimelineEntry) -> tuple[str, str]:
    """An audit entry (`status` its record's kind, `detail` the action, `title` the field) as its area
    words it: "Facture FA-2026-0001 émise · Statut", "Brouillon → Émise"."""
    words = change_words(
        audit.HistoryRow(
            id=entry.record_id,
            at=entry.at,
            actor_name=entry.user_name,
            entity_type=entry.status or "",
            action=entry.detail or "",
            field=entry.title,
            old_value=entry.old_value,
            new_value=entry.new_value,
            old_name=entry.old_name,
            new_name=entry.new_name,
            entity_name=entry.about_name,
        )
    )
    headline = f"{words.what} · {words.field}" if words.field else words.what
    return headline, words.change()


def _amount(text: str | None) -> str:
    try:
        return format_currency(Decimal(text)) if text else ""
    except InvalidOperation:
        return text or ""


def _describe_sale(entry: TimelineEntry, status: str) -> tuple[str, str]:
    """Quotes (number; status · title · total), invoices and credit notes (number; status · total) and
    payments (invoice number; method · date · amount) and refunds (credit note number; the same)."""
    if entry.kind == "quote":
        return entry.title or "", " · ".join(p for p in (status, entry.detail or "", _amount(entry.new_value)) if p)
    if entry.kind == "invoice":
        headline = entry.title or ""
        if entry.detail == InvoiceKind.CREDIT_NOTE.value:
            headline = f"{_(INVOICE_KIND_LABELS[InvoiceKind.CREDIT_NOTE])} {headline}"
            status = _(status_label(InvoiceKind.CREDIT_NOTE, InvoiceStatus(entry.status))) if entry.status else ""
        return headline, " · ".join(p for p in (status, _amount(entry.new_value)) if p)
    paid_on = format_date(date.fromisoformat(entry.detail)) if entry.detail else ""
    return entry.title or "", " · ".join(p for p in (status, paid_on, _amount(entry.new_value)) if p)


def _describe_stage_move(entry: TimelineEntry, status: str) -> str:
    """An opportunity's creation ("Created · Prospecting · 12 000,00 €") or stage move ("Proposal →
    Negotiation · 12 000,00 €"): `old_value` is the stage left, `new_value` the amount then."""
    left = _status_label("opportunity", entry.old_value) if entry.old_value else ""
    move = f"{left} → {status}" if left else " · ".join(p for p in (pgettext("opportunity", "Created"), status) if p)
    return " · ".join(p for p in (move, _amount(entry.new_value)) if p)


def timeline_item(entry: TimelineEntry, zone: str) -> None:
    """One entry: icon and colour by kind, headline (a link to its record), when and who, details."""
    headline, details = describe(entry)
    when = format_datetime(entry.at, zone, style="short")
    subtitle = " · ".join(p for p in (_(KIND_NAMES.get(entry.kind, entry.kind)), when, entry.user_name or "") if p)
    with ui.timeline_entry(
        subtitle=subtitle, icon=KIND_ICONS.get(entry.kind, "circle"), color=KIND_COLORS.get(entry.kind, "grey")
    ).mark(f"timeline-entry timeline-{entry.kind}") as item:
        if entry.kind == "note":
            _note_entry(item, entry, details)
            return
        with item.add_slot("title"):
            if entry.link:
                ui.link(headline, entry.link).classes("text-body1 text-primary text-weight-medium")
            else:
                ui.label(headline).classes("text-body1 text-weight-medium")
        if details:
            ui.label(details).classes("whitespace-pre-wrap text-grey-8")


def _note_entry(item: ui.timeline_entry, entry: TimelineEntry, details: str) -> None:
    """A note reads as it was written (its markdown rendered, safely), its first lines only: its link
    opens it whole."""
    with item.add_slot("title"):
        NoteMarkdown(entry.title or "").classes("opex-note opex-clamp text-body1").mark("timeline-note-text")
    with ui.row().classes("items-center gap-2 text-grey-8"):
        if entry.link:
            ui.link(_("Open"), entry.link).classes("text-primary").mark("timeline-note-open")
        if details:
            ui.label(details)
