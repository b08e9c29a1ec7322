"""Duplicate rules (DOMAIN.md "Duplicates"): identifiers, normalised name + postal code, fuzzy name in the city."""

from __future__ import annotations

from typing import Any

import pytest
from rapidfuzz import fuzz
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from crm_app.institutions import service as institutions
from crm_app.institutions.duplicates import Candidate, DuplicateIndex, Match, MatchRule, match_key
from crm_app.institutions.models import Institution
from crm_app.institutions.service import DuplicateSuspected
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.institution_factories import make_institution, siret_with_key, unique_siret

SIRET_A = siret_with_key("7328293200007")
SIRET_B = siret_with_key("4428293200007")


def _count(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(Institution)).one())


# --------------------------------------------------------------------------------------------
# The normalised name


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("CHU de Bordeaux", "Centre hospitalier universitaire de Bordeaux"),
        ("Hôpital Saint-André", "saint andre"),
        ("Centre Hospitalier Saint-Louis", "CH Saint Louis"),
        ("Clinique des Cèdres", "DES CEDRES"),
        ("Hôpital Privé d'Antony", "Hopital prive d Antony"),
        ("Centre hospitalier régional d'Orléans", "CHR d'Orléans"),
    ],
)
def test_normalised_name_ignores_case_accents_punctuation_and_noise_words(first: str, second: str) -> None:
    assert match_key(first) == match_key(second) != ""


def test_noise_words_are_removed_only_as_whole_words() -> None:
    assert match_key("Clinique Chirurgicale du Chêne") == "chirurgicale du chene"


def test_a_name_made_only_of_noise_words_keeps_them_as_its_key() -> None:
    assert match_key("CHU") == match_key("chu.") == "chu"
    assert match_key("Clinique") == "clinique" != match_key("Hôpital")
    assert match_key("Centre hospitalier") == "centre hospitalier"
    assert match_key("— ?") == ""


# --------------------------------------------------------------------------------------------
# The rules, in memory, in order

KNOWN = Candidate(
    ref=1,
    name="Clinique Pasteur",
    postal_code="33000",
    city="Bordeaux",
    finess="330781196",
    siret=SIRET_A,
    accounting_number="C0001",
)


def _match(*known: Candidate, new: Candidate) -> Match | None:
    return DuplicateIndex(known).match(new)


@pytest.mark.parametrize(
    ("new", "rule"),
    [
        (Candidate(ref=0, name="Autre nom", accounting_number="C0001"), MatchRule.ACCOUNTING_NUMBER),
        (Candidate(ref=0, name="Autre nom", finess="330781196"), MatchRule.FINESS),
        (Candidate(ref=0, name="Autre nom", siret=SIRET_A), MatchRule.SIRET),
        (Candidate(ref=0, name="Pasteur", postal_code="33000"), MatchRule.NAME_POSTAL_CODE),
        (Candidate(ref=0, name="Clinique Pasteurs", city="BORDEAUX"), MatchRule.FUZZY_NAME_CITY),
    ],
)
def test_each_rule_matches_on_its_own(new: Candidate, rule: MatchRule) -> None:
    assert _match(KNOWN, new=new) == Match(1, "Clinique Pasteur", rule)


def test_same_name_with_no_place_on_either_side_matches() -> None:
    placeless = Candidate(ref=1, name="Clinique Pasteur")
    assert _match(placeless, new=Candidate(ref=0, name="PASTEUR")) == Match(
        1, "Clinique Pasteur", MatchRule.NAME_NO_PLACE
    )
    assert _match(Candidate(ref=1, name="CHU"), new=Candidate(ref=0, name="chu")) == Match(
        1, "CHU", MatchRule.NAME_NO_PLACE
    )
    # A place on one side only tells them apart: the names alone are not enough.
    assert _match(placeless, new=Candidate(ref=0, name="Pasteur", city="Lyon")) is None
    assert _match(placeless, new=Candidate(ref=0, name="Pasteur", postal_code="69003")) is None
    assert _match(KNOWN, new=Candidate(ref=0, name="Pasteur")) is None
    # Nor do names differ by a letter, and different identifiers still keep them apart.
    assert _match(placeless, new=Candidate(ref=0, name="Pasteurs")) is None
    assert (
        _match(
            Candidate(ref=1, name="Pasteur", finess="330781196"),
            new=Candidate(ref=0, name="Pasteur", finess="690781810"),
        )
        is None
    )


def test_first_rule_wins_accounting_number_before_finess_before_siret() -> None:
    by_accounting = Candidate(ref=1, name="A", accounting_number="C0001")
    by_finess = Candidate(ref=2, name="B", finess="330781196")
    by_siret = Candidate(ref=3, name="C", siret=SIRET_A)
    by_name = Candidate(ref=4, name="Clinique Pasteur", postal_code="33000", city="Bordeaux")
    new = Candidate(
        ref=0,
        name="Pasteur",
        postal_code="33000",
        city="Bordeaux",
        finess="330781196",
        siret=SIRET_A,
        accounting_number="C0001",
    )
    assert _match(by_siret, by_finess, by_name, by_accounting, new=new) == Match(1, "A", MatchRule.ACCOUNTING_NUMBER)
    assert _match(by_siret, by_name, by_finess, new=new) == Match(2, "B", MatchRule.FINESS)
    assert _match(by_name, by_siret, new=new) == Match(3, "C", MatchRule.SIRET)


def test_name_and_postal_code_come_before_the_fuzzy_name() -> None:
    fuzzy = Candidate(ref=1, name="Clinique Pasteurs", city="Bordeaux", postal_code="33100")
    exact = Candidate(ref=2, name="Pasteur", city="Talence", postal_code="33000")
    new = Candidate(ref=0, name="Clinique Pasteur", city="Bordeaux", postal_code="33000")
    assert _match(fuzzy, new=new) == Match(1, "Clinique Pasteurs", MatchRule.FUZZY_NAME_CITY)
    assert _match(fuzzy, exact, new=new) == Match(2, "Pasteur", MatchRule.NAME_POSTAL_CODE)


@pytest.mark.parametrize("field", ["finess", "siret", "accounting_number"])
def test_name_rules_never_match_when_an_identifier_is_present_on_both_sides_and_differs(field: str) -> None:
    other = {"finess": "330000019", "siret": SIRET_B, "accounting_number": "C0002"}[field]
    known = Candidate(
        ref=1, name="Clinique Pasteur", postal_code="33000", city="Bordeaux", **{field: getattr(KNOWN, field)}
    )
    same_name_other_id = Candidate(
        ref=0, name="Clinique Pasteur", postal_code="33000", city="Bordeaux", **{field: other}
    )
    assert _match(known, new=same_name_other_id) is None
    missing_on_one_side = Candidate(ref=0, name="Clinique Pasteur", postal_code="33000", city="Bordeaux")
    assert _match(known, new=missing_on_one_side) == Match(1, "Clinique Pasteur", MatchRule.NAME_POSTAL_CODE)


def test_fuzzy_name_matches_from_a_similarity_of_085_in_the_same_city_only() -> None:
    known = Candidate(ref=1, name="Clinique Jardins des Roses", city="Montpellier")
    at_threshold = Candidate(ref=0, name="Jardins des Roses Ouest", city="montpellier")
    below = Candidate(ref=0, name="Jardins des Roses Annexe", city="Montpellier")
    assert fuzz.token_sort_ratio(known.key, at_threshold.key) == 85.0
    assert fuzz.token_sort_ratio(known.key, below.key) < 85.0
    assert _match(known, new=at_threshold) == Match(1, "Clinique Jardins des Roses", MatchRule.FUZZY_NAME_CITY)
    assert _match(known, new=below) is None
    elsewhere = Candidate(ref=0, name="Jardins des Roses Ouest", city="Nîmes")
    assert _match(known, new=elsewhere) is None


def test_fuzzy_name_picks_the_most_similar() -> None:
    close = Candidate(ref=1, name="Polyclinique du Parc Nord", city="Caen")
    closer = Candidate(ref=2, name="Polyclinique du Parc", city="Caen")
    new = Candidate(ref=0, name="Polyclinique du Parc N", city="Caen")
    assert _match(close, new=new) == Match(1, "Polyclinique du Parc Nord", MatchRule.FUZZY_NAME_CITY)
    assert _match(close, closer, new=new) == Match(2, "Polyclinique du Parc", MatchRule.FUZZY_NAME_CITY)


def test_rows_of_one_file_are_checked_against_each_other() -> None:
    index = DuplicateIndex()
    first = Candidate(ref=1, name="Clinique Pasteur", postal_code="33000")
    assert index.match(first) is None
    index.add(first)
    assert index.match(Candidate(ref=2, name="Pasteur", postal_code="33000")) == Match(
        1, "Clinique Pasteur", MatchRule.NAME_POSTAL_CODE
    )
    assert index.match(first) is None  # a row never matches itself


# --------------------------------------------------------------------------------------------
# Against the database, on create


def test_find_duplicates_uses_the_stored_institutions_and_excludes_the_one_edited(db: Session) -> None:
    existing = make_institution(db, name="Hôpital Saint-André", postal_code="33000", city="Bordeaux")
    values = {"name": "Saint Andre", "postal_code": "33000"}
    assert institutions.find_duplicates(db, values) == [
        Match(existing.id, "Hôpital Saint-André", MatchRule.NAME_POSTAL_CODE)
    ]
    assert institutions.find_duplicates(db, values, exclude_id=existing.id) == []
    assert institutions.find_duplicates(db, {"name": "Saint Andre", "postal_code": "33800"}) == []


def test_find_duplicates_reports_identifier_rules_in_order(db: Session) -> None:
    by_siret = make_institution(db, siret=SIRET_A)
    by_finess = make_institution(db, finess="330781196")
    by_accounting = make_institution(db, accounting_number="C0001")
    values = {"name": "Nouveau", "siret": SIRET_A, "finess": "330781196", "accounting_number": "C0001"}
    assert institutions.find_duplicates(db, values) == [
        Match(by_accounting.id, by_accounting.name, MatchRule.ACCOUNTING_NUMBER)
    ]
    del values["accounting_number"]
    assert institutions.find_duplicates(db, values) == [Match(by_finess.id, by_finess.name, MatchRule.FINESS)]
    del values["finess"]
    assert institutions.find_duplicates(db, values) == [Match(by_siret.id, by_siret.name, MatchRule.SIRET)]


def test_create_warns_about_a_likely_duplicate_and_creates_nothing(db: Session) -> None:
    existing = make_institution(db, name="CHU de Bordeaux", postal_code="33000", city="Bordeaux")
    before = _count(db)
    with pytest.raises(DuplicateSuspected) as suspected:
        institutions.create_institution(
            db, SYSTEM_ACTOR, {"name": "Centre Hospitalier Universitaire de Bordeaux", "postal_code": "33 000"}
        )
    assert suspected.value.matches == [Match(existing.id, "CHU de Bordeaux", MatchRule.NAME_POSTAL_CODE)]
    assert suspected.value.params["matches"] == [
        {"id": str(existing.id), "name": "CHU de Bordeaux", "rule": "name_postal_code"}
    ]
    assert _count(db) == before


def test_create_warns_about_a_similar_name_in_the_same_city(db: Session) -> None:
    existing = make_institution(db, name="Polyclinique du Parc", city="Caen", postal_code="14000")
    with pytest.raises(DuplicateSuspected) as suspected:
        institutions.create_institution(db, SYSTEM_ACTOR, {"name": "Polyclinique du Parc Nord", "city": "CAEN"})
    assert suspected.value.matches == [Match(existing.id, "Polyclinique du Parc", MatchRule.FUZZY_NAME_CITY)]
    elsewhere = institutions.create_institution(
        db, SYSTEM_ACTOR, {"name": "Polyclinique du Parc Nord", "city": "Rouen"}
    )
    assert elsewhere.id != existing.id


def test_create_warns_about_the_same_name_when_neither_has_a_place(db: Session) -> None:
    existing = make_institution(db, name="Clinique")
    make_institution(db, name="Clinique", city="Nantes")
    with pytest.raises(DuplicateSuspected) as suspected:
        institutions.create_institution(db, SYSTEM_ACTOR, {"name": "CLINIQUE"})
    assert suspected.value.matches == [Match(existing.id, "Clinique", MatchRule.NAME_NO_PLACE)]
    assert existing.match_key == "clinique"
    elsewhere = institutions.create_institution(db, SYSTEM_ACTOR, {"name": "Clinique", "postal_code": "44000"})
    assert elsewhere.id != existing.id


def test_allow_duplicate_creates_anyway(db: Session) -> None:
    existing = make_institution(db, name="Clinique Pasteur", postal_code="33000")
    created = institutions.create_institution(
        db, SYSTEM_ACTOR, {"name": "Clinique Pasteur", "postal_code": "33000"}, allow_duplicate=True
    )
    assert created.id != existing.id and created.match_key == existing.match_key


def test_same_name_with_different_identifiers_is_not_a_duplicate(db: Session) -> None:
    make_institution(
        db, name="Clinique Pasteur", postal_code="33000", city="Bordeaux", finess="330781196", siret=unique_siret()
    )
    created = institutions.create_institution(
        db,
        SYSTEM_ACTOR,
        {"name": "Clinique Pasteur", "postal_code": "33000", "city": "Bordeaux", "finess": "330000019"},
    )
    assert created.finess == "330000019"


def test_identifiers_already_used_are_field_errors_not_duplicate_warnings(db: Session) -> None:
    make_institution(db, finess="2A0000012", siret=SIRET_A, accounting_number="C0001")
    before = _count(db)
    with pytest.raises(ValidationFailed) as refused:
        institutions.create_institution(
            db,
            SYSTEM_ACTOR,
            {"name": "Autre", "finess": "2a 000 0012", "siret": "732 829 320 00074", "accounting_number": "c 0001"},
            allow_duplicate=True,
        )
    assert refused.value.field_errors == {
        name: "Already used by another institution." for name in ("finess", "siret", "accounting_number")
    }
    assert _count(db) == before


@pytest.mark.parametrize("column", ["finess", "siret", "accounting_number"])
def test_database_refuses_a_second_identical_identifier(db: Session, column: str) -> None:
    identifier: dict[str, Any] = {
        column: {"finess": "330781196", "siret": SIRET_A, "accounting_number": "C0001"}[column]
    }
    make_institution(db, **identifier)
    with pytest.raises(IntegrityError, match=f"uq_institutions_{column}"):
        with db.begin_nested():
            db.add(Institution(name="Insertion directe", **identifier))
    # Absent identifiers never clash (the unique indexes are partial).
    with db.begin_nested():
        db.add_all([Institution(name="Sans identifiant 1"), Institution(name="Sans identifiant 2")])


def test_names_that_differ_in_a_number_are_two_institutions() -> None:
    """4,478 of 5,000 generated rows matched fuzzily: "Clinique du Parc 12" and "Clinique du Parc 13"
    in one city score far above the threshold, yet they are two clinics."""
    parc_12 = Candidate(ref=1, name="Clinique du Parc 12", city="Lyon")
    assert fuzz.ratio(match_key("Clinique du Parc 12"), match_key("Clinique du Parc 13")) >= 85
    assert _match(parc_12, new=Candidate(ref=0, name="Clinique du Parc 13", city="Lyon")) is None
    assert _match(parc_12, new=Candidate(ref=0, name="Clinique du Parc", city="Lyon")) is None
    # The same number, written alike or not, with a typo elsewhere: still one clinic.
    assert _match(parc_12, new=Candidate(ref=0, name="Clinique du Parcq 012", city="LYON")) == Match(
        1, "Clinique du Parc 12", MatchRule.FUZZY_NAME_CITY
    )


def test_rows_whose_names_differ_by_a_number_are_not_scored_against_each_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 5,000-row import of "Clinique du Parc 1" ... "5000" in one city scored every row against every
    earlier one (12.5 million fuzzy scores, then as many number checks in Python: a REST import of 65 s).
    Only names with the same numbers can match, so only those are scored: the work grows with the rows."""
    from crm_app.institutions import duplicates

    scored: list[int] = []
    real = duplicates.process.extract

    def counting(query: str, choices: list[str], **kwargs: Any) -> Any:
        scored.append(len(choices))
        return real(query, choices, **kwargs)

    monkeypatch.setattr(duplicates.process, "extract", counting)
    index = DuplicateIndex()
    for number in range(1, 2001):
        row = Candidate(ref=number, name=f"Clinique du Parc {number}", city="Lyon", postal_code="69006")
        assert index.match(row) is None
        index.add(row)
    assert sum(scored) < 2000
    # Close names with the same number still match, whatever else is in the city.
    typo = Candidate(ref=0, name="Clinique du Parcq 1500", city="Lyon")
    assert index.match(typo) == Match(1500, "Clinique du Parc 1500", MatchRule.FUZZY_NAME_CITY)
