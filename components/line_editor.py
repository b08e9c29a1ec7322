"""The lines of a quote or an invoice: each from the catalog (search as you type among the active
items; picking one fills reference, description, unit, price and VAT rate) or free text; quantity,
unit, unit price, discount (% or amount), VAT rate and the line's net; drag a line by its handle (or
use the arrows) to reorder; a global discount; the totals (excl. VAT, VAT by rate, incl. VAT) update
as you type.

Every amount shown comes from `crm_app.sales.money.compute_totals` (a pure function: called on the
event loop), formatted for the user's locale, so the screen shows what the PDF will. `value()` gives
the lines in the shape the quote and invoice services take; `fields()` maps the services' field names
(`lines.<i>.<field>`, `global_discount_percent`) to the inputs so `call(..., fields=...)` puts their
messages next to them.
"""

from __future__ import annotations

import asyncio
import functools
import html
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import numbers as babel_numbers
from nicegui import background_tasks, ui

from components.backend import call
from components.pickers import show_choice_whole
from crm_app.platform.i18n import N_, current_locale, format_currency, format_decimal
from crm_app.platform.i18n import gettext as _
from crm_app.sales import catalog, money
from crm_app.sales.catalog import CatalogRow
from crm_app.sales.models.quotes import DiscountType
from crm_app.sales.tax_codes import EXEMPTIONS, SupplyKind, VatExemption, default_supply_kind
from crm_app.sales.units import UNITS, unit_for, unit_name

PERCENT, AMOUNT = "percent", "amount"
SEARCH_LIMIT = 10
#: the longest the editor builds line rows in one go (seconds; the event loop gets a turn in between),
#: and the fewest rows built each time (about 5 ms each on a developer's machine).
BUDGET = 0.04
MIN_CHUNK = 2
THROTTLE = 0.25
_NUMBER = N_("Enter a number.")
_DECIMALS = N_("Too many decimals.")
_REQUIRED = N_("This field is required.")
_EXEMPTION_KEYS = frozenset(exemption.value for exemption in VatExemption)
#: What a line sells (the invoice's category of operation follows).
SUPPLY_KIND_LABELS: dict[SupplyKind, str] = {SupplyKind.GOODS: N_("Goods"), SupplyKind.SERVICES: N_("Services")}

#: The dragged line's key travels in the browser's drag data: no round trip when the drag starts.
DRAG_START = "(e) => { e.dataTransfer.setData('text/plain', '{key}'); e.dataTransfer.effectAllowed = 'move'; }"
DRAG_OVER = "(e) => { e.preventDefault(); e.currentTarget.classList.add('bg-blue-1'); }"
DRAG_LEAVE = "(e) => e.currentTarget.classList.remove('bg-blue-1')"
DROP = (
    "(e) => { e.preventDefault(); e.currentTarget.classList.remove('bg-blue-1'); "
    "emit(e.dataTransfer.getData('text/plain')); }"
)


class InputError(ValueError):
    """A number the user typed that cannot be read (`message` is a gettext id)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_number(text: Any, *, places: int) -> Decimal | None:
    """A non-negative number typed in any of our locales: "1 250,5", "1,250.5", "1.250,5", "12.5"
    (a lone separator is the decimal one; with both, the last one is). None when blank."""
    raw = str(text or "").strip()
    for noise in ("\u202f", "\xa0", " ", "'", "€", "%"):
        raw = raw.replace(noise, "")
    if not raw:
        return None
    if "," in raw and "." in raw:
        decimal_mark = "," if raw.rfind(",") > raw.rfind(".") else "."
        raw = raw.replace("." if decimal_mark == "," else ",", "").replace(",", ".")
    elif raw.count(",") == 1:
        raw = raw.replace(",", ".")
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise InputError(_NUMBER) from None
    if not number.is_finite():
        raise InputError(_NUMBER)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise InputError(_DECIMALS)
    return number


def number_text(value: Decimal | None, *, places: int | None = None) -> str:
    """A number as the user edits it: the locale's decimal mark, no grouping; `places` decimals for
    amounts (12.50), else no useless zeros (quantities: 2, 1.5)."""
    if value is None:
        return ""
    if places is not None and value == value.quantize(Decimal(1).scaleb(-places)):
        text = format(value.quantize(Decimal(1).scaleb(-places)), "f")
    else:
        text = format(value.normalize() + 0, "f")
    return text.replace(".", babel_numbers.get_decimal_symbol(current_locale()))


def rate_key(rate: Decimal) -> str:
    """A VAT rate as a select's value ("20", "5.5"): one key per rate however it is written."""
    return format(rate.normalize() + 0, "f")


def rate_label(rate: Decimal) -> str:
    return f"{format_decimal(rate)} %"


def unit_label(unit: str, quantity: Decimal | None = None) -> str:
    """The unit's name, agreeing with `quantity` when given ("4 unités")."""
    return unit_name(unit) if quantity is None else unit_for(unit, quantity)


@dataclass
class Line:
    """One line as typed (text), keyed for drag and drop."""

    key: int
    description: str = ""
    reference: str = ""
    catalog_item_id: str | None = None
    catalog_label: str | None = None
    quantity: str = "1"
    unit: str = "unit"
    unit_price: str = ""
    discount_type: str = PERCENT
    discount_value: str = ""
    vat_rate: str = "20"
    vat_exemption: str | None = None  # why a 0 % line carries no VAT (`tax_codes.VatExemption`)
    supply_kind: str = SupplyKind.GOODS.value
    #: the kind of supply was chosen (by the user, the catalog item or the stored line): a unit changed
    #: afterwards no longer sets it.
    supply_kind_chosen: bool = False
    inputs: dict[str, Any] = field(default_factory=dict)
    net_label: Any = None


@dataclass(frozen=True)
class ReadLine:
    """What could be read of a line: its amounts, or the errors by field."""

    amounts: money.LineAmounts | None
    errors: dict[str, str]


class LineEditor:
    """The editor; build it inside the form's layout. `lines` are mappings with the service's line
    fields (a `document_lines.LineRow`'s attributes as a dict, or raw dicts)."""

    def __init__(
        self,
        lines: Sequence[Mapping[str, Any]] = (),
        *,
        vat_rates: Sequence[Decimal],
        default_vat_rate: Decimal,
        global_discount_percent: Decimal = money.ZERO,
        on_change: Callable[[], Any] | None = None,
        readonly: bool = False,
    ) -> None:
        self._keys = itertools.count(1)
        self.vat_options = {rate_key(rate): rate_label(rate) for rate in vat_rates}
        self.default_rate = rate_key(default_vat_rate)
        if self.default_rate not in self.vat_options:
            self.default_rate = next(iter(self.vat_options), "0")
        self.on_change = on_change
        self.readonly = readonly
        self.lines: list[Line] = [self._from_mapping(raw) for raw in lines]
        self.totals: money.Totals | None = None
        self.catalog_rows: dict[str, CatalogRow] = {}
        self.rendered = asyncio.Event()  # set once every line has its row
        self._generation = 0
        self._units: dict[str, str] = {}
        with ui.column().classes("w-full gap-2").mark("line-editor") as self.root:
            self.box = ui.column().classes("w-full gap-2").mark("lines")
            with ui.row().classes("w-full items-start gap-4"):
                with ui.column().classes("gap-2"):
                    if not readonly:
                        ui.button(_("Add a line"), icon="add", on_click=self.add_line).props("outline no-caps").mark(
                            "add-line"
                        )
                    self.global_discount = (
                        ui.input(
                            _("Global discount (%)"),
                            value=number_text(global_discount_percent) or "0",
                            on_change=lambda _e: self.recompute(),
                        )
                        .props("outlined dense inputmode=decimal suffix=%" + (" readonly" if readonly else ""))
                        .classes("w-48")
                        .mark("global-discount")
                        .without_auto_validation()
                    )
                ui.space()
                self.totals_box = ui.column().classes("gap-1 min-w-72").mark("totals")
        self._render()

    # ---- reading and writing the lines

    def _from_mapping(self, raw: Mapping[str, Any]) -> Line:
        kind = raw.get("discount_type")
        kind_value = getattr(kind, "value", kind) or PERCENT
        rate = raw.get("vat_rate")
        rate_text = rate_key(Decimal(str(rate))) if rate not in (None, "") else self.default_rate
        if rate_text not in self.vat_options:  # a rate no longer offered stays possible on this document
            self.vat_options[rate_text] = rate_label(Decimal(rate_text))
        catalog_id = raw.get("catalog_item_id")
        reference = raw.get("reference") or ""
        description = raw.get("description") or ""
        unit = str(raw.get("unit") or "unit")
        exemption = _choice(raw.get("vat_exemption"))
        kind = _choice(raw.get("supply_kind"))
        return Line(
            key=next(self._keys),
            description=description,
            reference=reference,
            catalog_item_id=str(catalog_id) if catalog_id else None,
            catalog_label=" · ".join(p for p in (reference, description) if p) if catalog_id else None,
            quantity=_text(raw.get("quantity"), "1"),
            unit=unit,
            unit_price=_text(raw.get("unit_price"), "", places=2),
            discount_type=kind_value,
            discount_value=_text(raw.get("discount_value"), "", places=2) if raw.get("discount_value") else "",
            vat_rate=rate_text,
            vat_exemption=exemption if exemption in _EXEMPTION_KEYS else None,
            supply_kind=kind or default_supply_kind(unit).value,
            supply_kind_chosen=kind is not None,
        )

    def value(self) -> list[dict[str, Any]]:
        """The lines in the shape the quote and invoice services take (amounts as decimal text)."""
        result = []
        for line in self.lines:
            read = self._read(line)
            amounts = read.amounts
            row: dict[str, Any] = {
                "catalog_item_id": line.catalog_item_id,
                "reference": line.reference.strip() or None,
                "description": line.description,
                "unit": line.unit,
                "quantity": _as_text(line.quantity, places=3),
                "unit_price": _as_text(line.unit_price, places=2),
                "vat_rate": line.vat_rate,
                # only a 0 % line says why it carries no VAT
                "vat_exemption": line.vat_exemption if is_zero_rate(line.vat_rate) else None,
                "supply_kind": line.supply_kind,
            }
            discount = _as_text(line.discount_value, places=2)
            has_discount = bool(amounts.discount_value) if amounts is not None else bool(line.discount_value.strip())
            row["discount_type"] = line.discount_type if has_discount else None
            row["discount_value"] = discount if has_discount else "0"
            result.append(row)
        return result

    def global_discount_value(self) -> str:
        """The global discount percentage as decimal text (what the services take)."""
        return _as_text(self.global_discount.value, places=2) or "0"

    def fields(self) -> dict[str, Any]:
        """The services' field names → the inputs, for `call(..., fields=editor.fields())`."""
        mapping: dict[str, Any] = {"global_discount_percent": self.global_discount}
        for index, line in enumerate(self.lines):
            for name, element in line.inputs.items():
                mapping[f"lines.{index}.{name}"] = element
        return mapping

    # ---- changes

    def add_line(self, item: CatalogRow | None = None) -> None:
        line = Line(key=next(self._keys), vat_rate=self.default_rate)
        self.lines.append(line)
        self._render()
        if item is not None:
            self._fill(line, item)

    def remove_line(self, key: int) -> None:
        self.lines = [line for line in self.lines if line.key != key]
        self._render()

    def move(self, key: int, offset: int) -> None:
        """Move a line up (-1) or down (+1)."""
        index = next((i for i, line in enumerate(self.lines) if line.key == key), None)
        if index is None or not 0 <= index + offset < len(self.lines):
            return
        self.lines.insert(index + offset, self.lines.pop(index))
        self._render()

    def drop(self, target_key: int, dragged: Any) -> None:
        """A line dropped on another: it takes that line's place."""
        try:
            dragged_key = int(str(dragged))
        except ValueError:
            return
        keys = [line.key for line in self.lines]
        if dragged_key not in keys or target_key not in keys or dragged_key == target_key:
            return
        moving = self.lines.pop(keys.index(dragged_key))
        self.lines.insert(keys.index(target_key), moving)
        self._render()

    def _set(self, line: Line, name: str, value: Any) -> None:
        setattr(line, name, "" if value is None else value)
        if name == "vat_rate":
            self._show_exemption(line)
        elif name == "unit" and not line.supply_kind_chosen:
            self._set_supply_kind(line, default_supply_kind(line.unit).value, chosen=False)
        self.recompute()

    def _set_tax(self, line: Line, name: str, value: Any) -> None:
        """The exemption or the kind of supply chosen: no amount changes."""
        element = line.inputs.get(name)
        if element is not None:
            element.error = None
        if name == "supply_kind":
            line.supply_kind, line.supply_kind_chosen = value or default_supply_kind(line.unit).value, True
        else:
            line.vat_exemption = value or None
            self._show_exemption(line)
        if self.on_change is not None:
            self.on_change()

    def _set_supply_kind(self, line: Line, kind: str, *, chosen: bool) -> None:
        element = line.inputs.get("supply_kind")
        if element is not None and element.value != kind:
            element.set_value(kind)  # its change handler takes it as chosen: said below
        line.supply_kind, line.supply_kind_chosen = kind, chosen

    def _show_exemption(self, line: Line) -> None:
        """The exemption is asked on a 0 % line only; its hint is the legal mention the PDF prints."""
        element = line.inputs.get("vat_exemption")
        if element is None:
            return
        element.set_visibility(is_zero_rate(line.vat_rate))
        element.props["hint"] = exemption_hint(line.vat_exemption)

    def _fill(self, line: Line, item: CatalogRow) -> None:
        """Picking a catalog item copies its values into the line (the line keeps them afterwards)."""
        line.catalog_item_id = str(item.id)
        line.catalog_label = f"{item.reference} · {item.name}"
        values: dict[str, str | None] = {
            "reference": item.reference,
            "description": item.name,
            "unit": item.unit,
            "unit_price": number_text(item.unit_price, places=2),
        }
        rate = rate_key(item.default_vat_rate)
        if rate in self.vat_options:
            values["vat_rate"] = rate
        values["vat_exemption"] = item.vat_exemption.value if item.vat_exemption else None
        for name, value in values.items():
            setattr(line, name, value)
            element = line.inputs.get(name)
            if element is not None:
                element.set_value(value)
        self._set_supply_kind(line, SupplyKind(item.supply_kind).value, chosen=True)
        self._show_exemption(line)
        self.recompute()

    # ---- rendering

    def _render(self) -> None:
        """Rebuild the lines: as many as fit in BUDGET seconds at once (a short document: all), the others
        in a background task that gives the event loop a turn every BUDGET seconds (a 300-line draft
        built in one go blocked every user's requests for seconds). A newer render (a line added, moved,
        removed) stops an older one."""
        self._generation += 1
        self.rendered.clear()
        for line in self.lines:  # until its row is built again, a line has no inputs to show messages on
            line.inputs, line.net_label = {}, None
        self.box.clear()
        with self.box:
            if not self.lines:
                ui.label(_("No lines yet.")).classes("text-grey-7").mark("no-lines")
        self._units = {key: unit_name(key) for key in UNITS}
        built = self._render_rows(0)
        self.recompute()
        if built < len(self.lines):
            background_tasks.create(self._render_rest(self._generation, built), name="line-editor-render")
        else:
            self.rendered.set()

    async def _render_rest(self, generation: int, start: int) -> None:
        while start < len(self.lines):
            await asyncio.sleep(0)
            if generation != self._generation or self.box.is_deleted:
                return
            start = self._render_rows(start)
        self.recompute()  # the nets of the rows built since, and their messages
        self.rendered.set()

    def _render_rows(self, start: int) -> int:
        """Build rows from `start` for BUDGET seconds (at least MIN_CHUNK of them); the index reached."""
        deadline = time.perf_counter() + BUDGET
        index = start
        with self.box:
            while index < len(self.lines) and (index - start < MIN_CHUNK or time.perf_counter() < deadline):
                self._line_row(index, self.lines[index])
                index += 1
        return index

    async def wait_rendered(self) -> None:
        """Until every line has its row (at once for a short document)."""
        await self.rendered.wait()

    def _line_row(self, index: int, line: Line) -> None:
        ro = " readonly" if self.readonly else ""
        with ui.card().props("flat bordered").classes("w-full q-pa-sm gap-1").mark(f"line line-{index}") as card:
            if not self.readonly:
                card.on("dragover", js_handler=DRAG_OVER)
                card.on("dragleave", js_handler=DRAG_LEAVE)
                card.on("drop", lambda e, k=line.key: self.drop(k, e.args), js_handler=DROP)
            line.inputs = {}
            with ui.element("div").classes("opex-line-head"):
                if not self.readonly:
                    # A title, not a ui.tooltip: one element less per line.
                    handle = (
                        ui.icon("drag_indicator", size="sm")
                        .classes("cursor-move text-grey-6 q-mt-sm")
                        .props(f'draggable title="{_("Drag to reorder")}"')
                        .mark(f"line-{index}-handle")
                    )
                    handle.on("dragstart", js_handler=DRAG_START.replace("{key}", str(line.key)))
                    picker = CatalogPicker(line, on_pick=functools.partial(self._fill, line), editor=self)
                    picker.classes("opex-line-catalog").mark(f"line-{index}-catalog")
                    line.inputs["catalog_item_id"] = picker
                line.inputs["reference"] = (
                    ui.input(
                        _("Reference"),
                        value=line.reference,
                        on_change=lambda e, ln=line: self._set(ln, "reference", e.value),
                    )
                    .props("outlined dense maxlength=60" + ro)
                    .classes("opex-line-reference")
                    .mark(f"line-{index}-reference")
                )
                line.inputs["description"] = (
                    ui.textarea(
                        _("Description"),
                        value=line.description,
                        on_change=lambda e, ln=line: self._set(ln, "description", e.value),
                    )
                    .props("outlined dense autogrow rows=1" + ro)
                    .classes("opex-line-description")
                    .mark(f"line-{index}-description")
                )
            with ui.row().classes("w-full items-start gap-2"):
                line.inputs["quantity"] = (
                    ui.input(
                        _("Quantity"),
                        value=line.quantity,
                        on_change=lambda e, ln=line: self._set(ln, "quantity", e.value),
                    )
                    .props("outlined dense inputmode=decimal" + ro)
                    .classes("w-24")
                    .mark(f"line-{index}-quantity")
                    .without_auto_validation()
                )
                units = self._units if line.unit in self._units else {**self._units, line.unit: line.unit}
                line.inputs["unit"] = (
                    ui.select(
                        units,
                        label=_("Unit"),
                        value=line.unit,
                        on_change=lambda e, ln=line: self._set(ln, "unit", e.value),
                    )
                    .props("outlined dense" + ro)
                    .classes("w-28")
                    .mark(f"line-{index}-unit")
                )
                line.inputs["unit_price"] = (
                    ui.input(
                        _("Unit price excl. VAT"),
                        value=line.unit_price,
                        on_change=lambda e, ln=line: self._set(ln, "unit_price", e.value),
                    )
                    .props("outlined dense inputmode=decimal suffix=€" + ro)
                    .classes("w-36")
                    .mark(f"line-{index}-unit_price")
                    .without_auto_validation()
                )
                line.inputs["discount_value"] = (
                    ui.input(
                        _("Discount"),
                        value=line.discount_value,
                        on_change=lambda e, ln=line: self._set(ln, "discount_value", e.value),
                    )
                    .props("outlined dense inputmode=decimal" + ro)
                    .classes("w-24")
                    .mark(f"line-{index}-discount_value")
                    .without_auto_validation()
                )
                line.inputs["discount_type"] = (
                    ui.toggle(
                        {PERCENT: "%", AMOUNT: "€"},
                        value=line.discount_type,
                        on_change=lambda e, ln=line: self._set(ln, "discount_type", e.value or PERCENT),
                    )
                    .props("dense no-caps" + (" disable" if self.readonly else ""))
                    .classes("q-mt-xs")
                    .mark(f"line-{index}-discount_type")
                )
                line.inputs["vat_rate"] = (
                    ui.select(
                        self.vat_options,
                        label=_("VAT"),
                        value=line.vat_rate,
                        on_change=lambda e, ln=line: self._set(ln, "vat_rate", e.value or self.default_rate),
                    )
                    .props("outlined dense" + ro)
                    .classes("w-28")
                    .mark(f"line-{index}-vat_rate")
                )
                ui.space()
                with ui.column().classes("items-end gap-0"):
                    ui.label(_("Net excl. VAT")).classes("text-caption text-grey-7")
                    line.net_label = ui.label().classes("text-weight-medium").mark(f"line-{index}-net")
                if not self.readonly:
                    with ui.row().classes("no-wrap gap-0"):
                        ui.button(icon="arrow_upward", on_click=lambda k=line.key: self.move(k, -1)).props(
                            f'flat round dense aria-label="{_("Move up")}"' + (" disable" if index == 0 else "")
                        ).mark(f"line-{index}-up")
                        ui.button(icon="arrow_downward", on_click=lambda k=line.key: self.move(k, 1)).props(
                            f'flat round dense aria-label="{_("Move down")}"'
                            + (" disable" if index == len(self.lines) - 1 else "")
                        ).mark(f"line-{index}-down")
                        ui.button(icon="delete", on_click=lambda k=line.key: self.remove_line(k)).props(
                            f'flat round dense color=negative aria-label="{_("Remove the line")}"'
                        ).mark(f"line-{index}-remove")
            self._tax_row(index, line)

    def _tax_row(self, index: int, line: Line) -> None:
        """What the line sells, and on a 0 % line why it carries no VAT (its legal mention as the hint)."""
        ro = " readonly" if self.readonly else ""
        with ui.element("div").classes("opex-line-tax"):
            line.inputs["supply_kind"] = (
                ui.select(
                    {kind.value: _(label) for kind, label in SUPPLY_KIND_LABELS.items()},
                    label=_("Kind of supply"),
                    value=line.supply_kind,
                    on_change=lambda e, ln=line: self._set_tax(ln, "supply_kind", e.value),
                )
                .props("outlined dense" + ro)
                .classes("opex-line-supply")
                .mark(f"line-{index}-supply_kind")
            )
            exemption = (
                ui.select(
                    exemption_options(),
                    label=_("VAT exemption reason") + " *",
                    value=line.vat_exemption,
                    clearable=not self.readonly,
                    on_change=lambda e, ln=line: self._set_tax(ln, "vat_exemption", e.value),
                )
                .props("outlined dense bottom-slots" + ro)
                .classes("opex-line-exemption")
                .mark(f"line-{index}-vat_exemption")
            )
            line.inputs["vat_exemption"] = exemption
            self._show_exemption(line)

    # ---- arithmetic (services.money only)

    def _read(self, line: Line) -> ReadLine:
        errors: dict[str, str] = {}
        values: dict[str, Decimal | None] = {}
        for name, places in (("quantity", 3), ("unit_price", 2), ("discount_value", 2)):
            try:
                values[name] = parse_number(getattr(line, name), places=places)
            except InputError as exc:
                errors[name] = exc.message
        for name in ("quantity", "unit_price"):
            if name not in errors and values.get(name) is None:
                errors[name] = _REQUIRED
        if errors:
            return ReadLine(None, errors)
        discount = values.get("discount_value") or money.ZERO
        amounts = money.LineAmounts(
            quantity=values["quantity"] or money.ZERO,
            unit_price=values["unit_price"] or money.ZERO,
            vat_rate=Decimal(line.vat_rate or self.default_rate),
            discount_kind=DiscountType(line.discount_type) if discount else None,
            discount_value=discount,
        )
        try:
            money.line_total(amounts)
        except money.AmountError as exc:
            return ReadLine(None, {exc.field: exc.message})
        return ReadLine(amounts, {})

    def recompute(self) -> None:
        """Read every line, show each input's message, and the totals when every line reads."""
        read = [self._read(line) for line in self.lines]
        for line, result in zip(self.lines, read, strict=True):
            for name in ("quantity", "unit_price", "discount_value"):
                element = line.inputs.get(name)
                if element is not None:
                    message = result.errors.get(name)
                    # A blank field is not an error while typing (saving says so): only unreadable input.
                    element.error = _(message) if message and message != _REQUIRED else None
        discount_error = None
        try:
            global_discount = parse_number(self.global_discount.value, places=2) or money.ZERO
        except InputError as exc:
            discount_error, global_discount = exc.message, money.ZERO
        totals = None
        if discount_error is None and all(r.amounts is not None for r in read):
            try:
                totals = money.compute_totals([r.amounts for r in read if r.amounts is not None], global_discount)
            except money.AmountError as exc:
                discount_error = exc.message
        self.global_discount.error = _(discount_error) if discount_error else None
        self.totals = totals
        for index, line in enumerate(self.lines):
            if line.net_label is not None:
                line.net_label.text = format_currency(totals.lines[index].net) if totals is not None else "—"
        self._show_totals(totals)
        if self.on_change is not None:
            self.on_change()

    def _show_totals(self, totals: money.Totals | None) -> None:
        self.totals_box.clear()
        with self.totals_box:
            if totals is None:
                ui.label(_("Complete or correct the lines to see the totals.")).classes("text-grey-7").mark(
                    "totals-pending"
                )
                return
            show_totals(totals)


def lines_table(columns: list[dict[str, Any]], rows: list[dict[str, Any]], *, props: str = "") -> ui.table:
    """The lines of a quote or an invoice, read-only. On a wide screen a table; below 600 px each line
    is a card of its own, every value under its column's name (components/opex.css), so that nothing
    is cut or scrolled on a phone. Amounts take `paged_table.MONEY`, long texts `paged_table.WRAP`."""
    table = ui.table(columns=columns, rows=rows, row_key="id").props(props).classes("w-full opex-lines")
    table.add_slot(
        "body",
        r"""
        <q-tr :props="props">
          <q-td v-for="col in props.cols" :key="col.name" :props="props" :data-label="col.label"
                :class="{'opex-lines__empty': col.value === '' || col.value === null}">{{ col.value }}</q-td>
        </q-tr>""",
    )
    return table


def show_totals(totals: money.Totals) -> None:
    """The totals block, as on the PDF: subtotal and global discount (when any), total excl. VAT,
    VAT by rate, total incl. VAT."""

    def amount_row(label: str, value: Decimal, marker: str, *, strong: bool = False) -> None:
        with ui.row().classes("w-full justify-between gap-6 no-wrap"):
            ui.label(label).classes("text-weight-bold" if strong else "text-grey-8")
            ui.label(format_currency(value)).classes("text-weight-bold" if strong else "").mark(marker)

    if totals.global_discount:
        amount_row(_("Subtotal excl. VAT"), totals.subtotal, "total-subtotal")
        amount_row(_("Global discount"), -totals.global_discount, "total-global-discount")
    amount_row(_("Total excl. VAT"), totals.total_excl_vat, "total-excl")
    for row in totals.vat_rows:
        amount_row(
            _("VAT {rate} % on {base}", rate=format_decimal(row.rate), base=format_currency(row.base)),
            row.vat,
            f"total-vat-{rate_key(row.rate)}",
        )
    amount_row(_("Total VAT"), totals.total_vat, "total-vat")
    amount_row(_("Total incl. VAT"), totals.total_incl_vat, "total-incl", strong=True)


def is_zero_rate(rate: str | None) -> bool:
    """A rate key of 0 % (a line that must say why it carries no VAT)."""
    try:
        return Decimal(rate or "") == 0
    except InvalidOperation:
        return False


def exemption_options() -> dict[str, str]:
    """The reasons a 0 % line may give, by their translated short names."""
    return {exemption.value: _(spec.label) for exemption, spec in EXEMPTIONS.items()}


def exemption_hint(exemption: str | None) -> str:
    """Under the exemption: the legal mention the PDF prints for it, or why it must be chosen."""
    if exemption in _EXEMPTION_KEYS:
        return _(EXEMPTIONS[VatExemption(exemption)].mention)
    return _("Required to issue an invoice: the legal mention printed for the line.")


def _choice(value: Any) -> str | None:
    """An enum's value (or its text) as a select's key; None when blank."""
    value = getattr(value, "value", value)
    return str(value) if value else None


def _text(value: Any, default: str, *, places: int | None = None) -> str:
    if value is None or value == "":
        return default
    if isinstance(value, Decimal):
        return number_text(value, places=places)
    return str(value)


def _as_text(text: Any, *, places: int) -> str:
    """Typed text as the services' decimal text; what cannot be read is passed on for the service to refuse."""
    try:
        number = parse_number(text, places=places)
    except InputError:
        return str(text)
    return "" if number is None else format(number, "f")


class CatalogPicker(ui.select):
    """A line's catalog choice: the active items whose reference or name contains what is typed."""

    def __init__(self, line: Line, *, on_pick: Callable[[CatalogRow], Any], editor: LineEditor) -> None:
        options = {line.catalog_item_id: line.catalog_label or ""} if line.catalog_item_id else {}
        super().__init__(
            options,
            label=_("Catalog"),
            value=line.catalog_item_id,
            with_input=True,
            clearable=True,
            on_change=self._changed,
        )
        self.props("outlined dense")
        show_choice_whole(self)  # a long "reference · name" wraps instead of being cut in the input
        self._line = line
        self._on_pick = on_pick
        self._editor = editor
        self._latest = 0
        self.on("input-value", self._on_input, throttle=THROTTLE)
        self.on("popup-show", lambda _e: self.search(""))
        # A template, not elements: three elements less per line.
        self.add_slot(
            "no-option",
            f'<q-item><q-item-section class="text-grey-7">{html.escape(_("No results"))}</q-item-section></q-item>',
        )

    async def _on_input(self, event: Any) -> None:
        await self.search(str(event.args or ""))

    async def search(self, text: str) -> None:
        """Replace the options with the active items matching `text` (an older answer never wins)."""
        self._latest += 1
        ticket = self._latest
        found = await call(catalog.search_active, text.strip(), limit=SEARCH_LIMIT)
        if found is None or ticket != self._latest or self.is_deleted:
            return
        for row in found:
            self._editor.catalog_rows[str(row.id)] = row
        kept = {self.value: self.options.get(self.value, "")} if self.value and isinstance(self.options, dict) else {}
        self.set_options({**kept, **{str(row.id): f"{row.reference} · {row.name}" for row in found}})

    def _changed(self, event: Any) -> None:
        if not event.value:
            self._line.catalog_item_id = None
            self._line.catalog_label = None
            return
        item = self._editor.catalog_rows.get(str(event.value))
        if item is not None and str(item.id) != self._line.catalog_item_id:
            self._on_pick(item)
