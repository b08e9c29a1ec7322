"""List totals are remembered briefly, and forgotten as soon as a change commits."""

from __future__ import annotations

from crm_app.db import unit_of_work
from crm_app.services import institutions
from crm_app.services.institutions import InstitutionQuery
from crm_app.services.permissions import SYSTEM_ACTOR


def _total() -> int:
    with unit_of_work() as session:
        return institutions.list_institutions(session, SYSTEM_ACTOR, InstitutionQuery()).total


def test_a_committed_change_is_counted_at_once(clean_db: None) -> None:
    assert _total() == 0
    with unit_of_work() as session:
        institutions.create_institution(session, SYSTEM_ACTOR, {"name": "Clinique du Val", "city": "Niort"})
    assert _total() == 1


def test_a_rolled_back_change_is_not_counted_nor_cached(clean_db: None) -> None:
    assert _total() == 0
    with unit_of_work() as session:
        institutions.create_institution(session, SYSTEM_ACTOR, {"name": "Clinique du Val", "city": "Niort"})
        seen_inside = institutions.list_institutions(session, SYSTEM_ACTOR, InstitutionQuery()).total
        session.rollback()
    assert seen_inside == 1
    assert _total() == 0
