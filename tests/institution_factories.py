"""Factories for institutions and contacts, built through the services (never raw SQL)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlmodel import Session
from stdnum import luhn

from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.institutions.models import Contact, Institution
from crm_app.platform.identifiers import make_siret
from crm_app.platform.models.people import User
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor

_serial = itertools.count(1)

#: La Poste's SIRETs, the exception to the Luhn key (python-stdnum knows it).
LA_POSTE_HEAD_OFFICE_SIRET = "35600000000048"  # Luhn-valid; its digits sum to 26
LA_POSTE_ESTABLISHMENT_SIRET = "35600000000001"  # not Luhn-valid; its digits sum to 15


def siret_with_key(first_13: str) -> str:
    """Complete 13 digits (a valid SIREN, then 4 digits of establishment) with the Luhn key digit."""
    assert len(first_13) == 13 and first_13.isdigit()
    return first_13 + luhn.calc_check_digit(first_13)


def unique_siret() -> str:
    return make_siret(f"4{next(_serial):011d}")


def unique_finess() -> str:
    return f"33{next(_serial):07d}"


def unique_accounting_number() -> str:
    return f"C{next(_serial):06d}"


def make_institution(
    session: Session,
    actor: Actor = SYSTEM_ACTOR,
    *,
    name: str | None = None,
    assigned_to: User | None = None,
    allow_duplicate: bool = True,
    **values: Any,
) -> Institution:
    """An institution with a unique name by default; `assigned_to` also places it in that user's team."""
    raw: dict[str, Any] = {"name": name or f"Établissement {next(_serial):05d}", **values}
    if assigned_to is not None:
        raw.setdefault("assigned_user_id", assigned_to.id)
        raw.setdefault("team_id", assigned_to.team_id)
    return institutions.create_institution(session, actor, raw, allow_duplicate=allow_duplicate)


def make_contact(
    session: Session,
    institution: Institution,
    actor: Actor = SYSTEM_ACTOR,
    *,
    last_name: str | None = None,
    **values: Any,
) -> Contact:
    raw: dict[str, Any] = {"last_name": last_name or f"Contact{next(_serial):05d}", **values}
    return contacts.create_contact(session, actor, institution.id, raw)


def make_buyer(session: Session, actor: Actor = SYSTEM_ACTOR, **values: Any) -> Institution:
    """An institution that can be invoiced: a postal address and a SIRET (its SIREN goes on the
    e-invoice), unless given."""
    values.setdefault("street", "1 place de l'Hôpital")
    values.setdefault("postal_code", "69003")
    values.setdefault("city", "Lyon")
    values.setdefault("siret", unique_siret())
    return make_institution(session, actor, **values)
