"""Invoices and credit notes (avoirs): drafts, invoicing a quote in one or several parts, issuing
under the French numbering rules, credit notes, lists with their totals and the detail
(DOMAIN.md "Invoices"). Payments are in `services.payments`.

Rules:
- A draft has no number and is edited freely (lines, terms, discount); its lines are cleaned and
  stored by `services.document_lines` and its totals always come from `money.compute_totals`.
  `issue_invoice` gives it the next number of its per-year sequence, the issue date (today in the
  organisation's time zone), the due date and a frozen copy of the buyer, all in the caller's
  transaction: a rollback gives the number back. From then on the document is never
  edited nor deleted; every edit path answers InvalidTransition with the current status.
- A quote (accepted or ordered) may be invoiced in several parts (deposit, balance), never above its
  total incl. VAT: Σ (total − credited) of its invoices, drafts included, is checked with the quote's
  row locked. A part invoice has one line per VAT rate of the quote, at the proportional base.
- A credit note is an Invoice of kind `credit_note` that references the credited invoice. It is
  issued at once (it gets its AV- number in the same transaction; there are no draft credit notes),
  for everything that remains unpaid, the whole invoice (what was not credited yet, paid or not), a
  given amount incl. VAT, or given lines, never more than what was not credited yet. Its total is
  added to the invoice's `amount_credited` and the invoice's status is recomputed (fully credited →
  cancelled). An issued invoice that is paid or partly paid can be credited too.
- Refunds: when a credit note takes the invoice's credits above what remained unpaid, the difference
  was paid and is owed back to the client (the invoice's balance is negative: `refundable_amount`).
  The money paid back is recorded on the credit note as payments out (`Payment.direction` out, its
  `invoice_id` the credit note's), at the credit note's creation or later, never more than what is
  refundable on the invoice nor than the credit note's total. The credit note's and the invoice's
  `amount_refunded` hold Σ of them.
- Balance of an invoice: total − credited − paid + refunded (`remaining_amount`): positive while money
  is due, negative while a refund is due, zero once settled.
- Status of an invoice (see `settle`): issued → partially_paid → paid, overdue when past due and not
  fully paid, cancelled when fully credited. Rights: `record.view` / `record.edit` on the owner
  (salesperson), the creator and the team.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.institutions import links, timeline
from crm_app.institutions import service as institution_service
from crm_app.institutions.models import CommercialStatus, Contact, Institution
from crm_app.platform import audit, events, records
from crm_app.platform import cleaners as fields
from crm_app.platform import notifications as notification_service
from crm_app.platform.cleaners import long_text
from crm_app.platform.db import fetch_all
from crm_app.platform.errors import Conflict, InvalidTransition, ValidationFailed
from crm_app.platform.i18n import N_, NP_, gettext, use_locale
from crm_app.platform.identifiers import clean_postal_code
from crm_app.platform.models.base import table_of, utcnow
from crm_app.platform.models.people import User
from crm_app.platform.paging import PageRequest
from crm_app.platform.params import Params
from crm_app.platform.permissions import Actor, Placement, authorize, can
from crm_app.platform.records import active_user, actor_id, changed_by_name, get_record, scope_condition, user_names
from crm_app.platform.settings import organisation
from crm_app.platform.text import contains_pattern, fold
from crm_app.sales import chorus, documents, numbering
from crm_app.sales import lines as document_lines
from crm_app.sales.document_settings import document_settings
from crm_app.sales.models.invoices import (
    OPEN_INVOICE_STATUSES,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentDirection,
    PaymentMethod,
)
from crm_app.sales.models.quotes import Quote, QuoteStatus, SequenceKind
from crm_app.sales.money import CENT, HUNDRED, ZERO, LineAmounts, Totals, compute_totals, to_cents
from crm_app.sales.tax_codes import SupplyKind, VatExemption

INVOICEABLE_QUOTE_STATUSES = (QuoteStatus.ACCEPTED, QuoteStatus.ORDERED)
#: statuses that still wait for money or credit (payments and credit notes allowed).
SETTLEABLE_STATUSES = OPEN_INVOICE_STATUSES
#: statuses of an invoice that can be credited: open ones, and paid ones (what was paid is refunded).
CREDITABLE_STATUSES = (*OPEN_INVOICE_STATUSES, InvoiceStatus.PAID)

STATUS_LABELS: dict[InvoiceStatus, str] = {
    InvoiceStatus.DRAFT: N_("Draft"),
    InvoiceStatus.ISSUED: N_("Issued"),
    InvoiceStatus.PARTIALLY_PAID: N_("Partially paid"),
    InvoiceStatus.PAID: N_("Paid"),
    InvoiceStatus.OVERDUE: N_("Overdue"),
    InvoiceStatus.CANCELLED: N_("Cancelled"),
}
#: A credit note's statuses: they agree with their noun ("un avoir émis", "une facture émise").
CREDIT_NOTE_STATUS_LABELS: dict[InvoiceStatus, str] = {
    InvoiceStatus.DRAFT: NP_("credit note status", "Draft"),
    InvoiceStatus.ISSUED: NP_("credit note status", "Issued"),
    InvoiceStatus.PARTIALLY_PAID: NP_("credit note status", "Partially paid"),
    InvoiceStatus.PAID: NP_("credit note status", "Paid"),
    InvoiceStatus.OVERDUE: NP_("credit note status", "Overdue"),
    InvoiceStatus.CANCELLED: NP_("credit note status", "Cancelled"),
}


def status_label(kind: InvoiceKind, status: InvoiceStatus) -> str:
    """The message id of a document's status, in the gender of its kind."""
    return (CREDIT_NOTE_STATUS_LABELS if kind is InvoiceKind.CREDIT_NOTE else STATUS_LABELS)[status]


KIND_LABELS: dict[InvoiceKind, str] = {
    InvoiceKind.INVOICE: N_("Invoice"),
    InvoiceKind.CREDIT_NOTE: N_("Credit note"),
}

_NOT_DRAFT = N_("An issued invoice cannot be changed: issue a credit note instead.")
_TOO_MUCH_FOR_QUOTE = N_("This would invoice more than the quote's total.")
_TOO_MUCH_TO_CREDIT = N_("A credit note cannot exceed what has not been credited on the invoice.")


# --------------------------------------------------------------------------------------------
# Input


_ADDRESS_PARTS = ("name", "street", "postal_code", "city", "country")
_ADDRESS_TEXT = fields.text(250)


def clean_delivery_address(value: Any) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Where the goods or services go, when not the buyer's address: {name, street, postal_code, city,
    country}; blank (or every part blank) means the buyer's address. The errors are keyed by part
    (`delivery_address.street`), so that each message is shown next to its input."""
    if fields.is_blank(value):
        return None, {}
    if not isinstance(value, Mapping):
        return None, {"delivery_address": N_("Unknown value.")}
    parts: dict[str, str] = {}
    errors: dict[str, str] = {}
    for key in _ADDRESS_PARTS:
        try:
            parts[key] = _ADDRESS_TEXT(value.get(key)) or ""
        except ValueError as exc:
            errors[f"delivery_address.{key}"] = str(exc)
    if errors:
        return None, errors
    if not any(parts[key] for key in ("name", "street", "postal_code", "city")):
        return None, {}
    parts["country"] = (parts["country"] or "FR").upper()
    for key in ("street", "postal_code", "city"):
        if not parts[key]:
            errors[f"delivery_address.{key}"] = N_("Enter the delivery address: street, postal code and city.")
    if len(parts["country"]) != 2 or not parts["country"].isalpha():
        errors["delivery_address.country"] = N_("Enter the country's two-letter code (FR, BE...).")
    elif parts["postal_code"]:
        try:
            parts["postal_code"] = clean_postal_code(parts["postal_code"], parts["country"])
        except ValueError as exc:
            errors["delivery_address.postal_code"] = str(exc)
    return (None, errors) if errors else (parts, {})


def _delivery_address(value: Any) -> dict[str, str] | None:
    """The cleaner of `delivery_address` alone (its first message); the services use
    `clean_delivery_address`, which names each part."""
    address, errors = clean_delivery_address(value)
    if errors:
        raise ValueError(next(iter(errors.values())))
    return address


def _clean_header(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A draft's fields but its lines, cleaned, and their errors (the delivery address's by part)."""
    header = {k: v for k, v in raw.items() if k not in ("lines", "delivery_address")}
    values, errors = fields.clean_fields(header, CLEANERS, partial=True)
    if "delivery_address" in raw:
        values["delivery_address"], address_errors = clean_delivery_address(raw["delivery_address"])
        errors.update(address_errors)
    return values, errors


def _refuse_errors(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed(errors)


CLEANERS: dict[str, fields.Cleaner] = {
    "title": fields.text(200),
    "delivery_address": _delivery_address,
    "institution_id": fields.identifier(),
    "contact_id": fields.identifier(),
    "owner_id": fields.identifier(),
    "payment_terms_days": fields.whole_number(minimum=0, maximum=365),
    "global_discount_percent": document_lines.percent_field(),
    "notes": long_text(5000),
    **chorus.CLEANERS,
}

# --------------------------------------------------------------------------------------------
# Loading, rights, small helpers


def placement(invoice: Invoice) -> Placement:
    """Owner (the salesperson) and creator own an invoice; the team is the owner's."""
    return Placement(team_id=invoice.team_id, assigned_user_id=invoice.owner_id, created_by=invoice.created_by)


def get_invoice_record(session: Session, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice:
    return get_record(session, Invoice, invoice_id, missing=N_("This invoice does not exist."), for_update=for_update)


def editable_invoice(session: Session, actor: Actor, invoice_id: uuid.UUID) -> Invoice:
    """The invoice locked for the rest of the unit of work, when the actor may edit it."""
    invoice = get_invoice_record(session, invoice_id, for_update=True)
    authorize(actor, "record.edit", placement(invoice))
    return invoice


def today(session: Session | None = None) -> date:
    """Today in the organisation's time zone (issue dates, due dates, overdue)."""
    return utcnow().astimezone(ZoneInfo(organisation(session)["timezone"])).date()


def remaining_amount(invoice: Invoice) -> Decimal:
    """The balance of an invoice: total − credited − paid + refunded; positive while money is due,
    negative while a refund is due to the client; nothing on a credit note."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return ZERO
    return invoice.total_incl_vat - invoice.amount_credited - invoice.amount_paid + invoice.amount_refunded


def refundable_amount(invoice: Invoice) -> Decimal:
    """What was paid on an invoice beyond what its credit notes left due, and not refunded yet."""
    return max(ZERO, -remaining_amount(invoice))


def credit_note_refundable(note: Invoice, invoice: Invoice) -> Decimal:
    """What can still be refunded on a credit note: the invoice's refundable amount, at most the part of
    the credit note's total not refunded yet."""
    return min(refundable_amount(invoice), note.total_incl_vat - note.amount_refunded)


def _refuse_unless_draft(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvalidTransition(InvoiceStatus(invoice.status).value, _NOT_DRAFT)


def _check_version(session: Session, invoice: Invoice, expected_version: int | None) -> None:
    if expected_version is not None and invoice.version != expected_version:
        raise Conflict(changed_by=changed_by_name(session, invoice.updated_by))


def audit_change(
    session: Session, actor: Actor, invoice: Invoice, action: str, changes: dict[str, tuple[Any, Any]] | None = None
) -> None:
    """Every change to an invoice or a credit note goes through here: its audit entry, and the event
    open lists follow."""
    audit.record(
        session,
        actor,
        entity_type="invoice" if invoice.kind == InvoiceKind.INVOICE else "credit_note",
        entity_id=invoice.id,
        institution_id=invoice.institution_id,
        action=action,
        changes=changes,
    )
    events.publish(
        session,
        events.InvoiceChanged(
            invoice_id=invoice.id,
            institution_id=invoice.institution_id,
            owner_id=invoice.owner_id,
            team_id=invoice.team_id,
            action=action,
            actor_id=actor_id(actor),
        ),
    )


def _organisation_text(session: Session, message: str, **params: Any) -> str:
    """Text stored on a document (line descriptions): in the organisation's language."""
    with use_locale(organisation(session).get("default_language") or "fr"):
        return gettext(message, **params)


def _owner(session: Session, actor: Actor, owner_id: uuid.UUID | None) -> User:
    """The salesperson of a new invoice: the actor, or someone within the actor's `record.edit` reach."""
    wanted = owner_id or actor_id(actor)
    if wanted is None:
        raise ValidationFailed({"owner_id": N_("This field is required.")})
    owner = active_user(session, wanted, "owner_id")
    authorize(actor, "record.edit", Placement(team_id=owner.team_id, assigned_user_id=owner.id))
    return owner


def _default_terms(session: Session, institution: Institution) -> int:
    if institution.payment_terms_days is not None:
        return institution.payment_terms_days
    return document_settings(session).payment_terms_days


# --------------------------------------------------------------------------------------------
# Drafts


def create_invoice(session: Session, actor: Actor, raw: Mapping[str, Any]) -> Invoice:
    """A draft invoice from scratch: `institution_id` (required), `contact_id`, `title`, `owner_id`
    (default: the actor), `payment_terms_days` (default: the institution's, else the organisation's),
    `global_discount_percent`, `notes`, `lines` (list of {description, quantity, unit, unit_price,
    discount_type, discount_value, vat_rate, reference, catalog_item_id})."""
    values, errors = _clean_header(raw)
    if values.get("institution_id") is None and "institution_id" not in errors:
        errors["institution_id"] = N_("This field is required.")
    if errors:
        raise ValidationFailed(errors)
    institution = session.get(Institution, values["institution_id"])
    if institution is None:
        raise ValidationFailed({"institution_id": N_("This institution does not exist.")})
    links.check_contact(session, institution.id, values.get("contact_id"))
    buyer = chorus.public_buyer(institution)
    if "buyer_reference" not in values:
        values["buyer_reference"] = buyer.default_code
    elif message := chorus.check_buyer_reference(buyer, values["buyer_reference"]):
        raise ValidationFailed({"buyer_reference": message})
    owner = _owner(session, actor, values.get("owner_id"))
    lines = document_lines.clean_lines(session, raw.get("lines"))
    discount = values.get("global_discount_percent") or ZERO
    totals = document_lines.totals_of(lines, discount)
    terms = values.get("payment_terms_days")
    invoice = Invoice(
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.DRAFT,
        title=values.get("title"),
        institution_id=institution.id,
        contact_id=values.get("contact_id"),
        owner_id=owner.id,
        team_id=owner.team_id,
        payment_terms_days=terms if terms is not None else _default_terms(session, institution),
        global_discount_percent=discount,
        notes=values.get("notes"),
        delivery_address=values.get("delivery_address"),
        buyer_reference=values["buyer_reference"],
        buyer_order_reference=values.get("buyer_order_reference"),
        created_by=actor_id(actor),
        updated_by=actor_id(actor),
    )
    session.add(invoice)
    session.flush()
    document_lines.store_lines(session, invoice, lines, totals)
    session.flush()
    audit_change(session, actor, invoice, "create", {"total_incl_vat": (None, invoice.total_incl_vat)})
    return invoice


def update_invoice(
    session: Session, actor: Actor, invoice_id: uuid.UUID, raw: Mapping[str, Any], *, expected_version: int
) -> Invoice:
    """Change a draft (header fields and/or the whole `lines` list); refused once issued
    (InvalidTransition) and with a stale version (Conflict naming who saved first). The invoice of a
    quote stays within the quote's total."""
    invoice = editable_invoice(session, actor, invoice_id)
    _refuse_unless_draft(invoice)
    _check_version(session, invoice, expected_version)
    values, errors = _clean_header(raw)
    _refuse_errors(errors)
    if "institution_id" in values:
        if values["institution_id"] is None:
            raise ValidationFailed({"institution_id": N_("This field is required.")})
        if session.get(Institution, values["institution_id"]) is None:
            raise ValidationFailed({"institution_id": N_("This institution does not exist.")})
        if invoice.quote_id is not None and values["institution_id"] != invoice.institution_id:
            raise ValidationFailed({"institution_id": N_("The invoice of a quote stays with its institution.")})
    if "payment_terms_days" in values and values["payment_terms_days"] is None:
        values["payment_terms_days"] = _default_terms(
            session, session.get(Institution, invoice.institution_id) or Institution(name="")
        )
    if "global_discount_percent" in values and values["global_discount_percent"] is None:
        values["global_discount_percent"] = ZERO
    changes = {
        name: (getattr(invoice, name), value) for name, value in values.items() if getattr(invoice, name) != value
    }
    institution_id = values.get("institution_id", invoice.institution_id)
    contact_id = values.get("contact_id", invoice.contact_id)
    if "institution_id" in changes and "contact_id" not in values:
        contact_id = None
        changes["contact_id"] = (invoice.contact_id, None)
    links.check_contact(session, institution_id, contact_id)
    _chorus_changes(session, invoice, institution_id, values, changes)
    if "owner_id" in changes:
        owner = _owner(session, actor, changes["owner_id"][1])
        changes["team_id"] = (invoice.team_id, owner.team_id)
    lines_given = "lines" in raw
    if not changes and not lines_given:
        return invoice
    new_lines = (
        document_lines.clean_lines(session, raw.get("lines"))
        if lines_given
        else [document_lines.as_input(line) for line in document_lines.stored_lines(session, invoice)]
    )
    discount = (
        changes["global_discount_percent"][1]
        if "global_discount_percent" in changes
        else invoice.global_discount_percent
    )
    totals = document_lines.totals_of(new_lines, discount)
    if invoice.quote_id is not None:
        _check_quote_room(session, invoice.quote_id, totals.total_incl_vat, excluding=invoice.id)
    old_total = invoice.total_incl_vat
    for name, (_, value) in changes.items():
        setattr(invoice, name, value)
    document_lines.store_lines(session, invoice, new_lines, totals)
    if invoice.total_incl_vat != old_total:
        changes["total_incl_vat"] = (old_total, invoice.total_incl_vat)
    invoice.updated_by = actor_id(actor)
    invoice.touch()
    session.add(invoice)
    session.flush()
    audit_change(session, actor, invoice, "update", {k: v for k, v in changes.items() if k != "team_id"} or None)
    return invoice


def _chorus_changes(
    session: Session,
    invoice: Invoice,
    institution_id: uuid.UUID,
    values: Mapping[str, Any],
    changes: dict[str, tuple[Any, Any]],
) -> None:
    """The service code of a changed draft is one of its buyer's; a new buyer keeps the draft's code only
    if it has it (`chorus.buyer_reference_for`)."""
    buyer = chorus.buyer_of(session, institution_id)
    if "buyer_reference" in values:
        if message := chorus.check_buyer_reference(buyer, values["buyer_reference"]):
            raise ValidationFailed({"buyer_reference": message})
    elif "institution_id" in changes:
        code = chorus.buyer_reference_for(buyer, invoice.buyer_reference)
        if code != invoice.buyer_reference:
            changes["buyer_reference"] = (invoice.buyer_reference, code)


def delete_draft(session: Session, actor: Actor, invoice_id: uuid.UUID) -> None:
    """Delete a draft (an issued invoice is never deleted: InvalidTransition)."""
    invoice = editable_invoice(session, actor, invoice_id)
    _refuse_unless_draft(invoice)
    audit_change(session, actor, invoice, "delete", {"total_incl_vat": (invoice.total_incl_vat, None)})
    session.execute(sa.delete(table_of(InvoiceLine)).where(table_of(InvoiceLine).c.invoice_id == invoice.id))
    session.delete(invoice)
    session.flush()


# --------------------------------------------------------------------------------------------
# Invoicing a quote


def invoiced_on_quote(session: Session, quote_id: uuid.UUID, *, excluding: uuid.UUID | None = None) -> Decimal:
    """What has been invoiced on the quote, incl. VAT: Σ (total incl. VAT − credited) of its invoices
    (kind invoice), drafts included, cancelled ones left out; `excluding` leaves one invoice out (the
    draft being changed). The one definition: the quote's detail shows it, invoicing is checked with it."""
    i = table_of(Invoice).c
    statement = sa.select(sa.func.coalesce(sa.func.sum(i.total_incl_vat - i.amount_credited), 0)).where(
        i.quote_id == quote_id, i.kind == InvoiceKind.INVOICE.value, i.status != InvoiceStatus.CANCELLED.value
    )
    if excluding is not None:
        statement = statement.where(i.id != excluding)
    return to_cents(Decimal(fetch_all(session, statement)[0][0]))


def _locked_quote(session: Session, quote_id: uuid.UUID) -> Quote:
    return get_record(session, Quote, quote_id, missing=N_("This quote does not exist."), for_update=True)


def _check_quote_room(
    session: Session, quote_id: uuid.UUID, amount: Decimal, *, excluding: uuid.UUID | None = None
) -> Quote:
    """Lock the quote and refuse `amount` more when it would take the quote's invoices above its total."""
    quote = _locked_quote(session, quote_id)
    if invoiced_on_quote(session, quote.id, excluding=excluding) + amount > quote.total_incl_vat:
        raise ValidationFailed({"amount_incl_vat": _TOO_MUCH_FOR_QUOTE})
    return quote


def part_lines(
    vat_rows: Sequence[tuple[Decimal, Decimal]],
    total_incl_vat: Decimal,
    target: Decimal,
    description: str,
    taxes: Mapping[Decimal, tuple[VatExemption | None, SupplyKind]] | None = None,
) -> list[document_lines.LineInput]:
    """Lines worth `target` incl. VAT, at most: one line per VAT rate of the document (`(rate, base)`
    rows), each at the proportional base. A base is a whole number of cents and each rate's VAT is
    rounded, so some targets cannot be met to the cent: the lines then come as close as possible
    without going above it."""
    rows = [(rate, base) for rate, base in vat_rows if base > 0]
    if not rows or total_incl_vat <= 0:
        return []
    bases = [to_cents(base * target / total_incl_vat) for _, base in rows]

    def incl(candidate: list[Decimal]) -> Decimal:
        return compute_totals(
            [
                LineAmounts(quantity=Decimal(1), unit_price=base, vat_rate=rate)
                for (rate, _), base in zip(rows, candidate, strict=True)
            ]
        ).total_incl_vat

    order = sorted(range(len(rows)), key=lambda k: bases[k], reverse=True)
    for _ in range(100):  # proportional rounding is a few cents off at most
        if incl(bases) <= target:
            break
        biggest = order[0]
        bases[biggest] = max(ZERO, bases[biggest] - CENT)
    for _ in range(100):
        for k in order:
            trial = [*bases]
            trial[k] += CENT
            if incl(trial) <= target:
                bases = trial
                break
        else:
            break
    taxes = taxes or {}
    return [
        document_lines.LineInput(
            description=description,
            quantity=Decimal("1.000"),
            unit_price=base,
            vat_rate=rate,
            # the source's exemption and kind of supply at that rate (`lines.taxes_by_rate`)
            vat_exemption=taxes.get(rate.normalize() + 0, (None, SupplyKind.GOODS))[0] if rate == 0 else None,
            supply_kind=taxes.get(rate.normalize() + 0, (None, SupplyKind.GOODS))[1],
        )
        for (rate, _), base in zip(rows, bases, strict=True)
        if base > 0
    ]


def _quote_part_description(session: Session, quote: Quote, percent: Decimal | None, balance: bool) -> str:
    if balance:
        return _organisation_text(session, N_("Balance of quote {number}"), number=quote.number)
    if percent is not None:
        return _organisation_text(
            session,
            N_("Deposit of {percent} % on quote {number}"),
            percent=format(percent.normalize(), "f"),
            number=quote.number,
        )
    return _organisation_text(session, N_("Part payment on quote {number}"), number=quote.number)


def create_invoice_from_quote(
    session: Session,
    actor: Actor,
    quote_id: uuid.UUID,
    *,
    percent: Decimal | None = None,
    amount_incl_vat: Decimal | None = None,
) -> Invoice:
    """A draft invoice of an accepted or ordered quote, for its owner and institution.

    - neither `percent` nor `amount_incl_vat`: everything that remains to invoice: the quote's lines
      copied when nothing was invoiced yet, else the balance;
    - `percent` (deposit): that percentage of the quote's total;
    - `amount_incl_vat`: that amount.
    Part invoices hold one line per VAT rate of the quote (`part_lines`). Never above the quote's
    total: the quote's row is locked while Σ of its invoices (drafts included, credit notes deducted)
    is checked (ValidationFailed on `amount_incl_vat` / `percent`)."""
    if percent is not None and amount_incl_vat is not None:
        raise ValidationFailed({"percent": N_("Give a percentage or an amount, not both.")})
    if percent is not None:
        percent = _check_field("percent", percent, document_lines.percent_field(positive=True))
    if amount_incl_vat is not None:
        amount_incl_vat = _check_field("amount_incl_vat", amount_incl_vat, document_lines.amount_field(positive=True))
    quote = _locked_quote(session, quote_id)
    authorize(actor, "record.edit", quote)
    if quote.status not in INVOICEABLE_QUOTE_STATUSES:
        raise InvalidTransition(
            QuoteStatus(quote.status).value, N_("Only an accepted or ordered quote can be invoiced.")
        )
    already = invoiced_on_quote(session, quote.id)
    room = quote.total_incl_vat - already
    if room <= 0:
        raise ValidationFailed({"amount_incl_vat": N_("This quote is already fully invoiced.")})
    quote_lines = document_lines.stored_lines(session, quote)
    discount = ZERO
    if percent is None and amount_incl_vat is None and already == 0:
        lines = [document_lines.as_input(line) for line in quote_lines]
        discount = quote.global_discount_percent
    else:
        if percent is not None:
            target = to_cents(quote.total_incl_vat * percent / HUNDRED)
            name = "percent"
        else:
            target = amount_incl_vat if amount_incl_vat is not None else room
            name = "amount_incl_vat"
        if target > room:
            raise ValidationFailed({name: _TOO_MUCH_FOR_QUOTE})
        quote_totals = document_lines.stored_totals(quote_lines, quote.global_discount_percent)
        description = _quote_part_description(
            session, quote, percent, balance=percent is None and amount_incl_vat is None
        )
        lines = part_lines(
            [(row.rate, row.base) for row in quote_totals.vat_rows],
            quote_totals.total_incl_vat,
            target,
            description,
            document_lines.taxes_by_rate(quote_lines),
        )
        if not lines:
            raise ValidationFailed({name: N_("This amount is too small to invoice.")})
    totals = document_lines.totals_of(lines, discount)
    if already + totals.total_incl_vat > quote.total_incl_vat:
        raise ValidationFailed({"amount_incl_vat": _TOO_MUCH_FOR_QUOTE})
    institution = session.get(Institution, quote.institution_id)
    assert institution is not None  # a foreign key
    invoice = Invoice(
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.DRAFT,
        title=quote.title,
        institution_id=quote.institution_id,
        contact_id=quote.contact_id,
        owner_id=quote.owner_id,
        team_id=quote.team_id,
        quote_id=quote.id,
        payment_terms_days=_default_terms(session, institution),
        global_discount_percent=discount,
        buyer_reference=chorus.public_buyer(institution).default_code,
        buyer_order_reference=_order_reference(quote),
        created_by=actor_id(actor),
        updated_by=actor_id(actor),
    )
    session.add(invoice)
    session.flush()
    document_lines.store_lines(session, invoice, lines, totals)
    session.flush()
    audit_change(
        session,
        actor,
        invoice,
        "create",
        {"quote": (None, quote.number), "total_incl_vat": (None, invoice.total_incl_vat)},
    )
    return invoice


def _order_reference(quote: Quote) -> str | None:
    """The engagement number an invoice of the quote starts with: the client's purchase order reference
    recorded on the order, when it fits (BT-13 holds 50 characters)."""
    reference = quote.purchase_order_ref
    return reference if reference and len(reference) <= chorus.BUYER_ORDER_REFERENCE_MAX_LENGTH else None


def _check_field(name: str, value: Any, cleaner: fields.Cleaner) -> Any:
    try:
        return cleaner(value)
    except ValueError as exc:
        raise ValidationFailed({name: str(exc)}) from None


# --------------------------------------------------------------------------------------------
# Issuing


def buyer_snapshot(session: Session, invoice: Invoice) -> dict[str, Any]:
    """The buyer as printed and given in the e-invoice, frozen at issue (`documents.buyer_snapshot`)."""
    return documents.buyer_snapshot(session, invoice.institution_id, invoice.contact_id)


def _sequence(invoice: Invoice) -> SequenceKind:
    return SequenceKind.CREDIT_NOTE if invoice.kind == InvoiceKind.CREDIT_NOTE else SequenceKind.INVOICE


def _number(session: Session, invoice: Invoice, issue_date: date) -> str:
    """The next number of the invoice's sequence (the counter row stays locked until the transaction
    ends), refused when a document of the sequence was issued on a later date (chronology)."""
    kind = _sequence(invoice)
    number = numbering.next_number(session, kind, issue_date.year)
    i = table_of(Invoice).c
    last = fetch_all(
        session,
        sa.select(sa.func.max(i.issue_date)).where(
            i.kind == invoice.kind, i.number.is_not(None), i.issue_date >= date(issue_date.year, 1, 1)
        ),
    )[0][0]
    if last is not None and last > issue_date:
        raise Conflict(N_("A document of this series was issued on a later date: numbers must follow the dates."))
    settings = document_settings(session)
    prefix = settings.credit_note_prefix if kind is SequenceKind.CREDIT_NOTE else settings.invoice_prefix
    return numbering.format_number(prefix, issue_date.year, number)


def _issue(session: Session, actor: Actor, invoice: Invoice, *, store_document: bool = True) -> None:
    """Number, date and issue a draft. `store_document=False` leaves the Factur-X file to the caller,
    once the rest of the same step is written (a credit note's refund, which its file shows)."""
    issued_on = today(session)
    invoice.number = _number(session, invoice, issued_on)
    invoice.issued_at = utcnow()  # after the sequence's lock: issue order follows number order
    invoice.issue_date = issued_on
    invoice.due_date = (
        issued_on + timedelta(days=invoice.payment_terms_days) if invoice.kind == InvoiceKind.INVOICE else None
    )
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_by = actor_id(actor)
    invoice.buyer = buyer_snapshot(session, invoice)
    invoice.updated_by = actor_id(actor)
    invoice.touch()
    session.add(invoice)
    session.flush()
    # the Factur-X file, checked and stored now: a document that cannot be an e-invoice is not issued
    # (ValidationFailed naming what it lacks rolls the number back with the caller's transaction)
    if store_document:
        documents.store_issued_document(session, actor, invoice)
    audit_change(
        session,
        actor,
        invoice,
        "issue",
        {"number": (None, invoice.number), "status": (InvoiceStatus.DRAFT, InvoiceStatus.ISSUED)},
    )


def _make_client(session: Session, actor: Actor, institution_id: uuid.UUID) -> None:
    """DOMAIN.md: a prospect becomes a client at its first issued invoice."""
    institution = session.get(Institution, institution_id, with_for_update=True)
    if institution is None or institution.commercial_status != CommercialStatus.PROSPECT:
        return
    institution.commercial_status = CommercialStatus.CLIENT
    institution.touch()
    session.add(institution)
    session.flush()
    audit.record(
        session,
        actor,
        entity_type="institution",
        entity_id=institution.id,
        institution_id=institution.id,
        action="update",
        changes={"commercial_status": (CommercialStatus.PROSPECT, CommercialStatus.CLIENT)},
    )
    institution_service.announce_change(session, actor, institution.id)  # its open page and forms follow


def issue_invoice(
    session: Session, actor: Actor, invoice_id: uuid.UUID, *, expected_version: int | None = None
) -> Invoice:
    """Draft → issued: the next number of the year (FAC-2026-00001), issue date = today in the
    organisation's time zone, due date = issue date + payment terms, the buyer frozen. In the caller's
    transaction: concurrent issuers wait for each other, a rollback gives the number back."""
    invoice = editable_invoice(session, actor, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvalidTransition(InvoiceStatus(invoice.status).value, N_("This invoice is already issued."))
    _check_version(session, invoice, expected_version)
    if not document_lines.stored_lines(session, invoice) or invoice.total_incl_vat <= 0:
        raise ValidationFailed({"lines": N_("An invoice needs at least one line with an amount.")})
    chorus_errors = chorus.issue_errors(
        chorus.buyer_of(session, invoice.institution_id),
        {"buyer_reference": invoice.buyer_reference, "buyer_order_reference": invoice.buyer_order_reference},
    )
    if chorus_errors:
        raise ValidationFailed(chorus_errors)
    if invoice.quote_id is not None:
        _check_quote_room(session, invoice.quote_id, invoice.total_incl_vat, excluding=invoice.id)
    _issue(session, actor, invoice)
    _make_client(session, actor, invoice.institution_id)
    return invoice


# --------------------------------------------------------------------------------------------
# Status


def settle(session: Session, actor: Actor, invoice: Invoice, *, on: date | None = None) -> InvoiceStatus:
    """Recompute an issued invoice's status from what was paid and credited (payments, credit notes,
    the daily overdue job); publishes InvoicePaid when it becomes paid. Returns the new status."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE or invoice.status == InvoiceStatus.DRAFT:
        return InvoiceStatus(invoice.status)
    old = InvoiceStatus(invoice.status)
    day = on or today(session)
    remaining = remaining_amount(invoice)
    if invoice.amount_credited >= invoice.total_incl_vat:
        new = InvoiceStatus.CANCELLED  # whatever was paid is owed back (refunds)
    elif remaining <= 0:
        new = InvoiceStatus.PAID
    elif invoice.due_date is not None and invoice.due_date < day:
        new = InvoiceStatus.OVERDUE
    elif invoice.amount_paid > 0:
        new = InvoiceStatus.PARTIALLY_PAID
    else:
        new = InvoiceStatus.ISSUED
    if new is old:
        return new
    invoice.status = new
    invoice.paid_at = utcnow() if new is InvoiceStatus.PAID else None
    session.add(invoice)
    session.flush()
    audit_change(session, actor, invoice, "status", {"status": (old, new)})
    if new is InvoiceStatus.PAID and invoice.number:
        events.publish(
            session,
            events.InvoicePaid(
                invoice_id=invoice.id, number=invoice.number, owner_id=invoice.owner_id, actor_id=actor_id(actor)
            ),
        )
    return new


def _invoice_paid(session: Session, event: events.InvoicePaid) -> None:
    notification_service.notify(
        session,
        [event.owner_id],
        kind="invoice.paid",
        record_kind="invoice",
        record_id=event.invoice_id,
        params={"number": event.number},
        actor_id=event.actor_id,
    )


# --------------------------------------------------------------------------------------------
# Credit notes


def _credit_target(invoice: Invoice, amount_incl_vat: Decimal | None, full: bool) -> Decimal:
    """What a credit note without lines credits (see `create_credit_note`), within what was not
    credited yet."""
    creditable = invoice.total_incl_vat - invoice.amount_credited
    unpaid = max(ZERO, remaining_amount(invoice))
    if amount_incl_vat is not None:
        target = amount_incl_vat
    elif full or unpaid == 0:
        target = creditable
    else:
        target = unpaid
    if target > creditable:
        raise ValidationFailed({"amount_incl_vat": _TOO_MUCH_TO_CREDIT})
    return target


def _credit_lines_worth(
    session: Session, invoice: Invoice, target: Decimal
) -> tuple[list[document_lines.LineInput], Decimal]:
    """The lines (and global discount) of a credit note worth `target`: the invoice's own when it is the
    whole invoice, else one line per VAT rate at the proportional base."""
    stored = document_lines.stored_lines(session, invoice)
    if target == invoice.total_incl_vat:
        return [document_lines.as_input(line) for line in stored], invoice.global_discount_percent
    invoice_totals = document_lines.stored_totals(stored, invoice.global_discount_percent)
    lines = part_lines(
        [(row.rate, row.base) for row in invoice_totals.vat_rows],
        invoice_totals.total_incl_vat,
        target,
        _organisation_text(session, N_("Credit on invoice {number}"), number=invoice.number),
        document_lines.taxes_by_rate(stored),
    )
    return lines, ZERO


def create_credit_note(
    session: Session,
    actor: Actor,
    invoice_id: uuid.UUID,
    *,
    amount_incl_vat: Decimal | None = None,
    lines: Any = None,
    notes: str | None = None,
    full: bool = False,
    refund: Mapping[str, Any] | None = None,
) -> Invoice:
    """An issued credit note (AV-2026-00001) on an issued invoice, paid or not, in one step (no draft):

    - `full`: the whole invoice, what was not credited yet (its lines copied when nothing was credited);
    - neither `amount_incl_vat`, `lines` nor `full`: everything that remains unpaid on the invoice (its
      lines copied when nothing was paid or credited yet); on an invoice with nothing unpaid, the whole;
    - `amount_incl_vat`: that amount, one line per VAT rate of the invoice at the proportional base;
    - `lines`: those lines (same format as an invoice's).
    Never more than what was not credited yet (ValidationFailed on `amount_incl_vat` or `lines`).
    The invoice's `amount_credited` grows and its status is recomputed (fully credited → cancelled).
    What the credit note takes beyond what remained unpaid was paid: `refund` ({amount, paid_on,
    method, reference}, as a payment) records the money paid back at once (see `add_refund`; its
    errors on `refund.<field>`); it can also be recorded later."""
    if amount_incl_vat is not None and lines is not None:
        raise ValidationFailed({"amount_incl_vat": N_("Give an amount or lines, not both.")})
    if full and (amount_incl_vat is not None or lines is not None):
        raise ValidationFailed({"amount_incl_vat": N_("Crediting the whole invoice takes no amount nor lines.")})
    if amount_incl_vat is not None:
        amount_incl_vat = _check_field("amount_incl_vat", amount_incl_vat, document_lines.amount_field(positive=True))
    clean_notes = _check_field("notes", notes, long_text(5000))
    refund_values = clean_refund(refund, prefix="refund.") if refund is not None else None
    invoice = editable_invoice(session, actor, invoice_id)
    if invoice.kind != InvoiceKind.INVOICE:
        raise InvalidTransition(InvoiceStatus(invoice.status).value, N_("A credit note cannot be credited."))
    if invoice.status not in CREDITABLE_STATUSES:
        raise InvalidTransition(
            InvoiceStatus(invoice.status).value,
            N_("Only an issued invoice that is not fully credited can be credited."),
        )
    creditable = invoice.total_incl_vat - invoice.amount_credited
    if lines is not None:
        new_lines, discount, error_field = document_lines.clean_lines(session, lines), ZERO, "lines"
    else:
        new_lines, discount = _credit_lines_worth(session, invoice, _credit_target(invoice, amount_incl_vat, full))
        error_field = "amount_incl_vat"
    totals = document_lines.totals_of(new_lines, discount)
    if totals.total_incl_vat <= 0:
        raise ValidationFailed({error_field: N_("A credit note needs at least one line with an amount.")})
    if totals.total_incl_vat > creditable:
        raise ValidationFailed({error_field: _TOO_MUCH_TO_CREDIT})
    if refund_values is not None:  # refused before anything is written
        overpaid = -(remaining_amount(invoice) - totals.total_incl_vat)
        _check_refund(session, refund_values, min(totals.total_incl_vat, max(ZERO, overpaid)), prefix="refund.")
    note = Invoice(
        kind=InvoiceKind.CREDIT_NOTE,
        status=InvoiceStatus.DRAFT,
        title=invoice.title,
        institution_id=invoice.institution_id,
        contact_id=invoice.contact_id,
        owner_id=invoice.owner_id,
        team_id=invoice.team_id,
        quote_id=invoice.quote_id,
        credited_invoice_id=invoice.id,
        payment_terms_days=0,
        global_discount_percent=discount,
        notes=clean_notes,
        buyer_reference=invoice.buyer_reference,
        buyer_order_reference=invoice.buyer_order_reference,
        created_by=actor_id(actor),
        updated_by=actor_id(actor),
    )
    session.add(note)
    session.flush()
    document_lines.store_lines(session, note, new_lines, totals)
    session.flush()
    audit_change(
        session,
        actor,
        note,
        "create",
        {"credited_invoice": (None, invoice.number), "total_incl_vat": (None, note.total_incl_vat)},
    )
    _issue(session, actor, note, store_document=False)
    old_credited = invoice.amount_credited
    invoice.amount_credited += note.total_incl_vat
    invoice.updated_by = actor_id(actor)
    invoice.touch()
    session.add(invoice)
    session.flush()
    audit_change(session, actor, invoice, "credit", {"amount_credited": (old_credited, invoice.amount_credited)})
    settle(session, actor, invoice)
    if refund_values is not None:
        add_refund(session, actor, note, invoice, refund_values, prefix="refund.")
    # The credit note's Factur-X file, with the refund recorded in this same step (its amount already
    # paid back); a refund recorded later leaves the issued file as it is.
    documents.store_issued_document(session, actor, note)
    return note


# --------------------------------------------------------------------------------------------
# Refunds


REFUND_CLEANERS: dict[str, fields.Cleaner] = {
    "amount": document_lines.amount_field(positive=True, required=True),
    "paid_on": fields.day(),
    "method": fields.choice(PaymentMethod, required=True),
    "reference": fields.text(120),
}


def clean_refund(raw: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """A refund's fields cleaned (amount, paid_on, method, reference), errors on `prefix` + field."""
    values, errors = fields.clean_fields(raw, REFUND_CLEANERS, partial=False)
    if errors:
        raise ValidationFailed({prefix + name: message for name, message in errors.items()})
    return values


def _check_refund(session: Session, values: Mapping[str, Any], refundable: Decimal, *, prefix: str) -> date:
    """The refund's date (default today), when its date and amount are allowed."""
    day = today(session)
    paid_on: date = values.get("paid_on") or day
    if paid_on > day:
        raise ValidationFailed({prefix + "paid_on": N_("A refund date cannot be in the future.")})
    if refundable <= 0:
        raise ValidationFailed({prefix + "amount": N_("Nothing remains to refund on this credit note.")})
    if values["amount"] > refundable:
        raise ValidationFailed({prefix + "amount": N_("A refund cannot exceed what remains to refund.")})
    return paid_on


def add_refund(
    session: Session, actor: Actor, note: Invoice, invoice: Invoice, values: Mapping[str, Any], *, prefix: str = ""
) -> Payment:
    """Record money paid back on a credit note (`values` cleaned by `clean_refund`; `note` and its
    `invoice` locked): never in the future, never more than `credit_note_refundable` (ValidationFailed on
    `prefix` + field). Both documents' `amount_refunded` grow; RefundRecorded is published."""
    day = today(session)
    paid_on = _check_refund(session, values, credit_note_refundable(note, invoice), prefix=prefix)
    refund = Payment(
        invoice_id=note.id,
        direction=PaymentDirection.OUT,
        amount=values["amount"],
        paid_on=paid_on,
        method=values["method"],
        reference=values.get("reference"),
        created_by=actor_id(actor),
    )
    session.add(refund)
    for document in (note, invoice):
        old = document.amount_refunded
        document.amount_refunded += refund.amount
        document.updated_by = actor_id(actor)
        document.touch()
        session.add(document)
        session.flush()
        audit_change(session, actor, document, "refund", {"amount_refunded": (old, document.amount_refunded)})
    settle(session, actor, invoice, on=day)
    events.publish(
        session,
        events.RefundRecorded(
            refund_id=refund.id,
            credit_note_id=note.id,
            credit_note_number=note.number or "",
            invoice_id=invoice.id,
            amount=format(refund.amount, "f"),
            paid_on=paid_on.isoformat(),
            owner_id=invoice.owner_id,
            actor_id=actor_id(actor),
        ),
    )
    return refund


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    id: uuid.UUID
    kind: InvoiceKind
    number: str | None
    status: InvoiceStatus
    title: str | None
    institution_id: uuid.UUID
    institution_name: str
    contact_id: uuid.UUID | None
    owner_id: uuid.UUID
    owner_name: str
    team_id: uuid.UUID | None
    quote_id: uuid.UUID | None
    quote_number: str | None
    credited_invoice_id: uuid.UUID | None
    issue_date: date | None
    due_date: date | None
    payment_terms_days: int
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    amount_paid: Decimal
    amount_credited: Decimal
    remaining: Decimal  # the balance: total − credited − paid + refunded (< 0: a refund is due; 0 for a credit note)
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    amount_refunded: Decimal = ZERO  # an invoice's: Σ refunds of its credit notes; a credit note's: its own
    is_overdue: bool = False
    can_edit: bool = False


@dataclass(frozen=True, slots=True)
class ListTotals:
    """The totals of the whole filtered list (every page)."""

    total_incl_vat: Decimal  # Σ incl. VAT, credit notes deducted
    outstanding: Decimal  # Σ balance (total − credited − paid + refunded) of the open invoices
    overdue: Decimal  # the part of `outstanding` past its due date


@dataclass(frozen=True, slots=True)
class InvoiceList:
    items: list[InvoiceRow]
    total: int
    page: int
    page_size: int
    totals: ListTotals


_I = table_of(Invoice).c
_P = table_of(Payment).c
_INST = table_of(Institution).c
_OWNER = table_of(User).alias("invoice_owner")
_QUOTE = table_of(Quote).alias("invoice_quote")
_REMAINING = _I.total_incl_vat - _I.amount_paid - _I.amount_credited + _I.amount_refunded
_OPEN = sa.and_(_I.kind == InvoiceKind.INVOICE.value, _I.status.in_([s.value for s in OPEN_INVOICE_STATUSES]))

SORTS: dict[str, tuple[Any, ...]] = {
    "created": (_I.created_at,),
    "issued": (_I.issue_date.is_(None), _I.issue_date, _I.number),
    "due": (_I.due_date.is_(None), _I.due_date),
    "number": (_I.number.is_(None), _I.number),
    "amount": (_I.total_incl_vat,),
    "remaining": (_REMAINING,),
    "institution": (_INST.name_key,),
    "status": (_I.status,),
}


@dataclass(frozen=True)
class InvoiceQuery:
    """Filters and sort of the invoice list (the /invoices page's URL and the API hold the same)."""

    statuses: tuple[InvoiceStatus, ...] = ()
    kind: InvoiceKind | None = None
    institution_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    quote_id: uuid.UUID | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    min_amount: Decimal | None = None  # incl. VAT
    max_amount: Decimal | None = None
    overdue: bool = False
    outstanding: bool = False  # invoices still waiting for money (issued, partly paid, overdue)
    paid_from: date | None = None  # invoices with a payment dated in this range
    paid_to: date | None = None
    public_buyers: bool = False  # buyers that are public entities (Chorus Pro)
    q: str = ""  # number or institution name
    sort: str = "created"
    descending: bool = True

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> InvoiceQuery:
        """Parse URL or API parameters; unknown or malformed values are ignored."""
        read = Params(params)
        sort, descending = read.sort(SORTS, "-created")
        kinds = read.choices("kind", InvoiceKind)

        def lenient(name: str, cleaner: fields.Cleaner) -> Any:
            try:
                return cleaner(read.one(name))
            except ValueError:
                return None

        return cls(
            statuses=read.choices("status", InvoiceStatus),
            kind=kinds[0] if kinds else None,
            institution_id=read.ident("institution_id"),
            owner_id=read.ident("owner_id"),
            team_id=read.ident("team_id"),
            quote_id=read.ident("quote_id"),
            issued_from=lenient("issued_from", fields.day()),
            issued_to=lenient("issued_to", fields.day()),
            due_from=lenient("due_from", fields.day()),
            due_to=lenient("due_to", fields.day()),
            min_amount=lenient("min_amount", fields.amount()),
            max_amount=lenient("max_amount", fields.amount()),
            overdue=read.flag("overdue"),
            outstanding=read.flag("outstanding"),
            paid_from=lenient("paid_from", fields.day()),
            paid_to=lenient("paid_to", fields.day()),
            public_buyers=read.flag("public_buyers"),
            q=read.one("q") or "",
            sort=sort,
            descending=descending,
        )


def visible_condition(actor: Actor) -> Any:
    """The SQL condition of the invoices the actor may see."""
    return scope_condition(actor, "record.view", team_column=_I.team_id, owner_columns=(_I.owner_id, _I.created_by))


def _overdue_condition(day: date) -> Any:
    return sa.and_(_OPEN, _I.due_date < day)


def _paid_between(first: date | None, last: date | None) -> Any:
    """SQL: the invoice has a payment dated in the range."""
    paid = [_P.invoice_id == _I.id, _P.direction == PaymentDirection.IN.value]
    if first is not None:
        paid.append(_P.paid_on >= first)
    if last is not None:
        paid.append(_P.paid_on <= last)
    return sa.exists().where(*paid)


def _conditions(actor: Actor, query: InvoiceQuery, day: date) -> list[Any]:
    conditions = [visible_condition(actor)]
    if query.statuses:
        conditions.append(_I.status.in_([s.value for s in query.statuses]))
    if query.kind is not None:
        conditions.append(_I.kind == query.kind.value)
    for column, value in (
        (_I.institution_id, query.institution_id),
        (_I.owner_id, query.owner_id),
        (_I.team_id, query.team_id),
        (_I.quote_id, query.quote_id),
    ):
        if value is not None:
            conditions.append(column == value)
    bounds = (
        (query.issued_from, _I.issue_date.__ge__),
        (query.issued_to, _I.issue_date.__le__),
        (query.due_from, _I.due_date.__ge__),
        (query.due_to, _I.due_date.__le__),
        (query.min_amount, _I.total_incl_vat.__ge__),
        (query.max_amount, _I.total_incl_vat.__le__),
    )
    conditions += [compare(value) for value, compare in bounds if value is not None]
    if query.overdue or query.outstanding:
        conditions.append(_overdue_condition(day) if query.overdue else _OPEN)
    if query.paid_from is not None or query.paid_to is not None:
        conditions.append(_paid_between(query.paid_from, query.paid_to))
    if query.public_buyers:
        conditions.append(_INST.is_public_entity)
    term = query.q.strip()
    if term:
        conditions.append(
            sa.or_(
                sa.func.lower(_I.number).like(contains_pattern(term.lower()), escape="\\"),
                _INST.name_key.like(contains_pattern(fold(term)), escape="\\"),
            )
        )
    return conditions


def filter_conditions(session: Session, actor: Actor, query: InvoiceQuery) -> list[Any]:
    """The SQL conditions of the list's filter within the actor's rights, over `invoices` joined to the
    buyer's `institutions` (what a bulk action on the whole filter works on)."""
    return _conditions(actor, query, today(session))


def _select() -> Any:
    return (
        sa.select(
            _I.id,
            _I.kind,
            _I.number,
            _I.status,
            _I.title,
            _I.institution_id,
            _INST.name.label("institution_name"),
            _I.contact_id,
            _I.owner_id,
            _OWNER.c.full_name.label("owner_name"),
            _I.team_id,
            _I.quote_id,
            _QUOTE.c.number.label("quote_number"),
            _I.credited_invoice_id,
            _I.issue_date,
            _I.due_date,
            _I.payment_terms_days,
            _I.total_excl_vat,
            _I.total_vat,
            _I.total_incl_vat,
            _I.amount_paid,
            _I.amount_credited,
            _I.amount_refunded,
            _I.created_by,
            _I.created_at,
            _I.updated_at,
            _I.version,
        )
        .select_from(table_of(Invoice))
        .join(table_of(Institution), _INST.id == _I.institution_id)
        .join(_OWNER, _OWNER.c.id == _I.owner_id)
        .outerjoin(_QUOTE, _QUOTE.c.id == _I.quote_id)
    )


def _cents(value: Any) -> Decimal:
    return to_cents(Decimal(value if value is not None else 0))


def _rows(session: Session, actor: Actor, statement: Any, day: date) -> list[InvoiceRow]:
    rows = []
    for row in fetch_all(session, statement):
        kind, status = InvoiceKind(row.kind), InvoiceStatus(row.status)
        amounts = {
            name: _cents(getattr(row, name))
            for name in (
                "total_excl_vat",
                "total_vat",
                "total_incl_vat",
                "amount_paid",
                "amount_credited",
                "amount_refunded",
            )
        }
        remaining = (
            ZERO
            if kind is InvoiceKind.CREDIT_NOTE
            else amounts["total_incl_vat"]
            - amounts["amount_paid"]
            - amounts["amount_credited"]
            + amounts["amount_refunded"]
        )
        overdue = (
            kind is InvoiceKind.INVOICE
            and status in OPEN_INVOICE_STATUSES
            and row.due_date is not None
            and row.due_date < day
        )
        rows.append(
            InvoiceRow(
                **{**row._asdict(), **amounts, "kind": kind, "status": status},
                remaining=remaining,
                is_overdue=overdue,
                can_edit=can(
                    actor,
                    "record.edit",
                    Placement(team_id=row.team_id, assigned_user_id=row.owner_id, created_by=row.created_by),
                ),
            )
        )
    return rows


def _order(query: InvoiceQuery) -> list[Any]:
    columns = SORTS.get(query.sort, SORTS["created"])
    ordered = [c.desc() if query.descending else c.asc() for c in columns]
    return [*ordered, _I.id.desc() if query.descending else _I.id.asc()]


def list_invoices(
    session: Session, actor: Actor, query: InvoiceQuery | None = None, request: PageRequest | None = None
) -> InvoiceList:
    """The invoices and credit notes the actor may see, filtered, sorted and paged in SQL, with the
    totals of the whole filtered list (Σ incl. VAT, outstanding, overdue)."""
    query = query or InvoiceQuery()
    request = request or PageRequest()
    day = today(session)
    conditions = _conditions(actor, query, day)
    base = (
        sa.select(table_of(Invoice))
        .select_from(table_of(Invoice))
        .join(table_of(Institution), _INST.id == _I.institution_id)
    )
    signed = sa.case((_I.kind == InvoiceKind.CREDIT_NOTE.value, -_I.total_incl_vat), else_=_I.total_incl_vat)
    open_remaining = sa.case((_OPEN, _REMAINING), else_=0)
    overdue_remaining = sa.case((_overdue_condition(day), _REMAINING), else_=0)
    summary = fetch_all(
        session,
        base.with_only_columns(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(signed), 0),
            sa.func.coalesce(sa.func.sum(open_remaining), 0),
            sa.func.coalesce(sa.func.sum(overdue_remaining), 0),
        ).where(*conditions),
    )[0]
    statement = _select().where(*conditions).order_by(*_order(query)).offset(request.offset).limit(request.page_size)
    return InvoiceList(
        items=_rows(session, actor, statement, day),
        total=int(summary[0]),
        page=request.page,
        page_size=request.page_size,
        totals=ListTotals(
            total_incl_vat=_cents(summary[1]), outstanding=_cents(summary[2]), overdue=_cents(summary[3])
        ),
    )


#: how many of a quote's invoices its detail page lists at most (a quote has a few: deposits, balance).
QUOTE_INVOICES_PAGE_SIZE = 20


def quote_invoices(
    session: Session, actor: Actor, quote_id: uuid.UUID, request: PageRequest | None = None
) -> InvoiceList:
    """The invoices (and credit notes) of one quote the actor may see, oldest first, paged; the actor
    must be allowed to see the quote."""
    quote = get_record(session, Quote, quote_id, missing=N_("This quote does not exist."))
    authorize(
        actor,
        "record.view",
        Placement(team_id=quote.team_id, assigned_user_id=quote.owner_id, created_by=quote.created_by),
    )
    return list_invoices(
        session,
        actor,
        InvoiceQuery(quote_id=quote.id, sort="created", descending=False),
        request or PageRequest(page_size=QUOTE_INVOICES_PAGE_SIZE),
    )


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """A payment received on an invoice, or a refund (`direction` out) recorded on a credit note."""

    id: uuid.UUID
    invoice_id: uuid.UUID
    amount: Decimal
    paid_on: date
    method: str
    reference: str | None
    created_at: datetime
    created_by: uuid.UUID | None
    created_by_name: str | None
    direction: str = PaymentDirection.IN.value
    credit_note_number: str | None = None  # a refund's credit note (listed on its invoice's page)


@dataclass(frozen=True, slots=True)
class InvoiceDetail:
    """Everything the detail page and the API show of one invoice or credit note."""

    row: InvoiceRow
    contact_name: str | None
    global_discount_percent: Decimal
    notes: str | None
    currency: str
    buyer: dict[str, Any] | None
    issued_at: datetime | None
    paid_at: datetime | None
    credited_invoice_number: str | None
    lines: list[document_lines.LineRow]
    totals: Totals  # the VAT breakdown, from the lines
    payments: list[PaymentRow] = field(default_factory=list)
    credit_notes: list[InvoiceRow] = field(default_factory=list)
    #: a credit note's refunds; an invoice's, those of all its credit notes
    refunds: list[PaymentRow] = field(default_factory=list)
    #: what can still be refunded: on an invoice, what was overpaid; on a credit note, its part of it
    refundable: Decimal = ZERO
    buyer_reference: str | None = None  # Chorus Pro: the service code (BT-10)
    buyer_order_reference: str | None = None  # the engagement number (BT-13)
    public_buyer: chorus.PublicBuyer | None = None  # the buyer's Chorus Pro needs, as they are now
    #: where the goods or services go when not the buyer's address: {name, street, postal_code, city, country}
    delivery_address: dict[str, str] | None = None

    @property
    def remaining(self) -> Decimal:
        return self.row.remaining


def payment_rows(
    session: Session, invoice_id: uuid.UUID, *, direction: PaymentDirection = PaymentDirection.IN
) -> list[PaymentRow]:
    """The payments received on an invoice (or the refunds recorded on a credit note), oldest first."""
    return _payment_rows(session, [invoice_id], direction)


def refund_rows(session: Session, invoice: Invoice) -> list[PaymentRow]:
    """The refunds of a credit note, or of all the credit notes of an invoice, oldest first."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return _payment_rows(session, [invoice.id], PaymentDirection.OUT)
    notes = session.exec(select(Invoice.id).where(Invoice.credited_invoice_id == invoice.id)).all()
    return _payment_rows(session, list(notes), PaymentDirection.OUT) if notes else []


def _payment_rows(session: Session, invoice_ids: list[uuid.UUID], direction: PaymentDirection) -> list[PaymentRow]:
    payments = list(
        session.exec(
            select(Payment)
            .where(col(Payment.invoice_id).in_(invoice_ids), Payment.direction == direction.value)
            .order_by(col(Payment.paid_on), col(Payment.created_at))
        ).all()
    )
    names = user_names(session, (p.created_by for p in payments))
    numbers: dict[uuid.UUID, str | None] = {}
    if direction is PaymentDirection.OUT and payments:
        numbers = dict(session.exec(select(Invoice.id, Invoice.number).where(col(Invoice.id).in_(invoice_ids))).all())
    return [
        PaymentRow(
            id=p.id,
            invoice_id=p.invoice_id,
            amount=p.amount,
            paid_on=p.paid_on,
            method=str(p.method),
            reference=p.reference,
            created_at=p.created_at,
            created_by=p.created_by,
            created_by_name=names.get(p.created_by) if p.created_by else None,
            direction=str(p.direction),
            credit_note_number=numbers.get(p.invoice_id),
        )
        for p in payments
    ]


def get_invoice_row(session: Session, actor: Actor, invoice_id: uuid.UUID) -> InvoiceRow:
    invoice = get_invoice_record(session, invoice_id)
    authorize(actor, "record.view", placement(invoice))
    return _rows(session, actor, _select().where(_I.id == invoice_id), today(session))[0]


def get_invoice(session: Session, actor: Actor, invoice_id: uuid.UUID) -> InvoiceDetail:
    """One invoice or credit note with its lines, VAT breakdown, payments, credit notes, remaining
    amount and the number of its quote (or of the invoice it credits)."""
    invoice = get_invoice_record(session, invoice_id)
    authorize(actor, "record.view", placement(invoice))
    day = today(session)
    row = _rows(session, actor, _select().where(_I.id == invoice_id), day)[0]
    lines = document_lines.stored_lines(session, invoice)
    contact = session.get(Contact, invoice.contact_id) if invoice.contact_id else None
    credited = session.get(Invoice, invoice.credited_invoice_id) if invoice.credited_invoice_id else None
    refundable = credit_note_refundable(invoice, credited) if credited is not None else refundable_amount(invoice)
    notes_statement = _select().where(_I.credited_invoice_id == invoice.id).order_by(_I.issue_date, _I.number)
    return InvoiceDetail(
        row=row,
        contact_name=" ".join(p for p in (contact.first_name, contact.last_name) if p) if contact else None,
        global_discount_percent=invoice.global_discount_percent,
        notes=invoice.notes,
        currency=invoice.currency,
        buyer=dict(invoice.buyer) if invoice.buyer else None,
        issued_at=invoice.issued_at,
        paid_at=invoice.paid_at,
        credited_invoice_number=credited.number if credited else None,
        lines=[document_lines.line_row(line) for line in lines],
        totals=document_lines.stored_totals(lines, invoice.global_discount_percent),
        payments=payment_rows(session, invoice.id),
        credit_notes=_rows(session, actor, notes_statement, day) if invoice.kind == InvoiceKind.INVOICE else [],
        refunds=refund_rows(session, invoice),
        refundable=refundable,
        buyer_reference=invoice.buyer_reference,
        buyer_order_reference=invoice.buyer_order_reference,
        public_buyer=chorus.buyer_of(session, invoice.institution_id),
        delivery_address=dict(invoice.delivery_address) if invoice.delivery_address else None,
    )


# --------------------------------------------------------------------------------------------
# Timeline: issued invoices, credit notes and payments on the institution's page


def _timeline_documents(actor: Actor, institution_id: uuid.UUID) -> Any:
    owner = table_of(User).alias("timeline_invoice_owner")
    return (
        sa.select(
            *timeline.entry_columns(
                "invoice",
                _I.id,
                _I.issued_at,
                title=_I.number,
                status=_I.status,
                detail=_I.kind,
                user_name=owner.c.full_name,
                new_value=sa.cast(_I.total_incl_vat, sa.Text),
            )
        )
        .select_from(table_of(Invoice))
        .join(owner, owner.c.id == _I.owner_id)
        .where(_I.institution_id == institution_id, _I.number.is_not(None), visible_condition(actor))
    )


def _timeline_payments(actor: Actor, institution_id: uuid.UUID, direction: PaymentDirection) -> Any:
    p = table_of(Payment).c
    author = table_of(User).alias("timeline_payment_author")
    return (
        sa.select(
            *timeline.entry_columns(
                "payment" if direction is PaymentDirection.IN else "refund",
                _I.id,
                p.created_at,
                title=_I.number,
                status=p.method,
                detail=sa.cast(p.paid_on, sa.Text),
                user_name=author.c.full_name,
                new_value=sa.cast(p.amount, sa.Text),
            )
        )
        .select_from(table_of(Payment))
        .join(table_of(Invoice), _I.id == p.invoice_id)
        .outerjoin(author, author.c.id == p.created_by)
        .where(_I.institution_id == institution_id, p.direction == direction.value, visible_condition(actor))
    )


def _timeline_received(actor: Actor, institution_id: uuid.UUID) -> Any:
    return _timeline_payments(actor, institution_id, PaymentDirection.IN)


def _timeline_refunds(actor: Actor, institution_id: uuid.UUID) -> Any:
    """Refunds: the credit note's number, method, date and amount."""
    return _timeline_payments(actor, institution_id, PaymentDirection.OUT)


# --------------------------------------------------------------------------------------------
# What this module declares (`crm_app.bootstrap` wires it)

NOTIFICATION_KINDS: dict[str, str] = {"invoice.paid": N_("Invoice {number} is paid")}
RECORD_LINKS: dict[str, str] = {"invoice": "/invoices/{id}"}
SUBSCRIBERS: tuple[events.Subscription, ...] = (events.Subscription(events.InvoicePaid, _invoice_paid),)
TIMELINE_SOURCES: tuple[timeline.TimelineSource, ...] = (
    timeline.TimelineSource("invoice", _timeline_documents, RECORD_LINKS["invoice"]),
    timeline.TimelineSource("payment", _timeline_received, RECORD_LINKS["invoice"]),
    timeline.TimelineSource("refund", _timeline_refunds, RECORD_LINKS["invoice"]),
)


def _visible_invoice(actor: Actor, invoice_id: Any) -> Any:
    """SQL: `invoice_id` names an invoice or credit note the actor may see (the invoice page's right)."""
    return records.exists_visible(_I.id, visible_condition(actor), invoice_id)


#: Who may read an invoice or a credit note (their audit entries, payments included; their
#: notifications): who may open its page.
RECORD_VISIBILITY: dict[str, records.Visibility] = {"invoice": _visible_invoice, "credit_note": _visible_invoice}
