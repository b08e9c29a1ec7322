"""PDF rendering and totals: render time of a quote with 5, 50 and 300 lines, and `compute_totals`
for a 300-line quote; p50/p95 over repeated runs (target: a 50-line quote in < 100 ms).

    .venv/bin/python -m bench.pdf [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import partial

from crm_app.sales.document_settings import BRANDING_DEFAULTS, Branding
from crm_app.sales.models.quotes import DiscountType, DocumentKind
from crm_app.sales.money import LineAmounts, compute_totals
from crm_app.sales.pdf.document import Party, PdfDocument, PdfLine
from crm_app.sales.pdf.render import render

SELLER = Branding(
    **{
        **BRANDING_DEFAULTS,
        "legal_name": "OPEx Médical SAS",
        "address": "12 rue de la Paix\n75002 Paris",
        "siret": "73282932000074",
        "vat_number": "FR44732829320",
        "rcs": "RCS Paris B 732 829 320",
        "share_capital": "10 000 €",
        "iban": "FR7630006000011234567890189",
        "bic": "AGRIFRPP",
        "terms": "Conditions générales de vente.\n\n" * 20,
    }
)


def amounts(count: int) -> list[LineAmounts]:
    return [
        LineAmounts(
            quantity=Decimal(i % 7 + 1) / 2,
            unit_price=Decimal("1234.56") + i,
            vat_rate=(Decimal(20), Decimal(10), Decimal("5.5"))[i % 3],
            discount_kind=DiscountType.PERCENT if i % 4 == 0 else None,
            discount_value=Decimal("7.5") if i % 4 == 0 else Decimal(0),
        )
        for i in range(count)
    ]


def quote(count: int) -> PdfDocument:
    lines = amounts(count)
    totals = compute_totals(lines, Decimal("3"))
    return PdfDocument(
        kind=DocumentKind.QUOTE,
        number="DEV-2026-00042",
        language="fr",
        issue_date=date(2026, 3, 15),
        seller=SELLER,
        buyer=Party(name="CHU de Lyon", address_lines=("5 place d'Arsonval", "69003 Lyon")),
        lines=tuple(
            PdfLine(
                reference=f"REF-{i:04d}",
                description=f"Prestation {i} : maintenance préventive des "
                "équipements d'endoscopie, déplacement compris",
                quantity=a.quantity,
                unit="unit",
                unit_price=a.unit_price,
                discount_label="7,5 %" if a.discount_kind else None,
                vat_rate=a.vat_rate,
                net_amount=t.net,
            )
            for i, (a, t) in enumerate(zip(lines, totals.lines, strict=True))
        ),
        totals=totals,
        valid_until=date(2026, 4, 14),
    )


def measure(label: str, runs: int, action: Callable[[], object]) -> None:
    action()  # warm-up: fonts registered, modules loaded
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"{label:<34} p50 {statistics.median(times):8.2f} ms   p95 {p95:8.2f} ms   ({runs} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    for count in (5, 50, 300):
        document = quote(count)
        measure(f"render quote, {count} lines", runs, partial(render, document))
    lines = amounts(300)
    measure("compute_totals, 300 lines", runs * 10, partial(compute_totals, lines, Decimal("3")))


if __name__ == "__main__":
    main()
