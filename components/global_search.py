"""The search box of the header: institutions and contacts as you type; `/` or Ctrl+K (⌘K) focuses it
(components/opex.js)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from components.backend import call
from crm_app.institutions import search
from crm_app.institutions.search import HitKind, SearchHit
from crm_app.platform.i18n import gettext as _

ICONS = {HitKind.INSTITUTION: "apartment", HitKind.CONTACT: "person"}
PATHS = {HitKind.INSTITUTION: "/institutions/{id}", HitKind.CONTACT: "/contacts/{id}"}


def global_search() -> None:
    latest = {"text": ""}

    async def run_search(event: Any) -> None:
        text = (event.value or "").strip() if hasattr(event, "value") else box.value.strip()
        latest["text"] = text
        if len(text) < search.MIN_LENGTH:
            results.clear()
            menu.close()
            return
        hits = await call(search.search_everything, text)
        if hits is None or latest["text"] != text:  # a newer keystroke is already on its way
            return
        show(hits)

    def open_hit(hit: SearchHit) -> None:
        menu.close()
        box.value = ""
        ui.navigate.to(PATHS[hit.kind].format(id=hit.id))

    def show(hits: list[SearchHit]) -> None:
        results.clear()
        with results:
            if not hits:
                ui.item(_("No results")).props("disable").mark("search-empty")
            for hit in hits:
                with (
                    ui.item(on_click=lambda h=hit: open_hit(h))
                    .props("clickable")
                    .mark(f"search-hit search-hit-{hit.kind.value}")
                ):
                    with ui.item_section().props("avatar"):
                        ui.icon(ICONS[hit.kind])
                    with ui.item_section():
                        ui.item_label(hit.title)
                        ui.item_label(hit.subtitle).props("caption")
        menu.open()

    with ui.element("div").classes("relative"):
        box = (
            ui.input(placeholder=_("Search (/)"), on_change=run_search)
            .props(f'dense standout dark clearable debounce=200 aria-label="{_("Search everywhere")}" data-opex-search')
            .classes("w-72")
            .mark("global-search")
        )
        with box.add_slot("prepend"):
            ui.icon("search", color="white")
        with ui.menu().props("no-focus fit no-parent-event") as menu:
            results = ui.list().classes("min-w-80").props("dense")

    # `/` and Ctrl+K (⌘K) are caught by components/opex.js, which finds the box by this attribute.
