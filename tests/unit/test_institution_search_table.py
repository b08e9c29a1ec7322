"""The narrow, name-ordered search table (InstitutionSearch, PostgreSQL): kept in step by its trigger,
and giving the same pages and totals as a search of the institutions themselves."""

from __future__ import annotations

import re

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from crm_app.institutions import service as institutions
from crm_app.institutions.models import Institution, InstitutionSearch
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform import cache
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.institution_factories import make_contact, make_institution


def _names(session: Session, query: InstitutionQuery, page: PageRequest) -> tuple[list[str], int]:
    found = institutions.list_institutions(session, SYSTEM_ACTOR, query, page)
    return [row.name for row in found.items], found.total


def test_the_trigger_keeps_the_search_table_in_step(db: Session) -> None:
    clinic = make_institution(db, name="Clinique Saint-Roch", city="Montpellier")
    db.flush()
    row = db.get(InstitutionSearch, clinic.id)
    assert row is not None and row.name_key == clinic.name_key
    assert clinic.search_text.startswith(clinic.name_key)  # what the search's split stands on
    assert row.further_text == clinic.search_text[1:] and "saint-roch" in row.further_text
    institutions.update_institution(
        db, SYSTEM_ACTOR, clinic.id, {"name": "Clinique du Parc"}, expected_version=clinic.version
    )
    institutions.set_archived(db, SYSTEM_ACTOR, clinic.id, True)
    db.flush()
    db.expire_all()
    row = db.get(InstitutionSearch, clinic.id)
    assert row is not None and row.is_archived and row.further_text == "linique du parc | montpellier"
    institutions.update_institution(
        db, SYSTEM_ACTOR, clinic.id, {"finess": "340780477"}, expected_version=clinic.version
    )
    db.flush()
    grams = sa.select(sa.func.institution_digit_grams(InstitutionSearch.further_text)).where(
        col(InstitutionSearch.id) == clinic.id
    )
    assert db.execute(grams).scalar_one() == ["07804", "34078", "40780", "78047", "80477"]
    db.execute(sa.delete(Institution).where(Institution.id == clinic.id))  # type: ignore[arg-type]
    db.expire_all()
    assert db.get(InstitutionSearch, clinic.id) is None


@pytest.mark.parametrize("archived", ["active", "archived", "all"])
@pytest.mark.parametrize("descending", [False, True])
def test_a_text_search_gives_the_same_pages_through_the_search_table(
    db: Session, monkeypatch: pytest.MonkeyPatch, archived: str, descending: bool
) -> None:
    for index in range(30):
        made = make_institution(db, name=f"Hôpital {chr(65 + index % 26)}{index:02d}", city="Lyon")
        if index % 4 == 0:
            institutions.set_archived(db, SYSTEM_ACTOR, made.id, True)
    make_institution(db, name="Clinique du Lac", city="Annecy")
    db.flush()
    query = InstitutionQuery(q="hopital", archived=archived, descending=descending)
    assert institutions._source(postgresql=True, query=query) == institutions.SEARCH_TABLE
    narrow = [_names(db, query, PageRequest(page, 10)) for page in (1, 2, 3)]
    monkeypatch.setattr(institutions, "_source", lambda *_, **__: institutions.WIDE_TABLE)
    wide = [_names(db, query, PageRequest(page, 10)) for page in (1, 2, 3)]
    assert narrow == wide
    assert narrow[0][1] == {"active": 22, "archived": 8, "all": 30}[archived]


def test_only_a_text_search_in_name_order_goes_to_the_search_table(db: Session) -> None:
    for query in (
        InstitutionQuery(),
        InstitutionQuery(q="hopital", city="Lyon"),
        InstitutionQuery(q="hopital", sort="city"),
        InstitutionQuery(q="hopital", tags=("vip",)),
    ):
        assert institutions._source(postgresql=True, query=query) == institutions.WIDE_TABLE


def test_the_nightly_job_puts_the_table_back_in_name_order(db: Session) -> None:
    for name in ("Zénith Santé", "Abbaye Médical", "Maison de santé"):
        make_institution(db, name=name)
    db.flush()
    assert institutions.reorder_search_table(db)
    in_pages = db.execute(sa.text("SELECT name_key FROM institution_search ORDER BY ctid")).scalars().all()
    assert list(in_pages) == sorted(in_pages)


_NAMES = [
    "Hôpital Édouard Herriot",
    "Hôpital de l'Hôpital",  # at the start and further on: found once
    "HOPITAL Nord",
    "Hôpital-Joseph",
    "Centre Hôpital Saint-Joseph",  # further on only
    "Clinique Saint Joseph",
    "Clinique Saint'Joseph",
    "Abbaye Médicale",
    "Hôpitaux Réunis",  # starts like the term, does not hold it
    "Laboratoire 100% Santé",
    "Laboratoire 100_Santé",
    "Pharmacie du Centre",
    "Hôpital" + " du cœur" * 23,  # 191 characters, 214 folded: longer than a name key
]


def _searchable(db: Session) -> None:
    """Names holding a term at their start, further on, both or nowhere, cities and contacts holding it,
    some archived."""
    for index, name in enumerate(_NAMES):
        made = make_institution(db, name=name, city="L'Hôpital" if index == 7 else "Lyon")
        if index % 5 == 3:
            institutions.set_archived(db, SYSTEM_ACTOR, made.id, True)
    for index in range(40):  # enough rows for anchors every 5 (below)
        make_institution(db, name=f"Hôpital {chr(65 + index % 26)}{index:02d}", city="Bron")
    holder = make_institution(db, name="Maison de santé Bellevue", city="Annecy")
    make_contact(db, holder, last_name="Hopital", first_name="Jeanne")
    # Digits: a FINESS, a SIRET, postal codes, a name that starts with digits.
    make_institution(
        db, name="Centre Médical Pasteur", finess="330781196", siret="26690002700019", postal_code="69003", city="Lyon"
    )
    make_institution(db, name="33078 Santé", postal_code="33078", city="Bordeaux")
    make_institution(db, name="Clinique des Lilas", finess="690781810", postal_code="69008", city="Lyon")
    db.flush()


_TERMS = [
    "hopital",
    "Hôpital ",
    "hopital saint",
    "saint-joseph",
    "saint joseph",
    "pital",
    "h",
    "lyon",
    "100%",
    "100_",
    "hopital" + " du coeur" * 22,  # a first word that fits a name key, the text longer than one
    "330781196",  # a FINESS: the digits' index
    "0002700",  # inside a SIRET
    "69003",  # a postal code
    "33078",  # a name's start, a postal code and inside a FINESS
    "3307",  # four digits: trigrams
    "98765",  # digits found nowhere
    "-joseph",  # no first word: the wide table
    "x" * 201,  # a first word longer than a name key: the wide table
]


@pytest.mark.parametrize("term", _TERMS)
def test_a_search_split_at_the_start_finds_what_the_wide_table_finds(
    db: Session, monkeypatch: pytest.MonkeyPatch, term: str
) -> None:
    _searchable(db)
    db.info.pop("records_changed", None)  # let deep pages start from anchors, as outside a write
    monkeypatch.setattr(institutions, "ANCHOR_STEP", 5)
    queries = [
        InstitutionQuery(q=term, archived=archived, descending=descending)
        for archived in ("active", "all", "archived")
        for descending in (False, True)
    ]
    pages = [PageRequest(page, 4) for page in (1, 2, 3, 4, 5, 12)]
    try:
        narrow = [[_names(db, query, page) for page in pages] for query in queries]
        cache.forget_all()
        monkeypatch.setattr(institutions, "_source", lambda *_, **__: institutions.WIDE_TABLE)
        wide = [[_names(db, query, page) for page in pages] for query in queries]
    finally:
        cache.forget_all()
    assert narrow == wide
    assert any(names for query in wide for names, _ in query) or term in {"x" * 201, "98765"}


def test_a_search_goes_to_the_search_table_when_its_text_starts_with_a_word(db: Session) -> None:
    for term, source in (
        ("hopital", institutions.SEARCH_TABLE),
        ("saint-joseph", institutions.SEARCH_TABLE),
        ("100%", institutions.SEARCH_TABLE),
        ("330781196", institutions.DIGITS_SEARCH),
        ("69003", institutions.DIGITS_SEARCH),
        ("6900", institutions.SEARCH_TABLE),
        ("69003a", institutions.SEARCH_TABLE),
        ("69 003", institutions.SEARCH_TABLE),
        ("-joseph", institutions.WIDE_TABLE),
        ("'hopital", institutions.WIDE_TABLE),
        ("x" * 201, institutions.WIDE_TABLE),
    ):
        assert institutions._source(InstitutionQuery(q=term), postgresql=True) == source, term


def test_a_name_that_starts_with_the_term_is_found_without_the_trigram_index(db: Session) -> None:
    """What makes "hopital" cheap at a million rows: its page reads the names that start with it in
    name order, and the trigram index over the text after the first character finds few others."""
    _searchable(db)
    shape, params = institutions._filters(InstitutionQuery(q="hopital"))
    starting, further = institutions._narrow_parts(shape, institutions.SEARCH_TABLE)
    at_start = db.execute(starting, params).all()
    found_further = db.execute(further, params).all()
    assert len(at_start) == 44  # 4 of the names above (one more is archived) and the 40 made in a loop
    assert {row.sort_key for row in found_further} == {
        institutions.fold("Centre Hôpital Saint-Joseph"),
        institutions.fold("Abbaye Médicale"),  # its city
        institutions.fold("Maison de santé Bellevue"),  # its contact
    }


@pytest.mark.parametrize(
    ("term", "read", "unread"),
    [
        ("herriot", "ix_institution_search_further_trgm", "ix_institution_search_digits_gin"),
        ("330781196", "ix_institution_search_digits_gin", "ix_institution_search_further_trgm"),
    ],
)
def test_a_plan_prepared_for_any_term_still_reads_the_indexes(db: Session, term: str, read: str, unread: str) -> None:
    """Prepared statements (the REST list's look-ups) may run a generic plan, made before the values are
    known: the part at the start must still read the name index by its range, and the part further on
    its trigram index, or for digits only the digits' index alone."""
    _searchable(db)
    query = InstitutionQuery(q=term)
    shape, params = institutions._filters(query)
    source = institutions._source(query, postgresql=True)
    statement = institutions._page_statement(shape, "name", False, source, False)
    compiled = statement.compile(dialect=db.get_bind().dialect)
    state = compiled.construct_expanded_state({**params, "f_page_offset": 0, "f_page_size": 25})
    numbers: dict[str, int] = {}
    sql = re.sub(r"%\((\w+)\)s", lambda found: f"${numbers.setdefault(found[1], len(numbers) + 1)}", state.statement)
    raw = db.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    arguments = ", ".join(psycopg.sql.Literal(state.parameters[name]).as_string(raw) for name in numbers)
    db.execute(sa.text("SET LOCAL plan_cache_mode = force_generic_plan"))
    db.execute(sa.text("SET LOCAL enable_seqscan = off"))
    raw.execute(f"PREPARE listed AS {sql}")
    plan = "\n".join(row[0] for row in raw.execute(f"EXPLAIN EXECUTE listed({arguments})"))
    raw.execute("DEALLOCATE listed")
    assert read in plan and "ix_institution_search_order" in plan and unread not in plan, plan
