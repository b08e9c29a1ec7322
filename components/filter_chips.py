"""Chips naming the filters a list holds that its filter bar has no field for (a link from the dashboard
sets them: "Sent: 1 Mar 2026 – 31 Mar 2026"), each removable: the user sees why the list is short and
can widen it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from nicegui import ui

from crm_app.platform.i18n import format_date
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor

#: a chip's words and what removing it does (the list reloads without that filter).
Chip = tuple[str, Callable[[], Awaitable[None]]]


def range_text(label: str, first: date | None, last: date | None) -> str | None:
    """ "{label}: 1 Mar 2026 – 31 Mar 2026", "from …", "until …" (None when neither end is set)."""
    if first is not None and last is not None:
        return _("{label}: {start} – {end}", label=label, start=format_date(first), end=format_date(last))
    if first is not None:
        return _("{label}: from {start}", label=label, start=format_date(first))
    if last is not None:
        return _("{label}: until {end}", label=label, end=format_date(last))
    return None


class FilterChips:
    """A row of removable chips, drawn again (`show`) whenever the filters change.

    Most visits have no such filter, so the row is built the first time it has a chip, in the place it
    would have had: right after the element that preceded it when the list was built (an empty row on
    every tab was one more element held in the server's memory; issue 20, bench/README.md "Memory
    per tab")."""

    def __init__(self) -> None:
        self.slot = ui.context.slot
        self.after = self.slot.children[-1] if self.slot.children else None
        self.row: ui.row | None = None

    def show(self, chips: Sequence[Chip]) -> None:
        if self.row is None:
            if not chips:
                return
            with self.slot:
                self.row = ui.row().classes("w-full items-center gap-2").mark("extra-filters")
            self.row.move(target_index=self.slot.children.index(self.after) + 1 if self.after is not None else 0)
        self.row.clear()
        with self.row:
            for text, clear in chips:
                ui.chip(text, icon="filter_alt", removable=True, on_value_change=lambda _e, clear=clear: clear()).props(
                    "outline color=primary"
                ).mark("extra-filter")
        self.row.set_visibility(bool(chips))


def team_text(actor: Actor, team_id: uuid.UUID) -> str:
    """A team filter's words: the dashboard links to the actor's own team."""
    return _("Team: mine") if team_id == actor.team_id else _("Team: another one")
