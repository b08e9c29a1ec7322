"""The institution page's Timeline and History read the changes of invoices, credit notes and payments in
words, in the reader's language: "Facture FA-2026-0001 émise", the statuses' names (agreeing with their
noun: "Avoir AV-2026-00001 émis", "Brouillon → Émis"), amounts as money,
never the trail's field names, actions or status codes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import quote

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, pgettext, use_locale
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.people import User as UserRow
from crm_app.sales import invoices, payments
from tests.ui.conftest import actor_for, eventually, log_in, new_buyer, table_rows

#: What the audit trail stores, which no reader should see: field names, actions, status codes, raw amounts.
RAW = re.compile(
    r"total_incl_vat|credited_invoice|amount_paid|amount_credited|emailed_to|payment_delete|partially_paid"
    r"|\bissue\b|draft → issued|invoice issue|· number\b|^(?:draft|issued|invoice|credit_note|number|status)$"
    r"|47438\.16|10000\.00"
)


def _invoice_with_payment_and_credit_note(email: str, institution_id: uuid.UUID) -> tuple[str, str]:
    """An invoice of 47,438.16 € incl. VAT, issued, partly paid and partly credited: its number and its
    credit note's."""
    actor = actor_for(email)
    with unit_of_work() as session:
        invoice = invoices.create_invoice(
            session,
            actor,
            {
                "institution_id": institution_id,
                "lines": [{"description": "Colonne", "quantity": "1", "unit_price": "39531.80", "vat_rate": "20"}],
            },
        )
        invoices.issue_invoice(session, actor, invoice.id)
        payments.record_payment(session, actor, invoice.id, {"amount": "10000.00", "method": "transfer"})
        note = invoices.create_credit_note(session, actor, invoice.id, amount_incl_vat=Decimal("1000.00"))
        assert invoice.number and note.number and invoice.total_incl_vat == Decimal("47438.16")
        return invoice.number, note.number


def _texts(user: User, marker: str) -> list[str]:
    """The texts of the labels and links inside the element carrying `marker`."""
    found = user._gather_elements(None, ui.element, marker, None)  # no public "find or none"
    return [
        child.text
        for root in found
        for child in root.descendants()
        if isinstance(child, ui.label | ui.link) and child.text
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_the_timeline_and_history_read_sales_changes_in_words(
    ui_user: User, account: Callable[..., str], language: str
) -> None:
    email = account()
    with unit_of_work() as session:
        row = session.exec(select(UserRow).where(UserRow.email == email)).one()
        row.language = language
    institution_id = new_buyer("Clinique du Val")
    number, note_number = _invoice_with_payment_and_credit_note(email, institution_id)
    with use_locale(language):
        issued = _("Invoice {name} issued", name=number)
        created = _("Invoice {name} created", name=number)
        credited = _("Credit note {name} created", name=note_number)
        paid = _("Payment recorded on invoice {name}", name=number)
        draft, issued_status = _("Draft"), _("Issued")
        note_issued = _("Credit note {name} issued", name=note_number)
        note_statuses = pgettext("credit note status", "Draft"), pgettext("credit note status", "Issued")
        status, total_label = _("Status"), _("Total incl. VAT")
        paid_label, credits_label = pgettext("amount", "Paid"), _("Credits the invoice")
        total = format_currency(Decimal("47438.16"))
        amounts = format_currency(Decimal("0.00")), format_currency(Decimal("10000.00"))

    await log_in(ui_user, email, path=f"/login?redirect_to={quote(f'/institutions/{institution_id}', safe='/')}")
    await ui_user.should_see(marker="tab-timeline", retries=50)
    ui_user.find(marker="tab-timeline").click()
    await eventually(lambda: f"{issued} · {status}" in _texts(ui_user, "timeline"), "the issue is not in words")
    timeline = _texts(ui_user, "timeline")
    assert f"{draft} → {issued_status}" in timeline
    assert f"{created} · {total_label}" in timeline and total in timeline
    assert f"{credited} · {credits_label}" in timeline and number in timeline
    assert f"{paid} · {paid_label}" in timeline and f"{amounts[0]} → {amounts[1]}" in timeline
    assert not [text for text in timeline if RAW.search(text)], timeline

    ui_user.find(marker="tab-history").click()
    await eventually(lambda: len(table_rows(ui_user, "history-table")) >= 8, "the history is not shown")
    rows = table_rows(ui_user, "history-table")
    by_change = {(row["what"], row["field"]): (row["old"], row["new"]) for row in rows}
    assert by_change[(issued, status)] == (draft, issued_status)
    assert by_change[(created, total_label)] == ("", total)
    assert by_change[(credited, credits_label)] == ("", number)
    assert by_change[(paid, paid_label)] == amounts
    assert by_change[(note_issued, status)] == note_statuses  # "un avoir émis", "une facture émise"
    cells = [str(value) for row in rows for key, value in row.items() if key not in ("id", "at", "who")]
    assert not [text for text in cells if RAW.search(text)], cells
