"""A bed range alone, in name order, read band by band (PostgreSQL; institutions.service, "Bed ranges"):
the same pages as the name index gives, and the same bands in SQL as in Python."""

from __future__ import annotations

import bisect

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from crm_app.institutions import service as institutions
from crm_app.institutions.service import InstitutionQuery
from crm_app.platform import cache
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import SYSTEM_ACTOR
from tests.institution_factories import make_institution


def test_the_bands_in_sql_are_the_bands_in_python(db: Session) -> None:
    counts = [0, 1, 9, 10, 11, 99, 100, 124, 125, 200, 499, 500, 501, 2999, 3000, 3001, 10_000]
    in_sql = db.execute(
        sa.select(sa.func.institution_bed_band(sa.column("n"))).select_from(
            sa.values(sa.column("n", sa.Integer), name="counts").data([(n,) for n in counts])
        )
    ).scalars()
    assert list(in_sql) == [bisect.bisect_right(institutions.BED_BANDS, n) for n in counts]


def _profiled(db: Session) -> None:
    """Beds at each band's edges and inside, names in an order unrelated to them, a few archived."""
    beds = [None, 0, 5, 10, 19, 20, 99, 100, 120, 199, 200, 201, 250, 480, 499, 500, 501, 599, 600, 2999, 3000, 4000]
    for index in range(3 * len(beds)):
        count = beds[(index * 7) % len(beds)]
        made = make_institution(db, name=f"Clinique {chr(90 - index % 26)}{index:02d}", bed_capacity=count)
        if index % 9 == 4:
            institutions.set_archived(db, SYSTEM_ACTOR, made.id, True)
    db.flush()


_RANGES = [(200, 500), (500, 500), (201, 201), (0, 19), (None, 30), (2600, None), (95, 130), (10, 2000), (600, 599)]


@pytest.mark.parametrize(("low", "high"), _RANGES)
def test_a_bed_range_read_band_by_band_gives_the_pages_of_the_name_index(
    db: Session, monkeypatch: pytest.MonkeyPatch, low: int | None, high: int | None
) -> None:
    _profiled(db)
    db.info.pop("records_changed", None)  # let deep pages start from anchors, as outside a write
    monkeypatch.setattr(institutions, "ANCHOR_STEP", 3)
    queries = [InstitutionQuery(beds_min=low, beds_max=high, descending=descending) for descending in (False, True)]
    pages = [PageRequest(page, 4) for page in (1, 2, 3, 4, 9)]

    def names() -> list[list[tuple[list[str], int]]]:
        found = [[institutions.list_institutions(db, SYSTEM_ACTOR, q, p) for p in pages] for q in queries]
        return [[([row.name for row in page.items], page.total) for page in query] for query in found]

    try:
        banded = names()
        cache.forget_all()
        monkeypatch.setattr(institutions, "_source", lambda *_, **__: institutions.WIDE_TABLE)
        wide = names()
    finally:
        cache.forget_all()
    assert banded == wide
    assert any(names for query in wide for names, _ in query) or (low, high) == (600, 599)


def test_only_a_narrow_bed_range_alone_in_name_order_is_read_band_by_band(db: Session) -> None:
    assert institutions._source(InstitutionQuery(beds_min=200, beds_max=500), postgresql=True) == "bed_bands"
    assert institutions._source(InstitutionQuery(beds_max=30, descending=True), postgresql=True) == "bed_bands"
    for query in (
        InstitutionQuery(beds_min=200, beds_max=500, sort="city"),
        InstitutionQuery(beds_min=200, beds_max=500, archived="all"),
        InstitutionQuery(beds_min=200, beds_max=500, city="Lyon"),
        InstitutionQuery(beds_min=10),  # 31 bands: dense enough for the name index
        InstitutionQuery(rooms_min=2, rooms_max=4),
    ):
        assert institutions._source(query, postgresql=True) == institutions.WIDE_TABLE, query
    assert institutions._source(InstitutionQuery(beds_min=200, beds_max=500), postgresql=False) == "institutions"
