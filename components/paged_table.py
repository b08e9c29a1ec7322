"""A table whose paging and sorting happen in SQL: it asks for one page at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from crm_app.platform.paging import PAGE_SIZES, Page, PageRequest


@dataclass
class TableState:
    page: int = 1
    page_size: int = 25
    sort: str | None = None
    descending: bool = False


Loader = Callable[[TableState], Awaitable[tuple[list[dict[str, Any]], int] | None]]


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
    ) -> None:
        self.state = state or TableState()
        self._load = load
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
            .classes("w-full")
        )
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
        self.table.rows = rows
        self.table.pagination = {
            "page": self.state.page,
            "rowsPerPage": self.state.page_size,
            "rowsNumber": total,
            "sortBy": self.state.sort,
            "descending": self.state.descending,
        }
        self.table.selected = []
        self.table.update()


def page_request(state: TableState) -> PageRequest:
    return PageRequest(state.page, state.page_size)


def rows_of(page: Page[Any], convert: Callable[[Any], dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    return [convert(item) for item in page.items], page.total
