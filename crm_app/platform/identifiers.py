"""French identifiers and contact fields: FINESS, SIRET (Luhn), postal codes, phones, emails.

Each `clean_*` returns the normalised value or raises ValueError with a message id.
"""

from __future__ import annotations

import re

import phonenumbers

from crm_app.platform.i18n import N_

_FINESS = re.compile(r"^(\d{2}|2A|2B)\d{7}$")
_FR_POSTAL = re.compile(r"^\d{5}$")
_OTHER_POSTAL = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LA_POSTE_SIREN = "356000000"


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value)


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def clean_finess(value: str) -> str:
    compact = _compact(value).upper()
    if not _FINESS.match(compact):
        raise ValueError(N_("A FINESS number has 9 characters: digits, or 2A/2B then 7 digits."))
    return compact


def clean_siret(value: str) -> str:
    compact = _compact(value)
    if not compact.isdigit() or len(compact) != 14:
        raise ValueError(N_("A SIRET number has 14 digits."))
    # La Poste's establishments may use a sum of digits divisible by 5 instead of the Luhn key.
    valid = luhn_ok(compact) or (compact.startswith(_LA_POSTE_SIREN) and sum(int(c) for c in compact) % 5 == 0)
    if not valid:
        raise ValueError(N_("This SIRET number is not valid (check digit)."))
    return compact


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
