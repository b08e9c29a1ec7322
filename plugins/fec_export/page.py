"""The plugin's page (/admin/plugins/fec_export): a period, and the FEC file of it to download."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from nicegui import ui

WORDS = {
    "title": {
        "en": "Download a FEC file",
        "fr": "Télécharger un FEC",
        "es": "Descargar un archivo FEC",
        "de": "FEC-Datei herunterladen",
    },
    "intro": {
        "en": "The issued invoices and credit notes (by issue date) and the payments (by payment date) of the "
        "period, as accounting entries.",
        "fr": "Les factures et avoirs émis (par date d'émission) et les règlements (par date de paiement) de la "
        "période, en écritures comptables.",
        "es": "Las facturas y notas de crédito emitidas (por fecha de emisión) y los pagos (por fecha de pago) del "
        "período, como asientos contables.",
        "de": "Die ausgestellten Rechnungen und Gutschriften (nach Ausstellungsdatum) und die Zahlungen (nach "
        "Zahlungsdatum) des Zeitraums als Buchungssätze.",
    },
    "from": {"en": "From", "fr": "Du", "es": "Desde", "de": "Von"},
    "to": {"en": "To", "fr": "Au", "es": "Hasta", "de": "Bis"},
    "download": {"en": "Download", "fr": "Télécharger", "es": "Descargar", "de": "Herunterladen"},
}


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def builder(export_for: Callable[..., tuple[str, bytes]]) -> Callable[[Any], None]:
    """The page's builder (`crm.page`), exporting with `export_for(session, actor, date_from, date_to)`."""

    def build(page: Any) -> None:
        text = page.crm.text
        today = date.today()
        with ui.card().classes("w-full").mark("fec-export"):
            ui.label(text(WORDS["title"])).classes("text-h6")
            ui.label(text(WORDS["intro"])).classes("text-caption text-grey-7")
            with ui.row().classes("items-start gap-2"):
                date_from = (
                    ui.input(text(WORDS["from"]), value=today.replace(month=1, day=1).isoformat())
                    .props("dense outlined type=date stack-label")
                    .classes("w-44")
                    .mark("fec-from")
                )
                date_to = (
                    ui.input(text(WORDS["to"]), value=today.isoformat())
                    .props("dense outlined type=date stack-label")
                    .classes("w-44")
                    .mark("fec-to")
                )

                async def download() -> None:
                    found = await page.call(
                        export_for,
                        _day(date_from.value),
                        _day(date_to.value),
                        fields={"date_from": date_from, "date_to": date_to},
                    )
                    if found is not None:
                        name, content = found
                        ui.download.content(content, name, "text/plain")

                ui.button(text(WORDS["download"]), icon="download", on_click=download).props("unelevated no-caps").mark(
                    "fec-download"
                )

    return build
