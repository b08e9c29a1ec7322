"""Money arithmetic of sales documents (DOMAIN.md "Money"): Decimal only, half-up to the cent.

One function computes a document's totals; the quote editor, the API, the PDF and the database all
read its result, so they agree to the cent.

- Line: gross = quantity × unit price; discount = a percentage of gross (0–100) or a fixed amount
  (≤ gross); net = gross − discount, rounded half-up to the cent.
- Document: an optional global discount percentage applies to the sum of nets; VAT is computed per
  rate on the discounted base of that rate, each base and each VAT amount rounded half-up;
  total excl. VAT = Σ bases, VAT = Σ per-rate VAT, total incl. VAT = both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from crm_app.platform.i18n import N_
from crm_app.sales.models.quotes import DiscountType

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
#: bounds of the database columns: NUMERIC(14,2) amounts, NUMERIC(12,3) quantities, NUMERIC(5,2) rates.
MAX_AMOUNT = Decimal("999999999999.99")
MAX_QUANTITY = Decimal("999999999.999")
DEFAULT_VAT_RATES: tuple[Decimal, ...] = (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"), Decimal("0"))


def to_cents(value: Decimal) -> Decimal:
    """Round half-up to the cent (0.005 → 0.01, -0.005 → -0.01)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class LineAmounts:
    """The inputs of one line. `discount_value` is a percentage or an amount, per `discount_kind`."""

    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    discount_kind: DiscountType | None = None
    discount_value: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class LineTotal:
    gross: Decimal  # quantity × unit price, rounded to the cent
    discount: Decimal  # gross − net
    net: Decimal  # rounded to the cent


@dataclass(frozen=True, slots=True)
class VatRow:
    rate: Decimal
    base: Decimal  # the nets of that rate, after the global discount, rounded
    vat: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    lines: tuple[LineTotal, ...]
    subtotal: Decimal  # Σ line nets, before the global discount
    global_discount: Decimal  # subtotal − total excl. VAT
    total_excl_vat: Decimal
    vat_rows: tuple[VatRow, ...]  # by rate, highest first
    total_vat: Decimal
    total_incl_vat: Decimal


class AmountError(ValueError):
    """An input no document may hold; `field` names it (quantity, unit_price, discount_value, ...) and
    `message` is a gettext id. Services turn it into ValidationFailed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def line_total(line: LineAmounts) -> LineTotal:
    """The net of one line; raises AmountError for an input out of bounds.

    net = round(gross − discount); the discount shown is round(gross) − net, so that what a reader
    adds up on the page matches to the cent."""
    if line.quantity < 0 or line.quantity > MAX_QUANTITY:
        raise AmountError("quantity", N_("A quantity is between 0 and 999,999,999.999."))
    if line.unit_price < 0 or line.unit_price > MAX_AMOUNT:
        raise AmountError("unit_price", N_("A unit price cannot be negative."))
    gross = line.quantity * line.unit_price
    if line.discount_kind is None or not line.discount_value:
        raw_discount = ZERO
    elif line.discount_value < 0:
        raise AmountError("discount_value", N_("A discount cannot be negative."))
    elif line.discount_kind is DiscountType.PERCENT:
        if line.discount_value > HUNDRED:
            raise AmountError("discount_value", N_("A discount percentage is between 0 and 100."))
        raw_discount = gross * line.discount_value / HUNDRED
    else:
        if line.discount_value > gross:
            raise AmountError("discount_value", N_("A discount cannot exceed the line's amount."))
        raw_discount = line.discount_value
    net = to_cents(gross - raw_discount)
    if net > MAX_AMOUNT:
        raise AmountError("quantity", N_("This line's amount is too large."))
    return LineTotal(gross=to_cents(gross), discount=to_cents(gross) - net, net=net)


def compute_totals(lines: Sequence[LineAmounts], global_discount_percent: Decimal = ZERO) -> Totals:
    """Every total of a document, exactly as the PDF shows them."""
    if not ZERO <= global_discount_percent <= HUNDRED:
        raise AmountError("global_discount_percent", N_("A discount percentage is between 0 and 100."))
    line_totals = tuple(line_total(line) for line in lines)
    nets_by_rate: dict[Decimal, Decimal] = {}
    for line, total in zip(lines, line_totals, strict=True):
        rate = line.vat_rate.normalize() + 0  # 20, 20.0 and 20.00 are one rate
        nets_by_rate[rate] = nets_by_rate.get(rate, ZERO) + total.net
    keep = (HUNDRED - global_discount_percent) / HUNDRED
    rows = []
    for rate in sorted(nets_by_rate, reverse=True):
        base = to_cents(nets_by_rate[rate] * keep)
        rows.append(VatRow(rate=rate, base=base, vat=to_cents(base * rate / HUNDRED)))
    subtotal = sum((t.net for t in line_totals), ZERO)
    total_excl = sum((row.base for row in rows), ZERO)
    total_vat = sum((row.vat for row in rows), ZERO)
    if total_excl + total_vat > MAX_AMOUNT:
        raise AmountError("lines", N_("The document's total is too large."))
    return Totals(
        lines=line_totals,
        subtotal=subtotal,
        global_discount=subtotal - total_excl,
        total_excl_vat=total_excl,
        vat_rows=tuple(rows),
        total_vat=total_vat,
        total_incl_vat=total_excl + total_vat,
    )


def sum_amounts(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)
