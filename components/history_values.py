"""An audit trail in words, for the History tables of institutions, quotes and invoices and the
institution's timeline.

The trail keeps each value as text (`crm_app.platform.audit.as_text`): codes, ids, ISO dates, amounts.
Each area says how the entries of its kinds read (`audit.Wording`); the service gives the names that
ids refer to and the name of the record each entry is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from crm_app.platform import audit
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

    @classmethod
    def of(cls, wording: audit.Wording) -> HistoryValues:
        """How the values of an audited kind read, as its area declares them."""
        return cls(wording.codes, wording.dates, wording.money, wording.numbers, wording.yes_no)

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


@dataclass(frozen=True, slots=True)
class ChangeWords:
    """One audit entry in the reader's language."""

    what: str  # what was done, to which record ("Facture FA-2026-0001 émise")
    field: str  # the field's name ("" for an entry about the record as a whole)
    old: str
    new: str

    def change(self) -> str:
        """The values as a change: "before → after"; "after" for a value set, "before → —" for one removed."""
        if self.old and self.new:
            return f"{self.old} → {self.new}"
        return self.new or (f"{self.old} → —" if self.old else "")


def change_words(row: audit.HistoryRow) -> ChangeWords:
    """An audit entry (of any audited kind) in words: the kind's declared wording, its record's name,
    the field's label, the values as words, dates and amounts. A kind or an action nobody worded reads
    as the generic "changed", never as its code."""
    wording = audit.wording(row.entity_type)
    if wording is None:
        return ChangeWords(_("Change"), "", "", "")
    name = row.entity_name or (_(wording.unnamed) if wording.unnamed else "")
    action = wording.actions.get(row.action) or wording.actions.get("update")
    what = _(action, name=name) if action else f"{_(wording.name)} {name}".strip()
    values = HistoryValues.of(wording)
    field_label = _(wording.fields[row.field]) if row.field and row.field in wording.fields else ""
    if not field_label:  # a field nobody named: its values cannot be read either
        return ChangeWords(what, "", "", "")
    old = values.text(row.field, row.old_value, row.old_name)
    new = values.text(row.field, row.new_value, row.new_name)
    if not old and new == row.entity_name:  # the record's own name, given as it was created: `what` says it
        return ChangeWords(what, "", "", "")
    return ChangeWords(what, field_label, old, new)
