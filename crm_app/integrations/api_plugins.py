"""/api/plugins (super administrators): the plugins found, enable or disable one, its settings; and,
under /api/plugins/<name>/, the routes of each enabled plugin (`crm.router`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from crm_app.integrations import plugin_host, plugin_state, plugins
from crm_app.integrations.plugins import PluginSettingsView, PluginView
from crm_app.platform.api.deps import ActorDep, ClientDep, SessionDep
from crm_app.platform.api.routes import area_router
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import N_, gettext, negotiate, use_locale

router = area_router(tags=["plugins"])

NameDep = Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="The plugin's name (its module's)")


class PluginErrorOut(BaseModel):
    at: datetime
    event: str
    message: str


class PluginOut(BaseModel):
    name: str
    version: str
    description: str = Field(description="The plugin's docstring")
    source: str = Field(description="directory (PLUGIN_DIRECTORY) or entry_point (an installed package)")
    location: str
    load_error: str | None = Field(description="Why it could not be imported or set up; None when loaded")
    enabled: bool
    disabled_reason: str | None = Field(description="Why the CRM disabled it (repeated failures), if it did")
    failures_in_a_row: int
    handled_count: int = Field(description="Handler calls that returned in time")
    failed_count: int = Field(description="Handler calls that raised or ran out of time")
    last_event_at: datetime | None
    recent_errors: list[PluginErrorOut] = Field(description="The last few errors, newest first")
    events: list[str] = Field(description='The events it subscribed to ("*": every event)')
    has_settings: bool
    has_page: bool
    has_routes: bool


class PluginSettingsOut(BaseModel):
    name: str
    fields: list[dict[str, Any]] = Field(description="The form: name, kind, label, help, default, bounds, options")
    values: dict[str, Any]
    version: int = Field(description="Send it back with a change; a stale one answers 409")


class PluginSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(description="The settings to change, by name")
    version: int | None = Field(default=None, description="The version read; a stale one answers 409")


def _out(view: PluginView) -> PluginOut:
    reason = gettext(view.disabled_reason, count=view.failures_in_a_row) if view.disabled_reason else None
    return PluginOut(
        name=view.name,
        version=view.version,
        description=view.description,
        source=view.source.value,
        location=view.location,
        load_error=view.load_error,
        enabled=view.is_enabled,
        disabled_reason=reason,
        failures_in_a_row=view.failures_in_a_row,
        handled_count=view.handled_count,
        failed_count=view.failed_count,
        last_event_at=view.last_event_at,
        recent_errors=[PluginErrorOut(at=e.at, event=e.event, message=e.message) for e in view.recent_errors],
        events=list(view.events),
        has_settings=view.has_settings,
        has_page=view.has_page,
        has_routes=view.has_routes,
    )


def _settings_out(view: PluginSettingsView) -> PluginSettingsOut:
    return PluginSettingsOut(name=view.name, fields=list(view.fields), values=view.values, version=view.version)


@router.get("/plugins", response_model=list[PluginOut], description="Every plugin found, with its state.")
def list_plugins(session: SessionDep, actor: ActorDep) -> list[PluginOut]:
    return [_out(view) for view in plugins.list_plugins(session, actor)]


@router.get("/plugins/{name}", response_model=PluginOut)
def get_plugin(session: SessionDep, actor: ActorDep, name: str = NameDep) -> PluginOut:
    return _out(plugins.get_plugin(session, actor, name))


@router.post("/plugins/{name}/enable", response_model=PluginOut, description="Takes effect at once.")
def enable_plugin(session: SessionDep, actor: ActorDep, client: ClientDep, name: str = NameDep) -> PluginOut:
    return _out(plugins.set_plugin_enabled(session, actor, name, True, client=client))


@router.post("/plugins/{name}/disable", response_model=PluginOut, description="Takes effect at once.")
def disable_plugin(session: SessionDep, actor: ActorDep, client: ClientDep, name: str = NameDep) -> PluginOut:
    return _out(plugins.set_plugin_enabled(session, actor, name, False, client=client))


@router.get("/plugins/{name}/settings", response_model=PluginSettingsOut)
def get_plugin_settings(session: SessionDep, actor: ActorDep, name: str = NameDep) -> PluginSettingsOut:
    return _settings_out(plugins.get_plugin_settings(session, actor, name))


@router.patch("/plugins/{name}/settings", response_model=PluginSettingsOut)
def update_plugin_settings(
    request: Request,
    body: PluginSettingsIn,
    *,
    session: SessionDep,
    actor: ActorDep,
    client: ClientDep,
    name: str = NameDep,
) -> PluginSettingsOut:
    # A plugin's own messages are worded when checked: in the language the client asked for.
    with use_locale(negotiate(request.headers.get("accept-language"))):
        view = plugins.update_plugin_settings(
            session, actor, name, body.values, expected_version=body.version, client=client
        )
    return _settings_out(view)


def _is_enabled(name: str) -> bool:
    with unit_of_work() as session:
        return plugin_state.is_enabled(session, name)


async def plugin_routes(scope: Scope, receive: Receive, send: Send) -> None:
    """The routes of the plugin named in the path, while it is loaded and enabled; 404 otherwise (in
    the API's error shape, like any unknown path)."""
    name = str(scope.get("path_params", {}).get("name", ""))
    plugin = plugin_host.find(name)
    if (
        plugin is None
        or not plugin.is_loaded
        or not plugin.router.routes
        or not await run_in_threadpool(_is_enabled, name)
    ):
        raise NotFound(N_("No such API endpoint."))
    # The plugin's own messages in the language the client asked for (the worker threads inherit it).
    with use_locale(negotiate(Headers(scope=scope).get("accept-language"))):
        await plugin.router(scope, receive, send)


# After the CRM's own paths above: /api/plugins/<name>/enable is never a plugin's.
router.mount("/plugins/{name}", app=plugin_routes, name="plugin_routes")
