"""Chorus Pro for public buyers: an institution's public entity flag, service codes and engagement rule;
the invoice's service code (BT-10) and engagement number (BT-13), chosen, defaulted, required at issue,
inherited by credit notes and printed; the invoices list's public buyers filter; the e-invoice deposit
(a zip of the stored files of the issued documents, drafts left out, rights checked)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from sqlmodel import Session, select

from crm_app.institutions import service as institutions
from crm_app.institutions.models import Institution
from crm_app.institutions.service_codes import ServiceCode, clean_service_codes
from crm_app.platform.errors import Forbidden, NotFound, ValidationFailed
from crm_app.platform.models.audit import AuditEntry, SecurityEvent
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.platform.storage import path_of
from crm_app.sales import documents, einvoicing, invoices, quotes
from crm_app.sales.einvoicing import DepositReceipt, EInvoice, EInvoicingPlatform
from crm_app.sales.invoices import InvoiceQuery
from crm_app.sales.models.invoices import Invoice
from crm_app.sales.models.quotes import DocumentKind, StoredDocument
from tests.activity_factories import Org, make_org
from tests.institution_factories import make_buyer, make_institution, unique_siret
from tests.sales_factories import make_accepted_quote, quote_line

CODES = [{"code": "PHARMA01", "label": "Pharmacie"}, {"code": "BIOMED02", "label": None}]


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


def public_buyer(db: Session, org: Org, **values: Any) -> Institution:
    return make_buyer(
        db,
        name=values.pop("name", "CHU de Nantes"),
        assigned_to=org.rep_a.user,
        is_public_entity=True,
        siret=unique_siret(),
        **values,
    )


def draft(db: Session, actor: Actor, institution: Institution, **values: Any) -> Invoice:
    line = {"description": "Maintenance", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}
    return invoices.create_invoice(db, actor, {"institution_id": institution.id, "lines": [line], **values})


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ").split())


# --- the institution ------------------------------------------------------------------------------


def test_service_codes_are_cleaned_and_their_rules_hold() -> None:
    assert clean_service_codes(None) == []
    assert clean_service_codes([{"code": "  PHARMA01 ", "label": " Pharmacie "}, {"code": "", "label": ""}]) == [
        {"code": "PHARMA01", "label": "Pharmacie"}
    ]
    assert clean_service_codes("PHARMA01 (Pharmacie); BIOMED02") == [
        {"code": "PHARMA01", "label": "Pharmacie"},
        {"code": "BIOMED02", "label": None},
    ]
    assert clean_service_codes([ServiceCode("X" * 100)]) == [{"code": "X" * 100, "label": None}]
    for wrong, message in (
        ([{"code": "X" * 101}], "A service code has at most 100 characters."),
        ([{"code": "", "label": "Pharmacie"}], "Each service code needs a code."),
        ([{"code": "PHARMA01"}, {"code": "pharma01"}], "This service code is listed twice."),
    ):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            clean_service_codes(wrong)


def test_a_public_entity_needs_its_siret(db: Session) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make_institution(db, name="CH de Cholet", is_public_entity=True)
    assert refused.value.field_errors == {"siret": institutions.PUBLIC_ENTITY_NEEDS_SIRET}

    hospital = make_institution(db, name="CH de Cholet", is_public_entity=True, siret=unique_siret())
    with pytest.raises(ValidationFailed) as cleared:
        institutions.update_institution(db, SYSTEM_ACTOR, hospital.id, {"siret": None}, expected_version=1)
    assert cleared.value.field_errors == {"siret": institutions.PUBLIC_ENTITY_NEEDS_SIRET}

    clinic = make_institution(db, name="Clinique du Parc")
    with pytest.raises(ValidationFailed) as marked:
        institutions.update_institution(db, SYSTEM_ACTOR, clinic.id, {"is_public_entity": True}, expected_version=1)
    assert marked.value.field_errors == {"siret": institutions.PUBLIC_ENTITY_NEEDS_SIRET}


def test_service_codes_are_stored_on_the_institution_and_kept_in_the_history_in_words(db: Session) -> None:
    hospital = make_institution(db, name="CHU d'Angers", is_public_entity=True, siret=unique_siret())
    updated = institutions.update_institution(
        db,
        SYSTEM_ACTOR,
        hospital.id,
        {"service_codes": CODES, "requires_engagement_number": True},
        expected_version=hospital.version,
    )
    assert updated.service_codes == CODES and updated.requires_engagement_number
    assert institutions.get_detail(db, SYSTEM_ACTOR, hospital.id).values()["service_codes"] == CODES
    entry = db.exec(
        select(AuditEntry).where(AuditEntry.entity_id == hospital.id, AuditEntry.field == "service_codes")
    ).one()
    assert entry.old_value is None and entry.new_value == "PHARMA01 (Pharmacie), BIOMED02"
    with pytest.raises(ValidationFailed) as refused:
        institutions.update_institution(
            db, SYSTEM_ACTOR, hospital.id, {"service_codes": [{"code": "A"}, {"code": "A"}]}, expected_version=2
        )
    assert refused.value.field_errors == {"service_codes": "This service code is listed twice."}


# --- the invoice's service code and engagement number --------------------------------------------


def test_the_only_service_code_is_the_default_and_free_text_is_refused_when_the_buyer_has_codes(
    db: Session, org: Org
) -> None:
    actor = org.rep_a.actor
    one_code = public_buyer(db, org, service_codes=CODES[:1])
    assert draft(db, actor, one_code).buyer_reference == "PHARMA01"
    two_codes = public_buyer(db, org, name="CHU de Brest", service_codes=CODES)
    assert draft(db, actor, two_codes).buyer_reference is None  # two codes: the user chooses
    assert draft(db, actor, two_codes, buyer_reference="BIOMED02").buyer_reference == "BIOMED02"
    with pytest.raises(ValidationFailed) as refused:
        draft(db, actor, two_codes, buyer_reference="SERVICE-INVENTE")
    assert refused.value.field_errors == {"buyer_reference": "Choose one of the buyer's Chorus Pro service codes."}
    no_codes = make_buyer(db, name="Clinique Jeanne d'Arc", assigned_to=org.rep_a.user)
    assert draft(db, actor, no_codes, buyer_reference="FREE-TEXT").buyer_reference == "FREE-TEXT"
    with pytest.raises(ValidationFailed) as too_long:
        draft(db, actor, no_codes, buyer_order_reference="E" * 51)
    assert too_long.value.field_errors == {"buyer_order_reference": "Too long."}


def test_a_draft_keeps_its_code_only_if_its_new_buyer_has_it(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    first = public_buyer(db, org, service_codes=CODES)
    invoice = draft(db, actor, first, buyer_reference="BIOMED02", buyer_order_reference="ENG-2026-17")
    other = public_buyer(db, org, name="CHU de Rennes", service_codes=[{"code": "RENNES9"}])
    moved = invoices.update_invoice(db, actor, invoice.id, {"institution_id": other.id}, expected_version=1)
    assert moved.buyer_reference == "RENNES9"  # not one of the new buyer's: its only one instead
    assert moved.buyer_order_reference == "ENG-2026-17"
    with pytest.raises(ValidationFailed):
        invoices.update_invoice(db, actor, invoice.id, {"buyer_reference": "PHARMA01"}, expected_version=2)


def test_issuing_to_a_public_buyer_needs_the_service_code_and_the_engagement_number_it_requires(
    db: Session, org: Org
) -> None:
    actor = org.rep_a.actor
    buyer = public_buyer(db, org, service_codes=CODES, requires_engagement_number=True)
    invoice = draft(db, actor, buyer)
    with pytest.raises(ValidationFailed) as refused:
        invoices.issue_invoice(db, actor, invoice.id)
    assert refused.value.field_errors == {
        "buyer_reference": "This buyer is a public entity: choose its Chorus Pro service code.",
        "buyer_order_reference": "This buyer requires an engagement number (its purchase order reference).",
    }
    invoices.update_invoice(db, actor, invoice.id, {"buyer_reference": "PHARMA01"}, expected_version=1)
    with pytest.raises(ValidationFailed) as still:
        invoices.issue_invoice(db, actor, invoice.id)
    assert set(still.value.field_errors) == {"buyer_order_reference"}
    invoices.update_invoice(db, actor, invoice.id, {"buyer_order_reference": "ENG-42"}, expected_version=2)
    issued = invoices.issue_invoice(db, actor, invoice.id)
    assert issued.number and issued.buyer_reference == "PHARMA01" and issued.buyer_order_reference == "ENG-42"


def test_a_code_the_buyer_no_longer_has_is_refused_at_issue_and_other_buyers_are_not_checked(
    db: Session, org: Org
) -> None:
    actor = org.rep_a.actor
    buyer = public_buyer(db, org, service_codes=CODES)
    invoice = draft(db, actor, buyer, buyer_reference="BIOMED02")
    institutions.update_institution(
        db, SYSTEM_ACTOR, buyer.id, {"service_codes": CODES[:1]}, expected_version=buyer.version
    )
    with pytest.raises(ValidationFailed) as refused:
        invoices.issue_invoice(db, actor, invoice.id)
    assert refused.value.field_errors == {"buyer_reference": "Choose one of the buyer's Chorus Pro service codes."}
    # Not a public entity: an engagement rule alone does not stop the issue; a public one without codes
    # needs no code.
    clinic = make_buyer(db, name="Clinique Sainte-Anne", assigned_to=org.rep_a.user)
    institutions.update_institution(
        db, SYSTEM_ACTOR, clinic.id, {"requires_engagement_number": True}, expected_version=clinic.version
    )
    assert invoices.issue_invoice(db, actor, draft(db, actor, clinic).id).number
    codeless = public_buyer(db, org, name="CH de Vannes")
    assert invoices.issue_invoice(db, actor, draft(db, actor, codeless).id).number


def test_a_credit_note_inherits_the_code_and_engagement_number_of_its_invoice(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    buyer = public_buyer(db, org, service_codes=CODES)
    invoice = draft(db, actor, buyer, buyer_reference="PHARMA01", buyer_order_reference="ENG-7")
    invoices.issue_invoice(db, actor, invoice.id)
    note = invoices.create_credit_note(db, actor, invoice.id, amount_incl_vat=Decimal("12.00"))
    assert (note.buyer_reference, note.buyer_order_reference) == ("PHARMA01", "ENG-7")
    detail = invoices.get_invoice(db, actor, note.id)
    assert (detail.buyer_reference, detail.buyer_order_reference) == ("PHARMA01", "ENG-7")


def test_an_invoice_of_an_order_takes_its_purchase_order_reference_as_engagement_number(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    buyer = public_buyer(db, org, service_codes=CODES[:1])
    quote = make_accepted_quote(db, actor, buyer, [quote_line()])
    quotes.record_order(db, actor, quote.id, purchase_order_ref="BC-CHU-2026-118")
    invoice = invoices.create_invoice_from_quote(db, actor, quote.id)
    assert (invoice.buyer_reference, invoice.buyer_order_reference) == ("PHARMA01", "BC-CHU-2026-118")


def test_the_pdf_prints_the_service_code_and_the_engagement_number(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    buyer = public_buyer(db, org, service_codes=CODES)
    invoice = draft(db, actor, buyer, buyer_reference="BIOMED02", buyer_order_reference="ENG-2026-0099")
    invoices.issue_invoice(db, actor, invoice.id)
    content, _name = documents.document_pdf(db, actor, DocumentKind.INVOICE, invoice.id)
    text = pdf_text(content)
    assert "Code service BIOMED02" in text and "N° d'engagement ENG-2026-0099" in text
    plain = draft(db, actor, make_buyer(db, name="Clinique Sans Code", assigned_to=org.rep_a.user))
    plain_text = pdf_text(documents.document_pdf(db, actor, DocumentKind.INVOICE, plain.id)[0])
    assert "Code service" not in plain_text and "engagement" not in plain_text


# --- the list and the deposit ------------------------------------------------------------------------


def test_the_public_buyers_filter_lists_only_their_documents(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    public = draft(db, actor, public_buyer(db, org))
    private = draft(db, actor, make_buyer(db, name="Clinique Privée", assigned_to=org.rep_a.user))
    query = InvoiceQuery.from_params({"public_buyers": "1"})
    assert query.public_buyers
    ids = {row.id for row in invoices.list_invoices(db, actor, query).items}
    assert public.id in ids and private.id not in ids
    assert private.id in {row.id for row in invoices.list_invoices(db, actor, InvoiceQuery()).items}


def _zip(receipt: DepositReceipt) -> dict[str, bytes]:
    assert receipt.archive is not None
    with zipfile.ZipFile(io.BytesIO(receipt.archive)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_deposit_holds_exactly_the_stored_files_of_the_issued_documents(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    buyer = public_buyer(db, org, service_codes=CODES[:1])
    first = invoices.issue_invoice(db, actor, draft(db, actor, buyer).id)
    first_pdf, _name = documents.document_pdf(db, actor, DocumentKind.INVOICE, first.id)  # stored now
    second = invoices.issue_invoice(db, actor, draft(db, actor, buyer).id)
    note = invoices.create_credit_note(db, actor, first.id, amount_incl_vat=Decimal("10.00"))
    waiting = draft(db, actor, buyer)

    deposit = einvoicing.deposit_einvoices(db, actor, ids=[first.id, second.id, note.id, waiting.id, first.id])
    files = _zip(deposit.receipt)
    assert set(files) == {f"{first.number}.pdf", f"{second.number}.pdf", f"{note.number}.pdf"}
    assert deposit.skipped_drafts == 1
    assert files[f"{first.number}.pdf"] == first_pdf  # the file stored before, not a new rendering
    for document in (second, note):  # stored by the deposit, through the one issue/render path
        stored = db.exec(select(StoredDocument).where(StoredDocument.document_id == document.id)).one()
        content = files[f"{document.number}.pdf"]
        assert stored.sha256 == hashlib.sha256(content).hexdigest() and path_of(stored.path).read_bytes() == content
    assert set(deposit.receipt.deposited) == {first.number, second.number, note.number}
    logged = db.exec(select(SecurityEvent).where(SecurityEvent.action == "export")).all()
    assert any(event.details.get("list") == "einvoices" and event.details.get("rows") == 3 for event in logged)


def test_the_deposit_refuses_drafts_only_documents_it_may_not_see_and_unknown_ids(db: Session, org: Org) -> None:
    actor = org.rep_a.actor
    buyer = public_buyer(db, org)
    waiting = draft(db, actor, buyer)
    with pytest.raises(ValidationFailed) as nothing:
        einvoicing.deposit_einvoices(db, actor, ids=[waiting.id])
    assert nothing.value.field_errors == {"ids": einvoicing.NOTHING_ISSUED}
    issued = invoices.issue_invoice(db, actor, draft(db, actor, buyer).id)
    with pytest.raises(Forbidden):  # another team's salesperson
        einvoicing.deposit_einvoices(db, org.rep_b.actor, ids=[issued.id])
    with pytest.raises(NotFound):
        einvoicing.deposit_einvoices(db, actor, ids=[issued.id, buyer.id])
    assert set(_zip(einvoicing.deposit_einvoices(db, org.manager_a.actor, ids=[issued.id]).receipt)) == {
        f"{issued.number}.pdf"
    }


def test_the_deposit_of_a_filter_takes_what_the_actor_sees_there(db: Session, org: Org) -> None:
    mine = invoices.issue_invoice(db, org.rep_a.actor, draft(db, org.rep_a.actor, public_buyer(db, org)).id)
    clinic = make_buyer(db, name="Clinique Voisine", assigned_to=org.rep_a.user)
    private = invoices.issue_invoice(db, org.rep_a.actor, draft(db, org.rep_a.actor, clinic).id)
    deposit = einvoicing.deposit_einvoices(db, org.rep_a.actor, query=InvoiceQuery(public_buyers=True))
    assert mine.number in deposit.receipt.deposited and private.number not in deposit.receipt.deposited
    with pytest.raises(ValidationFailed):  # rep B sees none of them
        einvoicing.deposit_einvoices(db, org.rep_b.actor, query=InvoiceQuery(public_buyers=True))


def test_a_platform_receives_the_issued_documents_through_the_interface(db: Session, org: Org) -> None:
    """The deposit goes through `EInvoicingPlatform`: the zip is one implementation of it."""
    received: list[EInvoice] = []

    class Recorder:
        def deposit(self, documents: Any) -> DepositReceipt:
            received.extend(documents)
            return DepositReceipt(deposited=tuple(document.number for document in documents))

    platform: EInvoicingPlatform = Recorder()
    issued = invoices.issue_invoice(db, org.rep_a.actor, draft(db, org.rep_a.actor, public_buyer(db, org)).id)
    deposit = einvoicing.deposit_einvoices(db, org.rep_a.actor, ids=[issued.id], platform=platform)
    assert deposit.receipt.deposited == (issued.number,)
    [document] = received
    assert document.kind is DocumentKind.INVOICE and document.filename == f"{issued.number}.pdf"
    assert document.content == documents.document_pdf(db, org.rep_a.actor, DocumentKind.INVOICE, issued.id)[0]
