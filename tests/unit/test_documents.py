"""Documents as PDFs and emails: the stored PDF of a sent or issued document is re-sent byte for byte,
drafts are never stored, rights are checked, templates are rendered with the document's fields, and
the email goes through the outbox to a real SMTP server (even one that is down at first), once."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from sqlmodel import Session, select

from crm_app.institutions.models import Institution
from crm_app.platform import settings as app_settings
from crm_app.platform import smtp
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Forbidden, InvalidTransition, ValidationFailed
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.outbox import OutboxAttachment, OutboxMessage
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.platform.storage import path_of
from crm_app.sales import documents, templates
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from crm_app.sales.models.quotes import DocumentKind, Quote, QuoteLine, QuoteStatus, StoredDocument
from crm_app.sales.money import LineAmounts, compute_totals
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import make_buyer, make_contact
from tests.smtp_server import SMTPServer, smtp_server_fixture  # noqa: F401 - fixture

LINES = [
    ("Maintenance préventive", "2", "1234.50", "20"),
    ("Formation", "1.5", "800.00", "5.5"),
    ("Pièces détachées", "3", "99.99", "10"),
]


# --- small local builders (rows + lines with totals from compute_totals) ---------------------------


def _lines(
    model: type[QuoteLine] | type[InvoiceLine], parent: str, parent_id: uuid.UUID, discount: Decimal
) -> tuple[list[Any], dict[str, Any]]:
    amounts = [LineAmounts(quantity=Decimal(q), unit_price=Decimal(p), vat_rate=Decimal(v)) for _d, q, p, v in LINES]
    totals = compute_totals(amounts, discount)
    link: dict[str, Any] = {parent: parent_id}
    rows = [
        model(
            **link,
            position=i,
            reference=f"REF-{i}",
            description=d,
            quantity=Decimal(q),
            unit="unit",
            unit_price=Decimal(p),
            vat_rate=Decimal(v),
            net_amount=t.net,
        )
        for i, ((d, q, p, v), t) in enumerate(zip(LINES, totals.lines, strict=True))
    ]
    return rows, {
        "total_excl_vat": totals.total_excl_vat,
        "total_vat": totals.total_vat,
        "total_incl_vat": totals.total_incl_vat,
    }


def make_quote_row(
    session: Session,
    owner: User,
    institution: Institution,
    *,
    status: QuoteStatus = QuoteStatus.SENT,
    number: str | None = None,
    order_number: str | None = None,
) -> Quote:
    quote_id = uuid.uuid4()
    lines, totals = _lines(QuoteLine, "quote_id", quote_id, Decimal("5"))
    quote = Quote(
        id=quote_id,
        number=number or f"DEV-2026-{uuid.uuid4().int % 100000:05d}",
        root_id=quote_id,
        status=status,
        title="Contrat de maintenance",
        institution_id=institution.id,
        owner_id=owner.id,
        team_id=owner.team_id,
        issue_date=date(2026, 3, 15),
        valid_until=date(2026, 4, 14),
        global_discount_percent=Decimal("5"),
        order_number=order_number,
        created_by=owner.id,
        **totals,
    )
    session.add(quote)
    session.flush()
    session.add_all(lines)
    session.flush()
    return quote


def make_invoice_row(
    session: Session,
    owner: User,
    institution: Institution,
    *,
    status: InvoiceStatus = InvoiceStatus.ISSUED,
    kind: InvoiceKind = InvoiceKind.INVOICE,
    credited: Invoice | None = None,
) -> Invoice:
    invoice_id = uuid.uuid4()
    lines, totals = _lines(InvoiceLine, "invoice_id", invoice_id, Decimal("0"))
    issued = status != InvoiceStatus.DRAFT
    prefix = "FAC" if kind is InvoiceKind.INVOICE else "AV"
    invoice = Invoice(
        id=invoice_id,
        kind=kind,
        status=status,
        institution_id=institution.id,
        owner_id=owner.id,
        team_id=owner.team_id,
        number=f"{prefix}-2026-{uuid.uuid4().int % 100000:05d}" if issued else None,
        issue_date=date(2026, 3, 15) if issued else None,
        due_date=date(2026, 3, 15) + timedelta(days=30) if issued else None,
        credited_invoice_id=credited.id if credited else None,
        created_by=owner.id,
        buyer={"name": "Nom figé à l'émission", "address_lines": ["1 rue Figée", "69003 Lyon"]} if issued else None,
        **totals,
    )
    session.add(invoice)
    session.flush()
    session.add_all(lines)
    session.flush()
    return invoice


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return " ".join(
        " ".join(page.extract_text() for page in reader.pages).replace("\u202f", " ").replace("\u00a0", " ").split()
    )


@pytest.fixture
def seller(db: Session) -> User:
    return make_user(db, role=Role.USER, name="Camille Vendeur", email="camille@example.org")


@pytest.fixture
def clinic(db: Session, seller: User) -> Institution:
    return make_buyer(db, name="Clinique des Lilas", street="3 rue des Lilas", postal_code="69003", city="Lyon")


# --- PDFs -----------------------------------------------------------------------------------------


def test_totals_come_from_the_lines_and_must_match_the_stored_ones(
    db: Session, seller: User, clinic: Institution
) -> None:
    quote = make_quote_row(db, seller, clinic)
    doc = documents.build_pdf_document(db, DocumentKind.QUOTE, quote.id)
    assert doc.totals.total_incl_vat == quote.total_incl_vat and doc.buyer.name == "Clinique des Lilas"
    assert doc.language == "fr" and doc.salesperson == "Camille Vendeur" and doc.valid_until == date(2026, 4, 14)
    quote.total_vat += Decimal("0.01")
    db.flush()
    with pytest.raises(documents.TotalsMismatch):
        documents.build_pdf_document(db, DocumentKind.QUOTE, quote.id)


def test_an_issued_invoice_is_stored_once_and_served_identical(db: Session, seller: User, clinic: Institution) -> None:
    invoice = make_invoice_row(db, seller, clinic)
    content, filename = documents.document_pdf(db, actor_of(seller), DocumentKind.INVOICE, invoice.id)
    assert filename == f"{invoice.number}.pdf"
    [stored] = db.exec(select(StoredDocument).where(StoredDocument.document_id == invoice.id)).all()
    assert stored.path == f"documents/invoice/{invoice.number}.pdf"
    assert stored.sha256 == hashlib.sha256(content).hexdigest() and stored.size == len(content)
    assert path_of(stored.path).read_bytes() == content
    text = pdf_text(content)
    assert invoice.number is not None and invoice.number in text
    assert "Nom figé à l'émission" in text  # the frozen buyer, not the institution's current name

    app_settings.update_section(db, SYSTEM_ACTOR, "branding", {"legal_name": "Nouvelle Raison Sociale"})
    again, _name = documents.document_pdf(db, actor_of(seller), DocumentKind.INVOICE, invoice.id)
    assert again == content  # the stored file, not a new rendering with the new branding
    assert len(db.exec(select(StoredDocument).where(StoredDocument.document_id == invoice.id)).all()) == 1


def test_an_issued_invoice_pdf_is_the_same_before_and_after_its_payments(
    db: Session, seller: User, clinic: Institution
) -> None:
    """The PDF stored at the first download is served for ever: it holds nothing a payment changes."""
    from crm_app.platform.i18n import gettext, use_locale
    from crm_app.sales import payments
    from crm_app.sales.pdf.render import render

    invoice = make_invoice_row(db, seller, clinic)
    actor = actor_of(seller)
    before = render(documents.build_pdf_document(db, DocumentKind.INVOICE, invoice.id))  # unpaid
    payments.record_payment(db, actor, invoice.id, {"amount": "100.00", "method": "transfer"})
    assert invoice.amount_paid == Decimal("100.00")
    content, _name = documents.document_pdf(db, actor, DocumentKind.INVOICE, invoice.id)  # first download
    assert content == before
    text = pdf_text(content)
    with use_locale("fr"):
        assert gettext("Amount paid") not in text and gettext("Amount due") not in text
        assert gettext("Total incl. VAT") in text
    payments.record_payment(
        db, actor, invoice.id, {"amount": str(invoice.total_incl_vat - Decimal("100.00")), "method": "check"}
    )
    assert invoice.status == InvoiceStatus.PAID
    again, _name = documents.document_pdf(db, actor, DocumentKind.INVOICE, invoice.id)
    assert again == content
    assert render(documents.build_pdf_document(db, DocumentKind.INVOICE, invoice.id)) == content


def test_a_draft_is_rendered_each_time_and_never_stored(db: Session, seller: User, clinic: Institution) -> None:
    for kind, row in (
        (DocumentKind.QUOTE, make_quote_row(db, seller, clinic, status=QuoteStatus.DRAFT)),
        (DocumentKind.INVOICE, make_invoice_row(db, seller, clinic, status=InvoiceStatus.DRAFT)),
    ):
        content, _filename = documents.document_pdf(db, actor_of(seller), kind, row.id)
        assert content.startswith(b"%PDF")
        from crm_app.platform.i18n import gettext, use_locale

        with use_locale("fr"):
            assert gettext("DRAFT") in pdf_text(content)
    assert db.exec(select(StoredDocument)).all() == []


def test_an_order_pdf_needs_an_order_number(db: Session, seller: User, clinic: Institution) -> None:
    quote = make_quote_row(db, seller, clinic, status=QuoteStatus.ACCEPTED)
    with pytest.raises(InvalidTransition):
        documents.document_pdf(db, actor_of(seller), DocumentKind.ORDER, quote.id)
    quote.status, quote.order_number = QuoteStatus.ORDERED, f"BC-2026-{uuid.uuid4().int % 100000:05d}"
    db.flush()
    content, filename = documents.document_pdf(db, actor_of(seller), DocumentKind.ORDER, quote.id)
    assert filename == f"{quote.order_number}.pdf" and quote.number in pdf_text(content)


def test_a_credit_note_refers_to_its_invoice(db: Session, seller: User, clinic: Institution) -> None:
    invoice = make_invoice_row(db, seller, clinic)
    credit = make_invoice_row(db, seller, clinic, kind=InvoiceKind.CREDIT_NOTE, credited=invoice)
    assert documents.invoice_document_kind(db, credit.id) is DocumentKind.CREDIT_NOTE
    content, _filename = documents.document_pdf(db, actor_of(seller), DocumentKind.CREDIT_NOTE, credit.id)
    text = pdf_text(content)
    assert credit.number is not None and credit.number in text
    assert invoice.number is not None and invoice.number in text


def test_a_credit_note_with_a_refund_shows_the_refunded_amount(db: Session, seller: User, clinic: Institution) -> None:
    from crm_app.platform.i18n import gettext, use_locale
    from crm_app.sales import invoices, payments
    from crm_app.sales.invoices import clean_refund

    actor = actor_of(seller)
    draft = invoices.create_invoice(
        db,
        actor,
        {
            "institution_id": clinic.id,
            "lines": [{"description": "Formation", "quantity": "1", "unit_price": "1000.00", "vat_rate": "20"}],
        },
    )
    invoice = invoices.issue_invoice(db, actor, draft.id)
    payments.record_payment(db, actor, invoice.id, {"amount": "1200.00", "method": "transfer"})
    refund = clean_refund({"amount": "1234.50", "method": "transfer"})
    with pytest.raises(ValidationFailed):  # never more than was paid
        invoices.create_credit_note(db, actor, invoice.id, refund=refund)
    note = invoices.create_credit_note(db, actor, invoice.id, refund={"amount": "987.65", "method": "transfer"})
    with use_locale("fr"):
        text = pdf_text(documents.document_pdf(db, actor, DocumentKind.CREDIT_NOTE, note.id)[0])
        assert gettext("Refunded") in text and "987,65" in text
    # An unpaid invoice's credit note shows no refund.
    other = invoices.issue_invoice(
        db,
        actor,
        invoices.create_invoice(
            db,
            actor,
            {"institution_id": clinic.id, "lines": [{"description": "x", "quantity": "1", "unit_price": "10"}]},
        ).id,
    )
    with use_locale("fr"):
        plain = invoices.create_credit_note(db, actor, other.id)
        text = pdf_text(documents.document_pdf(db, actor, DocumentKind.CREDIT_NOTE, plain.id)[0])
        assert gettext("Refunded") not in text and str(note.number) not in text


def test_rights_follow_the_document_owner(db: Session, seller: User, clinic: Institution) -> None:
    team = make_team(db)
    quote = make_quote_row(db, seller, clinic)
    other = actor_of(make_user(db, role=Role.USER))
    other_manager = actor_of(make_user(db, role=Role.MANAGER, team=team))
    for actor in (other, other_manager):
        with pytest.raises(Forbidden):
            documents.document_pdf(db, actor, DocumentKind.QUOTE, quote.id)
        with pytest.raises(Forbidden):
            documents.email_document(
                db, actor, DocumentKind.QUOTE, quote.id, contact_ids=[], extra_emails=["a@example.org"]
            )
    admin = actor_of(make_user(db, role=Role.ADMIN))
    assert documents.document_pdf(db, admin, DocumentKind.QUOTE, quote.id)[0].startswith(b"%PDF")


# --- templates ------------------------------------------------------------------------------------


def test_templates_render_the_document_fields_and_admin_overrides(
    db: Session, seller: User, clinic: Institution
) -> None:
    invoice = make_invoice_row(db, seller, clinic)
    fields = documents.template_fields(db, DocumentKind.INVOICE, invoice.id, language="fr")
    assert fields["due_date"] == "14 avril 2026" and fields["salesperson"] == "Camille Vendeur"
    subject, body = templates.render_template("invoice", fields, "fr", session=db)
    assert invoice.number is not None and invoice.number in subject
    assert fields["total"] in body and "14 avril 2026" in body and "{" not in body

    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(
            db,
            SYSTEM_ACTOR,
            "templates",
            {"invoice_subject": "Facture {numero}", "invoice_body": "Bonjour {number.__class__}"},
        )
    assert set(error.value.field_errors) == {"invoice_subject", "invoice_body"}
    app_settings.update_section(
        db, SYSTEM_ACTOR, "templates", {"invoice_subject": "Votre facture {number}", "invoice_body": "Total : {total}"}
    )
    assert templates.render_template("invoice", fields, "en", session=db) == (
        f"Votre facture {invoice.number}",
        f"Total : {fields['total']}",
    )
    preview = documents.template_preview(db, actor_of(make_user(db, role=Role.ADMIN)), "invoice")
    assert preview[0] == f"Votre facture {invoice.number}"


def test_the_preview_says_when_there_is_no_document_yet(db: Session) -> None:
    admin = actor_of(make_user(db, role=Role.ADMIN))
    subject, _body = documents.template_preview(db, admin, "credit_note")
    from crm_app.platform.i18n import gettext, use_locale

    with use_locale("fr"):
        assert subject == gettext("No document yet")
    with pytest.raises(Forbidden):
        documents.template_preview(db, actor_of(make_user(db, role=Role.MANAGER)), "quote")


# --- emails ---------------------------------------------------------------------------------------


def _attachment(db: Session, message_id: uuid.UUID) -> OutboxAttachment:
    return db.exec(select(OutboxAttachment).where(OutboxAttachment.outbox_id == message_id)).one()


def test_email_checks_recipients_and_refuses_drafts(db: Session, seller: User, clinic: Institution) -> None:
    actor = actor_of(seller)
    quote = make_quote_row(db, seller, clinic)
    elsewhere = make_contact(db, make_buyer(db), email="x@example.org")
    no_email = make_contact(db, clinic)
    cases: list[tuple[list[uuid.UUID], list[str]]] = [([elsewhere.id], []), ([no_email.id], []), ([], [])]
    for contact_ids, extra in cases:
        with pytest.raises(ValidationFailed) as error:
            documents.email_document(
                db, actor, DocumentKind.QUOTE, quote.id, contact_ids=contact_ids, extra_emails=extra
            )
        assert set(error.value.field_errors) == {"contact_ids"}
    with pytest.raises(ValidationFailed) as error:
        documents.email_document(db, actor, DocumentKind.QUOTE, quote.id, contact_ids=[], extra_emails=["nope"])
    assert set(error.value.field_errors) == {"extra_emails"}
    draft = make_quote_row(db, seller, clinic, status=QuoteStatus.DRAFT)
    with pytest.raises(InvalidTransition):
        documents.email_document(
            db, actor, DocumentKind.QUOTE, draft.id, contact_ids=[], extra_emails=["a@example.org"]
        )


def test_the_stored_pdf_is_attached_and_a_double_click_sends_once(
    db: Session, seller: User, clinic: Institution
) -> None:
    actor = actor_of(seller)
    quote = make_quote_row(db, seller, clinic)
    contact = make_contact(db, clinic, first_name="Zoé", last_name="Martin", email="zoe@clinique.example")
    content, _name = documents.document_pdf(db, actor, DocumentKind.QUOTE, quote.id)
    first = documents.email_document(
        db,
        actor,
        DocumentKind.QUOTE,
        quote.id,
        contact_ids=[contact.id],
        extra_emails=["compta@clinique.example"],
        request_key="dialog-1",
    )
    assert len(first) == 2
    again = documents.email_document(
        db,
        actor,
        DocumentKind.QUOTE,
        quote.id,
        contact_ids=[contact.id],
        extra_emails=["compta@clinique.example"],
        request_key="dialog-1",
    )
    assert again == first  # the same dialog's second click
    no_key = documents.email_document(db, actor, DocumentKind.QUOTE, quote.id, contact_ids=[contact.id])
    assert no_key == first[:1]  # an identical email queued moments ago
    on_purpose = documents.email_document(
        db, actor, DocumentKind.QUOTE, quote.id, contact_ids=[contact.id], request_key="dialog-2"
    )
    assert on_purpose[0] not in first  # sending again later, on purpose, is possible
    for message_id in first + on_purpose:
        attachment = _attachment(db, message_id)
        assert attachment.content == content  # the stored bytes: same sha256
        assert attachment.filename == f"{quote.number}.pdf"
    message = db.get(OutboxMessage, first[0])
    assert message is not None and quote.number in message.subject
    assert message.to_addresses == ["Zoé Martin <zoe@clinique.example>"]
    entries = db.exec(select(AuditEntry).where(AuditEntry.entity_id == quote.id)).all()
    assert (
        next(e.new_value for e in entries if e.field == "emailed_to") == "zoe@clinique.example, compta@clinique.example"
    )


def _committed_invoice_with_contact() -> tuple[Actor, uuid.UUID, uuid.UUID]:
    with unit_of_work() as session:
        seller = make_user(session, name="Camille Vendeur")
        clinic = make_buyer(session, name="Clinique des Lilas")
        contact = make_contact(session, clinic, first_name="Zoé", last_name="Martin", email="zoe@clinique.example")
        invoice = make_invoice_row(session, seller, clinic)
        return actor_of(seller), invoice.id, contact.id


def test_an_invoice_email_reaches_the_smtp_server_with_its_pdf(smtp_server: SMTPServer, clean_db: None) -> None:
    actor, invoice_id, contact_id = _committed_invoice_with_contact()
    with unit_of_work() as session:
        [message_id] = documents.email_document(
            session,
            actor,
            DocumentKind.INVOICE,
            invoice_id,
            contact_ids=[contact_id],
            subject="Votre facture",
            body="Bonjour,\nci-joint.",
        )
    assert smtp.send_pending() == {"sent": 1, "retry": 0, "failed": 0}
    [received] = smtp_server.messages
    assert received["Subject"] == "Votre facture" and received["To"] == "Zoé Martin <zoe@clinique.example>"
    [part] = [p for p in received.iter_attachments() if p.get_content_type() == "application/pdf"]
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    with unit_of_work() as session:
        stored = session.exec(select(StoredDocument).where(StoredDocument.document_id == invoice_id)).one()
        assert hashlib.sha256(content).hexdigest() == stored.sha256
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None and invoice.number is not None
        assert part.get_filename() == f"{invoice.number}.pdf"
        assert invoice.number in pdf_text(content)
    del message_id


def test_a_server_down_at_first_gets_the_message_once_when_it_is_back(
    smtp_server: SMTPServer, clean_db: None, clock: object
) -> None:
    actor, invoice_id, contact_id = _committed_invoice_with_contact()
    smtp_server.stop()
    with unit_of_work() as session:
        documents.email_document(session, actor, DocumentKind.INVOICE, invoice_id, contact_ids=[contact_id])
    assert smtp.send_pending() == {"sent": 0, "retry": 1, "failed": 0}
    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}  # backing off
    smtp_server.start()
    advance = clock
    assert callable(advance)
    advance(minutes=2)
    assert smtp.send_pending() == {"sent": 1, "retry": 0, "failed": 0}
    advance(hours=2)
    assert smtp.send_pending() == {"sent": 0, "retry": 0, "failed": 0}
    assert len(smtp_server.received) == 1
    [part] = list(smtp_server.messages[0].iter_attachments())
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    with unit_of_work() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None and invoice.number is not None and invoice.number in pdf_text(content)
