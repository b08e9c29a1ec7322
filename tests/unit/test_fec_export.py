"""The FEC export plugin (plugins/fec_export): invoices with mixed VAT rates, a credit note and payments
made through the services, the file checked line by line against entries computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from crm_app.platform import settings as app_settings
from crm_app.platform.errors import Forbidden, ValidationFailed
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.sales import invoices, payments
from crm_app.sales.models.invoices import Invoice
from plugins import fec_export
from plugins.fec_export import ledger
from tests.factories import actor_of, make_user
from tests.institution_factories import make_buyer

SIRET = "73282932000074"  # SIREN 732829320
HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\tPieceRef\t"
    "PieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise"
)


def _line(description: str, quantity: str, unit_price: str, vat_rate: str) -> dict[str, Any]:
    return {"description": description, "quantity": quantity, "unit_price": unit_price, "vat_rate": vat_rate}


def _issued(
    session: Session, actor: Actor, institution_id: Any, lines: list[dict[str, Any]], discount: str = "0"
) -> Invoice:
    draft = invoices.create_invoice(
        session, actor, {"institution_id": institution_id, "lines": lines, "global_discount_percent": discount}
    )
    return invoices.issue_invoice(session, actor, draft.id)


def _settings(**changes: str) -> dict[str, Any]:
    values = {field.name: field.default_value for field in fec_export.settings_fields()}
    return {**values, **changes}


@pytest.fixture
def books(db: Session) -> dict[str, Any]:
    """Two invoices (20 %, 10 % and 5.5 %; 20 % and 2.1 % with a 10 % global discount), a credit note
    on the first, a payment on each."""
    app_settings.update_section(db, SYSTEM_ACTOR, "branding", {"siret": SIRET})
    parc = make_buyer(db, name="Clinique du Parc", accounting_number="CLPARC")
    nord = make_buyer(db, name="CHU Nord | Site Est")
    admin = actor_of(make_user(db, role=Role.ADMIN))
    first = _issued(
        db,
        admin,
        parc.id,
        [
            _line("Formation", "2", "150.00", "20"),
            _line("Livre", "1", "80.00", "5.5"),
            _line("Transport", "1", "45.50", "10"),
        ],
    )
    second = _issued(
        db, admin, nord.id, [_line("Audit", "1", "1000.00", "20"), _line("Revue", "1", "33.33", "2.1")], "10"
    )
    credit_note = invoices.create_credit_note(db, admin, first.id, lines=[_line("Livre", "1", "80.00", "5.5")])
    day = invoices.today(db)
    payments.record_payment(
        db, admin, second.id, {"amount": "1000.00", "paid_on": day, "method": "transfer", "reference": "VIR-778"}
    )
    payments.record_payment(db, admin, first.id, {"amount": "200.00", "paid_on": day, "method": "check"})
    db.flush()
    return {"first": first, "second": second, "credit_note": credit_note, "nord": nord, "day": day}


def _columns(content: bytes, separator: str = "\t", encoding: str = "iso-8859-15") -> list[list[str]]:
    text = content.decode(encoding)
    assert text.endswith("\r\n")
    return [row.split(separator) for row in text[:-2].split("\r\n")]


def test_the_fec_file_holds_one_balanced_entry_per_document_and_payment(db: Session, books: dict[str, Any]) -> None:
    day: date = books["day"]
    d = day.strftime("%Y%m%d")
    fac1, fac2, av1 = books["first"].number, books["second"].number, books["credit_note"].number
    nord = "C" + books["nord"].id.hex[:8].upper()
    name, content = fec_export.export(db, SYSTEM_ACTOR, _settings(sales_account_5_5="707100"), day, day)
    assert name == f"732829320FEC{d}.txt"
    rows = _columns(content)
    assert "\t".join(rows[0]) == HEADER
    assert all(len(row) == 18 for row in rows)

    def sales(*columns: str) -> list[str]:
        num, account, label, aux, aux_label, piece, text, debit, credit = columns
        return [
            "VE",
            "Ventes",
            num,
            d,
            account,
            label,
            aux,
            aux_label,
            piece,
            d,
            text,
            debit,
            credit,
            "",
            "",
            d,
            "",
            "",
        ]

    def bank(*columns: str) -> list[str]:
        num, account, label, aux, aux_label, piece, text, debit, credit = columns
        return [
            "BQ",
            "Banque",
            num,
            d,
            account,
            label,
            aux,
            aux_label,
            piece,
            d,
            text,
            debit,
            credit,
            "",
            "",
            d,
            "",
            "",
        ]

    invoice_1 = f"Facture {fac1}"
    invoice_2 = f"Facture {fac2}"
    credit = f"Avoir {av1} sur {fac1}"
    assert rows[1:] == [
        # 2 × 150.00 at 20 % (VAT 60.00), 45.50 at 10 % (VAT 4.55), 80.00 at 5.5 % (VAT 4.40): 494.45 incl. VAT
        sales("VE000001", "411000", "Clients", "CCLPARC", "Clinique du Parc", fac1, invoice_1, "494,45", "0,00"),
        sales("VE000001", "706000", "Ventes TVA 20 %", "", "", fac1, invoice_1, "0,00", "300,00"),
        sales("VE000001", "445711", "TVA collectée 20 %", "", "", fac1, invoice_1, "0,00", "60,00"),
        sales("VE000001", "706000", "Ventes TVA 10 %", "", "", fac1, invoice_1, "0,00", "45,50"),
        sales("VE000001", "445712", "TVA collectée 10 %", "", "", fac1, invoice_1, "0,00", "4,55"),
        sales("VE000001", "707100", "Ventes TVA 5,5 %", "", "", fac1, invoice_1, "0,00", "80,00"),
        sales("VE000001", "445713", "TVA collectée 5,5 %", "", "", fac1, invoice_1, "0,00", "4,40"),
        # 1000.00 at 20 % and 33.33 at 2.1 %, less 10 %: bases 900.00 and 30.00 (29.997), VAT 180.00 and 0.63
        sales("VE000002", "411000", "Clients", nord, "CHU Nord Site Est", fac2, invoice_2, "1110,63", "0,00"),
        sales("VE000002", "706000", "Ventes TVA 20 %", "", "", fac2, invoice_2, "0,00", "900,00"),
        sales("VE000002", "445711", "TVA collectée 20 %", "", "", fac2, invoice_2, "0,00", "180,00"),
        sales("VE000002", "706000", "Ventes TVA 2,1 %", "", "", fac2, invoice_2, "0,00", "30,00"),
        sales("VE000002", "445714", "TVA collectée 2,1 %", "", "", fac2, invoice_2, "0,00", "0,63"),
        # The credit note reverses 80.00 at 5.5 %: 84.40 incl. VAT
        sales("VE000003", "411000", "Clients", "CCLPARC", "Clinique du Parc", av1, credit, "0,00", "84,40"),
        sales("VE000003", "707100", "Ventes TVA 5,5 %", "", "", av1, credit, "80,00", "0,00"),
        sales("VE000003", "445713", "TVA collectée 5,5 %", "", "", av1, credit, "4,40", "0,00"),
        bank(
            "BQ000001", "512000", "Banque", "", "", fac2, f"Règlement {fac2} virement réf. VIR-778", "1000,00", "0,00"
        ),
        bank(
            "BQ000001",
            "411000",
            "Clients",
            nord,
            "CHU Nord Site Est",
            fac2,
            f"Règlement {fac2} virement réf. VIR-778",
            "0,00",
            "1000,00",
        ),
        bank("BQ000002", "512000", "Banque", "", "", fac1, f"Règlement {fac1} chèque", "200,00", "0,00"),
        bank(
            "BQ000002",
            "411000",
            "Clients",
            "CCLPARC",
            "Clinique du Parc",
            fac1,
            f"Règlement {fac1} chèque",
            "0,00",
            "200,00",
        ),
    ]
    # Every entry balanced to the cent, and the whole file too.
    by_entry: dict[str, Decimal] = {}
    for row in rows[1:]:
        amount = Decimal(row[11].replace(",", ".")) - Decimal(row[12].replace(",", "."))
        by_entry[row[2]] = by_entry.get(row[2], Decimal("0")) + amount
    assert set(by_entry.values()) == {Decimal("0.00")}
    assert len(by_entry) == 5


def test_settings_choose_journals_accounts_separator_and_encoding(db: Session, books: dict[str, Any]) -> None:
    day: date = books["day"]
    values = _settings(
        sales_journal="VT", bank_journal="BNP", client_account="411100", auxiliary_prefix="", bank_account="512100",
        sales_account_20="706200", vat_account_20="44571200", separator="pipe", encoding="utf-8",
    )  # fmt: skip
    _name, content = fec_export.export(db, SYSTEM_ACTOR, values, day, day)
    rows = _columns(content, "|", "utf-8")
    assert rows[0][0] == "JournalCode" and len(rows[0]) == 18
    first = [row for row in rows if row[8] == books["first"].number and row[0] == "VT"]
    assert [(row[2], row[4], row[6]) for row in first[:3]] == [
        ("VT000001", "411100", "CLPARC"),
        ("VT000001", "706200", ""),
        ("VT000001", "44571200", ""),
    ]
    assert {row[4] for row in rows if row[0] == "BNP"} == {"512100", "411100"}
    # A separator inside a name never shifts the columns.
    assert all(len(row) == 18 for row in rows)


def test_nothing_outside_the_period_and_the_siren_is_required(db: Session, books: dict[str, Any]) -> None:
    day: date = books["day"]
    empty = fec_export.export(db, SYSTEM_ACTOR, _settings(), date(2001, 1, 1), date(2001, 12, 31))[1]
    assert _columns(empty) == [HEADER.split("\t")]
    with pytest.raises(ValidationFailed) as backwards:
        fec_export.export(db, SYSTEM_ACTOR, _settings(), day, date(2001, 1, 1))
    assert set(backwards.value.field_errors) == {"date_to"}
    app_settings.update_section(db, SYSTEM_ACTOR, "branding", {"siret": ""})
    with pytest.raises(ValidationFailed) as no_siren:
        fec_export.export(db, SYSTEM_ACTOR, _settings(), day, day)
    assert set(no_siren.value.field_errors) == {"siren"}


def test_the_settings_schema_refuses_accounts_of_the_wrong_class() -> None:
    schema_fields = {f.name: f for f in fec_export.settings_fields()}
    assert schema_fields["sales_account_20"].clean("445710")[1] is not None
    assert schema_fields["vat_account_20"].clean("706000")[1] is not None
    assert schema_fields["bank_account"].clean("512 000")[1] is not None  # the pattern: no space
    assert schema_fields["sales_journal"].clean("VE")[0] == "VE"
    assert schema_fields["client_account"].clean("411000") == ("411000", None)


def test_only_who_sees_every_invoice_may_export(db: Session, books: dict[str, Any]) -> None:
    from crm_app.integrations import plugin_host

    plugin = plugin_host.Plugin(name="fec_export", source=plugin_host.Source.ENTRY_POINT, location="plugins.fec_export")
    crm = plugin_host.Crm(plugin)
    fec_export.setup(crm)
    assert plugin.page_builder is not None and [r.path for r in plugin.router.routes] == ["/fec"]  # type: ignore[attr-defined]
    rep = actor_of(make_user(db, role=Role.USER))
    with pytest.raises(Forbidden):
        crm.authorize(rep, "record.view", everything=True)
    admin = actor_of(make_user(db, role=Role.ADMIN))
    crm.authorize(admin, "record.view", everything=True)
    assert ledger.file_name("732829320", date(2026, 12, 31)) == "732829320FEC20261231.txt"
