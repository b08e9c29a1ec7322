"""Every audit entry the sales and institutions services write reads in words: its kind, its action and its
field are worded (`HISTORY_WORDING`), so no history or timeline shows their codes."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.platform import audit
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import documents, invoices, payments, quotes
from tests.activity_factories import make_org
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_ordered_quote, make_quote


def test_every_entry_of_a_document_s_life_is_worded(db: Session) -> None:
    org = make_org(db)
    rep = org.rep_a.actor
    institution = make_buyer(db, org.admin.actor)
    contact = make_contact(db, institution, first_name="Jeanne", last_name="Dupont", email="jeanne@ex.org")
    contacts.update_contact(db, SYSTEM_ACTOR, contact.id, {"title": "Cadre de santé"}, expected_version=1)
    institutions.set_archived(db, SYSTEM_ACTOR, institution.id, True)
    institutions.set_archived(db, SYSTEM_ACTOR, institution.id, False)
    draft = make_quote(db, rep, institution)
    quotes.revise_quote(db, rep, quotes.send_quote(db, rep, draft.id).id)
    quote = make_ordered_quote(db, rep, institution)
    documents.email_document(db, rep, "quote", quote.id, contact_ids=[contact.id])
    documents.email_document(db, rep, "order", quote.id, contact_ids=[contact.id])
    invoice = invoices.issue_invoice(db, rep, invoices.create_invoice_from_quote(db, rep, quote.id).id)
    payment = payments.record_payment(db, rep, invoice.id, {"amount": "10.00", "method": "transfer"})
    payments.delete_payment(db, rep, invoice.id, payment.id)
    documents.email_document(db, rep, "invoice", invoice.id, contact_ids=[contact.id])
    note = invoices.create_credit_note(db, rep, invoice.id, amount_incl_vat=Decimal("12.00"))
    documents.email_document(db, rep, "credit_note", note.id, contact_ids=[contact.id])
    quotes.cancel_quote(db, rep, make_quote(db, rep, institution).id)
    db.flush()

    entries = db.exec(select(AuditEntry)).all()
    kinds = {entry.entity_type for entry in entries}
    assert {"institution", "contact", "quote", "order", "invoice", "credit_note"} <= kinds
    unworded: set[tuple[str, ...]] = set()
    for entry in entries:
        wording = audit.wording(entry.entity_type)
        if wording is None or entry.action not in wording.actions:
            unworded.add((entry.entity_type, entry.action))
        elif entry.field is not None and entry.field not in wording.fields:
            unworded.add((entry.entity_type, entry.action, entry.field))
    assert not unworded
    # The quote's own History tells its order's emails too (they were in no history at all).
    history = quotes.quote_history(db, rep, quote.id).items
    assert {(row.entity_type, row.action) for row in history} >= {("quote", "email"), ("order", "email")}
