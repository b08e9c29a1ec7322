"""Chorus Pro on the screens, with NiceGUI's simulated user: the institution form's public buyer fields
(SIRET required next to its field, service codes saved and shown), an invoice issued to a public buyer
from the issue dialog (refused next to the engagement number until it is typed), and the invoices list's
public buyers filter (kept in the URL) with the zip of the selected e-invoices."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.testing import User

from crm_app.institutions import service as institutions
from crm_app.institutions.models import Institution
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.sales import invoices
from crm_app.sales.models.invoices import Invoice
from tests.institution_factories import unique_siret
from tests.ui.conftest import actor_for, element, eventually, log_in, new_buyer, new_institution, table_rows

CODES = [{"code": "PHARMA01", "label": "Pharmacie"}, {"code": "BIOMED02", "label": None}]


def _public_buyer(name: str = "CHU de Tours", **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return institutions.create_institution(
            session,
            SYSTEM_ACTOR,
            {
                "name": name,
                "is_public_entity": True,
                "siret": unique_siret(),
                "service_codes": CODES,
                "street": "2 boulevard Tonnellé",  # an address: the e-invoice needs it
                "postal_code": "37000",
                "city": "Tours",
                **values,
            },
            allow_duplicate=True,
        ).id


def _draft(actor: Actor, institution_id: uuid.UUID, *, issue: bool = False, **values: Any) -> Invoice:
    line = {"description": "Maintenance", "quantity": "1", "unit_price": "500.00", "vat_rate": "20"}
    with unit_of_work() as session:
        invoice = invoices.create_invoice(session, actor, {"institution_id": institution_id, "lines": [line], **values})
        return invoices.issue_invoice(session, actor, invoice.id) if issue else invoice


async def test_the_institution_form_marks_a_public_buyer_with_its_service_codes(
    ui_user: User, account: Callable[..., str]
) -> None:
    institution_id = new_institution("CH de Blois")
    await log_in(ui_user, account(role=Role.ADMIN), path=f"/login?redirect_to=/institutions/{institution_id}/edit")
    await ui_user.should_see(marker="public-buyer-card", retries=50)
    element(ui_user, "field-is_public_entity").value = True
    ui_user.find(marker="service-code-add").click()
    ui_user.find(marker="service-code-add").click()
    await ui_user.should_see(marker="service-code")
    codes, labels = (
        sorted(ui_user.find(kind=ui.input, marker=marker).elements, key=lambda e: e.id)  # the rows in order
        for marker in ("service-code", "service-code-label")
    )
    codes[0].value, labels[0].value = "PHARMA01", "Pharmacie"  # the second row left blank: dropped
    ui_user.find(marker="save").click()
    await eventually(
        lambda: element(ui_user, "field-siret").error == gettext(institutions.PUBLIC_ENTITY_NEEDS_SIRET),
        "no message next to the SIRET",
    )
    element(ui_user, "field-siret").value = unique_siret()
    codes[1].value = "pharma01"
    ui_user.find(marker="save").click()
    await ui_user.should_see(marker="service-codes-error", retries=100)  # shown with its message
    assert element(ui_user, "service-codes-error").text == gettext("This service code is listed twice.")
    codes[1].value = "BIOMED02"
    element(ui_user, "field-requires_engagement_number").value = True
    ui_user.find(marker="save").click()
    await ui_user.should_see(marker="public-buyer", retries=50)
    await ui_user.should_see("PHARMA01 (Pharmacie)")
    await ui_user.should_see("BIOMED02")
    with unit_of_work() as session:
        saved = session.get(Institution, institution_id)
        assert saved is not None
        assert saved.is_public_entity and saved.requires_engagement_number
        assert saved.service_codes == [{"code": "PHARMA01", "label": "Pharmacie"}, {"code": "BIOMED02", "label": None}]


async def test_the_issue_dialog_asks_a_public_buyer_for_its_engagement_number(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    buyer = _public_buyer(requires_engagement_number=True)
    invoice = _draft(actor_for(email), buyer, buyer_reference="PHARMA01")
    await log_in(ui_user, email, path=f"/login?redirect_to=/invoices/{invoice.id}")
    await ui_user.should_see(marker="invoice-issue", retries=50)
    assert element(ui_user, "invoice-buyer-reference").text == "PHARMA01"
    ui_user.find(marker="invoice-issue").click()
    await ui_user.should_see(marker="issue-buyer-order-reference")
    assert element(ui_user, "issue-buyer-reference").value == "PHARMA01"
    ui_user.find(marker="issue-confirm").click()
    message = gettext("This buyer requires an engagement number (its purchase order reference).")
    await eventually(
        lambda: element(ui_user, "issue-buyer-order-reference").error == message, "no message next to the field"
    )
    element(ui_user, "issue-buyer-order-reference").value = "ENG-2026-31"
    ui_user.find(marker="issue-confirm").click()
    await ui_user.should_see(marker="invoice-number", retries=50)
    assert element(ui_user, "invoice-buyer-order-reference").text == "ENG-2026-31"
    with unit_of_work() as session:
        issued = session.get(Invoice, invoice.id)
        assert issued is not None and issued.number and issued.buyer_order_reference == "ENG-2026-31"


async def test_the_public_buyers_filter_and_the_zip_of_the_selected_einvoices(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    actor = actor_for(email)
    buyer = _public_buyer()
    first = _draft(actor, buyer, issue=True, buyer_reference="PHARMA01")
    second = _draft(actor, buyer, issue=True, buyer_reference="BIOMED02")
    waiting = _draft(actor, buyer)
    clinic = new_buyer("Clinique des Acacias")
    _draft(actor, clinic, issue=True)
    await log_in(ui_user, email, path="/login?redirect_to=/invoices?public_buyers=1")
    await ui_user.should_see(marker="invoices-table", retries=50)
    assert element(ui_user, "filter-public-buyers").value is True
    await eventually(
        lambda: (
            {row["id"] for row in table_rows(ui_user, "invoices-table")}
            == {str(first.id), str(second.id), str(waiting.id)}
        ),
        "the filter does not keep to the public buyers",
    )
    table = next(iter(ui_user._gather_elements(None, ui.table, "invoices-table", None)))
    rows = [row for row in table.rows if row["id"] in {str(first.id), str(waiting.id)}]
    ui_user.find(marker="invoices-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [row["id"] for row in rows]}
    )
    table.selected = rows
    await ui_user.should_see(marker="bulk-einvoices")
    ui_user.find(marker="bulk-einvoices").click()
    response = await ui_user.download.next(timeout=10)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == [f"{first.number}.pdf"]
        assert archive.read(f"{first.number}.pdf").startswith(b"%PDF")
    await ui_user.should_see(gettext("{count} e-invoice downloaded.", count=1), retries=50)

    element(ui_user, "filter-public-buyers").set_value(False)  # the others come back, the URL follows
    await eventually(lambda: len(table_rows(ui_user, "invoices-table")) == 4, "unchecking keeps the filter")
