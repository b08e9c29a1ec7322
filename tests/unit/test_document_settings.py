"""Settings of the sales documents: each field's validation (prefixes, VAT rates, IBAN and BIC by
schwifty, SIRET and VAT number by python-stdnum, colours, reminder levels, template placeholders), the
logo upload, who may change them, the security log, and the typed views the other services read."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image
from sqlmodel import Session, col, select

from crm_app.platform import settings as app_settings
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.platform.models.audit import SecurityEvent
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.platform.storage import path_of
from crm_app.sales import document_settings as ds
from tests.factories import actor_of, make_user


@pytest.fixture
def admin(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.ADMIN, name="Ada Admin"))


def _errors(db: Session, actor: Actor, section: str, values: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(db, actor, section, values)
    return set(error.value.field_errors)


def _messages(db: Session, actor: Actor, section: str, values: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as error:
        app_settings.update_section(db, actor, section, values)
    return dict(error.value.field_errors)


def _image(fmt: str, size: tuple[int, int] = (120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "#c62828").save(buffer, format=fmt)
    return buffer.getvalue()


def test_defaults_are_the_documented_ones(db: Session) -> None:
    settings = ds.document_settings(db)
    assert (settings.quote_prefix, settings.invoice_prefix, settings.payment_terms_days) == ("DEV", "FAC", 30)
    assert settings.vat_rates == (Decimal(20), Decimal(10), Decimal("5.5"), Decimal("2.1"), Decimal(0))
    assert settings.recovery_indemnity == Decimal(40)
    assert ds.reminder_rules(db).invoice_levels == (-7, 1, 15, 30)
    assert ds.branding(db).accent_color == "#1565c0"


def test_documents_fields_are_validated(db: Session, admin: Actor) -> None:
    assert _errors(
        db,
        admin,
        "documents",
        {"quote_prefix": "DE V", "invoice_prefix": "ABCDEFGHIJK", "order_prefix": "", "credit_note_prefix": "A/V"},
    ) == {"quote_prefix", "invoice_prefix", "order_prefix", "credit_note_prefix"}
    assert _errors(db, admin, "documents", {"vat_rates": ["20", "120"]}) == {"vat_rates"}
    assert _errors(db, admin, "documents", {"vat_rates": ["5.555"]}) == {"vat_rates"}
    assert _errors(db, admin, "documents", {"vat_rates": []}) == {"vat_rates"}
    assert _errors(db, admin, "documents", {"vat_rates": ["20", "20.00"]}) == {"vat_rates"}
    assert _errors(db, admin, "documents", {"default_vat_rate": "7"}) == {"default_vat_rate"}  # not in the list
    assert _errors(db, admin, "documents", {"vat_rates": ["10", "5.5"]}) == {"default_vat_rate"}  # 20 would vanish
    assert _errors(
        db,
        admin,
        "documents",
        {
            "payment_terms_days": "366",
            "quote_validity_days": "0",
            "late_penalty_rate": "abc",
            "recovery_indemnity": "-1",
        },
    ) == {"payment_terms_days", "quote_validity_days", "late_penalty_rate", "recovery_indemnity"}
    app_settings.update_section(
        db,
        admin,
        "documents",
        {"quote_prefix": "dev-b", "vat_rates": "20, 8.5, 0", "default_vat_rate": "8.50", "payment_terms_days": "45"},
    )
    settings = ds.document_settings(db)
    assert settings.quote_prefix == "DEV-B" and settings.payment_terms_days == 45
    assert settings.vat_rates == (Decimal(20), Decimal("8.5"), Decimal(0))
    assert settings.default_vat_rate == Decimal("8.5")


def test_iban_is_checked_with_mod_97(db: Session, admin: Actor) -> None:
    assert ds.iban_is_valid("FR7630006000011234567890189")
    assert ds.iban_is_valid("DE89370400440532013000")
    assert not ds.iban_is_valid("FR7630006000011234567890188")  # one digit off
    assert _errors(db, admin, "branding", {"iban": "FR76 3000 6000 0112 3456 7890 188"}) == {"iban"}
    assert _errors(
        db,
        admin,
        "branding",
        {"bic": "AGRI FR", "accent_color": "blue", "email": "nope", "siret": "12345678901234", "vat_number": "F"},
    ) == {"bic", "accent_color", "email", "siret", "vat_number"}
    view = app_settings.update_section(
        db,
        admin,
        "branding",
        {
            "iban": "fr76 3000 6000 0112 3456 7890 189",
            "bic": "agrifrpp",
            "accent_color": "#C62828",
            "legal_name": "OPEx Médical SAS",
        },
    )
    assert view.values["iban"] == "FR7630006000011234567890189"
    branding = ds.branding(db)
    assert (branding.bic, branding.accent_color, branding.legal_name) == ("AGRIFRPP", "#c62828", "OPEx Médical SAS")


def test_iban_and_bic_are_refused_with_the_reason_next_to_the_field(db: Session, admin: Actor) -> None:
    assert not ds.iban_is_valid("FR76300060000112345678901")  # 25 characters: a French IBAN has 27
    assert not ds.iban_is_valid("XX7630006000011234567890189")
    assert _messages(db, admin, "branding", {"iban": "FR76 3000 6000 0112 3456 7890 188", "bic": "AGRIFRP"}) == {
        "iban": "This IBAN is not valid (check its characters: the control key does not match).",
        "bic": "A BIC has 8 or 11 characters: 4 letters (bank), 2 letters (country), then letters or digits.",
    }
    assert _messages(db, admin, "branding", {"iban": "FR76 3000 6000 0112 3456 7890 1", "bic": "AGR1FRPP"}) == {
        "iban": "This IBAN is not valid (check its country code and its length).",
        "bic": "A BIC has 8 or 11 characters: 4 letters (bank), 2 letters (country), then letters or digits.",
    }
    assert _messages(db, admin, "branding", {"iban": "XX76 3000 6000 0112 3456 7890 189", "bic": "AGRIXXPP"}) == {
        "iban": "This IBAN is not valid (check its country code and its length).",
        "bic": "This BIC's country code (its 5th and 6th letters) does not exist.",
    }
    view = app_settings.update_section(
        db, admin, "branding", {"iban": "de89 3704 0044 0532 0130 00", "bic": "cobadeffxxx"}
    )
    assert (view.values["iban"], view.values["bic"]) == ("DE89370400440532013000", "COBADEFFXXX")
    view = app_settings.update_section(db, admin, "branding", {"iban": " ", "bic": ""})
    assert (view.values["iban"], view.values["bic"]) == ("", "")


def test_the_company_siret_and_vat_number_are_checked_with_their_keys(db: Session, admin: Actor) -> None:
    assert _messages(db, admin, "branding", {"siret": "73282932000075", "vat_number": "FR45732829320"}) == {
        "siret": "A SIRET has 14 digits and a valid check key.",
        "vat_number": "This VAT number is not valid: check its 2-digit key and its SIREN.",
    }
    # The company's own SIRET has a valid SIREN too (an institution's need not: see test_identifiers.py).
    assert _messages(db, admin, "branding", {"siret": "40000000000002", "vat_number": "FR4473282932"}) == {
        "siret": "A SIRET has 14 digits and a valid check key.",
        "vat_number": "Enter a VAT number such as FR12345678901.",
    }
    assert _messages(db, admin, "branding", {"vat_number": "DE136695977"}) == {
        "vat_number": "This VAT number is not valid (check digits)."
    }
    view = app_settings.update_section(
        db, admin, "branding", {"siret": "732 829 320 00074", "vat_number": "fr 44 732 829 320"}
    )
    assert (view.values["siret"], view.values["vat_number"]) == ("73282932000074", "FR44732829320")
    view = app_settings.update_section(db, admin, "branding", {"siret": "35600000000001", "vat_number": ""})
    assert view.values["siret"] == "35600000000001"  # a La Poste establishment


def test_a_french_vat_number_must_hold_the_sirets_siren(db: Session, admin: Actor) -> None:
    mismatch = "This VAT number does not match the SIRET: its last 9 digits must be the SIRET's first 9 (the SIREN)."
    # FR39356000000 is a valid number, but La Poste's, not the company's
    assert _messages(db, admin, "branding", {"siret": "73282932000074", "vat_number": "FR39356000000"}) == {
        "vat_number": mismatch
    }
    app_settings.update_section(db, admin, "branding", {"siret": "73282932000074", "vat_number": "FR44732829320"})
    # against the stored SIRET as well, when only the VAT number changes
    assert _messages(db, admin, "branding", {"vat_number": "FR39356000000"}) == {"vat_number": mismatch}
    # another member state's number, or no SIRET, is not compared
    app_settings.update_section(db, admin, "branding", {"vat_number": "DE136695976"})
    view = app_settings.update_section(db, admin, "branding", {"siret": "", "vat_number": "FR39356000000"})
    assert view.values["vat_number"] == "FR39356000000"


def test_reminder_levels_are_distinct_whole_days_in_range(db: Session, admin: Actor) -> None:
    assert _errors(db, admin, "reminders", {"invoice_levels": [1, 1]}) == {"invoice_levels"}
    assert _errors(db, admin, "reminders", {"invoice_levels": "-61, 5"}) == {"invoice_levels"}
    assert _errors(db, admin, "reminders", {"invoice_levels": "1.5"}) == {"invoice_levels"}
    assert _errors(db, admin, "reminders", {"quote_reminders": ["j-1"], "invoice_email_client": "maybe"}) == {
        "quote_reminders",
        "invoice_email_client",
    }
    app_settings.update_section(
        db,
        admin,
        "reminders",
        {
            "invoice_levels": "30, -10, 120",
            "quote_reminders": ["j0"],
            "quote_followup_task": False,
            "invoice_email_client": True,
        },
    )
    rules = ds.reminder_rules(db)
    assert rules.invoice_levels == (-10, 30, 120) and rules.quote_reminders == frozenset({"j0"})
    assert not rules.quote_followup_task and rules.invoice_email_client


def test_templates_only_know_the_listed_placeholders(db: Session, admin: Actor) -> None:
    assert _errors(
        db,
        admin,
        "templates",
        {"quote_subject": "Devis {numero}", "quote_body": "Total {total", "invoice_subject": "Ligne 1\nLigne 2"},
    ) == {"quote_subject", "quote_body", "invoice_subject"}
    view = app_settings.update_section(db, admin, "templates", {"quote_subject": "Devis {number} – {company}"})
    assert view.values["quote_subject"] == "Devis {number} – {company}"


def test_a_manager_is_refused_an_admin_allowed_and_changes_are_logged(db: Session, admin: Actor) -> None:
    manager = actor_of(make_user(db, role=Role.MANAGER))
    for section in ("documents", "branding", "templates", "reminders"):
        with pytest.raises(Forbidden):
            app_settings.update_section(db, manager, section, {})
    with pytest.raises(Forbidden):
        ds.upload_logo(db, manager, "logo.png", _image("PNG"))
    with pytest.raises(Forbidden):
        app_settings.update_section(db, admin, "email", {"smtp_host": "mail.example.org"})  # a system section
    app_settings.update_section(db, admin, "branding", {"iban": "FR1420041010050500013M02606", "footer": "Merci"})
    [event] = db.exec(
        select(SecurityEvent).where(SecurityEvent.action == app_settings.ACTION_CHANGED).order_by(col(SecurityEvent.at))
    ).all()
    changes = event.details["changes"]
    assert event.details["section"] == "branding" and changes["footer"] == {"old": "", "new": "Merci"}
    assert changes["iban"]["new"] == "FR…2606"  # never the full IBAN in a log


def test_logo_upload_checks_type_and_size_by_content(db: Session, admin: Actor) -> None:
    for name, content in (
        ("logo.png", b"GIF89a" + b"\0" * 100),
        ("logo.gif", _image("GIF")),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10),
    ):
        with pytest.raises(ValidationFailed) as error:
            ds.upload_logo(db, admin, name, content)
        assert set(error.value.field_errors) == {"logo"}
    too_big = b"\x89PNG\r\n\x1a\n" + b"\0" * ds.LOGO_MAX_BYTES
    with pytest.raises(ValidationFailed) as error:
        ds.upload_logo(db, admin, "big.png", too_big)
    assert "2 MB" in error.value.field_errors["logo"]
    view = ds.upload_logo(db, admin, "../../etc/passwd.jpg", _image("JPEG"))
    path = view.values["logo_path"]
    assert path.startswith("branding/logo-") and path.endswith(".jpg") and path_of(path).is_file()
    found = ds.logo_image(db, admin)
    assert found is not None and found[1] == "image/jpeg" and found[0] == path_of(path).read_bytes()
    assert _errors(db, admin, "branding", {"logo_path": "branding/elsewhere.png"}) == {"logo_path"}
    app_settings.update_section(db, admin, "branding", {"logo_path": ""})  # removing it
    assert ds.branding(db).logo_path == ""
