"""Pickers for the forms: an institution, a contact, a user. Institutions and contacts are searched on
the server as you type (never loaded whole); users come from a list the service already bounded
(the people the actor may assign to, say).

Each picker *is* a `ui.select` whose value is the chosen record's id as text (or None), so a form puts
it in its `fields=` mapping and `call` shows the service's message next to it (`element.error`).
`selected_id` gives the id as a UUID.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from typing import Any

from nicegui import ui

from components.backend import call
from crm_app.accounts import users
from crm_app.institutions import contacts, search
from crm_app.institutions.contacts import ContactRow
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import PageRequest

SEARCH_LIMIT = 10
CONTACTS_SHOWN = 20  # an institution's contacts listed before anything is typed
THROTTLE = 0.25  # seconds between two searches while typing (the last keystroke always searches)


def active_users() -> Awaitable[dict[str, str] | None]:
    """Every active user (id as text → name, by name), for inviting or sharing with. The tab is taken
    at once, so this may be awaited inside `asyncio.gather`."""
    found = call(users.list_active_users)

    async def by_id() -> dict[str, str] | None:
        result = await found
        return None if result is None else {str(user_id): name for user_id, name in result}

    return by_id()


def as_uuid(value: Any) -> uuid.UUID | None:
    """A picker's value as an id (None when empty or not an id)."""
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def as_day(value: Any) -> date | None:
    """A date input's value (ISO) as a day (None when empty or not a date)."""
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def show_choice_whole(select: ui.select) -> ui.select:
    """Show a searchable select's chosen option whole. NiceGUI's `with_input` writes the choice into the
    text input (Quasar's `fill-input` and `hide-selected`), which cannot wrap: a long label was cut
    ("EQ-ECHO-001 · Échogr…" on a phone). Without them Quasar shows the choice as its selected text, which
    wraps (components/opex.css), with the input beside or under it: typing still searches, Backspace in
    the empty input or the clear button unchooses."""
    select.props(remove="fill-input hide-selected")
    return select


class _SearchPicker(ui.select):
    """A single-choice select that asks the server for its options as the user types."""

    def __init__(
        self,
        label: str,
        *,
        value: uuid.UUID | None,
        value_label: str | None,
        on_change: Callable[..., Any] | None,
        clearable: bool,
    ) -> None:
        options = {str(value): value_label or ""} if value is not None else {}
        super().__init__(
            options,
            label=label,
            value=str(value) if value is not None else None,
            with_input=True,
            clearable=clearable,
            on_change=on_change,
        )
        show_choice_whole(self)
        self._latest = 0
        self.on("input-value", self._on_input, throttle=THROTTLE)
        self.on("popup-show", self._on_popup)
        with self.add_slot("no-option"), ui.item(), ui.item_section():
            self._empty = ui.label(self._hint()).classes("text-grey-7")

    @property
    def selected_id(self) -> uuid.UUID | None:
        """The chosen record's id, or None."""
        return as_uuid(self.value)

    @property
    def selected_label(self) -> str | None:
        return self.options.get(self.value) if isinstance(self.options, dict) and self.value else None

    def select_record(self, record_id: uuid.UUID | None, label: str | None = None) -> None:
        """Show `record_id` as chosen (from code: a page that knows the institution already)."""
        if record_id is None:
            self.set_value(None)
            return
        self.set_options({**self._kept(), str(record_id): label or ""}, value=str(record_id))

    def _kept(self) -> dict[str, str]:
        """The chosen option stays among the options, whatever the search finds."""
        current = self.selected_label
        return {self.value: current} if self.value and current is not None else {}

    def _hint(self, text: str = "") -> str:
        return _("No results") if text else _("Type to search")

    async def _on_popup(self, _event: Any) -> None:
        await self.search("")

    async def _on_input(self, event: Any) -> None:
        await self.search(str(event.args or ""))

    async def search(self, text: str) -> None:
        """Replace the options with the server's matches for `text` (an older answer never wins)."""
        text = text.strip()
        self._latest += 1
        ticket = self._latest
        found = await self._find(text)
        if found is None or ticket != self._latest or self.is_deleted:
            return
        self._empty.text = self._hint(text)
        self.set_options({**self._kept(), **found})

    async def _find(self, text: str) -> dict[str, str] | None:
        raise NotImplementedError


class InstitutionPicker(_SearchPicker):
    """Choose an institution by typing part of its name, city or identifiers."""

    async def _find(self, text: str) -> dict[str, str] | None:
        if len(text) < search.MIN_LENGTH:
            return {}
        found = await call(search.find_institutions, text, limit=SEARCH_LIMIT)
        if found is None:
            return None
        return {str(row.id): " · ".join(p for p in (row.title, row.subtitle) if p) for row in found}


class ContactPicker(_SearchPicker):
    """Choose a contact: among one institution's contacts when `institution_id` is set (listed at once,
    narrowed as you type), else among all contacts by name (`institution_of` then tells the page
    which institution the chosen contact belongs to)."""

    def __init__(
        self,
        label: str,
        *,
        institution_id: uuid.UUID | None,
        value: uuid.UUID | None,
        value_label: str | None,
        on_change: Callable[..., Any] | None,
        clearable: bool,
    ) -> None:
        self.institution_id = institution_id
        self._institutions: dict[str, uuid.UUID] = {}
        super().__init__(label, value=value, value_label=value_label, on_change=on_change, clearable=clearable)

    def set_institution(self, institution_id: uuid.UUID | None) -> None:
        """Limit the choice to this institution's contacts; a contact of another one is unchosen."""
        if institution_id == self.institution_id:
            return
        self.institution_id = institution_id
        chosen = self.value
        keep = chosen is not None and institution_id is not None and self._institutions.get(chosen) == institution_id
        self.set_options(self._kept() if keep else {}, value=chosen if keep else None)

    def institution_of(self, contact_id: uuid.UUID | None) -> uuid.UUID | None:
        """The institution of a contact this picker offered."""
        return self._institutions.get(str(contact_id)) if contact_id is not None else None

    def _hint(self, text: str = "") -> str:
        if text or self.institution_id is not None:
            return _("No results")
        return _("Type to search")

    async def _find(self, text: str) -> dict[str, str] | None:
        if self.institution_id is not None:
            page = await call(
                contacts.list_for_institution, self.institution_id, q=text, request=PageRequest(1, CONTACTS_SHOWN)
            )
            return None if page is None else self._remember(page.items, with_institution=False)
        if len(text) < search.MIN_LENGTH:
            return {}
        page = await call(contacts.list_contacts, q=text, request=PageRequest(1, SEARCH_LIMIT))
        return None if page is None else self._remember(page.items, with_institution=True)

    def _remember(self, rows: Iterable[ContactRow], *, with_institution: bool) -> dict[str, str]:
        found = {}
        for row in rows:
            self._institutions[str(row.id)] = row.institution_id
            detail = row.institution_name if with_institution else row.title
            found[str(row.id)] = " · ".join(p for p in (row.full_name, detail) if p)
        return found


def institution_picker(
    label: str | None = None,
    *,
    value: uuid.UUID | None = None,
    value_label: str | None = None,
    on_change: Callable[..., Any] | None = None,
    clearable: bool = True,
) -> InstitutionPicker:
    """A select of one institution that searches the server as you type (two letters at least).

    `value` and `value_label` show an institution already chosen (editing a record). `on_change`
    receives NiceGUI's value-change event (`event.value` is the id as text, or None); the picker's
    `selected_id` gives it as a UUID. Put the picker in a form's `fields=` mapping to see the
    service's message next to it."""
    return InstitutionPicker(
        label or _("Institution"), value=value, value_label=value_label, on_change=on_change, clearable=clearable
    )


def contact_picker(
    label: str | None = None,
    *,
    institution_id: uuid.UUID | None = None,
    value: uuid.UUID | None = None,
    value_label: str | None = None,
    on_change: Callable[..., Any] | None = None,
    clearable: bool = True,
) -> ContactPicker:
    """A select of one contact, searched on the server as you type.

    With `institution_id` it offers that institution's contacts (the first ones as soon as it opens);
    call `set_institution(...)` when the form's institution changes. Without one it searches all
    contacts by name, and `institution_of(contact_id)` tells which institution the chosen one belongs
    to. `value`/`value_label`, `on_change` and `selected_id` as for `institution_picker`."""
    return ContactPicker(
        label or _("Contact"),
        institution_id=institution_id,
        value=value,
        value_label=value_label,
        on_change=on_change,
        clearable=clearable,
    )


def user_picker(
    users: Iterable[tuple[uuid.UUID, str]],
    label: str | None = None,
    *,
    value: uuid.UUID | None = None,
    on_change: Callable[..., Any] | None = None,
    clearable: bool = False,
) -> ui.select:
    """A select of one user among `users` (id, name) — a list the service bounded already, such as
    `tasks.assignable_users`; typing filters it. The value is the id as text."""
    options = {str(user_id): name for user_id, name in users}
    chosen = str(value) if value is not None and str(value) in options else None
    return show_choice_whole(
        ui.select(
            options, label=label or _("User"), value=chosen, with_input=True, clearable=clearable, on_change=on_change
        )
    )
