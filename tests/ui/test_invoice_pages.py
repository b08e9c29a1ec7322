"""/invoices with NiceGUI's simulated user: a draft from scratch then issued (its number shown), a
partial payment (status and remaining amount), a payment above what remains refused next to the
amount, a credit note cancelling the invoice, another user's invoice refused by URL, and the list's
filters restored from the URL with the totals of the filtered list."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from nicegui.testing import User
from pypdf import PdfReader
from sqlmodel import select

from components.line_editor import number_text
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, gettext, pgettext
from crm_app.platform.models.outbox import OutboxMessage
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.sales import invoices, payments
from crm_app.sales.invoices import STATUS_LABELS
from crm_app.sales.models.invoices import Invoice, InvoiceKind, InvoiceStatus
from tests.factories import actor_of, make_team, make_user
from tests.ui.conftest import actor_for, element, eventually, log_in, nav_paths, new_buyer, new_contact, table_rows

YEAR_PREFIX = "FAC-"


def _invoice(
    actor: Actor,
    institution_id: uuid.UUID,
    *,
    unit_price: str = "1000.00",
    issue: bool = True,
    title: str = "Endoscopy column",
) -> uuid.UUID:
    """An invoice of one line at 20 % VAT (1,000 € → 1,200 € incl. VAT), issued unless told otherwise."""
    with unit_of_work() as session:
        invoice = invoices.create_invoice(
            session,
            actor,
            {
                "institution_id": institution_id,
                "title": title,
                "lines": [
                    {"description": "Colonne d'endoscopie", "quantity": "1", "unit_price": unit_price, "vat_rate": "20"}
                ],
            },
        )
        if issue:
            invoices.issue_invoice(session, actor, invoice.id)
        return invoice.id


def _stored(invoice_id: uuid.UUID) -> Invoice:
    with unit_of_work() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice


def _text(user: User, marker: str) -> str:
    return str(element(user, marker).text)


def _emit(user: User, marker: str, event: str, args: Any) -> None:
    """What a button inside a table's slot does in the browser: emit the table's event."""
    table = element(user, marker)
    for listener in table._event_listeners.values():
        if listener.type == event:
            table._handle_event({"listener_id": listener.id, "args": args})


async def _open(user: User, email: str, path: str) -> None:
    await log_in(user, email, path=f"/login?redirect_to={quote(path, safe='/')}")


async def test_invoice_from_scratch_is_saved_as_a_draft_then_issued_with_its_number(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    institution_id = new_buyer("Clinique des Cèdres")
    await _open(ui_user, email, f"/invoices/new?institution_id={institution_id}")
    await ui_user.should_see(marker="invoice-save", retries=50)
    assert element(ui_user, "invoice-institution").selected_id == institution_id
    ui_user.find(marker="add-line").click()
    await ui_user.should_see(marker="line-0-description")
    element(ui_user, "line-0-description").value = "Journée de formation bloc"
    element(ui_user, "line-0-quantity").value = "2"
    element(ui_user, "line-0-unit_price").value = "850"
    element(ui_user, "invoice-terms").value = "45"
    await eventually(
        lambda: _text(ui_user, "total-incl") == format_currency(Decimal("2040.00")),
        "the editor does not show 2 × 850 € + 20 % VAT",
    )
    ui_user.find(marker="invoice-save").click()
    await ui_user.should_see(marker="invoice-issue", retries=50)
    await ui_user.should_not_see(marker="invoice-number")  # no "Draft [Draft]": the badge alone says it
    assert _text(ui_user, "invoice-status") == gettext("Draft")
    with unit_of_work() as session:
        saved = session.exec(select(Invoice)).one()
    assert (saved.status, saved.number, saved.total_incl_vat, saved.payment_terms_days) == (
        InvoiceStatus.DRAFT,
        None,
        Decimal("2040.00"),
        45,
    )

    ui_user.find(marker="invoice-issue").click()
    await ui_user.should_see(marker="issue-dialog")
    await ui_user.should_see(gettext("Issue this invoice?"))
    ui_user.find(marker="issue-confirm").click()
    await ui_user.should_see(marker="invoice-number")
    await eventually(lambda: _text(ui_user, "invoice-number").startswith(YEAR_PREFIX), "no number after issuing")
    issued = _stored(saved.id)
    assert issued.status == InvoiceStatus.ISSUED
    assert _text(ui_user, "invoice-number") == issued.number
    assert issued.number is not None and issued.number.endswith("-00001")
    assert _text(ui_user, "invoice-status") == gettext("Issued")
    await ui_user.should_not_see(marker="invoice-edit")  # an issued invoice is no longer changed

    ui_user.find(marker="invoice-pdf").click()
    response = await ui_user.download.next(timeout=10)
    assert response.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert issued.number in text


async def test_partial_payment_then_a_payment_above_the_remaining_amount_is_refused_next_to_the_amount(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    invoice_id = _invoice(actor_for(email), new_buyer("CH de Brest"))
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="invoice-pay", retries=50)
    assert _text(ui_user, "invoice-remaining") == format_currency(Decimal("1200.00"))

    ui_user.find(marker="invoice-pay").click()
    await ui_user.should_see(marker="payment-dialog")
    amount = element(ui_user, "payment-amount")
    assert Decimal(str(amount.value).replace(",", ".")) == Decimal("1200.00")  # prefilled: what remains
    amount.value = "400"
    element(ui_user, "payment-reference").value = "VIR 2026-118"
    ui_user.find(marker="payment-save").click()
    await eventually(
        lambda: _text(ui_user, "invoice-status") == gettext("Partially paid"), "the status is not partially paid"
    )
    assert _text(ui_user, "invoice-remaining") == format_currency(Decimal("800.00"))
    assert [row["reference"] for row in table_rows(ui_user, "payments-table")] == ["VIR 2026-118"]
    # The first dialog closes once its action has redrawn the page: wait for it to be gone, or the
    # next "payment-amount" may be its field rather than the new dialog's.
    await eventually(lambda: not ui_user._gather_elements(None, None, "payment-dialog", None), "the dialog stays")

    ui_user.find(marker="invoice-pay").click()
    await ui_user.should_see(marker="payment-dialog")
    amount = element(ui_user, "payment-amount")
    amount.value = "800,01"
    ui_user.find(marker="payment-save").click()
    await eventually(lambda: bool(amount.error), "no error next to the amount")
    assert amount.error == gettext("A payment cannot exceed what remains due on the invoice.")
    stored = _stored(invoice_id)
    assert (stored.amount_paid, stored.status) == (Decimal("400.00"), InvoiceStatus.PARTIALLY_PAID)


async def test_a_full_credit_note_cancels_the_invoice_and_is_linked_from_it(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    invoice_id = _invoice(actor_for(email), new_buyer("Laboratoire Pasteur Biologie"))
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="invoice-credit", retries=50)
    ui_user.find(marker="invoice-credit").click()
    await ui_user.should_see(marker="credit-dialog")
    ui_user.find(marker="credit-save").click()
    await eventually(lambda: _text(ui_user, "invoice-status") == gettext("Cancelled"), "the invoice is not cancelled")
    with unit_of_work() as session:
        note = session.exec(select(Invoice).where(Invoice.kind == InvoiceKind.CREDIT_NOTE)).one()
    assert note.credited_invoice_id == invoice_id and note.total_incl_vat == Decimal("1200.00")
    await ui_user.should_see(note.number or "-")
    await ui_user.should_not_see(marker="invoice-pay")


async def test_a_partial_credit_note_by_amount_leaves_the_rest_due(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    invoice_id = _invoice(actor_for(email), new_buyer("Clinique du Parc"))
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="invoice-credit", retries=50)
    ui_user.find(marker="invoice-credit").click()
    await ui_user.should_see(marker="credit-dialog")
    element(ui_user, "credit-mode").value = "amount"
    amount = element(ui_user, "credit-amount")
    amount.value = "1300"
    ui_user.find(marker="credit-save").click()
    await eventually(lambda: bool(amount.error), "no error next to the credit note's amount")
    assert amount.error == gettext("A credit note cannot exceed what has not been credited on the invoice.")
    amount.value = "240"
    ui_user.find(marker="credit-save").click()
    await eventually(
        lambda: _text(ui_user, "invoice-remaining") == format_currency(Decimal("960.00")),
        "the remaining amount does not drop by the credit note",
    )
    assert _text(ui_user, "invoice-status") == gettext("Issued")


async def test_a_paid_invoice_is_credited_with_its_refund_and_the_credit_note_shows_it(
    ui_user: User, account: Callable[..., str]
) -> None:
    """Paid 1,200 €, credited 480 € with the refund prefilled; a refund above what is refundable is
    refused next to its amount; the rest refunded later on the credit note's page: every balance at 0."""
    email = account()
    actor = actor_for(email)
    invoice_id = _invoice(actor, new_buyer("Clinique Saint-Roch"))
    with unit_of_work() as session:
        payments.record_payment(session, actor, invoice_id, {"amount": "1200", "method": "transfer"})
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="invoice-credit", retries=50)
    await ui_user.should_not_see(marker="invoice-pay")
    ui_user.find(marker="invoice-credit").click()
    await ui_user.should_see(marker="credit-dialog")
    await ui_user.should_see(marker="credit-paid-note")
    # Nothing remains due: the whole invoice is offered first, its refund prefilled with all that was paid.
    assert element(ui_user, "credit-mode").value == "whole"
    assert element(ui_user, "credit-refund-now").value is True
    assert element(ui_user, "credit-refund-amount").value == number_text(Decimal("1200.00"))
    element(ui_user, "credit-mode").value = "amount"
    element(ui_user, "credit-amount").value = "480"
    refund_amount = element(ui_user, "credit-refund-amount")
    await eventually(
        lambda: refund_amount.value == number_text(Decimal("480.00")), "the refund does not follow the credited amount"
    )
    refund_amount.value = "500"
    element(ui_user, "credit-refund-reference").value = "VIR-RBT-7"
    ui_user.find(marker="credit-save").click()
    await eventually(lambda: bool(refund_amount.error), "no error next to the refund's amount")
    assert refund_amount.error == gettext("A refund cannot exceed what remains to refund.")
    refund_amount.value = "300"
    ui_user.find(marker="credit-save").click()
    await ui_user.should_see(marker="invoice-refunded", retries=50)
    await eventually(
        lambda: _text(ui_user, "invoice-refunded") == format_currency(Decimal("300.00")),
        "the invoice does not show the refund",
    )
    assert _text(ui_user, "invoice-paid") == format_currency(Decimal("1200.00"))
    assert _text(ui_user, "invoice-credited") == format_currency(Decimal("480.00"))
    assert _text(ui_user, "invoice-to-refund") == format_currency(Decimal("180.00"))
    assert _text(ui_user, "invoice-remaining") == format_currency(Decimal("-180.00"))
    assert [row["reference"] for row in table_rows(ui_user, "invoice-refunds-table")] == ["VIR-RBT-7"]

    with unit_of_work() as session:
        note = session.exec(select(Invoice).where(Invoice.kind == InvoiceKind.CREDIT_NOTE)).one()
    await ui_user.open(f"/invoices/{note.id}")
    await ui_user.should_see(marker="credit-note-refund", retries=50)
    assert _text(ui_user, "credit-note-refundable") == format_currency(Decimal("180.00"))
    ui_user.find(marker="credit-note-refund").click()
    await ui_user.should_see(marker="refund-dialog")
    assert element(ui_user, "refund-amount").value == number_text(Decimal("180.00"))
    element(ui_user, "refund-method").value = "check"
    ui_user.find(marker="refund-save").click()
    await eventually(
        lambda: _text(ui_user, "credit-note-refundable") == format_currency(Decimal("0.00")),
        "the credit note still has something to refund",
    )
    assert _text(ui_user, "credit-note-refunded") == format_currency(Decimal("480.00"))
    assert len(table_rows(ui_user, "refunds-table")) == 2
    await ui_user.should_not_see(marker="credit-note-refund")
    stored = _stored(invoice_id)
    assert (stored.status, stored.amount_refunded, invoices.remaining_amount(stored)) == (
        InvoiceStatus.PAID,
        Decimal("480.00"),
        Decimal("0.00"),
    )


async def test_a_user_cannot_open_another_users_invoice_by_its_url(ui_user: User, account: Callable[..., str]) -> None:
    owner = account(email="hugo@example.org", name="Hugo Lefebvre")
    invoice_id = _invoice(actor_for(owner), new_buyer("CHU de Rennes"))
    number = _stored(invoice_id).number
    assert number is not None
    intruder = account(email="lea@example.org", name="Léa Moreau")
    await _open(ui_user, intruder, f"/invoices/{invoice_id}")
    await ui_user.should_see(gettext("You are not allowed to open this page."), retries=50)
    await ui_user.should_not_see(number)
    await ui_user.should_not_see(marker="invoice-pay")


async def test_the_list_restores_its_filters_from_the_url_with_the_totals_of_the_filtered_list(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(role=Role.MANAGER)
    actor = actor_for(email)
    brest, lyon = new_buyer("CH de Brest"), new_buyer("Clinique Saint-Joseph")
    _invoice(actor, brest, unit_price="1000.00")
    _invoice(actor, lyon, unit_price="500.00")
    _invoice(actor, brest, unit_price="250.00", issue=False)
    await _open(ui_user, email, f"/invoices?status=issued&kind=invoice&institution_id={brest}&sort=-amount")
    await ui_user.should_see(marker="invoices-table", retries=50)
    await eventually(lambda: "/invoices" in nav_paths(ui_user), "no menu entry")

    def numbers() -> list[Any]:
        return [row["total"] for row in table_rows(ui_user, "invoices-table")]

    await eventually(lambda: numbers() == [format_currency(Decimal("1200.00"))], "the filtered list is wrong")
    assert element(ui_user, "filter-status").value == ["issued"]
    assert element(ui_user, "filter-kind").value == "invoice"
    assert element(ui_user, "filter-institution").selected_id == brest
    assert _text(ui_user, "invoices-sum-total") == format_currency(Decimal("1200.00"))
    assert _text(ui_user, "invoices-sum-outstanding") == format_currency(Decimal("1200.00"))
    assert _text(ui_user, "invoices-sum-overdue") == format_currency(Decimal("0"))

    element(ui_user, "filter-institution").set_value(None)  # the screen reloads with the others
    await eventually(
        lambda: numbers() == [format_currency(Decimal("1200.00")), format_currency(Decimal("600.00"))],
        "clearing the institution does not bring the other invoice",
    )
    assert _text(ui_user, "invoices-sum-outstanding") == format_currency(Decimal("1800.00"))


async def test_a_draft_is_edited_and_saved_with_its_new_lines(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    invoice_id = _invoice(actor_for(email), new_buyer("Clinique Bel-Air"), issue=False)
    await _open(ui_user, email, f"/invoices/{invoice_id}/edit")
    await ui_user.should_see(marker="invoice-save", retries=50)
    assert element(ui_user, "line-0-description").value == "Colonne d'endoscopie"
    element(ui_user, "line-0-quantity").value = "3"
    element(ui_user, "line-0-unit_price").value = "abc"
    ui_user.find(marker="invoice-save").click()
    price = element(ui_user, "line-0-unit_price")
    await eventually(lambda: bool(price.error), "no error next to the unit price")
    assert _stored(invoice_id).total_incl_vat == Decimal("1200.00")  # nothing saved
    price.value = "100"
    ui_user.find(marker="invoice-save").click()
    await ui_user.should_see(marker="invoice-issue", retries=50)
    stored = _stored(invoice_id)
    assert (stored.total_incl_vat, stored.status) == (Decimal("360.00"), InvoiceStatus.DRAFT)


async def test_deleting_a_payment_recomputes_the_status(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    invoice_id = _invoice(actor_for(email), new_buyer("Centre médical Pasteur"))
    with unit_of_work() as session:
        payments.record_payment(session, actor_for(email), invoice_id, {"amount": "1200.00", "method": "check"})
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="payments-table", retries=50)
    assert _text(ui_user, "invoice-status") == gettext("Paid")
    await ui_user.should_not_see(marker="invoice-pay")
    payment_id = table_rows(ui_user, "payments-table")[0]["id"]
    _emit(ui_user, "payments-table", "delete_payment", payment_id)
    await ui_user.should_see(marker="confirm-dialog")
    ui_user.find(marker="confirm-yes").click()
    await eventually(lambda: _text(ui_user, "invoice-status") == gettext("Issued"), "the status is not recomputed")
    assert _text(ui_user, "invoice-remaining") == format_currency(Decimal("1200.00"))
    assert _stored(invoice_id).amount_paid == Decimal("0.00")


async def test_an_issued_invoice_is_emailed_to_its_contact_with_the_pdf(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    institution_id = new_buyer("CHU de Nantes")
    contact_id = new_contact(institution_id, "Inès", "Garnier", email="ines.garnier@chu-nantes.example")
    with unit_of_work() as session:
        invoice = invoices.create_invoice(
            session,
            actor_for(email),
            {
                "institution_id": institution_id,
                "contact_id": contact_id,
                "lines": [{"description": "Formation", "quantity": "1", "unit_price": "900", "vat_rate": "20"}],
            },
        )
        invoices.issue_invoice(session, actor_for(email), invoice.id)
        invoice_id, number = invoice.id, invoice.number
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="invoice-email", retries=50)
    ui_user.find(marker="invoice-email").click()
    await ui_user.should_see(marker="email-dialog", retries=50)
    assert element(ui_user, "email-recipients").value == [str(contact_id)]
    assert number and number in element(ui_user, "email-subject").value
    ui_user.find(marker="email-send").click()
    await ui_user.should_not_see(marker="email-dialog", retries=50)
    with unit_of_work() as session:
        sent = session.exec(select(OutboxMessage)).one()
    assert sent.related_id == invoice_id and sent.to_addresses and "ines.garnier" in sent.to_addresses[0]


async def test_the_history_reads_amounts_and_actions_in_french_and_the_paid_amount_is_not_a_status(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    invoice_id = _invoice(actor_for(email), new_buyer("CH de Vannes"))
    with unit_of_work() as session:
        payments.record_payment(session, actor_for(email), invoice_id, {"amount": "50.00", "method": "transfer"})
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="invoice-paid-label", retries=50)
    # The amount ("Payé"), a message of its own: not the status ("Payée", `invoices.STATUS_LABELS`).
    assert _text(ui_user, "invoice-paid-label") == pgettext("amount", "Paid")
    await eventually(lambda: len(table_rows(ui_user, "invoice-history")) >= 3, "no history")
    history = table_rows(ui_user, "invoice-history")
    changes = {row["field"]: row["change"] for row in history}
    assert changes[pgettext("amount", "Paid")] == f"{format_currency(Decimal('0'))} → {format_currency(Decimal('50'))}"
    assert changes[gettext("Total incl. VAT")] == format_currency(Decimal("1200.00"))  # not "1200.00"
    created = [row["what"] for row in history if row["change"] == format_currency(Decimal("1200.00"))]
    assert created == [gettext("Invoice {name} created", name=_stored(invoice_id).number)]  # not "Créés"


async def test_the_list_follows_the_invoices_others_save_without_reload(ui_user: User) -> None:
    with unit_of_work() as session:
        team = make_team(session, "Ouest")
        make_user(session, role=Role.MANAGER, email="marc@example.org", name="Marc Manager", team=team)
        rep = actor_of(make_user(session, email="rita@example.org", name="Rita Rep", team=team))
    hospital = new_buyer("CHU de Nantes")
    await _open(ui_user, "marc@example.org", "/invoices")
    await ui_user.should_see(marker="invoices-table", retries=50)
    await eventually(
        lambda: _text(ui_user, "invoices-sum-total") == format_currency(Decimal("0")), "the list was not loaded"
    )

    # Another session (a salesperson of the manager's team) issues an invoice, then records a payment.
    invoice_id = _invoice(rep, hospital)
    await eventually(
        lambda: [r["total"] for r in table_rows(ui_user, "invoices-table")] == [format_currency(Decimal("1200.00"))],
        "the new invoice did not appear",
    )
    assert _text(ui_user, "invoices-sum-outstanding") == format_currency(Decimal("1200.00"))
    with unit_of_work() as session:
        payments.record_payment(session, rep, invoice_id, {"amount": "200.00", "method": "transfer"})
    await eventually(
        lambda: (
            [r["remaining"] for r in table_rows(ui_user, "invoices-table")] == [format_currency(Decimal("1000.00"))]
        ),
        "the payment did not show",
    )
    assert table_rows(ui_user, "invoices-table")[0]["status"] == gettext(STATUS_LABELS[InvoiceStatus.PARTIALLY_PAID])
    assert _text(ui_user, "invoices-sum-outstanding") == format_currency(Decimal("1000.00"))


async def test_a_credit_notes_status_agrees_with_its_noun_in_the_list(
    ui_user: User, account: Callable[..., str]
) -> None:
    """« un avoir émis », « une facture annulée »: the list showed a credit note "Émise"."""
    email = account()
    invoice_id = _invoice(actor_for(email), new_buyer("Clinique du Lac"))
    with unit_of_work() as session:
        invoices.create_credit_note(session, actor_for(email), invoice_id)
    await _open(ui_user, email, "/invoices")
    await ui_user.should_see(marker="invoices-table")
    statuses = {row["kind"]: row["status"] for row in table_rows(ui_user, "invoices-table")}
    assert statuses == {"Facture": "Annulée", "Avoir": "Émis"}


async def test_each_invoice_action_confirms_refreshes_the_page_and_others_changes_show_live(
    ui_user: User, account: Callable[..., str]
) -> None:
    """Issue, record a payment, delete it, credit: each says what it did, and the status, the amounts
    and the actions shown follow at once (no ERROR logged: the fixture fails on one). A payment another
    user records shows on the open page without a reload."""
    email = account()
    actor = actor_for(email)
    invoice_id = _invoice(actor, new_buyer("CH de Quimper"), issue=False)
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await ui_user.should_see(marker="invoice-issue", retries=50)

    ui_user.find(marker="invoice-issue").click()
    ui_user.find(marker="issue-confirm").click()
    await eventually(lambda: _stored(invoice_id).number is not None, "the invoice was not issued")
    number = _stored(invoice_id).number
    await ui_user.should_see(gettext("Invoice {number} issued.", number=number))
    await eventually(lambda: _text(ui_user, "invoice-status") == gettext("Issued"), "the status is not refreshed")
    await ui_user.should_not_see(marker="invoice-issue")
    await ui_user.should_see(marker="invoice-pay")

    ui_user.find(marker="invoice-pay").click()
    element(ui_user, "payment-amount").value = "1200"
    ui_user.find(marker="payment-save").click()
    await ui_user.should_see(gettext("Payment recorded."))
    await eventually(lambda: _text(ui_user, "invoice-status") == gettext("Paid"), "the payment's status is not shown")
    assert _text(ui_user, "invoice-remaining") == format_currency(Decimal("0"))
    await ui_user.should_not_see(marker="invoice-pay")
    await ui_user.should_not_see(marker="payment-dialog")

    _emit(ui_user, "payments-table", "delete_payment", table_rows(ui_user, "payments-table")[0]["id"])
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(gettext("Payment deleted."))
    await eventually(lambda: _text(ui_user, "invoice-status") == gettext("Issued"), "the status is not recomputed")
    await ui_user.should_see(marker="invoice-pay")

    with unit_of_work() as session:  # a colleague records a payment in another tab: this page follows
        payments.record_payment(session, actor, invoice_id, {"amount": "200.00", "method": "check"})
    await eventually(
        lambda: _text(ui_user, "invoice-remaining") == format_currency(Decimal("1000.00")),
        "another user's payment does not show",
    )
    assert _text(ui_user, "invoice-status") == gettext("Partially paid")

    ui_user.find(marker="invoice-credit").click()
    await ui_user.should_see(marker="credit-dialog")
    ui_user.find(marker="credit-save").click()
    await eventually(lambda: _stored(invoice_id).amount_credited == Decimal("1000.00"), "no credit note")
    settled = gettext(STATUS_LABELS[_stored(invoice_id).status])  # paid in part, credited for the rest
    await eventually(lambda: _text(ui_user, "invoice-status") == settled, "the credit note is not shown")
    assert _text(ui_user, "invoice-remaining") == format_currency(Decimal("0"))
    with unit_of_work() as session:
        note = session.exec(select(Invoice).where(Invoice.kind == InvoiceKind.CREDIT_NOTE)).one()
    await ui_user.should_see(gettext("Credit note {number} issued.", number=note.number))
    await ui_user.should_not_see(marker="invoice-pay")
    await ui_user.should_see(marker="invoice-credit")  # a paid invoice can still be credited (and refunded)


async def test_a_credit_notes_history_agrees_with_its_noun_and_an_invoices_with_its_own(
    ui_user: User, account: Callable[..., str]
) -> None:
    """« un avoir émis », « une facture émise »: a credit note's own History read "Émise" and "Payée"."""
    email = account()  # French by default
    invoice_id = _invoice(actor_for(email), new_buyer("Clinique des Lilas"))
    with unit_of_work() as session:
        note = invoices.create_credit_note(session, actor_for(email), invoice_id, amount_incl_vat=Decimal("120.00"))
        note_id, note_number = note.id, note.number
    invoice_number = _stored(invoice_id).number

    def history() -> list[dict[str, Any]]:
        return table_rows(ui_user, "invoice-history")

    await _open(ui_user, email, f"/invoices/{note_id}")
    await eventually(lambda: any(row["field"] == "Statut" for row in history()), "no history of the credit note")
    assert f"Avoir {note_number} émis" in {row["what"] for row in history()}
    assert "Brouillon → Émis" in {row["change"] for row in history() if row["field"] == "Statut"}
    assert not any("Émise" in row["change"] or "émise" in row["what"] for row in history())

    await ui_user.open(f"/invoices/{invoice_id}")
    await eventually(lambda: any(row["field"] == "Statut" for row in history()), "no history of the invoice")
    assert f"Facture {invoice_number} émise" in {row["what"] for row in history()}
    assert "Brouillon → Émise" in {row["change"] for row in history() if row["field"] == "Statut"}
