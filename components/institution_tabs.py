"""The tab bar of an institution page. Each area plugs its tab in with `institution_tab(...)`:
this issue brings Overview, Contacts and History; activities, quotes and invoices add theirs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from crm_app.platform.i18n import gettext as _

TabBuilder = Callable[[Any], Awaitable[None] | None]  # receives the InstitutionDetail


@dataclass(frozen=True)
class TabSpec:
    name: str
    label: str  # message id
    icon: str
    order: int
    builder: TabBuilder


TABS: dict[str, TabSpec] = {}


def institution_tab(name: str, *, label: str, icon: str, order: int) -> Callable[[TabBuilder], TabBuilder]:
    def decorator(builder: TabBuilder) -> TabBuilder:
        TABS[name] = TabSpec(name, label, icon, order, builder)
        return builder

    return decorator


async def tab_bar(detail: Any, selected: str | None = None, *, path: str | None = None) -> None:
    """The tabs in order; each panel is built the first time it is opened. With `path`, the open tab
    follows in the URL (`path?tab=name`), so that a reload or a shared link opens the same tab."""
    specs = sorted(TABS.values(), key=lambda spec: spec.order)
    if not specs:
        return
    first = selected if selected in TABS else specs[0].name
    built: set[str] = set()
    panels_by_name: dict[str, ui.tab_panel] = {}

    async def build(name: str) -> None:
        if name in built:
            return
        built.add(name)
        with panels_by_name[name]:
            result = TABS[name].builder(detail)
            if result is not None:
                await result

    async def on_change(event: Any) -> None:
        if path is not None:
            ui.navigate.history.replace(path if event.value == specs[0].name else f"{path}?tab={event.value}")
        await build(event.value)

    with ui.tabs(on_change=on_change).classes("w-full").props("align=left dense") as tabs:
        tab_elements = {
            spec.name: ui.tab(spec.name, label=_(spec.label), icon=spec.icon).mark(f"tab-{spec.name}") for spec in specs
        }
    tabs.value = tab_elements[first]
    with ui.tab_panels(tabs, value=tab_elements[first]).classes("w-full"):
        for spec in specs:
            panels_by_name[spec.name] = ui.tab_panel(spec.name)
    await build(first)
