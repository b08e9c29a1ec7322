"""Finding plugins and the object they are set up with.

A plugin is a Python module or package, found in `PLUGIN_DIRECTORY` (a `name.py` file or a `name/`
folder with an `__init__.py`) or installed with an entry point in the `opex_crm.plugins` group. It
exposes `setup(crm)`; its docstring describes it and its `__version__` versions it. `setup` receives a
`Crm` (below, documented in docs/plugins.md): the plugin's whole contract with the CRM, versioned by
`API_VERSION`. A plugin that fails to import or to set up is kept in the list with its error and
never receives anything; it never stops the CRM from starting.

Importing a plugin runs its code: only an administrator of the server decides what is installed or
dropped in the directory; the super administrators then enable each one (`PLUGIN_AUTO_ENABLE`).
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import re
import sys
import threading
import traceback
import types
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter

from crm_app.integrations import plugin_state
from crm_app.integrations.plugin_settings import SettingField, SettingsSchema, Words, words
from crm_app.platform.api import deps
from crm_app.platform.api.routes import area_router
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Forbidden
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor, Scope, authorize, scope_for

log = logging.getLogger(__name__)

#: The version of the contract below. The minor number grows when something is added; the major one
#: when something a plugin may use changes or goes (a plugin can check `crm.api_version`).
API_VERSION = "1.0"
ENTRY_POINT_GROUP = "opex_crm.plugins"
#: `crm.on(ANY_EVENT, handler)`: every event.
ANY_EVENT = "*"
#: The package the modules found in PLUGIN_DIRECTORY are imported under (`opex_crm_plugins.<name>`).
DIRECTORY_PACKAGE = "opex_crm_plugins"

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

T = TypeVar("T")
Handler = Callable[[dict[str, Any]], Any]
"""An event handler: receives the event's body (a dict: id, event, occurred_at, actor, data)."""
PageBuilder = Callable[[Any], Awaitable[None] | None]
"""Builds the plugin's page with NiceGUI; receives a `pages.admin.plugins.PluginPage`."""


#: The annotation of a plugin route's parameter that receives the user behind the request's bearer token
#: (`def route(actor: RequestActor)`); 401 without a valid token. Import it at the top of the plugin's
#: module: FastAPI resolves annotations in the module's globals.
RequestActor = deps.ActorDep


class Source(StrEnum):
    DIRECTORY = "directory"
    ENTRY_POINT = "entry_point"


@dataclass
class Plugin:
    """One plugin found: what it is, where it came from, and what its setup registered."""

    name: str
    source: Source
    location: str  # the file or folder, or the entry point ("module:object" of a distribution)
    version: str = ""
    description: str = ""
    error: str | None = None  # why it could not be imported or set up
    handlers: dict[str, list[Handler]] = field(default_factory=dict)
    schema: SettingsSchema | None = None
    page_title: Words | None = None
    page_builder: PageBuilder | None = None
    router: APIRouter = field(default_factory=area_router)
    crm: Crm | None = None

    @property
    def is_loaded(self) -> bool:
        return self.error is None

    @property
    def summary(self) -> str:
        """The docstring's first paragraph, on one line."""
        return " ".join(self.description.split("\n\n", 1)[0].split())

    def handlers_for(self, event: str) -> list[Handler]:
        return [*self.handlers.get(event, []), *self.handlers.get(ANY_EVENT, [])]


class Crm:
    """What a plugin's `setup(crm)` receives: the plugin's contract with the CRM (`api_version`).

    Subscribe to events (`on`), declare settings (`settings`, read with `setting`), a page
    (`page`, at /admin/plugins/<name>) and API routes (`router`, under /api/plugins/<name>/), read
    through the CRM's services (`read`), check rights (`authorize`), log (`log`)."""

    api_version = API_VERSION
    #: FastAPI dependency for the plugin's routes: the user behind the request's bearer token
    #: (`actor: Annotated[Actor, Depends(crm.current_actor)]`); 401 without a valid one.
    current_actor = staticmethod(deps.current_actor)

    def __init__(self, plugin: Plugin) -> None:
        self._plugin = plugin
        self.log = logging.getLogger(f"opex_crm.plugins.{plugin.name}")

    @property
    def name(self) -> str:
        return self._plugin.name

    @property
    def router(self) -> APIRouter:
        """The plugin's API routes, served under /api/plugins/<name>/ while the plugin is enabled
        (`@crm.router.get("/fec")` answers GET /api/plugins/<name>/fec). `enable`, `disable` and
        `settings` are the CRM's own paths there."""
        return self._plugin.router

    def on(self, event: str, handler: Handler) -> None:
        """Call `handler(body)` for each `event` ("invoice.issued"; "*" for every event) published after
        its transaction committed, in a worker thread, with a time limit (see docs/plugins.md)."""
        if event != ANY_EVENT and not EVENT_NAME.match(event):
            raise ValueError(f"not an event name: {event!r} (e.g. 'invoice.issued', or '*')")
        if not callable(handler):
            raise TypeError("the handler must be callable")
        self._plugin.handlers.setdefault(event, []).append(handler)

    def settings(self, *fields: SettingField) -> None:
        """Declare the plugin's settings form (Text, Integer, Choice, Boolean fields, in order)."""
        self._plugin.schema = SettingsSchema(tuple(fields))

    def setting(self, name: str) -> Any:
        """The value of one setting: what a super administrator saved, else the field's default.
        Reads the database: call it from a handler, a route or `read`, not on the page's event loop."""
        if self._plugin.schema is None:
            raise KeyError(name)
        declared = self._plugin.schema.field(name)
        with unit_of_work() as session:
            row = plugin_state.get_state(session, self.name)
            stored = dict(row.settings or {}) if row is not None else {}
        return stored.get(name, declared.default_value)

    def setting_values(self) -> dict[str, Any]:
        """Every setting's value (saved, else the default)."""
        if self._plugin.schema is None:
            return {}
        with unit_of_work() as session:
            row = plugin_state.get_state(session, self.name)
            return self._plugin.schema.effective(dict(row.settings or {}) if row is not None else {})

    def page(self, title: Words, builder: PageBuilder) -> None:
        """Give the plugin a page, shown under its settings at /admin/plugins/<name>: `builder(page)`
        draws it with NiceGUI (sync or async)."""
        self._plugin.page_title = title
        self._plugin.page_builder = builder

    def read(self, fn: Callable[..., T], *args: Any, actor: Actor | None = None, **kwargs: Any) -> T:
        """Run `fn(session, actor, *args, **kwargs)` (a CRM service, or a query of the plugin's) in a
        unit of work that is always rolled back: the plugin reads, it never writes. `actor` is the
        requesting user (a route's `current_actor`), whose rights apply; without it, the system (sees
        everything). Blocking: not on the event loop."""
        with unit_of_work() as session:
            try:
                return fn(session, actor or SYSTEM_ACTOR, *args, **kwargs)
            finally:
                session.rollback()

    @staticmethod
    def authorize(actor: Actor, action: str, *, everything: bool = False) -> None:
        """Forbidden (403) unless `actor` has the right `action` ("record.view", "settings.system"...;
        crm_app/platform/permissions.py); with `everything`, on every record, not only their own."""
        authorize(actor, action)
        if everything and scope_for(actor, action) is not Scope.ALL:
            raise Forbidden(action)

    @staticmethod
    def text(value: Words) -> str:
        """A plugin's text in the reader's language ({"en": ..., "fr": ...} or one string)."""
        return words(value)


# --------------------------------------------------------------------------------------------
# Discovery


def _first_error_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _describe(plugin: Plugin, module: Any, fallback_version: str = "") -> None:
    plugin.description = inspect.cleandoc(getattr(module, "__doc__", None) or "")
    plugin.version = str(getattr(module, "__version__", "") or fallback_version)


def _set_up(plugin: Plugin, module: Any) -> None:
    setup = getattr(module, "setup", None)
    if not callable(setup):
        plugin.error = "no setup(crm) function"
        return
    crm = Crm(plugin)
    try:
        setup(crm)
    except Exception as exc:
        plugin.error = _first_error_line(exc)
        plugin.handlers.clear()
        plugin.page_builder = None
        plugin.router = area_router()
        log.error(
            "plugin %s failed to set up",
            plugin.name,
            extra={"plugin": plugin.name, "traceback": traceback.format_exc()},
        )
        return
    plugin.crm = crm


def _directory_package() -> types.ModuleType:
    package = sys.modules.get(DIRECTORY_PACKAGE)
    if package is None:
        package = types.ModuleType(DIRECTORY_PACKAGE, "The plugins found in PLUGIN_DIRECTORY.")
        package.__path__ = []
        sys.modules[DIRECTORY_PACKAGE] = package
    return package


def _import_from_directory(name: str, path: Path) -> types.ModuleType:
    """Import `path` (a .py file or a package folder) as `opex_crm_plugins.<name>`, afresh."""
    _directory_package()
    qualified = f"{DIRECTORY_PACKAGE}.{name}"
    for loaded in [m for m in sys.modules if m == qualified or m.startswith(qualified + ".")]:
        del sys.modules[loaded]
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            qualified, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(qualified, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[qualified]
        raise
    return module


def _directory_candidates(directory: Path) -> list[tuple[str, Path]]:
    found = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix == ".py":
            found.append((entry.stem, entry))
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            found.append((entry.name, entry))
    return found


def _from_directory(directory: Path) -> Iterable[Plugin]:
    if not directory.is_dir():
        log.warning("PLUGIN_DIRECTORY %s is not a directory: no plugin loaded from it", directory)
        return
    for name, path in _directory_candidates(directory):
        plugin = Plugin(name=name, source=Source.DIRECTORY, location=str(path))
        if not PLUGIN_NAME.match(name):
            plugin.error = "invalid name: lower-case letters, digits and _, starting with a letter"
            yield plugin
            continue
        try:
            module = _import_from_directory(name, path)
        except BaseException as exc:  # a SyntaxError or a sys.exit() in a plugin must not stop the CRM
            plugin.error = _first_error_line(exc)
            log.error("plugin %s failed to import", name, extra={"plugin": name, "traceback": traceback.format_exc()})
            yield plugin
            continue
        _describe(plugin, module)
        _set_up(plugin, module)
        yield plugin


def _from_entry_points() -> Iterable[Plugin]:
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        plugin = Plugin(name=entry_point.name, source=Source.ENTRY_POINT, location=entry_point.value)
        if not PLUGIN_NAME.match(entry_point.name):
            plugin.error = "invalid name: lower-case letters, digits and _, starting with a letter"
            yield plugin
            continue
        try:
            module = entry_point.load()
        except BaseException as exc:
            plugin.error = _first_error_line(exc)
            log.error(
                "plugin %s failed to import",
                entry_point.name,
                extra={"plugin": entry_point.name, "traceback": traceback.format_exc()},
            )
            yield plugin
            continue
        distribution = getattr(entry_point, "dist", None)
        _describe(plugin, module, getattr(distribution, "version", "") or "")
        _set_up(plugin, module)
        yield plugin


def discover(directory: str | Path | None, *, entry_points: bool = True) -> list[Plugin]:
    """Every plugin of `directory` and of the installed entry points, each imported and set up; the
    first of a name wins (the directory before the entry points), a second one is logged and left out."""
    found: dict[str, Plugin] = {}
    sources: list[Iterable[Plugin]] = []
    if directory:
        sources.append(_from_directory(Path(directory).expanduser()))
    if entry_points:
        sources.append(_from_entry_points())
    for source in sources:
        for plugin in source:
            if plugin.name in found:
                log.warning(
                    "plugin %s of %s left out: a plugin of that name was found first at %s",
                    plugin.name,
                    plugin.location,
                    found[plugin.name].location,
                )
                continue
            found[plugin.name] = plugin
    return list(found.values())


# --------------------------------------------------------------------------------------------
# The plugins of this process

_registry: dict[str, Plugin] = {}
_registry_lock = threading.Lock()


def install(plugins: Iterable[Plugin]) -> None:
    """Make these the plugins of this process (replacing any loaded before)."""
    global _registry
    with _registry_lock:
        _registry = {plugin.name: plugin for plugin in plugins}


def loaded() -> list[Plugin]:
    """The plugins found, by name."""
    return sorted(_registry.values(), key=lambda p: p.name)


def find(name: str) -> Plugin | None:
    return _registry.get(name)
