"""The lines of sales documents (quotes, invoices, credit notes), one set of rules for all of them:
cleaning the raw lines (forms, the API), their amounts and totals (`money.compute_totals` only),
storing them on a Quote or an Invoice with the document's totals, and reading them back.

Cleaning reports every faulty field at once as `lines.<index>.<field>` (index from 0, in the order
given). A catalog item fills what the line leaves out (description, unit price, VAT rate, reference,
unit); a line without a VAT rate gets the organisation's default one; the rate must be one of the
allowed rates (`document_settings().vat_rates`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, overload

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm_app.platform import cleaners as fields
from crm_app.platform.cleaners import long_text
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.sales import money
from crm_app.sales.document_settings import document_settings
from crm_app.sales.models.invoices import Invoice, InvoiceLine
from crm_app.sales.models.quotes import CatalogItem, DiscountType, Quote, QuoteLine
from crm_app.sales.tax_codes import SupplyKind, VatExemption, default_supply_kind

#: the most lines a document holds.
MAX_LINES = 500

# --------------------------------------------------------------------------------------------
# Decimal input


def _number_text(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError(N_("Enter a number."))
    if isinstance(value, float):
        value = repr(value)
    return (
        str(value)
        .strip()
        .replace("\u202f", "")
        .replace("\xa0", "")
        .replace(" ", "")
        .replace("€", "")
        .replace("%", "")
        .replace(",", ".")
    )


def decimal_value(
    *, places: int, required: bool = False, maximum: Decimal | None = None, positive: bool = False
) -> fields.Cleaner:
    """A Decimal with at most `places` decimals (never rounded silently, never a float), ≥ 0 (> 0 when
    `positive`); decimal comma, spaces, "€" and "%" accepted."""
    step = Decimal(1).scaleb(-places)

    def clean(value: Any) -> Decimal | None:
        if fields.is_blank(value):
            if required:
                raise ValueError(N_("This field is required."))
            return None
        try:
            number = value if isinstance(value, Decimal) else Decimal(_number_text(value))
        except InvalidOperation:
            raise ValueError(N_("Enter a number.")) from None
        if not number.is_finite():
            raise ValueError(N_("Enter a number."))
        if number < 0 or (positive and number == 0) or (maximum is not None and number > maximum):
            raise ValueError(N_("Out of range."))
        if number != number.quantize(step):
            raise ValueError(N_("Too many decimals."))
        return number.quantize(step)

    return clean


def amount_field(*, positive: bool = False, required: bool = False) -> fields.Cleaner:
    """Money: two decimals, up to what the database holds."""
    return decimal_value(places=2, maximum=money.MAX_AMOUNT, positive=positive, required=required)


def percent_field(*, positive: bool = False) -> fields.Cleaner:
    """A percentage (discounts, VAT rates): two decimals, 0 to 100."""
    return decimal_value(places=2, maximum=money.HUNDRED, positive=positive)


# --------------------------------------------------------------------------------------------
# Lines in


LINE_CLEANERS: dict[str, fields.Cleaner] = {
    "catalog_item_id": fields.identifier(),
    "reference": fields.text(60),
    "description": long_text(5_000),
    "quantity": decimal_value(places=3, maximum=money.MAX_QUANTITY),
    "unit": fields.text(20),
    "unit_price": amount_field(),
    "discount_type": fields.choice(DiscountType),
    "discount_value": amount_field(),
    "vat_rate": percent_field(),
    "vat_exemption": fields.choice(VatExemption),
    "supply_kind": fields.choice(SupplyKind),
}
#: the fields a line keeps (what the detail of a document gives for each line and its update takes).
LINE_FIELDS = tuple(LINE_CLEANERS)
#: what a line read back carries beyond its fields; given back, it is left out.
_READ_ONLY = ("id", "net_amount")


@dataclass(frozen=True, slots=True)
class LineInput:
    """One cleaned line, ready to store."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    unit: str = "unit"
    reference: str | None = None
    catalog_item_id: uuid.UUID | None = None
    discount_type: DiscountType | None = None
    discount_value: Decimal = money.ZERO
    vat_exemption: VatExemption | None = None  # why a 0 % line carries no VAT (`tax_codes`)
    supply_kind: SupplyKind = SupplyKind.GOODS

    def amounts(self) -> money.LineAmounts:
        return money.LineAmounts(
            quantity=self.quantity,
            unit_price=self.unit_price,
            vat_rate=self.vat_rate,
            discount_kind=self.discount_type,
            discount_value=self.discount_value,
        )


def _clean_line(
    session: Session,
    raw: Any,
    index: int,
    *,
    vat_rates: Sequence[Decimal],
    default_rate: Decimal,
    errors: dict[str, str],
) -> LineInput | None:
    """A line from its raw fields; a catalog item fills what the line leaves out. Errors go to `errors`."""
    prefix = f"lines.{index}."
    if not isinstance(raw, Mapping):
        errors[f"lines.{index}"] = N_("Unknown value.")
        return None
    values, line_errors = fields.clean_fields(
        {k: v for k, v in raw.items() if k not in _READ_ONLY}, LINE_CLEANERS, partial=True
    )
    errors.update({prefix + name: message for name, message in line_errors.items()})
    if line_errors:
        return None
    item = None
    if values.get("catalog_item_id") is not None:
        item = session.get(CatalogItem, values["catalog_item_id"])
        if item is None:
            errors[prefix + "catalog_item_id"] = N_("This catalog item does not exist.")
            return None
    description = values.get("description") or (item.name if item else None)
    quantity = values.get("quantity")
    unit_price = values.get("unit_price", item.unit_price if item else None)
    vat_rate = values.get("vat_rate")
    if vat_rate is None:
        vat_rate = item.default_vat_rate if item else default_rate
    for name, value in (("description", description), ("quantity", quantity), ("unit_price", unit_price)):
        if value is None:
            errors[prefix + name] = N_("This field is required.")
    if vat_rate.normalize() not in {rate.normalize() for rate in vat_rates}:
        errors[prefix + "vat_rate"] = N_("This VAT rate is not allowed.")
    discount_type = values.get("discount_type")
    discount_value = values.get("discount_value") or money.ZERO
    if discount_value and discount_type is None:
        errors[prefix + "discount_type"] = N_("Say whether the discount is a percentage or an amount.")
    if any(key.startswith(prefix) for key in errors):
        return None
    assert description is not None and quantity is not None and unit_price is not None
    unit = values.get("unit") or (item.unit if item else "unit")
    exemption = values.get("vat_exemption", item.vat_exemption if item else None)
    return LineInput(
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=vat_rate,
        unit=unit,
        reference=values.get("reference", item.reference if item else None),
        catalog_item_id=values.get("catalog_item_id"),
        discount_type=discount_type if discount_value else None,
        discount_value=discount_value,
        # a taxed line has no exemption (a 0 % item's, given to a line at 20 %, is dropped)
        vat_exemption=VatExemption(exemption) if exemption and vat_rate == 0 else None,
        supply_kind=SupplyKind(
            values.get("supply_kind") or (item.supply_kind if item else None) or default_supply_kind(unit)
        ),
    )


def clean_lines(session: Session, raw: Any) -> list[LineInput]:
    """Every line cleaned and its amounts checked; one ValidationFailed names all the faulty fields
    (`lines.<index>.<field>`). None gives no lines."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise ValidationFailed({"lines": N_("Unknown value.")})
    if len(raw) > MAX_LINES:
        raise ValidationFailed({"lines": N_("Too many lines.")})
    settings = document_settings(session)
    errors: dict[str, str] = {}
    lines = [
        _clean_line(
            session, line, index, vat_rates=settings.vat_rates, default_rate=settings.default_vat_rate, errors=errors
        )
        for index, line in enumerate(raw)
    ]
    for index, line in enumerate(lines):
        if line is not None:
            try:
                money.line_total(line.amounts())
            except money.AmountError as exc:
                errors[f"lines.{index}.{exc.field}"] = exc.message
    if errors:
        raise ValidationFailed(errors)
    return [line for line in lines if line is not None]


def totals_of(lines: Sequence[LineInput], global_discount_percent: Decimal = money.ZERO) -> money.Totals:
    """`money.compute_totals`, its AmountError turned into a field error (`lines.2.unit_price`, or the
    document's field such as `global_discount_percent`)."""
    for index, line in enumerate(lines):
        try:
            money.line_total(line.amounts())
        except money.AmountError as exc:
            raise ValidationFailed({f"lines.{index}.{exc.field}": exc.message}) from None
    try:
        return money.compute_totals([line.amounts() for line in lines], global_discount_percent)
    except money.AmountError as exc:
        raise ValidationFailed({exc.field: exc.message}) from None


# --------------------------------------------------------------------------------------------
# Stored lines


StoredLine = QuoteLine | InvoiceLine


def _delete_lines(session: Session, document: Quote | Invoice) -> None:
    if isinstance(document, Quote):
        session.exec(sa.delete(QuoteLine).where(col(QuoteLine.quote_id) == document.id))
    else:
        session.exec(sa.delete(InvoiceLine).where(col(InvoiceLine.invoice_id) == document.id))
    session.flush()


def _new_line(document: Quote | Invoice, **values: Any) -> StoredLine:
    if isinstance(document, Quote):
        return QuoteLine(quote_id=document.id, **values)
    return InvoiceLine(invoice_id=document.id, **values)


def store_lines(
    session: Session, document: Quote | Invoice, lines: Sequence[LineInput], totals: money.Totals | None = None
) -> None:
    """Replace the document's lines (in the given order, positions from 1) and set its three totals,
    from `totals` when the caller computed them already, else from the lines and the document's
    global discount."""
    if totals is None:
        totals = totals_of(lines, document.global_discount_percent)
    _delete_lines(session, document)
    session.add_all(
        _new_line(document, position=position, net_amount=total.net, **line_values(line))
        for position, (line, total) in enumerate(zip(lines, totals.lines, strict=True), start=1)
    )
    document.total_excl_vat = totals.total_excl_vat
    document.total_vat = totals.total_vat
    document.total_incl_vat = totals.total_incl_vat


@overload
def stored_lines(session: Session, document: Quote) -> list[QuoteLine]: ...
@overload
def stored_lines(session: Session, document: Invoice) -> list[InvoiceLine]: ...
def stored_lines(session: Session, document: Quote | Invoice) -> list[QuoteLine] | list[InvoiceLine]:
    """The document's lines, in order."""
    if isinstance(document, Quote):
        return list(
            session.exec(
                select(QuoteLine).where(QuoteLine.quote_id == document.id).order_by(col(QuoteLine.position))
            ).all()
        )
    return list(
        session.exec(
            select(InvoiceLine).where(InvoiceLine.invoice_id == document.id).order_by(col(InvoiceLine.position))
        ).all()
    )


def as_input(line: StoredLine) -> LineInput:
    """A stored line as input again (copied to a revision, an invoice, a credit note, or kept)."""
    return LineInput(
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,
        unit=line.unit,
        reference=line.reference,
        catalog_item_id=line.catalog_item_id,
        discount_type=DiscountType(line.discount_type) if line.discount_type else None,
        discount_value=line.discount_value,
        vat_exemption=VatExemption(line.vat_exemption) if line.vat_exemption else None,
        supply_kind=SupplyKind(line.supply_kind),
    )


def stored_totals(lines: Sequence[StoredLine], global_discount_percent: Decimal) -> money.Totals:
    """The totals of stored lines (the VAT breakdown of a document as read)."""
    return money.compute_totals([as_input(line).amounts() for line in lines], global_discount_percent)


def taxes_by_rate(lines: Sequence[StoredLine]) -> dict[Decimal, tuple[VatExemption | None, SupplyKind]]:
    """Per VAT rate of a document's lines: the exemption of its first line and what it sells (services
    when every line of the rate does), for the lines of a part invoice or a credit note of an amount."""
    found: dict[Decimal, tuple[VatExemption | None, SupplyKind]] = {}
    for line in lines:
        rate = line.vat_rate.normalize() + 0
        exemption = VatExemption(line.vat_exemption) if line.vat_exemption else None
        kind = SupplyKind(line.supply_kind)
        if rate in found:
            first, known = found[rate]
            found[rate] = (first or exemption, known if known == kind else SupplyKind.GOODS)
        else:
            found[rate] = (exemption, kind)
    return found


def line_values(line: LineInput) -> dict[str, Any]:
    """The line's fields (`LINE_FIELDS`), as the services take them back."""
    return {name: getattr(line, name) for name in LINE_FIELDS}


@dataclass(frozen=True, slots=True, kw_only=True)
class LineRow(LineInput):
    """One stored line as a document's detail shows it: its fields, where it stands and its net."""

    id: uuid.UUID
    position: int
    net_amount: Decimal


def line_row(line: StoredLine) -> LineRow:
    return LineRow(id=line.id, position=line.position, net_amount=line.net_amount, **line_values(as_input(line)))
