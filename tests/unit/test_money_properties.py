"""Property tests of the money rules (DOMAIN.md "Money") over random lines: the totals always add up,
every amount is a Decimal to the cent, no float anywhere, and an invoice stored in the database reads
back exactly as `compute_totals` says."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from crm_app.sales import invoices
from crm_app.sales.models.invoices import Invoice, InvoiceLine
from crm_app.sales.models.quotes import DiscountType
from crm_app.sales.money import DEFAULT_VAT_RATES, LineAmounts, Totals, compute_totals
from tests.activity_factories import make_person
from tests.institution_factories import make_institution

CENT = Decimal("0.01")

quantities = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("10000"), places=3, allow_nan=False, allow_infinity=False
)
prices = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("100000"), places=2, allow_nan=False, allow_infinity=False
)
percents = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("100"), places=2, allow_nan=False, allow_infinity=False
)
rates = st.sampled_from(DEFAULT_VAT_RATES)


@st.composite
def lines(draw: st.DrawFn) -> LineAmounts:
    quantity, unit_price, vat_rate = draw(quantities), draw(prices), draw(rates)
    kind = draw(st.sampled_from([None, DiscountType.PERCENT, DiscountType.AMOUNT]))
    if kind is DiscountType.PERCENT:
        value = draw(percents)
    elif kind is DiscountType.AMOUNT:
        share = Decimal(draw(st.integers(min_value=0, max_value=100))) / 100  # up to the whole line
        value = (quantity * unit_price * share).quantize(CENT, rounding=ROUND_DOWN)
    else:
        value = Decimal("0.00")
    return LineAmounts(
        quantity=quantity, unit_price=unit_price, vat_rate=vat_rate, discount_kind=kind, discount_value=value
    )


documents = st.tuples(st.lists(lines(), min_size=0, max_size=30), percents)


def _walk(value: Any) -> list[Any]:
    """Every leaf value of a Totals (dataclasses, tuples)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [leaf for f in dataclasses.fields(value) for leaf in _walk(getattr(value, f.name))]
    if isinstance(value, tuple | list):
        return [leaf for item in value for leaf in _walk(item)]
    return [value]


def _assert_cents(value: Decimal) -> None:
    assert isinstance(value, Decimal) and value.as_tuple().exponent == -2, value


@settings(max_examples=300, deadline=None)
@given(documents)
def test_totals_always_add_up(document: tuple[list[LineAmounts], Decimal]) -> None:
    amounts, global_discount = document
    totals = compute_totals(amounts, global_discount)
    assert sum((line.net for line in totals.lines), Decimal("0.00")) == totals.subtotal
    assert sum((row.base for row in totals.vat_rows), Decimal("0.00")) == totals.total_excl_vat
    assert sum((row.vat for row in totals.vat_rows), Decimal("0.00")) == totals.total_vat
    assert totals.total_incl_vat == totals.total_excl_vat + totals.total_vat
    assert totals.subtotal - totals.global_discount == totals.total_excl_vat
    for line, total in zip(amounts, totals.lines, strict=True):
        assert total.gross - total.discount == total.net and Decimal(0) <= total.net <= total.gross
        gross = line.quantity * line.unit_price
        if line.discount_kind is DiscountType.PERCENT:
            discount = gross * line.discount_value / 100
        else:
            discount = line.discount_value if line.discount_kind is DiscountType.AMOUNT else Decimal(0)
        assert total.net == (gross - discount).quantize(CENT, ROUND_HALF_UP)
    # the global discount never takes more than its share of each rate's base (± half a cent per rate)
    keep = (100 - global_discount) / 100
    assert abs(totals.total_excl_vat - totals.subtotal * keep) <= Decimal("0.005") * len(totals.vat_rows)
    assert [row.rate for row in totals.vat_rows] == sorted({row.rate for row in totals.vat_rows}, reverse=True)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_every_amount_is_a_decimal_to_the_cent_and_nothing_is_a_float(
    document: tuple[list[LineAmounts], Decimal],
) -> None:
    totals = compute_totals(*document)
    leaves = _walk(totals)
    assert not any(isinstance(leaf, float) for leaf in leaves)
    assert all(isinstance(leaf, Decimal) for leaf in leaves)
    for name in ("subtotal", "global_discount", "total_excl_vat", "total_vat", "total_incl_vat"):
        _assert_cents(getattr(totals, name))
    for line in totals.lines:
        for value in (line.gross, line.discount, line.net):
            _assert_cents(value)
    for row in totals.vat_rows:
        _assert_cents(row.base)
        _assert_cents(row.vat)


def _raw_line(line: LineAmounts, index: int) -> dict[str, Any]:
    return {
        "description": f"Ligne {index}",
        "quantity": str(line.quantity),
        "unit_price": str(line.unit_price),
        "vat_rate": str(line.vat_rate),
        "discount_type": line.discount_kind.value if line.discount_kind else None,
        "discount_value": str(line.discount_value),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.tuples(st.lists(lines(), min_size=1, max_size=12), percents))
def test_an_invoice_stored_in_the_database_reads_back_as_computed(
    db: Session, document: tuple[list[LineAmounts], Decimal]
) -> None:
    amounts, global_discount = document
    expected: Totals = compute_totals(amounts, global_discount)
    owner = make_person(db)
    institution = make_institution(db)
    invoice = invoices.create_invoice(
        db,
        owner.actor,
        {
            "institution_id": institution.id,
            "global_discount_percent": str(global_discount),
            "lines": [_raw_line(line, index) for index, line in enumerate(amounts)],
        },
    )
    db.flush()
    db.expire_all()
    stored = db.exec(select(Invoice).where(Invoice.id == invoice.id)).one()
    assert (stored.total_excl_vat, stored.total_vat, stored.total_incl_vat) == (
        expected.total_excl_vat,
        expected.total_vat,
        expected.total_incl_vat,
    )
    for value in (stored.total_excl_vat, stored.total_vat, stored.total_incl_vat):
        _assert_cents(value)
    stored_lines = db.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)  # type: ignore[arg-type]
    ).all()
    assert [line.net_amount for line in stored_lines] == [line.net for line in expected.lines]
    assert all(
        not isinstance(v, float)
        for line in stored_lines
        for v in (line.quantity, line.unit_price, line.discount_value, line.vat_rate, line.net_amount)
    )
    detail = invoices.get_invoice(db, owner.actor, invoice.id)
    assert detail.totals == expected  # the screen and the API read the same breakdown


def test_a_document_whose_total_would_not_fit_its_column_is_refused() -> None:
    """Each line within bounds, the total incl. VAT above NUMERIC(14,2): refused, never a database error."""
    from crm_app.sales.money import MAX_AMOUNT, AmountError, LineAmounts, compute_totals

    line = LineAmounts(quantity=Decimal("1"), unit_price=Decimal("900000000000.00"), vat_rate=Decimal("20"))
    assert line.unit_price <= MAX_AMOUNT
    with pytest.raises(AmountError) as refused:
        compute_totals([line])
    assert refused.value.field == "lines"
    assert compute_totals([line], Decimal("20")).total_incl_vat <= MAX_AMOUNT  # a discount brings it back
