"""A button's menu built the first time it is clicked, not with the page.

Each element costs every connected tab about 3.5 KiB of server memory (issue 20, `bench/tabs.py`); a
menu of two entries is six elements (the menu, each entry and its section), and most tabs never open
most menus. The first click builds the menu under its button and opens it, one round trip later, as
any server action; from then on Quasar opens and closes it in the browser, as an eager menu."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui


class LazyMenu:
    def __init__(self, button: ui.button, build: Callable[[], None], *, props: str = "") -> None:
        self.button = button
        self.build = build
        self.props = props
        self.menu: ui.menu | None = None
        button.on_click(self.open)

    def open(self) -> None:
        if self.menu is not None:
            return  # Quasar toggles a built menu on its button's click
        with self.button:
            self.menu = ui.menu().props(self.props)
            with self.menu:
                self.build()
        self.menu.open()


def lazy_menu(button: ui.button, build: Callable[[], None], *, props: str = "") -> ui.button:
    """`button` with the menu `build` makes (in the menu's context) when it is first clicked."""
    LazyMenu(button, build, props=props)
    return button
