"""SIRET and VAT numbers as python-stdnum checks them: keys, lengths, La Poste's SIRETs, the French
VAT key computed from the SIREN (the institutions' own checks are in test_institutions.py)."""

from __future__ import annotations

import pytest
from stdnum import luhn

from crm_app.platform import identifiers

VALID_SIRET = "73282932000074"  # SIREN 732829320
LA_POSTE_HEAD_OFFICE_SIRET = "35600000000048"  # the one La Poste SIRET with a Luhn key
LA_POSTE_ESTABLISHMENT_SIRET = "35600000000001"  # its digits sum to 15


@pytest.mark.parametrize("check_siren", [False, True])
def test_a_valid_siret_is_kept_compact(check_siren: bool) -> None:
    assert identifiers.clean_siret("732 829 320 00074", check_siren=check_siren) == VALID_SIRET
    assert identifiers.clean_siret("732.829.320-00074", check_siren=check_siren) == VALID_SIRET


@pytest.mark.parametrize("check_siren", [False, True])
def test_a_siret_with_a_wrong_key_is_refused(check_siren: bool) -> None:
    with pytest.raises(ValueError, match=r"not valid \(check digit\)"):
        identifiers.clean_siret("73282932000075", check_siren=check_siren)


@pytest.mark.parametrize("typed", ["7328293200007", "732829320000745", "7328293200007A", ""])
def test_a_siret_of_another_length_or_with_letters_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="14 digits"):
        identifiers.clean_siret(typed, check_siren=True)


@pytest.mark.parametrize("check_siren", [False, True])
def test_la_poste_sirets_use_the_sum_of_their_digits(check_siren: bool) -> None:
    assert not luhn.is_valid(LA_POSTE_ESTABLISHMENT_SIRET)
    for number in (LA_POSTE_HEAD_OFFICE_SIRET, LA_POSTE_ESTABLISHMENT_SIRET, "35600000000015"):
        assert identifiers.clean_siret(number, check_siren=check_siren) == number
    with pytest.raises(ValueError, match="check digit"):
        identifiers.clean_siret("35600000000002", check_siren=check_siren)  # digits sum to 16


def test_the_siren_inside_a_siret_is_checked_only_when_asked() -> None:
    # Luhn-valid as 14 digits, but the SIREN 400000000 fails its own key.
    assert identifiers.clean_siret("40000000000002") == "40000000000002"
    with pytest.raises(ValueError, match="check digit"):
        identifiers.clean_siret("40000000000002", check_siren=True)


def test_made_sirets_pass_both_keys_and_stay_distinct() -> None:
    made = {identifiers.make_siret(f"{n:012d}") for n in range(0, 10**12, 10**12 // 500)}
    assert len(made) == 500
    for number in made:
        assert identifiers.clean_siret(number, check_siren=True) == number
    assert identifiers.make_siret("732829320007") == VALID_SIRET


def test_the_french_vat_key_is_computed_from_the_siren() -> None:
    assert identifiers.french_vat_number("732829320") == "FR44732829320"
    assert identifiers.french_vat_number("356000000") == "FR39356000000"  # (12 + 3 × (SIREN mod 97)) mod 97


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("FR44732829320", "FR44732829320"),
        ("fr 44 732 829 320", "FR44732829320"),
        ("FR39356000000", "FR39356000000"),
        ("DE136695976", "DE136695976"),
    ],
)
def test_a_valid_vat_number_is_kept_compact_with_its_country(typed: str, stored: str) -> None:
    assert identifiers.clean_vat_number(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("FR45732829320", "check its 2-digit key and its SIREN"),  # key off by one
        ("FR44732829321", "check its 2-digit key and its SIREN"),  # SIREN off by one
        ("DE136695977", r"not valid \(check digits\)"),
        ("FR4473282932", "such as FR12345678901"),  # 10 digits
        ("FR447328293200", "such as FR12345678901"),  # 12 digits
        ("44732829320", "such as FR12345678901"),  # no country
        ("US123456789", "such as FR12345678901"),  # not a member state
        ("F", "such as FR12345678901"),
    ],
)
def test_an_invalid_vat_number_is_refused_with_its_reason(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        identifiers.clean_vat_number(typed)


def test_the_siren_of_a_french_vat_number() -> None:
    assert identifiers.siren_of_vat_number("FR44732829320") == "732829320"
    assert identifiers.siren_of_vat_number("DE136695976") is None
    assert identifiers.siren_of_vat_number("FR90000012345") is None  # Monaco: no SIREN


def test_a_monaco_vat_number_is_accepted_without_a_siren() -> None:
    assert identifiers.clean_vat_number("FR90000012345") == "FR90000012345"
