"""/admin/settings, sales documents' sections: an administrator edits numbering and VAT, the company
identity with its logo and IBAN, the reminder levels and the email templates (with a preview rendered
from a real document); errors show next to the fields."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from PIL import Image

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.models.settings import AppSetting
from tests.conftest import TEST_SELLER
from tests.ui.conftest import element, eventually, log_in
from tests.unit.test_documents import make_invoice_row


def _stored(section: str) -> dict[str, Any]:
    with unit_of_work() as session:
        row = session.get(AppSetting, section)
        return dict(row.values) if row else {}


async def _open(user: User, account: Callable[..., str], role: Role = Role.ADMIN) -> str:
    user.http_client.headers["Accept-Language"] = "en"
    email = account(role, email="admin@example.org", name="Ada Admin")
    await log_in(user, email, path="/login?redirect_to=/admin/settings")
    await user.should_see(marker="section-branding", retries=50)
    return email


async def test_numbering_and_vat_errors_show_next_to_the_fields(ui_user: User, account: Callable[..., str]) -> None:
    await _open(ui_user, account)
    prefix, rates, default = (
        element(ui_user, f"documents-{n}") for n in ("quote_prefix", "vat_rates", "default_vat_rate")
    )
    prefix.value = "DE VIS"
    rates.value = "20, 150"
    ui_user.find(marker="save-documents").click()
    await eventually(lambda: prefix.error is not None and rates.error is not None, "no error next to the fields")
    assert _stored("documents") == {}
    prefix.value = "DV"
    rates.value = "20, 10, 5.5"
    default.value = "7"
    ui_user.find(marker="save-documents").click()
    await eventually(lambda: default.error is not None, "no error next to the default rate")
    default.value = "10"
    ui_user.find(marker="save-documents").click()
    await eventually(lambda: _stored("documents").get("quote_prefix") == "DV", "not saved")
    assert _stored("documents")["vat_rates"] == ["20", "10", "5.5"]


async def test_branding_checks_the_iban_and_takes_a_logo(ui_user: User, account: Callable[..., str]) -> None:
    await _open(ui_user, account)
    iban = element(ui_user, "branding-iban")
    iban.value = "FR76 3000 6000 0112 3456 7890 188"
    element(ui_user, "branding-legal_name").value = "OPEx Médical SAS"
    ui_user.find(marker="save-branding").click()
    await eventually(lambda: iban.error is not None, "no error next to the IBAN")
    assert "IBAN" in iban.error
    iban.value = "FR14 2004 1010 0505 0001 3M02 606"  # not the test run's seeded IBAN
    element(ui_user, "branding-accent_color").value = "#c62828"
    ui_user.find(marker="save-branding").click()
    await eventually(lambda: _stored("branding").get("iban") == "FR1420041010050500013M02606", "not saved")
    assert _stored("branding")["accent_color"] == "#c62828"

    [upload] = ui_user.find(marker="branding-logo").elements
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads([SmallFileUpload(name="logo.png", content_type="image/png", _data=b"not an image")])
    await eventually(lambda: "PNG or JPEG" in element(ui_user, "branding-logo-error").text, "no logo error shown")
    buffer = io.BytesIO()
    Image.new("RGB", (200, 80), "#1565c0").save(buffer, format="PNG")
    await upload.handle_uploads([SmallFileUpload(name="logo.png", content_type="image/png", _data=buffer.getvalue())])
    await eventually(lambda: str(_stored("branding").get("logo_path", "")).startswith("branding/"), "logo not saved")
    preview = element(ui_user, "branding-logo-preview")
    await eventually(lambda: str(preview.source).startswith("data:image/png;base64,"), "no logo preview")


async def test_branding_refuses_an_invalid_vat_number_or_bic_next_to_the_field(
    ui_user: User, account: Callable[..., str]
) -> None:
    await _open(ui_user, account)
    siret, vat_number, bic = (element(ui_user, f"branding-{n}") for n in ("siret", "vat_number", "bic"))
    siret.value = "732 829 320 00074"
    vat_number.value = "FR45 732 829 320"  # the key is 44
    bic.value = "AGRIXXPP"
    ui_user.find(marker="save-branding").click()
    await eventually(lambda: vat_number.error is not None and bic.error is not None, "no error next to the fields")
    assert "2-digit key" in vat_number.error and "country code" in bic.error
    assert siret.error is None
    assert _stored("branding") == TEST_SELLER  # the test run's seeded identity, unchanged
    vat_number.value = "FR39 356 000 000"  # valid, but not this SIRET's SIREN
    bic.value = "AGRIFRPP"
    ui_user.find(marker="save-branding").click()
    await eventually(lambda: "match the SIRET" in (vat_number.error or ""), "no mismatch shown")
    assert bic.error is None
    vat_number.value = "FR44 732 829 320"
    ui_user.find(marker="save-branding").click()
    await eventually(lambda: _stored("branding").get("vat_number") == "FR44732829320", "not saved")
    assert (_stored("branding")["siret"], _stored("branding")["bic"]) == ("73282932000074", "AGRIFRPP")


async def test_templates_refuse_unknown_placeholders_and_preview_a_real_document(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = await _open(ui_user, account)
    with unit_of_work() as session:
        from sqlmodel import select

        from crm_app.platform.models.people import User as UserRow
        from tests.institution_factories import make_institution

        admin = session.exec(select(UserRow).where(UserRow.email == email)).one()
        invoice = make_invoice_row(session, admin, make_institution(session, name="Clinique des Lilas"))
        number = invoice.number
    await ui_user.should_see(marker="template-placeholders")
    await ui_user.should_see("{number}")
    subject = element(ui_user, "template-invoice_subject")
    subject.value = "Facture {numero}"
    ui_user.find(marker="save-templates").click()
    await eventually(lambda: subject.error is not None, "no error next to the subject")
    subject.value = "Votre facture {number} de {company}"
    ui_user.find(marker="save-templates").click()
    await eventually(
        lambda: _stored("templates").get("invoice_subject") == "Votre facture {number} de {company}", "not saved"
    )
    element(ui_user, "template-preview-kind").value = "invoice"
    ui_user.find(marker="template-preview").click()
    shown = element(ui_user, "template-preview-subject")
    await eventually(lambda: shown.text.startswith(f"Votre facture {number} de "), "no preview")


async def test_reminder_levels_are_saved(ui_user: User, account: Callable[..., str]) -> None:
    await _open(ui_user, account)
    levels = element(ui_user, "reminders-invoice_levels")
    levels.value = "-7, 500"
    ui_user.find(marker="save-reminders").click()
    await eventually(lambda: levels.error is not None, "no error next to the levels")
    levels.value = "-10, 5, 45"
    element(ui_user, "reminders-quote_reminders").value = ["j-3", "j0"]
    ui_user.find(marker="save-reminders").click()
    await eventually(lambda: _stored("reminders").get("invoice_levels") == [-10, 5, 45], "not saved")
    assert _stored("reminders")["quote_reminders"] == ["j-3", "j0"]


async def test_vat_rates_read_with_the_french_decimal_mark_and_save_back(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(Role.ADMIN, email="admin@example.org", name="Ada Admin")
    await log_in(ui_user, email, path="/login?redirect_to=/admin/settings")  # French, the default
    await ui_user.should_see(marker="section-documents", retries=50)
    rates = element(ui_user, "documents-vat_rates")
    assert rates.value == "20 ; 10 ; 5,5 ; 2,1 ; 0"  # not "5.5", and no comma both inside and between rates
    rates.value = "20 ; 5,5"
    element(ui_user, "documents-default_vat_rate").value = "5,5"
    ui_user.find(marker="save-documents").click()
    await eventually(lambda: _stored("documents").get("vat_rates") == ["20", "5.5"], "not saved")
    assert _stored("documents")["default_vat_rate"] == "5.5"


async def test_the_logo_uploader_has_its_own_header_without_quasars_size_and_progress(
    ui_user: User, account: Callable[..., str]
) -> None:
    await _open(ui_user, account)
    [upload] = ui_user.find(marker="branding-logo").elements
    assert "header" in upload.slots  # replaces "0.0B / 0.00%"
    assert upload.props.get("hide-upload-btn") is True
