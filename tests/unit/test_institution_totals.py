"""The institutions list's total: counted exactly up to a limit, PostgreSQL's estimate beyond it, and the
exports knowing which (issue 20: no full count of a million rows per request). The screen's wording:
tests/ui/test_institution_totals_screen.py."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from crm_app.institutions import service as institutions
from crm_app.institutions.models import InstitutionType
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform import paging
from crm_app.platform.db import estimated_rows
from crm_app.platform.paging import PageRequest, Total, estimated_total
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.institution_factories import make_institution


@pytest.fixture
def limit_of_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(institutions, "EXACT_COUNT_LIMIT", 3)
    monkeypatch.setattr(paging, "EXACT_COUNT_LIMIT", 3)


def test_a_list_within_the_limit_is_counted_exactly(db: Session, limit_of_three: None) -> None:
    for n in range(6):
        make_institution(db, name=f"Clinique {n}", type=InstitutionType.PRIVATE_CLINIC if n < 3 else "pharmacy")

    page = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(types=(InstitutionType.PRIVATE_CLINIC,)))

    assert (page.total, page.total_exact) == (3, True)


def test_a_longer_list_gives_an_estimate_never_below_what_was_counted(db: Session, limit_of_three: None) -> None:
    for n in range(6):
        make_institution(db, name=f"Clinique {n}")

    page = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(), PageRequest(1, 25))

    assert page.total_exact is False
    assert page.total >= 4  # more than the limit was counted: at least that, whatever the planner guessed
    assert len(page.items) == 6  # the rows themselves are all there


def test_the_estimate_is_the_planners(db: Session) -> None:
    for n in range(5):
        make_institution(db, name=f"Clinique {n}")
    db.connection().exec_driver_sql("ANALYZE institutions")

    statement = institutions.matching_ids(InstitutionQuery())

    assert estimated_rows(db, statement, {}) == 5  # planned from fresh statistics, not run


def test_estimated_total_keeps_the_count_and_the_estimate_apart() -> None:
    limit = paging.EXACT_COUNT_LIMIT
    assert estimated_total(42, lambda: 10) == Total(42)  # counted within the limit: exact, whatever the estimate
    assert estimated_total(limit + 1, lambda: 1_234_567) == Total(1_234_567, exact=False)
    assert estimated_total(limit + 1, lambda: 5_000) == Total(limit + 1, exact=False)  # never below what was counted


def test_an_export_reads_every_row_when_the_estimate_falls_short(
    db: Session, limit_of_three: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(130):
        make_institution(db, name=f"Pharmacie {n:03d}")
    monkeypatch.setattr(institutions, "estimated_rows", lambda *_: 10)  # a planner guessing far too few

    first = institutions.list_institutions(db, SYSTEM_ACTOR, InstitutionQuery(), PageRequest(1, 100))
    exported = list(institutions.iter_institutions(db, SYSTEM_ACTOR, InstitutionQuery()))

    assert (first.total, first.total_exact) == (10, False)  # fewer than the 130 rows
    assert len(exported) == 130
