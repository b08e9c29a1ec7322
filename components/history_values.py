"""The values of an audit trail in words, for the History tables of institutions, quotes and invoices.

The trail keeps each value as text (`crm_app.platform.audit.as_text`): codes, ids, ISO dates, amounts.
Each screen says how its fields read; the service gives the names that ids refer to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from crm_app.platform.i18n import N_, format_currency, format_date, format_decimal
from crm_app.platform.i18n import gettext as _


@dataclass(frozen=True)
class HistoryValues:
    """How the recorded values of a screen's fields read."""

    codes: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)  # field -> its codes' labels (N_)
    dates: frozenset[str] = frozenset()
    money: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    yes_no: frozenset[str] = frozenset()

    def text(self, field_name: str | None, value: str | None, name: str | None = None) -> str:
        """`value` in words: what an id refers to by its `name`, a code by its label, yes or no, a date, an
        amount or a number for the locale; any other value as recorded."""
        if not value:
            return ""
        if name:
            return name
        if (labels := self.codes.get(field_name or "")) is not None:
            return _(labels[value]) if value in labels else value  # str enums: a code finds its label
        if field_name in self.yes_no and value in ("True", "False"):
            return _("Yes") if value == "True" else _("No")
        try:
            if field_name in self.dates:
                return format_date(date.fromisoformat(value[:10]))
            if field_name in self.money:
                return format_currency(Decimal(value))
            if field_name in self.numbers:
                return format_decimal(Decimal(value).normalize() + 0)
        except (ValueError, ArithmeticError):  # InvalidOperation among them
            return value
        return value


#: What was done to a record, as its audit trail's `action` says (institutions, contacts, quotes...).
ACTION_LABELS = {
    "create": N_("created"),
    "update": N_("changed"),
    "archive": N_("archived"),
    "restore": N_("restored"),
    "merge": N_("merged"),
}
