"""The e-invoice's fields on the screens, with NiceGUI's simulated user: a 0 % line's VAT exemption and
each line's kind of supply in the line editor (asked at 0 % only, its legal mention as the hint, taken
from the catalog item), an issue refused for a 0 % line without its reason shown next to that line in
the editor, the catalog item's defaults, a draft's delivery address, and the company's and the buyer's
missing fields told with where to fill them in."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from nicegui import ElementFilter
from nicegui.testing import User
from sqlmodel import col, select

from crm_app.platform import settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.sales import invoices
from crm_app.sales.models.invoices import Invoice, InvoiceLine, InvoiceStatus
from crm_app.sales.models.quotes import CatalogItem
from crm_app.sales.tax_codes import EXEMPTIONS, SupplyKind, VatExemption
from tests.sales_factories import make_catalog_item
from tests.ui.conftest import actor_for, element, eventually, log_in, new_buyer, new_institution, table_rows

TRAINING_LINE = {"description": "Formation bloc opératoire", "quantity": "2", "unit_price": "900", "vat_rate": "0"}
TAXED_LINE = {"description": "Colonne d'endoscopie", "quantity": "1", "unit_price": "1000", "vat_rate": "20"}


def _draft(actor: Actor, institution_id: uuid.UUID, *lines: dict[str, Any]) -> uuid.UUID:
    with unit_of_work() as session:
        return invoices.create_invoice(
            session, actor, {"institution_id": institution_id, "title": "Formation", "lines": list(lines)}
        ).id


def _stored(invoice_id: uuid.UUID) -> Invoice:
    with unit_of_work() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice


def _lines(invoice_id: uuid.UUID) -> list[InvoiceLine]:
    with unit_of_work() as session:
        statement = select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
        return list(session.exec(statement.order_by(col(InvoiceLine.position))).all())


async def _open(user: User, email: str, path: str) -> None:
    await log_in(user, email, path=f"/login?redirect_to={quote(path, safe='/')}")


async def _ask_issue(user: User) -> None:
    await user.should_see(marker="invoice-issue", retries=50)
    user.find(marker="invoice-issue").click()
    await user.should_see(marker="issue-dialog")
    user.find(marker="issue-confirm").click()


def _hidden_or_not(user: User, marker: str) -> Any:
    """The one element carrying `marker`, shown or not (`user.find` sees shown ones only)."""
    with user._client:
        return next(iter(ElementFilter(marker=marker, local_scope=False)))


def _texts(user: User, marker: str) -> str:
    """Every label's text inside the element carrying `marker`."""
    found = element(user, marker)
    return " ".join(str(getattr(child, "text", "")) for child in found.descendants())


async def test_a_0_percent_line_asks_its_exemption_and_the_invoice_is_issued_with_it(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    invoice_id = _draft(actor_for(email), new_buyer("Clinique des Cèdres"), TAXED_LINE)
    await _open(ui_user, email, f"/invoices/{invoice_id}/edit")
    await ui_user.should_see(marker="invoice-save", retries=50)
    exemption = _hidden_or_not(ui_user, "line-0-vat_exemption")
    assert not exemption.visible  # a taxed line has nothing to say
    assert element(ui_user, "line-0-supply_kind").value == SupplyKind.GOODS.value
    element(ui_user, "line-0-vat_rate").value = "0"
    await eventually(lambda: exemption.visible, "a 0 % line does not ask why it carries no VAT")
    assert set(exemption.options) == {reason.value for reason in VatExemption}
    assert exemption.options[VatExemption.TRAINING.value] == gettext(EXEMPTIONS[VatExemption.TRAINING].label)
    exemption.value = VatExemption.TRAINING.value
    # The hint is the legal mention the PDF prints.
    assert exemption.props["hint"] == gettext(EXEMPTIONS[VatExemption.TRAINING].mention)
    element(ui_user, "line-0-supply_kind").value = SupplyKind.SERVICES.value
    ui_user.find(marker="invoice-save").click()
    await ui_user.should_see(marker="invoice-issue", retries=50)
    [line] = _lines(invoice_id)
    assert (line.vat_rate, line.vat_exemption, line.supply_kind) == (0, VatExemption.TRAINING, SupplyKind.SERVICES)
    # The draft's page shows the reason under the line, then the invoice is issued.
    assert gettext(EXEMPTIONS[VatExemption.TRAINING].label) in table_rows(ui_user, "invoice-lines")[0]["description"]
    await _ask_issue(ui_user)
    await eventually(lambda: _stored(invoice_id).status == InvoiceStatus.ISSUED, "the invoice was not issued")
    await ui_user.should_see(marker="invoice-xml")


async def test_an_issue_refused_for_a_line_without_its_reason_shows_the_message_next_to_that_line(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    invoice_id = _draft(actor_for(email), new_buyer("CH de Quimper"), TAXED_LINE, TRAINING_LINE)
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await _ask_issue(ui_user)
    await ui_user.should_see(marker="issue-refusal")
    message = gettext("Say why this 0 % line carries no VAT.")
    assert gettext("Line {number}: {message}", number=2, message=message) in _texts(ui_user, "refusal-lines")
    assert _stored(invoice_id).status == InvoiceStatus.DRAFT

    ui_user.find(marker="refusal-lines-edit").click()
    await ui_user.should_see(marker="lines-refused", retries=50)
    exemption = element(ui_user, "line-1-vat_exemption")
    await eventually(lambda: exemption.error == message, "the refusal is not next to the line's exemption")
    assert exemption.visible
    assert not _hidden_or_not(ui_user, "line-0-vat_exemption").error
    exemption.value = VatExemption.TRAINING.value
    assert not exemption.error  # chosen: the message goes
    ui_user.find(marker="invoice-save").click()
    await _ask_issue(ui_user)
    await eventually(lambda: _stored(invoice_id).status == InvoiceStatus.ISSUED, "the corrected invoice was not issued")

    # Once shown, the refusal is not shown again at the next edit of another draft or of this one.
    other = _draft(actor_for(email), new_buyer("CH de Brest"), TAXED_LINE)
    await ui_user.open(f"/invoices/{other}/edit")
    await ui_user.should_see(marker="invoice-save", retries=50)
    await ui_user.should_not_see(marker="lines-refused")


async def test_a_catalog_items_exemption_and_kind_are_saved_listed_and_given_to_the_lines_that_pick_it(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(Role.ADMIN, email="ada@example.org")
    await _open(ui_user, email, "/catalog")
    await ui_user.should_see(marker="new-item", retries=50)
    ui_user.find(marker="new-item").click()
    await ui_user.should_see(marker="item-dialog")
    exemption = _hidden_or_not(ui_user, "item-vat_exemption")
    element(ui_user, "item-default_vat_rate").value = "20"
    assert not exemption.visible
    element(ui_user, "item-reference").value = "FORM-BLOC"
    element(ui_user, "item-name").value = "Formation au bloc"
    element(ui_user, "item-unit_price").value = "900"
    element(ui_user, "item-unit").value = "day"  # a new item's kind follows its unit
    assert element(ui_user, "item-supply_kind").value == SupplyKind.SERVICES.value
    element(ui_user, "item-default_vat_rate").value = "0"
    assert exemption.visible
    exemption.value = VatExemption.TRAINING.value
    ui_user.find(marker="item-save").click()
    await ui_user.should_see(gettext("Catalog item saved."))
    with unit_of_work() as session:
        item = session.exec(select(CatalogItem).where(CatalogItem.reference == "FORM-BLOC")).one()
    assert (item.vat_exemption, item.supply_kind) == (VatExemption.TRAINING, SupplyKind.SERVICES)
    [row] = table_rows(ui_user, "catalog-table")
    assert row["exemption"] == gettext(EXEMPTIONS[VatExemption.TRAINING].label)
    assert row["supply_kind"] == gettext("Services")

    # Edited: back to goods (the unit no longer sets it once the item exists).
    ui_user.find(marker="catalog-table").trigger("edit", str(item.id))
    await ui_user.should_see(marker="item-dialog")
    assert element(ui_user, "item-vat_exemption").value == VatExemption.TRAINING.value
    element(ui_user, "item-supply_kind").value = SupplyKind.GOODS.value
    element(ui_user, "item-unit").value = "hour"
    assert element(ui_user, "item-supply_kind").value == SupplyKind.GOODS.value
    ui_user.find(marker="item-save").click()
    await eventually(lambda: _supply_kind_of("FORM-BLOC") == SupplyKind.GOODS, "the kind of supply was not saved")


def _supply_kind_of(reference: str) -> str | None:
    with unit_of_work() as session:
        item = session.exec(select(CatalogItem).where(CatalogItem.reference == reference)).first()
        return item.supply_kind if item else None


async def test_a_line_picked_from_the_catalog_shows_the_items_exemption_and_kind_and_may_change_them(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    with unit_of_work() as session:
        item = make_catalog_item(
            session,
            reference="FORM-1",
            name="Formation hygiène",
            unit_price="600",
            default_vat_rate="0",
            unit="day",
            vat_exemption="training",
        ).id
    clinic = new_buyer("Clinique Bel-Air")
    await _open(ui_user, email, f"/invoices/new?institution_id={clinic}")
    await ui_user.should_see(marker="invoice-save", retries=50)
    ui_user.find(marker="add-line").click()
    await ui_user.should_see(marker="line-0-catalog")
    picker = element(ui_user, "line-0-catalog")
    ui_user.find(marker="line-0-catalog").trigger("inputValue", "FORM")
    await eventually(lambda: len(picker.options) == 1, "the catalog picker did not find the item")
    picker.value = str(item)
    exemption = element(ui_user, "line-0-vat_exemption")
    await eventually(lambda: exemption.value == VatExemption.TRAINING.value, "the item's exemption is not shown")
    assert exemption.visible
    assert element(ui_user, "line-0-supply_kind").value == SupplyKind.SERVICES.value
    exemption.value = VatExemption.MEDICAL_CARE.value  # the user's choice wins over the item's
    element(ui_user, "line-0-quantity").value = "1"
    ui_user.find(marker="invoice-save").click()
    await ui_user.should_see(marker="invoice-issue", retries=50)
    with unit_of_work() as session:
        [line] = session.exec(select(InvoiceLine)).all()
    assert (line.vat_exemption, line.supply_kind) == (VatExemption.MEDICAL_CARE, SupplyKind.SERVICES)


async def test_a_drafts_delivery_address_is_checked_next_to_its_fields_saved_and_shown(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    invoice_id = _draft(actor_for(email), new_buyer("CHU de Nantes"), TAXED_LINE)
    await _open(ui_user, email, f"/invoices/{invoice_id}/edit")
    await ui_user.should_see(marker="invoice-save", retries=50)
    await ui_user.should_not_see(marker="invoice-delivery-street")  # the buyer's address, until said otherwise
    element(ui_user, "invoice-delivery-other").value = True
    await ui_user.should_see(marker="invoice-delivery-street")
    street = element(ui_user, "invoice-delivery-street")
    element(ui_user, "invoice-delivery-name").value = "Bloc opératoire, bâtiment B"
    street.value = "5 allée de l'Île Gloriette"
    element(ui_user, "invoice-delivery-postal_code").value = "440"
    ui_user.find(marker="invoice-save").click()
    city = element(ui_user, "invoice-delivery-city")
    await eventually(lambda: bool(city.error), "no message next to the missing city")
    assert city.error == gettext("Enter the delivery address: street, postal code and city.")
    assert _stored(invoice_id).delivery_address is None
    city.value = "Nantes"
    ui_user.find(marker="invoice-save").click()
    postal_code = element(ui_user, "invoice-delivery-postal_code")
    await eventually(lambda: bool(postal_code.error), "no message next to the wrong postal code")
    assert postal_code.error == gettext("A French postal code has 5 digits.")
    assert not city.error
    postal_code.value = "44093"
    ui_user.find(marker="invoice-save").click()
    await ui_user.should_see(marker="invoice-issue", retries=50)
    assert _stored(invoice_id).delivery_address == {
        "name": "Bloc opératoire, bâtiment B",
        "street": "5 allée de l'Île Gloriette",
        "postal_code": "44093",
        "city": "Nantes",
        "country": "FR",
    }
    shown = _texts(ui_user, "invoice-delivery")
    assert "5 allée de l'Île Gloriette" in shown and "44093 Nantes" in shown

    # Issued, the invoice still shows it; its edit page is closed.
    await _ask_issue(ui_user)
    await eventually(lambda: _stored(invoice_id).status == InvoiceStatus.ISSUED, "the invoice was not issued")
    await ui_user.should_see(marker="invoice-number")
    assert "44093 Nantes" in _texts(ui_user, "invoice-delivery")

    # Unticked on another draft: the buyer's address again.
    other = _draft(actor_for(email), new_buyer("CHU de Rennes"), TAXED_LINE)
    with unit_of_work() as session:
        invoices.update_invoice(
            session,
            actor_for(email),
            other,
            {"delivery_address": {"street": "1 rue X", "postal_code": "35000", "city": "Rennes"}},
            expected_version=_stored(other).version,
        )
    await ui_user.open(f"/invoices/{other}/edit")
    await ui_user.should_see(marker="invoice-save", retries=50)
    assert element(ui_user, "invoice-delivery-other").value is True
    element(ui_user, "invoice-delivery-other").value = False
    ui_user.find(marker="invoice-save").click()
    await eventually(lambda: _stored(other).delivery_address is None, "the delivery address was not removed")


async def test_a_buyer_without_address_nor_siret_is_told_with_a_link_to_the_institution(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    clinic = new_institution("Clinique du Parc")  # a city and a postal code, no street, no SIRET
    invoice_id = _draft(actor_for(email), clinic, TAXED_LINE)
    await _open(ui_user, email, f"/invoices/{invoice_id}")
    await _ask_issue(ui_user)
    await ui_user.should_see(marker="issue-refusal")
    buyer = _texts(ui_user, "refusal-buyer")
    assert gettext("Enter the institution's postal address: street, postal code and city.") in buyer
    assert gettext("Enter the institution's SIRET: the e-invoice gives the buyer's SIREN.") in buyer
    link = element(ui_user, "refusal-institution-link")
    assert link.props["href"] == f"/institutions/{clinic}/edit"
    assert link.text == gettext("Complete the institution {name}", name="Clinique du Parc")
    await ui_user.should_not_see(marker="refusal-seller")
    assert _stored(invoice_id).status == InvoiceStatus.DRAFT


def _clear_seller(*names: str) -> None:
    with unit_of_work() as session:
        settings.update_section(session, SYSTEM_ACTOR, "branding", dict.fromkeys(names, ""))


async def test_the_companys_missing_siret_and_iban_send_an_admin_to_the_settings_and_a_rep_to_an_admin(
    ui_user: User, account: Callable[..., str]
) -> None:
    _clear_seller("siret", "iban")
    rep = account()
    invoice_id = _draft(actor_for(rep), new_buyer("Clinique Saint-Jean"), TAXED_LINE)
    await _open(ui_user, rep, f"/invoices/{invoice_id}")
    await _ask_issue(ui_user)
    await ui_user.should_see(marker="issue-refusal")
    seller = _texts(ui_user, "refusal-seller")
    assert gettext("Enter the company's SIRET in the company settings.") in seller
    assert gettext("Enter the company's IBAN in the company settings: the e-invoice gives it.") in seller
    await ui_user.should_see(marker="refusal-ask-admin")
    await ui_user.should_not_see(marker="refusal-settings-link")
    await ui_user.should_not_see(marker="refusal-buyer")

    admin = account(Role.ADMIN, email="ada@example.org", name="Ada Admin")
    ui_user.find(marker="user-menu").click()  # builds its menu
    ui_user.find(marker="logout").click()
    await ui_user.should_see(marker="login", retries=50)
    await _open(ui_user, admin, f"/invoices/{invoice_id}")
    await _ask_issue(ui_user)
    await ui_user.should_see(marker="issue-refusal")
    assert element(ui_user, "refusal-settings-link").props["href"] == "/admin/settings"
    await ui_user.should_not_see(marker="refusal-ask-admin")
