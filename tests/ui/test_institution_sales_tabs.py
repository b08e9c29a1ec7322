"""The institution page's Quotes and Invoices tabs with NiceGUI's simulated user: that institution's
documents only, the totals of the list, "New quote" / "New invoice" made out to the institution; and
the Timeline showing its quotes, invoices and payments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import quote

from nicegui import ui
from nicegui.testing import User

from crm_app.institutions.models import Institution
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor
from crm_app.sales import invoices, payments
from tests.sales_factories import make_quote, make_sent_quote, quote_line
from tests.ui.conftest import actor_for, element, eventually, log_in, new_buyer, table_rows


def _quotes(actor: Actor, institution_id: uuid.UUID) -> list[str]:
    """A sent quote (1,200 € incl. VAT) and a draft (120 €); their numbers."""
    with unit_of_work() as session:
        institution = session.get(Institution, institution_id)
        assert institution is not None
        sent = make_sent_quote(session, actor, institution, [quote_line("Colonne", unit_price="1000.00")])
        draft = make_quote(session, actor, institution, [quote_line("Formation", unit_price="100.00")])
        return [sent.number, draft.number]


def _paid_invoice(
    actor: Actor, institution_id: uuid.UUID, *, unit_price: str = "500.00", paid: str | None = "100.00"
) -> str:
    """An issued invoice (20 % VAT) with a payment; its number."""
    with unit_of_work() as session:
        invoice = invoices.create_invoice(
            session,
            actor,
            {
                "institution_id": institution_id,
                "lines": [{"description": "Maintenance", "quantity": "1", "unit_price": unit_price, "vat_rate": "20"}],
            },
        )
        invoices.issue_invoice(session, actor, invoice.id)
        if paid:
            payments.record_payment(session, actor, invoice.id, {"amount": paid, "method": "transfer"})
        assert invoice.number is not None
        return invoice.number


async def _open_tab(user: User, email: str, institution_id: uuid.UUID, tab: str) -> None:
    await log_in(user, email, path=f"/login?redirect_to={quote(f'/institutions/{institution_id}', safe='/')}")
    await user.should_see(marker=f"tab-{tab}", retries=50)
    user.find(marker=f"tab-{tab}").click()


async def test_quotes_tab_lists_the_institutions_quotes_with_their_totals_and_starts_a_new_one_there(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    actor = actor_for(email)
    here, elsewhere = new_buyer("Clinique Sainte-Anne"), new_buyer("CHU de Lille")
    numbers = _quotes(actor, here)
    _quotes(actor, elsewhere)
    await _open_tab(ui_user, email, here, "quotes")
    await ui_user.should_see(marker="institution-quotes-table")
    await eventually(
        lambda: sorted(r["number"] for r in table_rows(ui_user, "institution-quotes-table")) == sorted(numbers),
        "the tab does not list this institution's quotes only",
    )
    assert element(ui_user, "institution-quotes-sum-incl").text == format_currency(Decimal("1320.00"))
    assert element(ui_user, "institution-quotes-sum-excl").text == format_currency(Decimal("1100.00"))

    ui_user.find(marker="new-quote").click()
    await ui_user.should_see(marker="quote-institution", retries=50)
    assert element(ui_user, "quote-institution").selected_id == here


async def test_invoices_tab_lists_the_institutions_invoices_with_the_outstanding_amount_and_starts_a_new_one(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    actor = actor_for(email)
    here, elsewhere = new_buyer("Centre hospitalier de Tours"), new_buyer("Pharmacie du Lac")
    number = _paid_invoice(actor, here)
    _paid_invoice(actor, elsewhere, unit_price="900.00")
    await _open_tab(ui_user, email, here, "invoices")
    await ui_user.should_see(marker="institution-invoices-table")
    await eventually(
        lambda: [r["number"] for r in table_rows(ui_user, "institution-invoices-table")] == [number],
        "the tab does not list this institution's invoice only",
    )
    assert element(ui_user, "invoices-sum-total").text == format_currency(Decimal("600.00"))
    assert element(ui_user, "invoices-sum-outstanding").text == format_currency(Decimal("500.00"))

    ui_user.find(marker="new-invoice").click()
    await ui_user.should_see(marker="invoice-institution", retries=50)
    assert element(ui_user, "invoice-institution").selected_id == here


async def test_the_timeline_shows_the_institutions_quotes_invoices_and_payments(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    actor = actor_for(email)
    here = new_buyer("Institut cardiologie de Dijon")
    quote_numbers = _quotes(actor, here)
    invoice_number = _paid_invoice(actor, here)
    await _open_tab(ui_user, email, here, "timeline")
    await ui_user.should_see(marker="timeline")

    def kinds() -> list[str]:
        found = ui_user._gather_elements(None, ui.timeline, "timeline", None)  # no public "find or none"
        if not found:
            return []
        return sorted(
            next(m.removeprefix("timeline-") for m in child._markers if m != "timeline-entry")
            for child in next(iter(found)).default_slot.children
            if "timeline-entry" in child._markers
        )

    await eventually(
        lambda: {"quote", "invoice", "payment"} <= set(kinds()),
        "the timeline does not show the quotes, the invoice and its payment",
    )
    assert kinds().count("quote") == 2
    for number in (*quote_numbers, invoice_number):
        await ui_user.should_see(number)
    # In words and formatted, not as stored: the invoice's status and total, the payment's method and amount.
    await ui_user.should_see(f"{_('Partially paid')} · {format_currency(Decimal('600.00'))}")
    await ui_user.should_see(_("Bank transfer"))
    await ui_user.should_see(format_currency(Decimal("100.00")))


async def test_the_tabs_follow_the_documents_others_save_on_the_institution(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    actor = actor_for(email)
    here = new_buyer("Clinique Sainte-Anne")
    await _open_tab(ui_user, email, here, "quotes")
    await ui_user.should_see(marker="institution-quotes-table")
    await eventually(
        lambda: element(ui_user, "institution-quotes-sum-incl").text == format_currency(Decimal("0")),
        "the tab was not loaded",
    )
    numbers = _quotes(actor, here)  # saved in another session (the same user's other tab)
    await eventually(
        lambda: sorted(r["number"] for r in table_rows(ui_user, "institution-quotes-table")) == sorted(numbers),
        "the tab did not follow the new quotes",
    )
    assert element(ui_user, "institution-quotes-sum-incl").text == format_currency(Decimal("1320.00"))

    ui_user.find(marker="tab-invoices").click()
    await ui_user.should_see(marker="institution-invoices-table")
    number = _paid_invoice(actor, here, paid=None)
    await eventually(
        lambda: [r["number"] for r in table_rows(ui_user, "institution-invoices-table")] == [number],
        "the tab did not follow the new invoice",
    )
