"""List totals are remembered briefly, and forgotten as soon as a change commits."""

from __future__ import annotations

from crm_app.institutions import service as institutions
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.db import unit_of_work
from crm_app.platform.permissions import SYSTEM_ACTOR


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


def test_a_savepoint_inside_an_uncommitted_change_does_not_let_it_into_the_caches(clean_db: None) -> None:
    """SQLAlchemy reports a released or rolled back SAVEPOINT like a commit or a rollback; the
    transaction's own changes must still stay out of the shared caches until it really commits."""
    assert _total() == 0
    with unit_of_work() as session:
        institutions.create_institution(session, SYSTEM_ACTOR, {"name": "Clinique du Val", "city": "Niort"})
        with session.begin_nested():  # e.g. numbering's first number of the year
            pass
        try:
            with session.begin_nested():
                raise LookupError
        except LookupError:
            pass
        assert institutions.list_institutions(session, SYSTEM_ACTOR, InstitutionQuery()).total == 1
        session.rollback()
    assert _total() == 0


def test_settings_changed_in_an_uncommitted_transaction_stay_out_of_the_cache(clean_db: None) -> None:
    from crm_app.platform import settings

    with unit_of_work() as session:
        settings.update_section(session, SYSTEM_ACTOR, "organisation", {"name": "Clinique Lumière"})
        with session.begin_nested():
            pass
        assert settings.organisation(session)["name"] == "Clinique Lumière"
        session.rollback()
    assert settings.organisation()["name"] == "OPEx CRM"
