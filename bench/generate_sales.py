"""Add the sales side to a database filled by generate.py: opportunities with their stage history,
activities (tasks, meetings and their participants, calls, notes), quotes and invoices with their
lines, payments and credit notes, spread over the last 24 months.

    python bench/generate.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench_analytics --replace
    python bench/generate_sales.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench_analytics \
        [--opportunities 50000] [--activities 500000] [--quotes 100000] [--invoices 100000] [--seed 42] [--replace]

Owners are the institutions' salespeople (their team's otherwise); documents follow the rules of the
services: line nets and document totals from crm_app.sales.money, quote and invoice numbers per year
in the order of their dates with the sequences advanced past them, statuses that agree with dates,
payments and credit notes, `closed_at` exactly on won and lost opportunities, a reason on the lost
ones, a first stage change from no stage. Rows are written with COPY, the tables' secondary indexes
dropped during the load and rebuilt after it; then a sample is checked against the services and a
quote, an invoice, a payment and a task are created through them (rolled back).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from generate import BENCH_EMAIL, configure_environment, psycopg_url
from psycopg import sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_analytics"
DAYS = 730  # 24 months
#: Loaded tables, parents first (COPY order) — TRUNCATEd by --replace, VACUUMed at the end.
TABLES = (
    "catalog_items",
    "opportunity_lost_reasons",
    "opportunities",
    "opportunity_stage_changes",
    "quotes",
    "quote_lines",
    "invoices",
    "invoice_lines",
    "payments",
    "tasks",
    "meetings",
    "meeting_participants",
    "calls",
    "notes",
    "document_sequences",
)
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
SELLING_ROLES = ("user", "manager", "team_admin")

DEALS = (
    ("Colonne d'endoscopie", 9.8),
    ("Renouvellement du monitoring", 9.4),
    ("Contrat de maintenance", 8.6),
    ("Échographes", 9.6),
    ("Équipement de bloc opératoire", 10.6),
    ("Marché de consommables", 9.0),
    ("Formation des équipes", 8.0),
    ("Laveurs-désinfecteurs", 10.0),
    ("Éclairage opératoire", 9.7),
    ("Tables d'opération", 10.2),
    ("Défibrillateurs", 8.9),
    ("Pousse-seringues", 8.8),
)  # name, log of the median amount excl. VAT
TASK_TITLES = (
    "Relancer l'acheteur",
    "Préparer la démonstration",
    "Envoyer la documentation",
    "Vérifier le dossier d'appel d'offres",
    "Planifier une visite",
    "Mettre à jour le chiffrage",
    "Confirmer la livraison",
    "Appeler l'ingénieur biomédical",
)
MEETING_TITLES = ("Démonstration sur site", "Présentation de l'offre", "Visite du service", "Point d'avancement")
CALL_SUMMARIES = (
    "Point sur le besoin.",
    "Relance du devis.",
    "Questions sur la livraison.",
    "Demande de démonstration.",
    "Négociation de la remise.",
    None,
)
NOTE_BODIES = (
    "Budget voté en commission, décision au prochain trimestre.",
    "Interlocuteur clé : l'ingénieur biomédical.",
    "Concurrent en place, contrat échu l'an prochain.",
    "Appel d'offres attendu, critères techniques à 60 %.",
    "Très satisfaits de l'installation.",
)
QUOTE_TITLES = ("Équipement", "Renouvellement", "Maintenance annuelle", "Consommables", "Formation")


def _moment(day: date, rng: random.Random, zone: ZoneInfo) -> datetime:
    """A moment of office hours on `day` in the organisation's time zone, in UTC."""
    local = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.choice((0, 15, 30, 45)), tzinfo=zone)
    return local.astimezone(UTC)


@dataclass
class Institution:
    id: uuid.UUID
    owner: uuid.UUID | None
    team: uuid.UUID | None
    status: str
    buyer: dict[str, Any]
    contact: uuid.UUID | None


@dataclass
class Loaded:
    rows: dict[str, list[Sequence[Any]]] = field(default_factory=lambda: defaultdict(list))


class World:
    """What the sales rows hang on: the salespeople and their teams, the institutions, the catalog."""

    def __init__(self, connection: psycopg.Connection[Any], rng: random.Random, now: datetime, zone: ZoneInfo) -> None:
        self.rng, self.now, self.zone = rng, now, zone
        self.today = now.astimezone(zone).date()
        users = connection.execute("SELECT id, team_id, role FROM users WHERE is_active ORDER BY email").fetchall()
        self.team_of = {user_id: team_id for user_id, team_id, _role in users}
        self.sellers = [user_id for user_id, team_id, role in users if role in SELLING_ROLES and team_id]
        self.selling = set(self.sellers)
        self.by_team: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for seller in self.sellers:
            self.by_team[self.team_of[seller]].append(seller)
        contacts = dict(
            connection.execute(
                "SELECT DISTINCT ON (institution_id) institution_id, id FROM contacts "
                "ORDER BY institution_id, is_primary DESC, id"
            ).fetchall()
        )
        self.institutions: list[Institution] = []
        for row in connection.execute(
            "SELECT id, assigned_user_id, team_id, commercial_status, name, street, postal_code, city, country, "
            "siret, accounting_number FROM institutions WHERE NOT is_archived ORDER BY id"
        ):
            town = " ".join(part for part in (row[6], row[7]) if part)
            address = [part for part in (row[5], town) if part]
            if row[8] and row[8] != "FR":
                address.append(row[8])
            buyer = {
                "name": row[4],
                "address_lines": address,
                "contact_name": None,
                "siret": row[9],
                "accounting_number": row[10],
                "email": None,
            }
            self.institutions.append(Institution(row[0], row[1], row[2], row[3], buyer, contacts.get(row[0])))
        self.clients = [i for i in self.institutions if i.status in ("client", "former_client")]
        if not self.sellers or not self.institutions:
            sys.exit("run bench/generate.py first: no salespeople or no institutions in this database")

    def owner(self, institution: Institution) -> uuid.UUID:
        """The institution's salesperson, else one of its team's, else anyone selling."""
        if institution.owner is not None and institution.owner in self.selling:
            return institution.owner
        if institution.team in self.by_team:
            return self.rng.choice(self.by_team[institution.team])
        return self.rng.choice(self.sellers)

    def day_ago(self, low: int = 0, high: int = DAYS) -> date:
        """A day in the past, recent days a little more likely (the business grows)."""
        fraction = self.rng.random() ** 1.25
        return self.today - timedelta(days=low + int(fraction * (high - low)))


# --------------------------------------------------------------------------------------------
# Lines and totals


@dataclass(frozen=True)
class Item:
    id: uuid.UUID
    reference: str
    name: str
    unit: str
    price: Decimal
    rate: Decimal


def catalog_rows(now: datetime) -> tuple[list[Item], list[Sequence[Any]]]:
    from crm_app.demo.sales import CATALOG
    from crm_app.platform.text import fold
    from crm_app.sales.tax_codes import default_supply_kind

    items: list[Item] = []
    rows: list[Sequence[Any]] = []
    for reference, name, category, unit, price, rate in CATALOG:
        item = Item(uuid.uuid4(), reference, name, unit, Decimal(price), Decimal(rate))
        items.append(item)
        rows.append(
            (
                now,
                now,
                None,
                1,
                item.id,
                reference,
                name,
                None,
                category,
                unit,
                item.price,
                item.rate,
                True,
                fold(name),
                None,
                default_supply_kind(unit).value,
            )
        )
    return items, rows


CATALOG_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "reference",
    "name",
    "description",
    "category",
    "unit",
    "unit_price",
    "default_vat_rate",
    "is_active",
    "name_key",
    "updated_by",
    "supply_kind",
)
LINE_COLUMNS = (
    "id",
    "{parent}",
    "position",
    "catalog_item_id",
    "reference",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "discount_type",
    "discount_value",
    "vat_rate",
    "net_amount",
    "supply_kind",
)


@dataclass
class Document:
    """Lines (without their parent id) and the totals the services would store."""

    lines: list[tuple[Any, ...]]
    discount: Decimal
    excl: Decimal
    vat: Decimal
    incl: Decimal


def make_document(rng: random.Random, items: list[Item], scale: float = 1.0) -> Document:
    from crm_app.sales.models.quotes import DiscountType
    from crm_app.sales.money import LineAmounts, compute_totals

    chosen = rng.sample(items, rng.choice((1, 1, 2, 2, 3, 4)))
    amounts, raw = [], []
    for item in chosen:
        bulk = item.unit in ("box", "lot", "kit")
        quantity = Decimal(rng.choice((10, 20, 50, 100)) if bulk else max(1, round(rng.choice((1, 1, 2, 3)) * scale)))
        kind, value = (DiscountType.PERCENT, Decimal(rng.choice((5, 8, 10)))) if rng.random() < 0.2 else (None, ZERO)
        amounts.append(LineAmounts(quantity, item.price, item.rate, kind, value))
        raw.append((item, quantity, kind, value))
    discount = Decimal(rng.choice((3, 5))) if rng.random() < 0.05 else ZERO
    totals = compute_totals(amounts, discount)
    lines = [
        (item.id, item.reference, item.name, quantity, item.unit, item.price, kind, value, item.rate, total.net)
        for (item, quantity, kind, value), total in zip(raw, totals.lines, strict=True)
    ]
    return Document(lines, discount, totals.total_excl_vat, totals.total_vat, totals.total_incl_vat)


def line_rows(parent: uuid.UUID, document: Document) -> Iterable[tuple[Any, ...]]:
    from crm_app.sales.tax_codes import default_supply_kind

    for position, (item, reference, name, quantity, unit, price, kind, value, rate, net) in enumerate(document.lines):
        supply = default_supply_kind(unit).value  # as the services set it for a line without a catalog item's kind
        yield (
            uuid.uuid4(),
            parent,
            position,
            item,
            reference,
            name,
            quantity,
            unit,
            price,
            kind,
            value,
            rate,
            net,
            supply,
        )


# --------------------------------------------------------------------------------------------
# Opportunities


OPPORTUNITY_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "name",
    "name_key",
    "institution_id",
    "contact_id",
    "owner_id",
    "team_id",
    "stage",
    "amount",
    "probability",
    "probability_is_manual",
    "expected_close_date",
    "source",
    "lost_reason_id",
    "lost_reason_text",
    "description",
    "closed_at",
    "stage_changed_at",
    "updated_by",
)
CHANGE_COLUMNS = (
    "id",
    "opportunity_id",
    "from_stage",
    "to_stage",
    "amount",
    "probability",
    "changed_at",
    "changed_by",
)


@dataclass
class Opportunity:
    id: uuid.UUID
    institution: Institution
    owner: uuid.UUID
    name: str
    amount: Decimal
    steps: list[tuple[datetime, str]]
    expected_close: date
    source: str | None
    lost_reason: uuid.UUID | None
    lost_text: str | None

    @property
    def stage(self) -> str:
        return self.steps[-1][1]

    def reached(self, stage: str) -> datetime | None:
        return next((moment for moment, to_stage in self.steps if to_stage == stage), None)


def make_opportunities(world: World, count: int, reasons: list[uuid.UUID]) -> list[Opportunity]:
    """Created over 24 months; the older, the likelier closed (won 58 %, lost 42 %), within 7–200 days."""
    from crm_app.demo.pipeline import spread, stage_path
    from crm_app.sales.models.opportunities import OpportunitySource, OpportunityStage

    rng = world.rng
    sources = [s.value for s in OpportunitySource]
    made = []
    for _ in range(count):
        institution = rng.choice(world.institutions)
        created_day = world.day_ago(0, DAYS)
        age = (world.today - created_day).days
        closed = rng.random() < min(0.9, age / 200)
        final = (
            (OpportunityStage.WON if rng.random() < 0.58 else OpportunityStage.LOST)
            if closed and age >= 7
            else rng.choices(list(OpportunityStage)[:4], weights=(32, 26, 24, 18))[0]
        )
        start = _moment(created_day, rng, world.zone)
        if final.is_closed:
            end_day = created_day + timedelta(days=rng.randint(7, max(7, min(age, 200))))
        else:
            end_day = created_day + timedelta(days=rng.randint(0, min(age, 60)))
        end = min(max(_moment(min(end_day, world.today), rng, world.zone), start), world.now)
        path = stage_path(rng, final)
        moments = spread(rng, start, end, len(path))
        deal, median = rng.choice(DEALS)
        amount = Decimal(max(1, round(rng.lognormvariate(median, 0.6) / 100)) * 100).quantize(CENT)
        lost = final is OpportunityStage.LOST
        made.append(
            Opportunity(
                id=uuid.uuid4(),
                institution=institution,
                owner=world.owner(institution),
                name=f"{deal} {created_day.year}",
                amount=amount,
                steps=[(m, s.value) for m, s in zip(moments, path, strict=True)],
                expected_close=end.astimezone(world.zone).date()
                if final.is_closed
                else world.today + timedelta(days=rng.randint(-20, 270)),
                source=rng.choice(sources) if rng.random() < 0.85 else None,
                lost_reason=rng.choice(reasons) if lost else None,
                lost_text="Précisions dans les notes." if lost and rng.random() < 0.1 else None,
            )
        )
    return made


def opportunity_rows(world: World, opportunities: list[Opportunity], out: Loaded) -> None:
    from crm_app.platform.text import fold
    from crm_app.sales.models.opportunities import STAGE_PROBABILITY, OpportunityStage

    for o in opportunities:
        stage = OpportunityStage(o.stage)
        created, moved = o.steps[0][0], o.steps[-1][0]
        team = world.team_of.get(o.owner)
        out.rows["opportunities"].append(
            (
                created,
                moved,
                o.owner,
                len(o.steps),
                o.id,
                o.name,
                fold(o.name),
                o.institution.id,
                o.institution.contact,
                o.owner,
                team,
                stage.value,
                o.amount,
                STAGE_PROBABILITY[stage],
                False,
                o.expected_close,
                o.source,
                o.lost_reason,
                o.lost_text,
                None,
                moved if stage.is_closed else None,
                moved,
                o.owner,
            )
        )
        previous = None
        for moment, to_stage in o.steps:
            out.rows["opportunity_stage_changes"].append(
                (
                    uuid.uuid4(),
                    o.id,
                    previous,
                    to_stage,
                    o.amount,
                    STAGE_PROBABILITY[OpportunityStage(to_stage)],
                    moment,
                    o.owner,
                )
            )
            previous = to_stage


# --------------------------------------------------------------------------------------------
# Quotes and invoices


QUOTE_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "number",
    "root_id",
    "revision",
    "superseded_by_id",
    "status",
    "title",
    "institution_id",
    "contact_id",
    "owner_id",
    "team_id",
    "issue_date",
    "valid_until",
    "currency",
    "global_discount_percent",
    "total_excl_vat",
    "total_vat",
    "total_incl_vat",
    "notes",
    "sent_at",
    "decided_at",
    "decided_by",
    "client_comment",
    "order_number",
    "purchase_order_ref",
    "ordered_at",
    "cancelled_at",
    "updated_by",
    "opportunity_id",
)
INVOICE_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "kind",
    "number",
    "status",
    "title",
    "institution_id",
    "contact_id",
    "owner_id",
    "team_id",
    "quote_id",
    "credited_invoice_id",
    "issue_date",
    "due_date",
    "payment_terms_days",
    "currency",
    "global_discount_percent",
    "total_excl_vat",
    "total_vat",
    "total_incl_vat",
    "amount_paid",
    "amount_credited",
    "notes",
    "buyer",
    "issued_at",
    "issued_by",
    "paid_at",
    "updated_by",
    "amount_refunded",
)
# every payment generated is money received ("in"): no refund is generated
PAYMENT_COLUMNS = (
    "id",
    "invoice_id",
    "amount",
    "paid_on",
    "method",
    "reference",
    "created_at",
    "created_by",
    "direction",
)


@dataclass
class Quote:
    id: uuid.UUID
    institution: Institution
    owner: uuid.UUID
    document: Document
    issue_date: date
    created_at: datetime
    status: str = "draft"
    sent_at: datetime | None = None
    decided_at: datetime | None = None
    ordered_at: datetime | None = None
    cancelled_at: datetime | None = None
    opportunity: uuid.UUID | None = None
    title: str = ""
    number: str = ""
    order_number: str | None = None


def make_quotes(world: World, count: int, items: list[Item], opportunities: list[Opportunity]) -> list[Quote]:
    """A quote for each opportunity that reached the proposal (won: accepted or ordered; lost after a
    proposal: rejected or expired; open: sent or draft), its amount the won opportunity's; then
    quotes without an opportunity up to `count`, their status following their validity."""
    quotes: list[Quote] = []
    for o in opportunities:
        proposed = o.reached("proposal")
        if proposed is not None and len(quotes) < count:
            quotes.append(_opportunity_quote(world, o, proposed, items))
    while len(quotes) < count:
        quotes.append(_free_quote(world, items))
    for quote in quotes:
        if quote.status == "ordered":
            assert quote.decided_at is not None
            quote.ordered_at = min(quote.decided_at + timedelta(days=world.rng.randint(1, 10)), world.now)
    return quotes


def _opportunity_quote(world: World, o: Opportunity, proposed: datetime, items: list[Item]) -> Quote:
    rng, zone, today = world.rng, world.zone, world.today
    day = proposed.astimezone(zone).date()
    quote = Quote(uuid.uuid4(), o.institution, o.owner, make_document(rng, items), day, proposed)
    quote.opportunity, quote.title = o.id, o.name
    valid_until = day + timedelta(days=30)
    closed_at = o.steps[-1][0]
    if o.stage == "won":
        quote.status = "ordered" if rng.random() < 0.4 else "accepted"
        quote.sent_at, quote.decided_at = proposed, max(closed_at, proposed)
        if (quote.decided_at.astimezone(zone).date() - day).days > 30:  # accepted within its validity
            quote.issue_date = quote.decided_at.astimezone(zone).date() - timedelta(days=rng.randint(1, 25))
            quote.created_at = _moment(quote.issue_date, rng, zone)
            quote.sent_at = min(quote.created_at + timedelta(hours=2), quote.decided_at)
        o.amount = quote.document.excl  # a won sale is worth its accepted quote
    elif o.stage == "lost":
        quote.sent_at = proposed
        if valid_until < today and rng.random() < 0.5:
            quote.status = "expired"
        else:
            quote.status, quote.decided_at = "rejected", max(closed_at, proposed)
    elif valid_until < today:
        quote.status, quote.sent_at = "expired", proposed
    elif rng.random() < 0.8:
        quote.status, quote.sent_at = "sent", proposed
    return quote


def _free_quote(world: World, items: list[Item]) -> Quote:
    rng, zone, now, today = world.rng, world.zone, world.now, world.today
    institution = rng.choice(world.clients if rng.random() < 0.7 else world.institutions)
    day = world.day_ago(0, DAYS)
    created = _moment(day, rng, zone)
    quote = Quote(uuid.uuid4(), institution, world.owner(institution), make_document(rng, items), day, created)
    quote.title = rng.choice(QUOTE_TITLES)
    valid_until = day + timedelta(days=30)
    if valid_until >= today:
        quote.status = rng.choices(("draft", "sent", "accepted", "cancelled"), weights=(15, 70, 10, 5))[0]
    else:
        quote.status = rng.choices(
            ("accepted", "ordered", "rejected", "expired", "cancelled"), weights=(30, 15, 15, 30, 10)
        )[0]
    if quote.status != "draft":
        quote.sent_at = min(created + timedelta(hours=rng.randint(1, 48)), now)
    if quote.status in ("accepted", "ordered", "rejected"):
        latest = min(datetime.combine(valid_until, created.timetz()), now)
        assert quote.sent_at is not None
        quote.decided_at = quote.sent_at + (latest - quote.sent_at) * rng.random()
    if quote.status == "cancelled":
        quote.cancelled_at = quote.sent_at or created
        quote.sent_at = None if rng.random() < 0.5 else quote.sent_at
    return quote


@dataclass
class Invoice:
    id: uuid.UUID
    institution: Institution
    owner: uuid.UUID
    document: Document
    issue_date: date | None
    terms: int
    created_at: datetime
    title: str
    quote: uuid.UUID | None = None
    kind: str = "invoice"
    credited: Invoice | None = None
    status: str = "draft"
    paid: Decimal = ZERO
    credited_amount: Decimal = ZERO
    paid_at: datetime | None = None
    issued_at: datetime | None = None
    number: str | None = None
    payments: list[tuple[Decimal, date, str]] = field(default_factory=list)


def make_invoices(world: World, count: int, items: list[Item], quotes: list[Quote]) -> list[Invoice]:
    """An invoice for most accepted and ordered quotes of clients (their lines), the rest from scratch
    at clients; a few drafts. Paid by age: past due by over 180 days 98.5 %, 90–180 days 95 %, less 80 %; some
    partly paid; 40 % of the unpaid ones 15 days past due cancelled by a full credit note (about 0.7 %
    of `count`)."""
    rng, zone, now, today = world.rng, world.zone, world.now, world.today
    invoices: list[Invoice] = []
    budget = int(count * 0.993)  # the credit notes make up the rest
    for quote in quotes:
        if len(invoices) >= budget * 0.4:
            break
        if quote.status not in ("accepted", "ordered") or quote.institution.status == "prospect":
            continue
        assert quote.decided_at is not None
        day = min(quote.decided_at.astimezone(zone).date() + timedelta(days=rng.randint(3, 30)), today)
        invoice = Invoice(
            uuid.uuid4(),
            quote.institution,
            quote.owner,
            quote.document,
            day,
            rng.choice((30, 30, 30, 45, 60)),
            max(_moment(day, rng, zone), quote.decided_at),
            quote.title,
            quote=quote.id,
        )
        invoices.append(invoice)
    while len(invoices) < budget:
        institution = rng.choice(world.clients)
        day = world.day_ago(0, DAYS)
        invoices.append(
            Invoice(
                uuid.uuid4(),
                institution,
                world.owner(institution),
                make_document(rng, items, scale=1.5),
                day,
                rng.choice((30, 30, 30, 45, 60)),
                _moment(day, rng, zone),
                rng.choice(QUOTE_TITLES),
            )
        )
    credit_notes: list[Invoice] = []
    for invoice in invoices:
        assert invoice.issue_date is not None
        invoice.created_at = min(invoice.created_at, now)
        if (today - invoice.issue_date).days < 10 and rng.random() < 0.15:
            invoice.issue_date = None  # still a draft
            continue
        invoice.issued_at = min(invoice.created_at + timedelta(minutes=rng.randint(5, 600)), now)
        note = _settle(world, invoice)
        if note is not None:
            credit_notes.append(note)
    return invoices + credit_notes


def _settle(world: World, invoice: Invoice) -> Invoice | None:
    """Payments (or a credit note, returned) and the status they give, as the services compute it."""
    rng, zone, now, today = world.rng, world.zone, world.now, world.today
    assert invoice.issue_date is not None
    due = invoice.issue_date + timedelta(days=invoice.terms)
    late = (today - due).days
    total = invoice.document.incl
    chance = 0.985 if late > 180 else 0.95 if late > 90 else 0.8 if late > 0 else 0.3
    roll = rng.random()
    note = None
    if roll < chance:
        pay_day = min(invoice.issue_date + timedelta(days=rng.randint(5, invoice.terms + 40)), today)
        if rng.random() < 0.1 and pay_day > invoice.issue_date:  # in two parts
            first = (total * Decimal(rng.choice(("0.3", "0.5")))).quantize(CENT)
            first_day = invoice.issue_date + timedelta(days=rng.randint(0, (pay_day - invoice.issue_date).days))
            invoice.payments += [(first, first_day, "transfer"), (total - first, pay_day, "transfer")]
        else:
            method = rng.choices(("transfer", "check", "direct_debit", "card"), (70, 15, 10, 5))[0]
            invoice.payments.append((total, pay_day, method))
    elif roll < chance + 0.05 and (today - invoice.issue_date).days > 5:
        part = (total * Decimal(rng.choice(("0.3", "0.4", "0.5", "0.6")))).quantize(CENT)
        pay_day = min(invoice.issue_date + timedelta(days=rng.randint(5, invoice.terms + 20)), today)
        invoice.payments.append((part, pay_day, "check"))
    elif late > 15 and rng.random() < 0.4:
        credit_day = min(due + timedelta(days=rng.randint(1, 30)), today)
        note = Invoice(
            uuid.uuid4(),
            invoice.institution,
            invoice.owner,
            invoice.document,
            credit_day,
            0,
            _moment(credit_day, rng, zone),
            invoice.title,
            quote=invoice.quote,
            kind="credit_note",
            credited=invoice,
        )
        note.issued_at, note.status = note.created_at, "issued"
        invoice.credited_amount = total
    invoice.paid = sum((amount for amount, _day, _method in invoice.payments), ZERO)
    if invoice.paid + invoice.credited_amount >= total:
        invoice.status = "paid" if invoice.paid else "cancelled"
        if invoice.paid:
            last_day = max(day for _amount, day, _method in invoice.payments)
            invoice.paid_at = min(_moment(last_day, rng, zone), now)
    elif due < today:
        invoice.status = "overdue"
    else:
        invoice.status = "partially_paid" if invoice.paid else "issued"
    return note


def number_documents(quotes: list[Quote], invoices: list[Invoice], zone: ZoneInfo) -> dict[tuple[str, int], int]:
    """Numbers per year in the order of dates (DEV-, BC-, FAC-, AV-); returns the sequences' last numbers."""
    last: dict[tuple[str, int], int] = defaultdict(int)

    def take(kind: str, prefix: str, year: int) -> str:
        last[kind, year] += 1
        return f"{prefix}-{year}-{last[kind, year]:05d}"

    for quote in sorted(quotes, key=lambda q: (q.issue_date, q.created_at)):
        quote.number = take("quote", "DEV", quote.issue_date.year)
    for quote in sorted((q for q in quotes if q.ordered_at), key=lambda q: q.ordered_at or q.created_at):
        assert quote.ordered_at is not None
        quote.order_number = take("order", "BC", quote.ordered_at.astimezone(zone).year)
    issued = sorted((i for i in invoices if i.issue_date), key=lambda i: (i.issue_date, i.issued_at))
    for invoice in issued:
        assert invoice.issue_date is not None
        kind, prefix = ("invoice", "FAC") if invoice.kind == "invoice" else ("credit_note", "AV")
        invoice.number = take(kind, prefix, invoice.issue_date.year)
    return dict(last)


def document_rows(world: World, quotes: list[Quote], invoices: list[Invoice], out: Loaded) -> None:
    rng = world.rng
    for q in quotes:
        updated = max(m for m in (q.created_at, q.sent_at, q.decided_at, q.ordered_at, q.cancelled_at) if m)
        team = world.team_of.get(q.owner)
        decided_by = q.owner if q.decided_at else None
        comment = "Bon pour accord." if q.status in ("accepted", "ordered") else None
        out.rows["quotes"].append(
            (
                q.created_at,
                updated,
                q.owner,
                1,
                q.id,
                q.number,
                q.id,
                1,
                None,
                q.status,
                q.title,
                q.institution.id,
                q.institution.contact,
                q.owner,
                team,
                q.issue_date,
                q.issue_date + timedelta(days=30),
                "EUR",
                q.document.discount,
                q.document.excl,
                q.document.vat,
                q.document.incl,
                None,
                q.sent_at,
                q.decided_at,
                decided_by,
                comment,
                q.order_number,
                f"PO-{rng.randint(10000, 99999)}" if q.order_number else None,
                q.ordered_at,
                q.cancelled_at,
                q.owner,
                q.opportunity,
            )
        )
        out.rows["quote_lines"].extend(line_rows(q.id, q.document))
    for i in invoices:
        team = world.team_of.get(i.owner)
        due = i.issue_date + timedelta(days=i.terms) if i.issue_date and i.kind == "invoice" else None
        buyer = json.dumps(i.institution.buyer) if i.issue_date else None
        updated = max(m for m in (i.created_at, i.issued_at, i.paid_at) if m)
        out.rows["invoices"].append(
            (
                i.created_at,
                updated,
                i.owner,
                1,
                i.id,
                i.kind,
                i.number,
                i.status,
                i.title,
                i.institution.id,
                i.institution.contact,
                i.owner,
                team,
                i.quote,
                i.credited.id if i.credited else None,
                i.issue_date,
                due,
                i.terms,
                "EUR",
                i.document.discount,
                i.document.excl,
                i.document.vat,
                i.document.incl,
                i.paid,
                i.credited_amount,
                None,
                buyer,
                i.issued_at,
                i.owner if i.issued_at else None,
                i.paid_at,
                i.owner,
                ZERO,  # no refund generated
            )
        )
        out.rows["invoice_lines"].extend(line_rows(i.id, i.document))
        for amount, paid_on, method in i.payments:
            moment = min(_moment(paid_on, rng, world.zone), world.now)
            out.rows["payments"].append(
                (uuid.uuid4(), i.id, amount, paid_on, method, f"{method[:3].upper()}-{i.number}", moment, i.owner, "in")
            )


# --------------------------------------------------------------------------------------------
# Activities


TASK_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "title",
    "description",
    "status",
    "priority",
    "due_at",
    "completed_at",
    "assignee_id",
    "team_id",
    "institution_id",
    "contact_id",
    "updated_by",
    "opportunity_id",
)
MEETING_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "location",
    "status",
    "organizer_id",
    "team_id",
    "institution_id",
    "updated_by",
    "opportunity_id",
)
PARTICIPANT_COLUMNS = ("id", "meeting_id", "user_id", "contact_id", "response", "responded_at")
CALL_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "direction",
    "called_at",
    "duration_seconds",
    "summary",
    "user_id",
    "team_id",
    "institution_id",
    "contact_id",
    "updated_by",
    "opportunity_id",
)
NOTE_COLUMNS = (
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "id",
    "body",
    "visibility",
    "institution_id",
    "team_id",
    "updated_by",
    "opportunity_id",
)
ACTIVITY_SHARES = {"tasks": 0.30, "meetings": 0.18, "calls": 0.32, "notes": 0.20}


def activity_rows(world: World, count: int, opportunities: list[Opportunity], out: Loaded) -> None:
    """Tasks 30 %, meetings 18 %, calls 32 %, notes 20 % over 24 months (tasks and meetings also in
    the coming 60 days); a third on an opportunity, within the days it was open."""
    rng, zone, now, today = world.rng, world.zone, world.now, world.today

    def place(future: bool) -> tuple[Institution, uuid.UUID, uuid.UUID | None, datetime]:
        if rng.random() < 0.33:
            o = rng.choice(opportunities)
            start, end = o.steps[0][0], (o.steps[-1][0] if o.stage in ("won", "lost") else now)
            moment = start + (end - start) * rng.random()
            return o.institution, o.owner, o.id, moment
        institution = rng.choice(world.institutions)
        ahead = future and rng.random() < 0.08
        day = today + timedelta(days=rng.randint(0, 60)) if ahead else world.day_ago(0, DAYS)
        return institution, world.owner(institution), None, _moment(day, rng, zone)

    for kind, share in ACTIVITY_SHARES.items():
        for _ in range(int(count * share)):
            institution, owner, opportunity, moment = place(kind in ("tasks", "meetings"))
            team = world.team_of.get(owner)
            contact = institution.contact if rng.random() < 0.6 else None
            if kind == "tasks":
                created = min(moment - timedelta(days=rng.randint(1, 20)), now)
                if moment < now:
                    status = rng.choices(("done", "cancelled", "todo", "in_progress"), (85, 3, 9, 3))[0]
                else:
                    status = rng.choices(("todo", "in_progress"), (80, 20))[0]
                completed = min(moment + timedelta(hours=rng.randint(-48, 24)), now) if status == "done" else None
                completed = max(completed, created) if completed else None
                updated = completed or created
                out.rows["tasks"].append(
                    (
                        created,
                        updated,
                        owner,
                        2 if completed else 1,
                        uuid.uuid4(),
                        rng.choice(TASK_TITLES),
                        None,
                        status,
                        rng.choices(("low", "normal", "high", "urgent"), (15, 60, 20, 5))[0],
                        moment,
                        completed,
                        owner,
                        team,
                        institution.id,
                        contact,
                        owner,
                        opportunity,
                    )
                )
            elif kind == "meetings":
                starts = moment.replace(minute=0)
                created = min(starts - timedelta(days=rng.randint(2, 20)), now)
                if starts < now:
                    status = "done" if rng.random() < 0.9 else "cancelled"
                else:
                    status = "scheduled" if rng.random() < 0.95 else "cancelled"
                meeting_id = uuid.uuid4()
                out.rows["meetings"].append(
                    (
                        created,
                        created,
                        owner,
                        1,
                        meeting_id,
                        rng.choice(MEETING_TITLES),
                        None,
                        starts,
                        starts + timedelta(minutes=rng.choice((30, 60, 90))),
                        "Sur site" if rng.random() < 0.7 else "Visioconférence",
                        status,
                        owner,
                        team,
                        institution.id,
                        owner,
                        opportunity,
                    )
                )
                if contact:
                    answered = status == "done"
                    out.rows["meeting_participants"].append(
                        (
                            uuid.uuid4(),
                            meeting_id,
                            None,
                            contact,
                            "accepted" if answered else "invited",
                            created + timedelta(days=1) if answered else None,
                        )
                    )
            elif kind == "calls":
                called = min(moment, now - timedelta(minutes=5))
                direction = rng.choices(("out", "in", "missed"), (60, 30, 10))[0]
                out.rows["calls"].append(
                    (
                        called,
                        called,
                        owner,
                        1,
                        uuid.uuid4(),
                        direction,
                        called,
                        None if direction == "missed" else rng.randint(30, 1800),
                        None if direction == "missed" else rng.choice(CALL_SUMMARIES),
                        owner,
                        team,
                        institution.id,
                        contact,
                        owner,
                        opportunity,
                    )
                )
            else:
                written = min(moment, now)
                out.rows["notes"].append(
                    (
                        written,
                        written,
                        owner,
                        1,
                        uuid.uuid4(),
                        rng.choice(NOTE_BODIES),
                        "shared" if rng.random() < 0.7 else "private",
                        institution.id,
                        team,
                        owner,
                        opportunity,
                    )
                )


# --------------------------------------------------------------------------------------------
# Loading


COLUMNS: dict[str, Sequence[str]] = {
    "catalog_items": CATALOG_COLUMNS,
    "opportunity_lost_reasons": (
        "created_at",
        "updated_at",
        "created_by",
        "version",
        "id",
        "label",
        "position",
        "is_active",
    ),
    "opportunities": OPPORTUNITY_COLUMNS,
    "opportunity_stage_changes": CHANGE_COLUMNS,
    "quotes": QUOTE_COLUMNS,
    "quote_lines": [c.format(parent="quote_id") for c in LINE_COLUMNS],
    "invoices": INVOICE_COLUMNS,
    "invoice_lines": [c.format(parent="invoice_id") for c in LINE_COLUMNS],
    "payments": PAYMENT_COLUMNS,
    "tasks": TASK_COLUMNS,
    "meetings": MEETING_COLUMNS,
    "meeting_participants": PARTICIPANT_COLUMNS,
    "calls": CALL_COLUMNS,
    "notes": NOTE_COLUMNS,
    "document_sequences": ("kind", "year", "last_number"),
}


def secondary_indexes(connection: psycopg.Connection[Any], tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, definition) of the indexes of `tables` that no constraint needs."""
    return [
        (str(name), str(definition))
        for name, definition in connection.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = t.oid)
            ORDER BY 1""",
            (list(tables),),
        ).fetchall()
    ]


def load(url: str, out: Loaded) -> tuple[float, float]:
    """COPY every table in one transaction, secondary indexes dropped meanwhile; (load s, index s)."""
    started = time.perf_counter()
    with psycopg.connect(psycopg_url(url)) as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        # No foreign-key triggers row by row: every key is checked in one anti-join per constraint below.
        connection.execute("SET session_replication_role = replica")
        indexes = secondary_indexes(connection, TABLES)
        for name, _definition in indexes:
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
        for table in TABLES:
            rows = out.rows.get(table, [])
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS[table])
            )
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            print(f"  {table:<28}{len(rows):>10,} rows  ({time.perf_counter() - started:.1f} s)", flush=True)
        connection.execute("SET session_replication_role = DEFAULT")
        check_foreign_keys(connection, TABLES)
        loaded = time.perf_counter()
        for _name, definition in indexes:
            connection.execute(definition)
    return loaded - started, time.perf_counter() - loaded


def check_foreign_keys(connection: psycopg.Connection[Any], tables: Sequence[str]) -> None:
    """Every foreign key of the loaded tables points at a row (what the skipped triggers would have
    checked), one anti-join per constraint; exits naming the first broken one."""
    constraints = connection.execute(
        """
        SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
               array_agg(a.attname ORDER BY k.n), array_agg(f.attname ORDER BY k.n)
        FROM pg_constraint c
        CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, fcol, n)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
        JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = k.fcol
        WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)
        GROUP BY 1, 2, 3""",
        (list(tables),),
    ).fetchall()
    for name, table, parent, columns, parent_columns in constraints:
        matches = sql.SQL(" AND ").join(
            sql.SQL("p.{} = c.{}").format(sql.Identifier(p), sql.Identifier(c))
            for c, p in zip(columns, parent_columns, strict=True)
        )
        present = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in columns)
        query = sql.SQL("SELECT count(*) FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})").format(
            sql.Identifier(table), present, sql.Identifier(parent), matches
        )
        row = connection.execute(query).fetchone()
        if row and row[0]:
            raise SystemExit(f"{row[0]} rows of {table} break the foreign key {name} (to {parent})")
    print(f"  {len(constraints)} foreign keys checked")


def prepare(url: str, *, replace: bool) -> None:
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        holds = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM opportunities) OR EXISTS (SELECT 1 FROM quotes) "
            "OR EXISTS (SELECT 1 FROM invoices) OR EXISTS (SELECT 1 FROM tasks) OR EXISTS (SELECT 1 FROM calls)"
        ).fetchone()
        if holds and holds[0]:
            if not replace:
                sys.exit("this database already holds sales data: pass --replace to empty the sales tables first")
            connection.execute(
                sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(sql.Identifier(t) for t in TABLES))
            )
            print("emptied the sales and activity tables")


def vacuum(url: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        for table in TABLES:
            connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    return time.perf_counter() - started


def check_with_services(sample: int, seed: int) -> str:
    """Stored totals of a sample equal the services' arithmetic of the stored lines; then a quote, an
    invoice (issued: its number follows the loaded ones), a payment and a task through the services,
    rolled back."""
    from sqlmodel import col, select

    from crm_app.activities import tasks
    from crm_app.institutions.models import Institution
    from crm_app.platform import settings
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.errors import ValidationFailed
    from crm_app.platform.models.people import User
    from crm_app.platform.permissions import SYSTEM_ACTOR, actor_from
    from crm_app.sales import invoices, payments, quotes
    from crm_app.sales.models.invoices import Invoice as InvoiceRow
    from crm_app.sales.models.quotes import Quote as QuoteRow

    rng = random.Random(seed)
    problems = []
    with unit_of_work() as session:
        invoice_ids = session.exec(select(InvoiceRow.id).order_by(col(InvoiceRow.id)).limit(20_000)).all()
        for invoice_id in rng.sample(list(invoice_ids), min(sample, len(invoice_ids))):
            detail = invoices.get_invoice(session, SYSTEM_ACTOR, invoice_id)
            stored = session.get(InvoiceRow, invoice_id)
            assert stored is not None
            if detail.totals.total_incl_vat != stored.total_incl_vat:
                problems.append(f"invoice {invoice_id}: {detail.totals.total_incl_vat} != {stored.total_incl_vat}")
        quote_ids = session.exec(select(QuoteRow.id).order_by(col(QuoteRow.id)).limit(20_000)).all()
        for quote_id in rng.sample(list(quote_ids), min(sample, len(quote_ids))):
            quote_detail = quotes.get_quote(session, SYSTEM_ACTOR, quote_id)
            stored_quote = session.get(QuoteRow, quote_id)
            assert stored_quote is not None
            computed = sum((row.base + row.vat for row in quote_detail.vat_rows), Decimal(0))
            if computed != stored_quote.total_incl_vat:
                problems.append(f"quote {quote_id}")
        some = session.exec(select(InvoiceRow).where(InvoiceRow.status == "overdue").limit(1)).one()
        admin = session.exec(select(User).where(User.email == BENCH_EMAIL)).one()
        actor = actor_from(admin)
        line = {"description": "Contrôle", "quantity": "1", "unit": "unit", "unit_price": "100.00", "vat_rate": "20"}
        # an issued invoice is a Factur-X e-invoice: the seller's identity it needs (rolled back below)
        settings.update_section(
            session,
            SYSTEM_ACTOR,
            "branding",
            {
                "legal_name": "OPEx Médical SAS",
                "address": "12 rue de la Santé\n75013 Paris",
                "siret": "73282932000074",
                "vat_number": "FR44732829320",
                "iban": "FR7630006000011234567890189",
                "bic": "AGRIFRPP",
            },
        )
        quote = quotes.create_quote(session, actor, {"institution_id": some.institution_id, "lines": [line]})
        buyer = session.exec(
            select(Institution.id).where(
                col(Institution.siret).is_not(None),
                col(Institution.street).is_not(None),
                col(Institution.postal_code).is_not(None),
                col(Institution.city).is_not(None),
            )
        ).first()  # an e-invoice's buyer has its address and SIRET
        draft = invoices.create_invoice(session, actor, {"institution_id": buyer, "lines": [line]})
        try:
            issued = invoices.issue_invoice(session, actor, draft.id)
        except ValidationFailed as refused:
            raise SystemExit(f"the check's invoice was not issued: {refused.field_errors}") from None
        payments.record_payment(session, actor, some.id, {"amount": "1.00", "method": "transfer"})
        tasks.create_task(session, actor, {"title": "Contrôle", "institution_id": some.institution_id})
        numbers = f"{quote.number}, {issued.number}"
        session.rollback()
    if problems:
        raise SystemExit("stored totals differ from the services':\n  " + "\n  ".join(problems[:20]))
    return (
        f"checked {2 * sample} documents' totals against the services; created through them (rolled back) "
        f"quote and invoice {numbers}, a payment on an overdue invoice, a task"
    )


#: Rules of the services, each a query counting the rows that break it (all must be 0).
INVARIANTS = {
    "invoice amount_paid = its payments": """
        SELECT count(*) FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount) s FROM payments GROUP BY 1) p
          ON p.invoice_id = i.id WHERE i.amount_paid <> coalesce(p.s, 0)""",
    "invoice amount_credited = its credit notes": """
        SELECT count(*) FROM invoices i LEFT JOIN (SELECT credited_invoice_id, sum(total_incl_vat) s FROM invoices
          WHERE kind = 'credit_note' GROUP BY 1) c ON c.credited_invoice_id = i.id
        WHERE i.kind = 'invoice' AND i.amount_credited <> coalesce(c.s, 0)""",
    "invoice status agrees with amounts and due date": """
        SELECT count(*) FROM invoices WHERE kind = 'invoice' AND status <> 'draft' AND status <> CASE
          WHEN amount_paid + amount_credited >= total_incl_vat
            THEN CASE WHEN amount_paid > 0 THEN 'paid' ELSE 'cancelled' END
          WHEN due_date < (now() AT TIME ZONE 'Europe/Paris')::date THEN 'overdue'
          WHEN amount_paid > 0 THEN 'partially_paid' ELSE 'issued' END""",
    "payment between issue date and today": """
        SELECT count(*) FROM payments p JOIN invoices i ON i.id = p.invoice_id
        WHERE p.paid_on < i.issue_date OR p.paid_on > (now() AT TIME ZONE 'Europe/Paris')::date""",
    "numbers follow issue dates": """
        SELECT count(*) FROM (SELECT issue_date, lag(issue_date) OVER (PARTITION BY kind, left(number, 8)
          ORDER BY number) AS previous FROM invoices WHERE number IS NOT NULL) n WHERE previous > issue_date""",
    "sequences past every number": """
        SELECT count(*) FROM (
          SELECT 'invoice' AS kind, number FROM invoices WHERE kind = 'invoice' AND number IS NOT NULL
          UNION ALL SELECT 'credit_note', number FROM invoices WHERE kind = 'credit_note'
          UNION ALL SELECT 'quote', number FROM quotes UNION ALL SELECT 'order', order_number FROM quotes
          WHERE order_number IS NOT NULL) d
        LEFT JOIN document_sequences s ON s.kind = d.kind AND s.year = split_part(d.number, '-', 2)::int
        WHERE s.last_number IS NULL OR split_part(d.number, '-', 3)::int > s.last_number""",
    "opportunity history: one creation, last move = stage, closed_at": """
        SELECT count(*) FROM opportunities o JOIN LATERAL (
          SELECT count(*) FILTER (WHERE from_stage IS NULL) AS created,
                 (array_agg(to_stage ORDER BY changed_at DESC))[1] AS last_stage, max(changed_at) AS last_move
          FROM opportunity_stage_changes c WHERE c.opportunity_id = o.id) h ON true
        WHERE h.created <> 1 OR h.last_stage <> o.stage OR h.last_move <> o.stage_changed_at
           OR (o.stage IN ('won', 'lost') AND o.closed_at <> h.last_move)""",
    "owner's team": """
        SELECT (SELECT count(*) FROM opportunities o JOIN users u ON u.id = o.owner_id
                WHERE o.team_id IS DISTINCT FROM u.team_id)
             + (SELECT count(*) FROM tasks t JOIN users u ON u.id = t.assignee_id
                WHERE t.team_id IS DISTINCT FROM u.team_id)""",
    "activity linked to an opportunity of its institution": """
        SELECT (SELECT count(*) FROM tasks t JOIN opportunities o ON o.id = t.opportunity_id
                WHERE t.institution_id <> o.institution_id)
             + (SELECT count(*) FROM quotes q JOIN opportunities o ON o.id = q.opportunity_id
                WHERE q.institution_id <> o.institution_id)""",
}


def check_invariants(url: str) -> str:
    with psycopg.connect(psycopg_url(url)) as connection:
        broken = []
        for rule, query in INVARIANTS.items():
            row = connection.execute(query).fetchone()
            if row and row[0]:
                broken.append(f"{rule}: {row[0]:,} rows")
    if broken:
        raise SystemExit("rules broken:\n  " + "\n  ".join(broken))
    return f"checked {len(INVARIANTS)} rules of the services in SQL: none broken"


def describe(url: str) -> list[str]:
    queries = {
        "opportunities": "SELECT stage, count(*) FROM opportunities GROUP BY 1 ORDER BY 2 DESC",
        "quotes": "SELECT status, count(*) FROM quotes GROUP BY 1 ORDER BY 2 DESC",
        "invoices": "SELECT kind || ':' || status, count(*) FROM invoices GROUP BY 1 ORDER BY 2 DESC",
        "ageing (open invoices)": """
            SELECT CASE WHEN due_date >= current_date THEN 'not due' WHEN due_date >= current_date - 30 THEN '1-30'
                        WHEN due_date >= current_date - 60 THEN '31-60' WHEN due_date >= current_date - 90 THEN '61-90'
                        ELSE '90+' END, count(*)
            FROM invoices WHERE status IN ('issued', 'partially_paid', 'overdue') GROUP BY 1 ORDER BY 1""",
        "tasks": "SELECT status, count(*) FROM tasks GROUP BY 1 ORDER BY 2 DESC",
        "owners": "SELECT 'opportunity owners', count(DISTINCT owner_id) FROM opportunities "
        "UNION ALL SELECT 'teams', count(DISTINCT team_id) FROM opportunities",
    }
    lines = []
    with psycopg.connect(psycopg_url(url)) as connection:
        for title, query in queries.items():
            lines.append(f"  {title}: " + ", ".join(f"{k} {v:,}" for k, v in connection.execute(query).fetchall()))
    return lines


def lost_reasons(url: str, now: datetime, out: Loaded) -> list[uuid.UUID]:
    """The ids of the lost reasons (the list's defaults, as the service seeds them); those the list
    lacks are added to the load."""
    from crm_app.demo.pipeline import LOST_REASONS

    with psycopg.connect(psycopg_url(url)) as connection:
        existing: dict[str, uuid.UUID] = dict(
            connection.execute("SELECT label, id FROM opportunity_lost_reasons").fetchall()
        )
    missing = [label for label in LOST_REASONS if label not in existing]
    created = {label: uuid.uuid4() for label in missing}
    out.rows["opportunity_lost_reasons"] = [
        (now, now, None, 1, created[label], label, len(existing) + position, True)
        for position, label in enumerate(missing)
    ]
    return [existing.get(label) or created[label] for label in LOST_REASONS]


def rebuild_totals(zone: ZoneInfo) -> None:
    """--replace emptied the tables with TRUNCATE, which fires no trigger: the dashboard's per-day totals
    are recomputed from the rows (crm_app/analytics/rollup.py)."""
    from crm_app.analytics import rollup
    from crm_app.platform.db import unit_of_work

    started = time.perf_counter()
    with unit_of_work() as session:
        if rollup.is_available(session):
            rollup.rebuild(session, zone.key)
            print(f"  dashboard totals rebuilt in {time.perf_counter() - started:.1f} s")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--opportunities", type=int, default=50_000)
    parser.add_argument("--activities", type=int, default=500_000)
    parser.add_argument("--quotes", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=100_000, help="invoices and credit notes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--replace", action="store_true", help="empty the sales and activity tables first")
    parser.add_argument("--verify", type=int, default=200, metavar="N", help="documents checked (0: no checks)")
    args = parser.parse_args(argv)

    configure_environment(args.database_url)
    from crm_app import bootstrap

    bootstrap.wire()  # the settings sections (the organisation's time zone) and every table
    started = time.perf_counter()
    prepare(args.database_url, replace=args.replace)
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.settings import timezone

    with unit_of_work() as session:
        zone = ZoneInfo(timezone(session))
    rng = random.Random(args.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(psycopg_url(args.database_url)) as connection:
        world = World(connection, rng, now, zone)
    print(
        f"{len(world.institutions):,} institutions ({len(world.clients):,} clients), {len(world.sellers)} "
        f"salespeople in {len(world.by_team)} teams ({time.perf_counter() - started:.1f} s)"
    )
    out = Loaded()
    items, out.rows["catalog_items"] = catalog_rows(now)
    reasons = lost_reasons(args.database_url, now, out)
    opportunities = make_opportunities(world, args.opportunities, reasons)
    quotes = make_quotes(world, args.quotes, items, opportunities)
    invoices = make_invoices(world, args.invoices, items, quotes)
    sequences = number_documents(quotes, invoices, zone)
    out.rows["document_sequences"] = [(kind, year, number) for (kind, year), number in sorted(sequences.items())]
    opportunity_rows(world, opportunities, out)
    document_rows(world, quotes, invoices, out)
    activity_rows(world, args.activities, opportunities, out)
    generated = time.perf_counter()
    total = sum(len(rows) for rows in out.rows.values())
    print(f"generated {total:,} rows in {generated - started:.1f} s")
    load_seconds, index_seconds = load(args.database_url, out)
    print(
        f"  COPY {total:,} rows in {load_seconds:.1f} s = {total / load_seconds:,.0f} rows/s; "
        f"indexes rebuilt in {index_seconds:.1f} s"
    )
    rebuild_totals(zone)
    if args.verify:
        print(check_invariants(args.database_url))
        print(check_with_services(args.verify, args.seed))
    print(f"  VACUUM ANALYZE in {vacuum(args.database_url):.1f} s")
    print("\n".join(describe(args.database_url)))
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
