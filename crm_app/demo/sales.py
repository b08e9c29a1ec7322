"""The sales part of the demo data: a catalog of medical items, quotes in every status (with a
revision), invoices in every status with their payments and credit notes, and the demo company's
branding. Everything goes through the services, so numbers, totals and statuses are what real use
gives.

The history is spread over the last months: each step runs with the application's clock set to its
day (`models.base.clock`), in chronological order, so that invoice numbers follow their issue dates
as the law wants. The daily jobs then run once at the real time (expired quotes, overdue invoices).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from crm_app.demo import pipeline
from crm_app.demo.history import Plan
from crm_app.institutions.models import Contact, Institution
from crm_app.platform import settings as app_settings
from crm_app.platform.identifiers import french_vat_number, make_siret
from crm_app.platform.models import base
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor, actor_from
from crm_app.sales import catalog, invoices, payments, quotes
from crm_app.sales import reminders as sales_jobs
from crm_app.sales.models.opportunities import OpportunitySource, OpportunityStage
from crm_app.sales.models.quotes import CatalogItem, Quote

#: reference, name, category, unit, unit price excl. VAT, VAT rate
CATALOG: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("EQ-ENDO-001", "Colonne d'endoscopie HD 4K", "Équipement", "unit", "48500.00", "20"),
    ("EQ-ENDO-002", "Gastroscope flexible HD", "Équipement", "unit", "18900.00", "20"),
    ("EQ-ENDO-003", "Coloscope flexible HD", "Équipement", "unit", "21400.00", "20"),
    ("EQ-ECHO-001", "Échographe portable multi-sondes", "Équipement", "unit", "27800.00", "20"),
    ("EQ-MON-001", "Moniteur multiparamétrique de surveillance", "Équipement", "unit", "6450.00", "20"),
    ("EQ-PSE-001", "Pousse-seringue électrique", "Équipement", "unit", "1390.00", "20"),
    ("EQ-DEA-001", "Défibrillateur entièrement automatique", "Équipement", "unit", "1790.00", "20"),
    ("EQ-LAV-001", "Laveur-désinfecteur d'endoscopes", "Équipement", "unit", "32500.00", "20"),
    ("EQ-ECL-001", "Éclairage opératoire LED double coupole", "Équipement", "unit", "19800.00", "20"),
    ("EQ-TAB-001", "Table d'opération électrique", "Équipement", "unit", "36900.00", "20"),
    ("EQ-FAU-001", "Fauteuil roulant manuel pliant", "Équipement", "unit", "590.00", "5.5"),
    ("CO-GAN-001", "Gants d'examen nitrile non poudrés (boîte de 100)", "Consommables", "box", "6.90", "20"),
    ("CO-CHA-001", "Champs opératoires stériles (lot de 50)", "Consommables", "lot", "84.00", "20"),
    ("CO-BIO-001", "Pinces à biopsie à usage unique (boîte de 20)", "Consommables", "box", "189.00", "20"),
    ("CO-GEL-001", "Gel d'échographie (carton de 12 × 250 ml)", "Consommables", "box", "38.50", "20"),
    ("CO-ECG-001", "Électrodes ECG pré-gélifiées (sachet de 50)", "Consommables", "box", "12.40", "20"),
    ("CO-MAS-001", "Masques chirurgicaux type IIR (boîte de 50)", "Consommables", "box", "7.20", "20"),
    ("CO-PAN-001", "Kit de pansement stérile", "Consommables", "kit", "3.85", "20"),
    ("CO-DES-001", "Désinfectant de haut niveau pour endoscopes (5 l)", "Consommables", "unit", "64.00", "20"),
    ("FO-UTI-001", "Journée de formation des utilisateurs sur site", "Formation", "day", "1150.00", "20"),
    ("FO-BIO-001", "Formation maintenance biomédicale niveau 1", "Formation", "day", "1450.00", "0"),
    ("FO-DIS-001", "Assistance technique à distance", "Formation", "hour", "95.00", "20"),
    ("MA-END-001", "Contrat de maintenance préventive endoscopie (annuel)", "Maintenance", "year", "4800.00", "20"),
    ("MA-ECH-001", "Contrat de maintenance tous risques échographe (annuel)", "Maintenance", "year", "3200.00", "20"),
    ("MA-MON-001", "Maintenance du parc de monitoring (mensuel)", "Maintenance", "month", "290.00", "20"),
    ("MA-INT-001", "Intervention de maintenance corrective sur site", "Maintenance", "unit", "680.00", "20"),
)
FIRST_REFERENCE = CATALOG[0][0]  # present once the sales demo is seeded
DEMO_SALES_REPS = (
    "commercial.idf@opex-crm.demo",
    "commercial.ouest@opex-crm.demo",
    "commercial.sudest@opex-crm.demo",
    "manager.ouest@opex-crm.demo",
    "manager.sudest@opex-crm.demo",
    "chef.idf@opex-crm.demo",
)


def _siret(rng: random.Random) -> str:
    return make_siret("".join(str(rng.randint(0, 9)) for _ in range(12)))


def _branding() -> dict[str, Any]:
    siret = _siret(random.Random(75013))
    return {
        "legal_name": "OPEx Médical SAS",
        "address": "18 rue de la Santé\n75013 Paris\nFrance",
        "siret": siret,
        "vat_number": french_vat_number(siret[:9]),
        "rcs": f"RCS Paris {siret[:3]} {siret[3:6]} {siret[6:9]}",
        "share_capital": "250 000 €",
        "phone": "01 45 89 12 30",
        "email": "facturation@opex-medical.fr",
        "website": "https://opex-medical.fr",
        "accent_color": "#0b6e99",
        "iban": "FR7630006000011234567890189",
        "bic": "AGRIFRPP",
        "payment_instructions": "Virement à 30 jours, en rappelant le numéro de facture.",
        "footer": "OPEx Médical SAS — équipement et maintenance biomédicale",
        "terms": "Conditions générales de vente disponibles sur demande. Garantie constructeur 2 ans sur les "
        "équipements.",
    }


def is_seeded(session: Session) -> bool:
    return session.exec(select(CatalogItem.id).where(CatalogItem.reference == FIRST_REFERENCE)).first() is not None


def seed_sales(session: Session) -> bool:
    """Create the sales demo once (False when it is there already)."""
    if is_seeded(session):
        return False
    now = base.clock()
    plan = Plan(now)
    rng = random.Random(5)
    items: dict[str, CatalogItem] = {}

    def make_catalog() -> None:
        for reference, name, category, unit, price, rate in CATALOG:
            items[reference] = catalog.create_item(
                session,
                SYSTEM_ACTOR,
                {
                    "reference": reference,
                    "name": name,
                    "category": category,
                    "unit": unit,
                    "unit_price": price,
                    "default_vat_rate": rate,
                    # a 0 % item says why: the demo's are trainings (CGI art. 261-4-4°)
                    "vat_exemption": "training" if rate == "0" else None,
                },
            )
        app_settings.update_section(session, SYSTEM_ACTOR, "branding", _branding())

    plan.on(400, make_catalog)
    reps = session.exec(select(User).where(col(User.email).in_(DEMO_SALES_REPS)).order_by(col(User.email))).all()
    scenarios = []
    for index, rep in enumerate(reps):
        clients = session.exec(
            select(Institution).where(Institution.assigned_user_id == rep.id).order_by(col(Institution.name)).limit(12)
        ).all()
        if len(clients) >= 6:
            scenario = _Scenario(
                session,
                plan,
                rep,
                list(clients),
                items=items,
                rng=rng,
                full=rep.role == Role.USER,
                index=index,
            )
            scenario.add()
            scenario.unpaid()
            scenario.recent()
            scenario.history()
            scenarios.append(scenario)
    plan.run()
    sales_jobs.expire_quotes(session, now=now)
    sales_jobs.mark_invoices_overdue(session, now=now)
    # The sales behind the quotes, written once every quote has its final status, so that no rule
    # tying a quote's decision to its opportunity runs twice.
    reasons = pipeline.lost_reasons(session)
    for scenario in scenarios:
        scenario.link_deals(reasons, now=now)
    return True


class _Scenario:
    """One salesperson's documents: every quote and invoice status, spread over the last months."""

    def __init__(
        self,
        session: Session,
        plan: Plan,
        owner: User,
        clients: list[Institution],
        *,
        items: dict[str, CatalogItem],
        rng: random.Random,
        full: bool,
        index: int,
    ) -> None:
        self.session, self.plan, self.owner, self.clients = session, plan, owner, clients
        self.actor: Actor = actor_from(owner)
        self.items, self.rng, self.full, self.index = items, rng, full, index
        self.offset = index * 0.2  # days: each salesperson's steps a little after the previous one's
        self.ids: dict[str, uuid.UUID] = {}
        # quote keys and the stage of the sale behind them (with the lost reason when lost)
        self.deals: list[tuple[tuple[str, ...], OpportunityStage, str | None]] = []

    # ---- helpers

    def on(self, days_ago: float, step: Callable[[], object]) -> None:
        self.plan.on(days_ago + self.offset, step)

    def _contact(self, institution: Institution) -> uuid.UUID | None:
        return self.session.exec(
            select(Contact.id)
            .where(Contact.institution_id == institution.id)
            .order_by(col(Contact.is_primary).desc(), col(Contact.last_name))
        ).first()

    def _lines(self, references: tuple[str, ...]) -> list[dict[str, Any]]:
        lines = []
        for reference in references:
            item = self.items[reference]
            bulk = item.unit in ("box", "lot", "kit")
            quantity = self.rng.choice((10, 20, 50)) if bulk else self.rng.choice((1, 1, 2, 3))
            line: dict[str, Any] = {
                "catalog_item_id": item.id,
                "reference": item.reference,
                "description": item.name,
                "quantity": str(quantity),
                "unit": item.unit,
                "unit_price": str(item.unit_price),
                "vat_rate": str(item.default_vat_rate),
            }
            if self.rng.random() < 0.3:
                line.update(discount_type="percent", discount_value=str(self.rng.choice((5, 8, 10))))
            lines.append(line)
        return lines

    def quote(self, key: str, client: int, references: tuple[str, ...], title: str, **values: Any) -> None:
        institution = self.clients[client]
        self.ids[key] = quotes.create_quote(
            self.session,
            self.actor,
            {
                "institution_id": institution.id,
                "contact_id": self._contact(institution),
                "title": title,
                "lines": self._lines(references),
                **values,
            },
        ).id

    def invoice(self, key: str, client: int, references: tuple[str, ...], title: str, **values: Any) -> None:
        institution = self.clients[client]
        self.ids[key] = invoices.create_invoice(
            self.session,
            self.actor,
            {
                "institution_id": institution.id,
                "contact_id": self._contact(institution),
                "title": title,
                "lines": self._lines(references),
                **values,
            },
        ).id

    def pay(self, key: str, share: Decimal | None = None, method: str = "transfer") -> None:
        invoice = invoices.get_invoice_record(self.session, self.ids[key])
        due = invoices.remaining_amount(invoice)
        amount = due if share is None else (due * share).quantize(Decimal("0.01"))
        payments.record_payment(
            self.session,
            self.actor,
            invoice.id,
            {"amount": str(amount), "method": method, "reference": f"{method.upper()[:3]}-{invoice.number}"},
        )

    # ---- the story

    def add(self) -> None:
        a, s = self.actor, self.session
        q = quotes

        # quotes: draft, sent, sent (expiring soon), accepted, rejected, expired, cancelled, a revision
        self.on(2, lambda: self.quote("draft", 0, ("EQ-ECHO-001", "CO-GEL-001"), "Échographe pour les urgences"))
        self.on(
            10,
            lambda: self.quote("sent", 1, ("EQ-MON-001", "EQ-PSE-001", "CO-ECG-001"), "Renouvellement du monitoring"),
        )
        self.on(9, lambda: q.send_quote(s, a, self.ids["sent"]))
        self.on(26, lambda: self.quote("soon", 2, ("MA-END-001", "MA-INT-001"), "Maintenance endoscopie 2026"))
        self.on(25, lambda: q.send_quote(s, a, self.ids["soon"]))
        self.on(
            40,
            lambda: self.quote(
                "accepted", 3, ("EQ-ENDO-002", "EQ-ENDO-003", "CO-BIO-001"), "Fibroscopes de remplacement"
            ),
        )
        self.on(39, lambda: q.send_quote(s, a, self.ids["accepted"]))
        self.on(
            30, lambda: q.accept_quote(s, a, self.ids["accepted"], client_comment="Accord de la direction des achats.")
        )
        self.on(50, lambda: self.quote("rejected", 4, ("EQ-TAB-001",), "Table d'opération bloc B"))
        self.on(49, lambda: q.send_quote(s, a, self.ids["rejected"]))
        self.on(
            45, lambda: q.reject_quote(s, a, self.ids["rejected"], client_comment="Budget reporté à l'an prochain.")
        )
        self.on(72, lambda: self.quote("expired", 5, ("EQ-DEA-001", "FO-UTI-001"), "Défibrillateurs des étages"))
        self.on(71, lambda: q.send_quote(s, a, self.ids["expired"]))
        self.on(20, lambda: self.quote("cancelled", 0, ("CO-GAN-001", "CO-MAS-001"), "Consommables trimestre"))
        self.on(18, lambda: q.cancel_quote(s, a, self.ids["cancelled"]))
        self.on(16, lambda: self.quote("revised", 1, ("EQ-LAV-001", "CO-DES-001"), "Laveur-désinfecteur"))
        self.on(15, lambda: q.send_quote(s, a, self.ids["revised"]))
        self.on(12, lambda: self.ids.__setitem__("revision", q.revise_quote(s, a, self.ids["revised"]).id))
        self.on(
            11.5,
            lambda: q.update_quote(
                s,
                a,
                self.ids["revision"],
                {"global_discount_percent": "5"},
                expected_version=q.get_quote_record(s, self.ids["revision"]).version,
            ),
        )
        self.on(11, lambda: q.send_quote(s, a, self.ids["revision"]))

        # an ordered quote invoiced in two parts: a 30 % deposit (paid), then the balance
        self.on(
            95,
            lambda: self.quote(
                "ordered", 2, ("EQ-ENDO-001", "FO-UTI-001", "MA-END-001"), "Colonne d'endoscopie et formation"
            ),
        )
        self.on(94, lambda: q.send_quote(s, a, self.ids["ordered"]))
        self.on(85, lambda: q.accept_quote(s, a, self.ids["ordered"], client_comment="Bon pour accord."))
        self.on(84, lambda: q.record_order(s, a, self.ids["ordered"], purchase_order_ref="BC-HOSP-2291"))
        self.on(
            83,
            lambda: self.ids.__setitem__(
                "deposit", invoices.create_invoice_from_quote(s, a, self.ids["ordered"], percent=Decimal("30")).id
            ),
        )
        self.on(82, lambda: invoices.issue_invoice(s, a, self.ids["deposit"]))
        self.on(60, lambda: self.pay("deposit"))
        self.on(
            21,
            lambda: self.ids.__setitem__("balance", invoices.create_invoice_from_quote(s, a, self.ids["ordered"]).id),
        )
        self.on(20, lambda: invoices.issue_invoice(s, a, self.ids["balance"]))

        # invoices from scratch: draft, issued, partially paid, paid, overdue, cancelled by a credit note
        self.on(1, lambda: self.invoice("draft_invoice", 3, ("CO-CHA-001", "CO-PAN-001"), "Consommables de bloc"))
        self.on(6, lambda: self.invoice("issued", 4, ("FO-DIS-001", "MA-INT-001"), "Intervention du mois"))
        self.on(5, lambda: invoices.issue_invoice(s, a, self.ids["issued"]))
        self.on(
            36,
            lambda: self.invoice(
                "partial", 5, ("EQ-ECHO-001", "MA-ECH-001"), "Échographe et contrat", payment_terms_days="60"
            ),
        )
        self.on(35, lambda: invoices.issue_invoice(s, a, self.ids["partial"]))
        self.on(8, lambda: self.pay("partial", Decimal("0.4"), "check"))
        self.on(62, lambda: self.invoice("paid", 0, ("FO-BIO-001", "EQ-FAU-001"), "Formation et équipement"))
        self.on(61, lambda: invoices.issue_invoice(s, a, self.ids["paid"]))
        self.on(40, lambda: self.pay("paid", method="transfer"))
        self.on(76, lambda: self.invoice("overdue", 1, ("MA-MON-001", "CO-ECG-001"), "Maintenance monitoring"))
        self.on(75, lambda: invoices.issue_invoice(s, a, self.ids["overdue"]))
        if self.full:
            self.on(58, lambda: self.invoice("credited", 2, ("EQ-PSE-001",), "Pousse-seringues"))
            self.on(57, lambda: invoices.issue_invoice(s, a, self.ids["credited"]))
            self.on(
                52,
                lambda: invoices.create_credit_note(
                    s, a, self.ids["credited"], notes="Commande annulée par le client."
                ),
            )
            self.on(66, lambda: self.invoice("late_partial", 3, ("EQ-ECL-001",), "Éclairage opératoire"))
            self.on(65, lambda: invoices.issue_invoice(s, a, self.ids["late_partial"]))
            self.on(33, lambda: self.pay("late_partial", Decimal("0.5")))
            self.on(
                28,
                lambda: invoices.create_credit_note(
                    s,
                    a,
                    self.ids["late_partial"],
                    amount_incl_vat=Decimal("500.00"),
                    notes="Geste commercial : retard de livraison.",
                ),
            )

    def unpaid(self) -> None:
        """Invoices left unpaid past their due date, one in every ageing bucket but 31–60 days (the
        "overdue" one of `add`), and the sales behind the quotes of `add`."""
        a, s = self.actor, self.session
        self.deals += [
            (("draft",), OpportunityStage.PROPOSAL, None),
            (("sent",), OpportunityStage.PROPOSAL, None),
            (("soon",), OpportunityStage.NEGOTIATION, None),
            (("revised", "revision"), OpportunityStage.NEGOTIATION, None),
            (("accepted",), OpportunityStage.WON, None),
            (("ordered",), OpportunityStage.WON, None),
            (("rejected",), OpportunityStage.LOST, "Budget cancelled"),
            (("expired",), OpportunityStage.LOST, "No decision"),
        ]

        self.on(50, lambda: self.invoice("late_1_30", 4, ("CO-GAN-001", "CO-MAS-001"), "Consommables du trimestre"))
        self.on(49, lambda: invoices.issue_invoice(s, a, self.ids["late_1_30"]))
        self.on(106, lambda: self.invoice("late_61_90", 0, ("MA-ECH-001",), "Contrat échographe"))
        self.on(105, lambda: invoices.issue_invoice(s, a, self.ids["late_61_90"]))
        self.on(
            152,
            lambda: self.invoice(
                "late_90", 1, ("EQ-MON-001", "MA-MON-001"), "Moniteurs de surveillance", payment_terms_days="45"
            ),
        )
        self.on(151, lambda: invoices.issue_invoice(s, a, self.ids["late_90"]))
        if self.full:
            self.on(110, lambda: self.pay("late_90", Decimal("0.3"), "check"))

    def recent(self) -> None:
        """The last days, so that the dashboard's current week or month has figures of its own: a quote
        sent, another accepted and invoiced, a payment received."""
        a, s = self.actor, self.session
        self.on(
            3, lambda: self.quote("recent_sent", 3, ("EQ-MON-001", "CO-ECG-001"), "Moniteurs de la salle de réveil")
        )
        self.on(2, lambda: quotes.send_quote(s, a, self.ids["recent_sent"]))
        self.on(13, lambda: self.quote("recent_won", 4, ("CO-BIO-001", "CO-DES-001"), "Consommables d'endoscopie"))
        self.on(12, lambda: quotes.send_quote(s, a, self.ids["recent_won"]))
        self.on(1, lambda: quotes.accept_quote(s, a, self.ids["recent_won"], client_comment="Commande validée."))
        self.on(
            0.6,
            lambda: self.ids.__setitem__(
                "recent_invoice", invoices.create_invoice_from_quote(s, a, self.ids["recent_won"]).id
            ),
        )
        self.on(0.5, lambda: invoices.issue_invoice(s, a, self.ids["recent_invoice"]))
        self.deals += [
            (("recent_sent",), OpportunityStage.PROPOSAL, None),
            (("recent_won",), OpportunityStage.WON, None),
        ]
        self.on(34, lambda: self.invoice("paid_recent", 5, ("MA-INT-001", "FO-DIS-001"), "Interventions du mois"))
        self.on(33, lambda: invoices.issue_invoice(s, a, self.ids["paid_recent"]))
        self.on(2.5, lambda: self.pay("paid_recent"))

    def history(self) -> None:
        """A year of sales before the recent ones: a deal every other month (odd or even months in turn
        from one salesperson to the next, so that every month has some), most won, invoiced and paid,
        some lost or left to expire."""
        months = range(3 + self.index % 2, 12, 2)
        for month in months:
            self.past_deal(month, ("won", "won", "lost", "won", "expired")[(month + self.index) % 5])

    def past_deal(self, month: int, outcome: str) -> None:
        s, a = self.session, self.actor
        key, invoice_key = f"past{month}", f"past{month}_invoice"
        start = 30 * month + 15 + self.rng.randint(0, 10)  # invoiced (start − 11) within 30-day window `month`
        references, title = self.rng.choice(_PAST_DEALS)
        self.on(start, lambda: self.quote(key, month % len(self.clients), references, title))
        self.on(start - 1, lambda: quotes.send_quote(s, a, self.ids[key]))
        if outcome == "lost":
            self.on(start - 12, lambda: quotes.reject_quote(s, a, self.ids[key], client_comment="Offre concurrente."))
            reason = self.rng.choice(("Price too high", "Competitor chosen", "Tender lost"))
            self.deals.append(((key,), OpportunityStage.LOST, reason))
            return
        if outcome == "expired":
            self.deals.append(((key,), OpportunityStage.LOST, "No decision"))
            return
        self.deals.append(((key,), OpportunityStage.WON, None))
        self.on(start - 8, lambda: quotes.accept_quote(s, a, self.ids[key], client_comment="Bon pour accord."))
        self.on(
            start - 10,
            lambda: self.ids.__setitem__(invoice_key, invoices.create_invoice_from_quote(s, a, self.ids[key]).id),
        )
        self.on(start - 11, lambda: invoices.issue_invoice(s, a, self.ids[invoice_key]))
        if month == 6:  # a commercial gesture before the payment
            self.on(
                start - 20,
                lambda: invoices.create_credit_note(
                    s, a, self.ids[invoice_key], amount_incl_vat=Decimal("250.00"), notes="Remise de fidélité."
                ),
            )
        self.on(start - 11 - self.rng.randint(18, 50), lambda: self.pay(invoice_key))

    def link_deals(self, reasons: dict[str, uuid.UUID], *, now: datetime) -> None:
        """Write the opportunity behind each quote of `deals`, its history following the quote's dates."""
        for keys, stage, reason in self.deals:
            linked = [quote for key in keys if (quote := self.session.get(Quote, self.ids[key])) is not None]
            first, last = linked[0], linked[-1]
            proposed = first.sent_at or first.created_at
            opened = first.created_at - timedelta(days=self.rng.randint(12, 45))
            steps = [
                (opened, OpportunityStage.PROSPECTING),
                (opened + (first.created_at - opened) / 2, OpportunityStage.QUALIFICATION),
                (proposed, OpportunityStage.PROPOSAL),
            ]
            if stage is OpportunityStage.NEGOTIATION:
                negotiated = last.sent_at if last is not first and last.sent_at else proposed + timedelta(days=4)
                steps.append((min(negotiated, now), stage))
            elif stage is OpportunityStage.WON:
                decided = last.decided_at or now
                steps += [(proposed + (decided - proposed) / 2, OpportunityStage.NEGOTIATION), (decided, stage)]
            elif stage is OpportunityStage.LOST:
                ended = last.decided_at or datetime.combine(last.valid_until, time(18), tzinfo=UTC)
                steps.append((min(ended, now), stage))
            opportunity = pipeline.add_opportunity(
                self.session,
                self.owner,
                institution_id=last.institution_id,
                contact_id=last.contact_id,
                name=last.title or "",
                amount=last.total_excl_vat,
                steps=steps,
                expected_close_date=last.valid_until + timedelta(days=15),
                source=self.rng.choice((OpportunitySource.EXISTING_CLIENT, OpportunitySource.TENDER, None)),
                lost_reason_id=reasons[reason] if reason else None,
            )
            for quote in linked:
                quote.opportunity_id = opportunity.id
                self.session.add(quote)
        self.session.flush()


#: Deals of the past year: catalog references and the quote's title.
_PAST_DEALS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("EQ-ENDO-002", "CO-BIO-001"), "Gastroscope et pinces à biopsie"),
    (("EQ-MON-001", "EQ-PSE-001"), "Équipement de la salle de réveil"),
    (("MA-END-001",), "Contrat de maintenance endoscopie"),
    (("EQ-ECHO-001", "FO-UTI-001"), "Échographe portable et formation"),
    (("EQ-DEA-001", "CO-ECG-001"), "Défibrillateurs et électrodes"),
    (("CO-CHA-001", "CO-PAN-001", "CO-GAN-001"), "Consommables de bloc"),
    (("EQ-ECL-001",), "Éclairage opératoire"),
)
