"""FEC accounting export: the issued invoices, credit notes and payments of a period as a "fichier des
écritures comptables" (article A47 A-1 of the LPF), the 18-column file French accountants, Sage and
the tax administration read.

Each invoice is one balanced entry in the sales journal (client 411 with the institution as auxiliary
account, sales 706/707 and collected VAT 44571 per VAT rate), each credit note the same reversed,
each payment one entry in the bank journal (512 / 411). Journal codes and account numbers are set
in its settings; choose a period and download the file on its page, or from
GET /api/plugins/fec_export/fec?date_from=YYYY-MM-DD&date_to=YYYY-MM-DD.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from sqlmodel import Session

from crm_app.integrations.plugin_host import Crm, RequestActor
from crm_app.integrations.plugin_settings import Choice, Text, Words
from crm_app.platform.permissions import Actor

from . import ledger

__version__ = "1.0.0"

ENCODINGS = {"iso-8859-15": "ISO-8859-15", "utf-8": "UTF-8"}


def _starts_with(prefix: str, account: Words) -> Any:
    def check(value: str) -> Words | None:
        if value and not value.startswith(prefix):
            return {
                "en": f"A {account['en']} account starts with {prefix}.",  # type: ignore[index]
                "fr": f"Un compte de {account['fr']} commence par {prefix}.",  # type: ignore[index]
                "es": f"Una cuenta de {account['es']} empieza por {prefix}.",  # type: ignore[index]
                "de": f"Ein {account['de']}konto beginnt mit {prefix}.",  # type: ignore[index]
            }
        return None

    return check


_ACCOUNT = r"[0-9]{3}[0-9A-Za-z]{0,17}"
_JOURNAL = r"[A-Za-z0-9]{1,8}"
_SALES: Words = {"en": "sales", "fr": "ventes", "es": "ventas", "de": "Umsatz"}
_VAT: Words = {"en": "VAT", "fr": "TVA", "es": "IVA", "de": "Umsatzsteuer"}
_RATE_LABELS = {"20": "20 %", "10": "10 %", "5_5": "5,5 %", "2_1": "2,1 %", "0": "0 %"}


def _account_label(kind: Words, rate: str) -> Words:
    label = _RATE_LABELS.get(rate)
    assert isinstance(kind, dict)
    if label is None:
        return {
            "en": f"{kind['en'].capitalize()} account, other rates",
            "fr": f"Compte de {kind['fr']}, autres taux",
            "es": f"Cuenta de {kind['es']}, otros tipos",
            "de": f"{kind['de'].capitalize()}konto, andere Sätze",
        }
    return {
        "en": f"{kind['en'].capitalize()} account, {label}",
        "fr": f"Compte de {kind['fr']}, {label}",
        "es": f"Cuenta de {kind['es']}, {label}",
        "de": f"{kind['de'].capitalize()}konto, {label}",
    }


SALES_DEFAULTS = {"20": "706000", "10": "706000", "5_5": "706000", "2_1": "706000", "0": "706000", "other": "706000"}
VAT_DEFAULTS = {"20": "445711", "10": "445712", "5_5": "445713", "2_1": "445714", "other": "445710"}


def settings_fields() -> list[Any]:
    """The settings form: journals, accounts, file format."""
    fields: list[Any] = [
        Text(
            name="sales_journal",
            label={
                "en": "Sales journal code",
                "fr": "Code du journal des ventes",
                "es": "Código del diario de ventas",
                "de": "Code des Verkaufsjournals",
            },
            default="VE",
            required=True,
            pattern=_JOURNAL,
            max_length=8,
        ),
        Text(
            name="sales_journal_label",
            label={
                "en": "Sales journal name",
                "fr": "Libellé du journal des ventes",
                "es": "Nombre del diario de ventas",
                "de": "Name des Verkaufsjournals",
            },
            default="Ventes",
            required=True,
            max_length=60,
        ),
        Text(
            name="bank_journal",
            label={
                "en": "Bank journal code",
                "fr": "Code du journal de banque",
                "es": "Código del diario de banco",
                "de": "Code des Bankjournals",
            },
            default="BQ",
            required=True,
            pattern=_JOURNAL,
            max_length=8,
        ),
        Text(
            name="bank_journal_label",
            label={
                "en": "Bank journal name",
                "fr": "Libellé du journal de banque",
                "es": "Nombre del diario de banco",
                "de": "Name des Bankjournals",
            },
            default="Banque",
            required=True,
            max_length=60,
        ),
        Text(
            name="client_account",
            label={"en": "Client account", "fr": "Compte clients", "es": "Cuenta de clientes", "de": "Kundenkonto"},
            help={
                "en": "The general ledger account of clients (411...); each institution is its auxiliary account.",
                "fr": "Le compte collectif clients (411...) ; chaque établissement en est un compte auxiliaire.",
                "es": "La cuenta general de clientes (411...); cada establecimiento es su cuenta auxiliar.",
                "de": "Das Sammelkonto der Kunden (411...); jede Einrichtung ist ein Personenkonto darin.",
            },
            default="411000",
            required=True,
            pattern=_ACCOUNT,
            validate=_starts_with("411", {"en": "client", "fr": "clients", "es": "clientes", "de": "Kunden"}),
        ),
        Text(
            name="auxiliary_prefix",
            label={
                "en": "Client account prefix",
                "fr": "Préfixe des comptes clients",
                "es": "Prefijo de las cuentas de clientes",
                "de": "Präfix der Kundenkonten",
            },
            help={
                "en": "Put before the institution's accounting number (or a code from its identifier) to make its "
                "auxiliary account.",
                "fr": "Placé devant le numéro comptable de l'établissement (ou un code tiré de son identifiant) pour "
                "former son compte auxiliaire.",
                "es": "Se antepone al número contable del establecimiento (o a un código de su identificador) para "
                "formar su cuenta auxiliar.",
                "de": "Wird der Buchhaltungsnummer der Einrichtung (oder einem Code aus ihrer Kennung) vorangestellt "
                "und bildet ihr Personenkonto.",
            },
            default="C",
            pattern=r"[A-Za-z0-9]{0,10}",
            max_length=10,
        ),
        Text(
            name="bank_account",
            label={"en": "Bank account", "fr": "Compte de banque", "es": "Cuenta bancaria", "de": "Bankkonto"},
            default="512000",
            required=True,
            pattern=_ACCOUNT,
            validate=_starts_with("512", {"en": "bank", "fr": "banque", "es": "banco", "de": "Bank"}),
        ),
    ]
    for rate, default in SALES_DEFAULTS.items():
        fields.append(
            Text(
                name=f"sales_account_{rate}",
                label=_account_label(_SALES, rate),
                default=default,
                required=True,
                pattern=_ACCOUNT,
                validate=_starts_with("70", _SALES),
            )
        )
    for rate, default in VAT_DEFAULTS.items():
        fields.append(
            Text(
                name=f"vat_account_{rate}",
                label=_account_label(_VAT, rate),
                default=default,
                required=True,
                pattern=_ACCOUNT,
                validate=_starts_with("4457", _VAT),
            )
        )
    fields += [
        Choice(
            name="separator",
            label={
                "en": "Column separator",
                "fr": "Séparateur de colonnes",
                "es": "Separador de columnas",
                "de": "Spaltentrenner",
            },
            options={
                "tab": {"en": "Tab", "fr": "Tabulation", "es": "Tabulador", "de": "Tabulator"},
                "pipe": {
                    "en": "Vertical bar |",
                    "fr": "Barre verticale |",
                    "es": "Barra vertical |",
                    "de": "Senkrechter Strich |",
                },
            },
            default="tab",
        ),
        Choice(
            name="encoding",
            label={"en": "Encoding", "fr": "Encodage", "es": "Codificación", "de": "Zeichenkodierung"},
            options={"iso-8859-15": "ISO 8859-15", "utf-8": "UTF-8"},
            default="iso-8859-15",
        ),
    ]
    return fields


def export(session: Session, actor: Actor, values: dict[str, Any], date_from: date, date_to: date) -> tuple[str, bytes]:
    """The FEC file of the period, and its name (`<SIREN>FEC<date_to>.txt`)."""
    date_from, date_to = ledger.check_period(date_from, date_to)
    period = ledger.read_period(session, actor, date_from, date_to)
    lines = ledger.build_entries(period.documents, period.payments, ledger.Accounts.from_settings(values))
    content = ledger.render(
        lines, separator=ledger.SEPARATORS[str(values["separator"])], encoding=str(values["encoding"])
    )
    return ledger.file_name(period.siren, date_to), content


def setup(crm: Crm) -> None:
    crm.settings(*settings_fields())

    def export_for(session: Session, actor: Actor, date_from: date, date_to: date) -> tuple[str, bytes]:
        """As `actor`: only who sees every invoice may export the books."""
        crm.authorize(actor, "record.view", everything=True)
        return export(session, actor, crm.setting_values(), date_from, date_to)

    @crm.router.get("/fec", response_class=Response)
    def download(
        actor: RequestActor,
        date_from: Annotated[date, Query()],
        date_to: Annotated[date, Query()],
    ) -> Response:
        name, content = crm.read(export_for, date_from, date_to, actor=actor)
        charset = ENCODINGS[str(crm.setting("encoding"))]
        return Response(
            content,
            media_type=f"text/plain; charset={charset}",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    from . import page  # NiceGUI only where the page is drawn

    crm.page(
        {"en": "FEC export", "fr": "Export FEC", "es": "Exportación FEC", "de": "FEC-Export"},
        page.builder(export_for),
    )
