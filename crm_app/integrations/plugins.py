"""Plugins: loading them at start-up, handing them the public events, and their administration
(/admin/plugins, /api/plugins, super administrators: "settings.system").

`load(settings)` finds and sets up the plugins (crm_app/integrations/plugin_host.py) and makes sure
each has its row (enabled at once with `PLUGIN_AUTO_ENABLE=true`, else disabled).

`deliver(body)` hands one public event (`{"id", "event", "occurred_at", "actor", "data"}`, the
body a webhook receives) to the handlers of the enabled plugins, after its transaction committed and
off the request path: it only queues the body and returns. A dispatcher thread passes it to one
worker thread per plugin (so a slow plugin delays nobody else, and each plugin gets its events in
order); each handler call runs in a thread of its own with a time limit (`HANDLER_TIME_LIMIT`): one
that raises or runs out of time is logged with the plugin's name and counted. After
`FAILURES_BEFORE_DISABLE` failures in a row the plugin is disabled and the super administrators
notified. Counters, last errors and the enabled state are in the database: the admin page shows them
and they survive restarts.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from crm_app.integrations import plugin_host, plugin_state
from crm_app.integrations.models import PluginState
from crm_app.integrations.plugin_host import Handler, Plugin, Source
from crm_app.integrations.plugin_settings import words
from crm_app.platform import notifications, security_log
from crm_app.platform.config import Settings
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Conflict, NotFound
from crm_app.platform.i18n import N_
from crm_app.platform.models.audit import Severity
from crm_app.platform.models.people import Role, User
from crm_app.platform.permissions import Actor, authorize
from crm_app.platform.security_log import ClientInfo

log = logging.getLogger(__name__)

RIGHT = "settings.system"
#: Seconds a handler may take with one event; a slower one is abandoned and counted as a failure.
HANDLER_TIME_LIMIT = 10.0
#: Failures in a row after which a plugin is disabled (and the super administrators told).
FAILURES_BEFORE_DISABLE = 5
#: Events waiting for one plugin beyond this are dropped (and counted as failures): a plugin stuck
#: for a long time does not make the process hold every event in memory.
QUEUE_LIMIT = 1000

ACTION_ENABLED = "plugin.enabled"
ACTION_DISABLED = "plugin.disabled"
ACTION_SETTINGS = "plugin.settings_changed"

KIND_DISABLED = "plugin.disabled"
NOTIFICATION_KINDS: dict[str, str] = {
    KIND_DISABLED: N_("Plugin {name} was disabled after {count} failures in a row"),
}
ADMIN_PAGE = "/admin/plugins"
DISABLED_REASON = N_("Disabled after {count} failures in a row.")

_NO_SUCH_PLUGIN = N_("No such plugin.")


# --------------------------------------------------------------------------------------------
# Loading


def load(settings: Settings, *, entry_points: bool = True) -> list[Plugin]:
    """Find and set up the plugins (PLUGIN_DIRECTORY, then the installed entry points) and give each a
    row. Never raises: a plugin that fails is listed with its error; a database that cannot be reached
    yet leaves the rows to the first listing or event."""
    found = plugin_host.discover(settings.plugin_directory or None, entry_points=entry_points)
    plugin_host.install(found)
    try:
        with unit_of_work() as session:
            plugin_state.ensure_rows(session, (p.name for p in found), enabled=settings.plugin_auto_enable)
    except Exception:
        log.exception("the plugins' rows could not be written")
    for plugin in found:
        if plugin.error:
            log.warning("plugin %s not loaded: %s", plugin.name, plugin.error, extra={"plugin": plugin.name})
        else:
            log.info("plugin %s %s loaded", plugin.name, plugin.version, extra={"plugin": plugin.name})
    return found


# --------------------------------------------------------------------------------------------
# Delivering events


def deliver(body: dict[str, Any]) -> None:
    """Queue one public event for the plugins' handlers and return at once (never raises)."""
    try:
        _dispatcher.submit(body)
    except Exception:
        log.exception("an event could not be queued for the plugins")


def wanted_events() -> frozenset[str] | None:
    """The public events the loaded plugins handle (None: every event, a plugin listens to all), for
    `catalogue.subscribe`: with no plugin listening, a commit builds no body for them."""
    found: set[str] = set()
    for plugin in plugin_host.loaded():
        if not plugin.is_loaded:
            continue
        if plugin_host.ANY_EVENT in plugin.handlers:
            return None
        found |= {name for name, handlers in plugin.handlers.items() if handlers}
    return frozenset(found)


def wait_until_idle(timeout: float = 30.0) -> bool:
    """Block until every queued event went through every handler (or was abandoned): tests and a
    graceful stop. False when `timeout` passed first."""
    return _dispatcher.wait_until_idle(timeout)


def _event_name(body: dict[str, Any]) -> str:
    return str(body.get("event") or "")


def _run_with_time_limit(plugin: str, handler: Handler, body: dict[str, Any], limit: float) -> str | None:
    """Call `handler(body)` in a thread of its own; None when it returned in time, else the error."""
    outcome: list[str | None] = []

    def run() -> None:
        try:
            handler(body)
        except BaseException as exc:
            log.error(
                "plugin %s: handler failed on %s",
                plugin,
                _event_name(body),
                extra={"plugin": plugin, "event": _event_name(body), "traceback": traceback.format_exc()},
            )
            outcome.append(f"{type(exc).__name__}: {exc}")
        else:
            outcome.append(None)

    # A daemon thread: a handler that never returns is abandoned, and does not hold the process at exit.
    thread = threading.Thread(target=run, name=f"plugin-{plugin}-handler", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive() or not outcome:
        log.error(
            "plugin %s: handler took longer than %s s on %s, abandoned",
            plugin,
            limit,
            _event_name(body),
            extra={"plugin": plugin, "event": _event_name(body)},
        )
        return f"TimeoutError: no answer within {limit:g} s"
    return outcome[0]


def _super_admin_ids(session: Session) -> list[Any]:
    return list(session.exec(select(User.id).where(User.role == Role.SUPER_ADMIN.value, col(User.is_active))).all())


def record_outcome(name: str, event: str, error: str | None) -> bool:
    """Count one handler call; after FAILURES_BEFORE_DISABLE failures in a row disable the plugin and
    notify the super administrators. True when this call disabled it."""
    with unit_of_work() as session:
        if error is None:
            plugin_state.record_success(session, name)
            return False
        row = plugin_state.record_failure(session, name, event=event, message=error)
        if row is None or not row.is_enabled or row.consecutive_failures < FAILURES_BEFORE_DISABLE:
            return False
        count = row.consecutive_failures
        plugin_state.set_enabled(session, row, False, reason=DISABLED_REASON)
        notifications.notify(
            session,
            _super_admin_ids(session),
            kind=KIND_DISABLED,
            params={"name": name, "count": count},
            link=ADMIN_PAGE,
        )
        security_log.record(session, ACTION_DISABLED, severity=Severity.MEDIUM, plugin=name, failures=count)
    log.error("plugin %s disabled after %s failures in a row", name, count, extra={"plugin": name})
    return True


@dataclass
class _Work:
    plugin: str
    handlers: list[Handler]
    body: dict[str, Any]


class _PluginWorker:
    """One plugin's queue and the thread that takes its events in order."""

    def __init__(self, name: str, done: Callable[[], None]) -> None:
        self.name = name
        self._done = done
        self._queue: queue.Queue[_Work] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name=f"plugin-{name}", daemon=True)
        self._thread.start()

    def put(self, work: _Work) -> bool:
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            return False
        return True

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            try:
                self._handle(work)
            except Exception:
                log.exception("plugin %s: an event could not be handled", self.name, extra={"plugin": self.name})
            finally:
                self._done()

    def _handle(self, work: _Work) -> None:
        event = _event_name(work.body)
        for handler in work.handlers:
            with unit_of_work() as session:  # disabled meanwhile (by a super administrator, or failures)
                if not plugin_state.is_enabled(session, work.plugin):
                    return
            error = _run_with_time_limit(work.plugin, handler, copy.deepcopy(work.body), HANDLER_TIME_LIMIT)
            if record_outcome(work.plugin, event, error):
                return


class _Dispatcher:
    """Takes the bodies `deliver` queues and hands each to the workers of the plugins that want it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._workers: dict[int, _PluginWorker] = {}  # by id() of the Plugin: a reloaded plugin gets a new one

    def submit(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="plugin-dispatcher", daemon=True)
                self._thread.start()
        self._queue.put(body)

    def _finished(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _worker(self, plugin: Plugin) -> _PluginWorker:
        with self._lock:
            worker = self._workers.get(id(plugin))
            if worker is None:
                live = {id(p) for p in plugin_host.loaded()}
                self._workers = {key: w for key, w in self._workers.items() if key in live}
                worker = self._workers[id(plugin)] = _PluginWorker(plugin.name, self._finished)
            return worker

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            try:
                self._fan_out(body)
            except Exception:
                log.exception("an event could not be handed to the plugins")
            finally:
                self._finished()

    def _fan_out(self, body: dict[str, Any]) -> None:
        event = _event_name(body)
        for plugin in plugin_host.loaded():
            handlers = plugin.handlers_for(event) if plugin.is_loaded else []
            if not handlers:
                continue
            with self._lock:
                self._pending += 1
            if not self._worker(plugin).put(_Work(plugin.name, handlers, body)):
                self._finished()
                log.error("plugin %s: too many events waiting, one dropped", plugin.name, extra={"plugin": plugin.name})
                record_outcome(plugin.name, event, "QueueFull: too many events waiting for this plugin")


_dispatcher = _Dispatcher()


# --------------------------------------------------------------------------------------------
# Administration (super administrators)


@dataclass(frozen=True, slots=True)
class PluginError:
    at: datetime
    event: str
    message: str


@dataclass(frozen=True, slots=True)
class PluginView:
    """One plugin as /admin/plugins and /api/plugins show it."""

    name: str
    version: str
    summary: str  # the first paragraph of its docstring
    description: str
    source: Source
    location: str
    load_error: str | None
    is_enabled: bool
    disabled_reason: str | None  # a message id: why the CRM disabled it
    failures_in_a_row: int
    handled_count: int
    failed_count: int
    last_event_at: datetime | None
    recent_errors: tuple[PluginError, ...]
    events: tuple[str, ...]  # what it subscribed to
    has_settings: bool
    has_page: bool
    page_title: str | None
    has_routes: bool
    version_number: int  # the row's version (optimistic concurrency of its settings)

    @property
    def is_loaded(self) -> bool:
        return self.load_error is None


def _view(plugin: Plugin, row: PluginState | None) -> PluginView:
    errors = tuple(
        PluginError(
            at=datetime.fromisoformat(e["at"]), event=str(e.get("event", "")), message=str(e.get("message", ""))
        )
        for e in (row.last_errors if row is not None else [])
    )
    return PluginView(
        name=plugin.name,
        version=plugin.version,
        summary=plugin.summary,
        description=plugin.description,
        source=plugin.source,
        location=plugin.location,
        load_error=plugin.error,
        is_enabled=bool(row is not None and row.is_enabled),
        disabled_reason=row.disabled_reason if row is not None else None,
        failures_in_a_row=row.consecutive_failures if row is not None else 0,
        handled_count=row.handled_count if row is not None else 0,
        failed_count=row.failed_count if row is not None else 0,
        last_event_at=row.last_event_at if row is not None else None,
        recent_errors=errors,
        events=tuple(sorted(plugin.handlers)),
        has_settings=plugin.schema is not None and bool(plugin.schema.fields),
        has_page=plugin.page_builder is not None,
        page_title=words(plugin.page_title) if plugin.page_title is not None else None,
        has_routes=bool(plugin.router.routes),
        version_number=row.version if row is not None else 0,
    )


def _found(name: str) -> Plugin:
    plugin = plugin_host.find(name)
    if plugin is None:
        raise NotFound(_NO_SUCH_PLUGIN)
    return plugin


def _row(session: Session, name: str, *, for_update: bool = False) -> PluginState:
    row = plugin_state.get_state(session, name, for_update=for_update)
    if row is None:  # found after start-up's rows were written (a database restored meanwhile, say)
        plugin_state.ensure_rows(session, [name], enabled=False)
        row = plugin_state.get_state(session, name, for_update=for_update)
    assert row is not None
    return row


def list_plugins(session: Session, actor: Actor) -> list[PluginView]:
    """Every plugin found, by name, with its state, counters and recent errors."""
    authorize(actor, RIGHT)
    rows = plugin_state.states(session)
    return [_view(plugin, rows.get(plugin.name)) for plugin in plugin_host.loaded()]


def get_plugin(session: Session, actor: Actor, name: str) -> PluginView:
    authorize(actor, RIGHT)
    return _view(_found(name), plugin_state.get_state(session, name))


def set_plugin_enabled(
    session: Session, actor: Actor, name: str, enabled: bool, *, client: ClientInfo | None = None
) -> PluginView:
    """Enable or disable a plugin; it takes effect at once (the next event reads the state). A plugin
    that failed to load cannot be enabled (NotFound is not right: it is there, Conflict says why)."""
    authorize(actor, RIGHT)
    plugin = _found(name)
    if enabled and not plugin.is_loaded:
        raise Conflict(N_("This plugin could not be loaded: it cannot be enabled."))
    row = _row(session, name, for_update=True)
    if row.is_enabled != enabled:
        plugin_state.set_enabled(session, row, enabled)
        security_log.record(
            session,
            ACTION_ENABLED if enabled else ACTION_DISABLED,
            severity=Severity.MEDIUM,
            user_id=actor.id if actor.id.int else None,
            email=actor.email,
            client=client,
            plugin=name,
        )
        session.flush()
    return _view(plugin, row)


@dataclass(frozen=True, slots=True)
class PluginSettingsView:
    name: str
    fields: tuple[dict[str, Any], ...]  # each field described (kind, label, help, default, bounds, options)
    values: dict[str, Any]
    version: int


def get_plugin_settings(session: Session, actor: Actor, name: str) -> PluginSettingsView:
    """The plugin's settings form and its current values (saved, else the defaults)."""
    authorize(actor, RIGHT)
    plugin = _found(name)
    row = plugin_state.get_state(session, name)
    schema = plugin.schema
    if schema is None:
        return PluginSettingsView(name=name, fields=(), values={}, version=row.version if row else 0)
    return PluginSettingsView(
        name=name,
        fields=tuple(f.describe() for f in schema.fields),
        values=schema.effective(dict(row.settings or {}) if row else {}),
        version=row.version if row else 0,
    )


def update_plugin_settings(
    session: Session,
    actor: Actor,
    name: str,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
    client: ClientInfo | None = None,
) -> PluginSettingsView:
    """Validate and store some of the plugin's settings (ValidationFailed naming each field in error;
    Conflict when `expected_version` is stale)."""
    authorize(actor, RIGHT)
    plugin = _found(name)
    row = _row(session, name, for_update=True)
    if expected_version is not None and expected_version != row.version:
        raise Conflict()
    if plugin.schema is None:
        raise NotFound(N_("This plugin has no settings."))
    cleaned = plugin.schema.clean(values)
    before = plugin.schema.effective(dict(row.settings or {}))
    changes = {k: {"old": before.get(k), "new": v} for k, v in cleaned.items() if before.get(k) != v}
    if changes:
        plugin_state.store_settings(session, row, cleaned)
        security_log.record(
            session,
            ACTION_SETTINGS,
            severity=Severity.LOW,
            user_id=actor.id if actor.id.int else None,
            email=actor.email,
            client=client,
            plugin=name,
            changes=changes,
        )
        session.flush()
    return get_plugin_settings(session, actor, name)
