"""The units a line is counted in (catalog items, quotes, invoices, their PDFs): one table, each unit
with its singular and plural label (message ids, translated where shown), so that a unit agrees with
its quantity: "1 unité", "4 unités", "1,5 jour", "2 days"."""

from __future__ import annotations

from decimal import Decimal

from crm_app.platform.i18n import N_, counts_as_one, gettext

UNITS: dict[str, tuple[str, str]] = {
    "unit": (N_("unit"), N_("units")),
    "day": (N_("day"), N_("days")),
    "hour": (N_("hour"), N_("hours")),
    "lot": (N_("lot"), N_("lots")),
    "box": (N_("box"), N_("boxes")),
    "kit": (N_("kit"), N_("kits")),
    "month": (N_("month"), N_("months")),
    "year": (N_("year"), N_("years")),
}


def unit_name(unit: str) -> str:
    """The unit's name in the current language (a picker's choice); an unknown unit as it is."""
    return gettext(UNITS[unit][0]) if unit in UNITS else unit


def unit_for(unit: str, quantity: Decimal | int) -> str:
    """The unit as it reads after `quantity` in the current language ("4 unités")."""
    if unit not in UNITS:
        return unit
    singular, plural = UNITS[unit]
    return gettext(singular if counts_as_one(quantity) else plural)
