"""The name-ordered label table (InstitutionLabelOrder, PostgreSQL): kept in step by its triggers
whatever writes the labels, and giving the same pages and totals as a filter on the labels."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from crm_app.institutions import service as institutions
from crm_app.institutions.models import Institution, InstitutionLabel, InstitutionLabelOrder, LabelKind
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.institution_factories import make_institution


def _ordered_labels(session: Session) -> set[tuple[str, str, str, bool, str]]:
    session.flush()
    session.expire_all()
    return {
        (str(row.institution_id), row.kind, row.value, row.is_archived, row.name_key)
        for row in session.exec(select(InstitutionLabelOrder)).all()
    }


def _labels(session: Session) -> set[tuple[str, str, str, bool, str]]:
    rows = session.exec(
        select(InstitutionLabel, Institution).join(Institution, Institution.id == InstitutionLabel.institution_id)  # type: ignore[arg-type]
    ).all()
    return {
        (str(label.institution_id), label.kind, label.value, institution.is_archived, institution.name_key)
        for label, institution in rows
    }


def test_the_triggers_keep_the_label_table_in_step(db: Session) -> None:
    clinic = make_institution(db, name="Clinique Saint-Roch", tags=["vip", "budget"], specialties=["cardiologie"])
    other = make_institution(db, name="Centre Pasteur", tags=["vip"])
    assert _ordered_labels(db) == _labels(db) and len(_labels(db)) == 4
    institutions.update_institution(
        db,
        SYSTEM_ACTOR,
        clinic.id,
        {"name": "Clinique du Parc", "tags": ["budget"], "specialties": ["oncologie", "cardiologie"]},
        expected_version=clinic.version,
    )
    institutions.set_archived(db, SYSTEM_ACTOR, other.id, True)
    assert _ordered_labels(db) == _labels(db)
    assert ("clinique du parc", True) not in {(row[4], row[3]) for row in _ordered_labels(db)}
    # A statement that renames a tag everywhere (no such screen yet) is followed too.
    db.execute(
        sa.update(InstitutionLabel)
        .where(InstitutionLabel.value == "budget")  # type: ignore[arg-type]
        .values(value="économies")
    )
    assert _ordered_labels(db) == _labels(db)
    db.execute(sa.delete(Institution).where(Institution.id == clinic.id))  # type: ignore[arg-type]
    assert _ordered_labels(db) == _labels(db) and len(_labels(db)) == 1


@pytest.mark.parametrize("archived", ["active", "archived", "all"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("kind", [LabelKind.TAG, LabelKind.SPECIALTY])
def test_a_filter_on_one_label_gives_the_same_pages_through_the_label_table(
    db: Session, monkeypatch: pytest.MonkeyPatch, archived: str, descending: bool, kind: LabelKind
) -> None:
    for index in range(30):
        labels = ["cardiologie", "oncologie"] if index % 3 else ["oncologie"]
        values: dict[str, Any] = {"tags" if kind is LabelKind.TAG else "specialties": labels}
        made = make_institution(db, name=f"Hôpital {chr(90 - index % 26)}{index:02d}", **values)
        if index % 4 == 0:
            institutions.set_archived(db, SYSTEM_ACTOR, made.id, True)
    make_institution(db, name="Clinique du Lac")
    db.flush()
    query = InstitutionQuery(archived=archived, descending=descending)
    query = (
        replace(query, tags=("cardiologie",)) if kind is LabelKind.TAG else replace(query, specialties=("cardiologie",))
    )
    assert institutions._source(postgresql=True, query=query) == institutions.LABEL_TABLE

    def pages() -> list[tuple[list[str], int]]:
        found = [institutions.list_institutions(db, SYSTEM_ACTOR, query, PageRequest(page, 8)) for page in (1, 2, 3)]
        return [([row.name for row in page.items], page.total) for page in found]

    narrow = pages()
    monkeypatch.setattr(institutions, "_source", lambda *_, **__: institutions.WIDE_TABLE)
    assert narrow == pages()
    assert narrow[0][1] == {"active": 15, "archived": 5, "all": 20}[archived]


def test_only_one_label_alone_in_name_order_goes_to_the_label_table(db: Session) -> None:
    for query in (
        InstitutionQuery(tags=("vip", "budget")),
        InstitutionQuery(tags=("vip",), specialties=("onco",)),
        InstitutionQuery(tags=("vip",), sort="city"),
        InstitutionQuery(tags=("vip",), city="Lyon"),
    ):
        assert institutions._source(postgresql=True, query=query) == institutions.WIDE_TABLE
    assert (
        institutions._source(postgresql=True, query=InstitutionQuery(specialties=("onco",), descending=True))
        == institutions.LABEL_TABLE
    )
