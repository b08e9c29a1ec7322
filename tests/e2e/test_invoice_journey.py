"""In Chromium: a draft invoice issued, paid in part through its page, then paid in full from another
tab: each step confirmed on screen, the status and the actions following without a reload, in French
("Payée") and in English ("Paid"); a 0 % training line given its VAT exemption in the line editor, then
issued, its Factur-X XML downloaded."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, use_locale
from crm_app.platform.models.people import Role
from crm_app.sales import invoices
from crm_app.sales.models.invoices import Invoice, InvoiceStatus
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, actor_of, make_user
from tests.institution_factories import make_buyer

pytestmark = pytest.mark.e2e

#: What each language reads on the page.
WORDS = {
    "fr": {
        "email": "E-mail",
        "password": "Mot de passe",
        "log_in": "Se connecter",
        "issue": "Émettre",
        "issued": "Facture {number} émise.",
        "issued_status": "Émise",
        "pay": "Enregistrer un paiement",
        "amount": "Montant",
        "record": "Enregistrer",
        "recorded": "Paiement enregistré.",
        "partly": "Partiellement payée",
        "paid": "Payée",
    },
    "en": {
        "email": "Email",
        "password": "Password",
        "log_in": "Log in",
        "issue": "Issue",
        "issued": "Invoice {number} issued.",
        "issued_status": "Issued",
        "pay": "Record a payment",
        "amount": "Amount",
        "record": "Record",
        "recorded": "Payment recorded.",
        "partly": "Partially paid",
        "paid": "Paid",
    },
}


def _money(value: Decimal, language: str) -> str:
    with use_locale(language):
        return format_currency(value)


def _draft(email: str, name: str, line: dict[str, str] | None = None) -> uuid.UUID:
    """A rep and a draft invoice of theirs (1,000 € + 20 % VAT, or `line` at 0 % VAT)."""
    with unit_of_work() as session:
        rep = make_user(session, role=Role.USER, email=email, name=name)
        clinic = make_buyer(session, name="Clinique des Cèdres").id  # an e-invoice needs its address and SIRET
        invoice = invoices.create_invoice(
            session,
            actor_of(rep),
            {
                "institution_id": clinic,
                "title": "Colonne d'endoscopie",
                "lines": [
                    {**line, "vat_rate": "0"}
                    if line
                    else {"description": "Colonne", "quantity": "1", "unit_price": "1000.00", "vat_rate": "20"}
                ],
            },
        )
        return invoice.id


def _status(page: Page, text: str) -> Locator:
    """The status badge reading `text` (the history's cells may read the same word)."""
    return page.get_by_role("status").filter(has_text=re.compile(rf"^{re.escape(text)}$"))


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_invoice_issued_and_paid_says_so_at_each_step_and_follows_a_colleagues_payment(
    browser: Browser, server_url: str, clean_after: None, language: str
) -> None:
    words = WORDS[language]
    email = f"rep.{language}@example.org"
    invoice_id = _draft(email, "Sophie Martin")
    context = browser.new_context(
        locale="fr-FR" if language == "fr" else "en-US",
        timezone_id="Europe/Paris",
        viewport={"width": 1440, "height": 900},
    )
    page = context.new_page()
    try:
        page.goto(f"{server_url}/invoices/{invoice_id}")
        page.get_by_label(words["email"]).fill(email)
        page.get_by_label(words["password"]).fill(PASSWORD)
        page.get_by_role("button", name=words["log_in"]).click()
        expect(page).to_have_url(re.compile(rf"/invoices/{invoice_id}$"))

        page.get_by_role("button", name=words["issue"], exact=True).click()
        page.get_by_role("dialog").get_by_role("button", name=words["issue"], exact=True).click()
        number_shown = page.get_by_text(re.compile(r"^FAC-"))
        expect(number_shown.first).to_be_visible()
        with unit_of_work() as session:
            number = session.get(Invoice, invoice_id).number  # type: ignore[union-attr]
        expect(page.get_by_text(words["issued"].format(number=number))).to_be_visible()  # said on screen
        expect(_status(page, words["issued_status"])).to_be_visible()
        expect(page.get_by_role("button", name=words["issue"], exact=True)).to_have_count(0)

        page.get_by_role("button", name=words["pay"]).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label(words["amount"]).fill("400")
        dialog.get_by_role("button", name=words["record"], exact=True).click()
        expect(page.get_by_text(words["recorded"])).to_be_visible()
        expect(_status(page, words["partly"])).to_be_visible()
        expect(page.get_by_text(_money(Decimal("800.00"), language), exact=True).first).to_be_visible()

        # The rest, recorded in another tab (its own session): this tab follows without a reload.
        other = context.new_page()
        other.goto(f"{server_url}/invoices/{invoice_id}")
        other.get_by_role("button", name=words["pay"]).click()
        other.get_by_role("dialog").get_by_role("button", name=words["record"], exact=True).click()
        expect(other.get_by_text(words["recorded"])).to_be_visible()
        expect(_status(page, words["paid"])).to_be_visible()  # without a reload
        expect(page.get_by_role("button", name=words["pay"])).to_have_count(0)
        with unit_of_work() as session:
            assert session.get(Invoice, invoice_id).status == InvoiceStatus.PAID  # type: ignore[union-attr]
    finally:
        context.close()


def test_a_0_percent_training_line_is_given_its_exemption_issued_and_its_factur_x_xml_downloaded(
    browser: Browser, server_url: str, clean_after: None
) -> None:
    """In French: the draft's training line at 0 % gets its reason in the line editor; the issued invoice's
    Factur-X XML carries it (category E, VATEX-EU-132, the legal mention)."""
    email = "rep.training@example.org"
    line = {"description": "Formation bloc", "quantity": "1", "unit_price": "900.00"}
    invoice_id = _draft(email, "Paul Durand", line)
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{server_url}/invoices/{invoice_id}/edit")
        sign_in(page, email)
        page.get_by_label("Motif d'exonération de TVA *").click()
        page.get_by_role("option", name="Formation (art. 261-4-4° CGI)").click()
        expect(page.get_by_text("Exonération de TVA, article 261-4-4° du CGI")).to_be_visible()  # the hint
        page.get_by_role("button", name="Enregistrer le brouillon").click()
        expect(page).to_have_url(re.compile(rf"/invoices/{invoice_id}$"))
        page.get_by_role("button", name="Émettre", exact=True).click()
        page.get_by_role("dialog").get_by_role("button", name="Émettre", exact=True).click()
        expect(page.get_by_role("button", name="XML Factur-X")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="XML Factur-X").click()
        xml = Path(download.value.path()).read_text(encoding="utf-8")
        assert download.value.suggested_filename.startswith("FAC-")
        assert "<ram:CategoryCode>E</ram:CategoryCode>" in xml
        assert "VATEX-EU-132" in xml and "261-4-4" in xml
    finally:
        context.close()
