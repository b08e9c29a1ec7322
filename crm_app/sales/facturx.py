"""Factur-X e-invoices (profile EN 16931): the Cross Industry Invoice XML of an invoice or a credit
note, built with drafthorse's object model from a small frozen input (`EInvoice`), checked (the fields
the French reform and EN 16931 require, the totals' consistency, then the official XSD through the
`factur-x` library) and embedded in the document's PDF, which becomes a PDF/A-3 (`embed`).

The input is plain values built by `crm_app.sales.documents` from the stored invoice: the same totals
(`money.Totals`) the PDF prints, so that both say the same to the cent. Amounts of a credit note are
positive, as EN 16931 wants them (type code 381 says it is a credit).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from io import BytesIO

import facturx
from drafthorse.models.accounting import ApplicableTradeTax, CategoryTradeTax, TradeAllowanceCharge
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import PostalTradeAddress, TaxRegistration, TradeParty
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem
from lxml import etree
from PIL import ImageCms
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject
from pypdf.generic import TextStringObject as PdfText

from crm_app.platform.i18n import N_
from crm_app.sales.money import ZERO, Totals, to_cents

log = logging.getLogger(__name__)

#: EN 16931's guideline identifier for Factur-X's EN 16931 profile (BT-24).
GUIDELINE = "urn:cen.eu:en16931:2017"
INVOICE_TYPE, CREDIT_NOTE_TYPE = "380", "381"
XML_FILENAME = "factur-x.xml"
#: A French postal address's last line: "75013 Paris", "75013 PARIS CEDEX 13".
_FR_TOWN = re.compile(r"^(\d{5})\s+(.+)$")


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...]  # street lines, up to three
    postal_code: str
    city: str
    country: str = "FR"


@dataclass(frozen=True, slots=True)
class Party:
    """A seller, a buyer or a place of delivery as the XML gives it."""

    name: str
    address: Address | None
    siret: str | None = None
    siren: str | None = None
    vat_number: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    quantity: Decimal
    unit_code: str  # UN/ECE rec. 20
    unit_price: Decimal  # before the line's discount
    gross: Decimal  # quantity × unit price, rounded
    discount: Decimal  # gross − net (a line allowance)
    net: Decimal
    vat_rate: Decimal
    vat_category: str | None  # None: a 0 % line that does not say why (refused)
    exemption_code: str | None = None
    exemption_text: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class EInvoice:
    """What the XML says, as plain values (see `crm_app.sales.documents.einvoice_of`)."""

    number: str
    type_code: str  # 380 invoice, 381 credit note
    issue_date: date
    language: str
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    totals: Totals
    global_discount_percent: Decimal
    business_process: str  # BT-23: B1 goods, S1 services, M1 both
    currency: str = "EUR"
    due_date: date | None = None
    payment_terms: str | None = None  # BT-20
    iban: str | None = None
    bic: str | None = None
    prepaid: Decimal = ZERO  # BT-113
    preceding_invoice: str | None = None  # BT-25, a credit note's invoice
    preceding_invoice_date: date | None = None  # BT-26
    buyer_reference: str | None = None  # BT-10: Chorus Pro's service code
    buyer_order_reference: str | None = None  # BT-13: purchase order / engagement number
    delivery: Party | None = None  # BG-13: when it differs from the buyer's address
    vat_on_debits: bool = False  # BT-8: tax point = invoice date (code 5)
    notes: tuple[str, ...] = field(default_factory=tuple)  # BT-22: the PDF's legal mentions


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    """One BG-23 group: one per VAT category and rate."""

    category: str
    rate: Decimal
    lines_net: Decimal  # Σ nets of its lines
    allowance: Decimal  # its share of the document-level discount
    base: Decimal
    vat: Decimal
    exemption_code: str | None
    exemption_text: str | None


class EInvoiceRefused(ValueError):
    """The document cannot be a valid e-invoice: `errors` maps each missing or wrong field (dotted
    names: seller.siret, buyer.address, lines.2.vat_exemption) to a gettext id."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


# --- addresses -------------------------------------------------------------------------------------


def postal_address(text: str, country: str = "FR") -> Address | None:
    """The company's address as the settings hold it (several lines, the last one "75013 Paris"):
    street lines, postal code and city; None when no line reads as a postal code and a city."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if match := _FR_TOWN.match(lines[index]):
            return Address(tuple(lines[:index][:3]), match.group(1), match.group(2), country)
    return None


# --- the VAT breakdown -----------------------------------------------------------------------------


def vat_breakdown(invoice: EInvoice) -> tuple[VatBreakdown, ...]:
    """The totals' rows per rate (`money.compute_totals`), split by VAT category where one rate holds
    several (0 % lines exempt and reverse-charged): each category's share of the document discount is
    its nets minus its base, and the base of a rate is shared so that the parts add up to the cent."""
    groups: dict[tuple[Decimal, str], list[Line]] = {}
    for line in invoice.lines:
        key = (line.vat_rate.normalize() + 0, line.vat_category or "")
        groups.setdefault(key, []).append(line)
    rows: list[VatBreakdown] = []
    for row in invoice.totals.vat_rows:
        categories = sorted((key for key in groups if key[0] == row.rate), key=lambda key: key[1])
        nets_of_rate = sum((line.net for key in categories for line in groups[key]), ZERO)
        left = row.base
        for position, key in enumerate(categories):
            lines = groups[key]
            nets = sum((line.net for line in lines), ZERO)
            last = position == len(categories) - 1
            base = left if last else to_cents(row.base * nets / nets_of_rate) if nets_of_rate else ZERO
            left -= base
            codes = {line.exemption_code for line in lines}
            texts = list(dict.fromkeys(line.exemption_text for line in lines if line.exemption_text))
            rows.append(
                VatBreakdown(
                    category=key[1],
                    rate=row.rate,
                    lines_net=nets,
                    allowance=nets - base,
                    base=base,
                    vat=row.vat if len(categories) == 1 else to_cents(base * row.rate / 100),
                    exemption_code=codes.pop() if len(codes) == 1 else None,
                    exemption_text="; ".join(texts) or None,
                )
            )
    return tuple(rows)


# --- what must be there ------------------------------------------------------------------------------


def check(invoice: EInvoice) -> None:
    """EInvoiceRefused naming every field the e-invoice lacks, then the totals' consistency
    (EN 16931's BR-CO rules, that the XSD does not check)."""
    errors = {**_party_errors(invoice), **_line_errors(invoice)}
    if errors:
        raise EInvoiceRefused(errors)
    _check_totals(invoice)


def _party_errors(invoice: EInvoice) -> dict[str, str]:
    errors: dict[str, str] = {}
    seller, buyer = invoice.seller, invoice.buyer
    categories = {line.vat_category for line in invoice.lines}
    if not seller.name.strip():
        errors["seller.legal_name"] = N_("Enter the company's legal name in the company settings.")
    if not seller.siret:
        errors["seller.siret"] = N_("Enter the company's SIRET in the company settings.")
    if not seller.vat_number and categories != {"O"}:
        errors["seller.vat_number"] = N_("Enter the company's VAT number in the company settings.")
    if seller.address is None:
        errors["seller.address"] = N_(
            "Enter the company's address in the company settings, its last line with the postal code and city."
        )
    if invoice.type_code == INVOICE_TYPE and not invoice.iban:
        errors["seller.iban"] = N_("Enter the company's IBAN in the company settings: the e-invoice gives it.")
    if not buyer.name.strip():
        errors["buyer.name"] = N_("Enter the institution's name.")
    if buyer.address is None or not buyer.address.lines or not buyer.address.city:
        errors["buyer.address"] = N_("Enter the institution's postal address: street, postal code and city.")
    if (buyer.address is None or buyer.address.country == "FR") and not buyer.siren:
        errors["buyer.siren"] = N_("Enter the institution's SIRET: the e-invoice gives the buyer's SIREN.")
    if "AE" in categories and not buyer.vat_number:
        errors["buyer.vat_number"] = N_("A reverse-charged invoice needs the buyer's VAT number.")
    return errors


def _line_errors(invoice: EInvoice) -> dict[str, str]:
    errors: dict[str, str] = {}
    categories = {line.vat_category for line in invoice.lines}
    for index, line in enumerate(invoice.lines):
        if line.vat_category is None:
            errors[f"lines.{index}.vat_exemption"] = N_("Say why this 0 % line carries no VAT.")
        elif line.vat_category == "O" and categories != {"O"}:
            errors[f"lines.{index}.vat_exemption"] = N_(
                "A line outside the scope of VAT cannot share an invoice with taxed or exempt lines."
            )
    if not invoice.lines:
        errors["lines"] = N_("An invoice needs at least one line with an amount.")
    return errors


def _check_totals(invoice: EInvoice) -> None:
    totals = invoice.totals
    rows = vat_breakdown(invoice)
    consistent = (
        sum((line.net for line in invoice.lines), ZERO) == totals.subtotal  # BR-CO-10
        and all(line.gross - line.discount == line.net for line in invoice.lines)
        and totals.subtotal - totals.global_discount == totals.total_excl_vat  # BR-CO-13
        and sum((row.base for row in rows), ZERO) == totals.total_excl_vat
        and sum((row.allowance for row in rows), ZERO) == totals.global_discount
        and sum((row.vat for row in rows), ZERO) == totals.total_vat  # BR-CO-14
        and totals.total_excl_vat + totals.total_vat == totals.total_incl_vat  # BR-CO-15
        and ZERO <= invoice.prepaid <= totals.total_incl_vat
    )
    if not consistent:
        log.error("e-invoice totals inconsistent", extra={"number": invoice.number})
        raise EInvoiceRefused({"lines": N_("The document's totals do not add up; it cannot be issued.")})


# --- the XML -----------------------------------------------------------------------------------------


def _amount(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _party(target: TradeParty, party: Party, *, with_ids: bool = True) -> None:
    target.name = party.name
    if with_ids and party.siret:
        target.global_id.add(("0009", party.siret))  # ISO 6523 ICD 0009: SIRET
    if with_ids and party.siren:
        target.legal_organization.id = ("0002", party.siren)  # ICD 0002: SIREN (BT-30, BT-47)
    if party.address is not None:
        _address(target.address, party.address)
    if with_ids and party.vat_number:
        target.tax_registrations.add(TaxRegistration(id=("VA", party.vat_number)))


def _address(target: PostalTradeAddress, address: Address) -> None:
    target.postcode = address.postal_code
    for name, line in zip(("line_one", "line_two", "line_three"), address.lines, strict=False):
        setattr(target, name, line)
    target.city_name = address.city
    target.country_id = address.country


def _trade_tax(target: ApplicableTradeTax, category: str, rate: Decimal) -> None:
    target.type_code = "VAT"
    target.category_code = category
    target.rate_applicable_percent = _amount(rate)


def build_xml(invoice: EInvoice) -> bytes:
    """The CII XML (Factur-X, profile EN 16931) of a checked `EInvoice`."""
    doc = Document()
    doc.context.business_parameter.id = invoice.business_process
    doc.context.guideline_parameter.id = GUIDELINE
    doc.header.id = invoice.number
    doc.header.type_code = invoice.type_code
    doc.header.issue_date_time = invoice.issue_date
    for text in invoice.notes:
        note = IncludedNote()
        note.content = text
        doc.header.notes.add(note)

    for index, line in enumerate(invoice.lines, start=1):
        doc.trade.items.add(_line_item(index, line))
    _agreement(doc, invoice)
    _settlement(doc, invoice)
    return bytes(doc.serialize(schema=None))


def _line_item(index: int, line: Line) -> LineItem:
    item = LineItem()
    item.document.line_id = str(index)
    if line.reference:
        item.product.seller_assigned_id = line.reference
    item.product.name = line.name
    # BT-146: the unit price; the line's discount is a line allowance (BG-27), so that quantity × net
    # price − allowance = the line's net amount (BT-131), to the cent, whether the discount is a
    # percentage or an amount
    item.agreement.gross.amount = line.unit_price
    item.agreement.net.amount = line.unit_price
    item.delivery.billed_quantity = (line.quantity, line.unit_code)
    _trade_tax(item.settlement.trade_tax, line.vat_category or "", line.vat_rate)
    if line.discount:
        line_allowance = TradeAllowanceCharge()
        line_allowance.indicator = False
        line_allowance.actual_amount = _amount(line.discount)
        line_allowance.reason = "Discount"
        item.settlement.allowance_charge.add(line_allowance)
    item.settlement.monetary_summation.total_amount = _amount(line.net)
    return item


def _agreement(doc: Document, invoice: EInvoice) -> None:
    agreement = doc.trade.agreement
    if invoice.buyer_reference:
        agreement.buyer_reference = invoice.buyer_reference
    _party(agreement.seller, invoice.seller)
    _party(agreement.buyer, invoice.buyer)
    if invoice.buyer_order_reference:
        agreement.buyer_order.issuer_assigned_id = invoice.buyer_order_reference
    if invoice.delivery is not None:
        _party(doc.trade.delivery.ship_to, invoice.delivery, with_ids=False)


def _settlement(doc: Document, invoice: EInvoice) -> None:
    settlement = doc.trade.settlement
    settlement.currency_code = invoice.currency
    if invoice.type_code == INVOICE_TYPE and invoice.iban:
        means = PaymentMeans()
        means.type_code = "58"  # SEPA credit transfer
        means.payee_account.iban = invoice.iban
        if invoice.bic:
            means.payee_institution.bic = invoice.bic
        settlement.payment_means.add(means)
    rows = vat_breakdown(invoice)
    _taxes(doc, invoice, rows)
    _terms_and_totals(doc, invoice)


def _taxes(doc: Document, invoice: EInvoice, rows: tuple[VatBreakdown, ...]) -> None:
    settlement = doc.trade.settlement
    for row in rows:
        tax = ApplicableTradeTax()
        tax.calculated_amount = _amount(row.vat)
        tax.type_code = "VAT"
        if row.exemption_text:
            tax.exemption_reason = row.exemption_text
        tax.basis_amount = _amount(row.base)
        tax.category_code = row.category
        if row.exemption_code:
            tax.exemption_reason_code = row.exemption_code
        if invoice.vat_on_debits and row.category == "S":
            tax.due_date_type_code = "5"  # BT-8: VAT due at the invoice's date (option for debits)
        tax.rate_applicable_percent = _amount(row.rate)
        settlement.trade_tax.add(tax)
    if invoice.global_discount_percent:
        for row in rows:
            if not row.allowance:
                continue
            allowance = TradeAllowanceCharge()
            allowance.indicator = False
            allowance.calculation_percent = _amount(invoice.global_discount_percent)
            allowance.basis_amount = _amount(row.lines_net)
            allowance.actual_amount = _amount(row.allowance)
            allowance.reason = "Global discount"
            category = CategoryTradeTax()
            category.type_code = "VAT"
            category.category_code = row.category
            category.rate_applicable_percent = _amount(row.rate)
            allowance.trade_tax.add(category)
            settlement.allowance_charge.add(allowance)


def _terms_and_totals(doc: Document, invoice: EInvoice) -> None:
    settlement = doc.trade.settlement
    if invoice.payment_terms or invoice.due_date:
        terms = PaymentTerms()
        terms.description = invoice.payment_terms or ""
        if invoice.due_date:
            terms.due = invoice.due_date
        settlement.terms.add(terms)
    totals = invoice.totals
    summation = settlement.monetary_summation
    summation.line_total = _amount(totals.subtotal)
    summation.charge_total = _amount(ZERO)
    summation.allowance_total = _amount(totals.global_discount)
    summation.tax_basis_total = _amount(totals.total_excl_vat)
    summation.tax_total = (_amount(totals.total_vat), invoice.currency)
    summation.grand_total = _amount(totals.total_incl_vat)
    summation.prepaid_total = _amount(invoice.prepaid)
    summation.due_amount = _amount(totals.total_incl_vat - invoice.prepaid)
    if invoice.preceding_invoice:
        settlement.invoice_referenced_document.issuer_assigned_id = invoice.preceding_invoice
        if invoice.preceding_invoice_date:
            settlement.invoice_referenced_document.issue_date_time = invoice.preceding_invoice_date


def check_xsd(xml: bytes) -> None:
    """The official Factur-X EN 16931 XSD (the `factur-x` library's); EInvoiceRefused when it fails."""
    try:
        facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as exc:  # the library raises a bare Exception with the schema's message
        log.error("e-invoice XML refused by the XSD: %s", str(exc)[:2000])
        raise EInvoiceRefused({"facturx": N_("The e-invoice does not pass the Factur-X schema check.")}) from exc


def einvoice_xml(invoice: EInvoice) -> bytes:
    """The checked XML of an invoice (EInvoiceRefused when a field is missing or the XSD refuses it)."""
    check(invoice)
    xml = build_xml(invoice)
    check_xsd(xml)
    return xml


# --- the PDF/A-3 -------------------------------------------------------------------------------------


@cache
def _srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS through Pillow), its creation date zeroed so that it is the same
    bytes in every run: PDF/A wants an output intent for the device RGB colours ReportLab draws."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = bytes(12)
    return bytes(profile)


def _with_output_intent(pdf: bytes) -> bytes:
    writer = PdfWriter(clone_from=BytesIO(pdf))
    icc = DecodedStreamObject()
    icc.set_data(_srgb_profile())
    icc[NameObject("/N")] = NumberObject(3)
    intent = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): PdfText("sRGB IEC61966-2.1"),
            NameObject("/Info"): PdfText("sRGB IEC61966-2.1"),
            NameObject("/DestOutputProfile"): writer._add_object(icc.flate_encode()),
        }
    )
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def embed(pdf: bytes, xml: bytes, *, title: str, author: str, language: str) -> bytes:
    """The Factur-X PDF: the rendered PDF with an sRGB output intent, the XML attached and the PDF/A-3
    metadata, by `facturx.generate_from_binary`. `xml` comes from `einvoice_xml`, checked against the
    XSD there: the library's own second check is skipped."""
    metadata = {"author": author, "keywords": "Factur-X", "title": title, "subject": title}
    return bytes(
        facturx.generate_from_binary(
            _with_output_intent(pdf),
            xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=False,
            pdf_metadata=metadata,
            lang=language,
        )
    )


def xml_of_pdf(pdf: bytes) -> bytes | None:
    """The Factur-X XML inside a PDF (`facturx.get_xml_from_pdf`), None in a plain PDF."""
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    return bytes(xml) if xml else None


def xml_tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)
