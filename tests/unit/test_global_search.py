"""The header's global search (crm_app/platform/search.py and the areas' SEARCH_SOURCES) on the real
database: quotes, invoices and credit notes by number, contacts by name in either order, the reader's
rights, a few results per kind with the filtered list, and the registry an area adds its kind to."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session

from crm_app.institutions import contacts
from crm_app.institutions.models import Institution
from crm_app.platform import search
from crm_app.platform.errors import Forbidden
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from crm_app.platform.search import Found, SearchSource
from crm_app.sales import invoices, quotes
from crm_app.sales.models.invoices import Invoice
from tests.activity_factories import Org, make_org
from tests.institution_factories import make_buyer, make_contact
from tests.sales_factories import make_quote, quote_line


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


@pytest.fixture
def institution(db: Session) -> Institution:
    return make_buyer(db, name="Clinique du Parc", postal_code="69006", city="Lyon")


def _issued_invoice(db: Session, actor: Actor, institution: Institution) -> Invoice:
    draft = invoices.create_invoice(db, actor, {"institution_id": institution.id, "lines": [quote_line()]})
    return invoices.issue_invoice(db, actor, draft.id)


def _found(db: Session, actor: Actor, q: str, kind: str) -> list[str]:
    """The titles the search shows for `q` under the heading of `kind`."""
    for group in search.search_everything(db, actor, q):
        if group.kind == kind:
            return [hit.title for hit in group.hits]
    return []


def test_quotes_invoices_and_credit_notes_are_found_by_whole_or_partial_number(
    db: Session, org: Org, institution: Institution
) -> None:
    actor = org.rep_a.actor
    quote = make_quote(db, actor, institution, title="Endoscopes")
    invoice = _issued_invoice(db, actor, institution)
    note = invoices.create_credit_note(db, actor, invoice.id)  # issued at once, numbered
    assert note.number is not None and invoice.number is not None
    prefix, year, serial = quote.number.split("-")  # DEV-2026-00001
    for text in (quote.number, f"{year}-{serial}", f"{prefix.lower()} {year}", f"{prefix}–{year}–{serial}"):
        assert _found(db, actor, text, "quote") == [quote.number], text
    assert _found(db, actor, invoice.number, "invoice") == [invoice.number]
    assert _found(db, actor, invoice.number.lower(), "invoice") == [invoice.number]
    assert _found(db, actor, note.number, "credit_note") == [note.number]
    assert _found(db, actor, note.number, "invoice") == []  # a credit note is not listed as an invoice
    group = next(g for g in search.search_everything(db, actor, quote.number) if g.kind == "quote")
    hit = group.hits[0]
    assert hit.link == f"/quotes/{quote.id}" and hit.subtitle == "Clinique du Parc · Endoscopes"
    assert hit.status == quotes.QUOTE_STATUS_LABELS[quote.status]
    invoice_hit = next(g for g in search.search_everything(db, actor, invoice.number) if g.kind == "invoice").hits[0]
    assert invoice_hit.link == f"/invoices/{invoice.id}"


def test_a_text_without_digits_finds_no_document(db: Session, org: Org, institution: Institution) -> None:
    make_quote(db, org.rep_a.actor, institution)
    kinds = {group.kind for group in search.search_everything(db, org.rep_a.actor, "dev")}
    assert kinds.isdisjoint({"quote", "invoice", "credit_note"})


def test_a_rep_finds_only_the_documents_they_could_open(db: Session, org: Org, institution: Institution) -> None:
    """Another team's rep gets 403 on the quote and the invoice: the search does not show them either;
    their own team's manager and an admin do find them. Contacts are open to every role."""
    owner = org.rep_a.actor
    quote = make_quote(db, owner, institution)
    invoice = _issued_invoice(db, owner, institution)
    contact = make_contact(db, institution, first_name="Inès", last_name="Quoniam")
    assert invoice.number is not None
    outsider = org.rep_b.actor
    with pytest.raises(Forbidden):
        quotes.get_quote(db, outsider, quote.id)
    with pytest.raises(Forbidden):
        invoices.get_invoice(db, outsider, invoice.id)
    assert _found(db, outsider, quote.number, "quote") == []
    assert _found(db, outsider, invoice.number, "invoice") == []
    assert _found(db, outsider, "ines quoniam", "contact") == ["Inès Quoniam"]
    contacts.get_contact_row(db, outsider, contact.id)  # which the rep may open
    for reader in (owner, org.manager_a.actor, org.admin.actor):
        quotes.get_quote(db, reader, quote.id)
        assert _found(db, reader, quote.number, "quote") == [quote.number]
        assert _found(db, reader, invoice.number, "invoice") == [invoice.number]
    # A rep of the same team sees only their own documents (scope OWN), as on the quote's page.
    with pytest.raises(Forbidden):
        quotes.get_quote(db, org.rep_a2.actor, quote.id)
    assert _found(db, org.rep_a2.actor, quote.number, "quote") == []


@pytest.mark.parametrize(
    "q",
    [
        "jean-pierre lefevre",
        "Jean Pierre Lefèvre",
        "lefevre jean-pierre",
        "LEFÈVRE JEAN",
        "lefev",
        "pierre lefe",
        "jean pierre",
        "d’arc",
        "lefevre d arc",
    ],
)
def test_contacts_are_found_by_name_in_either_order_whatever_the_accents_case_and_separators(
    db: Session, institution: Institution, q: str
) -> None:
    make_contact(db, institution, first_name="Jean-Pierre", last_name="Lefèvre d'Arc", title="Chirurgien")
    make_contact(db, institution, first_name="Pierre", last_name="Martin")
    assert _found(db, SYSTEM_ACTOR, q, "contact") == ["Jean-Pierre Lefèvre d'Arc"]


def test_contacts_whose_name_starts_with_the_text_come_first(db: Session, institution: Institution) -> None:
    make_contact(db, institution, first_name="Anne", last_name="Martin", email="anne@durand-sante.fr")
    make_contact(db, institution, first_name="Paul", last_name="Durand")
    assert _found(db, SYSTEM_ACTOR, "durand", "contact") == ["Paul Durand", "Anne Martin"]


def test_the_contact_list_finds_the_name_in_either_order_too(db: Session, institution: Institution) -> None:
    """The list a contacts group's "see all" opens, and the pickers, match as the search does."""
    make_contact(db, institution, first_name="Jean", last_name="Dupont")
    make_contact(db, institution, first_name="Jeanne", last_name="Martin")
    for q in ("jean dupont", "dupont jean", "Jean-Dupont"):
        page = contacts.list_contacts(db, SYSTEM_ACTOR, q=q, request=PageRequest(1, 10))
        assert [row.last_name for row in page.items] == ["Dupont"], q
        mine = contacts.list_for_institution(db, SYSTEM_ACTOR, institution.id, q=q)
        assert [row.last_name for row in mine.items] == ["Dupont"], q


def test_each_kind_shows_a_few_results_and_links_to_its_filtered_list_when_it_has_more(db: Session) -> None:
    for index in range(7):
        make_buyer(db, name=f"Clinique Sainte-Anne {index}", city="Tours")
    clinic = make_buyer(db, name="Polyclinique des Tilleuls")
    make_contact(db, clinic, first_name="Anne", last_name="Sainte-Croix")
    groups = search.search_everything(db, SYSTEM_ACTOR, "sainte anne", limit=5)
    assert [group.kind for group in groups] == ["institution", "contact"]
    institutions_group, contacts_group = groups
    assert len(institutions_group.hits) == 5 and institutions_group.label == "Institutions"
    assert institutions_group.see_all is not None
    url = urlsplit(institutions_group.see_all)
    assert url.path == "/institutions" and parse_qs(url.query) == {"q": ["sainte anne"]}
    assert [hit.title for hit in contacts_group.hits] == ["Anne Sainte-Croix"]
    assert contacts_group.see_all is None  # everything is shown already


def test_a_text_too_short_finds_nothing(db: Session) -> None:
    make_buyer(db, name="Clinique A")
    assert search.search_everything(db, SYSTEM_ACTOR, "c") == []
    assert search.search_everything(db, SYSTEM_ACTOR, "  c  ") == []


def test_an_area_adds_its_kind_with_one_declaration(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The opportunities (a later area) will declare their SEARCH_SOURCES and bootstrap registers them:
    nothing else in the search changes. A kind the actor has no right to see is not searched."""
    monkeypatch.setattr(search, "_SOURCES", dict(search._SOURCES))
    asked: list[tuple[str, int]] = []

    def find(session: Session, actor: Actor, term: str, limit: int) -> list[Found]:
        asked.append((term, limit))
        return [Found(uuid.uuid4(), "Renouvellement du parc", "Clinique du Parc") for _ in range(3)]

    search.register_sources(
        SearchSource("opportunity", "Opportunities", "trending_up", find, link="/opportunities/{id}"),
        SearchSource("secret", "Secrets", "lock", find, link="/secrets/{id}", action="settings.system"),
    )
    groups = search.search_everything(db, make_org(db).rep_a.actor, "Renouvellement", limit=2)
    assert [(group.kind, len(group.hits), group.see_all) for group in groups] == [("opportunity", 2, None)]
    assert asked == [("renouvellement", 3)]  # folded, and one more than shown (to know there are more)
    assert groups[0].hits[0].link == f"/opportunities/{groups[0].hits[0].id}"
