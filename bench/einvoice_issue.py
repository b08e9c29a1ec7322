"""Issuing a 50-line Factur-X invoice on PostgreSQL, in process: the time `invoices.issue_invoice` takes
(number, buyer frozen, the PDF rendered, its CII XML built with drafthorse, checked against the XSD,
embedded as a PDF/A-3 by factur-x and stored with its hash) in one unit of work, and reading the
stored file back; p50/p95 in milliseconds (the issue's target: ≤ 150 ms p50).

    python bench/einvoice_issue.py [--database-url postgresql://postgres@127.0.0.1:5432/opex_bench_facturx] \
        [--lines 50] [--runs 30]

Creates the database (dropped first if it exists), runs the migrations, sets the company's identity,
creates a buyer and a sales rep through the services; each run creates a draft through the service
(not timed) then issues it (timed). The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
from generate import configure_environment, create_staff, prepare_database, psycopg_url
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# This file bears the factur-x library's module name: once bench/'s own modules are imported, its folder
# leaves the path so that `import facturx` in the application finds the library, not this script.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_facturx"
SELLER = {
    "legal_name": "OPEx Médical SAS",
    "address": "12 rue de la Paix\n75002 Paris",
    "siret": "73282932000074",
    "vat_number": "FR44732829320",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}
RATES = ("20", "10", "5.5", "0")


def lines(count: int) -> list[dict[str, str]]:
    rows = []
    for i in range(count):
        rate = RATES[i % 4]
        row = {
            "description": f"Article {i + 1}: endoscope, maintenance ou formation",
            "quantity": str(Decimal(i % 7 + 1) / 2),
            "unit_price": str(Decimal("1234.56") + i),
            "vat_rate": rate,
        }
        if rate == "0":
            row |= {"vat_exemption": "training", "unit": "day"}
        if i % 5 == 0:
            row |= {"discount_type": "percent", "discount_value": "7.5"}
        rows.append(row)
    return rows


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def drop_database(url: str) -> None:
    conninfo = psycopg_url(url)
    name = str(conninfo_to_dict(conninfo)["dbname"])
    from crm_app.platform.db import dispose_engines

    dispose_engines()
    with psycopg.connect(make_conninfo(conninfo, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("the benchmark needs PostgreSQL")
    configure_environment(args.database_url)
    prepare_database(args.database_url, replace=True)
    try:
        run(args.lines, args.runs)
    finally:
        drop_database(args.database_url)


def run(count: int, runs: int) -> None:
    from crm_app.institutions import service as institutions
    from crm_app.platform import settings
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.identifiers import make_siret
    from crm_app.platform.models.people import User
    from crm_app.platform.permissions import SYSTEM_ACTOR, actor_from
    from crm_app.sales import documents, invoices
    from crm_app.sales.models.quotes import DocumentKind

    staff = create_staff(random.Random(42))
    with unit_of_work() as session:
        settings.update_section(session, SYSTEM_ACTOR, "branding", SELLER)
        buyer = institutions.create_institution(
            session,
            SYSTEM_ACTOR,
            {
                "name": "CHU de Bordeaux",
                "street": "Place Amélie Raba-Léon",
                "postal_code": "33000",
                "city": "Bordeaux",
                "siret": make_siret("264000010001"),
            },
        ).id
    rep_id = next(iter(staff.sellers.values()))[0]
    body = lines(count)
    issue_ms: list[float] = []
    read_ms: list[float] = []
    for run_index in range(runs + 2):  # two warm-up runs: fonts, XSD and ICC profile loaded once per process
        with unit_of_work() as session:
            actor = actor_from(session.get_one(User, rep_id))
            draft_id = invoices.create_invoice(session, actor, {"institution_id": buyer, "lines": body}).id
        started = time.perf_counter()
        with unit_of_work() as session:
            invoices.issue_invoice(session, actor_from(session.get_one(User, rep_id)), draft_id)
        issued = time.perf_counter()
        with unit_of_work() as session:
            documents.document_pdf(session, actor_from(session.get_one(User, rep_id)), DocumentKind.INVOICE, draft_id)
        done = time.perf_counter()
        if run_index >= 2:
            issue_ms.append((issued - started) * 1000)
            read_ms.append((done - issued) * 1000)
    print(f"Factur-X invoice of {count} lines, {runs} runs (ms)")
    print(
        f"  issue (render + XML + XSD + PDF/A-3 + store): p50 {statistics.median(issue_ms):7.1f}"
        f"   p95 {percentile(issue_ms, 0.95):7.1f}   (target p50 <= 150)"
    )
    print(
        f"  download of the stored file:                  p50 {statistics.median(read_ms):7.1f}"
        f"   p95 {percentile(read_ms, 0.95):7.1f}"
    )


if __name__ == "__main__":
    main()
