"""The narrow, name-ordered search table (InstitutionSearch, PostgreSQL): kept in step by its trigger,
and giving the same pages and totals as a search of the institutions themselves."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from crm_app.institutions import service as institutions
from crm_app.institutions.models import Institution, InstitutionSearch
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.institution_factories import make_institution


def _names(session: Session, query: InstitutionQuery, page: PageRequest) -> tuple[list[str], int]:
    found = institutions.list_institutions(session, SYSTEM_ACTOR, query, page)
    return [row.name for row in found.items], found.total


def test_the_trigger_keeps_the_search_table_in_step(db: Session) -> None:
    clinic = make_institution(db, name="Clinique Saint-Roch", city="Montpellier")
    db.flush()
    row = db.get(InstitutionSearch, clinic.id)
    assert row is not None and "saint-roch" in row.search_text and row.name_key == clinic.name_key
    institutions.update_institution(
        db, SYSTEM_ACTOR, clinic.id, {"name": "Clinique du Parc"}, expected_version=clinic.version
    )
    institutions.set_archived(db, SYSTEM_ACTOR, clinic.id, True)
    db.flush()
    db.expire_all()
    row = db.get(InstitutionSearch, clinic.id)
    assert row is not None and row.is_archived and "parc" in row.search_text and "roch" not in row.search_text
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
