"""Invoices and credit notes: drafts, invoicing a quote (never above its total), issuing (numbers, dates,
buyer frozen, immutability), credit notes, rights, lists with totals, the detail, the timeline."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, col, select

from crm_app.institutions import service as institutions
from crm_app.institutions import timeline
from crm_app.institutions.models import CommercialStatus, Institution
from crm_app.platform import events
from crm_app.platform.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from crm_app.platform.identifiers import french_vat_number
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import Actor
from crm_app.sales import invoices, payments
from crm_app.sales import lines as document_lines
from crm_app.sales.invoices import InvoiceQuery
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from crm_app.sales.money import compute_totals
from tests.activity_factories import Org, make_org, notifications_of
from tests.institution_factories import make_buyer, make_contact, unique_siret
from tests.sales_factories import (
    make_accepted_quote,
    make_catalog_item,
    make_ordered_quote,
    make_quote,
    make_sent_quote,
    quote_line,
)

D = Decimal


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


@pytest.fixture
def institution(db: Session) -> Institution:
    return make_buyer(
        db,
        name="CHU de Bordeaux",
        street="Place Amélie Raba-Léon",
        postal_code="33000",
        city="Bordeaux",
        siret=unique_siret(),
        accounting_number=f"C{uuid.uuid4().hex[:6]}",
    )


def line(
    description: str = "Formation", quantity: str = "1", unit_price: str = "100.00", vat_rate: str = "20", **values: Any
) -> dict[str, Any]:
    return {"description": description, "quantity": quantity, "unit_price": unit_price, "vat_rate": vat_rate, **values}


def draft(
    db: Session, actor: Actor, institution: Institution, lines: list[dict[str, Any]] | None = None, **values: Any
) -> Invoice:
    return invoices.create_invoice(
        db, actor, {"institution_id": institution.id, "lines": lines if lines is not None else [line()], **values}
    )


def issued(
    db: Session, actor: Actor, institution: Institution, lines: list[dict[str, Any]] | None = None, **values: Any
) -> Invoice:
    return invoices.issue_invoice(db, actor, draft(db, actor, institution, lines, **values).id)


def stored_lines(db: Session, invoice: Invoice) -> list[InvoiceLine]:
    return list(
        db.exec(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(col(InvoiceLine.position))
        ).all()
    )


# --------------------------------------------------------------------------------------------
# Drafts


def test_a_draft_gets_totals_from_the_money_rules_and_the_default_payment_terms(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = draft(
        db,
        org.rep_a.actor,
        institution,
        [
            line(quantity="3", unit_price="33.33", vat_rate="20", discount_type="percent", discount_value="10"),
            line(quantity="1.5", unit_price="10.00", vat_rate="5.5"),
        ],
        global_discount_percent="5",
    )
    expected = compute_totals(
        [
            l_.amounts()
            for l_ in document_lines.clean_lines(
                db,
                [
                    line(quantity="3", unit_price="33.33", vat_rate="20", discount_type="percent", discount_value="10"),
                    line(quantity="1.5", unit_price="10.00", vat_rate="5.5"),
                ],
            )
        ],
        D("5"),
    )
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        expected.total_excl_vat,
        expected.total_vat,
        expected.total_incl_vat,
    )
    assert [stored.net_amount for stored in stored_lines(db, invoice)] == [D("89.99"), D("15.00")]
    assert invoice.status == InvoiceStatus.DRAFT and invoice.number is None
    assert invoice.payment_terms_days == 30
    assert invoice.owner_id == org.rep_a.id and invoice.team_id == org.rep_a.user.team_id


def test_the_institution_payment_terms_win_over_the_default(db: Session, org: Org) -> None:
    institution = make_buyer(db)
    institution = institutions.update_institution(
        db, org.admin.actor, institution.id, {"payment_terms_days": "45"}, expected_version=institution.version
    )  # as its form sets them
    assert draft(db, org.rep_a.actor, institution).payment_terms_days == 45
    assert draft(db, org.rep_a.actor, institution, payment_terms_days=60).payment_terms_days == 60


def test_line_errors_name_the_line_and_the_field(db: Session, org: Org, institution: Institution) -> None:
    with pytest.raises(ValidationFailed) as refused:
        draft(
            db,
            org.rep_a.actor,
            institution,
            [
                line(),
                line(vat_rate="19.6"),
                line(unit_price="-1"),
                line(quantity="1.2345"),
                line(description=" "),
                line(discount_type="amount", discount_value="500"),
            ],
        )
    errors = refused.value.field_errors
    assert errors["lines.1.vat_rate"] == "This VAT rate is not allowed."
    assert errors["lines.2.unit_price"] == "Out of range."
    assert errors["lines.3.quantity"] == "Too many decimals."
    assert errors["lines.4.description"] == "This field is required."
    with pytest.raises(ValidationFailed) as too_big:
        draft(db, org.rep_a.actor, institution, [line(), line(discount_type="amount", discount_value="500")])
    assert too_big.value.field_errors == {"lines.1.discount_value": "A discount cannot exceed the line's amount."}


def test_a_catalog_item_fills_what_an_invoice_line_leaves_out(db: Session, org: Org, institution: Institution) -> None:
    item = make_catalog_item(db, name="Endoscope", unit_price="1250.10", default_vat_rate="5.5", unit="kit")
    invoice = draft(
        db, org.rep_a.actor, institution, [{"catalog_item_id": str(item.id), "quantity": "2"}, line(vat_rate="")]
    )
    first, second = stored_lines(db, invoice)
    assert (first.description, first.unit_price, first.vat_rate, first.unit, first.net_amount) == (
        "Endoscope",
        D("1250.10"),
        D("5.5"),
        "kit",
        D("2500.20"),
    )
    assert second.vat_rate == D("20")  # the organisation's default rate


def test_a_malformed_catalog_item_next_to_a_valid_one_is_a_field_error(
    db: Session, org: Org, institution: Institution
) -> None:
    item = make_catalog_item(db)
    with pytest.raises(ValidationFailed) as refused:
        draft(
            db,
            org.rep_a.actor,
            institution,
            [
                line(catalog_item_id=str(item.id)),
                line(catalog_item_id="not-an-id"),
                line(catalog_item_id=str(uuid.uuid4())),
            ],
        )
    assert refused.value.field_errors == {
        "lines.1.catalog_item_id": "Unknown value.",
        "lines.2.catalog_item_id": "This catalog item does not exist.",
    }


def test_the_invoiced_amount_of_a_quote_leaves_cancelled_invoices_out(
    db: Session, org: Org, institution: Institution
) -> None:
    quote = make_accepted_quote(db, org.rep_a.actor, institution)  # 120.00 incl. VAT
    kept = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, amount_incl_vat=D("30.00"))
    cancelled = invoices.issue_invoice(
        db,
        org.rep_a.actor,
        invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, amount_incl_vat=D("50.00")).id,
    )
    cancelled.status = InvoiceStatus.CANCELLED  # the rule, whatever was credited on it
    db.add(cancelled)
    db.flush()
    assert invoices.invoiced_on_quote(db, quote.id) == D("30.00")
    assert invoices.invoiced_on_quote(db, quote.id, excluding=kept.id) == D("0.00")


def test_a_draft_needs_an_existing_institution_and_a_contact_of_it(
    db: Session, org: Org, institution: Institution
) -> None:
    with pytest.raises(ValidationFailed) as missing:
        invoices.create_invoice(db, org.rep_a.actor, {"lines": []})
    assert missing.value.field_errors == {"institution_id": "This field is required."}
    other = make_buyer(db)
    with pytest.raises(ValidationFailed) as wrong_contact:
        draft(db, org.rep_a.actor, institution, contact_id=make_contact(db, other).id)
    assert wrong_contact.value.field_errors == {"contact_id": "This contact belongs to another institution."}


def test_a_draft_is_edited_with_its_version_and_a_stale_one_is_refused(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = draft(db, org.rep_a.actor, institution)
    invoices.update_invoice(
        db,
        org.rep_a.actor,
        invoice.id,
        {"title": "Maintenance 2026", "lines": [line(quantity="2"), line(vat_rate="10")]},
        expected_version=1,
    )
    assert invoice.version == 2 and invoice.total_incl_vat == D("350.00")
    assert [stored.position for stored in stored_lines(db, invoice)] == [1, 2]
    with pytest.raises(Conflict) as stale:
        invoices.update_invoice(db, org.manager_a.actor, invoice.id, {"title": "Other"}, expected_version=1)
    assert stale.value.changed_by == org.rep_a.user.full_name


def test_a_delivery_address_is_refused_part_by_part_and_blank_means_the_buyers(
    db: Session, org: Org, institution: Institution
) -> None:
    actor = org.rep_a.actor
    with pytest.raises(ValidationFailed) as refused:
        draft(db, actor, institution, delivery_address={"name": "Bloc B", "street": "1 rue X", "postal_code": "440"})
    assert refused.value.field_errors == {
        "delivery_address.city": "Enter the delivery address: street, postal code and city.",
        "delivery_address.postal_code": "A French postal code has 5 digits.",
    }
    invoice = draft(
        db, actor, institution, delivery_address={"street": "1 rue X", "postal_code": "44 000", "city": "Nantes"}
    )
    assert invoice.delivery_address == {
        "name": "",
        "street": "1 rue X",
        "postal_code": "44000",
        "city": "Nantes",
        "country": "FR",
    }
    with pytest.raises(ValidationFailed) as country:
        invoices.update_invoice(
            db,
            actor,
            invoice.id,
            {"delivery_address": {"street": "Rue Neuve 1", "postal_code": "1000", "city": "Bruxelles", "country": "B"}},
            expected_version=invoice.version,
        )
    assert set(country.value.field_errors) == {"delivery_address.country"}
    invoices.update_invoice(
        db, actor, invoice.id, {"delivery_address": {"name": " ", "city": ""}}, expected_version=invoice.version
    )
    assert invoice.delivery_address is None
    assert invoices.get_invoice(db, actor, invoice.id).delivery_address is None


def test_a_draft_can_be_deleted_but_an_issued_invoice_cannot(db: Session, org: Org, institution: Institution) -> None:
    invoice = draft(db, org.rep_a.actor, institution)
    invoices.delete_draft(db, org.rep_a.actor, invoice.id)
    assert db.get(Invoice, invoice.id) is None
    sent = issued(db, org.rep_a.actor, institution)
    with pytest.raises(InvalidTransition) as refused:
        invoices.delete_draft(db, org.rep_a.actor, sent.id)
    assert refused.value.current_status == "issued"


# --------------------------------------------------------------------------------------------
# Issuing


def test_issuing_numbers_dates_and_freezes_the_buyer(db: Session, org: Org, institution: Institution) -> None:
    contact = make_contact(db, institution, first_name="Jeanne", last_name="Dupont", email="jd@chu.fr")
    invoice = issued(db, org.rep_a.actor, institution, contact_id=contact.id, payment_terms_days=45)
    year = invoices.today(db).year
    assert invoice.number is not None and invoice.number.startswith(f"FAC-{year}-")
    assert invoice.status == InvoiceStatus.ISSUED
    assert invoice.issue_date == invoices.today(db)
    assert invoice.due_date == invoice.issue_date + timedelta(days=45)
    assert invoice.issued_by == org.rep_a.id and invoice.issued_at is not None
    assert (
        invoice.buyer
        == {
            "name": "CHU de Bordeaux",
            "address_lines": ["Place Amélie Raba-Léon", "33000 Bordeaux"],
            "contact_name": "Jeanne Dupont",
            "siret": institution.siret,
            "siren": institution.siret[:9],  # type: ignore[index]
            "vat_number": french_vat_number(institution.siret[:9]),  # type: ignore[index]
            "accounting_number": institution.accounting_number,
            "email": "jd@chu.fr",
            "street": "Place Amélie Raba-Léon",
            "postal_code": "33000",
            "city": "Bordeaux",
            "country": "FR",
        }
    )
    # The institution changes later: the invoice keeps what was printed.
    institution.name = "CHU de Bordeaux (Pellegrin)"
    db.add(institution)
    db.flush()
    assert invoices.get_invoice(db, org.rep_a.actor, invoice.id).buyer["name"] == "CHU de Bordeaux"  # type: ignore[index]


def test_numbers_follow_each_other_per_sequence(db: Session, org: Org, institution: Institution) -> None:
    first = issued(db, org.rep_a.actor, institution)
    second = issued(db, org.rep_a.actor, institution)
    note = invoices.create_credit_note(db, org.rep_a.actor, first.id)
    assert first.number and second.number and note.number
    assert int(second.number.rsplit("-", 1)[1]) == int(first.number.rsplit("-", 1)[1]) + 1
    assert note.number.startswith(f"AV-{invoices.today(db).year}-")


def test_the_issue_date_is_today_in_the_organisation_time_zone(
    db: Session, org: Org, institution: Institution, clock: Callable[..., datetime]
) -> None:
    from crm_app.platform.models import base

    now = base.clock()
    # 23:30 UTC on 31 December is already 1 January in Paris: a new year and a new sequence.
    clock(seconds=(datetime(now.year, 12, 31, 23, 30, tzinfo=now.tzinfo) - now).total_seconds())
    invoice = issued(db, org.rep_a.actor, institution)
    assert invoice.issue_date == date(now.year + 1, 1, 1)
    assert invoice.number == f"FAC-{now.year + 1}-00001"


def test_numbers_stay_chronological(
    db: Session, org: Org, institution: Institution, clock: Callable[..., datetime]
) -> None:
    clock(days=3)
    issued(db, org.rep_a.actor, institution)
    clock(days=-2)  # the server's clock went back
    late = draft(db, org.rep_a.actor, institution)
    with pytest.raises(Conflict):
        invoices.issue_invoice(db, org.rep_a.actor, late.id)


def test_an_empty_draft_cannot_be_issued_and_an_issued_one_not_twice(
    db: Session, org: Org, institution: Institution
) -> None:
    empty = draft(db, org.rep_a.actor, institution, [])
    with pytest.raises(ValidationFailed) as refused:
        invoices.issue_invoice(db, org.rep_a.actor, empty.id)
    assert set(refused.value.field_errors) == {"lines"}
    invoice = issued(db, org.rep_a.actor, institution)
    with pytest.raises(InvalidTransition) as twice:
        invoices.issue_invoice(db, org.rep_a.actor, invoice.id)
    assert twice.value.current_status == "issued"


def test_an_issued_invoice_is_immutable(db: Session, org: Org, institution: Institution) -> None:
    invoice = issued(db, org.rep_a.actor, institution)
    for change in ({"title": "New"}, {"lines": [line(unit_price="1.00")]}, {"payment_terms_days": 10}):
        with pytest.raises(InvalidTransition) as refused:
            invoices.update_invoice(db, org.rep_a.actor, invoice.id, change, expected_version=invoice.version)
        assert refused.value.current_status == "issued"
    payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": "10.00", "method": "transfer"})
    with pytest.raises(InvalidTransition) as after_payment:
        invoices.update_invoice(db, org.admin.actor, invoice.id, {"title": "New"}, expected_version=invoice.version)
    assert after_payment.value.current_status == "partially_paid"
    assert [stored.unit_price for stored in stored_lines(db, invoice)] == [D("100.00")]


def test_the_first_issued_invoice_makes_a_prospect_a_client(db: Session, org: Org, institution: Institution) -> None:
    assert institution.commercial_status == CommercialStatus.PROSPECT
    draft(db, org.rep_a.actor, institution)
    assert institution.commercial_status == CommercialStatus.PROSPECT
    already = len(events.pending(db))
    issued(db, org.rep_a.actor, institution)
    db.refresh(institution)
    assert institution.commercial_status == CommercialStatus.CLIENT
    # Its open page and edit form hear of it (a form would otherwise save over the new status).
    changed = [e for e in events.pending(db)[already:] if isinstance(e, events.InstitutionChanged)]
    assert [(e.institution_id, e.actor_id) for e in changed] == [(institution.id, org.rep_a.actor.id)]


def test_every_change_is_in_the_audit_trail(db: Session, org: Org, institution: Institution) -> None:
    invoice = draft(db, org.rep_a.actor, institution)
    invoices.update_invoice(db, org.rep_a.actor, invoice.id, {"title": "T"}, expected_version=1)
    invoices.issue_invoice(db, org.rep_a.actor, invoice.id)
    payment = payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": "20", "method": "check"})
    payments.delete_payment(db, org.rep_a.actor, invoice.id, payment.id)
    db.flush()
    entries = db.exec(select(AuditEntry).where(AuditEntry.entity_id == invoice.id)).all()
    actions = {entry.action for entry in entries}
    assert {"create", "update", "issue", "payment", "payment_delete", "status"} <= actions
    assert all(entry.institution_id == institution.id and entry.actor_id == org.rep_a.id for entry in entries)
    assert any(entry.field == "number" and entry.new_value == invoice.number for entry in entries)


# --------------------------------------------------------------------------------------------
# Invoicing a quote


def test_an_accepted_quote_is_invoiced_in_one_click_with_its_lines(
    db: Session, org: Org, institution: Institution
) -> None:
    quote = make_accepted_quote(
        db,
        org.rep_a.actor,
        institution,
        [
            quote_line(quantity="2", unit_price="1250.00"),
            quote_line(description="Kit", unit_price="80.00", vat_rate="5.5"),
        ],
        global_discount_percent="3",
    )
    invoice = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)
    assert invoice.quote_id == quote.id and invoice.owner_id == quote.owner_id
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        quote.total_excl_vat,
        quote.total_vat,
        quote.total_incl_vat,
    )
    assert [(stored.description, stored.quantity) for stored in stored_lines(db, invoice)] == [
        ("Formation", D("2.000")),
        ("Kit", D("1.000")),
    ]
    assert invoices.get_invoice(db, org.rep_a.actor, invoice.id).row.quote_number == quote.number


def test_an_ordered_quote_can_be_invoiced_but_not_a_draft_or_sent_one(
    db: Session, org: Org, institution: Institution
) -> None:
    assert invoices.create_invoice_from_quote(
        db, org.rep_a.actor, make_ordered_quote(db, org.rep_a.actor, institution).id
    )
    for quote in (make_quote(db, org.rep_a.actor, institution), make_sent_quote(db, org.rep_a.actor, institution)):
        with pytest.raises(InvalidTransition) as refused:
            invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)
        assert refused.value.current_status == quote.status


def test_a_deposit_and_the_balance_make_the_quote_total_exactly(
    db: Session, org: Org, institution: Institution
) -> None:
    quote = make_accepted_quote(
        db,
        org.rep_a.actor,
        institution,
        [
            quote_line(quantity="3", unit_price="333.33"),
            quote_line(unit_price="99.99", vat_rate="10"),
            quote_line(unit_price="12.34", vat_rate="5.5"),
        ],
    )
    deposit = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, percent=D("30"))
    deposit_lines = stored_lines(db, deposit)
    assert len(deposit_lines) == 3  # one per VAT rate
    assert "30 %" in deposit_lines[0].description and quote.number in deposit_lines[0].description
    assert deposit.total_incl_vat <= (quote.total_incl_vat * D("0.3")).quantize(D("0.01"))
    assert abs(deposit.total_incl_vat - quote.total_incl_vat * D("0.3")) <= D("0.03")
    balance = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)
    assert quote.number in stored_lines(db, balance)[0].description
    assert deposit.total_incl_vat + balance.total_incl_vat <= quote.total_incl_vat
    assert quote.total_incl_vat - deposit.total_incl_vat - balance.total_incl_vat <= D("0.02")
    for stored in (deposit, balance):  # every part's totals come from its lines
        amounts = [
            document_lines.LineInput(
                description="x", quantity=l_.quantity, unit_price=l_.unit_price, vat_rate=l_.vat_rate
            ).amounts()
            for l_ in stored_lines(db, stored)
        ]
        assert compute_totals(amounts).total_incl_vat == stored.total_incl_vat


def test_a_quote_is_never_invoiced_above_its_total(db: Session, org: Org, institution: Institution) -> None:
    quote = make_accepted_quote(db, org.rep_a.actor, institution)  # 120.00 incl. VAT
    invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, amount_incl_vat=D("100.00"))
    with pytest.raises(ValidationFailed) as too_much:
        invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, amount_incl_vat=D("20.01"))
    assert too_much.value.field_errors == {"amount_incl_vat": "This would invoice more than the quote's total."}
    with pytest.raises(ValidationFailed):
        invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, percent=D("20"))
    rest = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id, amount_incl_vat=D("20.00"))
    assert rest.total_incl_vat == D("20.00")
    with pytest.raises(ValidationFailed) as full:
        invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)
    assert full.value.field_errors == {"amount_incl_vat": "This quote is already fully invoiced."}
    # Editing a draft of the quote cannot go above the total either.
    with pytest.raises(ValidationFailed):
        invoices.update_invoice(
            db, org.rep_a.actor, rest.id, {"lines": [line(unit_price="50.00")]}, expected_version=rest.version
        )


def test_a_credit_note_gives_room_back_on_the_quote_and_a_deleted_draft_too(
    db: Session, org: Org, institution: Institution
) -> None:
    quote = make_accepted_quote(db, org.rep_a.actor, institution)
    first = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)
    invoices.delete_draft(db, org.rep_a.actor, first.id)
    second = invoices.issue_invoice(
        db, org.rep_a.actor, invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id).id
    )
    invoices.create_credit_note(db, org.rep_a.actor, second.id, amount_incl_vat=D("60.00"))
    assert invoices.invoiced_on_quote(db, quote.id) == D("60.00")
    again = invoices.create_invoice_from_quote(db, org.rep_a.actor, quote.id)
    assert again.total_incl_vat <= D("60.00")


def test_invoicing_a_quote_needs_the_right_on_the_quote(db: Session, org: Org, institution: Institution) -> None:
    quote = make_accepted_quote(db, org.rep_a.actor, institution)
    with pytest.raises(Forbidden):
        invoices.create_invoice_from_quote(db, org.rep_b.actor, quote.id)
    assert invoices.create_invoice_from_quote(db, org.manager_a.actor, quote.id).owner_id == org.rep_a.id
    with pytest.raises(NotFound):
        invoices.create_invoice_from_quote(db, org.admin.actor, uuid.uuid4())


def test_part_lines_never_go_above_the_target() -> None:
    rows = [(D("20"), D("833.33")), (D("5.5"), D("10.01")), (D("0"), D("3.00"))]
    total = compute_totals(
        [document_lines.LineInput("x", D(1), base, rate).amounts() for rate, base in rows]
    ).total_incl_vat
    for cents in range(1, 2000, 37):
        target = D(cents) / 100 * 5
        parts = invoices.part_lines(rows, total, target, "Acompte")
        got = compute_totals([p.amounts() for p in parts]).total_incl_vat if parts else D("0.00")
        assert got <= target and target - got <= D("0.02"), (target, got)


# --------------------------------------------------------------------------------------------
# Credit notes


def test_a_full_credit_note_copies_the_lines_and_cancels_the_invoice(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(
        db, org.rep_a.actor, institution, [line(), line(vat_rate="10", unit_price="55.55")], global_discount_percent="2"
    )
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, notes="Erreur de facturation")
    assert note.kind == InvoiceKind.CREDIT_NOTE and note.status == InvoiceStatus.ISSUED
    assert note.credited_invoice_id == invoice.id and note.total_incl_vat == invoice.total_incl_vat
    assert [s.description for s in stored_lines(db, note)] == [s.description for s in stored_lines(db, invoice)]
    assert invoice.amount_credited == invoice.total_incl_vat and invoice.status == InvoiceStatus.CANCELLED
    detail = invoices.get_invoice(db, org.rep_a.actor, invoice.id)
    assert [row.number for row in detail.credit_notes] == [note.number] and detail.remaining == D("0.00")
    assert invoices.get_invoice(db, org.rep_a.actor, note.id).credited_invoice_number == invoice.number
    with pytest.raises(InvalidTransition) as again:
        invoices.create_credit_note(db, org.rep_a.actor, invoice.id)
    assert again.value.current_status == "cancelled"


def test_a_partial_credit_note_by_amount_or_by_lines_never_above_what_was_not_credited(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org.rep_a.actor, institution, [line(unit_price="1000.00")])  # 1,200.00
    payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": "700", "method": "transfer"})
    with pytest.raises(ValidationFailed) as too_much:
        invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("1200.01"))
    assert set(too_much.value.field_errors) == {"amount_incl_vat"}
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("120.00"))
    assert note.total_incl_vat == D("120.00") and note.total_excl_vat == D("100.00")
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID and invoices.remaining_amount(invoice) == D("380.00")
    with pytest.raises(ValidationFailed) as lines_too_much:
        invoices.create_credit_note(db, org.rep_a.actor, invoice.id, lines=[line(unit_price="900.01")])
    assert set(lines_too_much.value.field_errors) == {"lines"}
    invoices.create_credit_note(db, org.rep_a.actor, invoice.id, lines=[line(unit_price="300.00")])  # 360.00
    rest = invoices.create_credit_note(db, org.rep_a.actor, invoice.id)  # what remains unpaid
    assert rest.total_incl_vat == D("20.00") and rest.amount_refunded == D("0.00")
    # Paid 700 and credited 500: nothing remains, and money was received: paid.
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_credited == D("500.00")


def test_drafts_and_credit_notes_cannot_be_credited(db: Session, org: Org, institution: Institution) -> None:
    with pytest.raises(InvalidTransition) as on_draft:
        invoices.create_credit_note(db, org.rep_a.actor, draft(db, org.rep_a.actor, institution).id)
    assert on_draft.value.current_status == "draft"
    note = invoices.create_credit_note(
        db, org.rep_a.actor, issued(db, org.rep_a.actor, institution).id, amount_incl_vat=D("12.00")
    )
    with pytest.raises(InvalidTransition):
        invoices.create_credit_note(db, org.rep_a.actor, note.id)
    with pytest.raises(InvalidTransition):
        invoices.update_invoice(db, org.rep_a.actor, note.id, {"title": "x"}, expected_version=note.version)


# --------------------------------------------------------------------------------------------
# Rights


def test_a_user_sees_and_edits_only_their_own_invoices(db: Session, org: Org, institution: Institution) -> None:
    invoice = draft(db, org.rep_a.actor, institution)
    for other in (org.rep_a2, org.rep_b):
        with pytest.raises(Forbidden):
            invoices.get_invoice(db, other.actor, invoice.id)
        with pytest.raises(Forbidden):
            invoices.update_invoice(db, other.actor, invoice.id, {"title": "x"}, expected_version=1)
        with pytest.raises(Forbidden):
            invoices.issue_invoice(db, other.actor, invoice.id)
        with pytest.raises(Forbidden):
            invoices.delete_draft(db, other.actor, invoice.id)
    invoices.issue_invoice(db, org.rep_a.actor, invoice.id)
    for action in (
        lambda a: payments.record_payment(db, a, invoice.id, {"amount": "1", "method": "cash"}),
        lambda a: invoices.create_credit_note(db, a, invoice.id),
        lambda a: payments.list_payments(db, a, invoice.id),
    ):
        with pytest.raises(Forbidden):
            action(org.rep_b.actor)


def test_managers_reach_their_team_and_admins_everything(db: Session, org: Org, institution: Institution) -> None:
    mine = draft(db, org.rep_a.actor, institution)
    theirs = draft(db, org.rep_b.actor, institution)
    invoices.update_invoice(db, org.manager_a.actor, mine.id, {"title": "by manager"}, expected_version=1)
    with pytest.raises(Forbidden):
        invoices.update_invoice(db, org.manager_a.actor, theirs.id, {"title": "x"}, expected_version=1)
    invoices.issue_invoice(db, org.admin.actor, theirs.id)

    def listed(person: Any) -> set[uuid.UUID]:
        return {row.id for row in invoices.list_invoices(db, person.actor).items}

    assert listed(org.rep_a) == {mine.id}
    assert listed(org.rep_a2) == set()
    assert listed(org.manager_a) == {mine.id}
    assert listed(org.rep_b) == {theirs.id}
    assert listed(org.admin) >= {mine.id, theirs.id}


def test_a_user_cannot_create_an_invoice_for_someone_else(db: Session, org: Org, institution: Institution) -> None:
    with pytest.raises(Forbidden):
        draft(db, org.rep_a.actor, institution, owner_id=org.rep_a2.id)
    assert draft(db, org.manager_a.actor, institution, owner_id=org.rep_a2.id).owner_id == org.rep_a2.id


# --------------------------------------------------------------------------------------------
# Lists and totals


def test_the_list_filters_pages_and_totals_the_whole_filtered_list(
    db: Session, org: Org, clock: Callable[..., datetime]
) -> None:
    chu = make_buyer(db, name="Hôpital Saint-Éloi")
    other = make_buyer(db, name="Clinique du Parc")
    actor = org.rep_a.actor
    late = issued(db, actor, chu, [line(unit_price="1000.00")], payment_terms_days=0)  # 1,200.00
    part_paid = issued(db, actor, chu, [line(unit_price="500.00")])  # 600.00
    payments.record_payment(db, actor, part_paid.id, {"amount": "100.00", "method": "card"})
    paid = issued(db, actor, other, [line(unit_price="100.00")])  # 120.00
    payments.record_payment(db, actor, paid.id, {"amount": "120.00", "method": "cash"})
    credited = issued(db, actor, other, [line(unit_price="50.00")])  # 60.00
    note = invoices.create_credit_note(db, actor, credited.id, amount_incl_vat=D("24.00"))
    a_draft = draft(db, actor, other, [line(unit_price="10.00")])  # 12.00
    clock(days=1)  # `late` is past due now

    everything = invoices.list_invoices(db, actor)
    assert everything.total == 6
    assert everything.totals.total_incl_vat == D("1200.00") + D("600.00") + D("120.00") + D("60.00") - D("24.00") + D(
        "12.00"
    )
    assert everything.totals.outstanding == D("1200.00") + D("500.00") + D("36.00")
    assert everything.totals.overdue == D("1200.00")
    overdue = invoices.list_invoices(db, actor, InvoiceQuery(overdue=True))
    assert [row.id for row in overdue.items] == [late.id] and overdue.items[0].is_overdue

    by_name = invoices.list_invoices(db, actor, InvoiceQuery(q="SAINT-ÉLOI"))
    assert {row.id for row in by_name.items} == {late.id, part_paid.id}
    by_number = invoices.list_invoices(db, actor, InvoiceQuery(q=paid.number or ""))
    assert [row.id for row in by_number.items] == [paid.id]
    assert {row.id for row in invoices.list_invoices(db, actor, InvoiceQuery(kind=InvoiceKind.CREDIT_NOTE)).items} == {
        note.id
    }
    statuses = InvoiceQuery(statuses=(InvoiceStatus.PAID, InvoiceStatus.DRAFT))
    assert {row.id for row in invoices.list_invoices(db, actor, statuses).items} == {paid.id, a_draft.id}
    amounts = InvoiceQuery(min_amount=D("100"), max_amount=D("600"))
    assert {row.id for row in invoices.list_invoices(db, actor, amounts).items} == {part_paid.id, paid.id}
    today = invoices.today(db)
    due = InvoiceQuery(due_from=today, due_to=today + timedelta(days=40))
    assert {row.id for row in invoices.list_invoices(db, actor, due).items} == {part_paid.id, paid.id, credited.id}
    issued_range = InvoiceQuery(issued_from=today - timedelta(days=1), issued_to=today - timedelta(days=1))
    assert invoices.list_invoices(db, actor, issued_range).total == 5
    assert invoices.list_invoices(db, actor, InvoiceQuery(institution_id=chu.id)).total == 2

    first = invoices.list_invoices(db, actor, InvoiceQuery(sort="amount", descending=True), PageRequest(1, 2))
    assert [row.id for row in first.items] == [late.id, part_paid.id]
    assert first.total == 6 and first.totals == everything.totals
    row = next(r for r in everything.items if r.id == part_paid.id)
    assert (row.remaining, row.amount_paid, row.status, row.institution_name, row.owner_name) == (
        D("500.00"),
        D("100.00"),
        InvoiceStatus.PARTIALLY_PAID,
        "Hôpital Saint-Éloi",
        org.rep_a.user.full_name,
    )


def test_query_from_url_parameters() -> None:
    query = InvoiceQuery.from_params(
        {
            "status": ["issued,overdue", "bogus"],
            "kind": "invoice",
            "overdue": "1",
            "min_amount": "1 000,50",
            "due_from": "2026-03-01",
            "issued_to": "nonsense",
            "sort": "-due",
            "q": " FAC ",
        }
    )
    assert query.statuses == (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE) and query.kind == InvoiceKind.INVOICE
    assert query.overdue and query.min_amount == D("1000.50") and query.due_from == date(2026, 3, 1)
    assert query.issued_to is None and (query.sort, query.descending) == ("due", True)
    assert (InvoiceQuery.from_params({}).sort, InvoiceQuery.from_params({}).descending) == ("created", True)


# --------------------------------------------------------------------------------------------
# Detail, notifications, timeline


def test_the_detail_shows_lines_vat_rows_payments_and_remaining(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org.rep_a.actor, institution, [line(), line(unit_price="200.00", vat_rate="5.5")])
    payments.record_payment(
        db, org.rep_a.actor, invoice.id, {"amount": "50.00", "method": "transfer", "reference": "VIR 123"}
    )
    detail = invoices.get_invoice(db, org.rep_a.actor, invoice.id)
    assert [(row.rate, row.base, row.vat) for row in detail.totals.vat_rows] == [
        (D("20"), D("100.00"), D("20.00")),
        (D("5.5"), D("200.00"), D("11.00")),
    ]
    assert detail.totals.total_incl_vat == invoice.total_incl_vat == D("331.00")
    assert [(p.amount, p.method, p.reference) for p in detail.payments] == [(D("50.00"), "transfer", "VIR 123")]
    assert detail.remaining == D("281.00") and detail.row.can_edit
    assert [line_.position for line_ in detail.lines] == [1, 2]


def test_the_owner_is_told_when_their_invoice_is_paid(db: Session, org: Org, institution: Institution) -> None:
    invoice = issued(db, org.rep_a.actor, institution)
    payments.record_payment(db, org.manager_a.actor, invoice.id, {"amount": "120.00", "method": "transfer"})
    told = [n for n in notifications_of(db, org.rep_a) if n.kind == "invoice.paid"]
    assert len(told) == 1 and told[0].params == {"number": invoice.number} and told[0].link == f"/invoices/{invoice.id}"


def test_the_institution_timeline_shows_issued_invoices_credit_notes_and_payments(
    db: Session, org: Org, institution: Institution
) -> None:
    invoice = issued(db, org.rep_a.actor, institution)
    draft(db, org.rep_a.actor, institution)
    payments.record_payment(db, org.rep_a.actor, invoice.id, {"amount": "20.00", "method": "check"})
    note = invoices.create_credit_note(db, org.rep_a.actor, invoice.id, amount_incl_vat=D("12.00"))
    page = timeline.timeline(db, org.rep_a.actor, institution.id, kinds=["invoice", "payment"])
    assert {(entry.kind, entry.title) for entry in page.items} == {
        ("invoice", invoice.number),
        ("invoice", note.number),
        ("payment", invoice.number),
    }
    assert all(entry.link and entry.link.startswith("/invoices/") for entry in page.items)
    assert timeline.timeline(db, org.rep_b.actor, institution.id, kinds=["invoice", "payment"]).total == 0
