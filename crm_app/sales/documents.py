"""Sales documents as PDFs and emails: build what the PDF shows from a quote (kinds quote and order)
or an invoice (invoice, credit note), keep the PDF of every sent or issued document so that the very
same bytes are sent again later, email it through the outbox from a template, and render those
templates (`crm_app.sales.templates`).

Stored PDFs: `DATA_DIR/files/documents/<kind>/<number>.pdf`, one `StoredDocument` row per kind,
document and number (its SHA-256 and size). Drafts are rendered fresh and never stored.

Emails and double clicks: each recipient's message has an outbox dedupe key made of the kind, the
document, its number, the recipient, the SHA-256 of subject + body and of the PDF, and a request key.
The UI (and the API's `Idempotency-Key` header) pass one request key per opened "send" dialog: a
double click, or the same request retried, queues nothing more, while sending the same email again on
purpose later (a new dialog) does. Without a request key, an identical email to the same recipient
already queued within `RESEND_WINDOW` is not queued again.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from crm_app.institutions.models import Contact, Institution
from crm_app.platform import audit, storage
from crm_app.platform import outbox as mail
from crm_app.platform.errors import InvalidTransition, NotFound, ValidationFailed
from crm_app.platform.i18n import N_, gettext, use_locale
from crm_app.platform.identifiers import clean_email, french_vat_number
from crm_app.platform.models.base import utcnow
from crm_app.platform.models.outbox import OutboxMessage
from crm_app.platform.models.people import User
from crm_app.platform.permissions import Actor, authorize, can
from crm_app.platform.settings import organisation
from crm_app.sales import facturx
from crm_app.sales.document_settings import Branding, branding, document_settings
from crm_app.sales.lines import stored_lines, stored_totals
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from crm_app.sales.models.quotes import DiscountType, DocumentKind, Quote, QuoteLine, QuoteStatus, StoredDocument
from crm_app.sales.money import ZERO, Totals
from crm_app.sales.pdf.document import Party, PdfDocument, PdfLine
from crm_app.sales.pdf.render import render
from crm_app.sales.tax_codes import (
    EXEMPTIONS,
    OPERATION_CATEGORIES,
    VAT_ON_DEBITS_MENTION,
    SupplyKind,
    VatExemption,
    unit_code,
    vat_category,
)
from crm_app.sales.templates import TEMPLATE_KINDS, render_template

log = logging.getLogger(__name__)

RESEND_WINDOW = timedelta(minutes=2)
PDF_CONTENT_TYPE = "application/pdf"
XML_CONTENT_TYPE = "application/xml"

# --- loading a document ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    """A quote or an invoice row with its lines, whatever the kind."""

    kind: DocumentKind
    row: Quote | Invoice
    lines: list[QuoteLine] | list[InvoiceLine]

    @property
    def number(self) -> str | None:
        if self.kind is DocumentKind.ORDER:
            assert isinstance(self.row, Quote)
            return self.row.order_number
        return self.row.number

    @property
    def is_draft(self) -> bool:
        return self.row.status in (QuoteStatus.DRAFT, InvoiceStatus.DRAFT)


def _load(session: Session, kind: DocumentKind | str, document_id: uuid.UUID) -> _Source:
    kind = DocumentKind(kind)
    if kind in (DocumentKind.QUOTE, DocumentKind.ORDER):
        quote = session.get(Quote, document_id)
        if quote is None:
            raise NotFound(N_("This quote does not exist."))
        if kind is DocumentKind.ORDER and not quote.order_number:
            raise InvalidTransition(quote.status, N_("This quote has no order yet."))
        return _Source(kind, quote, stored_lines(session, quote))
    invoice = session.get(Invoice, document_id)
    wanted = InvoiceKind.CREDIT_NOTE if kind is DocumentKind.CREDIT_NOTE else InvoiceKind.INVOICE
    if invoice is None or invoice.kind != wanted:
        raise NotFound(
            N_("This invoice does not exist.")
            if wanted is InvoiceKind.INVOICE
            else N_("This credit note does not exist.")
        )
    return _Source(kind, invoice, stored_lines(session, invoice))


class TotalsMismatch(RuntimeError):
    """The stored totals differ from those computed from the stored lines: no PDF is printed."""


def _totals(source: _Source) -> Totals:
    row = source.row
    totals = stored_totals(source.lines, row.global_discount_percent or Decimal(0))
    stored = (row.total_excl_vat, row.total_vat, row.total_incl_vat)
    computed = (totals.total_excl_vat, totals.total_vat, totals.total_incl_vat)
    nets = [line.net_amount for line in source.lines]
    if stored != computed or nets != [line.net for line in totals.lines]:
        log.error(
            "document totals differ from its lines",
            extra={
                "kind": source.kind.value,
                "document_id": str(row.id),
                "stored": [str(v) for v in stored],
                "computed": [str(v) for v in computed],
            },
        )
        raise TotalsMismatch(f"{source.kind.value} {row.id}: stored totals {stored} != computed {computed}")
    return totals


def buyer_snapshot(session: Session, institution_id: uuid.UUID, contact_id: uuid.UUID | None) -> dict[str, Any]:
    """The buyer's identity as printed and given in the e-invoice, as a JSON-able dict: what
    `Invoice.buyer` keeps at issue. Its SIREN is the SIRET's first 9 digits and, for a French buyer,
    its intra-EU VAT number is computed from the SIREN (the French key)."""
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound(N_("This institution does not exist."))
    contact = session.get(Contact, contact_id) if contact_id else None
    city_line = " ".join(part for part in (institution.postal_code, institution.city) if part)
    address = [line for line in (institution.street, city_line) if line]
    country = institution.country or "FR"
    if country != "FR":
        address.append(country)
    siren = institution.siret[:9] if institution.siret else None
    return {
        "name": institution.name,
        "address_lines": address,
        "contact_name": (_person(contact) or None) if contact else None,
        "siret": institution.siret,
        "siren": siren,
        "vat_number": french_vat_number(siren) if siren and country == "FR" else None,
        "accounting_number": institution.accounting_number,
        "email": contact.email if contact else None,
        "street": institution.street,
        "postal_code": institution.postal_code,
        "city": institution.city,
        "country": country,
    }


def _person(contact: Contact) -> str:
    return " ".join(part for part in (contact.first_name, contact.last_name) if part)


def _party(snapshot: Mapping[str, Any]) -> Party:
    return Party(
        name=str(snapshot.get("name") or ""),
        address_lines=tuple(str(line) for line in snapshot.get("address_lines") or ()),
        contact_name=snapshot.get("contact_name"),
        siret=snapshot.get("siret"),
        accounting_number=snapshot.get("accounting_number"),
        email=snapshot.get("email"),
        siren=snapshot.get("siren"),
        vat_number=snapshot.get("vat_number"),
    )


def _einvoice_buyer(snapshot: Mapping[str, Any]) -> facturx.Party:
    street, city = snapshot.get("street"), snapshot.get("city")
    if street or city:
        address: facturx.Address | None = facturx.Address(
            (str(street),) if street else (),
            str(snapshot.get("postal_code") or ""),
            str(city or ""),
            str(snapshot.get("country") or "FR"),
        )
    else:  # a buyer frozen before the e-invoices kept only its printed lines
        address = facturx.postal_address("\n".join(str(line) for line in snapshot.get("address_lines") or ()))
    return facturx.Party(
        name=str(snapshot.get("name") or ""),
        address=address,
        siret=snapshot.get("siret"),
        siren=snapshot.get("siren"),
        vat_number=snapshot.get("vat_number"),
    )


def _delivery(raw: Mapping[str, Any] | None) -> tuple[Party, facturx.Party] | None:
    """An invoice's delivery address, as printed and as given in the e-invoice (None: the buyer's)."""
    if not raw:
        return None
    name = str(raw.get("name") or "")
    street, postal_code, city = (str(raw.get(key) or "") for key in ("street", "postal_code", "city"))
    country = str(raw.get("country") or "FR")
    town = " ".join(part for part in (postal_code, city) if part)
    lines = tuple(line for line in (street, town, country if country != "FR" else "") if line)
    address = facturx.Address((street,) if street else (), postal_code, city, country)
    return Party(name=name, address_lines=lines), facturx.Party(name=name or city, address=address)


def _discount_label(line: QuoteLine | InvoiceLine, language: str, currency: str) -> str | None:
    if not line.discount_type or not line.discount_value:
        return None
    if line.discount_type == DiscountType.PERCENT:
        return babel_numbers.format_decimal(line.discount_value, format="#,##0.##", locale=language) + "\u00a0%"
    return babel_numbers.format_currency(line.discount_value, currency, locale=language)


def _references(session: Session, source: _Source) -> tuple[tuple[str, str], ...]:
    refs: list[tuple[str, str]] = []
    row = source.row
    if isinstance(row, Quote):
        if source.kind is DocumentKind.ORDER:
            refs.append((N_("Quote"), row.number))
            if row.purchase_order_ref:
                refs.append((N_("Purchase order"), row.purchase_order_ref))
        return tuple(refs)
    if row.credited_invoice_id:
        credited = session.get(Invoice, row.credited_invoice_id)
        if credited is not None and credited.number:
            refs.append((N_("Invoice"), credited.number))
    if row.quote_id:
        quote = session.get(Quote, row.quote_id)
        if quote is not None:
            refs.append((N_("Quote"), quote.number))
            if quote.order_number:
                refs.append((N_("Order"), quote.order_number))
            if quote.purchase_order_ref:
                refs.append((N_("Purchase order"), quote.purchase_order_ref))
    # Chorus Pro: where the public buyer routes the document, and its engagement number.
    if row.buyer_reference:
        refs.append((N_("Service code"), row.buyer_reference))
    if row.buyer_order_reference:
        refs.append((N_("Engagement number"), row.buyer_order_reference))
    return tuple(refs)


def build_pdf_document(session: Session, kind: DocumentKind | str, document_id: uuid.UUID) -> PdfDocument:
    """What the PDF of a quote, order, invoice or credit note shows (no right checked: callers do).

    Totals are recomputed from the stored lines with `money.compute_totals` and must equal the stored
    ones (TotalsMismatch otherwise). An issued invoice's buyer is its frozen snapshot."""
    return _build(session, _load(session, kind, document_id))


def _snapshot(session: Session, source: _Source) -> dict[str, Any]:
    """The buyer: an issued invoice's frozen copy, else the institution as it is now."""
    row = source.row
    if isinstance(row, Invoice) and row.buyer and not source.is_draft:
        return row.buyer
    return buyer_snapshot(session, row.institution_id, row.contact_id)


def _supply_kinds(source: _Source) -> frozenset[SupplyKind]:
    return frozenset(SupplyKind(line.supply_kind) for line in source.lines) or frozenset({SupplyKind.GOODS})


def _mentions(source: _Source, vat_on_debits: bool) -> tuple[str, ...]:
    """The legal mentions the lines and the company's choices add (gettext ids): each exemption's
    reason, and on invoices and credit notes the category of operation and the VAT-on-debits option."""
    mentions = [
        EXEMPTIONS[VatExemption(line.vat_exemption)].mention
        for line in source.lines
        if line.vat_exemption and line.vat_rate == 0
    ]
    if source.kind in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE):
        kinds = _supply_kinds(source)
        mentions.append(OPERATION_CATEGORIES[kinds][1])
        if vat_on_debits and SupplyKind.SERVICES in kinds:
            mentions.append(VAT_ON_DEBITS_MENTION)
    return tuple(dict.fromkeys(mentions))


def _build(session: Session, source: _Source) -> PdfDocument:
    row = source.row
    language = str(organisation(session)["default_language"])
    settings = document_settings(session)
    totals = _totals(source)
    owner = session.get(User, row.owner_id)
    buyer = _party(_snapshot(session, source))
    lines = tuple(
        PdfLine(
            reference=line.reference,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            discount_label=_discount_label(line, language, row.currency),
            vat_rate=line.vat_rate,
            net_amount=line.net_amount,
        )
        for line in source.lines
    )
    with use_locale(language):
        mentions = tuple(gettext(mention) for mention in _mentions(source, settings.vat_on_debits))
    common: dict[str, Any] = {
        "kind": source.kind,
        "number": source.number or "",
        "language": language,
        "seller": branding(session),
        "buyer": buyer,
        "lines": lines,
        "totals": totals,
        "title": row.title,
        "notes": row.notes,
        "salesperson": owner.full_name if owner else None,
        "references": _references(session, source),
        "draft": source.is_draft,
        "extra_mentions": mentions,
    }
    if isinstance(row, Quote):
        issued_on = row.ordered_at.date() if source.kind is DocumentKind.ORDER and row.ordered_at else row.issue_date
        return PdfDocument(
            **common, issue_date=issued_on, valid_until=row.valid_until if source.kind is DocumentKind.QUOTE else None
        )
    today = utcnow().date()
    is_invoice = source.kind is DocumentKind.INVOICE
    delivery = _delivery(row.delivery_address)
    return PdfDocument(
        **common,
        issue_date=row.issue_date or today,
        due_date=(row.due_date or (row.issue_date or today) + timedelta(days=row.payment_terms_days))
        if is_invoice
        else None,
        payment_terms_days=row.payment_terms_days if is_invoice else None,
        late_penalty_rate=settings.late_penalty_rate if is_invoice else None,
        # no amount paid or due: the PDF of an issued invoice is stored at its issue and served as it
        # is afterwards, so it holds only what cannot change after issue
        recovery_indemnity=settings.recovery_indemnity if is_invoice else None,
        # A credit note shows the refund recorded with it: its file is stored once that refund is written
        # (`invoices.create_credit_note`); a later refund leaves the stored file as it is.
        refunded=row.amount_refunded if source.kind is DocumentKind.CREDIT_NOTE and row.amount_refunded else None,
        delivery=delivery[0] if delivery else None,
    )


# --- the e-invoice (Factur-X) -------------------------------------------------------------------------


def _seller(seller: Branding) -> facturx.Party:
    siret = seller.siret or None
    return facturx.Party(
        name=seller.legal_name,
        address=facturx.postal_address(seller.address),
        siret=siret,
        siren=siret[:9] if siret else None,
        vat_number=seller.vat_number or None,
    )


def _purchase_order(session: Session, invoice: Invoice) -> str | None:
    quote = session.get(Quote, invoice.quote_id) if invoice.quote_id else None
    return quote.purchase_order_ref if quote is not None else None


def einvoice_of(session: Session, source: _Source, doc: PdfDocument) -> facturx.EInvoice:
    """The e-invoice's input from an invoice or credit note and what its PDF shows (`_build`): the same
    totals, lines, parties, dates and mentions."""
    row = source.row
    assert isinstance(row, Invoice)
    language = doc.language
    credited = session.get(Invoice, row.credited_invoice_id) if row.credited_invoice_id else None
    lines = []
    with use_locale(language):
        for line, pdf_line, amounts in zip(source.lines, doc.lines, doc.totals.lines, strict=True):
            spec = EXEMPTIONS[VatExemption(line.vat_exemption)] if line.vat_exemption and line.vat_rate == 0 else None
            lines.append(
                facturx.Line(
                    name=pdf_line.description.strip().splitlines()[0][:200] if pdf_line.description.strip() else "-",
                    quantity=line.quantity,
                    unit_code=unit_code(line.unit),
                    unit_price=line.unit_price,
                    gross=amounts.gross,
                    discount=amounts.discount,
                    net=amounts.net,
                    vat_rate=line.vat_rate,
                    vat_category=vat_category(line.vat_rate, line.vat_exemption),
                    exemption_code=spec.code if spec else None,
                    exemption_text=gettext(spec.mention) if spec and spec.code else None,
                    reference=line.reference,
                )
            )
        terms = gettext("{days} days", days=doc.payment_terms_days) if doc.payment_terms_days is not None else None
    delivery = _delivery(row.delivery_address)
    return facturx.EInvoice(
        number=doc.number,
        type_code=facturx.CREDIT_NOTE_TYPE if source.kind is DocumentKind.CREDIT_NOTE else facturx.INVOICE_TYPE,
        issue_date=doc.issue_date,
        language=language,
        currency=row.currency,
        seller=_seller(doc.seller),
        buyer=_einvoice_buyer(_snapshot(session, source)),
        lines=tuple(lines),
        totals=doc.totals,
        global_discount_percent=row.global_discount_percent or ZERO,
        business_process=OPERATION_CATEGORIES[_supply_kinds(source)][0],
        due_date=doc.due_date,
        payment_terms=terms,
        iban="".join(doc.seller.iban.split()).upper() or None,
        bic=doc.seller.bic.strip().upper() or None,
        # An invoice's payments come after its issue, when the file is made: nothing is prepaid on it.
        # A credit note's file is made with the refund recorded in the same step: the amount already
        # paid back to the client (what the PDF prints as refunded), so that what remains due is 0.
        prepaid=row.amount_refunded if source.kind is DocumentKind.CREDIT_NOTE else ZERO,
        preceding_invoice=credited.number if credited is not None else None,
        preceding_invoice_date=credited.issue_date if credited is not None else None,
        # Chorus Pro reads the service code in BT-10 and the engagement number in BT-13; an invoice made
        # from an order has its purchase order reference as engagement number, else the quote's is given.
        buyer_reference=row.buyer_reference,
        buyer_order_reference=row.buyer_order_reference or _purchase_order(session, row),
        delivery=delivery[1] if delivery else None,
        vat_on_debits=document_settings(session).vat_on_debits and SupplyKind.SERVICES in _supply_kinds(source),
        notes=tuple(doc.extra_mentions),
    )


def _is_einvoice(source: _Source) -> bool:
    return source.kind in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE) and not source.is_draft


def _render(session: Session, source: _Source, *, at_issue: bool = False) -> bytes:
    """The document's PDF; an issued invoice's or credit note's is a Factur-X PDF/A-3 with its XML.
    At issue, ValidationFailed names the fields the e-invoice lacks. A document issued before the
    e-invoices (its PDF made later, at its first download) that cannot be one stays a plain PDF."""
    doc = _build(session, source)
    content = render(doc)
    if not _is_einvoice(source):
        return content
    try:
        xml = facturx.einvoice_xml(einvoice_of(session, source, doc))
    except facturx.EInvoiceRefused as refused:
        if at_issue:
            raise ValidationFailed(refused.errors, N_("This document cannot be issued as an e-invoice.")) from None
        log.warning("document issued before e-invoicing: plain PDF", extra={"fields": sorted(refused.errors)})
        return content
    title = f"{doc.seller.legal_name}: {doc.number}"
    return facturx.embed(content, xml, title=title, author=doc.seller.legal_name, language=doc.language)


def store_issued_document(session: Session, actor: Actor, invoice: Invoice) -> str:
    """At issue: the invoice's or credit note's Factur-X file made, checked and stored (its SHA-256).
    ValidationFailed names the fields the e-invoice lacks, and the caller's transaction is rolled back:
    the document is not issued."""
    kind = DocumentKind.CREDIT_NOTE if invoice.kind == InvoiceKind.CREDIT_NOTE else DocumentKind.INVOICE
    source = _Source(kind, invoice, stored_lines(session, invoice))
    _content, digest = _stored_pdf(session, actor, source, at_issue=True)
    return digest


def document_xml(session: Session, actor: Actor, kind: DocumentKind | str, document_id: uuid.UUID) -> tuple[bytes, str]:
    """(the Factur-X XML, "<number>.xml") of an issued invoice or credit note: the XML inside its stored
    PDF, byte for byte. Same right as its PDF ("record.view")."""
    source = _load(session, kind, document_id)
    authorize(actor, "record.view", source.row)
    if not _is_einvoice(source) or not source.number:
        raise InvalidTransition(source.row.status, N_("Only an issued invoice or credit note has an e-invoice."))
    content, _digest = _stored_pdf(session, actor, source)
    xml = facturx.xml_of_pdf(content)
    if xml is None:
        raise NotFound(N_("This document was issued before the e-invoices: it has no Factur-X XML."))
    return xml, _filename(source).removesuffix(".pdf") + ".xml"


# --- the PDF, stored once issued ---------------------------------------------------------------------


def _stored_path(kind: DocumentKind, number: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", number)
    return f"documents/{kind.value}/{safe}.pdf"


def _filename(source: _Source) -> str:
    number = source.number or f"{source.kind.value}-{source.row.id.hex[:8]}"
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', number)}.pdf"


def _stored_pdf(session: Session, actor: Actor, source: _Source, *, at_issue: bool = False) -> tuple[bytes, str]:
    """The stored file of a sent or issued document, rendered and stored the first time."""
    number = source.number
    assert number is not None
    query = select(StoredDocument).where(
        StoredDocument.kind == source.kind, StoredDocument.document_id == source.row.id, StoredDocument.number == number
    )
    existing = session.exec(query).first()
    if existing is not None:
        try:
            content = storage.read_file(existing.path)
        except OSError:
            content = b""
        if hashlib.sha256(content).hexdigest() == existing.sha256:
            return content, existing.sha256
        log.error(
            "stored PDF missing or altered: rendered again",
            extra={"path": existing.path, "document_id": str(source.row.id)},
        )

    content = _render(session, source, at_issue=at_issue)
    digest = hashlib.sha256(content).hexdigest()
    path = _stored_path(source.kind, number)
    if existing is not None:
        existing.sha256, existing.size = digest, len(content)
        session.flush()
        storage.write_file(path, content)
        return content, digest
    record = StoredDocument(
        kind=source.kind,
        document_id=source.row.id,
        number=number,
        path=path,
        sha256=digest,
        size=len(content),
        created_by=actor.id if actor.id.int else None,
    )
    try:
        with session.begin_nested():  # two first downloads at once: the second reuses the first's file
            session.add(record)
            session.flush()
    except IntegrityError:
        winner = session.exec(query).one()
        return storage.read_file(winner.path), winner.sha256
    storage.write_file(path, content)  # after the row: a failure here rolls the row back with the caller
    return content, digest


def _pdf(session: Session, actor: Actor, source: _Source) -> tuple[bytes, str]:
    """(content, sha256) of the document's PDF: fresh for a draft, the stored file otherwise."""
    if source.is_draft or not source.number:
        content = render(_build(session, source))
        return content, hashlib.sha256(content).hexdigest()
    return _stored_pdf(session, actor, source)


def document_pdf(session: Session, actor: Actor, kind: DocumentKind | str, document_id: uuid.UUID) -> tuple[bytes, str]:
    """(PDF bytes, file name "<number>.pdf") of a document the actor may see ("record.view").

    A sent quote, an order, an issued invoice or credit note is stored the first time and the very
    same bytes are returned afterwards; a draft is rendered each time and never stored."""
    source = _load(session, kind, document_id)
    authorize(actor, "record.view", source.row)
    content, _digest = _pdf(session, actor, source)
    return content, _filename(source)


# --- fields of a document for the templates ----------------------------------------------------------


def _fields(session: Session, source: _Source, language: str, *, days: int | None = None) -> dict[str, str]:
    row = source.row
    owner = session.get(User, row.owner_id)
    institution = session.get(Institution, row.institution_id)
    contact = session.get(Contact, row.contact_id) if row.contact_id else None
    if isinstance(row, Invoice) and row.buyer and not source.is_draft:
        institution_name = str(row.buyer.get("name") or "")
    else:
        institution_name = institution.name if institution else ""

    def money(value: Decimal) -> str:
        return babel_numbers.format_currency(value, row.currency, locale=language)

    def day(value: date | None) -> str:
        return babel_dates.format_date(value, format="long", locale=language) if value else ""

    due = None
    if isinstance(row, Invoice):  # an invoice's balance (nothing while a refund is due); a credit note's total
        due = row.total_incl_vat - row.amount_paid - row.amount_credited
        if row.kind == InvoiceKind.INVOICE:
            due = max(Decimal("0.00"), due + row.amount_refunded)
    return {
        "number": source.number or "",
        "title": row.title or "",
        "institution": institution_name,
        "contact": _person(contact) if contact else "",
        "total": money(row.total_incl_vat),
        "total_excl_vat": money(row.total_excl_vat),
        "amount_due": money(due) if due is not None else "",
        "issue_date": day(row.issue_date),
        "due_date": day(row.due_date if isinstance(row, Invoice) else None),
        "valid_until": day(row.valid_until if isinstance(row, Quote) else None),
        "days": "" if days is None else str(days),
        "salesperson": owner.full_name if owner else "",
        "company": branding(session).legal_name or str(organisation(session)["name"]),
    }


def template_fields(
    session: Session,
    kind: DocumentKind | str,
    document_id: uuid.UUID,
    *,
    language: str | None = None,
    days: int | None = None,
) -> dict[str, str]:
    """The placeholder values of one document, formatted in `language` (default: the organisation's).
    For the jobs' reminders (no right checked: the caller decides who reads them)."""
    source = _load(session, kind, document_id)
    return _fields(session, source, language or str(organisation(session)["default_language"]), days=days)


def email_draft(session: Session, actor: Actor, kind: DocumentKind | str, document_id: uuid.UUID) -> tuple[str, str]:
    """The (subject, body) the send dialog starts from, for the actor to edit."""
    source = _load(session, kind, document_id)
    authorize(actor, "record.view", source.row)
    language = str(organisation(session)["default_language"])
    return render_template(source.kind.value, _fields(session, source, language), language, session=session)


def template_preview(session: Session, actor: Actor, kind: str) -> tuple[str, str]:
    """A template rendered with the most recent real document of its kind the actor may see, or a
    message saying there is none yet (subject, body)."""
    authorize(actor, "document_template.edit")
    if kind not in TEMPLATE_KINDS:
        raise ValidationFailed({"kind": N_("Unknown value.")})
    language = str(organisation(session)["default_language"])
    source = _latest(session, actor, kind)
    if source is None:
        with use_locale(language):
            return gettext("No document yet"), gettext(
                "The preview uses the most recent document of this kind; there is none yet."
            )
    days = None
    if kind.endswith("_reminder") or kind.endswith("_owner"):
        row = source.row
        anchor = row.due_date if isinstance(row, Invoice) else row.valid_until
        days = (utcnow().date() - anchor).days if anchor else None
    return render_template(kind, _fields(session, source, language, days=days), language, session=session)


def _latest(session: Session, actor: Actor, kind: str) -> _Source | None:

    if kind in ("quote", "quote_reminder_owner", "order"):
        query = select(Quote).order_by(col(Quote.issue_date).desc(), col(Quote.created_at).desc()).limit(50)
        if kind == "order":
            query = query.where(col(Quote.order_number).is_not(None))
        else:
            query = query.where(Quote.status != QuoteStatus.DRAFT)
        for quote in session.exec(query).all():
            if can(actor, "record.view", quote):
                return _load(session, DocumentKind.ORDER if kind == "order" else DocumentKind.QUOTE, quote.id)
        return None
    wanted = InvoiceKind.CREDIT_NOTE if kind == "credit_note" else InvoiceKind.INVOICE
    rows = session.exec(
        select(Invoice)
        .where(Invoice.kind == wanted, Invoice.status != InvoiceStatus.DRAFT)
        .order_by(col(Invoice.issue_date).desc(), col(Invoice.created_at).desc())
        .limit(50)
    ).all()
    for invoice in rows:
        if can(actor, "record.view", invoice):
            return _load(session, DocumentKind(wanted.value), invoice.id)
    return None


# --- emailing a document --------------------------------------------------------------------------


def _recipients(
    session: Session, source: _Source, contact_ids: Sequence[uuid.UUID], extra_emails: Sequence[str]
) -> list[tuple[str, str]]:

    found = (
        {c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(list(contact_ids)))).all()}
        if contact_ids
        else {}
    )
    recipients: list[tuple[str, str]] = []
    for contact_id in contact_ids:
        contact = found.get(contact_id)
        if contact is None or contact.institution_id != source.row.institution_id:
            raise ValidationFailed({"contact_ids": N_("Choose contacts of the document's institution.")})
        if not contact.email:
            raise ValidationFailed({"contact_ids": N_("This contact has no email address.")})
        recipients.append((_person(contact), contact.email))
    for raw in extra_emails:
        try:
            recipients.append(("", clean_email(raw)))
        except ValueError:
            raise ValidationFailed({"extra_emails": N_("Enter a valid email address.")}) from None
    unique: dict[str, tuple[str, str]] = {}
    for name, address in recipients:
        unique.setdefault(address.lower(), (name, address))
    if not unique:
        raise ValidationFailed({"contact_ids": N_("Choose at least one recipient.")})
    return list(unique.values())


def email_document(
    session: Session,
    actor: Actor,
    kind: DocumentKind | str,
    document_id: uuid.UUID,
    *,
    contact_ids: Sequence[uuid.UUID],
    extra_emails: Sequence[str] = (),
    subject: str | None = None,
    body: str | None = None,
    request_key: str | None = None,
) -> list[uuid.UUID]:
    """Queue the document's email, with its (stored) PDF attached, to each recipient; the outbox ids.

    Needs "record.edit" on the document, which must be sent or issued (not a draft). Contacts must be
    of the document's institution and have an email (ValidationFailed on "contact_ids"). `subject` and
    `body` are the edited template; without them the kind's template is rendered in the organisation's
    language. See the module's docstring for `request_key` and double clicks."""

    source = _load(session, kind, document_id)
    authorize(actor, "record.edit", source.row)
    if source.is_draft or not source.number:
        raise InvalidTransition(source.row.status, N_("Send or issue the document before emailing it."))
    recipients = _recipients(session, source, contact_ids, extra_emails)
    language = str(organisation(session)["default_language"])
    if subject is None or body is None:
        default_subject, default_body = render_template(
            source.kind.value, _fields(session, source, language), language, session=session
        )
        subject = default_subject if subject is None else subject
        body = default_body if body is None else body
    subject = " ".join(subject.split())
    if not subject:
        raise ValidationFailed({"subject": N_("This field is required.")})
    if len(subject) > 250:
        raise ValidationFailed({"subject": N_("This text is too long.")})
    if len(body) > 20_000:
        raise ValidationFailed({"body": N_("This text is too long.")})
    content, digest = _pdf(session, actor, source)
    attachment = mail.Attachment(_filename(source), PDF_CONTENT_TYPE, content)
    text_hash = hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()[:16]
    owner = session.get(User, source.row.owner_id)
    reply_to = (owner.full_name, owner.email) if owner and owner.email else None
    queued: list[uuid.UUID] = []
    for name, address in recipients:
        # the outbox key holds 200 characters: the variable parts are hashed
        what = hashlib.sha256(f"{source.number}\n{address.lower()}\n{text_hash}\n{digest}".encode()).hexdigest()
        base = f"document-email:{source.kind.value}:{source.row.id}:{what[:32]}"
        if request_key is None and (recent := _recent(session, base)) is not None:
            queued.append(recent.id)
            continue
        request = hashlib.sha256(request_key.encode()).hexdigest()[:32] if request_key else uuid.uuid4().hex
        key = f"{base}:{request}"
        message = mail.enqueue(
            session,
            to=[(name, address)] if name else address,
            subject=subject,
            text=body,
            reply_to=reply_to,
            attachments=[attachment],
            dedupe_key=key,
            related=(source.kind.value, source.row.id),
        )
        queued.append(message.id)
    audit.record(
        session,
        actor,
        entity_type=source.kind.value,
        entity_id=source.row.id,
        institution_id=source.row.institution_id,
        action="email",
        changes={"emailed_to": (None, ", ".join(address for _name, address in recipients))},
    )
    return queued


def _recent(session: Session, base: str) -> OutboxMessage | None:
    since = utcnow() - RESEND_WINDOW
    return session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.dedupe_key).startswith(base, autoescape=True), OutboxMessage.created_at >= since)
        .limit(1)
    ).first()


def invoice_document_kind(session: Session, invoice_id: uuid.UUID) -> DocumentKind:
    """invoice or credit_note: what an /api/invoices/{id} row is (NotFound when there is none)."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(N_("This invoice does not exist."))
    return DocumentKind.CREDIT_NOTE if invoice.kind == InvoiceKind.CREDIT_NOTE else DocumentKind.INVOICE
