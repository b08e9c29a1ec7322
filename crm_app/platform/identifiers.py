"""French identifiers and contact fields: FINESS, SIRET, VAT numbers, postal codes, phones, emails.

Each `clean_*` returns the normalised value or raises ValueError with a message id. SIRET and VAT
numbers are checked by python-stdnum (its rules include La Poste's SIRETs and the French VAT key).
"""

from __future__ import annotations

import re

import phonenumbers
from stdnum import luhn
from stdnum.eu import vat
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import siren, siret, tva

from crm_app.platform.i18n import N_

_FINESS = re.compile(r"^(\d{2}|2A|2B)\d{7}$")
_FR_POSTAL = re.compile(r"^\d{5}$")
_OTHER_POSTAL = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value)


def clean_finess(value: str) -> str:
    compact = _compact(value).upper()
    if not _FINESS.match(compact):
        raise ValueError(N_("A FINESS number has 9 characters: digits, or 2A/2B then 7 digits."))
    return compact


def clean_siret(value: str, *, check_siren: bool = False) -> str:
    """14 digits with a valid key: the Luhn key of the whole number or, for La Poste's
    establishments (which share one SIREN), a sum of digits divisible by 5.

    With `check_siren`, the SIREN (the first 9 digits) must pass its own Luhn check as well, as it
    does in every number INSEE issues. It is not asked of institutions: DOMAIN.md asks only the
    SIRET's key, and the institutions' sample file holds SIRETs that pass no more than that."""
    compact = _compact(value)
    if not compact.isdigit() or len(compact) != 14:
        raise ValueError(N_("A SIRET number has 14 digits."))
    if not (siret.is_valid(compact) or (not check_siren and luhn.is_valid(compact))):
        raise ValueError(N_("This SIRET number is not valid (check digit)."))
    return compact


def make_siret(body: str) -> str:
    """A valid SIRET from 8 digits of SIREN and 4 of establishment, each part given its Luhn key
    (demo and test data)."""
    assert len(body) == 12 and body.isdigit()
    establishment = body[:8] + luhn.calc_check_digit(body[:8]) + body[8:]
    return establishment + luhn.calc_check_digit(establishment)


def french_vat_number(siren_number: str) -> str:
    """The French VAT number of a SIREN: "FR", the key computed from the SIREN, the SIREN."""
    return "FR" + str(siren.to_tva(siren_number))


def clean_vat_number(value: str) -> str:
    """An intra-EU VAT number, compact, with its country prefix ("FR44732829320"). A French one is
    "FR", a key computed from the SIREN, then the SIREN; other member states' follow their own rules."""
    compact = _compact(value).upper()
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{2,13}", compact):
        raise ValueError(N_("Enter a VAT number such as FR12345678901."))
    try:
        if compact.startswith("FR"):
            return "FR" + str(tva.validate(compact))
        return str(vat.validate(compact))
    except InvalidChecksum:
        if compact.startswith("FR"):
            raise ValueError(N_("This VAT number is not valid: check its 2-digit key and its SIREN.")) from None
        raise ValueError(N_("This VAT number is not valid (check digits).")) from None
    except ValidationError:
        raise ValueError(N_("Enter a VAT number such as FR12345678901.")) from None


def siren_of_vat_number(number: str) -> str | None:
    """The SIREN inside a valid French VAT number (None for another country's, or Monaco's "FRkk000…")."""
    if not number.startswith("FR"):
        return None
    try:
        return str(tva.to_siren(number))
    except ValidationError:
        return None


def clean_postal_code(value: str, country: str = "FR") -> str:
    compact = value.strip().upper()
    if country == "FR":
        compact = compact.replace(" ", "")
        if not _FR_POSTAL.match(compact):
            raise ValueError(N_("A French postal code has 5 digits."))
    elif not _OTHER_POSTAL.match(compact):
        raise ValueError(N_("This postal code is not valid."))
    return compact


def clean_email(value: str) -> str:
    email = value.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValueError(N_("Enter a valid email address."))
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


#: Overseas France dials its numbers nationally like the mainland ("05 90 …" in Guadeloupe).
_FRENCH_OVERSEAS = ("GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF")
#: National prefixes of the overseas departments (ARCEP): Guadeloupe and Saint-Barthélemy/Saint-Martin
#: 0590/0690-0691, Guyane 0594/0694, Martinique 0596/0696-0697, La Réunion 0262-0263/0692-0693,
#: Mayotte 0269/0639, Saint-Pierre-et-Miquelon 0508.
_OVERSEAS_NATIONAL = re.compile(r"^0(590|594|596|262|263|269|508|639|69[0-7])")


def clean_phone(value: str, country: str = "FR") -> str:
    """International format ("+33 1 42 34 56 78"), from any way a person types it.

    For France, a number dialled nationally with an overseas prefix is read in the overseas plans
    first: "05 96 …" is Martinique (+596 596 …), though the mainland plan would also take it as a
    south-western number (+33 5 96 …)."""
    if (country or "FR") != "FR":
        regions: tuple[str, ...] = (country,)
    elif _OVERSEAS_NATIONAL.match(_compact(value)):
        regions = (*_FRENCH_OVERSEAS, "FR")
    else:
        regions = ("FR", *_FRENCH_OVERSEAS)
    for region in regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            raise ValueError(N_("This phone number is not valid.")) from None
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if value.strip().startswith("+"):
            break  # an international number names its own country
    raise ValueError(N_("This phone number is not valid."))
