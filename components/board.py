"""A board of cards in columns (tasks by status, and any other record by its stage): drag a card to
another column, or use its menu (touch screens and keyboards). The board draws what its screen
loaded (one page of cards per column, with the column's total) and hands each move to the screen,
which saves it through its service and reloads; the card moves at once meanwhile (unless the move
needs the user's word first: a lost sale's reason). A screen that can read a column's next page
gets a "Show more" button under each column that holds more cards than it shows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nicegui import ui

from crm_app.platform.i18n import gettext as _

K = TypeVar("K", bound=Hashable)  # what a column stands for (a status, a stage)
R = TypeVar("R")  # a card's row

#: The card being dragged travels in the browser's drag data: no round trip when the drag starts.
DRAG_START = "(e) => { e.dataTransfer.setData('text/plain', '{id}'); e.dataTransfer.effectAllowed = 'move'; }"
DRAG_OVER = "(e) => { e.preventDefault(); e.currentTarget.classList.add('bg-blue-1'); }"
DRAG_LEAVE = "(e) => e.currentTarget.classList.remove('bg-blue-1')"
DROP = (
    "(e) => { e.preventDefault(); e.currentTarget.classList.remove('bg-blue-1'); "
    "emit(e.dataTransfer.getData('text/plain')); }"
)


@dataclass(frozen=True)
class Column(Generic[K, R]):
    """One column as the screen loaded it: its key, title (translated), colour, the total of cards in
    it over the whole filter, and the page of cards shown."""

    key: K
    title: str
    color: str
    total: int
    cards: Sequence[R]
    summary: str | None = None  # a line under the title (sums, for instance)


def card_id_of(args: Any) -> uuid.UUID | None:
    """The id a drop event carries (the drag data), or None when it is not one."""
    if isinstance(args, list):
        args = args[0] if args else None
    try:
        return uuid.UUID(str(args)) if args else None
    except ValueError:
        return None


class Board(Generic[K, R]):
    """`draw_card(row)` draws a card's content; `on_move(card_id, key)` saves a move. `marker`
    names the board; its columns are marked `board-column-{key}` and their counts `board-count-{key}`
    (one board per screen)."""

    def __init__(
        self,
        *,
        marker: str,
        row_id: Callable[[R], uuid.UUID],
        can_move: Callable[[R], bool],
        draw_card: Callable[[R], None],
        on_move: Callable[[uuid.UUID, K], Awaitable[None]],
        move_label: str,
        move_to: Callable[[Column[K, R]], str],
        card_marker: Callable[[R], str],
        more_text: Callable[[int, int], str],
        load_more: Callable[[K, int], Awaitable[Sequence[R] | None]] | None = None,
        moves_at_once: Callable[[K], bool] | None = None,
    ) -> None:
        """`load_more(key, shown)` reads the column's next page (the cards after the `shown` first);
        `moves_at_once(key)` says whether a card dropped on that column moves before the screen has
        saved the move (by default it does)."""
        self._marker, self._row_id, self._can_move = marker, row_id, can_move
        self._draw_card, self._on_move, self._move_label, self._move_to = draw_card, on_move, move_label, move_to
        self._card_marker, self._more_text = card_marker, more_text
        self._load_more, self._moves_at_once = load_more, moves_at_once
        self._columns: list[Column[K, R]] = []
        self._cards: dict[uuid.UUID, ui.card] = {}
        self._column_elements: dict[K, ui.column] = {}
        self._footers: dict[K, ui.element] = {}
        self._shown: dict[K, int] = {}
        self._rows: dict[uuid.UUID, tuple[R, K]] = {}
        self.element = ui.row().classes("w-full no-wrap items-start gap-3 overflow-x-auto").mark(marker)

    def show(self, columns: Sequence[Column[K, R]]) -> None:
        """Draw these columns in place of the previous ones."""
        self._columns = list(columns)
        self.element.clear()
        self._cards.clear()
        self._column_elements.clear()
        self._footers.clear()
        self._shown = {column.key: len(column.cards) for column in columns}
        self._rows = {self._row_id(row): (row, column.key) for column in columns for row in column.cards}
        with self.element:
            for column in columns:
                self._column(column)

    def _column(self, column: Column[K, R]) -> None:
        key = getattr(column.key, "value", column.key)
        with ui.card().props("flat bordered").classes("min-w-64 w-72 bg-grey-1 q-pa-sm"):
            with ui.row().classes("w-full items-center no-wrap"):
                ui.badge(color=column.color).props("rounded")
                ui.label(column.title).classes("text-subtitle2")
                ui.space()
                ui.label(str(column.total)).classes("text-grey-7").props(f'data-count="{key}"').mark(
                    f"board-count-{key}"
                )
            if column.summary:
                ui.label(column.summary).classes("text-caption text-grey-8").props(f'data-summary="{key}"').mark(
                    f"board-summary-{key}"
                )
            element = (
                ui.column()
                .classes("w-full gap-2 min-h-24 rounded-borders")
                .props(f'data-column="{key}"')  # what a browser test drops a card on
                .mark(f"board-column-{key}")
            )
            element.on("dragover", js_handler=DRAG_OVER)
            element.on("dragleave", js_handler=DRAG_LEAVE)
            element.on("drop", lambda e, k=column.key: self._dropped(k, e.args), js_handler=DROP)
            self._column_elements[column.key] = element
            with element:
                for row in column.cards:
                    self._card(row)
            self._footers[column.key] = ui.column().classes("w-full gap-1 items-center")
            self._footer(column)

    def _footer(self, column: Column[K, R]) -> None:
        """Under a column: how many of its cards are shown, and the button for the next page."""
        footer = self._footers[column.key]
        footer.clear()
        shown = self._shown.get(column.key, 0)
        if column.total <= shown:
            return
        key = getattr(column.key, "value", column.key)
        with footer:
            ui.label(self._more_text(shown, column.total)).classes("text-caption text-grey-7").mark(
                f"board-shown-{key}"
            )
            if self._load_more is not None:
                ui.button(_("Show more"), icon="expand_more", on_click=lambda c=column: self.more(c.key)).props(
                    "flat dense no-caps"
                ).mark(f"board-more-{key}")

    async def more(self, key: K) -> None:
        """Add the column's next page of cards under those shown."""
        column = next((c for c in self._columns if c.key == key), None)
        if column is None or self._load_more is None:
            return
        rows = await self._load_more(key, self._shown.get(key, 0))
        element = self._column_elements.get(key)
        if rows is None or element is None or element.is_deleted:
            return
        with element:
            for row in rows:
                if self._row_id(row) not in self._rows:
                    self._rows[self._row_id(row)] = (row, key)
                    self._card(row)
        self._shown[key] = self._shown.get(key, 0) + len(rows)
        self._footer(column)

    def _card(self, row: R) -> None:
        movable = self._can_move(row)
        with (
            ui.card()
            .props("flat bordered" + (" draggable" if movable else ""))
            .classes("w-full q-pa-sm gap-1" + (" cursor-move" if movable else ""))
            .mark(self._card_marker(row)) as card
        ):
            if movable:
                card.on("dragstart", js_handler=DRAG_START.replace("{id}", str(self._row_id(row))))
            self._draw_card(row)
        self._cards[self._row_id(row)] = card

    def move_menu(self, row: R) -> None:
        """The card's menu of moves (for `draw_card` to place where it fits the card)."""
        current = self._rows.get(self._row_id(row), (row, None))[1]
        with ui.button(icon="more_vert").props(f'flat round dense size=sm aria-label="{self._move_label}"'), ui.menu():
            for column in self._columns:
                if column.key != current:
                    key = getattr(column.key, "value", column.key)
                    ui.menu_item(
                        self._move_to(column), on_click=lambda k=column.key, r=row: self.move(self._row_id(r), k)
                    ).mark(f"board-move-{self._row_id(row)}-{key}")

    async def _dropped(self, key: K, args: Any) -> None:
        card_id = card_id_of(args)
        if card_id is not None:
            await self.move(card_id, key)

    async def move(self, card_id: uuid.UUID, key: K) -> None:
        """Move a card: at once on the screen, then through the screen's service (whose reload puts
        the card where the database says: back, if the move was refused)."""
        found = self._rows.get(card_id)
        if found is None or found[1] == key:
            return
        card, column = self._cards.get(card_id), self._column_elements.get(key)
        at_once = self._moves_at_once is None or self._moves_at_once(key)
        if card is not None and column is not None and at_once:
            card.move(column)
        await self._on_move(card_id, key)


def more_cards_text(shown: int, total: int) -> str:
    """The line under a column that shows one page of its cards."""
    return _("{shown} of {total} shown: narrow the filters to see the others.", shown=shown, total=total)


def paged_cards_text(shown: int, total: int) -> str:
    """The line under a column whose next cards come with "Show more"."""
    return _("{shown} of {total} shown", shown=shown, total=total)
