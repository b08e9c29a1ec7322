"""A table whose paging and sorting happen in SQL: it asks for one page at a time.

A wide list names itself (`list_key`): its user then picks the columns shown, remembered per user and
per list in the database (crm_app.accounts.list_columns), and the list starts with the columns its
screen puts first, so that its amounts are in view on a 1440 px screen. The first column stays in
place when the table scrolls sideways (components/opex.css). Amounts are right-aligned in tabular
figures (`MONEY`); long texts wrap rather than widen the table (`WRAP`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from nicegui import background_tasks, ui

from components.backend import call
from crm_app.accounts import list_columns
from crm_app.platform.i18n import gettext as _
from crm_app.platform.paging import PAGE_SIZES, Page, PageRequest

#: A column of amounts: right-aligned, tabular figures, never broken over two lines.
MONEY: dict[str, Any] = {"align": "right", "classes": "opex-money", "headerClasses": "opex-money"}
#: A column of long texts (names, titles): they wrap within the column instead of widening the table.
WRAP: dict[str, Any] = {"classes": "opex-wrap", "headerClasses": "opex-wrap"}


@dataclass
class TableState:
    page: int = 1
    page_size: int = 25
    sort: str | None = None
    descending: bool = False


Loader = Callable[[TableState], Awaitable[tuple[list[dict[str, Any]], int] | None]]


def set_unobserved(element: ui.element, name: str, value: list[Any]) -> None:
    """Set the prop `name` to `value` as it is, not wrapped in NiceGUI's observable collections
    (`Props` is a dict; its `__setitem__` is what wraps).

    NiceGUI wraps every list and dict put in an element's props (recursively) so that a change made
    in place is sent to the browser: for a page of 25 rows that is 26 observable collections, each with
    its change handlers and parent reference, held by every open tab (about 24 KiB a tab on the
    institutions list; issue 20, bench/README.md "Memory per tab"). The table's rows and columns are
    only ever replaced whole here, never changed in place, so they need no observing: the caller sends
    them with `update()`, which serialises plain lists and dicts as it does observable ones."""
    dict.__setitem__(element.props, name, value)


class PagedTable:
    """`ui.table` in server-side mode: `load(state)` returns one page of rows and the total."""

    def __init__(
        self,
        columns: list[dict[str, Any]],
        load: Loader,
        *,
        row_key: str = "id",
        selection: str | None = None,
        state: TableState | None = None,
        list_key: str | None = None,
        hidden: Collection[str] = (),
    ) -> None:
        """`list_key` names the list for the column chooser (None: no chooser); `hidden` are the columns
        it hides until the user shows them. The first column is always shown."""
        self.state = state or TableState()
        self._load = load
        self.list_key = list_key
        columns = [dict(column) for column in columns]
        if columns:
            columns[0]["required"] = True  # Quasar keeps it whatever the visible columns say
        self.columns = columns
        self.default_visible = [c["name"] for c in columns if c["name"] not in hidden]
        self._chosen_here = False
        self._saving = False  # a save of the column choice is running
        self._to_save: list[str] | None = None  # the latest choice not yet sent
        self.table = (
            ui.table(
                columns=columns,
                rows=[],
                row_key=row_key,
                selection=selection,  # type: ignore[arg-type]
                pagination={
                    "page": self.state.page,
                    "rowsPerPage": self.state.page_size,
                    "rowsNumber": 0,
                    "sortBy": self.state.sort,
                    "descending": self.state.descending,
                },
            )
            .props(f':rows-per-page-options="{list(PAGE_SIZES)}" flat bordered binary-state-sort')
            .classes("w-full opex-table" + (" opex-table--select" if selection else ""))
        )
        # The table's columns are `self.columns` itself (no column defaults are set: NiceGUI keeps them as
        # given), not a second copy per tab.
        set_unobserved(self.table, "columns", self.columns)
        set_unobserved(self.table, "rows", [])
        self.chooser: ui.select | None = None
        self.columns_read: asyncio.Task[tuple[str, ...] | None] | None = None
        if list_key is not None:
            self.table.props["visible-columns"] = self.default_visible
            with self.table.add_slot("top-right"):
                self.chooser = (
                    ui.select(
                        {c["name"]: c["label"] for c in columns[1:]},
                        multiple=True,
                        value=[name for name in self.default_visible if name != columns[0]["name"]],
                        on_change=self._on_choose,
                    )
                    .props(f'dense outlined options-dense display-value="{_("Columns")}"')
                    .classes("w-40")
                    .mark("column-chooser")
                )
                # A checkbox per column says which are shown (the click on the row toggles it).
                self.chooser.add_slot(
                    "option",
                    r"""
                    <q-item v-bind="props.itemProps">
                      <q-item-section side>
                        <q-checkbox :model-value="props.selected" dense tabindex="-1" style="pointer-events: none" />
                      </q-item-section>
                      <q-item-section><q-item-label>{{ props.opt.label }}</q-item-label></q-item-section>
                    </q-item>""",
                )
            # Its options are set once, never changed in place: no need to observe them either.
            set_unobserved(self.chooser, "options", [dict(option) for option in self.chooser.props["options"]])
            # The user's choice is read beside the screen's first page, and shown when it arrives.
            self.columns_read = background_tasks.create(
                call(list_columns.visible_columns, list_key), name=f"columns of {list_key}"
            )
            self.columns_read.add_done_callback(self._restore_columns)
        self.table.on("request", self._on_request)
        self.table.on_pagination_change(self._keep_total)
        self._total = 0

    def _keep_total(self, _event: Any) -> None:
        # Quasar reports its pagination back when it mounts, with the total it knew then (0): the
        # server's count stays authoritative.
        if self.table.pagination.get("rowsNumber") != self._total:
            self.table.pagination = {**self.table.pagination, "rowsNumber": self._total}
            self.table.update()

    async def _on_request(self, event: Any) -> None:
        pagination = event.args["pagination"]
        self.state.page = int(pagination.get("page") or 1)
        self.state.page_size = int(pagination.get("rowsPerPage") or 25)
        self.state.sort = pagination.get("sortBy")
        self.state.descending = bool(pagination.get("descending"))
        await self.refresh()

    @property
    def visible_columns(self) -> list[str]:
        """The names of the columns shown, in the list's order."""
        shown = self.table.props.get("visible-columns")
        return [c["name"] for c in self.columns if shown is None or c.get("required") or c["name"] in shown]

    def _show_columns(self, names: Collection[str]) -> None:
        known = {c["name"] for c in self.columns}
        chosen = [c["name"] for c in self.columns if c["name"] in names and c["name"] in known]
        self.table.props["visible-columns"] = chosen
        self.table.update()
        if self.chooser is not None:
            self.chooser.set_value([name for name in chosen if name != self.columns[0]["name"]])

    def _restore_columns(self, reading: asyncio.Task[tuple[str, ...] | None]) -> None:
        """Show the columns the user chose for this list, once read (unless they already chose again)."""
        if reading.cancelled() or reading.exception() is not None or self._chosen_here or self.table.is_deleted:
            return
        chosen = reading.result()
        if chosen is not None:
            self._show_columns(chosen)

    async def _on_choose(self, event: Any) -> None:
        chosen = [self.columns[0]["name"], *(event.value or [])]
        if chosen == self.visible_columns:
            return
        self._chosen_here = True
        self._show_columns(chosen)
        if self.list_key is not None:
            self._to_save = self.visible_columns
            await self._save_choice(self.list_key)

    async def _save_choice(self, list_key: str) -> None:
        """One save at a time, always of the latest choice: the clicks made during a save are sent as one
        save after it, so that an earlier choice never lands after a later one."""
        if self._saving:
            return  # the running save sends the latest choice once done
        self._saving = True
        try:
            while self._to_save is not None:
                columns, self._to_save = self._to_save, None
                await call(list_columns.save_visible_columns, list_key, columns)
        finally:
            self._saving = False

    async def refresh(self, *, first_page: bool = False) -> None:
        if first_page:
            self.state.page = 1
        self.table.props("loading")
        try:
            result = await self._load(self.state)
        finally:
            self.table.props(remove="loading")
        if result is not None:
            self.show(result)

    def show(self, result: tuple[list[dict[str, Any]], int]) -> None:
        """Display one page already loaded (the screen may read it alongside other data)."""
        rows, total = result
        self._total = total
        set_unobserved(self.table, "rows", rows)
        self.table.pagination = {
            "page": self.state.page,
            "rowsPerPage": self.state.page_size,
            "rowsNumber": total,
            "sortBy": self.state.sort,
            "descending": self.state.descending,
        }
        self.table.selected = []
        self.table.update()

    def describe_total(self, text: str | None) -> None:
        """Words for the pager's total instead of its figure ("1-25 · About 980,000 institutions"), for a
        total that is an estimate; None: the figure again."""
        if text is None:
            self.table.props(remove=":pagination-label")
        else:
            self.table.props[":pagination-label"] = f"(first, last) => `${{first}}-${{last}} · ` + {json.dumps(text)}"
        self.table.update()


def page_request(state: TableState) -> PageRequest:
    return PageRequest(state.page, state.page_size)


def rows_of(page: Page[Any], convert: Callable[[Any], dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    return [convert(item) for item in page.items], page.total
