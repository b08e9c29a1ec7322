"""The stored state of the plugins (table `plugins`): which are enabled, their settings, their counters
and last errors. Plain functions on a session; the unit of work around them commits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from crm_app.integrations.models import PluginState
from crm_app.platform.db import insert_rows
from crm_app.platform.models.base import table_of, utcnow

#: How many errors a plugin's row keeps (newest first).
ERRORS_KEPT = 5
#: The longest error message kept (a traceback's last line, usually far shorter).
ERROR_LENGTH = 500


def ensure_rows(session: Session, names: Iterable[str], *, enabled: bool) -> None:
    """A row for every plugin found that has none yet, enabled or not as `PLUGIN_AUTO_ENABLE` says.
    Safe from several processes at once (a row another one just made is left as it is)."""
    now = utcnow()
    rows = [
        {
            "name": name,
            "is_enabled": enabled,
            "settings": {},
            "handled_count": 0,
            "failed_count": 0,
            "consecutive_failures": 0,
            "last_errors": [],
            "first_seen_at": now,
            "updated_at": now,
            "version": 1,
        }
        for name in sorted(set(names))
    ]
    known = set(session.exec(select(PluginState.name).where(col(PluginState.name).in_([r["name"] for r in rows]))))
    insert_rows(session, table_of(PluginState), [r for r in rows if r["name"] not in known], on_conflict=["name"])


def states(session: Session) -> dict[str, PluginState]:
    return {row.name: row for row in session.exec(select(PluginState)).all()}


def get_state(session: Session, name: str, *, for_update: bool = False) -> PluginState | None:
    return session.get(PluginState, name, with_for_update=for_update)


def is_enabled(session: Session, name: str) -> bool:
    enabled = session.exec(select(PluginState.is_enabled).where(PluginState.name == name)).first()
    return bool(enabled)


def set_enabled(session: Session, row: PluginState, enabled: bool, *, reason: str | None = None) -> None:
    row.is_enabled = enabled
    row.disabled_reason = None if enabled else reason
    if enabled:
        row.consecutive_failures = 0  # a fresh start: the next failures count from zero
    row.updated_at = utcnow()
    row.version += 1
    session.add(row)


def store_settings(session: Session, row: PluginState, values: dict[str, Any]) -> None:
    row.settings = {**(row.settings or {}), **values}
    row.updated_at = utcnow()
    row.version += 1
    session.add(row)


def record_success(session: Session, name: str) -> None:
    row = get_state(session, name, for_update=True)
    if row is None:
        return
    row.handled_count += 1
    row.consecutive_failures = 0
    row.last_event_at = utcnow()
    session.add(row)


def record_failure(session: Session, name: str, *, event: str, message: str) -> PluginState | None:
    """Count one failure and keep its message; returns the row (its consecutive failures updated)."""
    row = get_state(session, name, for_update=True)
    if row is None:
        return None
    now = utcnow()
    row.failed_count += 1
    row.consecutive_failures += 1
    row.last_event_at = now
    entry = {"at": now.isoformat(), "event": event, "message": message[:ERROR_LENGTH]}
    row.last_errors = [entry, *(row.last_errors or [])][:ERRORS_KEPT]
    session.add(row)
    return row
