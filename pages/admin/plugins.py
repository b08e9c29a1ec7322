"""/admin/plugins (super administrators, "settings.system"): the plugins found, with their version,
description, source, state, counters and recent errors; enable or disable one at once. And
/admin/plugins/<name>: one plugin, its settings form (from the schema it declared) and its own page."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from nicegui import ui

from components.backend import call, current_actor
from components.shell import app_page, not_found, set_title
from crm_app.integrations import plugin_host, plugins
from crm_app.integrations.plugin_host import Crm, Source
from crm_app.integrations.plugins import PluginSettingsView, PluginView
from crm_app.platform.config import get_settings
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import N_, format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor

log = logging.getLogger(__name__)
T = TypeVar("T")
PATH = "/admin/plugins"
RIGHT = plugins.RIGHT

SOURCE_LABELS = {Source.DIRECTORY: N_("Plugin directory"), Source.ENTRY_POINT: N_("Installed package")}


@dataclass(frozen=True)
class PluginPage:
    """What a plugin's page builder receives (`crm.page(title, builder)`; docs/plugins.md): the viewer,
    the plugin's `crm`, and `call`, the one way to reach the services from a page: `await
    page.call(fn, *args, fields={...})` runs `fn(session, actor, *args)` off the event loop as the viewer
    and gives its result, or None once the error was shown (next to the field named in `fields`)."""

    actor: Actor
    crm: Crm

    def call(
        self, fn: Callable[..., T], *args: Any, fields: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Coroutine[Any, Any, T | None]:
        return call(fn, *args, fields=fields, **kwargs)


def _when(value: Any) -> str:
    return format_datetime(value, get_settings().timezone, style="short")


def _state_badge(view: PluginView) -> None:
    if not view.is_loaded:
        ui.badge(_("Not loaded"), color="negative").mark(f"plugin-state-{view.name}")
    elif view.is_enabled:
        ui.badge(_("Enabled"), color="positive").mark(f"plugin-state-{view.name}")
    else:
        ui.badge(_("Disabled"), color="grey").mark(f"plugin-state-{view.name}")


def _figures(view: PluginView) -> None:
    with ui.row().classes("items-center gap-4 text-caption"):
        ui.label(_("Events handled: {count}", count=view.handled_count)).mark(f"plugin-handled-{view.name}")
        ui.label(_("Failures: {count}", count=view.failed_count)).mark(f"plugin-failed-{view.name}")
        if view.last_event_at is not None:
            ui.label(_("Last event: {when}", when=_when(view.last_event_at)))
    if view.disabled_reason and not view.is_enabled:
        ui.label(_(view.disabled_reason, count=view.failures_in_a_row)).classes("text-negative").mark(
            f"plugin-disabled-reason-{view.name}"
        )
    if view.load_error:
        ui.label(_("Could not be loaded: {error}", error=view.load_error)).classes("text-negative").mark(
            f"plugin-load-error-{view.name}"
        )
    if view.recent_errors:
        with (
            ui.expansion(_("Recent errors ({count})", count=len(view.recent_errors)))
            .classes("w-full")
            .mark(f"plugin-errors-{view.name}")
        ):
            for error in view.recent_errors:
                with ui.column().classes("gap-0 q-mb-sm"):
                    ui.label(f"{_when(error.at)} · {error.event}").classes("text-caption text-grey-7")
                    ui.label(error.message).classes("text-body2")


class PluginList:
    """The list, drawn again from the service after each change."""

    def __init__(self) -> None:
        self.column = ui.column().classes("w-full gap-3").mark("plugins")

    async def refresh(self) -> None:
        with self.column:
            found = await call(plugins.list_plugins)
        if found is None or self.column.is_deleted:
            return
        self.column.clear()
        with self.column:
            if not found:
                ui.label(
                    _(
                        "No plugin found. Drop one in the folder named by PLUGIN_DIRECTORY, or install a package "
                        "declaring an opex_crm.plugins entry point, then restart."
                    )
                ).classes("text-grey-7").mark("plugins-none")
            for view in found:
                self._card(view)

    def _card(self, view: PluginView) -> None:
        with ui.card().classes("w-full").mark(f"plugin-{view.name}"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.link(view.name, f"{PATH}/{view.name}").classes("text-h6").mark(f"plugin-link-{view.name}")
                if view.version:
                    ui.label(view.version).classes("text-caption text-grey-7")
                _state_badge(view)
                ui.badge(_(SOURCE_LABELS[view.source]), color="blue-grey").props("outline")
                ui.space()
                switch = ui.switch(_("Enabled"), value=view.is_enabled).mark(f"plugin-enabled-{view.name}")
                if not view.is_loaded:
                    switch.disable()
                switch.on_value_change(lambda event, v=view: self.set_enabled(v, bool(event.value)))
            if view.summary:
                ui.label(view.summary).classes("text-body2")
            _figures(view)

    async def set_enabled(self, view: PluginView, enabled: bool) -> None:
        if enabled == view.is_enabled:
            return
        with self.column:
            changed = await call(plugins.set_plugin_enabled, view.name, enabled)
            if changed is not None:
                ui.notify(_("Plugin enabled.") if changed.is_enabled else _("Plugin disabled."), type="positive")
        await self.refresh()


@app_page(PATH, title=N_("Plugins"), icon="extension", in_navigation=True, order=96, permission=RIGHT)
async def plugins_page() -> None:
    ui.label(
        _(
            "Python modules that extend the CRM: they receive its events after they happen, and may add "
            "settings, a page and API routes. Enable only the plugins you trust."
        )
    ).classes("text-caption text-grey-7")
    listing = PluginList()
    await listing.refresh()


# --------------------------------------------------------------------------------------------
# One plugin


def _field_input(field: dict[str, Any], value: Any) -> Any:
    name, label, kind = field["name"], field["label"], field["kind"]
    marker = f"setting-{name}"
    if kind == "boolean":
        element: Any = ui.switch(label, value=bool(value))
    elif kind == "choice":
        element = ui.select(field["options"], label=label, value=value).props("outlined dense").classes("w-80")
    elif kind == "integer":
        element = ui.number(label, value=value, precision=0, min=field.get("minimum"), max=field.get("maximum"))
        element.props("outlined dense").classes("w-80")
    else:
        element = ui.input(label, value=value or "").props(f"outlined dense maxlength={field.get('max_length') or 200}")
        element.classes("w-80")
    element.mark(marker)
    if field.get("help"):
        ui.label(field["help"]).classes("text-caption text-grey-7")
    return element


class SettingsForm:
    def __init__(self, name: str, view: PluginSettingsView) -> None:
        self.name = name
        self.version = view.version
        self.inputs: dict[str, Any] = {}
        with ui.card().classes("w-full").mark("plugin-settings"):
            ui.label(_("Settings")).classes("text-h6")
            for field in view.fields:
                self.inputs[field["name"]] = _field_input(field, view.values.get(field["name"]))
            ui.button(_("Save"), icon="save", on_click=self.save).props("unelevated no-caps").mark(
                "plugin-settings-save"
            )

    async def save(self) -> None:
        values = {name: element.value for name, element in self.inputs.items()}
        saved = await call(
            plugins.update_plugin_settings, self.name, values, expected_version=self.version, fields=self.inputs
        )
        if saved is not None:
            self.version = saved.version
            ui.notify(_("Settings saved."), type="positive")


async def _plugin_page(plugin_name: str, view: PluginView) -> None:
    plugin = plugin_host.find(plugin_name)
    if plugin is None or plugin.page_builder is None or plugin.crm is None:
        return
    if view.page_title:
        ui.label(view.page_title).classes("text-h6 q-mt-md")
    with ui.column().classes("w-full").mark("plugin-page"):
        try:
            result = plugin.page_builder(PluginPage(actor=current_actor(), crm=plugin.crm))
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            log.exception("plugin %s: its page failed", plugin_name, extra={"plugin": plugin_name})
            error = f"{type(exc).__name__}: {exc}"
            ui.label(_("This plugin's page failed: {error}", error=error)).classes("text-negative").mark(
                "plugin-page-error"
            )


@app_page(f"{PATH}/{{plugin_name}}", title=N_("Plugin"), permission=RIGHT, parent=PATH)
async def plugin_page(plugin_name: str) -> None:
    view = await call(plugins.get_plugin, plugin_name, on_error={NotFound: lambda _error: None})
    if view is None:
        not_found()
        return
    set_title(view.name)
    with ui.card().classes("w-full").mark(f"plugin-{view.name}"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(view.name).classes("text-h6")
            if view.version:
                ui.label(view.version).classes("text-caption text-grey-7")
            _state_badge(view)
            ui.badge(_(SOURCE_LABELS[view.source]), color="blue-grey").props("outline")
        for paragraph in view.description.split("\n\n"):
            if paragraph.strip():
                ui.label(" ".join(paragraph.split())).classes("text-body2")
        if view.events:
            ui.label(_("Events: {names}", names=", ".join(view.events))).classes("text-caption")
        if view.has_routes:
            path = f"/api/plugins/{view.name}/"
            ui.label(_("API routes under {path}", path=path)).classes("text-caption")
        _figures(view)
    if view.has_settings:
        settings = await call(plugins.get_plugin_settings, plugin_name)
        if settings is not None:
            SettingsForm(plugin_name, settings)
    if view.has_page and view.is_loaded:
        if view.is_enabled:
            await _plugin_page(plugin_name, view)
        else:
            ui.label(_("Enable the plugin to use its page.")).classes("text-grey-7").mark("plugin-page-disabled")
